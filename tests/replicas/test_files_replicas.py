"""Files across replicas behind nginx: uploaded on one replica, read through another's
access check and nginx's X-Accel-Redirect; everyone else gets 404 through nginx too."""

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from chat import services as chat_services
from files.models import Upload
from tests.support.nginx import Nginx

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

DATA = b"quarterly numbers\n" * 5000  # 90 KB: more than one proxy buffer


class FakeFile:
    """What encode_multipart needs of a file: a name and read()."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def read(self) -> bytes:
        return self.data


def request(method: str, url: str, headers: dict, body: bytes | None = None, **extra):
    """(status, headers, body) of one request, errors included (urllib raises on them)."""
    req = urllib.request.Request(url, data=body, method=method, headers={**headers, **extra})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


async def upload(base_url: str, headers: dict, name: str, data: bytes) -> tuple[int, dict]:
    body = encode_multipart(BOUNDARY, {"file": FakeFile(name, data)})
    status, _, raw = await asyncio.to_thread(
        request,
        "POST",
        f"{base_url}/api/uploads",
        headers,
        body,
        **{"Content-Type": MULTIPART_CONTENT},
    )
    return status, json.loads(raw)


async def get(url: str, headers: dict, **extra):
    return await asyncio.to_thread(request, "GET", url, headers, None, **extra)


@pytest.fixture
def cluster(start_replicas):
    """Two replicas sharing MEDIA_ROOT with nginx, which sends files after their check."""
    balancer = Nginx([])
    # nginx's workers run as another user when the tests run as root: they must
    # reach MEDIA_ROOT, as they do the cluster's.
    balancer.directory.chmod(0o755)
    media = Path(balancer.directory) / "media"
    replicas = start_replicas(2, MEDIA_ROOT=str(media), CHAT_FILES_ACCEL_REDIRECT="/_protected/")
    balancer.replicas = replicas
    balancer.start()
    yield replicas, balancer
    balancer.stop()


async def test_a_file_uploaded_on_one_replica_is_read_through_another_and_nginx(cluster, people):
    (one, two), balancer = cluster
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    room = await sync_to_async(chat_services.room_create)(
        creator=alice, name="Finance", slug="finance", kind="private"
    )
    await sync_to_async(chat_services.room_invite)(by=alice, room=room, username="bob")

    status, attachment = await upload(one.http_url, alice.headers, "numbers ü.txt", DATA)
    assert status == 201, attachment
    # Before it is posted only alice reads it, through nginx.
    assert (await get(balancer.url + attachment["url"], alice.headers))[0] == 200
    assert (await get(balancer.url + attachment["url"], bob.headers))[0] == 404

    # Posted through the API on replica one, with the upload attached.
    status, posted, raw = await asyncio.to_thread(
        request,
        "POST",
        f"{one.http_url}/api/rooms/finance/messages",
        alice.headers,
        json.dumps({"body": "the numbers", "attachments": [attachment["id"]]}).encode(),
        **{"Content-Type": "application/json"},
    )
    assert status == 201, raw
    (listed,) = json.loads(raw)["attachments"]
    assert (listed["id"], listed["url"]) == (attachment["id"], attachment["url"])

    # bob, a member, through nginx: replica two's check, nginx's bytes.
    direct_status, direct_headers, direct_body = await get(
        two.http_url + attachment["url"], bob.headers
    )
    assert direct_status == 200
    assert direct_headers["X-Accel-Redirect"].startswith("/_protected/uploads/")
    assert direct_body == b""
    status, headers, body = await get(balancer.url + attachment["url"], bob.headers)
    assert status == 200
    assert body == DATA
    assert "X-Accel-Redirect" not in headers
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"numbers _.txt\"; filename*=UTF-8''numbers%20%C3%BC.txt"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # nginx serves ranges of what it sends.
    status, headers, body = await get(
        balancer.url + attachment["url"], bob.headers, Range="bytes=18-35"
    )
    assert (status, body) == (206, DATA[18:36])

    # carol is in no such room: 404 through nginx, and the bytes never leave.
    for headers in (carol.headers, {}):
        status, _, body = await get(balancer.url + attachment["url"], headers)
        assert status == 404
        assert DATA not in body


async def test_uploads_are_never_served_straight_from_the_media_directory(cluster, people):
    (one, _), balancer = cluster
    status, attachment = await upload(one.http_url, people["alice"].headers, "a.txt", DATA)
    assert status == 201
    stored = await sync_to_async(lambda: Upload.objects.get(pk=attachment["id"]).file.name)()
    for path in (f"/media/{stored}", f"/_protected/{stored}"):
        status, _, body = await get(balancer.url + path, people["alice"].headers)
        assert status == 404, path
        assert DATA not in body


async def test_nginx_lets_a_file_at_the_limit_through_and_the_app_refuses_beyond(cluster, people):
    _, balancer = cluster
    headers = people["alice"].headers
    status, attachment = await upload(balancer.url, headers, "big.bin", b"x" * (10 * 1024 * 1024))
    assert status == 201, attachment
    status, answer = await upload(balancer.url, headers, "big.bin", b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413
    assert answer["code"] == "too_long"
    assert "10,485,760 bytes" in answer["detail"]
    status, answer = await upload(balancer.url, headers, "huge.bin", b"x" * (12 * 1024 * 1024))
    assert status == 413
    assert answer["code"] == "too_long"


async def test_the_app_not_twisted_answers_a_malformed_form(cluster, people):
    """daphne's Twisted does not parse form bodies itself (project/server/forms.py): a body
    it could not parse gets the API's JSON answer, not a bare 400."""
    (one, _), _ = cluster
    status, headers, body = await asyncio.to_thread(
        request,
        "POST",
        f"{one.http_url}/api/uploads",
        people["alice"].headers,
        b"--abc--\r\n",
        **{"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert status == 422
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == "invalid"
