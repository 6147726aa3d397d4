"""Avatars: generated on the server from a name as SVG (no external service), or uploaded."""

import hashlib
from io import BytesIO
from xml.sax.saxutils import escape

from django.core.files import File
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

PALETTE = ["#2563eb", "#7c3aed", "#db2777", "#dc2626", "#ea580c", "#16a34a", "#0d9488", "#4f46e5"]


def initials(name: str) -> str:
    parts = [part for part in name.replace("_", " ").replace("-", " ").split() if part]
    letters = "".join(part[0] for part in parts[:2]) or name[:1] or "?"
    return letters.upper()


def avatar_svg(name: str) -> str:
    colour = PALETTE[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(PALETTE)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{colour}"/>'
        '<text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="sans-serif" '
        f'font-size="26" fill="#fff">{escape(initials(name))}</text></svg>'
    )


# Uploaded avatars
# ------------------------------------------------------------------------------

AVATAR_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "WEBP": "WebP"}
AVATAR_MAX_BYTES = 2 * 1024 * 1024
# Larger pictures are no use as an avatar.
AVATAR_MAX_SIDE = 4096
AVATAR_MIN_SIDE = 16
# Pixels the decoder may produce for one upload: 4 MP, 16 MB as RGBA. A few KB
# of PNG can declare 4096×4096 pixels, which took 290 MB to decode and convert;
# the size is read from the header and checked before anything is decoded.
# JPEGs decode at 1/2 to 1/8 scale (draft), so a 4096×4096 photo fits.
AVATAR_MAX_PIXELS = 2000 * 2000
# Shown at 32-64 CSS px; 256 px stays sharp on high-density screens.
AVATAR_STORED_SIDE = 256
# As Image.thumbnail: decode and reduce() to no less than twice the stored size,
# then resample, which looks as good as resampling the full picture.
_REDUCING_GAP = 2
_RESAMPLED_MODES = frozenset({"RGB", "RGBA", "L", "LA"})


class AvatarTooLarge(ValueError):
    """The picture would decode to more than AVATAR_MAX_PIXELS pixels."""


def _draft(image: Image.Image) -> None:
    """Have the decoder scale down while decoding where the format can (JPEG)."""
    width, height = image.size
    ratio = _REDUCING_GAP * AVATAR_STORED_SIDE / max(width, height)
    if ratio < 1:
        image.draft(None, (max(1, round(width * ratio)), max(1, round(height * ratio))))


def avatar_decoded_size(upload: File) -> tuple[int, int]:
    """The size in pixels decoding the upload will produce, read from its header."""
    upload.seek(0)
    with Image.open(upload) as image:
        _draft(image)
        return image.size


def avatar_normalise(upload: File) -> ContentFile:
    """Re-encode an uploaded (already validated) image as a PNG of at most 256 px.

    Re-encoding drops whatever else the file carried (EXIF with GPS positions,
    appended payloads) and keeps avatars small; an animated GIF keeps its first
    frame. Raises AvatarTooLarge, before decoding, for more than AVATAR_MAX_PIXELS.
    """
    upload.seek(0)
    with Image.open(upload) as original:
        original.seek(0)
        _draft(original)
        width, height = original.size
        if width * height > AVATAR_MAX_PIXELS:
            raise AvatarTooLarge(f"{width}×{height} pixels to decode")
        # Palette images would be resized pixel by pixel (nearest neighbour).
        image = original if original.mode in _RESAMPLED_MODES else original.convert("RGBA")
        image.thumbnail((AVATAR_STORED_SIDE, AVATAR_STORED_SIDE))
        image = ImageOps.exif_transpose(image).convert("RGBA")
    buffer = BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return ContentFile(buffer.getvalue())
