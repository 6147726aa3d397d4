"""The shared synchronous Redis client (rate limits, presence), built from REDIS_URL."""

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def key(*parts: object) -> str:
    """Every Redis key the product writes itself, under the configured prefix."""
    return ":".join([settings.KEY_PREFIX, *map(str, parts)])
