"""Reads: the attachment object, and who may read an upload."""

from urllib.parse import quote

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# The module, not the name: chat.selectors may import this module in turn.
from chat import selectors as chat_selectors
from files.models import Upload
from project import validators
from project.errors import ClientError


def file_url(upload: Upload) -> str:
    """Stable and secret-free: messages keep it (denormalised), so it must never change."""
    return f"/files/{upload.id}/{quote(upload.name, safe='')}"


def thumbnail_url(upload: Upload) -> str:
    return f"/files/{upload.id}/thumb/{quote(upload.name, safe='')}"


def attachment_payload(upload: Upload) -> dict:
    """The attachment object of the API, the socket and the message's stored list."""
    payload = {
        "id": upload.id,
        "name": upload.name,
        "size": upload.size,
        "content_type": upload.content_type,
        "url": file_url(upload),
    }
    if upload.is_image:
        payload["width"] = upload.width
        payload["height"] = upload.height
        if upload.thumbnail:
            payload["thumbnail_url"] = thumbnail_url(upload)
    return payload


def upload_readable(*, user: AbstractBaseUser | AnonymousUser | None, upload_id: object) -> Upload:
    """The upload, if the user may read it now; else not_found, whatever the reason.

    Before it is attached only its uploader may; once attached, the members of
    its room for as long as its message is not deleted (leaving the room, or
    the message's deletion, takes it out of view at once).
    """
    refused = ClientError("not_found", "No such file.")
    if user is None or not user.is_authenticated:
        raise refused
    try:
        upload_id = int(upload_id)
    except (TypeError, ValueError):
        raise refused from None
    if not validators.is_id(upload_id):
        raise refused
    upload = Upload.objects.select_related("message", "room").filter(id=upload_id).first()
    if upload is None:
        raise refused
    if upload.attached_at is None:
        if upload.uploader_id != user.pk:
            raise refused
        return upload
    message = upload.message
    if message is None or message.deleted or upload.room is None:
        raise refused
    if chat_selectors.membership_of(user=user, room=upload.room) is None:
        raise refused
    return upload
