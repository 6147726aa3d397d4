"""The watchdog maps groups and sockets to Redis shards exactly as channels-redis does."""

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from chat.groups import room_group, user_group
from project.redis_config import parse_redis_urls
from realtime import watchdog

URLS = "redis://127.0.0.1:6380/0,redis://127.0.0.1:6381/0,redis://127.0.0.1:6382/0"
PREFIX = "r1test:asgi"


@pytest.fixture
def three_shards(settings):
    def use(layer: str) -> list[str]:
        settings.REDIS_SERVERS = parse_redis_urls(URLS)
        settings.CHANNEL_LAYER = layer
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "x", "CONFIG": {"prefix": PREFIX}}}
        return URLS.split(",")

    yield use
    watchdog.lost.clear()


GROUPS = [room_group(n) for n in range(200)] + [user_group(n) for n in range(200)]


async def test_pubsub_groups_land_where_the_pubsub_layer_puts_them(three_shards):
    layer = RedisPubSubChannelLayer(hosts=three_shards("pubsub"), prefix=PREFIX)
    loop_layer = layer._get_layer()
    for group in GROUPS:
        expected = loop_layer._get_shard(loop_layer._get_group_channel_name(group))
        assert loop_layer._shards[watchdog.group_shard(group)] is expected
    assert {watchdog.group_shard(group) for group in GROUPS} == {0, 1, 2}
    channel = f"{PREFIX}specific.{uuid.uuid4().hex}"
    assert loop_layer._shards[watchdog.channel_shard(channel)] is loop_layer._get_shard(channel)


def test_core_groups_land_where_the_list_layer_puts_them(three_shards):
    layer = RedisChannelLayer(hosts=three_shards("core"), prefix=PREFIX)
    for group in GROUPS:
        assert watchdog.group_shard(group) == layer.consistent_hash(group)


def socket(user_id: int, *room_ids: int) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(pk=user_id), room_ids=set(room_ids))


def room_on(shard: int) -> int:
    return next(n for n in range(1, 10_000) if watchdog.group_shard(room_group(n)) == shard)


def user_on(shard: int) -> int:
    return next(n for n in range(1, 10_000) if watchdog.group_shard(user_group(n)) == shard)


def test_only_sockets_in_a_lost_shards_groups_are_held(three_shards):
    three_shards("pubsub")
    on_zero = socket(user_on(0), room_on(0))
    on_one = socket(user_on(1), room_on(1))
    both = socket(user_on(1), room_on(1), room_on(0))
    assert watchdog.socket_shards(on_zero) == {0}
    watchdog.mark_lost("test", 0)
    assert watchdog.holding(on_zero)
    assert watchdog.holding(both)
    assert not watchdog.holding(on_one)
    watchdog.mark_lost("test")  # unknown shard: every one
    assert watchdog.holding(on_one)


def test_on_the_list_layer_every_socket_depends_on_its_replicas_inbox(three_shards, monkeypatch):
    three_shards("core")
    monkeypatch.setattr(watchdog, "_inbox_shard", lambda: 2)
    assert watchdog.socket_shards(socket(user_on(0), room_on(0))) == {0, 2}


async def test_a_broken_pubsub_connection_quarantines_its_own_shard(three_shards):
    layer = RedisPubSubChannelLayer(hosts=three_shards("pubsub"), prefix=PREFIX)
    connection = layer._get_layer()._shards[1]

    class BrokenPubSub:
        subscribed = True

        async def get_message(self, **kwargs):
            raise ConnectionError("Connection reset by peer")

    connection._pubsub = BrokenPubSub()
    receiving = asyncio.ensure_future(connection._do_receiving())
    await asyncio.sleep(0.1)
    receiving.cancel()
    assert watchdog.lost == {1}
