"""Per-socket delivery: each relay event reaches a socket in order, at most once, never while held.

realtime/relay.py hands every event of a socket's groups to its consumer, which
hands it to its SocketDelivery (one per socket). The delivery guarantees:

* Commands first. While a command runs (``serially``), events are held and
  delivered after the command's reply, in arrival order; events arriving while
  the held ones are delivered wait their turn. So ``hello`` comes first, and
  ``joined`` before the room's next live message, which is then dropped if the
  page already had it. (A consumer with a channel of its own gets this from
  Channels, which dispatches one message at a time.) A command waits on
  PostgreSQL for milliseconds; a socket whose commands hold back more than
  BACKLOG_MAX events gets none of them and is closed (CLOSE_TRY_AGAIN): its
  client reconnects and catches up, rather than missing some events and never
  learning of the gap.
* Once each. The room copy of a message the socket's own ``send`` was answered
  with is dropped (``acked``), and so are live copies of messages at or below
  the last id of a page the socket got (``sent_up_to``).
* Only its own. Events of rooms the socket does not listen to (``room_ids``)
  and events that exclude its ``conn_id`` (its own typing) are dropped.
* Nothing while held. While realtime.watchdog holds the socket (the channel layer
  may have lost messages), no ready frame is delivered: a later message would
  make its client's catch-up step over the gap.

Ready frames (``chat.frame``, serialised once by chat.events) are the hot path:
``forward`` makes no allocation per socket and sends the ASGI message the relay
built once for every local socket. The other events (a room added or removed,
a close) may wait on Redis, so they run in a task of their own, in order with
the socket's commands and held events.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from channels.consumer import get_handler_name

from chat import metrics
from project.done import DONE
from realtime import watchdog

# Relay events held while a command runs. A command waits on PostgreSQL for
# milliseconds; a socket whose commands hold back more than this is closed
# (CLOSE_TRY_AGAIN) and catches up, rather than queueing a busy room's events.
BACKLOG_MAX = 1000
# Ids of own messages acknowledged directly, whose room copy is still in flight.
ACKED_MAX = 256
# A server-side fault (Redis, PostgreSQL) ended the socket: reconnect with backoff.
# 4000 + 1013 ("try again later"): daphne only lets applications send 1000 or 3000-4999.
CLOSE_TRY_AGAIN = 4013
log = logging.getLogger(__name__)


class Socket(Protocol):
    """What a delivery needs of its consumer (besides a handler per event type that is
    not ``chat.frame``, e.g. ``chat_room_added``, and what realtime.watchdog.holding reads)."""

    base_send: Callable[[dict], Awaitable[None]]

    async def close(self, code: int | None = None) -> None: ...


class SocketDelivery:
    """The relay events of one socket: held while it runs a command, filtered, forwarded."""

    # Every socket has one, and most sockets are idle: no per-instance dict.
    __slots__ = (
        "socket",
        "conn_id",
        "room_ids",
        "sent_up_to",
        "acked",
        "busy",
        "backlog",
        "event_tasks",
        "overflowed",
    )

    def __init__(self, socket: Socket, *, conn_id: str) -> None:
        self.socket = socket
        # Excluded by the events this socket caused itself (its typing).
        self.conn_id = conn_id
        # Each bounded:
        # room_ids: rooms whose events are delivered (added once a join succeeded,
        # dropped on leave/removal): at most the user's memberships.
        self.room_ids: set[int] = set()
        # sent_up_to: the last message id of a page sent, per room; keys are always
        # in room_ids (dropped with the room).
        self.sent_up_to: dict[int, int] = {}
        # acked: at most ACKED_MAX ids (cleared when full). A dict: 64 bytes empty, a set 216.
        self.acked: dict[int, None] = {}
        # Commands (and drains of held events) running: events wait while above 0.
        self.busy = 0
        # Built when first needed: most sockets are idle, and each costs memory per socket.
        # backlog: at most BACKLOG_MAX events (shared with the other local sockets);
        # one more closes the socket.
        self.backlog: deque[dict] | None = None
        # event_tasks: user events (room added/removed, close) being handled, each
        # one subscribe or close long; they arrive at a person's pace.
        self.event_tasks: set[asyncio.Task] | None = None
        # Set once the backlog overflowed: every later event is dropped until the close.
        self.overflowed = False

    # What the socket has and listens to
    # --------------------------------------------------------------------------

    def add_room(self, room_id: int) -> bool:
        """Deliver the room's events from now on; False if they already were."""
        if room_id in self.room_ids:
            return False
        self.room_ids.add(room_id)
        return True

    def discard_room(self, room_id: int) -> bool:
        """Deliver none of the room's events any more; False if none were."""
        if room_id not in self.room_ids:
            return False
        self.room_ids.discard(room_id)
        self.sent_up_to.pop(room_id, None)
        return True

    def note_acked(self, message_id: int) -> None:
        """The socket's own message was answered to it directly: drop its room copy once."""
        if len(self.acked) >= ACKED_MAX:
            self.acked.clear()
        self.acked[message_id] = None

    def note_page(self, room_id: int, messages: list[dict]) -> None:
        """Live copies of messages already sent in a page are dropped (ids commit in order)."""
        if messages:
            self.sent_up_to[room_id] = max(self.sent_up_to.get(room_id, 0), messages[-1]["id"])

    def holding(self) -> bool:
        """Whether realtime.watchdog holds this socket's room frames back (see its docstring)."""
        return watchdog.holding(self.socket)

    # Ordering: one event at a time, never in the middle of a command
    # --------------------------------------------------------------------------

    def relay_event(self, event: dict) -> Awaitable[None]:
        """Deliver one event of the socket's groups now, or after the running command.

        Not a coroutine: a ready frame is sent (handed to the transport) before this
        returns, and what it returns is the send's own awaitable, so the relay's loop
        over a room's sockets creates no coroutine per socket on the hot path.
        """
        if self.overflowed:
            return DONE
        if self.busy:
            if self.backlog is None:
                self.backlog = deque()
            elif len(self.backlog) >= BACKLOG_MAX:
                return self._overflow()
            self.backlog.append(event)
            return DONE
        if event["type"] == "chat.frame":
            return self.forward(event)  # never waits but on the socket's send
        # May wait on Redis (subscribing): not in the relay's task, which serves
        # every socket of the process.
        task = asyncio.get_running_loop().create_task(self.serially(self._handle(event)))
        if self.event_tasks is None:
            self.event_tasks = set()
        self.event_tasks.add(task)
        task.add_done_callback(self.event_tasks.discard)
        return DONE

    async def serially(self, work: Awaitable[None]) -> None:
        """Run ``work`` (a command) with relay events held, then deliver what arrived meanwhile."""
        self.busy += 1
        try:
            await work
        finally:
            self.busy -= 1
            if not self.busy:
                await self._drain()

    async def _drain(self) -> None:
        self.busy += 1  # what arrives while a held event is handled waits its turn
        try:
            while self.backlog and not self.overflowed:
                await self._handle(self.backlog.popleft())
            self.backlog = None
        finally:
            self.busy -= 1

    async def _handle(self, event: dict) -> None:
        try:
            if event["type"] == "chat.frame":
                await self.forward(event)  # the send's awaitable
            else:
                await getattr(self.socket, get_handler_name(event))(event)
        except Exception:
            log.exception("socket event handler failed; closing the socket")
            await self.socket.close(code=CLOSE_TRY_AGAIN)

    def _overflow(self) -> Awaitable[None]:
        """Too many events held: drop them all and close; the client reconnects and catches up.

        Delivering some and not others would leave a gap its client never learns of.
        """
        self.overflowed = True
        self.backlog.clear()
        log.warning("socket backlog full; closing it so the client catches up")
        return self.socket.close(code=CLOSE_TRY_AGAIN)

    # Forwarding ready frames (the hot path)
    # --------------------------------------------------------------------------

    def forward(self, event: dict) -> Awaitable[None]:
        """Send a frame serialised once by chat.events, unless this socket has it already
        or must not get it; returns the send's awaitable (the frame is already handed
        to the transport on daphne, project/server/framing.py)."""
        if watchdog.holding(self.socket):
            return DONE  # the layer lost messages: this socket is recycled and catches up
        room_id = event.get("room_id")
        if room_id is not None:
            if room_id not in self.room_ids:
                return DONE
            message_id = event.get("message_id")
            if message_id:
                if message_id in self.acked:
                    del self.acked[message_id]
                    return DONE
                if message_id <= self.sent_up_to.get(room_id, 0):
                    return DONE
        if event.get("exclude") == self.conn_id:
            return DONE
        # The relay hands one event dict to every local socket: its ASGI message is
        # built once too, and sent without the two wrappers of the consumer's send().
        message = event.get("websocket_send")
        if message is None:
            message = event["websocket_send"] = {"type": "websocket.send", "text": event["frame"]}
        sending = self.socket.base_send(message)
        sent_at = event.get("sent_at")
        if sent_at:
            metrics.delivered(sent_at)
        return sending
