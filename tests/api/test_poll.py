"""Long polling in one process: answers at once, waits for the next message, skips none."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.utils.module_loading import import_string

from chat import services
from chat.models import Message, Room

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def api(alice, async_bearer):
    return async_bearer(alice)


def post(user, body: str, slug: str = "general") -> int:
    """Post like any client would (through the service) and return the id."""
    room = Room.objects.get(slug=slug)
    return services.message_post(user=user, room=room, body=body)[0].id


async def poll(api, slug: str = "general", **query) -> dict:
    response = await api.get(f"/api/rooms/{slug}/poll", query)
    assert response.status_code == 200, response.content
    return response.json()


def test_every_middleware_can_run_async_so_a_waiting_poll_holds_no_thread(settings):
    """One sync-only middleware and Django runs the whole request in a thread that
    stays blocked while the poll waits (and a client hanging up no longer cancels it)."""
    sync_only = [
        path
        for path in settings.MIDDLEWARE
        if not getattr(import_string(path), "async_capable", False)
    ]
    assert sync_only == [], "give these middleware an async path (see project/middleware.py)"


async def test_a_poll_answers_at_once_when_newer_messages_exist(alice, api):
    ids = [await database_sync_to_async(post)(alice, f"m{n}") for n in range(3)]
    answer = await poll(api, after=ids[0], timeout=30)
    assert [m["id"] for m in answer["messages"]] == ids[1:]
    assert answer["cursor"] == ids[-1]
    assert answer["has_more"] is False


async def test_with_nothing_newer_a_zero_timeout_answers_empty_with_the_same_cursor(alice, api):
    last = await database_sync_to_async(post)(alice, "old")
    assert await poll(api, after=last, timeout=0) == {
        "messages": [],
        "has_more": False,
        "cursor": last,
    }


async def test_a_waiting_poll_returns_the_next_message_as_soon_as_it_is_posted(alice, api):
    await database_sync_to_async(post)(alice, "already seen")
    waiting = asyncio.create_task(poll(api, timeout=30))  # no `after`: from the newest on
    await asyncio.sleep(0.5)
    assert not waiting.done(), "nothing new yet, so the poll must still be waiting"
    new_id = await database_sync_to_async(post)(alice, "news")
    answer = await asyncio.wait_for(waiting, 10)
    assert [(m["id"], m["body"]) for m in answer["messages"]] == [(new_id, "news")]
    assert answer["cursor"] == new_id


async def test_a_poll_is_woken_by_a_message_sent_over_a_websocket(alice, api, connect):
    socket = await connect(alice)
    waiting = asyncio.create_task(poll(api, after=0, timeout=30))
    await asyncio.sleep(0.3)
    await socket.send_json_to({"type": "send", "room": "general", "body": "via ws"})
    answer = await asyncio.wait_for(waiting, 10)
    assert [m["body"] for m in answer["messages"]] == ["via ws"]


async def test_other_rooms_and_typing_do_not_end_a_poll(alice, make_user, api, connect):
    bob = await database_sync_to_async(make_user)("bob")
    await database_sync_to_async(services.room_create)(creator=alice, name="Other", slug="other")
    bob_socket = await connect(bob)
    waiting = asyncio.create_task(poll(api, after=0, timeout=1.5))
    await asyncio.sleep(0.3)
    await bob_socket.send_json_to({"type": "typing", "room": "general"})
    await database_sync_to_async(post)(alice, "elsewhere", "other")
    answer = await asyncio.wait_for(waiting, 10)
    assert answer == {"messages": [], "has_more": False, "cursor": 0}


async def test_consecutive_polls_see_every_message_exactly_once_while_others_post(
    make_user, api, settings
):
    """Three writers post concurrently; a client that always passes its cursor misses nothing."""
    settings.CHAT_RATE_LIMIT_ENABLED = False
    writers = [await database_sync_to_async(make_user)(f"writer{n}") for n in range(3)]
    per_writer = 25

    async def write(user) -> None:
        for n in range(per_writer):
            await sync_to_async(post, thread_sensitive=False)(user, f"{user.username} {n}")
            await asyncio.sleep(0.005 * (n % 3))

    async def read() -> list[int]:
        seen: list[int] = []
        cursor = 0
        while len(seen) < per_writer * len(writers):
            answer = await poll(api, after=cursor, timeout=5)
            seen += [m["id"] for m in answer["messages"]]
            cursor = answer["cursor"]
        return seen

    readers = [asyncio.create_task(read()) for _ in range(2)]
    await asyncio.gather(*(write(user) for user in writers))
    stored = await database_sync_to_async(
        lambda: list(Message.objects.order_by("id").values_list("id", flat=True))
    )()
    for seen in await asyncio.wait_for(asyncio.gather(*readers), 60):
        assert seen == stored


async def test_an_outsider_cannot_poll_a_private_room(alice, make_user, async_bearer):
    bob = await database_sync_to_async(make_user)("bob")
    await database_sync_to_async(services.room_create)(
        creator=alice, name="Secret", slug="secret", kind="private"
    )
    outsider = await database_sync_to_async(async_bearer)(bob)
    response = await outsider.get("/api/rooms/secret/poll", {"timeout": 0})
    assert response.status_code == 404


@pytest.mark.parametrize("query", [{"timeout": 31}, {"timeout": -1}, {"after": -1}])
async def test_poll_parameters_are_validated(api, query):
    response = await api.get("/api/rooms/general/poll", query)
    assert response.status_code == 422


@pytest.mark.django_db(transaction=True)
def test_the_poll_delivers_thread_replies_too(make_user, bearer, default_room):
    alice = make_user("alice")
    root, _ = services.message_post(user=alice, room=default_room, body="root")
    reply, _ = services.message_post(user=alice, room=default_room, body="re", thread=root.id)
    page = bearer(alice).get(f"/api/rooms/general/poll?after={root.id - 1}&timeout=0").json()
    assert [(m["id"], m["thread"]) for m in page["messages"]] == [
        (root.id, None),
        (reply.id, root.id),
    ]
