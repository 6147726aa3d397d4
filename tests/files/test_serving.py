"""GET /files/<id>/<name>: who gets the bytes, with which headers, and byte ranges."""

import pytest
from django.test import Client
from django.test.client import MULTIPART_CONTENT

from tests.files.conftest import image_bytes
from tests.files.test_attachments import post_with

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 40  # 10,240 bytes


def fetch(client: Client, url: str, **headers):
    response = client.get(url, headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.fixture
def signed_in(people):
    def make(name: str) -> Client:
        client = Client()
        client.force_login(people[name])
        return client

    return make


@pytest.fixture
def shared(people, secret, upload_of):
    """A download bob posted in `secret`."""
    upload = upload_of(people["bob"], name="data ü.bin", data=DATA)
    post_with(people["bob"], secret, [upload])
    return upload


def url_of(upload) -> str:
    from files.selectors import attachment_payload

    return attachment_payload(upload)["url"]


def test_a_member_downloads_the_file(signed_in, shared):
    response, body = fetch(signed_in("olga"), url_of(shared))
    assert response.status_code == 200
    assert body == DATA
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"data _.bin\"; filename*=UTF-8''data%20%C3%BC.bin"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == str(len(DATA))


def test_a_bearer_token_reads_it_too(people, token_for, shared):
    client = Client(headers={"Authorization": f"Bearer {token_for(people['mona'])}"})
    response, body = fetch(client, url_of(shared))
    assert (response.status_code, body) == (200, DATA)


@pytest.mark.parametrize("who", ["eve", "anonymous", "bad token"])
def test_anyone_else_gets_404(signed_in, shared, who):
    if who == "anonymous":
        client = Client()
    elif who == "bad token":
        client = Client(headers={"Authorization": "Bearer chat_nope"})
    else:
        client = signed_in(who)
    response, body = fetch(client, url_of(shared))
    assert response.status_code == 404
    assert DATA not in body
    assert response.json() == {"detail": "No such file.", "code": "not_found"}


def test_a_missing_file_is_the_same_404(signed_in, shared):
    response, _ = fetch(signed_in("olga"), f"/files/{shared.id + 1000}/x.bin")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such file.", "code": "not_found"}


def test_the_uploader_reads_an_unattached_upload_alone(signed_in, people, upload_of):
    upload = upload_of(people["bob"], data=DATA)
    assert fetch(signed_in("bob"), url_of(upload))[0].status_code == 200
    assert fetch(signed_in("olga"), url_of(upload))[0].status_code == 404


def test_a_deleted_message_takes_its_file_away(signed_in, shared):
    from chat.services import message_soft_delete

    shared.refresh_from_db()
    message_soft_delete(message=shared.message)
    for name in ("bob", "olga"):
        assert fetch(signed_in(name), url_of(shared))[0].status_code == 404


def test_only_safe_methods(signed_in, shared):
    client = signed_in("olga")
    assert client.post(url_of(shared)).status_code == 405
    assert client.head(url_of(shared)).status_code == 200


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10000-99999", 10000, 10239),
    ],
)
def test_a_range_gets_206_with_those_bytes(signed_in, shared, header, first, last):
    response, body = fetch(signed_in("olga"), url_of(shared), Range=header)
    assert response.status_code == 206
    assert body == DATA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert response["Content-Length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=99999-100000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(signed_in, shared, header):
    response, _ = fetch(signed_in("olga"), url_of(shared), Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=9-3"])
def test_a_range_we_do_not_serve_gets_the_whole_file(signed_in, shared, header):
    response, body = fetch(signed_in("olga"), url_of(shared), Range=header)
    assert (response.status_code, body) == (200, DATA)


@pytest.fixture
def shared_image(people, secret, bearer):
    response = bearer(people["bob"]).post(
        "/api/uploads",
        {"file": __import__("io").BytesIO(image_bytes("PNG", (800, 800)))},
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 201, response.content
    from files.models import Upload

    upload = Upload.objects.get(pk=response.json()["id"])
    post_with(people["bob"], secret, [upload])
    return response.json()


def test_an_image_is_shown_inline_but_sandboxed(signed_in, shared_image):
    response, body = fetch(signed_in("olga"), shared_image["url"])
    assert response.status_code == 200
    assert body.startswith(b"\x89PNG")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_the_thumbnail_follows_the_same_rule(signed_in, shared_image):
    response, body = fetch(signed_in("olga"), shared_image["thumbnail_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert len(body) < len(fetch(signed_in("olga"), shared_image["url"])[1])
    assert fetch(signed_in("eve"), shared_image["thumbnail_url"])[0].status_code == 404


def test_a_download_has_no_thumbnail(signed_in, shared):
    response, _ = fetch(signed_in("olga"), f"/files/{shared.id}/thumb/x")
    assert response.status_code == 404


def test_accel_redirect_hands_the_bytes_to_nginx(signed_in, shared, settings):
    settings.CHAT_FILES_ACCEL_REDIRECT = "/_protected/"
    response, body = fetch(signed_in("olga"), url_of(shared))
    assert response.status_code == 200
    assert body == b""
    assert response["X-Accel-Redirect"] == "/_protected/" + shared.file.name.replace(
        " ", "%20"
    ).replace("ü", "%C3%BC")
    assert response["Content-Disposition"].startswith("attachment;")
    eve, _ = fetch(signed_in("eve"), url_of(shared))
    assert eve.status_code == 404
    assert "X-Accel-Redirect" not in eve
