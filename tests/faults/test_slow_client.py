"""A client that stops reading while its room gets 200 messages: dropped, counted, caught up.

The replica does not buffer without bound for it (project/server/slow_client.py,
SlowClientGuard): once 64 KiB wait unsent for CHAT_SLOW_CLIENT_GRACE_SECS (2 s
here, 30 s by default), its connection is dropped and chat_slow_clients_dropped
counts it. Nobody else waits for it, and it gets every message back from its
cursor when it reads again.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.clients import ChatClient, settle, stored_messages
from tests.support.metrics import scrape

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = 200
# 4,000 three-byte characters: 24 KB on the wire with the HTML, 4.8 MB for all, more
# than the kernel buffers on both ends (4 MB at most) can hide from the replica.
BODY = "€" * 3990


async def eventually(condition, timeout: float = 30, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


async def test_a_client_that_stops_reading_is_dropped_and_recovers_everything_by_catching_up(
    start_replicas, people
):
    alice, bob, slowpoke = await people("alice", "bob", "slowpoke")
    (replica,) = await sync_to_async(start_replicas)(
        1, CHAT_SLOW_CLIENT_GRACE_SECS="2", **NO_RATE_LIMIT
    )

    def client(token: str, name: str, **options) -> ChatClient:
        headers = {"Authorization": f"Bearer {token}"}
        return ChatClient([replica.ws_url], headers, name=name, **options)

    talker, reader = await client(alice, "alice").start(), await client(bob, "bob").start()
    slow = await client(slowpoke, "slowpoke", rcvbuf=4096).start()
    try:
        slow.stop_reading()
        for n in range(MESSAGES):
            await talker.send("general", f"{n:03}: {BODY}", f"flood-{n}")

        async def reader_has_all() -> bool:
            return len(reader.held("general")) >= MESSAGES

        await eventually(reader_has_all, what="bob (reading) gets every message live")
        assert reader.connects == 1

        async def dropped() -> bool:
            samples = await sync_to_async(scrape)(replica.http_url)
            return samples.get("chat_slow_clients_dropped_total", 0) >= 1

        await eventually(dropped, what="the replica drops and counts the slow client")

        # It reads again, on an ordinary connection from now on.
        slow.rcvbuf = None
        slow.resume_reading()
        await settle([slow])
        stored = [
            message_id for message_id, _, _ in await sync_to_async(stored_messages)("general")
        ]
        assert [message["id"] for message in slow.held("general")] == stored
        assert [message["id"] for message in reader.held("general")] == stored
        assert slow.connects == 2
    finally:
        for each in (talker, reader, slow):
            await each.close()
