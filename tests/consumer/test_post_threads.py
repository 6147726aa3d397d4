"""A post is not held up by other work on the database thread.

Every other hop of a process (handshakes, history, catch-up pages) shares one
database thread; posts run on threads of their own on PostgreSQL
(realtime/post_threads.py), so a slow read elsewhere does not delay anyone's
message. Through the real ASGI application and the Redis channel layer.
"""

import asyncio
import threading

import pytest
from django.db import connections

from realtime import post_threads
from tests.support.db import call
from tests.support.frames import receive_type, send

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_post_is_delivered_while_the_database_thread_is_busy(people, connect):
    alice, bob = await connect(people["alice"]), await connect(people["bob"])
    released = threading.Event()
    busy = asyncio.ensure_future(call(released.wait, 20))
    try:
        sent = await send(alice, "general", "still moving", "busy-1")
        received = await receive_type(bob, "message")
        assert not busy.done()  # the database thread was held all along
    finally:
        released.set()
        await busy
    assert received["message"]["id"] == sent["id"]
    assert received["message"]["body"] == "still moving"


async def test_posts_from_several_sockets_at_once_keep_one_order_for_everyone(people, connect):
    alice, bob = await connect(people["alice"]), await connect(people["bob"])
    carol = await connect(people["carol"])
    for i in range(10):
        for socket, name in ((alice, "alice"), (bob, "bob")):
            frame = {"type": "send", "room": "general", "body": f"{name} {i}"}
            await socket.send_json_to({**frame, "client_id": f"{name}{i}"})
    seen = [await receive_type(carol, "message") for _ in range(20)]
    seqs = [frame["seq"] for frame in seen]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 20
    assert sorted(frame["message"]["body"] for frame in seen) == sorted(
        f"{name} {i}" for name in ("alice", "bob") for i in range(10)
    )


def posted_on_the_database_thread() -> bool:
    threads = {}

    def where(label: str) -> None:
        threads[label] = threading.get_ident()

    async def both() -> None:
        await post_threads.post_hop(where)("post")
        await call(where, "database")

    asyncio.run(both())
    return threads["post"] == threads["database"]


def test_posts_leave_the_database_thread_on_postgresql():
    assert not posted_on_the_database_thread()


def test_without_postgresql_posts_stay_on_the_database_thread(monkeypatch):
    # Each thread has its own connection object: the backend's class says the vendor.
    monkeypatch.setattr(type(connections["default"]), "vendor", "sqlite")
    assert posted_on_the_database_thread()


def test_no_post_threads_configured_keeps_posts_on_the_database_thread(settings):
    settings.CHAT_POST_THREADS = 0
    assert posted_on_the_database_thread()
