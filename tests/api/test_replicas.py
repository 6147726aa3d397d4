"""The API across real daphne replicas: HTTP and WebSocket clients on different replicas
meet, and a waiting long poll costs a replica no thread and no database connection."""

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from asgiref.sync import sync_to_async
from django.db import connection

from chat import services
from chat.models import Room
from tests.support.live import bearer, next_frame, open_socket
from tests.support.metrics import scrape

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


async def test_a_long_poll_on_one_replica_is_woken_by_a_websocket_send_on_another(
    start_replicas, make_user, token_for
):
    alice, bob = [await sync_to_async(make_user)(name) for name in ("alice", "bob")]
    alice_token, bob_token = [await sync_to_async(token_for)(user) for user in (alice, bob)]
    one, two = await sync_to_async(start_replicas)(2)
    socket = await open_socket(two, bob_token)
    try:
        polling = asyncio.create_task(
            asyncio.to_thread(
                requests.get,
                f"{one.http_url}/api/rooms/general/poll",
                params={"after": 0, "timeout": 30},
                headers=bearer(alice_token),
                timeout=40,
            )
        )
        await asyncio.sleep(1)
        assert not polling.done(), "nothing was posted yet, so the poll must be waiting"
        await socket.send(json.dumps({"type": "send", "room": "general", "body": "over ws"}))
        sent = (await next_frame(socket, "message"))["message"]
        response = await asyncio.wait_for(polling, 20)
    finally:
        await socket.close()
    assert response.status_code == 200
    assert response.json()["messages"] == [sent]


async def test_a_message_posted_over_http_reaches_sockets_on_every_replica(
    start_replicas, make_user, token_for
):
    users = [await sync_to_async(make_user)(name) for name in ("alice", "bob", "carol")]
    tokens = [await sync_to_async(token_for)(user) for user in users]
    one, two = await sync_to_async(start_replicas)(2)
    sockets = [await open_socket(one, tokens[1]), await open_socket(two, tokens[2])]
    try:
        response = await asyncio.to_thread(
            requests.post,
            f"{one.http_url}/api/rooms/general/messages",
            json={"body": "from a bot", "client_id": "bot-1"},
            headers=bearer(tokens[0]),
            timeout=10,
        )
        assert response.status_code == 201
        for socket in sockets:
            assert (await next_frame(socket, "message"))["message"] == response.json()
    finally:
        for socket in sockets:
            await socket.close()


def test_waiting_polls_hold_no_thread_and_no_database_connection(
    start_replicas, make_user, token_for
):
    """Forty polls wait on one replica; then one message wakes them all."""
    waiting_polls = 40
    alice = make_user("alice")
    headers = bearer(token_for(alice))
    # Without the connection pool (which keeps up to DATABASE_POOL_MAX_SIZE idle
    # connections by design) any connection a waiting poll held would show.
    # One user's forty polls: the cap (10 by default) raised, its slots still held.
    (replica,) = start_replicas(1, DATABASE_POOL="0", CHAT_MAX_LONG_POLLS_PER_USER="40")
    url = f"{replica.http_url}/api/rooms/general/poll"
    assert requests.get(url, params={"timeout": 0}, headers=headers, timeout=10).ok

    def threads() -> int:
        return len(os.listdir(f"/proc/{replica.process.pid}/task"))

    def database_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    before = threads(), database_connections()
    with ThreadPoolExecutor(waiting_polls) as pool:
        polls = [
            pool.submit(
                requests.get,
                url,
                params={"after": 0, "timeout": 30},
                headers=headers,
                timeout=40,
            )
            for _ in range(waiting_polls)
        ]
        wait_until_waiting(replica, waiting_polls)
        during = settled(
            lambda: (threads(), database_connections()), below=(before[0] + 4, before[1] + 2)
        )
        services.message_post(user=alice, room=Room.objects.get(slug="general"), body="wake up")
        answers = [poll.result(timeout=20) for poll in polls]

    assert [[m["body"] for m in a.json()["messages"]] for a in answers] == [["wake up"]] * 40
    added_threads, added_connections = during[0] - before[0], during[1] - before[1]
    assert added_threads <= 4, f"{waiting_polls} waiting polls added {added_threads} threads"
    assert added_connections <= 2, f"they added {added_connections} database connections"


def settled(measure, *, below: tuple[int, int], timeout: float = 15) -> tuple[int, int]:
    """The measure once it is within bounds, or its last value: released threads
    finish exiting on their own time, which a loaded machine stretches."""
    deadline = time.monotonic() + timeout
    value = measure()
    while any(v > b for v, b in zip(value, below, strict=True)) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = measure()
    return value


def wait_until_waiting(replica, count: int, timeout: float = 20) -> None:
    """Until the replica reports `count` polls waiting for a message."""
    deadline = time.monotonic() + timeout
    while scrape(replica.http_url).get("chat_long_polls_waiting", 0) < count:
        assert time.monotonic() < deadline, "the polls never started waiting"
        time.sleep(0.1)
