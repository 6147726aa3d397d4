from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import JSONField, Q, Value

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
    # The room's change sequence: every change to one of its messages (posted,
    # edited, deleted, reacted to, pinned, a thread's reply count) takes the next
    # value, under the same lock and in the same transaction (chat.changes).
    seq = models.BigIntegerField(default=0, db_default=0)
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

    class Notify(models.TextChoices):
        ALL = "all"
        MENTIONS = "mentions"
        NONE = "none"

    joined = models.DateTimeField(auto_now_add=True)
    last_read_id = models.BigIntegerField(default=0)
    # Blank: the room kind's default (notify_level).
    notify = models.CharField(
        max_length=10, choices=Notify.choices, blank=True, default="", db_default=""
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"

    @property
    def can_moderate(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.MODERATOR)


def notify_level(notify: str, room_kind: str) -> str:
    """What a member is told about: direct rooms default to all, others to mentions."""
    if notify:
        return str(notify)
    if room_kind == Room.Kind.DIRECT:
        return Membership.Notify.ALL.value
    return Membership.Notify.MENTIONS.value


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
    # The room seq of this message's last change: changes since a seq are one range scan.
    seq = models.BigIntegerField(default=0, db_default=0)
    # A reply's thread root (never a reply itself); null for the main timeline.
    thread = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    reply_count = models.IntegerField(default=0, db_default=0)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False, db_default=False)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(null=True, blank=True)
    # Usernames mentioned (members of the room at the time), and "room"/"here".
    mentions = models.JSONField(default=list, blank=True, db_default=Value([], JSONField()))
    # The message object's `reactions`, rebuilt from Reaction rows under the room's
    # ordering lock at every change: pages and frames read it without a join.
    reaction_summary = models.JSONField(default=list, blank=True, db_default=Value([], JSONField()))
    # The message object's `attachments` (files.selectors.attachment_payload, fixed once
    # posted): pages and frames read them without a join.
    attachment_summary = models.JSONField(
        default=list, blank=True, db_default=Value([], JSONField())
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["room", "id"], name="message_room_id"),
            models.Index(fields=["room", "seq"], name="message_room_seq"),
            models.Index(fields=["thread", "id"], name="message_thread_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=~Q(client_id=""),
                name="one_message_per_client_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.body[:40]}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_set")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="one_reaction")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on #{self.message_id}"


class Mention(models.Model):
    """A member a message mentions (by name, @room or @here): unread mentions are counted here."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mention_set")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="one_mention")]
        indexes = [models.Index(fields=["user", "room", "message"], name="mention_user_room")]

    def __str__(self) -> str:
        return f"@{self.user_id} in #{self.message_id}"


class UserEventCounter(models.Model):
    """The last seq of a user's own events (chat.user_events): one row per user.

    Taking the next seq updates this row, so the row stays locked until the
    event's transaction commits: a user's events commit in seq order.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"user {self.user_id} at event {self.seq}"


class UserEvent(models.Model):
    """One of the user's own events (room_added, room_removed, read, room_notify), as the
    frame the socket sends, kept so a long poll (GET /api/events) misses none of them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    # The room a room_added / room_removed is about (no foreign key: a deleted
    # room's removal is still an event).
    room_id = models.BigIntegerField(null=True, blank=True)
    frame = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="one_user_event_seq")]

    def __str__(self) -> str:
        return f"event {self.seq} of user {self.user_id}"
