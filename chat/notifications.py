"""Email @mentions to members who are offline; run by the background worker.

A mention is ``@username`` (Django's username characters) not preceded by a
letter or digit, so addresses such as ``bob@example.com`` are not mentions.
Only members of the room are told, never the author, only while offline on
every replica, and only if they have an email address.
"""

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail

from accounts.identity import display_name
from chat import presence
from chat.models import Message

log = logging.getLogger(__name__)

MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")
# How much of the message an email quotes.
EMAIL_EXCERPT_CHARS = 500


def mentioned_usernames(body: str) -> set[str]:
    """Usernames @mentioned in a message body (a trailing full stop is punctuation)."""
    names = set()
    for match in MENTION_RE.finditer(body):
        name = match.group(1)
        names.add(name)
        names.add(name.rstrip(".-"))
    names.discard("")
    return names


def _email(message: Message, recipient: AbstractBaseUser) -> None:
    author = display_name(message.author)
    room = message.room
    where = "a direct message" if room.kind == room.Kind.DIRECT else f"#{room.name}"
    excerpt = message.body[:EMAIL_EXCERPT_CHARS]
    if len(message.body) > EMAIL_EXCERPT_CHARS:
        excerpt += "…"
    link = f"{settings.CHAT_SITE_URL.rstrip('/')}/#/r/{room.slug}"
    send_mail(
        subject=f"{author} mentioned you in {where}",
        message=f"{author} wrote in {where}:\n\n{excerpt}\n\nReply: {link}\n",
        from_email=None,
        recipient_list=[recipient.email],
    )


def mention_notify(*, message_id: int) -> list[str]:
    """Email every offline member the message mentions; returns their usernames."""
    message = (
        Message.objects.select_related("room", "author__profile")
        .filter(pk=message_id, deleted=False)
        .first()
    )
    if message is None:
        return []
    names = mentioned_usernames(message.body)
    if not names:
        return []
    candidates = list(
        get_user_model()
        .objects.filter(username__in=names, is_active=True, memberships__room=message.room)
        .exclude(pk=message.author_id)
        .exclude(email="")
    )
    online = presence.backend().online([user.pk for user in candidates])
    emailed = []
    for user in candidates:
        if user.pk in online:
            continue
        _email(message, user)
        emailed.append(user.get_username())
    if emailed:
        log.info("mention emails sent", extra={"message_id": message_id, "to": emailed})
    return emailed
