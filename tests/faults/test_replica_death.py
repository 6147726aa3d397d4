"""A replica dies mid-conversation: its clients reconnect elsewhere and lose nothing."""

import asyncio
import signal

import pytest
from asgiref.sync import sync_to_async

from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.clients import (
    assert_everyone_holds_everything,
    converse,
    settle,
    start_clients,
    stored_messages,
)

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
async def test_a_replica_dies_mid_conversation_and_every_client_ends_with_every_message_once(
    sig, start_replicas, people
):
    tokens = await people("alice", "bob", "carol", "dave")
    one, two = await sync_to_async(start_replicas)(2, **NO_RATE_LIMIT)
    # Clients 0 and 2 start on replica one, 1 and 3 on replica two.
    clients = await start_clients(4, [one.ws_url, two.ws_url], tokens)
    try:
        talk = asyncio.create_task(converse(clients, "general", rounds=15, pause=0.1))
        await asyncio.sleep(0.8)
        await sync_to_async(one.stop)(sig)
        sent = await talk
        await settle(clients)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 60
        assert_everyone_holds_everything(clients, "general", stored, sent)
        assert [client.connects for client in clients] == [2, 1, 2, 1]
    finally:
        for client in clients:
            await client.close()
