"""Room and user events published from the thread that stored them, without a hop to the loop.

A post, an edit or a reaction publishes its room's event from the database
thread while it still holds the room's ordering lock (chat/locks.py), and
waits until Redis has it: that is what keeps every room's events in commit
order on every replica. ``async_to_sync(layer.group_send)`` does it by handing
the publish to the event loop and waiting for the loop to finish it: about
410 µs of CPU a publish, against 80-100 µs for the same PUBLISH on a
synchronous client from the same thread (bench/README.md, "Issue 18: a post's
publish without the hop to the event loop"), out of about 1.7 ms of process
CPU a post.

With the pub/sub layer (``CHANNEL_LAYER=pubsub``, the default on Redis) this
module PUBLISHes what the layer itself would: its serializer's bytes, on the
pub/sub channel it names for the group, on the Redis server it picks for that
name (chat/groups.py ``group_shard``), through one synchronous client per
server (through Sentinel it follows the master after a failover). Every
replica's layer receives them as its own. Several events at once go as one
pipeline per server. Any other layer (RedisChannelLayer, whose group_send is
a script with capacities; the in-memory layer) keeps ``group_send``.

channels-redis (written for 4.3): ``RedisPubSubChannelLayer.serialize``; the
loop layer's ``group_send`` publishing ``serialize(message)`` on
``_get_group_channel_name(group)`` of ``_get_shard`` (checked with the
watchdog's shard mapping, project/compat.py ``LAYER_INTERNALS``, and here).
Broken: every event goes through ``group_send`` (slower, the same events).
"""

import asyncio
from functools import cache

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from chat.groups import group_channel, group_shard, pubsub_layer
from project.compat import Reliance, require_source

CLIENT_TIMEOUT_SECS = 5


def _probe_group_send() -> None:
    from channels_redis import pubsub

    require_source(
        pubsub.RedisPubSubLoopLayer.group_send,
        "group_channel = self._get_group_channel_name(group)",
        "shard = self._get_shard(group_channel)",
        "await shard.publish(group_channel, self.channel_layer.serialize(message))",
    )
    require_source(
        pubsub.RedisSingleShardConnection.publish, "self._redis.publish(channel, message)"
    )
    require_source(pubsub.RedisPubSubChannelLayer.serialize, "self._serializer.serialize(message)")


PUBSUB_GROUP_SEND = Reliance(
    name="channels-redis-pubsub-group-send",
    library="channels-redis",
    written_for="4.3",
    relies_on=(
        "RedisPubSubLoopLayer.group_send = PUBLISH of serialize(message) on the group's "
        "channel, on its shard"
    ),
    probe=_probe_group_send,
    off="events are published through group_send on the event loop (slower, the same events)",
)


def group_send(group: str, event: dict) -> None:
    """Publish one event to a group, from a thread (never from the event loop)."""
    layer = get_channel_layer()
    if not _direct(layer):
        async_to_sync(layer.group_send)(group, event)
        return
    shard = group_shard(group)
    _client(shard).publish(group_channel(group), layer.serialize(event))


def group_send_many(sends: list[tuple[str, dict]]) -> None:
    """Publish several events at once: one round trip per Redis server."""
    if not sends:
        return
    layer = get_channel_layer()
    if not _direct(layer):

        async def publish() -> None:
            await asyncio.gather(*(layer.group_send(group, event) for group, event in sends))

        async_to_sync(publish)()
        return
    pipelines: dict[int, redis.client.Pipeline] = {}
    for group, event in sends:
        shard = group_shard(group)
        pipeline = pipelines.get(shard)
        if pipeline is None:
            pipeline = pipelines[shard] = _client(shard).pipeline(transaction=False)
        pipeline.publish(group_channel(group), layer.serialize(event))
    for pipeline in pipelines.values():
        pipeline.execute()


def _direct(layer) -> bool:
    if not pubsub_layer() or not settings.REDIS_SERVERS:
        return False
    if not isinstance(layer, RedisPubSubChannelLayer) or not PUBSUB_GROUP_SEND.enabled:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    # As async_to_sync refuses: a blocking publish here would stall every socket.
    raise RuntimeError("chat.publish blocks: call it from a thread, not the event loop")


def _client(shard: int) -> redis.Redis:
    return _client_for(settings.REDIS_SERVERS[shard])


@cache
def _client_for(server) -> redis.Redis:
    return server.sync_client(
        socket_timeout=CLIENT_TIMEOUT_SECS, socket_connect_timeout=CLIENT_TIMEOUT_SECS
    )


RELIANCES = [PUBSUB_GROUP_SEND]
