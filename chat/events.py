"""Every event the product emits, built once and sent through the channel layer.

Frames are serialised here, once per event, not once per recipient: the
consumer forwards the ready text. Services call these only from
``transaction.on_commit``, so no client sees a write that was rolled back;
except the user's own events (``room_added``, ``room_removed``, ``read``,
``room_notify``), which services call inside the transaction: they are stored
there (chat/user_events.py, for GET /api/events) and sent on commit.

Event types a consumer handles (see ChatConsumer):
``chat.frame`` forward ``frame`` (skipping rooms the socket left, the
``exclude`` channel, and messages older than what it already sent);
``chat.room_added`` / ``chat.room_removed`` subscribe or unsubscribe, then
forward; ``chat.close`` close the socket (only a session's, with
``session_key``; only a token's, with ``token_id``).
"""

import logging
import time

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count

from accounts.identity import user_payload
from chat import metrics, notifications, presence, publish, user_events, workers
from chat.groups import room_group, user_group
from chat.models import Membership, Message, Room
from chat.payloads import encode, iso, member_payload, message_payload, room_payload

log = logging.getLogger(__name__)

# The close code the server uses when it ends a session (logout, deactivation, a new
# password) or revokes the API token a socket was opened with.
CLOSE_SESSION_ENDED = 4001


def _send(group: str, event: dict, kind: str) -> None:
    metrics.event_fanned_out(kind)
    event["group"] = group  # which of its local sockets a replica's relay hands it to
    publish.group_send(group, event)


def _send_all(sends: list[tuple[str, dict, str]]) -> None:
    """Several (group, event, kind) at once: one round trip per Redis server, not one each."""
    for group, event, kind in sends:
        metrics.event_fanned_out(kind)
        event["group"] = group
    publish.group_send_many([(group, event) for group, event, _ in sends])


def to_room(room: Room, payload: dict, *, message_id: int = 0, exclude: str = "") -> None:
    _send(room_group(room.pk), _room_event(room, payload, message_id, exclude), payload["type"])


def _room_event(room: Room, payload: dict, message_id: int = 0, exclude: str = "") -> dict:
    event = {"type": "chat.frame", "room_id": room.pk, "frame": encode(payload)}
    if message_id:
        event["message_id"] = message_id
        event["sent_at"] = time.time()  # for the delivery latency metric
    if "seq" in payload:
        event["seq"] = payload["seq"]  # a long poll checks its live frames are contiguous
    if exclude:
        event["exclude"] = exclude
    return event


def _to_user_stored(user_id: int, payload: dict, event_type: str = "chat.frame", **extra) -> None:
    """Store one of the user's own events now and send it when the transaction commits."""
    frame = encode(payload)
    seq = user_events.record(user_id, frame, room_id=extra.get("room_id"))
    event = {"type": event_type, "frame": frame, "useq": seq, **extra}
    transaction.on_commit(lambda: _send(user_group(user_id), event, payload["type"]))


def message_created(message: Message) -> dict:
    """Returns the message object it published: message_post answers with it."""
    payload = message_payload(message)
    frame = {"type": "message", "message": payload, "seq": message.seq}
    to_room(message.room, frame, message_id=message.id)
    return payload


def message_edited(message: Message) -> None:
    frame = {"type": "message_edited", "message": message_payload(message), "seq": message.seq}
    to_room(message.room, frame)


def message_deleted(message: Message) -> None:
    frame = {
        "type": "message_deleted",
        "room": message.room.slug,
        "id": message.id,
        "seq": message.seq,
        "thread": message.thread_id,
    }
    to_room(message.room, frame)


def thread_updated(root: Message) -> None:
    """A thread's reply count or last reply changed (a reply posted or deleted)."""
    frame = {
        "type": "thread_updated",
        "room": root.room.slug,
        "id": root.id,
        "reply_count": root.reply_count,
        "last_reply_at": iso(root.last_reply_at),
        "seq": root.seq,
    }
    to_room(root.room, frame)


def reaction(message: Message, *, emoji: str, user: AbstractBaseUser, on: bool) -> None:
    frame = {
        "type": "reaction",
        "room": message.room.slug,
        "id": message.id,
        "emoji": emoji,
        "user": user.get_username(),
        "on": on,
        "seq": message.seq,
    }
    to_room(message.room, frame)


def message_pinned(message: Message, *, by: AbstractBaseUser) -> None:
    frame = {
        "type": "message_pinned",
        "room": message.room.slug,
        "id": message.id,
        "pinned": message.pinned,
        "by": by.get_username(),
        "seq": message.seq,
    }
    to_room(message.room, frame)


def room_notify(user_id: int, room: Room, notify: str) -> None:
    """The user changed what a room tells them: their other tabs follow (stored, see above)."""
    _to_user_stored(user_id, {"type": "room_notify", "room": room.slug, "notify": notify})


def member_joined(membership: Membership) -> None:
    online = presence.backend().online([membership.user_id])
    frame = {
        "type": "member_joined",
        "room": membership.room.slug,
        "user": member_payload(membership, online),
    }
    to_room(membership.room, frame)


def member_left(room: Room, user: AbstractBaseUser) -> None:
    to_room(room, {"type": "member_left", "room": room.slug, "user": user_payload(user)})


def member_updated(membership: Membership) -> None:
    """A member's role changed: members redraw the badge and the actions they offer."""
    online = presence.backend().online([membership.user_id])
    frame = {
        "type": "member_updated",
        "room": membership.room.slug,
        "user": member_payload(membership, online),
        "role": membership.role,
    }
    to_room(membership.room, frame)


def user_updated(user_id: int) -> None:
    """A user's display name or avatar changed: every room they are in hears of it,
    so names and pictures change in place on every replica.

    Rooms of more than CHAT_PRESENCE_ROOM_MAX_MEMBERS members are left out, as for
    presence: there one change would cost a frame per member. Clients there pick
    the new name and picture up from the user's next message (every message
    carries its author) and from the member list when they open the room.
    """
    user = get_user_model().objects.select_related("profile").filter(pk=user_id).first()
    if user is None:
        return
    person = user_payload(user)
    rooms = (
        Room.objects.filter(pk__in=Membership.objects.filter(user_id=user_id).values("room_id"))
        .annotate(member_count=Count("memberships"))
        .filter(member_count__lte=settings.CHAT_PRESENCE_ROOM_MAX_MEMBERS)
        .only("pk", "slug")
    )
    for room in rooms:
        to_room(room, {"type": "user_updated", "room": room.slug, "user": person})


def room_added(user: AbstractBaseUser, room: Room) -> None:
    """The user is now in the room (stored, see above): their sockets subscribe to it."""
    frame = {"type": "room_added", "room": room_payload(room=room, viewer=user)}
    _to_user_stored(user.pk, frame, "chat.room_added", room_id=room.pk)


def room_removed(user_id: int, room: Room) -> None:
    """The user left the room or was removed (stored, see above): their sockets drop it."""
    frame = {"type": "room_removed", "room": room.slug}
    _to_user_stored(user_id, frame, "chat.room_removed", room_id=room.pk)


def room_updated(room: Room) -> None:
    frame = {
        "type": "room_updated",
        "room": room.slug,
        "name": room.name,
        "topic": room.topic,
        "archived": room.archived,
    }
    to_room(room, frame)


def read(user_id: int, room: Room, message_id: int, unread: int, mentions: int) -> None:
    frame = {
        "type": "read",
        "room": room.slug,
        "message_id": message_id,
        "unread": unread,
        "mentions": mentions,
    }
    _to_user_stored(user_id, frame)


def typing(room: Room, user: AbstractBaseUser, *, exclude: str) -> None:
    to_room(
        room, {"type": "typing", "room": room.slug, "user": user_payload(user)}, exclude=exclude
    )


def presence_changed(user: AbstractBaseUser, online: bool, rooms: list[Room]) -> None:
    """To each room at once: a user in many rooms costs the connecting socket one hop."""
    username = user.get_username()
    frames = [
        (room, {"type": "presence", "room": room.slug, "user": username, "online": online})
        for room in rooms
    ]
    _send_all(
        [(room_group(room.pk), _room_event(room, frame), "presence") for room, frame in frames]
    )


def sessions_close(user_id: int, *, session_key: str = "", token_id: int | None = None) -> None:
    """Close the user's sockets on every replica: all of them, or one session's, or
    those opened with one API token (and end their waiting long polls)."""
    event = {"type": "chat.close", "code": CLOSE_SESSION_ENDED}
    if session_key:
        event["session_key"] = session_key
    if token_id:
        event["token_id"] = token_id
    _send(user_group(user_id), event, "close")


def mention_notify(message: Message) -> None:
    """Queue the offline emails (mentions, direct messages) for the background worker
    (embedded: send them now).

    Never raises: a notification that cannot be queued must not fail the post.
    """
    if not settings.CHAT_MENTION_EMAILS:
        return
    if "@" not in message.body and message.room.kind != Room.Kind.DIRECT:
        return
    job = {"type": "mention.notify", "message_id": message.id}
    try:
        if settings.REDIS_URL:
            async_to_sync(get_channel_layer("worker").send)(workers.NOTIFY_CHANNEL, job)
        else:
            notifications.mention_notify(message_id=message.id)
    except ChannelFull:
        metrics.CHANNEL_LAYER_DROPS.labels("channel_full").inc()
        log.warning("worker queue full: mention emails dropped", extra={"message_id": message.id})
    except Exception:
        log.exception("could not queue mention emails", extra={"message_id": message.id})
