"""Channel-layer group names, and the Redis server channels-redis keeps each on."""

from channels_redis.utils import _consistent_hash
from django.conf import settings


def room_group(room_id: int) -> str:
    """Every socket of every member of the room, on every replica."""
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    """Every socket of one user, on every replica."""
    return f"user.{user_id}"


def shard_count() -> int:
    """The Redis servers the channel layer spreads over (REDIS_URL; 1 without Redis)."""
    return max(len(settings.REDIS_SERVERS), 1)


def pubsub_layer() -> bool:
    """Whether the default layer is channels-redis' pub/sub one (CHANNEL_LAYER=pubsub)."""
    return settings.CHANNEL_LAYER == "pubsub"


def group_channel(group: str) -> str:
    """The pub/sub layer's channel for ``group`` (channels_redis/pubsub.py
    ``_get_group_channel_name``)."""
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")
    return f"{prefix}__group__{group}"


def group_shard(group: str) -> int:
    """The server channels-redis keeps ``group`` on (the same hash it uses itself).

    The pub/sub layer hashes the group's pub/sub channel name, the list-based
    layer the group name (channels_redis/pubsub.py ``_get_shard``, core.py
    ``consistent_hash``; tests/unit/test_watchdog_shards.py holds them to it).
    """
    if pubsub_layer():
        return _consistent_hash(group_channel(group), shard_count())
    return _consistent_hash(group, shard_count())
