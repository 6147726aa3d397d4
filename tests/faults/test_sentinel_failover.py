"""The Redis master dies under a Sentinel setup: Sentinel promotes the replica, nothing is lost.

A real master, a real replica and three ``redis-sentinel`` processes on
loopback (tests/support/sentinel.py); two daphne replicas reach everything
(channel layer, presence, rate limits, cache) through ``redis+sentinel://``.
The master is SIGKILLed while clients talk: every daphne replica follows the
promoted replica (its watchdog sees a new server and recycles its sockets),
and every client ends with every stored message once, in order.
"""

import asyncio
import time
import urllib.error
import urllib.request

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
from tests.support.sentinel import MASTER_NAME, SentinelSetup
from tests.support.servers import Replica, replica_env

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Sentinel here declares the master down after 1 s; with the election, the
# watchdog's next probe and the clients' reconnects, everything is back well
# within this (docs/operations.md, "Failover timing").
FOLLOW_WITHIN_SECS = 30


@pytest.fixture
def sentinel_setup():
    setup = SentinelSetup().start()
    yield setup
    setup.stop()


def readyz(replica) -> int:
    try:
        with urllib.request.urlopen(f"{replica.http_url}/readyz", timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def until_ready(replica, wanted: int) -> float:
    started = time.monotonic()
    while (status := await sync_to_async(readyz)(replica)) != wanted:
        if time.monotonic() - started > FOLLOW_WITHIN_SECS:
            raise AssertionError(f"/readyz of {replica.http_url} stayed {status}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_the_master_dies_mid_conversation_and_every_client_ends_with_everything(
    layer, sentinel_setup, start_replicas, people
):
    tokens = await people("alice", "bob", "carol", "dave")
    env = {"REDIS_URL": sentinel_setup.url, "CHANNEL_LAYER": layer, **NO_RATE_LIMIT}
    replicas = await sync_to_async(start_replicas)(2, **env)
    for replica in replicas:
        assert await sync_to_async(readyz)(replica) == 200
    clients = await start_clients(4, [r.ws_url for r in replicas], tokens)
    try:
        talk = asyncio.create_task(converse(clients[:2], "general", rounds=25, pause=0.1))
        await asyncio.sleep(0.8)
        old_master = sentinel_setup.master_port()
        await sync_to_async(sentinel_setup.kill_master)()
        killed_at = time.monotonic()
        promoted_after = await sync_to_async(sentinel_setup.wait_for_failover)()
        assert sentinel_setup.master_port() != old_master
        for replica in replicas:
            await until_ready(replica, 200)
        sent = await talk

        # Every replica's layer follows the new master: a new message reaches everyone.
        probe = await clients[3].send("general", "after the failover", "probe")
        sent.add("probe")

        async def heard(client) -> None:
            while probe["id"] not in client.rooms["general"]:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(asyncio.gather(*map(heard, clients)), FOLLOW_WITHIN_SECS)
        followed_after = time.monotonic() - killed_at
        await settle(clients)

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == 2 * 25 + 1
        assert_everyone_holds_everything(clients, "general", stored, sent)
        print(
            f"{layer}: Sentinel promoted the replica {promoted_after:.1f} s after the kill; "
            f"a new message reached every client {followed_after:.1f} s after it"
        )

        # No master at all: every replica says it is not ready.
        await sync_to_async(sentinel_setup.replica.kill)()
        for replica in replicas:
            await until_ready(replica, 503)
    finally:
        for client in clients:
            await client.close()


def test_a_master_name_sentinel_does_not_know_stops_the_replica(sentinel_setup, database_name):
    url = sentinel_setup.url.replace(f"/{MASTER_NAME}/", "/nosuchmaster/")
    replica = Replica(env=replica_env(database_name, REDIS_URL=url))
    with pytest.raises(RuntimeError):
        replica.start()
    assert replica.process.wait(timeout=10) != 0
    log = replica.log_text()
    assert "ImproperlyConfigured: REDIS_URL: no Sentinel knows a master named 'nosuchmaster'" in log
