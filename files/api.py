"""POST /api/uploads: one file in, its attachment object out (attach it by id to a message)."""

from django.http import HttpRequest
from ninja import Field, File, Router, Schema, Status
from ninja.files import UploadedFile

from files import selectors, services
from project.errors import errors

router = Router()


class AttachmentOut(Schema):
    id: int = Field(description="Pass it in a message's `attachments` to attach the file.")
    name: str = Field(description="The file name, cleaned of paths and control characters.")
    size: int = Field(description="Bytes stored (an image's after re-encoding).")
    content_type: str = Field(
        description="Checked, never the client's: image/png, image/jpeg, image/gif or "
        "image/webp for images, application/octet-stream for anything that could render."
    )
    url: str = Field(description="Stable; answers only those who may read the file, else 404.")
    width: int | None = Field(None, description="Images only.")
    height: int | None = Field(None, description="Images only.")
    thumbnail_url: str | None = Field(None, description="Images only: at most 400×400.")


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
