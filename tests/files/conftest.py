"""Files fixtures: people, a private room, uploads stored in a temporary MEDIA_ROOT."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# The API clients and the `secret` room (olga owns, mona moderates, bob, eve outside).
from tests.api.conftest import bearer, csrf_token, secret, session  # noqa: F401


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores its uploads in a directory of its own, on the local file system."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHAT_FILES_ACCEL_REDIRECT = ""
    return settings.MEDIA_ROOT


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("olga", "mona", "bob", "eve")}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt == "JPEG" else "RGBA"
    Image.new(mode, size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.fixture
def upload_of():
    """upload_of(user, name=..., data=...) -> an Upload stored through upload_create."""
    from files.services import upload_create

    def make(user, name: str = "notes.txt", data: bytes = b"hello", content_type="text/plain"):
        return upload_create(
            user=user, uploaded_file=SimpleUploadedFile(name, data, content_type=content_type)
        )

    return make
