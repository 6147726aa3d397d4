"""The shared synchronous Redis client (rate limits, presence), and the cache's Sentinel pool.

Presence and rate limits live on one server: ``PRESENCE_REDIS_URL``, else the
first server of ``REDIS_URL`` (project/redis_config.py). A Sentinel-managed
master is reached through redis-py's Sentinel client, which asks the Sentinels
for the master again whenever a connection fails, so the client follows a
failover without a restart.
"""

from functools import cache

import redis
from django.conf import settings
from redis.sentinel import Sentinel, SentinelConnectionPool

from project.redis_config import parse_redis_urls

CLIENT_TIMEOUT_SECS = 5


@cache
def get_redis() -> redis.Redis:
    """The one client of presence and rate limits (see the module docstring)."""
    return settings.PRESENCE_REDIS.sync_client(
        socket_timeout=CLIENT_TIMEOUT_SECS, socket_connect_timeout=CLIENT_TIMEOUT_SECS
    )


def key(*parts: object) -> str:
    """Every Redis key the product writes itself, under the configured prefix."""
    return ":".join([settings.KEY_PREFIX, *map(str, parts)])


class SentinelCachePool:
    """Django RedisCache's ``pool_class`` for a ``redis+sentinel://`` LOCATION.

    RedisCacheClient builds its pools with ``pool_class.from_url(location,
    **options)``; this answers with redis-py's SentinelConnectionPool, whose
    connections go to whichever server Sentinel names as the master.
    """

    @classmethod
    def from_url(cls, url: str, **options: object) -> SentinelConnectionPool:
        (server,) = parse_redis_urls(url, "CACHE_REDIS_URL")
        sentinel = Sentinel(list(server.sentinels), sentinel_kwargs=server.sentinel_kwargs())
        return SentinelConnectionPool(
            server.master_name,
            sentinel,
            socket_timeout=CLIENT_TIMEOUT_SECS,
            socket_connect_timeout=CLIENT_TIMEOUT_SECS,
            **{**options, **server.connection_kwargs()},
        )
