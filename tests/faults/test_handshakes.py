"""Cookie handshakes from look-alike origins are refused, directly and through nginx.

A page on another site can open a WebSocket to us and the browser attaches our
session cookie; only the Origin header tells the two apart. The basic cases
(a foreign, a missing and a `null` Origin) are in tests/replicas/test_fanout.py;
these are the spellings a naive check (a prefix, a substring, a regex without
anchors) would let through, sent to a replica and to the load balancer.
"""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.support.live import handshake_status

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

LOOK_ALIKES = [
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "http://evil.example/127.0.0.1",
    "http://evil.example/?host=localhost",
    "http://127.0.0.1@evil.example",
    "http://localhost:80@evil.example",
    "http://evil.example#127.0.0.1",
    "http://evil-localhost",
    "http://127.0.0.2",
    "http://[::1]",
    "file://",
    "",
    "http://127.0.0.1 http://evil.example",
    "http://evil.example, http://127.0.0.1",
]


async def test_look_alike_origins_with_a_valid_cookie_are_refused(
    start_replicas, load_balancer, make_user
):
    await sync_to_async(make_user)("alice")
    (replica,) = await sync_to_async(start_replicas)(1)
    nginx = await sync_to_async(load_balancer)([replica])
    browser = Client()
    assert await sync_to_async(browser.login)(username="alice", password="pw-alice")
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    for entry, own_origin in ((replica.ws_url, replica.http_url), (nginx.ws_url, nginx.url)):
        assert await handshake_status(entry, {"Cookie": cookie, "Origin": own_origin}) == 101
        for origin in LOOK_ALIKES:
            status = await handshake_status(entry, {"Cookie": cookie, "Origin": origin})
            # 403 from the origin check; 400 when daphne finds the header malformed.
            assert status in (400, 403), f"{origin!r} got {status} through {entry}"
