"""Per-replica fan-out: one channel-layer channel per process, not one per socket.

The Channels way gives every socket a channel of its own and adds it to each
group it listens to, so a message to a room of N members is N deliveries
through the layer: N queue puts (N Redis channel names carried by every
``group_send`` on RedisChannelLayer), N task wake-ups and N ``dispatch`` calls,
and every idle socket keeps a channel, a queue and a pending ``receive()``.

Here each process has one relay per event loop. It joins a group (a room, a
user) while at least one of its local sockets listens to it, receives each
event once, and hands it to the ``relay_event`` of each local socket in that
group (which keeps each socket's events in order, see realtime/delivery.py). Sockets
have no channel of their own. Measured with ``bench/`` (rooms of 50): about 30% more
deliveries per server CPU-second and a third of the p99 at 1,000 deliveries/s
(bench/README.md).

Group joins and leaves of one group run one after the other (RedisChannelLayer
sends them on pooled connections that could otherwise reorder a leave after
the next join, leaving the process deaf to that group). A socket's ``listen``
returns only once the process is in the group, so callers can still
"subscribe before reading state".
"""

import asyncio
import contextlib
import contextvars
import logging
import weakref

from channels.layers import get_channel_layer
from prometheus_client import Gauge

from realtime import watchdog

log = logging.getLogger(__name__)

# A layer that fails to receive (Redis away) is retried this often; the
# watchdog meanwhile holds room frames and recycles the sockets once it is back.
# Every event received is reported to it (watchdog.heard): a probe behind a
# backlog that keeps moving is late, not lost.
RECEIVE_RETRY_SECS = 0.5
# Group joins and leaves in flight at once. Each takes a pooled Redis connection
# (RedisChannelLayer), and the pool refuses past its size: when 2,000 sockets
# closed at once, 2,566 leaves failed with "Too many connections", their groups
# stayed joined, and the watchdog's probe failed with them (bench run of 61f3c0a).
GROUP_CHANGES_AT_ONCE = 32


class Relay:
    """The fan-out of one process (one event loop): see the module docstring."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set] = {}  # group -> local sockets listening to it
        self.pending: dict[str, asyncio.Task] = {}  # group -> its last join/leave in flight
        self.task: asyncio.Task | None = None
        # The one creation of the channel, shared by every caller that arrives while
        # it runs: two first joins at once must not each bind a channel of their own.
        self.channel_task: asyncio.Task | None = None
        self.changes_at_once = asyncio.Semaphore(GROUP_CHANGES_AT_ONCE)

    # Membership
    # --------------------------------------------------------------------------

    async def listen(self, group: str, socket) -> None:
        """Deliver the group's events to ``socket`` from now on (raises if the join failed)."""
        members = self.members.get(group)
        if members is None:
            members = self.members[group] = {socket}
            self._change(group, members, join=True)
        else:
            members.add(socket)
        pending = self.pending.get(group)
        if pending is not None:
            await asyncio.shield(pending)

    async def unlisten(self, group: str, socket) -> None:
        """Stop delivering the group's events to ``socket``; leave it if nobody local is left."""
        members = self.members.get(group)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if not members:
            del self.members[group]
            await asyncio.shield(self._change(group, members, join=False))

    def listening(self, group: str) -> int:
        """How many local sockets listen to the group."""
        return len(self.members.get(group, ()))

    def _change(self, group: str, members: set, *, join: bool) -> asyncio.Task:
        previous = self.pending.get(group)
        task = asyncio.get_running_loop().create_task(self._run_change(previous, group, join))
        self.pending[group] = task
        task.add_done_callback(lambda done: self._changed(group, members, join, done))
        return task

    async def _run_change(self, previous: asyncio.Task | None, group: str, join: bool) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        channel = await self._channel()
        # Taken after the group's previous change is done: a change holding a slot
        # never waits for one that is still waiting for a slot.
        async with self.changes_at_once:
            if join:
                await self.layer.group_add(group, channel)
            else:
                await self.layer.group_discard(group, channel)

    def _changed(self, group: str, members: set, join: bool, task: asyncio.Task) -> None:
        if self.pending.get(group) is task:
            del self.pending[group]
        if task.cancelled() or task.exception() is None:
            return
        log.warning(
            "%s %s failed", "joining" if join else "leaving", group, exc_info=task.exception()
        )
        if join and self.members.get(group) is members:
            # Every socket in this set is waiting in listen() and gets the error
            # (its consumer closes, the client retries); the next listener joins afresh.
            del self.members[group]

    # Delivery
    # --------------------------------------------------------------------------

    async def _channel(self) -> str:
        if self.channel_task is None:
            self.channel_task = asyncio.get_running_loop().create_task(
                self._new_channel(), context=contextvars.Context()
            )
        try:
            return await asyncio.shield(self.channel_task)
        except Exception:
            self.channel_task = None  # failed (Redis away): the next join tries again
            raise

    async def _new_channel(self) -> str:
        self.channel = await self.layer.new_channel()
        # A context of its own: the task must not carry the first socket's log ids.
        self.task = asyncio.get_running_loop().create_task(
            self._pump(), context=contextvars.Context()
        )
        return self.channel

    async def _pump(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except Exception:
                log.warning("relay receive failed; retrying", exc_info=True)
                await asyncio.sleep(RECEIVE_RETRY_SECS)
                continue
            watchdog.heard(event)
            await self.deliver(event)

    async def deliver(self, event: dict) -> None:
        """Hand one event to every local socket of its group."""
        for socket in tuple(self.members.get(event.get("group", ""), ())):
            try:
                await socket.relay_event(event)
            except Exception:
                # What a consumer's own dispatch failing would have done: end that
                # socket (its client reconnects and catches up), never the relay.
                log.exception("socket event handler failed; closing the socket")
                with contextlib.suppress(Exception):
                    await socket.close_after_fault()


_relays: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Relay]" = weakref.WeakKeyDictionary()


def relay() -> Relay:
    """This event loop's relay (one per process under daphne; one per test loop in tests)."""
    loop = asyncio.get_running_loop()
    found = _relays.get(loop)
    if found is None:
        found = _relays[loop] = Relay(get_channel_layer())
    return found


def groups_joined() -> int:
    """Groups with a local listener, over every relay of the process."""
    return sum(len(found.members) for found in list(_relays.values()))


RELAY_GROUPS = Gauge(
    "chat_relay_groups",
    "Channel-layer groups (rooms, users) this replica's relay is in (those with a local listener).",
)
RELAY_GROUPS.set_function(groups_joined)
