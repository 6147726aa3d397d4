"""An uploaded file: stored through Django's default storage, attached to at most one message."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def upload_path(upload: "Upload", filename: str) -> str:
    """``uploads/<yyyy>/<mm>/<random>/<name>``: the random part makes every path
    unguessable and unique; the name is the cleaned one (files.names), never a path."""
    now = timezone.now()
    return f"uploads/{now:%Y}/{now:%m}/{secrets.token_urlsafe(16)}/{filename}"


def thumbnail_path(upload: "Upload", filename: str) -> str:
    """Beside its image, under a random folder of its own."""
    now = timezone.now()
    return f"uploads/{now:%Y}/{now:%m}/{secrets.token_urlsafe(16)}/thumb-{filename}"


class Upload(models.Model):
    # message and room are SET_NULL: a message (or room) deleted for good leaves
    # its uploads with attached_at set and no message, which nobody may read and
    # files_cleanup removes with their bytes (a CASCADE would drop the rows and
    # leave the bytes in storage with nothing pointing at them).
    id = models.BigAutoField(primary_key=True)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    name = models.CharField(max_length=255, help_text="The cleaned file name, shown and served.")
    size = models.BigIntegerField(help_text="Bytes stored (after re-encoding, for images).")
    content_type = models.CharField(max_length=100)
    file = models.FileField(upload_to=upload_path, max_length=500)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=500, null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    message = models.ForeignKey(
        "chat.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    room = models.ForeignKey(
        "chat.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # files_cleanup: unattached uploads by age.
            models.Index(
                fields=["created"],
                name="upload_unattached_created",
                condition=models.Q(attached_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"

    @property
    def is_image(self) -> bool:
        """Checked and re-encoded by Pillow (files.images): shown inline, with a thumbnail."""
        return self.width is not None
