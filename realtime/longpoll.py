"""Long polling: wait for a room's next message from any replica, holding nothing.

A poll answers at once when messages newer than the cursor exist. Otherwise it
listens to the room on this process' relay (realtime/relay.py: the process joins
the room's channel-layer group unless a local socket already has), then reads the
database once more (a message committed between the first read and the
subscription is found by that second read; one committed after it wakes the
wait), then waits. While it waits, the request holds no database connection
and no worker thread: only a coroutine and a place in the relay, woken
by the ``chat.frame`` event services send on every replica after a message
commits.

After waking, messages are re-read from the database by cursor, never taken
from the event: ids commit in id order per room (``message_post`` locks the
room row), so ``id > after`` never steps over a message that committed late,
and a client that always passes the last id it has sees every message once.

Every read, the ones after waking included, goes through the same access rule
(``selectors.room_for_user``): a member removed while the poll waits gets the
404 of a room they cannot see, never the message posted after. The poll also
listens to the user's own events, so ``room_removed`` ends it at once, and a
``chat.close`` for its session or token (logout, a new password, a revoked
token, deactivation) ends it with a 401.

Polls per user are capped across replicas (CHAT_MAX_LONG_POLLS_PER_USER): each
holds a slot in Redis (chat/presence.py) from its first read to its answer,
released however it ends; a slot left by a killed replica expires on its own.
"""

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Self

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections
from prometheus_client import Gauge

from chat import presence, selectors
from chat.errors import ClientError
from chat.groups import room_group, user_group
from chat.models import Room
from project import compat
from realtime.relay import relay

# Under the 60 s idle timeout of common proxies and load balancers (nginx's
# proxy_read_timeout, AWS ALB), with room for a slow response.
POLL_MAX_TIMEOUT_SECS = 30
# A little under the maximum, so a client's own 30 s timeout never fires first.
POLL_DEFAULT_TIMEOUT_SECS = 25
# A poll's slot outlives its wait by this much (the reads around it), then expires
# by itself: a replica killed mid-poll locks its users out for at most this long more.
POLL_SLOT_GRACE_SECS = 30


class PollEnded(Exception):
    """The poll's session or token ended while it waited (the API answers 401)."""


@dataclass(frozen=True, slots=True)
class PollPage:
    messages: list[dict]
    has_more: bool
    cursor: int

    def as_payload(self) -> dict:
        return {"messages": self.messages, "has_more": self.has_more, "cursor": self.cursor}


def _page(*, room: Room, after: int) -> PollPage:
    # Every new message, roots and replies alike (each says its `thread`).
    messages, has_more = selectors.messages_page(
        room=room, after=after, limit=settings.CHAT_HISTORY_MAX_PAGE_SIZE, roots_only=False
    )
    payload = [selectors.message_payload(m) for m in messages]
    return PollPage(payload, has_more, payload[-1]["id"] if payload else after)


@database_sync_to_async
def _first_read(
    *, user: AbstractBaseUser, slug: str, after: int | None, slot: str, timeout: float
) -> tuple[Room, PollPage]:
    take_slot(user=user, slot=slot, timeout=timeout)
    room = selectors.room_for_user(user=user, slug=slug)
    return room, _page(room=room, after=room.last_message_id if after is None else after)


@database_sync_to_async
def _read(
    *, user: AbstractBaseUser, slug: str, after: int, release_connection: bool = False
) -> PollPage:
    """The page after the cursor, if the user may still read the room (else not_found)."""
    room = selectors.room_for_user(user=user, slug=slug)
    page = _page(room=room, after=after)
    if release_connection and not page.messages:
        release_connections()
    return page


def take_slot(*, user: AbstractBaseUser, slot: str, timeout: float) -> None:
    limit = settings.CHAT_MAX_LONG_POLLS_PER_USER
    if limit <= 0:
        return
    ttl = timeout + POLL_SLOT_GRACE_SECS
    if not presence.backend().poll_slot_take(user.pk, slot, limit=limit, ttl=ttl):
        raise ClientError(
            "rate_limited",
            f"At most {limit} long polls per user may wait at once; "
            "let one answer before opening another.",
        )


def free_slot(*, user_id: int, slot: str) -> None:
    presence.backend().poll_slot_free(user_id, slot)


def release_connections() -> None:
    """Close this thread's connections before a wait (CONN_MAX_AGE would keep them open).

    Inside an atomic block (a test's transaction) there is nothing to release.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def release_request_thread() -> None:
    """Let the request's thread exit while the poll waits; a new one serves the rest.

    Without it each waiting poll parks one OS thread (its request's
    thread-sensitive executor) until it answers: project/compat.py holds the
    asgiref internals this takes, checked at start-up.
    """
    compat.release_thread_sensitive_executor()


class PollListener:
    """What every waiting poll does on this process' relay: listen to its groups, wake
    on the events its subclass picks (``relay_event``), end with the session or token.

    ``waiting`` counts each subclass' listeners open in this process (the gauges).
    """

    waiting = 0
    linger = 0.0  # after waking, wait this long for the events right behind the first

    def __init__(self, *, groups: list[str], session_key: str, token_id: int | None) -> None:
        self.groups = groups
        self.session_key = session_key
        self.token_id = token_id
        self.ended = False
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> Self:
        self.relay = relay()
        try:
            await asyncio.gather(*(self.relay.listen(group, self) for group in self.groups))
        except BaseException:
            await self._unlisten()
            raise
        type(self).waiting += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        type(self).waiting -= 1
        await self._unlisten()

    async def _unlisten(self) -> None:
        await asyncio.gather(*(self.relay.unlisten(group, self) for group in self.groups))

    async def relay_event(self, event: dict) -> None:
        """Called by realtime.relay with each event of the listener's groups."""
        if event.get("type") == "chat.close" and self._closes_me(event):
            self.ended = True
            self.arrived.set()

    def _closes_me(self, event: dict) -> bool:
        """The same filters as ChatConsumer.chat_close: a session's, a token's, or all."""
        session_key, token_id = event.get("session_key"), event.get("token_id")
        if session_key and session_key != self.session_key:
            return False
        return not (token_id and token_id != self.token_id)

    async def close_after_fault(self) -> None:
        self.arrived.set()  # the caller re-reads the database either way

    async def wait(self, timeout: float) -> None:
        """Until something arrives (and, with ``linger``, what is right behind it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)
            if self.linger:
                await asyncio.sleep(self.linger)


class RoomListener(PollListener):
    """A room's events, and the user's, for one waiting per-room poll.

    It wakes for a message newer than the cursor, for the user's removal from
    the room, and for the end of the poll's session or token (``ended``).
    """

    waiting = 0  # the chat_long_polls_waiting gauge

    def __init__(
        self,
        *,
        room_id: int,
        user_id: int,
        after: int,
        session_key: str = "",
        token_id: int | None = None,
    ) -> None:
        groups = [room_group(room_id), user_group(user_id)]
        super().__init__(groups=groups, session_key=session_key, token_id=token_id)
        self.room_id = room_id
        self.after = after

    async def relay_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "chat.frame":
            if (event.get("message_id") or 0) > self.after:
                self.arrived.set()
        elif kind == "chat.room_removed":
            if event.get("room_id") == self.room_id:
                self.arrived.set()  # the read after waking answers not_found
        else:
            await super().relay_event(event)


LONG_POLLS_WAITING = Gauge(
    "chat_long_polls_waiting", "Long polls of this replica waiting for a room's next message."
)
LONG_POLLS_WAITING.set_function(lambda: RoomListener.waiting)


async def poll(
    *,
    user: AbstractBaseUser,
    slug: str,
    after: int | None,
    timeout: float,
    session_key: str = "",
    token_id: int | None = None,
) -> PollPage:
    """Messages after the cursor (or after the newest, if None), waiting up to `timeout`.

    Raises ClientError (not_found, rate_limited) and PollEnded.
    """
    slot = uuid.uuid4().hex
    try:
        return await _poll(
            user=user,
            slug=slug,
            after=after,
            timeout=timeout,
            slot=slot,
            session_key=session_key,
            token_id=token_id,
        )
    finally:
        # However the poll ends (an answer, the timeout, the client gone, an error),
        # shielded so that a cancelled request still frees its slot.
        if settings.CHAT_MAX_LONG_POLLS_PER_USER > 0:
            release = sync_to_async(free_slot, thread_sensitive=False)
            await asyncio.shield(release(user_id=user.pk, slot=slot))


async def _poll(
    *,
    user: AbstractBaseUser,
    slug: str,
    after: int | None,
    timeout: float,
    slot: str,
    session_key: str,
    token_id: int | None,
) -> PollPage:
    room, page = await _first_read(user=user, slug=slug, after=after, slot=slot, timeout=timeout)
    if page.messages or timeout <= 0:
        return page
    listener = RoomListener(
        room_id=room.pk,
        user_id=user.pk,
        after=page.cursor,
        session_key=session_key,
        token_id=token_id,
    )
    async with listener:
        page = await _read(user=user, slug=slug, after=page.cursor, release_connection=True)
        if page.messages:
            return page
        release_request_thread()
        await listener.wait(timeout)
    if listener.ended:
        raise PollEnded
    return await _read(user=user, slug=slug, after=page.cursor)
