"""Per-user token bucket for posting, shared by every replica through Redis.

The same bucket serves the WebSocket and the HTTP API. Defaults: 3 messages a
second sustained, bursts of 10 (CHAT_RATE_LIMIT_PER_SECOND / _BURST).
"""

import threading
import time

from django.conf import settings

from chat.redis_client import get_redis, key

# Refill and take one token atomically; Redis' own clock, so replicas agree.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return allowed
"""

_local_buckets: dict[int, tuple[float, float]] = {}
_local_lock = threading.Lock()


def _take_local(user_id: int, rate: float, burst: int) -> bool:
    now = time.monotonic()
    with _local_lock:
        tokens, ts = _local_buckets.get(user_id, (float(burst), now))
        tokens = min(burst, tokens + (now - ts) * rate)
        allowed = tokens >= 1
        _local_buckets[user_id] = (tokens - 1 if allowed else tokens, now)
    return allowed


def take_post_token(user_id: int) -> bool:
    """True if the user may post now (and spends a token)."""
    if not settings.CHAT_RATE_LIMIT_ENABLED:
        return True
    rate, burst = settings.CHAT_RATE_LIMIT_PER_SECOND, settings.CHAT_RATE_LIMIT_BURST
    if not settings.REDIS_URL:
        return _take_local(user_id, rate, burst)
    client = get_redis()
    return bool(client.eval(_TAKE_TOKEN, 1, key("ratelimit", "post", user_id), rate, burst))
