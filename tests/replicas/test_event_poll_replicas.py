"""GET /api/events across two real replicas: the cursor crosses replicas, nothing lost or doubled.

Two long-polling clients alternate their polls between replica A and replica B
(every poll lands on the other replica than the last), while two writers post,
edit and react concurrently through both replicas' HTTP API. Each poller ends
equal to a fresh fetch of the room, was handed every seq at most once and in
order, and got every message the writers stored.
"""

import asyncio
import itertools

import pytest
from asgiref.sync import sync_to_async

from tests.support.conversation_state import differences, fresh_view
from tests.support.event_poller import EventPoller
from tests.support.live import json_request
from tests.support.metrics import scrape

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

ROOM = "general"
POSTS_PER_WRITER = 40


async def call(base_url: str, headers: dict, method: str, path: str, body: dict | None = None):
    return await asyncio.to_thread(json_request, method, base_url + path, headers, body)


def alternating_poller(urls: list[str], headers: dict) -> tuple[EventPoller, list[str]]:
    """A poller whose every poll goes to the other replica; returns it and where each went."""
    turns = itertools.cycle(urls)
    landed: list[str] = []

    async def get(query: dict) -> tuple[int, dict]:
        url = next(turns)
        landed.append(url)
        path = "/api/events?" + "&".join(f"{key}={value}" for key, value in query.items())
        return await call(url, headers, "GET", path)

    return EventPoller(get), landed


async def write(base_url: str, headers: dict, name: str) -> list[int]:
    """Post, and now and then edit the post before or react to it, as fast as answers come."""
    ids = []
    for n in range(POSTS_PER_WRITER):
        status, message = await call(
            base_url,
            headers,
            "POST",
            f"/api/rooms/{ROOM}/messages",
            {"body": f"{name} {n}", "client_id": f"{name}-{n}"},
        )
        assert status == 201, message
        ids.append(message["id"])
        if n % 5 == 4:
            status, _ = await call(
                base_url, headers, "PATCH", f"/api/messages/{ids[-2]}", {"body": f"{name} {n - 1}*"}
            )
            assert status == 200
        if n % 7 == 6:
            status, _ = await call(
                base_url, headers, "POST", f"/api/messages/{ids[-3]}/reactions", {"emoji": "👍"}
            )
            assert status == 200
    return ids


async def test_two_pollers_alternating_replicas_get_every_change_of_two_writers_once_in_order(
    start_replicas, people
):
    one, two = await sync_to_async(start_replicas)(2, CHAT_RATE_LIMIT_ENABLED="0")
    urls = [one.http_url, two.http_url]
    pollers = []
    for name in ("carol", "dave"):
        poller, landed = alternating_poller(urls, people[name].headers)
        await poller.start()
        pollers.append((poller, landed))
    stop = asyncio.Event()

    async def keep_polling(poller: EventPoller) -> None:
        while not stop.is_set():
            await poller.poll(timeout=5)

    polling = [asyncio.create_task(keep_polling(poller)) for poller, _ in pollers]
    written = await asyncio.gather(
        write(one.http_url, people["alice"].headers, "alice"),
        write(two.http_url, people["bob"].headers, "bob"),
    )
    everything = {message_id for ids in written for message_id in ids}

    async def reader(slug: str, thread: int | None, before: int | None) -> dict:
        query = "limit=100" + (f"&thread={thread}" if thread else "")
        query += f"&before={before}" if before else ""
        status, page = await call(
            one.http_url, people["alice"].headers, "GET", f"/api/rooms/{slug}/messages?{query}"
        )
        assert status == 200
        return page

    status, room = await call(one.http_url, people["alice"].headers, "GET", f"/api/rooms/{ROOM}")
    final_seq = room["seq"]
    for poller, _ in pollers:
        for _ in range(40):
            if poller.state.seq(ROOM) >= final_seq:
                break
            await asyncio.sleep(0.25)
    stop.set()
    await asyncio.gather(*polling)
    fresh = await fresh_view(reader, ROOM)
    for poller, landed in pollers:
        assert poller.state.seq(ROOM) == final_seq, "the poller caught up to the room's last change"
        held = set(poller.state.room(ROOM).messages)
        assert everything <= held, f"missing {sorted(everything - held)[:10]}"
        seqs = poller.seqs(ROOM)
        assert seqs == sorted(set(seqs)), "no change handed twice, none out of order"
        assert differences(poller.state.view(ROOM), fresh) == []
        assert {one.http_url, two.http_url} <= set(landed), "the cursor crossed replicas"


async def test_a_poll_waiting_on_one_replica_is_woken_by_a_post_on_the_other_and_counted(
    start_replicas, people
):
    one, two = await sync_to_async(start_replicas)(2)
    carol = people["carol"].headers
    status, first = await call(one.http_url, carol, "GET", "/api/events")
    assert status == 200
    waiting = asyncio.create_task(
        call(one.http_url, carol, "GET", f"/api/events?cursor={first['cursor']}&timeout=20")
    )
    for _ in range(40):
        if scrape(one.http_url).get("chat_event_polls_waiting") == 1:
            break
        await asyncio.sleep(0.1)
    metrics = scrape(one.http_url)
    assert metrics.get("chat_event_polls_waiting") == 1
    assert metrics.get("chat_event_poll_clients") == 1
    status, _ = await call(
        two.http_url,
        people["alice"].headers,
        "POST",
        f"/api/rooms/{ROOM}/messages",
        {"body": "hi carol"},
    )
    assert status == 201
    status, answer = await asyncio.wait_for(waiting, 10)
    assert status == 200
    assert [(f["type"], f["message"]["body"]) for f in answer["events"]] == [
        ("message", "hi carol")
    ]
    assert scrape(one.http_url).get("chat_event_polls_waiting") == 0
