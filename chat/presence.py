"""Who is online, across every replica.

A user is online while at least one of their sockets is open on any replica.
Each socket is a connection id with an expiry, refreshed by its replica's
heartbeat; a replica that dies stops refreshing, so its sockets expire and the
sweeper (run by every live replica) turns their users offline. Redis holds the
state when REDIS_URL is set, local memory otherwise (one process).

Every transition is decided atomically (one Lua script per step), so exactly
one caller learns that a user came online or went offline, whichever replica
it runs on. The Redis scripts read Redis' own clock, so replicas whose clocks
disagree still agree on what has expired.

Keys: ``presence:conns:<user id>`` sorted set of connection id -> expiry;
``presence:users`` sorted set of user id -> latest expiry of any connection.

A client without a WebSocket (GET /api/events) is a connection too, ``poll:<hash
of its session or token>``, refreshed by each of its polls for the poll's wait
plus the TTL and never dropped: when its polls stop it expires, as a dead
replica's sockets do (realtime/sockets.py, ``poller_seen``).

Long polls are also counted apart, to cap them: ``polls:<user id>`` sorted set of
poll slot -> expiry, capped per user by CHAT_MAX_LONG_POLLS_PER_USER across replicas.
"""

import threading
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.redis_client import get_redis, key

# Users examined per sweep round trip; a dead replica's thousands of users are
# cleared in several rounds of one sweep, not one round per sweep interval.
SWEEP_BATCH = 500
# Connections refreshed per pipeline round trip.
HEARTBEAT_BATCH = 1000


@dataclass(frozen=True)
class Timings:
    """How long a socket counts as open unvouched, and how often replicas vouch and sweep."""

    ttl: float
    heartbeat: float
    sweep: float

    @property
    def offline_within(self) -> float:
        """The longest a killed replica's users can stay online: expiry, then one sweep."""
        return self.ttl + self.sweep


def timings() -> Timings:
    """The configured timings (CHAT_PRESENCE_*_SECS), checked for sense."""
    current = Timings(
        ttl=settings.CHAT_PRESENCE_TTL_SECS,
        heartbeat=settings.CHAT_PRESENCE_HEARTBEAT_SECS,
        sweep=settings.CHAT_PRESENCE_SWEEP_SECS,
    )
    if not 0 < current.heartbeat < current.ttl or current.sweep <= 0:
        raise ImproperlyConfigured(
            "Presence needs 0 < CHAT_PRESENCE_HEARTBEAT_SECS < CHAT_PRESENCE_TTL_SECS "
            "and CHAT_PRESENCE_SWEEP_SECS > 0, or open sockets would expire."
        )
    return current


# Redis scripts
# ------------------------------------------------------------------------------

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# Register (or refresh) a connection. Returns 1 if the user had no live
# connection before: they just came online (or came back after expiring);
# -1, registering nothing, if they already have ARGV[4] (> 0) live ones.
_CONNECT = (
    _NOW
    + """
local expiry = now + tonumber(ARGV[2])
local limit = tonumber(ARGV[4] or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
if limit > 0 and before >= limit then return -1 end
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 2))
redis.call('ZADD', KEYS[2], 'GT', expiry, ARGV[3])
if before == 0 then return 1 end
return 0
"""
)

# Drop a connection. Returns 1 if it was the user's last live one.
_DISCONNECT = (
    _NOW
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local rest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #rest == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[2], 'XX', rest[2], ARGV[2])
return 0
"""
)

# Users whose every connection may have expired.
_SWEEP_CANDIDATES = (
    _NOW
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
"""
)

# Returns 1 to exactly one caller for a user whose connections all expired.
_SWEEP_USER = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local rest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #rest == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('ZADD', KEYS[2], rest[2], ARGV[1])
return 0
"""
)


# Take a long-poll slot: 1, or 0 (taking nothing) if the user holds ARGV[3] live ones.
# The key lives as long as its latest slot, so a dead replica's slots vanish.
_POLL_TAKE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local expiry = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(last[2])) + 1)
return 1
"""
)


@cache
def _scripts() -> dict[str, redis.commands.core.Script]:
    """Scripts registered once per process and run by SHA (EVALSHA)."""
    client = get_redis()
    return {
        "connect": client.register_script(_CONNECT),
        "disconnect": client.register_script(_DISCONNECT),
        "candidates": client.register_script(_SWEEP_CANDIDATES),
        "sweep_user": client.register_script(_SWEEP_USER),
        "poll_take": client.register_script(_POLL_TAKE),
    }


def _conns_key(user_id: int) -> str:
    return key("presence", "conns", user_id)


def _users_key() -> str:
    return key("presence", "users")


def _polls_key(user_id: int) -> str:
    return key("polls", user_id)


class SocketLimitReached(Exception):
    """The user already has the most sockets allowed open (CHAT_MAX_SOCKETS_PER_USER)."""


# Backends
# ------------------------------------------------------------------------------


class RedisPresence:
    """Presence shared by every replica through Redis."""

    def connect(
        self, user_id: int, conn_id: str, *, limit: int = 0, ttl: float | None = None
    ) -> bool:
        """Register (or refresh) a connection; True if it is the user's first live one anywhere.

        With a limit, raise SocketLimitReached if the user already has that many.
        ``ttl``: how long it lives unrefreshed (default CHAT_PRESENCE_TTL_SECS).
        """
        ttl = timings().ttl if ttl is None else ttl
        keys = [_conns_key(user_id), _users_key()]
        first = _scripts()["connect"](keys=keys, args=[conn_id, ttl, user_id, limit])
        if first == -1:
            raise SocketLimitReached(limit)
        return bool(first)

    def disconnect(self, user_id: int, conn_id: str) -> bool:
        """Forget a socket; True if it was the user's last live one anywhere."""
        keys = [_conns_key(user_id), _users_key()]
        return bool(_scripts()["disconnect"](keys=keys, args=[conn_id, user_id]))

    def heartbeat(self, connections: dict[str, int]) -> list[str]:
        """Vouch for this replica's sockets (conn id -> user id).

        Returns the conn ids whose user had no live connection left, i.e. had
        expired (a replica stalled or Redis was unreachable for longer than the
        TTL) and is online again now.
        """
        ttl = timings().ttl
        script = _scripts()["connect"]
        revived: list[str] = []
        items = list(connections.items())
        for start in range(0, len(items), HEARTBEAT_BATCH):
            batch = items[start : start + HEARTBEAT_BATCH]
            pipe = get_redis().pipeline(transaction=False)
            for conn_id, user_id in batch:
                script(
                    keys=[_conns_key(user_id), _users_key()],
                    args=[conn_id, ttl, user_id],
                    client=pipe,
                )
            for (conn_id, _), first in zip(batch, pipe.execute(), strict=True):
                if first:
                    revived.append(conn_id)
        return revived

    def sweep(self) -> list[int]:
        """Turn offline the users whose connections all expired; each is returned once."""
        scripts = _scripts()
        gone: list[int] = []
        while True:
            candidates = scripts["candidates"](keys=[_users_key()], args=[SWEEP_BATCH])
            if not candidates:
                return gone
            pipe = get_redis().pipeline(transaction=False)
            for raw in candidates:
                user_id = int(raw)
                scripts["sweep_user"](
                    keys=[_conns_key(user_id), _users_key()], args=[user_id], client=pipe
                )
            for raw, offline in zip(candidates, pipe.execute(), strict=True):
                if offline:
                    gone.append(int(raw))
            # Every candidate was either removed or given a future expiry, so
            # each round makes progress; a short batch means none are left.
            if len(candidates) < SWEEP_BATCH:
                return gone

    def online(self, user_ids: list[int]) -> set[int]:
        """Which of these users have a live connection (one round trip)."""
        if not user_ids:
            return set()
        pipe = get_redis().pipeline(transaction=False)
        pipe.time()
        pipe.zmscore(_users_key(), [str(u) for u in user_ids])
        (seconds, micros), scores = pipe.execute()
        now = seconds + micros / 1_000_000
        return {u for u, score in zip(user_ids, scores, strict=True) if score and score > now}

    def poll_slot_take(self, user_id: int, slot: str, *, limit: int, ttl: float) -> bool:
        """Hold one of the user's `limit` long-poll slots for `ttl` s at most; False if none."""
        return bool(_scripts()["poll_take"](keys=[_polls_key(user_id)], args=[slot, ttl, limit]))

    def poll_slot_free(self, user_id: int, slot: str) -> None:
        get_redis().zrem(_polls_key(user_id), slot)


class LocalPresence:
    """The embedded single-process flavour: the same rules in a dict."""

    def __init__(self) -> None:
        self._conns: dict[int, dict[str, float]] = {}
        self._polls: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, user_id: int, now: float) -> dict[str, float]:
        return {c: e for c, e in self._conns.get(user_id, {}).items() if e > now}

    def connect(
        self, user_id: int, conn_id: str, *, limit: int = 0, ttl: float | None = None
    ) -> bool:
        now = time.time()
        with self._lock:
            conns = self._live(user_id, now)
            if 0 < limit <= len(conns):
                raise SocketLimitReached(limit)
            first = not conns
            conns[conn_id] = now + (timings().ttl if ttl is None else ttl)
            self._conns[user_id] = conns
        return first

    def disconnect(self, user_id: int, conn_id: str) -> bool:
        now = time.time()
        with self._lock:
            if user_id not in self._conns:
                return False
            conns = self._live(user_id, now)
            conns.pop(conn_id, None)
            if conns:
                self._conns[user_id] = conns
                return False
            del self._conns[user_id]
            return True

    def heartbeat(self, connections: dict[str, int]) -> list[str]:
        now = time.time()
        expiry = now + timings().ttl
        revived = []
        with self._lock:
            for conn_id, user_id in connections.items():
                conns = self._live(user_id, now)
                if not conns:
                    revived.append(conn_id)
                conns[conn_id] = expiry
                self._conns[user_id] = conns
        return revived

    def sweep(self) -> list[int]:
        now = time.time()
        with self._lock:
            gone = [u for u in self._conns if not self._live(u, now)]
            for user_id in gone:
                del self._conns[user_id]
        return gone

    def online(self, user_ids: list[int]) -> set[int]:
        now = time.time()
        with self._lock:
            return {u for u in user_ids if self._live(u, now)}

    def poll_slot_take(self, user_id: int, slot: str, *, limit: int, ttl: float) -> bool:
        now = time.time()
        with self._lock:
            slots = {s: e for s, e in self._polls.get(user_id, {}).items() if e > now}
            if len(slots) >= limit:
                return False
            slots[slot] = now + ttl
            self._polls[user_id] = slots
        return True

    def poll_slot_free(self, user_id: int, slot: str) -> None:
        with self._lock:
            slots = self._polls.get(user_id)
            if slots is not None:
                slots.pop(slot, None)
                if not slots:
                    del self._polls[user_id]


_local = LocalPresence()


def backend() -> RedisPresence | LocalPresence:
    """Redis when REDIS_URL is set (shared by replicas), else this process' memory."""
    return RedisPresence() if settings.REDIS_URL else _local
