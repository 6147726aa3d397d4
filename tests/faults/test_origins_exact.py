"""A cookie handshake's Origin must be the page's exact origin: scheme, host and port.

A page on another port of an allowed host is same-site, so the browser sends
it the Lax session cookie; only an exact comparison, as Django's CSRF check
makes, refuses it. On a replica, and through nginx (whose own address is the
origin of the pages it serves).
"""

import pytest
from asgiref.sync import sync_to_async

from tests.support.live import WebSession, handshake_status, password_for_replicas

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


async def test_a_cookie_handshake_needs_the_exact_origin_directly_and_through_nginx(
    start_replicas, load_balancer, make_user
):
    alice = await sync_to_async(make_user)("alice")
    await sync_to_async(password_for_replicas)(alice, "secret-42")
    (replica,) = await sync_to_async(start_replicas)(1)
    nginx = await sync_to_async(load_balancer)([replica])
    browser = WebSession(replica.http_url)
    await sync_to_async(browser.sign_in)("alice", "secret-42")
    cookie = {"Cookie": f"sessionid={browser.cookie('sessionid')}"}

    for entry, own, others in (
        (replica.ws_url, replica.http_url, [nginx.url]),
        (nginx.ws_url, nginx.url, [replica.http_url]),
    ):
        assert await handshake_status(entry, {**cookie, "Origin": own}) == 101, entry
        port = int(own.rsplit(":", 1)[1])
        for origin in [
            *others,  # another port of the same host: another origin
            f"http://127.0.0.1:{port + 1}",
            own.replace("http://", "https://"),
            f"http://localhost:{port}",
        ]:
            status = await handshake_status(entry, {**cookie, "Origin": origin})
            assert status == 403, (entry, origin)
