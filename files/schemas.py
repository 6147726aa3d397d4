"""The attachment object's schema: the upload route's answer and every message's
`attachments` (chat.api.MessageOut) share it."""

from ninja import Field, Schema


class AttachmentOut(Schema):
    id: int = Field(description="Pass it in `attachments` when posting (once).")
    name: str = Field(description="The file's name, cleaned of paths and control characters.")
    size: int = Field(description="Bytes, as stored (images re-encoded).")
    content_type: str = Field(description="Found from the bytes, not the client's claim.")
    url: str = Field(description="The bytes, for people who may read the room (404 otherwise).")
    width: int | None = Field(None, description="Images only.")
    height: int | None = Field(None, description="Images only.")
    thumbnail_url: str | None = Field(None, description="Images only: a small copy.")
