"""The objects inside frames and API answers (message, room, member), and ``encode``.

Built from models only: chat.events (which sends them) and chat.selectors
(which reads them for pages) both import this module, so neither has to import
the other.
"""

import json

from django.contrib.auth.models import AbstractBaseUser

from accounts.identity import display_name, user_payload
from chat.models import Membership, Message, Room, notify_level


def encode(payload: dict) -> str:
    """A frame's text: compact JSON, serialised once however many sockets receive it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def message_payload(message: Message) -> dict:
    return {
        "id": message.id,
        "room": message.room.slug,
        "author": user_payload(message.author),
        "body": message.body,
        "html": message.html,
        "created_at": iso(message.created),
        "edited_at": iso(message.edited_at),
        "client_id": message.client_id or None,
        "seq": message.seq,
        "thread": message.thread_id,
        "reply_count": message.reply_count,
        "last_reply_at": iso(message.last_reply_at),
        "reactions": message.reaction_summary,
        "pinned": message.pinned,
        "mentions": message.mentions,
        "attachments": message.attachment_summary,
    }


def room_title(*, room: Room, viewer: AbstractBaseUser) -> tuple[str, str | None]:
    """A direct room is called after the other person; returns (name, peer username)."""
    if room.kind != Room.Kind.DIRECT:
        return room.name, None
    peer = next(
        (
            m.user
            for m in room.memberships.select_related("user__profile")
            if m.user_id != viewer.pk
        ),
        viewer,
    )
    return display_name(peer), peer.get_username()


def room_payload(
    *,
    room: Room,
    viewer: AbstractBaseUser,
    unread: int = 0,
    mentions: int = 0,
    notify: str = "",
    title: tuple[str, str | None] | None = None,
) -> dict:
    """The room object; ``notify`` is the viewer's stored setting ("": the kind's default),
    ``title`` the room_title() already known."""
    name, peer = title or room_title(room=room, viewer=viewer)
    payload = {
        "slug": room.slug,
        "name": name,
        "kind": room.kind,
        "topic": room.topic,
        "archived": room.archived,
        "unread": unread,
        "mentions": mentions,
        "notify": notify_level(notify, room.kind),
        "last_message_id": room.last_message_id,
        "seq": room.seq,
    }
    if peer is not None:
        payload["peer"] = peer
    return payload


def _direct_peers(rooms: list[Room], viewer: AbstractBaseUser) -> dict[int, AbstractBaseUser]:
    """The other member of each direct room, in one query (the viewer, if alone)."""
    direct = [room.pk for room in rooms if room.kind == Room.Kind.DIRECT]
    if not direct:
        return {}
    others = (
        Membership.objects.filter(room_id__in=direct)
        .exclude(user_id=viewer.pk)
        .select_related("user__profile")
    )
    return {m.room_id: m.user for m in others}


def rooms_payload(*, rooms: list[Room], viewer: AbstractBaseUser) -> list[dict]:
    """The room objects of `hello`, from member_rooms()."""
    peers = _direct_peers(rooms, viewer)
    payloads = []
    for room in rooms:
        title = None
        if room.kind == Room.Kind.DIRECT:
            peer = peers.get(room.pk, viewer)
            title = (display_name(peer), peer.get_username())
        payloads.append(
            room_payload(
                room=room,
                viewer=viewer,
                unread=room.unread,
                mentions=room.mentions,
                notify=room.member_notify,
                title=title,
            )
        )
    return payloads


def member_payload(membership: Membership, online: set[int]) -> dict:
    return {
        **user_payload(membership.user),
        "role": membership.role,
        "online": membership.user_id in online,
    }
