from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

slug_validator = RegexValidator(
    r"^[a-z0-9-]{1,50}$", "Use 1-50 lowercase letters, digits or dashes."
)


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public"
        PRIVATE = "private"
        DIRECT = "direct"

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    topic = models.CharField(max_length=250, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    archived = models.BooleanField(default=False, help_text="Archived rooms are read-only.")
    is_default = models.BooleanField(default=False, help_text="New users join default rooms.")
    # Updated with every insert, under chat.locks.room_post_lock, which keeps
    # a room's messages committed and published in id order.
    last_message_id = models.BigIntegerField(default=0)
    # "<smaller user id>:<larger user id>" for direct rooms: one room per pair.
    direct_key = models.CharField(max_length=50, null=True, blank=True, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="chat_rooms"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def group_name(self) -> str:
        from chat.groups import room_group

        return room_group(self.pk)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MODERATOR = "moderator"
        MEMBER = "member"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined = models.DateTimeField(auto_now_add=True)
    last_read_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"

    @property
    def can_moderate(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.MODERATOR)


class Message(models.Model):
    id = models.BigAutoField(primary_key=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    body = models.TextField()
    html = models.TextField(help_text="The body rendered from Markdown and sanitised.")
    created = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    client_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "id"], name="message_room_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=~Q(client_id=""),
                name="one_message_per_client_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.body[:40]}"
