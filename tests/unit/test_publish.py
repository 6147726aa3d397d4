"""Events published from a thread reach the pub/sub layer exactly as its own group_send's do.

chat/publish.py PUBLISHes the layer's bytes on the layer's channel and shard
from the calling thread, without a hop to the event loop. These listen with
the real RedisPubSubChannelLayer, on the shared Redis and on two throwaway
ones.
"""

import asyncio
import dataclasses

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from chat import publish
from chat.groups import group_shard, room_group, user_group
from project import compat
from project.redis_config import parse_redis_urls
from tests.support.redis_server import RedisServer

EVENT = {"type": "chat.frame", "room_id": 7, "frame": '{"type":"message","body":"hé"}'}


async def _listen(layer, *groups: str) -> str:
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return channel


async def _receive(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), 5)


@pytest.fixture
def no_loop_publish(monkeypatch):
    """The layer's own group_send refuses: what arrives was published by chat.publish."""

    async def refuse(*args, **kwargs):
        raise AssertionError("group_send on the event loop")

    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_send", refuse, raising=False)
    return layer


async def test_an_event_published_from_a_thread_arrives_as_the_layers_own(no_loop_publish):
    layer = no_loop_publish
    assert isinstance(layer, RedisPubSubChannelLayer)
    channel = await _listen(layer, room_group(7))
    await sync_to_async(publish.group_send)(room_group(7), dict(EVENT))
    assert await _receive(layer, channel) == EVENT


async def test_events_published_together_arrive_in_order(no_loop_publish):
    layer = no_loop_publish
    channel = await _listen(layer, room_group(1), user_group(2))
    sends = [(room_group(1), {**EVENT, "n": n}) for n in range(5)]
    sends.insert(2, (user_group(2), {**EVENT, "n": "user"}))
    await sync_to_async(publish.group_send_many)(sends)
    received = [(await _receive(layer, channel))["n"] for _ in sends]
    assert received == [0, 1, "user", 2, 3, 4]


async def test_with_the_contract_broken_the_layers_group_send_publishes(monkeypatch):
    def broken() -> None:
        raise compat.ContractBroken("RedisPubSubLoopLayer.group_send changed")

    monkeypatch.setattr(
        publish,
        "PUBSUB_GROUP_SEND",
        dataclasses.replace(publish.PUBSUB_GROUP_SEND, probe=broken),
    )
    layer = get_channel_layer()
    sent = []
    original = layer.group_send

    async def counting(group, message):
        sent.append(group)
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", counting, raising=False)
    channel = await _listen(layer, room_group(3))
    await sync_to_async(publish.group_send)(room_group(3), dict(EVENT))
    assert await _receive(layer, channel) == EVENT
    assert sent == [room_group(3)]


@pytest.fixture
def two_shards(settings):
    servers = [RedisServer().start(), RedisServer().start()]
    urls = ",".join(server.url for server in servers)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    settings.REDIS_SERVERS = parse_redis_urls(urls)
    layer = RedisPubSubChannelLayer(hosts=urls.split(","), prefix=prefix)
    yield layer, servers
    for server in servers:
        server.kill()


async def test_each_event_goes_to_the_server_the_layer_keeps_its_group_on(two_shards, monkeypatch):
    layer, servers = two_shards
    monkeypatch.setattr(publish, "get_channel_layer", lambda: layer)
    groups = [room_group(n) for n in range(1, 40)]
    assert {group_shard(group) for group in groups} == {0, 1}
    channel = await _listen(layer, *groups)
    published_before = [_publishes(server) for server in servers]
    for group in groups:
        await sync_to_async(publish.group_send)(group, {**EVENT, "group": group})
    received = {(await _receive(layer, channel))["group"] for _ in groups}
    assert received == set(groups)
    after = [_publishes(server) for server in servers]
    per_server = [n - before for n, before in zip(after, published_before, strict=True)]
    assert per_server == [sum(group_shard(g) == shard for g in groups) for shard in (0, 1)]
    await layer.flush()


def _publishes(server: RedisServer) -> int:
    stats = server.client().info("commandstats")
    return stats.get("cmdstat_publish", {}).get("calls", 0)


async def test_publishing_from_the_event_loop_is_refused_as_async_to_sync_refuses_it():
    with pytest.raises(RuntimeError, match="not the event loop"):
        publish.group_send(room_group(1), dict(EVENT))
