"""Uploads stored in an S3-compatible store: moto's server in a process of its own, spoken
to by django-storages and boto3 over HTTP exactly as AWS or MinIO would be."""

import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import MULTIPART_CONTENT

from files.models import Upload
from tests.files.conftest import image_bytes
from tests.files.test_attachments import post_with

pytestmark = pytest.mark.django_db

BUCKET = "chat-files"
DATA = b"%PDF-1.4 " + bytes(range(256)) * 100


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    """The default storage is the bucket (what CHAT_S3_BUCKET configures in settings)."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 60,
                "file_overwrite": False,
                "signature_version": "s3v4",
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def fetch(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_file_goes_to_the_bucket_and_comes_back_through_the_view(
    s3, people, secret, bearer, settings
):
    response = bearer(people["bob"]).post(
        "/api/uploads",
        {"file": SimpleUploadedFile("report ü.pdf", DATA)},
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 201, response.content
    attachment = response.json()
    (key,) = keys(s3)
    assert key.startswith("uploads/")
    assert key.endswith(".pdf")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == DATA
    post_with(people["bob"], secret, [Upload.objects.get(pk=attachment["id"])])

    olga = Client()
    olga.force_login(people["olga"])
    answer = olga.get(attachment["url"])
    assert answer.status_code == 302
    assert answer["Location"].startswith(settings.STORAGES["default"]["OPTIONS"]["endpoint_url"])
    assert "X-Amz-Signature=" in answer["Location"]
    status, headers, body = fetch(answer["Location"])
    assert (status, body) == (200, DATA)
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"report _.pdf\"; filename*=UTF-8''report%20%C3%BC.pdf"
    )
    # The store does ranges itself.
    status, _, body = fetch(answer["Location"], Range="bytes=0-8")
    assert (status, body) == (206, DATA[:9])

    eve = Client()
    eve.force_login(people["eve"])
    refused = eve.get(attachment["url"])
    assert refused.status_code == 404
    assert "Location" not in refused


def test_an_image_and_its_thumbnail_are_both_in_the_bucket_until_cleaned_up(s3, people, bearer):
    from django.core.management import call_command

    response = bearer(people["bob"]).post(
        "/api/uploads",
        {"file": SimpleUploadedFile("cat.png", image_bytes("PNG", (800, 600)))},
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 201, response.content
    assert len(keys(s3)) == 2
    bob = Client()
    bob.force_login(people["bob"])
    answer = bob.get(response.json()["thumbnail_url"])
    assert answer.status_code == 302
    status, headers, body = fetch(answer["Location"])
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert body.startswith(b"\x89PNG")

    call_command("files_cleanup", "--older-than", "0")
    assert keys(s3) == []
    assert not Upload.objects.exists()


def test_naming_a_bucket_switches_the_default_storage():
    import os

    from tests.support.servers import ROOT

    script = (
        "import project.settings as s; o = s.STORAGES['default']; "
        "print(o['BACKEND'], o['OPTIONS']['bucket_name'], o['OPTIONS']['endpoint_url'])"
    )
    env = {**os.environ, "CHAT_S3_BUCKET": "team-files", "AWS_S3_ENDPOINT_URL": "http://minio:9000"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        "storages.backends.s3.S3Storage",
        "team-files",
        "http://minio:9000",
    ]


def test_the_pages_let_the_browser_show_images_from_the_bucket(s3, people, bearer):
    """The CSP holds for a redirect's target: img-src names the store's origin, so a
    thumbnail's 302 to its presigned URL is allowed; nothing else is widened."""
    from urllib.parse import urlsplit

    response = bearer(people["bob"]).post(
        "/api/uploads",
        {"file": SimpleUploadedFile("cat.png", image_bytes("PNG", (80, 60)))},
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 201, response.content
    bob = Client()
    bob.force_login(people["bob"])
    target = urlsplit(bob.get(response.json()["thumbnail_url"])["Location"])
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in bob.get("/")["Content-Security-Policy"].split(";")
    )
    assert policy["img-src"].split() == ["'self'", "data:", f"{target.scheme}://{target.netloc}"]
    assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
