"""Long polling: wait for a room's next message from any replica, holding nothing.

A poll answers at once when messages newer than the cursor exist. Otherwise it
listens to the room on this process' relay (chat/relay.py: the process joins
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
"""

import asyncio
import contextlib
from dataclasses import dataclass

from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections

from chat import selectors
from chat.groups import room_group
from chat.models import Room
from chat.relay import relay

# Under the 60 s idle timeout of common proxies and load balancers (nginx's
# proxy_read_timeout, AWS ALB), with room for a slow response.
POLL_MAX_TIMEOUT_SECS = 30
# A little under the maximum, so a client's own 30 s timeout never fires first.
POLL_DEFAULT_TIMEOUT_SECS = 25


@dataclass(frozen=True, slots=True)
class PollPage:
    messages: list[dict]
    has_more: bool
    cursor: int

    def as_payload(self) -> dict:
        return {"messages": self.messages, "has_more": self.has_more, "cursor": self.cursor}


def _page(*, room: Room, after: int) -> PollPage:
    messages, has_more = selectors.messages_page(
        room=room, after=after, limit=settings.CHAT_HISTORY_MAX_PAGE_SIZE
    )
    payload = [selectors.message_payload(m) for m in messages]
    return PollPage(payload, has_more, payload[-1]["id"] if payload else after)


@database_sync_to_async
def _first_read(*, user: AbstractBaseUser, slug: str, after: int | None) -> tuple[Room, PollPage]:
    room = selectors.room_for_user(user=user, slug=slug)
    return room, _page(room=room, after=room.last_message_id if after is None else after)


@database_sync_to_async
def _read(*, room: Room, after: int, release_connection: bool = False) -> PollPage:
    page = _page(room=room, after=after)
    if release_connection and not page.messages:
        _release_connections()
    return page


def _release_connections() -> None:
    """Close this thread's connections before a wait (CONN_MAX_AGE would keep them open).

    Inside an atomic block (a test's transaction) there is nothing to release.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def _release_request_thread() -> None:
    """Let the request's thread exit while the poll waits; a new one serves the rest.

    Django runs each ASGI request in a ThreadSensitiveContext whose one-thread
    executor, started by the request_started signal, otherwise stays parked
    until the response is sent: one OS thread per waiting poll. Dropping the
    executor from asgiref's map makes the next thread-sensitive call start a
    fresh one. Contexts that bring their own executor are left alone, and so is
    everything if asgiref stops keeping executors this way.
    """
    context_var = getattr(SyncToAsync, "thread_sensitive_context", None)
    executors = getattr(SyncToAsync, "context_to_thread_executor", None)
    context = context_var.get(None) if context_var is not None else None
    if context is None or executors is None or getattr(context, "_executor", None) is not None:
        return
    executor = executors.pop(context, None)
    if executor is not None:
        executor.shutdown(wait=False)


class RoomListener:
    """A room's events on this process' relay, watched for messages newer than a cursor."""

    waiting = 0  # listeners open in this process (the chat_long_polls_waiting gauge)

    def __init__(self, *, room_id: int, after: int) -> None:
        self.group = room_group(room_id)
        self.after = after
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> "RoomListener":
        self.relay = relay()
        await self.relay.listen(self.group, self)
        RoomListener.waiting += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        RoomListener.waiting -= 1
        await self.relay.unlisten(self.group, self)

    async def relay_event(self, event: dict) -> None:
        """Called by chat.relay with each of the room's events."""
        if event.get("type") == "chat.frame" and (event.get("message_id") or 0) > self.after:
            self.arrived.set()

    async def close_after_fault(self) -> None:
        self.arrived.set()  # the caller re-reads the database either way

    async def wait(self, timeout: float) -> None:
        """Until a newer message arrives or the timeout passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)


async def poll(*, user: AbstractBaseUser, slug: str, after: int | None, timeout: float) -> PollPage:
    """Messages after the cursor (or after the newest, if None), waiting up to `timeout`."""
    room, page = await _first_read(user=user, slug=slug, after=after)
    if page.messages or timeout <= 0:
        return page
    async with RoomListener(room_id=room.pk, after=page.cursor) as listener:
        page = await _read(room=room, after=page.cursor, release_connection=True)
        if page.messages:
            return page
        _release_request_thread()
        await listener.wait(timeout)
    return await _read(room=room, after=page.cursor)
