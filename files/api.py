"""POST /api/uploads: one file in, its attachment object out (attach it by id to a message)."""

from django.http import HttpRequest
from ninja import File, Router, Status
from ninja.files import UploadedFile

from files import selectors, services
from files.schemas import AttachmentOut
from project.errors import errors

router = Router()


@router.post(
    "/uploads",
    response={201: AttachmentOut, **errors(413, 422, 429)},
    tags=["files"],
    summary="Upload a file",
    exclude_unset=True,
)
def upload_create(request: HttpRequest, file: File[UploadedFile]) -> Status:
    """A multipart form with the field `file`. Until it is attached to a message only I
    may read it, and it is removed after a day (CHAT_UPLOAD_UNUSED_TTL). Over
    CHAT_UPLOAD_MAX_BYTES (10 MiB) is a 413; an empty file, or an image over
    CHAT_UPLOAD_MAX_PIXELS, a 422; more than CHAT_RATE_LIMIT_UPLOADS_BURST uploads in a
    row a 429. Images (PNG, JPEG, GIF, WebP) are re-encoded without their metadata and
    get a thumbnail; anything else, an image Pillow cannot decode included, is a
    download."""
    upload = services.upload_create(user=request.auth, uploaded_file=file)
    return Status(201, selectors.attachment_payload(upload))
