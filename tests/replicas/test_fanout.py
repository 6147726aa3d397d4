"""Scale-out for real: separate daphne processes on one Redis and one PostgreSQL."""

import asyncio
import json
import os

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async

from chat.models import Room
from tests.support.live import handshake_status, next_frame, open_socket

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


async def test_a_message_sent_to_one_replica_reaches_members_on_another(
    start_replicas, make_user, token_for
):
    users = [await sync_to_async(make_user)(name) for name in ("alice", "bob", "carol")]
    tokens = [await sync_to_async(token_for)(user) for user in users]
    one, two = await sync_to_async(start_replicas)(2)
    alice = await open_socket(one, tokens[0])
    bob = await open_socket(two, tokens[1])
    carol = await open_socket(two, tokens[2])
    try:
        frame = {"type": "send", "room": "general", "body": "across", "client_id": "x1"}
        await alice.send(json.dumps(frame))
        for socket in (alice, bob, carol):
            message = (await next_frame(socket, "message"))["message"]
            assert (message["body"], message["author"]["username"]) == ("across", "alice")
        await bob.send(json.dumps({**frame, "body": "and back", "client_id": "y1"}))
        reply = (await next_frame(alice, "message"))["message"]
        assert (reply["body"], reply["author"]["username"]) == ("and back", "bob")
    finally:
        for socket in (alice, bob, carol):
            await socket.close()


async def test_cookie_handshakes_need_an_allowed_origin_and_a_session(start_replicas, make_user):
    from django.test import Client

    await sync_to_async(make_user)("alice")
    (replica,) = await sync_to_async(start_replicas)(1)
    client = Client()
    assert await sync_to_async(client.login)(username="alice", password="pw-alice")
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    origin = replica.http_url
    assert await handshake_status(replica.ws_url, {"Cookie": cookie, "Origin": origin}) == 101
    assert await handshake_status(replica.ws_url, {"Origin": origin}) == 403
    for foreign in ("http://evil.example", "null", "http://127.0.0.1.evil.example"):
        assert await handshake_status(replica.ws_url, {"Cookie": cookie, "Origin": foreign}) == 403
    assert await handshake_status(replica.ws_url, {"Cookie": cookie}) == 403
    assert await handshake_status(replica.ws_url, {"Authorization": "Bearer chat_wrong"}) == 403


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_an_idle_socket_still_receives_on_either_channel_layer(
    start_replicas, make_user, token_for, layer
):
    """Idle longer than redis-py's 5 s read timeout, which broke the core layer's pops."""
    users = [await sync_to_async(make_user)(name) for name in ("alice", "bob")]
    tokens = [await sync_to_async(token_for)(user) for user in users]
    one, two = await sync_to_async(start_replicas)(2, CHANNEL_LAYER=layer)
    alice, bob = await open_socket(one, tokens[0]), await open_socket(two, tokens[1])
    try:
        await asyncio.sleep(7)
        frame = {"type": "send", "room": "general", "body": "still there?", "client_id": "idle"}
        await alice.send(json.dumps(frame))
        assert (await next_frame(bob, "message"))["message"]["body"] == "still there?"
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.parametrize("layer", ["core", "pubsub"])
async def test_each_replica_joins_a_room_once_however_many_of_its_sockets_are_in_it(
    start_replicas, make_user, token_for, layer
):
    users = [await sync_to_async(make_user)(f"user{n}") for n in range(5)]
    tokens = [await sync_to_async(token_for)(user) for user in users]
    general = await sync_to_async(Room.objects.get)(slug="general")
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}:asgi"
    store = aioredis.Redis.from_url(os.environ["REDIS_URL"])

    async def members_in_the_layer() -> int:
        """What every group_send goes to: channel names (core), subscriptions (pub/sub)."""
        if layer == "core":
            return await store.zcard(f"{prefix}:group:room.{general.pk}")
        channel = f"{prefix}__group__room.{general.pk}"
        return dict(await store.pubsub_numsub(channel)).get(channel.encode(), 0)

    async def until_members(count: int) -> None:
        for _ in range(100):
            if await members_in_the_layer() == count:
                return
            await asyncio.sleep(0.05)
        assert await members_in_the_layer() == count

    one, two = await sync_to_async(start_replicas)(2, CHANNEL_LAYER=layer)
    on_one = [await open_socket(one, token) for token in tokens[:4]]
    on_two = [await open_socket(two, tokens[4])]
    try:
        await until_members(2)  # four sockets on one replica, one on the other
        frame = {"type": "send", "room": "general", "body": "to all five", "client_id": "f1"}
        await on_two[0].send(json.dumps(frame))
        for socket in on_one + on_two:
            assert (await next_frame(socket, "message"))["message"]["body"] == "to all five"
        await on_two[0].close()
        await until_members(1)  # its last socket gone, that replica left the room
    finally:
        for socket in on_one + on_two:
            await socket.close()
        await store.aclose()
