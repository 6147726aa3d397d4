"""Reactions and pins: small changes to a message, each a change of the room's cursor.

Both are for the room's members (anyone else gets not_found, as for a message
they cannot see), refused in archived rooms, and spend a token of the same
per-user bucket as posting, so they cannot flood a room either.
"""

import re

import emoji as emoji_data
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chat import events, metrics, ratelimit
from chat.changes import room_change, take_seq
from chat.models import Message, Reaction
from chat.services import message_for_member, message_still_live
from project import validators
from project.errors import ClientError

EMOJI_MAX_LENGTH = 32
SHORT_NAME_RE = re.compile(r":[a-z0-9_+-]{1,30}:")


def emoji_clean(value: object) -> str:
    """One Unicode emoji (skin tones and ZWJ sequences included) or a :short_name:."""
    if not isinstance(value, str) or not value or len(value) > EMOJI_MAX_LENGTH:
        raise ClientError("invalid", "emoji must be one emoji or a :short_name:.")
    if SHORT_NAME_RE.fullmatch(value) or emoji_data.is_emoji(value):
        return value
    raise ClientError("invalid", "emoji must be one emoji or a :short_name:.")


def _writable_message(*, user: AbstractBaseUser, message_id: object) -> Message:
    message = message_for_member(user=user, message_id=message_id)
    if message.room.archived:
        raise ClientError("forbidden", "This room is archived and read-only.")
    if not ratelimit.take_post_token(user.pk):
        metrics.RATE_LIMITED.inc()
        raise ClientError("rate_limited", "You are doing that too fast; wait a moment.")
    return message


def _as_stored(message: Message) -> Message:
    """The message as stored: a change that changed nothing answers with it."""
    return Message.objects.select_related("room", "author__profile").get(pk=message.pk)


def _summary(message_id: int) -> list[dict]:
    """The message object's `reactions`: per emoji, in order of first use, its count
    and its first REACTION_USERS_SHOWN users."""
    groups: dict[str, dict] = {}
    rows = (
        Reaction.objects.filter(message_id=message_id)
        .order_by("id")
        .values_list("emoji", "user__username")
    )
    for emoji, username in rows:
        group = groups.setdefault(emoji, {"emoji": emoji, "count": 0, "users": []})
        group["count"] += 1
        if len(group["users"]) < settings.CHAT_REACTION_USERS_SHOWN:
            group["users"].append(username)
    return list(groups.values())


def reaction_set(
    *, user: AbstractBaseUser, message_id: object, emoji: object, on: object
) -> Message:
    """Add (on) or remove a reaction; repeating either changes nothing (no seq, no frame)."""
    emoji = emoji_clean(emoji)
    on = validators.boolean(on, field="on")
    message = _writable_message(user=user, message_id=message_id)
    with room_change(message.room_id):
        message_still_live(message)
        mine = Reaction.objects.filter(message=message, user=user, emoji=emoji)
        if mine.exists() == on:
            return _as_stored(message)
        if on:
            used = set(Reaction.objects.filter(message=message).values_list("emoji", flat=True))
            cap = settings.CHAT_MAX_REACTIONS_PER_MESSAGE
            if emoji not in used and len(used) >= cap:
                raise ClientError("invalid", f"A message has at most {cap} different reactions.")
            Reaction.objects.create(message=message, user=user, emoji=emoji)
        else:
            mine.delete()
        message.reaction_summary = _summary(message.pk)
        message.seq = take_seq(message.room_id)
        message.save(update_fields=["reaction_summary", "seq"])
        transaction.on_commit(lambda: events.reaction(message, emoji=emoji, user=user, on=on))
    return message


def pin_set(*, user: AbstractBaseUser, message_id: object, on: object) -> Message:
    """Pin (on) or unpin a message; repeating either changes nothing."""
    on = validators.boolean(on, field="on")
    message = _writable_message(user=user, message_id=message_id)
    with room_change(message.room_id):
        current = Message.objects.filter(pk=message.pk, deleted=False).values_list(
            "pinned", flat=True
        )
        pinned = current.first()
        if pinned is None:
            raise ClientError("not_found", "No such message.")
        if pinned == on:
            return _as_stored(message)
        message.pinned = on
        message.pinned_by = user if on else None
        message.pinned_at = timezone.now() if on else None
        message.seq = take_seq(message.room_id)
        message.save(update_fields=["pinned", "pinned_by", "pinned_at", "seq"])
        transaction.on_commit(lambda: events.message_pinned(message, by=user))
    return message
