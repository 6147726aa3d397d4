"""GET /api/events: one long poll over every room of the user and their own events.

For clients that cannot keep a WebSocket open (a proxy that refuses the
upgrade). The answer holds the same frames, in the same JSON, as the socket.

The cursor is opaque to clients: the user's own event seq (chat/user_events.py)
and, per room of the user, the room's change seq (chat/changes.py). Both commit
in seq order, so an answer built from ``seq > cursor`` reads never skips or
repeats a change, on whichever replica the next poll lands. Per room the
answer carries either the live frames the poll heard while it waited, when
they continue the room's cursor without a gap, or the ``synced`` page the
socket answers ``sync`` with, read from the database. Frames without a seq
(typing, presence, members, room and user updates) are best effort: those
published while the poll waited.

Each answer reads the user's memberships afresh: a room the user left or was
removed from yields nothing more (its ``room_removed`` comes from the user's
events). A room the cursor does not know (added in the admin, without an
event) is announced with ``room_added``; one that no longer exists, a cursor
behind the kept user events or another user's cursor is ``CursorExpired``: the
client reloads its state and polls without a cursor.

Waiting works as the per-room poll does (realtime/longpoll.py): listen on this
process' relay to every room of the user and to the user, read once more, then
wait holding no database connection and no thread; the slot of
CHAT_MAX_LONG_POLLS_PER_USER is shared with the per-room polls.

A client that polls here is online, as a socket makes its user: each poll
refreshes its presence connection (realtime/sockets.py, ``poller_seen``), which
expires when the polls stop.
"""

import asyncio
import base64
import binascii
import json
import time
import uuid
import zlib
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from prometheus_client import Gauge

from chat import user_events
from chat.events import encode
from chat.groups import room_group, user_group
from chat.models import Membership, Room
from chat.selectors import PAGE_MAX_BYTES, changes_page, room_payload
from chat.user_events import CursorExpired
from project.errors import ClientError
from realtime.longpoll import (
    PollEnded,
    PollListener,
    free_slot,
    release_connections,
    release_request_thread,
    take_slot,
)
from realtime.sockets import poller_seen

__all__ = ["CursorExpired", "EventCursor", "PollEnded", "poll_events"]

# The user's own events read per answer; with more, the next poll answers at once.
USER_EVENTS_PAGE = 100
# After the first event wakes a poll, it waits this long for the ones right behind
# it: under load one answer carries a burst instead of one request per frame.
LINGER_SECS = 0.02
# A fallback client is counted (chat_event_poll_clients) this long after its last poll.
CLIENT_SEEN_SECS = 60.0
CURSOR_VERSION = 1
# A cursor inflates to at most this (a user in 500 rooms needs about 10 KB).
CURSOR_MAX_JSON_BYTES = 256 * 1024


@dataclass(slots=True)
class EventCursor:
    """Where a client stands: its user's event seq and each of its rooms' seq."""

    user_id: int
    events: int
    rooms: dict[int, int] = field(default_factory=dict)

    def encode(self) -> str:
        rooms = dict(sorted(self.rooms.items()))  # in id order: it compresses better
        data = {"v": CURSOR_VERSION, "u": self.user_id, "e": self.events, "r": rooms}
        packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
        return base64.urlsafe_b64encode(packed).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, user_id: int) -> "EventCursor":
        """The cursor ``text`` of ``user_id``: ClientError(invalid) if it is not a cursor,
        CursorExpired if it is another user's or another version's."""
        try:
            packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            inflate = zlib.decompressobj()
            data = json.loads(inflate.decompress(packed, CURSOR_MAX_JSON_BYTES))
            if inflate.unconsumed_tail:
                raise ValueError("cursor too large")
            cursor = cls(
                user_id=_count(data["u"]),
                events=_count(data["e"]),
                rooms={int(room): _count(seq) for room, seq in data["r"].items()},
            )
            version = data["v"]
        except (binascii.Error, zlib.error, ValueError, TypeError, KeyError, AttributeError):
            raise ClientError("invalid", "cursor is not a cursor this server gave out.") from None
        if version != CURSOR_VERSION or cursor.user_id != user_id:
            raise CursorExpired
        return cursor


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(value)
    return value


@dataclass(slots=True)
class EventsAnswer:
    events: list[str]  # encoded frames
    cursor: EventCursor

    def as_json(self) -> str:
        """The response body, built from the frames' ready text (no re-encoding)."""
        return f'{{"events":[{",".join(self.events)}],"cursor":"{self.cursor.encode()}"}}'


@dataclass(slots=True)
class LiveFrames:
    """What a waiting poll heard on the relay, by room: seq frames and best-effort ones."""

    seq_frames: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    other_frames: list[tuple[int, str]] = field(default_factory=list)


def _member_seqs(user_id: int) -> dict[int, int]:
    return dict(Membership.objects.filter(user_id=user_id).values_list("room_id", "room__seq"))


def current_cursor(*, user: AbstractBaseUser) -> EventCursor:
    """The user's position now (the user's events first: see the module docstring)."""
    events = user_events.current_seq(user.pk)
    return EventCursor(user_id=user.pk, events=events, rooms=_member_seqs(user.pk))


def _user_events(cursor: EventCursor, events: list[str]) -> tuple[dict[int, int], bool]:
    """Apply the user's events after the cursor; returns the rooms it then covers."""
    rows, has_more = user_events.events_after(cursor.user_id, cursor.events, USER_EVENTS_PAGE)
    rooms = dict(cursor.rooms)
    for seq, room_id, text in rows:
        frame = json.loads(text)
        if frame["type"] == "room_added" and room_id is not None:
            rooms[room_id] = min(frame["room"]["seq"], rooms.get(room_id, frame["room"]["seq"]))
        elif frame["type"] == "room_removed" and room_id is not None:
            rooms.pop(room_id, None)
        events.append(text)
        cursor.events = seq
    return rooms, has_more


def _reconcile(
    *, user: AbstractBaseUser, rooms: dict[int, int], member: dict[int, int], events: list[str]
) -> None:
    """Rooms added or removed without an event (in the admin): announce them."""
    added = [room_id for room_id in member if room_id not in rooms]
    gone = [room_id for room_id in rooms if room_id not in member]
    if gone:
        slugs = dict(Room.objects.filter(pk__in=gone).values_list("pk", "slug"))
        if len(slugs) < len(gone):
            raise CursorExpired  # a room that no longer exists: we cannot name it
        for room_id in gone:
            events.append(encode({"type": "room_removed", "room": slugs[room_id]}))
            del rooms[room_id]
    for room in Room.objects.filter(pk__in=added):
        payload = room_payload(room=room, viewer=user)
        events.append(encode({"type": "room_added", "room": payload}))
        rooms[room.pk] = payload["seq"]


def read_events(
    *, user: AbstractBaseUser, cursor: EventCursor, live: LiveFrames | None = None
) -> EventsAnswer:
    """Everything after the cursor, as frames, and the cursor that follows them.

    Raises CursorExpired.
    """
    events: list[str] = []
    answer = EventCursor(user_id=user.pk, events=cursor.events, rooms=dict(cursor.rooms))
    rooms, more_user_events = _user_events(answer, events)
    member = _member_seqs(user.pk)
    if not more_user_events:
        _reconcile(user=user, rooms=rooms, member=member, events=events)
    size = sum(map(len, events))
    behind: list[int] = []
    for room_id, seq in rooms.items():
        if room_id not in member:
            continue  # its room_removed is among the user events still to come
        if member[room_id] < seq:
            raise CursorExpired  # ahead of the database: a cursor from elsewhere
        for frame_seq, text in live.seq_frames.get(room_id, ()) if live else ():
            if frame_seq == rooms[room_id] + 1:
                events.append(text)
                size += len(text)
                rooms[room_id] = frame_seq
            elif frame_seq > rooms[room_id] + 1:
                break  # a gap: the rest comes from the database, in a later answer
        if rooms[room_id] == seq and member[room_id] > seq:
            behind.append(room_id)
    for room in Room.objects.filter(pk__in=behind).order_by("pk"):
        if size >= PAGE_MAX_BYTES:
            break  # the rest in the next answer, which comes at once
        page = changes_page(room=room, since=rooms[room.pk], limit=100)
        text = encode({"type": "synced", **page})
        events.append(text)
        size += len(text)
        rooms[room.pk] = page["seq"]
    if live:
        events.extend(text for room_id, text in live.other_frames if room_id in member)
    answer.rooms = rooms
    return EventsAnswer(events, answer)


class EventsListener(PollListener):
    """The relay's events for one waiting poll: every room of the cursor, and the user."""

    waiting = 0  # the chat_event_polls_waiting gauge
    linger = LINGER_SECS

    def __init__(self, *, cursor: EventCursor, session_key: str, token_id: int | None) -> None:
        self.own_group = user_group(cursor.user_id)
        groups = [*map(room_group, cursor.rooms), self.own_group]
        super().__init__(groups=groups, session_key=session_key, token_id=token_id)
        self.cursor = cursor
        self.live = LiveFrames()

    async def relay_event(self, event: dict) -> None:
        kind = event.get("type")
        room_id = event.get("room_id")
        if kind == "chat.close":
            await super().relay_event(event)
        elif event.get("group") == self.own_group:
            self.arrived.set()  # one of the user's own events: read from the database
        elif kind == "chat.frame" and room_id in self.cursor.rooms:
            seq = event.get("seq")
            if seq is None:
                self.live.other_frames.append((room_id, event["frame"]))
                self.arrived.set()
            elif seq > self.cursor.rooms[room_id]:
                self.live.seq_frames.setdefault(room_id, []).append((seq, event["frame"]))
                self.arrived.set()


_clients_seen: dict[tuple[int, str], float] = {}


def fallback_clients() -> int:
    """Clients that long polled this replica in the last CLIENT_SEEN_SECS."""
    horizon = time.monotonic() - CLIENT_SEEN_SECS
    for key in [key for key, seen in _clients_seen.items() if seen < horizon]:
        del _clients_seen[key]
    return len(_clients_seen)


EVENT_POLLS_WAITING = Gauge(
    "chat_event_polls_waiting",
    "Long polls of GET /api/events (clients without a WebSocket) waiting on this replica.",
)
EVENT_POLLS_WAITING.set_function(lambda: EventsListener.waiting)
EVENT_POLL_CLIENTS = Gauge(
    "chat_event_poll_clients",
    "Clients (a session or a token) that long polled GET /api/events on this replica "
    "in the last minute: those without a WebSocket.",
)
EVENT_POLL_CLIENTS.set_function(fallback_clients)


def _client(session_key: str, token_id: int | None) -> str:
    return session_key or f"token:{token_id}"


@database_sync_to_async
def _cursor_now(*, user: AbstractBaseUser, client: str) -> EventCursor:
    poller_seen(user=user, client=client, wait_secs=0)
    return current_cursor(user=user)


@database_sync_to_async
def _first_read(
    *, user: AbstractBaseUser, cursor_text: str, slot: str, timeout: float, client: str
) -> tuple[EventCursor, EventsAnswer]:
    take_slot(user=user, slot=slot, timeout=timeout)
    poller_seen(user=user, client=client, wait_secs=timeout)
    cursor = EventCursor.decode(cursor_text, user_id=user.pk)
    return cursor, read_events(user=user, cursor=cursor)


@database_sync_to_async
def _read(
    *,
    user: AbstractBaseUser,
    cursor: EventCursor,
    live: LiveFrames | None = None,
    release_connection: bool = False,
) -> EventsAnswer:
    answer = read_events(user=user, cursor=cursor, live=live)
    if release_connection and not answer.events:
        release_connections()
    return answer


async def poll_events(
    *,
    user: AbstractBaseUser,
    cursor_text: str | None,
    timeout: float,
    session_key: str = "",
    token_id: int | None = None,
) -> EventsAnswer:
    """The frames after the cursor, waiting up to ``timeout`` for the first.

    Without a cursor: the current one at once, with no frames. Raises ClientError
    (invalid, rate_limited), CursorExpired and PollEnded.
    """
    client = _client(session_key, token_id)
    _clients_seen[(user.pk, client)] = time.monotonic()
    if not cursor_text:
        return EventsAnswer([], await _cursor_now(user=user, client=client))
    slot = uuid.uuid4().hex
    try:
        cursor, answer = await _first_read(
            user=user, cursor_text=cursor_text, slot=slot, timeout=timeout, client=client
        )
        if answer.events or timeout <= 0:
            return answer
        listener = EventsListener(cursor=answer.cursor, session_key=session_key, token_id=token_id)
        async with listener:
            answer = await _read(user=user, cursor=cursor, release_connection=True)
            if answer.events:
                return answer
            release_request_thread()
            await listener.wait(timeout)
        if listener.ended:
            raise PollEnded
        return await _read(user=user, cursor=cursor, live=listener.live)
    finally:
        if settings.CHAT_MAX_LONG_POLLS_PER_USER > 0:
            release = sync_to_async(free_slot, thread_sensitive=False)
            await asyncio.shield(release(user_id=user.pk, slot=slot))
