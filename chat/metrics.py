"""Prometheus metrics of one process, served at /metrics (see project/health.py).

A leaf: it imports nothing of ours. A number another module owns (open sockets,
waiting polls) is registered there as a gauge, next to the number.

Every replica counts for itself: Prometheus scrapes each replica directly, not
through the load balancer, and sums across them. What runs per recipient (the
delivery latency) is a bisect and two additions on the event-loop thread, with
no lock; what runs per event (counters) is a prometheus_client increment.
"""

import time
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

MESSAGES_ACCEPTED = Counter(
    "chat_messages_accepted", "Messages stored (counted on commit, by the replica that stored it)."
)
EVENTS_FANNED_OUT = Counter(
    "chat_events_fanned_out",
    "Events handed to the channel layer (once per event, not per recipient), by frame type.",
    ["type"],
)
CLIENT_ERRORS = Counter(
    "chat_client_errors", "Error replies sent to clients, by code.", ["code", "transport"]
)
RATE_LIMITED = Counter("chat_rate_limited", "Posts refused by the per-user rate limit.")
CHANNEL_LAYER_DROPS = Counter(
    "chat_channel_layer_drops",
    "Messages the channel layer dropped because a channel was over capacity.",
    ["reason"],
)
SLOW_CLIENTS_DROPPED = Counter(
    "chat_slow_clients_dropped",
    "Sockets dropped because their client stopped reading (project/server/slow_client.py).",
)


# Per-event counters resolve their label child once, not on every event.
_fanned_out: dict[str, Counter] = {}


def event_fanned_out(frame_type: str) -> None:
    child = _fanned_out.get(frame_type)
    if child is None:
        child = _fanned_out[frame_type] = EVENTS_FANNED_OUT.labels(frame_type)
    child.inc()


def client_error(code: str, transport: str = "ws") -> None:
    CLIENT_ERRORS.labels(code, transport).inc()


# Delivery latency
# ------------------------------------------------------------------------------


class LoopHistogram(Collector):
    """A histogram observed only from the event-loop thread, hence without a lock.

    prometheus_client's Histogram takes a lock per observation (about 3 us);
    this one is a bisect and two additions, cheap enough to run once per
    recipient of every message. A scrape from another thread may read a count
    one observation ahead of the sum, which Prometheus tolerates.
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        REGISTRY.register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], buckets, self.sum)
        yield family


DELIVERY_LATENCY = LoopHistogram(
    "chat_delivery_latency_seconds",
    "From a message's commit to its frame being handed to a recipient's socket.",
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def delivered(sent_at: float) -> None:
    """A message frame stamped ``sent_at`` (time.time() at commit) reached a socket."""
    DELIVERY_LATENCY.observe(time.time() - sent_at)


# Channel-layer drops
# ------------------------------------------------------------------------------


def over_capacity(skipped: int) -> None:
    """channels_redis reports group sends over capacity only in a log line: chat/apps.py
    hands this to project.compat.watch_over_capacity, which parses it."""
    CHANNEL_LAYER_DROPS.labels("over_capacity").inc(skipped)
