"""Who is online, across every replica.

A user is online while at least one of their sockets is open on any replica.
Each socket is a connection id with an expiry, refreshed by its replica's
heartbeat; a replica that dies stops refreshing, so its sockets expire and the
sweeper (run by every live replica) turns their users offline. Redis holds the
state when REDIS_URL is set, local memory otherwise (one process).

Keys: ``presence:conns:<user id>`` sorted set of connection id -> expiry;
``presence:users`` sorted set of user id -> latest expiry of any connection.
"""

import threading
import time

from django.conf import settings

from chat.redis_client import get_redis, key

# A socket counts as open for this long after its replica last vouched for it.
# Heartbeats every 15 s and sweeps every 10 s put a dead replica's users offline
# within CONNECTION_TTL_SECS + SWEEP_INTERVAL_SECS = 50 s (the promise is 60 s).
CONNECTION_TTL_SECS = 40
HEARTBEAT_INTERVAL_SECS = 15
SWEEP_INTERVAL_SECS = 10

_CONNECT = """
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[5])
if before == 0 then return 1 end
return 0
"""

_DISCONNECT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[3])
end
return 0
"""

# Returns 1 to exactly one caller for a user whose connections all expired.
_SWEEP_USER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local rest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #rest == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[2], rest[2], ARGV[2])
return 0
"""


def _conns_key(user_id: int) -> str:
    return key("presence", "conns", user_id)


class RedisPresence:
    def connect(self, user_id: int, conn_id: str) -> bool:
        now = time.time()
        return bool(
            get_redis().eval(
                _CONNECT,
                2,
                _conns_key(user_id),
                key("presence", "users"),
                conn_id,
                now + CONNECTION_TTL_SECS,
                now,
                CONNECTION_TTL_SECS * 2,
                user_id,
            )  # fmt: skip
        )

    def disconnect(self, user_id: int, conn_id: str) -> bool:
        return bool(
            get_redis().eval(
                _DISCONNECT,
                2,
                _conns_key(user_id),
                key("presence", "users"),
                conn_id,
                time.time(),
                user_id,
            )  # fmt: skip
        )

    def heartbeat(self, connections: dict[str, int]) -> None:
        expiry = time.time() + CONNECTION_TTL_SECS
        pipe = get_redis().pipeline(transaction=False)
        for conn_id, user_id in connections.items():
            pipe.zadd(_conns_key(user_id), {conn_id: expiry})
            pipe.expire(_conns_key(user_id), CONNECTION_TTL_SECS * 2)
            pipe.zadd(key("presence", "users"), {str(user_id): expiry}, gt=True)
        pipe.execute()

    def sweep(self) -> list[int]:
        client = get_redis()
        now = time.time()
        expired = client.zrangebyscore(key("presence", "users"), "-inf", now, start=0, num=500)
        gone = []
        for raw in expired:
            user_id = int(raw)
            if client.eval(
                _SWEEP_USER, 2, _conns_key(user_id), key("presence", "users"), now, user_id
            ):
                gone.append(user_id)
        return gone

    def online(self, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        scores = get_redis().zmscore(key("presence", "users"), [str(u) for u in user_ids])
        now = time.time()
        return {u for u, score in zip(user_ids, scores, strict=True) if score and score > now}


class LocalPresence:
    """The embedded single-process flavour: the same rules in a dict."""

    def __init__(self) -> None:
        self._conns: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()

    def connect(self, user_id: int, conn_id: str) -> bool:
        now = time.time()
        with self._lock:
            conns = {c: e for c, e in self._conns.get(user_id, {}).items() if e > now}
            first = not conns
            conns[conn_id] = now + CONNECTION_TTL_SECS
            self._conns[user_id] = conns
        return first

    def disconnect(self, user_id: int, conn_id: str) -> bool:
        now = time.time()
        with self._lock:
            conns = self._conns.get(user_id)
            if conns is None:
                return False
            conns.pop(conn_id, None)
            if any(e > now for e in conns.values()):
                return False
            del self._conns[user_id]
            return True

    def heartbeat(self, connections: dict[str, int]) -> None:
        expiry = time.time() + CONNECTION_TTL_SECS
        with self._lock:
            for conn_id, user_id in connections.items():
                self._conns.setdefault(user_id, {})[conn_id] = expiry

    def sweep(self) -> list[int]:
        now = time.time()
        with self._lock:
            gone = [u for u, c in self._conns.items() if not any(e > now for e in c.values())]
            for user_id in gone:
                del self._conns[user_id]
        return gone

    def online(self, user_ids: list[int]) -> set[int]:
        now = time.time()
        with self._lock:
            return {u for u in user_ids if any(e > now for e in self._conns.get(u, {}).values())}


_local = LocalPresence()


def backend() -> RedisPresence | LocalPresence:
    return RedisPresence() if settings.REDIS_URL else _local
