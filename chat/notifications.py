"""Email @mentions to members who are offline; run by the background worker.

A mention is ``@username`` (Django's username characters) not preceded by a
letter or digit, so addresses such as ``bob@example.com`` are not mentions.
Only members of the room are told, never the author, only while offline on
every replica, and only at a verified primary address (allauth's EmailAddress):
an unverified address may belong to someone else, and mention emails must not
relay a stranger's text to it.

One account must not turn this into a mailer, so a message emails at most
CHAT_MENTION_EMAILS_PER_MESSAGE people (the first mentioned), a recipient gets
at most one email per room every CHAT_MENTION_EMAIL_INTERVAL_SECS, and at most
CHAT_MENTION_EMAILS_PER_HOUR (bursts of CHAT_MENTION_EMAILS_BURST) in all. Both
throttles live in Redis, shared by every worker.
"""

import logging

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import Exists, OuterRef

from accounts.identity import display_name
from chat import presence, ratelimit
from chat.mentions import mentioned_usernames
from chat.models import Membership, Message

log = logging.getLogger(__name__)

# How much of the message an email quotes.
EMAIL_EXCERPT_CHARS = 500


def _first_email_in_interval(recipient_id: int, room_id: int) -> bool:
    """True once per recipient and room per CHAT_MENTION_EMAIL_INTERVAL_SECS (every worker)."""
    interval = settings.CHAT_MENTION_EMAIL_INTERVAL_SECS
    if interval <= 0:
        return True
    # The cache is Redis whenever REDIS_URL is set (project/settings.py); add is SET NX.
    return cache.add(f"mention-email:{recipient_id}:{room_id}", 1, timeout=interval)


def _email(message: Message, recipient: AbstractBaseUser, *, mentioned: bool) -> None:
    author = display_name(message.author)
    room = message.room
    where = "a direct message" if room.kind == room.Kind.DIRECT else f"#{room.name}"
    excerpt = message.body[:EMAIL_EXCERPT_CHARS]
    if len(message.body) > EMAIL_EXCERPT_CHARS:
        excerpt += "…"
    link = f"{settings.CHAT_SITE_URL.rstrip('/')}/#/r/{room.slug}"
    send_mail(
        subject=f"[{settings.SITE_NAME}] {author} "
        + (f"mentioned you in {where}" if mentioned else "sent you a direct message"),
        message=(
            f"{author} wrote in {where} on {settings.SITE_NAME}:\n\n{excerpt}\n\nReply: {link}\n"
        ),
        from_email=None,
        recipient_list=[recipient.email],
    )


def mention_notify(*, message_id: int) -> list[str]:
    """Email every offline member the message is for; returns their usernames.

    Who it is for follows each membership's ``notify``: ``none`` is never emailed;
    otherwise the members it @mentions by name (not @room/@here: those would mail
    whole rooms), and in a direct room (default ``all``) the other person for every
    message. ``all`` in a group room changes badges and browser notifications, not email.
    """
    message = (
        Message.objects.select_related("room", "author__profile")
        .filter(pk=message_id, deleted=False)
        .first()
    )
    if message is None:
        return []
    cap = settings.CHAT_MENTION_EMAILS_PER_MESSAGE
    names = mentioned_usernames(message.body, limit=cap)
    room = message.room
    members = Membership.objects.filter(room=room).exclude(user_id=message.author_id)
    members = members.exclude(notify=Membership.Notify.NONE)
    told = members.filter(user__username__in=names)
    if room.kind == room.Kind.DIRECT:
        told = told | members.exclude(notify=Membership.Notify.MENTIONS)
    elif not names:
        return []
    verified = EmailAddress.objects.filter(
        user=OuterRef("pk"), email__iexact=OuterRef("email"), primary=True, verified=True
    )
    candidates = list(
        get_user_model()
        .objects.filter(pk__in=told.values("user_id"), is_active=True)
        .exclude(email="")
        .filter(Exists(verified))
        .order_by("pk")[:cap]
    )
    online = presence.backend().online([user.pk for user in candidates])
    emailed = []
    for user in candidates:
        if user.pk in online:
            continue
        if not _first_email_in_interval(user.pk, message.room_id):
            continue
        if not ratelimit.take_token(user.pk, "mention_email"):
            continue
        _email(message, user, mentioned=user.get_username() in names)
        emailed.append(user.get_username())
    if emailed:
        log.info("mention emails sent", extra={"message_id": message_id, "to": emailed})
    return emailed
