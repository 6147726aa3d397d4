"""The attachment object's schema: the upload route's answer and every message's
`attachments` (chat.api.MessageOut) share it."""

from ninja import Field, Schema
from pydantic import SerializerFunctionWrapHandler, model_serializer


class AttachmentOut(Schema):
    """``width``, ``height`` and ``thumbnail_url`` are absent (not null) for other files,
    in the API's answers as on the socket."""

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

    @model_serializer(mode="wrap")
    def _images_only_when_set(self, handler: SerializerFunctionWrapHandler):
        return {key: value for key, value in handler(self).items() if value is not None}
