"""Images checked with Pillow: re-encoded without metadata, thumbnailed, bombs refused."""

import io

import pytest
from PIL import Image

from files.images import check_image, download_type
from project.errors import ClientError
from tests.files.conftest import image_bytes


def decoded(stream) -> Image.Image:
    stream.seek(0)
    image = Image.open(io.BytesIO(stream.read()))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_each_format_keeps_its_format(fmt, content_type):
    checked = check_image(io.BytesIO(image_bytes(fmt, (1000, 500))))
    assert checked.content_type == content_type
    assert (checked.width, checked.height) == (1000, 500)
    assert decoded(checked.data).format == fmt
    assert decoded(checked.thumbnail).size == (400, 200)


def test_a_small_image_keeps_its_size_in_the_thumbnail():
    checked = check_image(io.BytesIO(image_bytes("PNG", (40, 30))))
    assert decoded(checked.thumbnail).size == (40, 30)


def test_exif_is_stripped_after_applying_the_rotation():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS
    raw = image_bytes("JPEG", (300, 100), exif=exif.tobytes())
    assert Image.open(io.BytesIO(raw)).getexif()[0x010F] == "SpyCam"
    checked = check_image(io.BytesIO(raw))
    image = decoded(checked.data)
    assert image.size == (100, 300)
    assert (checked.width, checked.height) == (100, 300)
    assert dict(image.getexif()) == {}
    checked.data.seek(0)
    assert b"SpyCam" not in checked.data.read()


def test_png_text_chunks_are_dropped():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "secret location")
    checked = check_image(io.BytesIO(image_bytes("PNG", (20, 20), pnginfo=info)))
    checked.data.seek(0)
    assert b"secret location" not in checked.data.read()


def test_bytes_after_the_image_are_dropped():
    raw = image_bytes("PNG", (20, 20)) + b"<html><script>alert(1)</script></html>"
    checked = check_image(io.BytesIO(raw))
    checked.data.seek(0)
    assert b"<script>" not in checked.data.read()


def test_an_animated_gif_keeps_its_first_frame():
    frames = [Image.new("P", (30, 30), color) for color in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    checked = check_image(io.BytesIO(out.getvalue()))
    image = decoded(checked.data)
    assert getattr(image, "n_frames", 1) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature, then garbage
        image_bytes("PNG", (200, 200))[:120],  # truncated
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"BM" + b"\x00" * 60,  # BMP: not one of the four formats
    ],
)
def test_what_pillow_cannot_decode_is_no_image(raw):
    assert check_image(io.BytesIO(raw)) is None


def test_a_bmp_is_a_download_even_when_decodable():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="BMP")
    assert check_image(io.BytesIO(out.getvalue())) is None


def test_the_pixel_limit_is_read_from_the_header(settings):
    settings.CHAT_UPLOAD_MAX_PIXELS = 16_000_000
    out = io.BytesIO()
    Image.new("RGB", (4096, 4096)).save(out, format="PNG")
    assert len(out.getvalue()) < 60 * 1024  # a 58 KB file that would decode to 16.8 M pixels
    with pytest.raises(ClientError) as refused:
        check_image(io.BytesIO(out.getvalue()))
    assert refused.value.code == "invalid"
    assert "4096×4096" in refused.value.detail


def test_an_image_at_the_limit_is_accepted(settings):
    settings.CHAT_UPLOAD_MAX_PIXELS = 200 * 100
    assert check_image(io.BytesIO(image_bytes("PNG", (200, 100)))) is not None
    with pytest.raises(ClientError):
        check_image(io.BytesIO(image_bytes("PNG", (201, 100))))


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.pdf", "application/pdf"),
        ("a.txt", "text/plain"),
        ("a.mp4", "video/mp4"),
        ("a.html", "application/octet-stream"),
        ("a.svg", "application/octet-stream"),
        ("a.xml", "application/octet-stream"),
        ("a.js", "application/octet-stream"),
        ("a.png", "application/octet-stream"),
        ("a.tar.gz", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
    ],
)
def test_download_types(name, content_type):
    assert download_type(name) == content_type


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_damaged_images_are_downloads_or_images_never_errors(fmt):
    """Bytes flipped all over real images: Pillow's many exceptions never escape."""
    import random

    original = image_bytes(fmt, (64, 64))
    rng = random.Random(fmt)
    for _ in range(150):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            checked = check_image(io.BytesIO(bytes(damaged[: rng.randint(8, len(damaged))])))
        except ClientError as refused:
            assert refused.code == "invalid"  # a header now claiming huge dimensions
            continue
        assert checked is None or checked.content_type.startswith("image/")
