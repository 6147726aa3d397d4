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
"""

import asyncio
import contextlib
import logging
import uuid
import weakref

from channels.layers import get_channel_layer
from django.conf import settings
from prometheus_client import Counter
from redis import asyncio as aioredis

log = logging.getLogger(__name__)

# One probe a second costs a publish and a tiny INFO per replica, and bounds
# how long a socket stays deaf after Redis comes back to about two seconds.
PROBE_INTERVAL_SECS = 1.0
# A probe that takes longer than this counts as lost. Generous on purpose: an
# event loop busy for a moment must not make every client reconnect.
PROBE_TIMEOUT_SECS = 5.0
# The client should reconnect (and catch up) at once: 4000 + 1012 ("service
# restart"), since daphne only lets applications send 1000 or 3000-4999.
CLOSE_LAYER_LOST = 4012

LAYER_RECOVERIES = Counter(
    "chat_channel_layer_recoveries",
    "Times this replica's channel layer lost messages and came back (sockets were recycled).",
)
SOCKETS_RECYCLED = Counter(
    "chat_sockets_recycled",
    "Sockets closed with 4012 after a channel-layer outage, so their clients catch up.",
)

# The live consumers of this process (weak: a consumer that crashed is not kept).
_sockets: weakref.WeakSet = weakref.WeakSet()
_task: asyncio.Task | None = None
# True from the first sign that the layer lost messages until the sockets are recycled.
quarantined = False


def holding(consumer) -> bool:
    """Whether room frames for this socket are held back (see the module docstring)."""
    return quarantined or getattr(consumer, "layer_stale", False)


def mark_lost(reason: str) -> None:
    """Stop delivering room frames here until the watchdog has recycled every socket."""
    global quarantined
    if not quarantined:
        log.warning("channel layer lost (%s); holding room frames until it is back", reason)
    quarantined = True


class _PubSubFailureFilter(logging.Filter):
    """channels_redis reports a broken pub/sub connection only in a log line; act on it.

    Its receiver reconnects (and resubscribes) a second later, while other
    replicas may already publish again: the quarantine must start now.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Unexpected exception in receive task":
            mark_lost("pub/sub connection broken")
        return True


logging.getLogger("channels_redis.pubsub").addFilter(_PubSubFailureFilter())


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


class Watchdog:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.redis = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=PROBE_TIMEOUT_SECS,
            socket_connect_timeout=PROBE_TIMEOUT_SECS,
        )
        self.channel: str | None = None
        self.group = f"watchdog.{uuid.uuid4().hex}"
        self.seq = 0
        self.run_id: str | None = None

    async def run(self) -> None:
        while True:
            try:
                healthy = await asyncio.wait_for(self.probe(), PROBE_TIMEOUT_SECS * 2)
            except Exception:
                healthy = False
            if not healthy:
                await self.forget_probe()
                mark_lost("probe failed")
            elif quarantined:
                await self.recycle_sockets()
            await asyncio.sleep(PROBE_INTERVAL_SECS)

    async def probe(self) -> bool:
        """True if Redis is the same server as before and a message went round."""
        run_id = (await self.redis.info("server"))["run_id"]
        if self.run_id is not None and run_id != self.run_id:
            log.warning("Redis restarted (run_id changed); its groups and subscriptions are gone")
            self.run_id = run_id
            return False
        self.run_id = run_id
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, self.channel)
        self.seq += 1
        await asyncio.wait_for(
            self.layer.group_send(self.group, {"type": "watchdog.probe", "seq": self.seq}),
            PROBE_TIMEOUT_SECS,
        )
        while True:
            message = await asyncio.wait_for(self.layer.receive(self.channel), PROBE_TIMEOUT_SECS)
            if message.get("seq") == self.seq:
                return True  # an answer to an earlier, timed-out probe is skipped

    async def forget_probe(self) -> None:
        """Start the next probe on a fresh channel and group (the old ones may be gone)."""
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.layer.group_discard(self.group, self.channel), PROBE_TIMEOUT_SECS
                )
        self.channel = None
        self.group = f"watchdog.{uuid.uuid4().hex}"

    async def recycle_sockets(self) -> None:
        """Close every socket open during the outage: its client reconnects and catches up."""
        global quarantined
        consumers = list(_sockets)
        for consumer in consumers:
            consumer.layer_stale = True  # held until closed, even once the layer is back
        quarantined = False  # sockets opened from now on subscribe to a working layer
        LAYER_RECOVERIES.inc()
        SOCKETS_RECYCLED.inc(len(consumers))
        log.warning("channel layer back; closing %d sockets so they catch up", len(consumers))
        for consumer in consumers:
            with contextlib.suppress(Exception):
                await consumer.close(code=CLOSE_LAYER_LOST)
