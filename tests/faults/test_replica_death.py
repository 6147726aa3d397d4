"""A replica dies mid-conversation behind nginx: its clients reconnect and lose nothing.

Clients know only the load balancer's address, as browsers do; nginx sends
their reconnects to the surviving replica.
"""

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
    sig, start_replicas, load_balancer, people
):
    tokens = await people("alice", "bob", "carol", "dave")
    one, two = await sync_to_async(start_replicas)(2, **NO_RATE_LIMIT)
    nginx = await sync_to_async(load_balancer)([one, two])
    # Round robin puts two clients on each replica.
    clients = await start_clients(4, [nginx.ws_url], tokens)
    try:
        talk = asyncio.create_task(converse(clients, "general", rounds=15, pause=0.1))
        await asyncio.sleep(0.8)
        await sync_to_async(one.stop)(sig)
        sent = await talk
        await settle(clients)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 60
        assert_everyone_holds_everything(clients, "general", stored, sent)
        reconnected = [client for client in clients if client.connects > 1]
        assert len(reconnected) == 2, "the dead replica's clients came back through nginx"
    finally:
        for client in clients:
            await client.close()
