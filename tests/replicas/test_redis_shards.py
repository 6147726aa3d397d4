"""Two Redis servers under the channel layer: groups spread over both, and one can fail alone.

REDIS_URL names two throwaway Redis servers (tests/support/redis_server.py);
channels-redis hashes each group (a room, a user) to one of them. Messages fan
out across two daphne replicas for rooms on either server, and when one server
restarts only the sockets that listen to a group on it are recycled (4012):
the others never notice, and everyone ends holding every message once.
"""

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from channels_redis.pubsub import RedisPubSubLoopLayer

from chat.groups import room_group, user_group
from chat.models import Membership, Room
from realtime.watchdog import CLOSE_LAYER_LOST
from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.clients import (
    ChatClient,
    assert_everyone_holds_everything,
    settle,
    stored_messages,
)
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEAR_WITHIN_SECS = 10


@pytest.fixture
def two_redis():
    servers = [RedisServer().start(), RedisServer().start()]
    yield servers
    for server in servers:
        server.kill()


def shard_of(urls: list[str]):
    """Where the replicas' pub/sub layer puts a group: its own hashing, not a copy of it."""
    prefix = f"{os.environ.get('REDIS_KEY_PREFIX', 'chattest')}:asgi"
    loop_layer = RedisPubSubLoopLayer(hosts=urls, prefix=prefix)

    def shard(group: str) -> int:
        found = loop_layer._get_shard(loop_layer._get_group_channel_name(group))
        return loop_layer._shards.index(found)

    return shard


def room_on(shard, wanted: int, tag: str) -> Room:
    """A public room whose group lives on the wanted server."""
    for n in range(100):
        room = Room.objects.create(slug=f"{tag}-{n}", name=f"{tag} {n}", kind="public")
        if shard(room_group(room.pk)) == wanted:
            return room
    raise AssertionError("no room id hashed to that server")


async def hears(client: ChatClient, room: str, message_id: int) -> None:
    async def wait() -> None:
        while message_id not in client.rooms.get(room, {}):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(wait(), HEAR_WITHIN_SECS)
    except TimeoutError:
        raise AssertionError(f"{client.name} did not hear {message_id} in {room}") from None


async def test_rooms_on_either_redis_fan_out_and_one_restart_recycles_only_its_sockets(
    two_redis, start_replicas, make_user, token_for
):
    urls = [server.url for server in two_redis]
    shard = shard_of(urls)
    general = await sync_to_async(Room.objects.get)(slug="general")
    steady_shard = shard(room_group(general.pk))  # everyone is in general
    failing_shard = 1 - steady_shard

    # People whose user group is on the steady server; two of them also share a
    # room on the failing one, one more has their own user group there.
    tokens: dict[str, str] = {}
    users: dict[str, object] = {}
    n = 0
    while len(users) < 5:
        n += 1
        user = await sync_to_async(make_user)(f"user{n}")
        on = shard(user_group(user.pk))
        role = None
        if on == steady_shard:
            role = next((r for r in ("s1", "s2", "t1", "t2") if r not in users), None)
        elif "u1" not in users:
            role = "u1"
        if role is not None:
            users[role], tokens[role] = user, await sync_to_async(token_for)(user)
    other = await sync_to_async(room_on)(shard, failing_shard, "failing")
    steady_room = await sync_to_async(room_on)(shard, steady_shard, "steady")
    for role in ("t1", "t2"):
        await sync_to_async(Membership.objects.create)(room=other, user=users[role])
    for role in ("s1", "s2"):
        await sync_to_async(Membership.objects.create)(room=steady_room, user=users[role])

    env = {
        "REDIS_URL": ",".join(urls),
        # Presence, rate limits and the cache elsewhere: this test breaks only the layer.
        "PRESENCE_REDIS_URL": os.environ["REDIS_URL"],
        "CACHE_REDIS_URL": os.environ["REDIS_URL"],
        **NO_RATE_LIMIT,
    }
    one, two = await sync_to_async(start_replicas)(2, **env)
    placement = {"s1": one, "t1": one, "s2": two, "t2": two, "u1": two}
    clients = {}
    for role, replica in placement.items():
        other_replica = two if replica is one else one
        client = ChatClient(
            urls=[replica.ws_url, other_replica.ws_url],
            headers={"Authorization": f"Bearer {tokens[role]}"},
            name=role,
        )
        clients[role] = await client.start()
    steady = [clients["s1"], clients["s2"]]
    affected = [clients["t1"], clients["t2"], clients["u1"]]
    try:
        # Fan-out across replicas, for a room on each server.
        sent = {"general": set(), other.slug: set(), steady_room.slug: set()}
        hello = await clients["s1"].send("general", "hello all", "g-0")
        sent["general"].add("g-0")
        for client in clients.values():
            await hears(client, "general", hello["id"])
        across = await clients["t1"].send(other.slug, "on the other server", "o-0")
        sent[other.slug].add("o-0")
        await hears(clients["t2"], other.slug, across["id"])
        mine = await clients["s2"].send(steady_room.slug, "steady room", "r-0")
        sent[steady_room.slug].add("r-0")
        await hears(clients["s1"], steady_room.slug, mine["id"])

        # The failing server goes away: rooms on the other keep flowing, live.
        failing = two_redis[failing_shard]
        await sync_to_async(failing.kill)()
        for n in range(1, 4):
            message = await clients["s1"].send(steady_room.slug, f"while down {n}", f"r-{n}")
            sent[steady_room.slug].add(f"r-{n}")
            await hears(clients["s2"], steady_room.slug, message["id"])
        await sync_to_async(failing.start)()

        # The sockets depending on it are recycled once it is back; they catch up.
        async def recycled(client: ChatClient) -> None:
            while CLOSE_LAYER_LOST not in client.close_codes:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(asyncio.gather(*map(recycled, affected)), 30)
        after = await clients["t2"].send(other.slug, "after the restart", "o-1")
        sent[other.slug].add("o-1")
        await hears(clients["t1"], other.slug, after["id"])
        last = await clients["u1"].send("general", "back", "g-1")
        sent["general"].add("g-1")
        for client in clients.values():
            await hears(client, "general", last["id"])
        await settle(list(clients.values()))

        for client in steady:
            assert client.close_codes == [], f"{client.name} was disconnected"
            assert client.connects == 1
        for room, room_sent in sent.items():
            stored = await sync_to_async(stored_messages)(room)
            members = [
                client
                for client in clients.values()
                if room == "general"
                or (room == other.slug and client in (clients["t1"], clients["t2"]))
                or (room == steady_room.slug and client in steady)
            ]
            assert_everyone_holds_everything(members, room, stored, room_sent)
    finally:
        for client in clients.values():
            await client.close()
