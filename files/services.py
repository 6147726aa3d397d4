"""Writes: storing an upload (checked, rate limited), claiming and binding attachments.

A message's attachments are claimed and bound inside the transaction that
creates the message (chat.services): ``attachments_claim`` locks and checks the
uploads before the message row exists, ``attachments_bind`` points them at it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from chat import ratelimit
from chat.models import Message, Room
from files import images
from files.models import Upload
from files.names import clean_name
from project import validators
from project.errors import ClientError

logger = logging.getLogger(__name__)

MAX_ATTACHMENTS = 10  # per message, as Slack and Discord allow

# Attachments
# ------------------------------------------------------------------------------


def _attachment_ids(ids: object) -> list[int]:
    if ids is None:
        return []
    if not isinstance(ids, list):
        raise ClientError("invalid", "attachments must be a list of upload ids.")
    if len(ids) > MAX_ATTACHMENTS:
        raise ClientError("invalid", f"A message may carry at most {MAX_ATTACHMENTS} attachments.")
    for item in ids:
        if not validators.is_id(item):
            raise ClientError("invalid", "attachments must be a list of upload ids (integers).")
    if len(set(ids)) != len(ids):
        raise ClientError("invalid", "attachments lists an upload more than once.")
    return ids


def attachments_claim(*, user: AbstractBaseUser, ids: object, room: Room) -> list[Upload]:
    """Lock and check the uploads a new message will carry, in the order given.

    Call inside the transaction that creates the message, before it exists.
    Someone else's upload answers like a missing one (not_found), so ids cannot
    be probed; one already on a message is a conflict.
    """
    ids = _attachment_ids(ids)
    if not ids:
        return []
    # Locked in id order, so two posts claiming overlapping uploads cannot deadlock.
    found = {
        upload.id: upload
        for upload in Upload.objects.select_for_update()
        .filter(id__in=ids, uploader_id=user.pk)
        .order_by("id")
    }
    missing = [upload_id for upload_id in ids if upload_id not in found]
    if missing:
        raise ClientError("not_found", f"No such upload: {missing[0]}.")
    used = [upload_id for upload_id in ids if found[upload_id].attached_at is not None]
    if used:
        raise ClientError("conflict", f"Upload {used[0]} is already attached to a message.")
    return [found[upload_id] for upload_id in ids]


def attachments_bind(*, uploads: list[Upload], message: Message) -> None:
    """Attach claimed uploads to their new message (one UPDATE); from now on the room's
    members may read them, and files_cleanup leaves them alone."""
    if not uploads:
        return
    now = timezone.now()
    Upload.objects.filter(id__in=[upload.id for upload in uploads]).update(
        message=message, room_id=message.room_id, attached_at=now
    )
    for upload in uploads:
        upload.message = message
        upload.room_id = message.room_id
        upload.attached_at = now


# Uploads
# ------------------------------------------------------------------------------


def _check_size(size: int) -> None:
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    if size > limit:
        raise ClientError(
            "too_long", f"The file is {size:,} bytes; uploads are limited to {limit:,} bytes."
        )
    if size <= 0:
        raise ClientError("invalid", "The file is empty.")


def _delete_stored(*files: FieldFile) -> None:
    for field in files:
        if field:
            field.delete(save=False)


def upload_create(*, user: AbstractBaseUser, uploaded_file: UploadedFile) -> Upload:
    """Check and store one upload; nothing is stored when a check refuses it.

    Spends a token of the user's ``upload`` bucket first, so refused uploads
    (an image bomb, say) count too. Images are re-encoded (files.images) and
    stored with a thumbnail; anything else is stored as sent, as a download.
    """
    if not ratelimit.take_token(user.pk, "upload"):
        raise ClientError("rate_limited", "Too many uploads; wait a minute and retry.")
    _check_size(uploaded_file.size or 0)
    name = clean_name(uploaded_file.name)
    checked = images.check_image(uploaded_file)
    upload = Upload(uploader=user, name=name)
    try:
        if checked is None:
            uploaded_file.seek(0)
            upload.content_type = images.download_type(name)
            upload.file.save(name, File(uploaded_file), save=False)
        else:
            upload.content_type = checked.content_type
            upload.width, upload.height = checked.width, checked.height
            upload.file.save(name, File(checked.data), save=False)
            thumbnail_name = name.rpartition(".")[0] or name
            upload.thumbnail.save(
                f"{thumbnail_name}{checked.extension}", File(checked.thumbnail), save=False
            )
        upload.size = upload.file.size
        upload.save()
    except BaseException:
        _delete_stored(upload.file, upload.thumbnail)
        raise
    finally:
        if checked is not None:
            checked.data.close()
            checked.thumbnail.close()
    logger.info(
        "upload stored: id=%s user=%s size=%s type=%s",
        upload.id,
        user.pk,
        upload.size,
        upload.content_type,
    )
    return upload


# Cleanup
# ------------------------------------------------------------------------------


def uploads_cleanup(*, older_than_secs: float | None = None, batch: int = 500) -> int:
    """Delete the rows and stored bytes of uploads nobody can ever read: never attached
    and older than CHAT_UPLOAD_UNUSED_TTL, or attached to a message since deleted, by its
    author or a moderator (soft: nobody may read it again) or for good (message SET_NULL).
    Returns how many were removed.

    Rows go first, bytes after: a failure between the two leaves unreferenced bytes,
    never a row pointing at missing bytes. Run by the worker (chat/workers.py) and by
    ``manage.py files_cleanup``.
    """
    ttl = settings.CHAT_UPLOAD_UNUSED_TTL if older_than_secs is None else older_than_secs
    cutoff = timezone.now() - timedelta(seconds=ttl)
    gone = (
        Q(attached_at__isnull=True, created__lt=cutoff)
        | Q(attached_at__isnull=False, message__isnull=True)
        | Q(message__deleted=True)
    )
    removed = 0
    while True:
        with transaction.atomic():
            doomed = list(
                Upload.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(gone)
                .order_by("id")[:batch]
            )
            if not doomed:
                break
            Upload.objects.filter(id__in=[upload.id for upload in doomed]).delete()
        for upload in doomed:
            try:
                _delete_stored(upload.file, upload.thumbnail)
            except OSError:
                logger.warning("upload %s: stored bytes not deleted", upload.id, exc_info=True)
        removed += len(doomed)
    if removed:
        logger.info("uploads removed: %s", removed)
    return removed
