"""The channel-layer watchdog: a replica notices when its layer may have lost messages.

Live delivery goes through Redis. When Redis restarts, everything it held is
gone: the core layer's group memberships, and the pub/sub layer's
subscriptions, which channels_redis only restores after a reconnect delay.
When Redis pauses or a connection drops, messages published meanwhile never
reach this replica. Its sockets stay open, but they would be deaf to whatever
was published in the gap, and nothing tells their clients to catch up.

So every replica probes its own layer: once a second it publishes to a group
only it belongs to and waits for the message to come back, and it watches
Redis' ``run_id`` (which changes on every restart); it also hears at once when
the pub/sub layer's connection breaks. From the first sign of loss until the
layer works again, no room frame is delivered on this replica: a socket that
had missed some messages must not get later ones, or its client's
``history after=<last id>`` would step over the gap. Once a probe goes round
again, every socket open meanwhile is closed with 4012 (1012, "service
restart"); clients reconnect, subscribe afresh and catch up from the last id
they got before the gap (tests/faults/test_redis_outage.py).

A busy replica is not a lost layer (issue 18). The probe travels the same
path as the replica's fan-out (the core layer's inbox list, the pub/sub
layer's one connection to the server), so behind a backlog of thousands of
events it arrives late, and recycling every socket then would start a
reconnect storm against a replica that is already overloaded. So a late probe
counts as lost only if its path stalled: nothing came through it (``heard``,
from the relay) for a whole ``PROBE_TIMEOUT_SECS``. While events keep coming,
the probe is behind them in a FIFO and not lost, and the watchdog keeps
waiting, checking the server's ``run_id`` every timeout meanwhile. That still
hears every way the layer loses messages: a restart or failover (``run_id``,
at once), a pause or a dead connection (the path stalls), a broken pub/sub
connection (its log line, at once; without the line, the probe lost with the
connection counts once it waited ``BACKLOG_MAX_SECS``), the core layer
dropping events over capacity (its own log line, project/compat.py) or by age:
a probe that waited ``BACKLOG_MAX_SECS`` counts as lost, and since the next
probe leaves as soon as one returns, no event waits longer than about twice
that, below the core layer's 60 s expiry (tests/faults/test_watchdog_busy.py).
A replica's own event loop frozen longer than the timeout (SIGSTOP, a VM
pause) still counts as a stall: its clients catch up, which is harmless.

With several Redis servers (REDIS_URL names shards, channels-redis hashes each
group to one of them) the watchdog probes each server on its own: a group that
hashes to it, its own ``run_id``. A lost server quarantines and then recycles
only the sockets that depend on it: those listening to a group that hashes
there (their rooms, their user group), and on the list-based (core) layer every
socket of a replica whose inbox (the relay's channel) lives there. The other
sockets keep receiving (tests/replicas/test_redis_shards.py). Through Sentinel,
a failover is a new server (``run_id``): the same recycling covers what the
old master took with it (tests/faults/test_sentinel_failover.py).
"""

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import Counter as Tally
from functools import cache

from channels.layers import get_channel_layer
from channels_redis.utils import _consistent_hash
from django.conf import settings
from prometheus_client import Counter

from chat.groups import group_shard, pubsub_layer, room_group, shard_count, user_group
from project import compat

log = logging.getLogger(__name__)

# One probe a second costs a publish and a tiny INFO per replica and Redis
# server, and bounds how long a socket stays deaf after Redis comes back to
# about two seconds.
PROBE_INTERVAL_SECS = 1.0
# A probe whose path carried nothing for this long counts as lost. Generous on
# purpose: an event loop busy for a moment must not make every client reconnect.
PROBE_TIMEOUT_SECS = settings.CHAT_WATCHDOG_PROBE_TIMEOUT_SECS
# A probe still behind a moving backlog after this long counts as lost: a third
# of the core layer's 60 s message expiry (see the module docstring).
BACKLOG_MAX_SECS = 20.0
# The client should reconnect (and catch up) at once: 4000 + 1012 ("service
# restart"), since daphne only lets applications send 1000 or 3000-4999.
CLOSE_LAYER_LOST = 4012

LAYER_RECOVERIES = Counter(
    "chat_channel_layer_recoveries",
    "Times a Redis server of this replica's channel layer lost messages and came back "
    "(sockets depending on it were recycled).",
)
SOCKETS_RECYCLED = Counter(
    "chat_sockets_recycled",
    "Sockets closed with 4012 after a channel-layer outage, so their clients catch up.",
)

# The live consumers of this process (weak: a consumer that crashed is not kept).
_sockets: weakref.WeakSet = weakref.WeakSet()
_task: asyncio.Task | None = None
# Indexes (into REDIS_URL's servers) of the shards that lost messages, from the
# first sign until the sockets depending on them are recycled.
lost: set[int] = set()
# Events the relay received, by the path they came through (see _path).
_heard: Tally = Tally()


# Which shard a group, a channel, a socket depends on
# ------------------------------------------------------------------------------


def channel_shard(channel: str) -> int:
    """The server a channel's messages go through (pub/sub: its subscription)."""
    if pubsub_layer():
        return _consistent_hash(channel, shard_count())
    return _consistent_hash(channel[: channel.find("!") + 1] or channel, shard_count())


@cache
def _inbox_shard() -> int:
    """List-based layer: the server every process-specific channel of this process is on."""
    return _consistent_hash(f"specific.{get_channel_layer().client_prefix}!", shard_count())


def socket_shards(consumer) -> set[int]:
    """The servers a socket misses messages with when they fail."""
    user = getattr(consumer, "user", None)
    groups = [room_group(room_id) for room_id in getattr(consumer, "room_ids", ())]
    if user is not None:
        groups.append(user_group(user.pk))
    shards = {group_shard(group) for group in groups}
    if not pubsub_layer() and shard_count() > 1:
        shards.add(_inbox_shard())
    return shards


def holding(consumer) -> bool:
    """Whether room frames for this socket are held back (see the module docstring)."""
    if getattr(consumer, "layer_stale", False):
        return True
    if not lost:
        return False
    return shard_count() == 1 or bool(lost & socket_shards(consumer))


def mark_lost(reason: str, shard: int | None = None) -> None:
    """Stop delivering room frames that depend on ``shard`` (None: every server) until the
    watchdog has recycled the sockets depending on it."""
    shards = set(range(shard_count())) if shard is None else {shard}
    if not shards <= lost:
        log.warning(
            "channel layer lost (%s) on Redis %s; holding room frames until it is back",
            reason,
            ", ".join(_describe(index) for index in sorted(shards - lost)),
        )
    lost.update(shards)


def _describe(index: int) -> str:
    servers = settings.REDIS_SERVERS
    return servers[index].describe() if index < len(servers) else str(index)


def _pubsub_connection_broken(shard: int | None) -> None:
    """channels_redis reports a broken pub/sub connection only in a log line; act on it.

    Its receiver reconnects (and resubscribes) a second later, while other
    replicas may already publish again: the quarantine must start now, for the
    shard whose connection broke (project/compat.py reads the line).
    """
    mark_lost("pub/sub connection broken", shard)


compat.watch_receive_failures(_pubsub_connection_broken)


def _path(shard: int) -> int:
    """Where a probe of ``shard`` travels with the fan-out: the pub/sub layer's
    connection to that server, the core layer's inbox (on one server for all)."""
    if shard_count() == 1:
        return 0
    return shard if pubsub_layer() else _inbox_shard()


def heard(event: dict) -> None:
    """The relay received ``event``: its path is moving (a late probe is not lost)."""
    if shard_count() == 1:
        _heard[0] += 1
    elif pubsub_layer():
        _heard[group_shard(event.get("group", ""))] += 1
    else:
        _heard[_inbox_shard()] += 1


def register(consumer) -> None:
    _sockets.add(consumer)


def unregister(consumer) -> None:
    _sockets.discard(consumer)


def ensure_running() -> None:
    """Start this process' watchdog on the running loop (once; only with Redis)."""
    global _task
    if not settings.REDIS_URL:
        return  # the in-memory layer lives and dies with the process
    loop = asyncio.get_running_loop()
    if _task is None or _task.done() or _task.get_loop() is not loop:
        _task = loop.create_task(Watchdog().run())


def _name_on(shard: int, make, where) -> str:
    """A fresh random name that channels-redis puts on ``shard``."""
    while True:
        name = make(uuid.uuid4().hex)
        if where(name) == shard:
            return name


class ShardProbe:
    """The probe of one Redis server: a group (and, pub/sub, a channel) hashed to it."""

    def __init__(self, layer, index: int) -> None:
        self.layer = layer
        self.index = index
        self.server = settings.REDIS_SERVERS[index]
        self.redis = self.server.async_client(
            socket_timeout=PROBE_TIMEOUT_SECS, socket_connect_timeout=PROBE_TIMEOUT_SECS
        )
        self.channel: str | None = None
        self.group = self._new_group()
        self.seq = 0
        self.run_id: str | None = None

    def _new_group(self) -> str:
        return _name_on(self.index, lambda tag: f"watchdog.{tag}", group_shard)

    async def _new_channel(self) -> str:
        if not pubsub_layer() or shard_count() == 1:
            return await self.layer.new_channel()
        # A pub/sub channel is subscribed on the server its name hashes to: on
        # this one, so that another server's outage cannot fail this probe.
        loop_layer = self.layer._get_layer()
        name = _name_on(self.index, lambda tag: f"{loop_layer.prefix}specific.{tag}", channel_shard)
        try:
            await loop_layer._subscribe_to_channel(name)
        except BaseException:
            loop_layer.channels.pop(name, None)
            raise
        return name

    async def same_server(self) -> bool:
        """False once the server restarted or failed over (its ``run_id`` changed)."""
        run_id = (await self.redis.info("server"))["run_id"]
        if self.run_id is not None and run_id != self.run_id:
            log.warning(
                "Redis %s restarted or failed over (run_id changed); "
                "its groups and subscriptions are gone",
                self.server.describe(),
            )
            self.run_id = run_id
            return False
        self.run_id = run_id
        return True

    async def probe(self) -> bool:
        """True if the server is the same as before and a message went round."""
        if not await self.same_server():
            return False
        if self.channel is None:
            self.channel = await self._new_channel()
            await self.layer.group_add(self.group, self.channel)
        self.seq += 1
        path = _path(self.index)
        moved = _heard[path]
        await asyncio.wait_for(
            self.layer.group_send(self.group, {"type": "watchdog.probe", "seq": self.seq}),
            PROBE_TIMEOUT_SECS,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = loop.create_task(self._answer(self.seq))
        try:
            while not (await asyncio.wait({answer}, timeout=PROBE_TIMEOUT_SECS))[0]:
                if _heard[path] == moved:
                    return False  # nothing came through its path: stalled, not busy
                moved = _heard[path]
                if loop.time() - started > BACKLOG_MAX_SECS or not await self.same_server():
                    return False
            return answer.result()
        finally:
            answer.cancel()

    async def _answer(self, seq: int) -> bool:
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("seq") == seq:
                return True  # an answer to an earlier, timed-out probe is skipped

    async def check(self) -> bool:
        try:
            limit = BACKLOG_MAX_SECS + PROBE_TIMEOUT_SECS * 3
            return await asyncio.wait_for(self.probe(), limit)
        except Exception:
            return False

    async def forget(self) -> None:
        """Start the next probe on a fresh channel and group (the old ones may be gone)."""
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.layer.group_discard(self.group, self.channel), PROBE_TIMEOUT_SECS
                )
        self.channel = None
        self.group = self._new_group()


class Watchdog:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.probes = [ShardProbe(self.layer, index) for index in range(shard_count())]

    async def run(self) -> None:
        while True:
            results = await asyncio.gather(*(probe.check() for probe in self.probes))
            back = []
            for probe, healthy in zip(self.probes, results, strict=True):
                if not healthy:
                    await probe.forget()
                    mark_lost("probe failed", probe.index)
                elif probe.index in lost:
                    back.append(probe.index)
            if back:
                await self.recycle_sockets(set(back))
            await asyncio.sleep(PROBE_INTERVAL_SECS)

    async def recycle_sockets(self, shards: set[int]) -> None:
        """Close every socket that depends on ``shards``: its client reconnects and catches up."""
        consumers = [
            consumer
            for consumer in list(_sockets)
            if shard_count() == 1 or socket_shards(consumer) & shards
        ]
        for consumer in consumers:
            consumer.layer_stale = True  # held until closed, even once the layer is back
        lost.difference_update(shards)  # sockets opened from now on use a working layer
        LAYER_RECOVERIES.inc()
        SOCKETS_RECYCLED.inc(len(consumers))
        log.warning(
            "channel layer back on Redis %s; closing %d sockets so they catch up",
            ", ".join(_describe(index) for index in sorted(shards)),
            len(consumers),
        )
        for consumer in consumers:
            with contextlib.suppress(Exception):
                await consumer.close(code=CLOSE_LAYER_LOST)
