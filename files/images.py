"""Images checked, re-encoded and thumbnailed with Pillow; everything else is a download.

The client's content type is never trusted: a file is an image only if Pillow
recognises one of the four formats below and decodes it. The pixel count is
read from the header (``Image.open`` is lazy) and checked before any decoding,
so a small file that would decode to gigabytes (a decompression bomb) is
refused without being decoded. Re-encoding drops EXIF, XMP, comments and any
bytes appended after the image (a polyglot), after applying the EXIF rotation;
the ICC colour profile is kept. Animated GIF and WebP keep their first frame
only, which bounds the work to one frame's pixels.
"""

import io
import logging
import mimetypes
import tempfile
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from project.errors import ClientError

log = logging.getLogger(__name__)

# Pillow format -> (content type, save options).
FORMATS: dict[str, tuple[str, dict]] = {
    "PNG": ("image/png", {}),
    "JPEG": ("image/jpeg", {"quality": 90}),
    "GIF": ("image/gif", {}),
    "WEBP": ("image/webp", {"quality": 90}),
}
THUMBNAIL_SIZE = (400, 400)
# A re-encoded image is spooled to a temporary file beyond this, not kept in memory.
SPOOL_BYTES = 1024 * 1024
OCTET_STREAM = "application/octet-stream"
# Non-images keep a type guessed from their name only when no browser renders it
# (they are always served as downloads with nosniff anyway); HTML, SVG, XML,
# JavaScript, PDFs' cousins and every image type not checked above are
# application/octet-stream.
DOWNLOAD_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "text/plain",
        "text/csv",
        "text/markdown",
    }
)
DOWNLOAD_PREFIXES = ("audio/", "video/")


@dataclass
class CheckedImage:
    """An image re-encoded for storage, with its thumbnail."""

    content_type: str
    extension: str
    width: int
    height: int
    data: IO[bytes]
    thumbnail: IO[bytes]


def max_pixels() -> int:
    return settings.CHAT_UPLOAD_MAX_PIXELS


def download_type(name: str) -> str:
    """The content type a non-image is stored and served with."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding or guessed is None:
        return OCTET_STREAM
    if guessed in DOWNLOAD_TYPES or guessed.startswith(DOWNLOAD_PREFIXES):
        return guessed
    return OCTET_STREAM


def _too_large(width: int, height: int) -> ClientError:
    return ClientError(
        "invalid",
        f"Image too large: {width}×{height} pixels; at most {max_pixels():,} pixels are allowed.",
    )


def _open(stream: IO[bytes]) -> Image.Image | None:
    """The image's header, or None when this is no image of an accepted format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ClientError("invalid", "Image too large.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    except Exception:
        # Pillow's parsers raise many kinds of error on crafted files (struct.error,
        # IndexError, ...): whatever it cannot read is no image.
        log.info("Pillow could not open an upload; stored as a download", exc_info=True)
        return None
    return image


def _encode(image: Image.Image, fmt: str, icc: bytes | None, *, spool: bool) -> IO[bytes]:
    # Returned open: the caller stores it, then closes it.
    out: IO[bytes] = (
        tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        if spool
        else io.BytesIO()
    )
    options = dict(FORMATS[fmt][1])
    if icc and fmt != "GIF":
        options["icc_profile"] = icc
    if fmt == "GIF" and "transparency" in image.info:
        options["transparency"] = image.info["transparency"]
    image.save(out, format=fmt, **options)
    out.seek(0)
    return out


def _storable(image: Image.Image, fmt: str) -> Image.Image:
    """A mode the format can save; palette transparency made explicit."""
    if fmt == "JPEG":
        return image if image.mode in ("L", "RGB", "CMYK") else image.convert("RGB")
    if fmt == "GIF":
        return image if image.mode in ("P", "L") else image.convert("P")
    if image.mode == "P" or image.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "I;16"):
        return image.convert("RGBA")
    return image


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """Within THUMBNAIL_SIZE, the aspect ratio kept; never larger than the image."""
    scale = min(1.0, THUMBNAIL_SIZE[0] / width, THUMBNAIL_SIZE[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_image(stream: IO[bytes]) -> CheckedImage | None:
    """Re-encode the upload if it is an image (PNG, JPEG, GIF, WebP), else None.

    Raises ClientError("invalid") for an image above CHAT_UPLOAD_MAX_PIXELS,
    checked from the header before decoding.
    """
    stream.seek(0)
    image = _open(stream)
    if image is None:
        return None
    with image:
        fmt = image.format
        width, height = image.size
        if width * height > max_pixels():
            raise _too_large(width, height)
        icc = image.info.get("icc_profile")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.seek(0)
                image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large(width, height) from None
        except Exception:
            # A header that promises an image the bytes do not hold.
            log.info("Pillow could not decode an upload; stored as a download", exc_info=True)
            return None
        try:
            return _reencode(image, fmt, icc)
        except Exception:
            # Decoded but not re-encodable (an odd mode, broken EXIF): the original
            # bytes are kept as a download rather than refused.
            log.warning("an image could not be re-encoded; stored as a download", exc_info=True)
            return None


def _reencode(image: Image.Image, fmt: str, icc: bytes | None) -> CheckedImage:
    # In place, and the thumbnail resized from the frame rather than from a copy
    # of it: one decoded frame in memory at a time (docs/files.md, Memory).
    ImageOps.exif_transpose(image, in_place=True)
    frame = _storable(image, fmt)
    width, height = frame.size
    data = _encode(frame, fmt, icc, spool=True)
    thumb = _storable(frame.resize(_thumbnail_size(width, height), reducing_gap=3.0), fmt)
    del frame
    thumbnail = _encode(thumb, fmt, icc, spool=False)
    content_type = FORMATS[fmt][0]
    return CheckedImage(
        content_type=content_type,
        extension=mimetypes.guess_extension(content_type) or "",
        width=width,
        height=height,
        data=data,
        thumbnail=thumbnail,
    )
