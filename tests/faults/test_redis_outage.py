"""Redis goes away mid-conversation: no socket stays deaf, no message is lost.

Each test runs its own Redis (tests/support/redis_server.py): the machine's
Redis is shared and is never restarted or paused.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.clients import (
    ChatClient,
    assert_everyone_holds_everything,
    converse,
    settle,
    start_clients,
    stored_messages,
)

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# After Redis is back, every socket must hear new messages again (or have been
# closed, so that its client reconnected) within this long.
DEAF_AT_MOST_SECS = 10
PAUSE_SECS = 20


async def assert_nobody_is_deaf(clients: list[ChatClient], tag: str) -> None:
    """A message posted now reaches every client, live or through its catch-up."""
    probe = await clients[0].send("general", f"can you hear me ({tag})?", f"probe-{tag}")

    async def heard(client: ChatClient) -> None:
        while probe["id"] not in client.rooms["general"]:
            await asyncio.sleep(0.05)

    for client in clients:
        try:
            await asyncio.wait_for(heard(client), DEAF_AT_MOST_SECS)
        except TimeoutError:
            raise AssertionError(
                f"{client.name} did not hear a new message within {DEAF_AT_MOST_SECS} s "
                f"(socket open: {client.is_open}, connects: {client.connects})"
            ) from None


async def start_conversation(start_replicas, people, redis_url: str, layer: str):
    tokens = await people("alice", "bob", "carol", "dave")
    env = {"REDIS_URL": redis_url, "CHANNEL_LAYER": layer, **NO_RATE_LIMIT}
    one, two = await sync_to_async(start_replicas)(2, **env)
    return await start_clients(4, [one.ws_url, two.ws_url], tokens)


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_redis_restarts_mid_conversation_and_every_client_recovers_everything(
    layer, own_redis, start_replicas, people
):
    clients = await start_conversation(start_replicas, people, own_redis.url, layer)
    try:
        # Two talk, two only listen: a listener's socket has no send of its own to fail.
        talk = asyncio.create_task(converse(clients[:2], "general", rounds=20, pause=0.1))
        await asyncio.sleep(0.8)
        await sync_to_async(own_redis.restart)(down_for=1.0)
        sent = await talk
        await assert_nobody_is_deaf(clients, "after-restart")
        await settle(clients)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 2 * 20 + 1
        assert_everyone_holds_everything(clients, "general", stored, sent)
    finally:
        for client in clients:
            await client.close()


async def test_redis_paused_for_20_seconds_mid_conversation_loses_nothing(
    own_redis, start_replicas, people
):
    clients = await start_conversation(start_replicas, people, own_redis.url, "pubsub")
    try:
        talk = asyncio.create_task(converse(clients[:2], "general", rounds=12, pause=0.3))
        await asyncio.sleep(0.8)
        own_redis.pause()
        try:
            await asyncio.sleep(PAUSE_SECS)
        finally:
            own_redis.resume()
        sent = await talk
        await assert_nobody_is_deaf(clients, "after-pause")
        await settle(clients)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 2 * 12 + 1
        assert_everyone_holds_everything(clients, "general", stored, sent)
    finally:
        for client in clients:
            await client.close()
