"""Per-user token buckets, shared by every replica through Redis.

One bucket per action and user, so a flood of one kind of action (posting)
does not starve another (opening a direct room). The same buckets serve the
WebSocket and the HTTP API. Each bucket refills at ``rate`` tokens a second up
to ``burst`` tokens; its settings (project/settings.py):

- ``post``: messages, CHAT_RATE_LIMIT_PER_SECOND (3) / _BURST (10).
- ``room_create``: new rooms, CHAT_RATE_LIMIT_ROOMS_PER_HOUR (10) / _ROOMS_BURST (5).
- ``invite``: people added to rooms, CHAT_RATE_LIMIT_INVITES_PER_MINUTE (30) / _BURST (10).
- ``dm``: new direct rooms, CHAT_RATE_LIMIT_DMS_PER_MINUTE (20) / _DMS_BURST (10).
- ``mention_email``: @mention emails to one recipient, CHAT_MENTION_EMAILS_PER_HOUR (20)
  / CHAT_MENTION_EMAILS_BURST (10); keyed by the recipient, not the sender.
- ``people_search``: people-picker searches (GET /api/users),
  CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE (60) / _BURST (20): a picker asks once
  per pause in typing, and the directory cannot be scraped quickly.
- ``search``: message searches (GET /api/search), CHAT_RATE_LIMIT_SEARCH_PER_MINUTE (30)
  / _BURST (15): each is a full-text query over every room of the caller.
- ``upload``: files uploaded (POST /api/uploads), CHAT_RATE_LIMIT_UPLOADS_PER_MINUTE (20)
  / _UPLOADS_BURST (10): each is up to 10 MiB stored and an image decoded.

CHAT_RATE_LIMIT_ENABLED=0 turns every bucket off.
"""

import threading
import time
from typing import Literal

from django.conf import settings

from chat.redis_client import get_redis, key

Bucket = Literal[
    "post",
    "room_create",
    "invite",
    "dm",
    "mention_email",
    "people_search",
    "search",
    "typing",
    "upload",
]
# POST /api/rooms/{slug}/typing: a frame to every member each time, so at most one
# every 2 s sustained (the socket's own throttle, realtime/consumers.py), bursts of 3.
TYPING_PER_SECOND, TYPING_BURST = 0.5, 3

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

_local_buckets: dict[tuple[str, int], tuple[float, float]] = {}
_local_lock = threading.Lock()


def bucket_limits(bucket: Bucket) -> tuple[float, int]:
    """(tokens a second, burst) of a bucket, read from the settings at each call."""
    if bucket == "post":
        return settings.CHAT_RATE_LIMIT_PER_SECOND, settings.CHAT_RATE_LIMIT_BURST
    if bucket == "room_create":
        return settings.CHAT_RATE_LIMIT_ROOMS_PER_HOUR / 3600, settings.CHAT_RATE_LIMIT_ROOMS_BURST
    if bucket == "invite":
        return settings.CHAT_RATE_LIMIT_INVITES_PER_MINUTE / 60, (
            settings.CHAT_RATE_LIMIT_INVITES_BURST
        )
    if bucket == "dm":
        return settings.CHAT_RATE_LIMIT_DMS_PER_MINUTE / 60, settings.CHAT_RATE_LIMIT_DMS_BURST
    if bucket == "mention_email":
        return settings.CHAT_MENTION_EMAILS_PER_HOUR / 3600, settings.CHAT_MENTION_EMAILS_BURST
    if bucket == "people_search":
        return settings.CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE / 60, (
            settings.CHAT_RATE_LIMIT_PEOPLE_SEARCH_BURST
        )
    if bucket == "search":
        return (
            settings.CHAT_RATE_LIMIT_SEARCH_PER_MINUTE / 60,
            settings.CHAT_RATE_LIMIT_SEARCH_BURST,
        )
    if bucket == "typing":
        return TYPING_PER_SECOND, TYPING_BURST
    if bucket == "upload":
        return (
            settings.CHAT_RATE_LIMIT_UPLOADS_PER_MINUTE / 60,
            settings.CHAT_RATE_LIMIT_UPLOADS_BURST,
        )
    raise ValueError(f"unknown rate-limit bucket {bucket!r}")


def _take_local(bucket: str, user_id: int, rate: float, burst: int) -> bool:
    now = time.monotonic()
    with _local_lock:
        tokens, ts = _local_buckets.get((bucket, user_id), (float(burst), now))
        tokens = min(burst, tokens + (now - ts) * rate)
        allowed = tokens >= 1
        _local_buckets[(bucket, user_id)] = (tokens - 1 if allowed else tokens, now)
    return allowed


def take_token(user_id: int, bucket: Bucket = "post") -> bool:
    """True if the user may act now (and spends a token of that bucket)."""
    if not settings.CHAT_RATE_LIMIT_ENABLED:
        return True
    rate, burst = bucket_limits(bucket)
    if not settings.REDIS_URL:
        return _take_local(bucket, user_id, rate, burst)
    client = get_redis()
    return bool(client.eval(_TAKE_TOKEN, 1, key("ratelimit", bucket, user_id), rate, burst))


def take_post_token(user_id: int) -> bool:
    """True if the user may post now (and spends a token)."""
    return take_token(user_id, "post")
