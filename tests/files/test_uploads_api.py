"""POST /api/uploads: what is stored, what is refused, and that a refusal stores nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import MULTIPART_CONTENT
from PIL import Image

from files.models import Upload
from tests.files.conftest import image_bytes

pytestmark = pytest.mark.django_db


def post_file(client, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return client.post(
        "/api/uploads",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        content_type=MULTIPART_CONTENT,
    )


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


def test_a_file_becomes_an_attachment_object(people, bearer):
    response = post_file(bearer(people["bob"]), "report.pdf", b"%PDF-1.4 hello")
    assert response.status_code == 201, response.content
    body = response.json()
    upload = Upload.objects.get()
    assert body == {
        "id": upload.id,
        "name": "report.pdf",
        "size": 14,
        "content_type": "application/pdf",
        "url": f"/files/{upload.id}/report.pdf",
    }
    assert upload.uploader == people["bob"]
    assert upload.file.name.startswith("uploads/")
    assert upload.file.name.endswith("/report.pdf")


def test_an_image_gets_its_size_and_a_thumbnail(people, bearer):
    response = post_file(
        bearer(people["bob"]), "cat.png", image_bytes("PNG", (900, 600)), "image/png"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/png", 900, 600)
    assert body["thumbnail_url"] == f"/files/{body['id']}/thumb/cat.png"
    upload = Upload.objects.get()
    with upload.thumbnail.open() as thumb, Image.open(thumb) as image:
        assert image.size == (400, 267)


def test_the_session_client_uploads_with_its_csrf_token(people, session, csrf_token):
    client = session(people["bob"])
    refused = post_file(client, "a.txt", b"hi")
    assert refused.status_code == 403
    token = csrf_token(client)
    response = client.post(
        "/api/uploads",
        {"file": SimpleUploadedFile("a.txt", b"hi")},
        content_type=MULTIPART_CONTENT,
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.content


def test_anonymous_uploads_are_refused(client, media_root):
    response = post_file(client, "a.txt", b"hi")
    assert response.status_code == 401
    assert Upload.objects.count() == 0


def test_a_file_over_the_limit_is_a_413_and_nothing_is_stored(people, bearer, settings, media_root):
    settings.CHAT_UPLOAD_MAX_BYTES = 1000
    response = post_file(bearer(people["bob"]), "big.bin", b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The file is 1,001 bytes; uploads are limited to 1,000 bytes.",
        "code": "too_long",
    }
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_file_at_the_limit_is_stored(people, bearer, settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 1000
    assert post_file(bearer(people["bob"]), "big.bin", b"x" * 1000).status_code == 201


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(people, bearer):
    from project.api import UPLOAD_BODY_BYTES

    response = bearer(people["bob"]).generic(
        "POST",
        "/api/uploads",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(UPLOAD_BODY_BYTES + 1),
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_long"


def test_ten_mebibytes_go_through(people, bearer):
    data = b"\x00\x01" * (5 * 1024 * 1024)
    response = post_file(bearer(people["bob"]), "blob.bin", data)
    assert response.status_code == 201, response.content[:200]
    assert response.json()["size"] == 10 * 1024 * 1024


def test_an_empty_file_is_invalid(people, bearer, media_root):
    response = post_file(bearer(people["bob"]), "empty.txt", b"")
    assert response.status_code == 422
    assert response.json() == {"detail": "The file is empty.", "code": "invalid"}
    assert stored_files(media_root) == []


def test_a_missing_field_is_invalid(people, bearer):
    response = bearer(people["bob"]).post(
        "/api/uploads",
        {"other": "x"},
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "file" in response.json()["detail"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\bob\\notes.txt", "notes.txt"),
        ("evil\x00.txt", "evil.txt"),
        ("line\tbreak.txt", "linebreak.txt"),
        ("\u202eexe.txt", "exe.txt"),
    ],
)
def test_names_are_cleaned(people, bearer, sent, kept):
    # The test client, like a browser, sends only the part after the last "/";
    # the raw multipart body below sends the name exactly.
    body = (
        b"--B\r\n"
        b'Content-Disposition: form-data; name="file"; filename="'
        + sent.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n'
    )
    response = bearer(people["bob"]).generic(
        "POST", "/api/uploads", body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == kept
    assert "/etc/" not in Upload.objects.get().file.name


@pytest.mark.parametrize("sent", ["..", "/", "\x01"])
def test_a_name_with_nothing_left_is_no_file(people, bearer, sent):
    """Django's parser drops such a part: as if the field were missing."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="'
        + sent.encode()
        + b'"\r\n\r\nhello\r\n--B--\r\n'
    )
    response = bearer(people["bob"]).generic(
        "POST", "/api/uploads", body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 422
    assert Upload.objects.count() == 0


def test_a_png_that_is_no_image_is_a_download(people, bearer):
    response = post_file(
        bearer(people["bob"]), "fake.png", b"<script>alert(1)</script>", "image/png"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["content_type"] == "application/octet-stream"
    assert "width" not in body and "thumbnail_url" not in body


@pytest.mark.parametrize("name", ["page.html", "logo.svg", "feed.xml", "app.js", "x.xhtml"])
def test_what_a_browser_could_render_is_stored_as_octet_stream(people, bearer, name):
    data = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = post_file(bearer(people["bob"]), name, data, "text/html")
    assert response.json()["content_type"] == "application/octet-stream"


def test_the_client_content_type_is_not_trusted(people, bearer):
    response = post_file(bearer(people["bob"]), "photo", image_bytes("JPEG"), "text/html")
    assert response.json()["content_type"] == "image/jpeg"


def test_an_image_bomb_is_refused_before_decoding(people, bearer, media_root):
    out = io.BytesIO()
    Image.new("RGB", (4096, 4096)).save(out, format="PNG")
    assert len(out.getvalue()) < 100_000
    response = post_file(bearer(people["bob"]), "bomb.png", out.getvalue(), "image/png")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith("Image too large: 4096×4096 pixels")
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_uploads_are_rate_limited_per_user(people, bearer, settings):
    settings.CHAT_RATE_LIMIT_UPLOADS_BURST = 3
    settings.CHAT_RATE_LIMIT_UPLOADS_PER_MINUTE = 0.001
    bob = bearer(people["bob"])
    statuses = [post_file(bob, "a.txt", b"hi").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert Upload.objects.count() == 3
    # Another user's bucket is their own.
    assert post_file(bearer(people["mona"]), "a.txt", b"hi").status_code == 201
