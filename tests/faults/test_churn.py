"""10,000 connect/disconnect cycles: Redis keys and replica memory return to baseline.

Replicas run with DJANGO_DEBUG=0, as in production: in debug mode Django keeps
the last 9,000 queries of every database connection, which would hide a leak
behind its own growth. Each user has a room of their own, so every cycle
subscribes and unsubscribes a room group and turns its user on- and offline
without fanning out to everyone else's sockets.
"""

import asyncio
import itertools
import json
import os
import time

import pytest
import redis
import websockets
from asgiref.sync import sync_to_async

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# FAULTS_CHURN_CYCLES lowers it for a quick local run; the campaign's number is 10,000.
CYCLES = int(os.environ.get("FAULTS_CHURN_CYCLES", "10000"))
# Caches, pools and the thread pool fill during the first couple of thousand sockets.
WARM_UP = 2_000
CONCURRENCY = 40
USERS = 20
# Each replica serves a thousand sockets per fifth of the run: a leak of 512 bytes
# a socket grows it by half a MiB every fifth.
LEAK_PER_FIFTH_BYTES = 2**19
# Python's allocator takes memory in steps (arenas, pools) it may keep.
STEPS_AT_MOST_BYTES = 12 * 2**20
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "churn-test-secret-key",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_SECURE_COOKIES": "0",
    "LOG_LEVEL": "WARNING",
    # Memory that grows in steps, not per socket, is opened up front instead of
    # mid-test: every pooled database connection, and one malloc arena (glibc
    # gives each new thread its own, tens of MB of it touched at once).
    "DATABASE_POOL_MIN_SIZE": "10",
    "DATABASE_POOL_MAX_SIZE": "10",
    "MALLOC_ARENA_MAX": "1",
}


def uss(pid: int) -> int:
    """Unique set size: the memory only this process holds (Private_Clean + Private_Dirty)."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name.startswith("Private_"):
                fields[name] = int(rest.split()[0]) * 1024
    return fields["Private_Clean"] + fields["Private_Dirty"]


async def resting_uss(pid: int) -> int:
    """USS once the replica is idle: the least of a few samples (ignores a passing spike)."""
    samples = []
    for _ in range(6):
        await asyncio.sleep(0.5)
        samples.append(uss(pid))
    return min(samples)


async def cycle_sockets(urls: list[str], tokens: list[str], count: int) -> int:
    """Open and close `count` sockets, CONCURRENCY at a time, across replicas and users.

    Returns how many handshakes had to be retried: on a saturated machine daphne
    drops a handshake the application has not accepted within 5 s, and a client
    tries again, as the browser does.
    """
    counter = iter(range(count))
    retried = 0

    async def worker(lane: int) -> None:
        nonlocal retried
        for n in counter:
            headers = {"Authorization": f"Bearer {tokens[(n + lane) % len(tokens)]}"}
            for attempt in range(5):
                try:
                    async with websockets.connect(
                        urls[(n + attempt) % len(urls)], additional_headers=headers
                    ) as socket:
                        hello = json.loads(await asyncio.wait_for(socket.recv(), 60))
                    assert hello["type"] == "hello"
                    break
                except (websockets.InvalidMessage, websockets.ConnectionClosedError, OSError):
                    retried += 1
                    await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"socket {n} could not connect in 5 attempts")

    await asyncio.gather(*(worker(lane) for lane in range(CONCURRENCY)))
    return retried


async def settled_keys(client: redis.Redis) -> set[bytes]:
    """Redis' keys once no socket is open any more (presence cleaned up)."""
    deadline = time.monotonic() + 15
    while True:
        keys = set(client.keys("*"))
        if not any(b":presence:conns:" in key for key in keys) or time.monotonic() > deadline:
            return keys
        await asyncio.sleep(0.2)


def users_with_rooms(django_user_model, token_for) -> list[str]:
    from accounts.services import profile_ensure
    from chat import services

    tokens = []
    for n in range(USERS):
        user = django_user_model.objects.create_user(f"churn{n}")
        profile_ensure(user=user)
        services.room_create(creator=user, name=f"Own {n}", slug=f"own-{n}", kind="private")
        tokens.append(token_for(user))
    return tokens


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_ten_thousand_connect_disconnect_cycles_leave_no_keys_and_no_memory_behind(
    start_replicas, django_user_model, token_for
):
    tokens = await sync_to_async(users_with_rooms)(django_user_model, token_for)
    replicas = await sync_to_async(start_replicas)(2, **PRODUCTION)
    urls = [replica.ws_url for replica in replicas]
    store = redis.Redis.from_url(os.environ["REDIS_URL"])

    await cycle_sockets(urls, tokens, WARM_UP)
    keys_before = await settled_keys(store)
    memory_before = [await resting_uss(replica.process.pid) for replica in replicas]

    started = time.monotonic()
    retried, series = 0, [memory_before]
    for _ in range(5):  # USS after every fifth, to tell a leak (a slope) from a step
        retried += await cycle_sockets(urls, tokens, CYCLES // 5)
        series.append([await resting_uss(replica.process.pid) for replica in replicas])
    elapsed = time.monotonic() - started

    keys_after = await settled_keys(store)
    print(f"{CYCLES} cycles in {elapsed:.1f} s ({retried} handshakes retried); USS {series}")
    assert keys_after == keys_before
    for index, replica in enumerate(replicas):
        usage = [sample[index] for sample in series]
        growth = [after - before for before, after in itertools.pairwise(usage)]
        # A leak grows the process in every fifth; the allocator grows in steps,
        # now and then: some fifth must be (nearly) flat, and the total bounded.
        assert min(growth) < LEAK_PER_FIFTH_BYTES, f"{replica.port} leaks: {usage}"
        assert usage[-1] - usage[0] < STEPS_AT_MOST_BYTES, f"{replica.port} grew: {usage}"
