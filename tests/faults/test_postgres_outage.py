"""PostgreSQL goes away mid-conversation: sends fail visibly, are retried, nothing is lost.

The machine's PostgreSQL is shared and is never restarted: replicas reach it
through a proxy of the test's own (tests/support/tcp_proxy.py), which the test
cuts, dropping every connection and refusing new ones, as a restart would.
"""

import asyncio

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

# Longer than a replica waits for a pooled connection (DATABASE_POOL_TIMEOUT,
# 10 s): sends during the outage fail instead of only waiting.
OUTAGE_SECS = 12


async def test_postgres_restarts_mid_conversation_and_every_client_recovers_everything(
    postgres_proxy, database_name, start_replicas, people
):
    tokens = await people("alice", "bob", "carol", "dave")
    through_proxy = f"postgres://postgres@127.0.0.1:{postgres_proxy.port}/{database_name}"
    one, two = await sync_to_async(start_replicas)(2, DATABASE_URL=through_proxy, **NO_RATE_LIMIT)
    clients = await start_clients(4, [one.ws_url, two.ws_url], tokens)
    try:
        talk = asyncio.create_task(converse(clients[:2], "general", rounds=20, pause=0.15))
        await asyncio.sleep(0.8)
        connections_before = postgres_proxy.connections
        postgres_proxy.cut()
        await asyncio.sleep(OUTAGE_SECS)
        postgres_proxy.restore()
        sent = await talk
        await settle(clients, timeout=60)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 2 * 20
        assert_everyone_holds_everything(clients, "general", stored, sent)
        # The replicas had to connect again, and sends that failed meanwhile ended
        # their sockets (4013, try again later); their clients resent them.
        assert postgres_proxy.connections > connections_before
        assert any(4013 in client.close_codes for client in clients[:2])
    finally:
        for client in clients:
            await client.close()
