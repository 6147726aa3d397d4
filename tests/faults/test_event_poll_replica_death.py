"""A replica dies under a waiting GET /api/events: the long-polling client loses nothing.

Through nginx, as deployed: the poll waits on one replica, which is SIGKILLed;
nginx retries the GET on the survivor (nothing had been sent back), and the
cursor makes the retry answer exactly what the first would have. A message
posted on the survivor right after the kill reaches the client in that answer
or the next one, once.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.live import bearer, json_request
from tests.support.metrics import scrape

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


async def call(url: str, token: str, method: str, path: str, body: dict | None = None):
    return await asyncio.to_thread(json_request, method, url + path, bearer(token), body)


async def test_a_poll_whose_replica_is_killed_continues_on_the_survivor_with_nothing_lost(
    start_replicas, load_balancer, people
):
    replicas = await sync_to_async(start_replicas)(2, **NO_RATE_LIMIT)
    nginx = await sync_to_async(load_balancer)(replicas)
    alice, bob = await people("alice", "bob")
    status, first = await call(nginx.url, bob, "GET", "/api/events")
    assert status == 200
    status, before = await call(
        nginx.url, alice, "POST", "/api/rooms/general/messages", {"body": "before"}
    )
    assert status == 201
    status, answer = await call(
        nginx.url, bob, "GET", f"/api/events?cursor={first['cursor']}&timeout=0"
    )
    cursor = answer["cursor"]
    bodies = [f["message"]["body"] for f in answer["events"] if f["type"] == "message"]
    bodies += [c["body"] for f in answer["events"] if f["type"] == "synced" for c in f["changes"]]
    assert bodies == ["before"]

    waiting = asyncio.create_task(
        call(nginx.url, bob, "GET", f"/api/events?cursor={cursor}&timeout=20")
    )

    def waiting_on() -> list:
        return [r for r in replicas if scrape(r.http_url).get("chat_event_polls_waiting") == 1]

    for _ in range(50):
        if len(await asyncio.to_thread(waiting_on)) == 1:
            break
        await asyncio.sleep(0.1)
    (doomed,) = await asyncio.to_thread(waiting_on)
    (survivor,) = [r for r in replicas if r is not doomed]
    doomed.kill()
    status, _ = await call(
        survivor.http_url, alice, "POST", "/api/rooms/general/messages", {"body": "after the kill"}
    )
    assert status == 201

    received: list[str] = []
    status, answer = await asyncio.wait_for(waiting, 30)
    for _ in range(5):
        assert status == 200, answer
        for frame in answer["events"]:
            if frame["type"] == "message":
                received.append(frame["message"]["body"])
            elif frame["type"] == "synced":
                received += [c["body"] for c in frame["changes"]]
        if "after the kill" in received:
            break
        status, answer = await call(
            nginx.url, bob, "GET", f"/api/events?cursor={answer['cursor']}&timeout=10"
        )
    assert received == ["after the kill"], "every message once, none repeated, none lost"
