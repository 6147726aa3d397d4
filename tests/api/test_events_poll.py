"""GET /api/events in one process: every frame kind, the user's own events, the cursor's
edge cases, the cap, and the end of a session (the cross-replica half is in
tests/replicas/test_event_poll_replicas.py)."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from chat import presence, reactions, services
from chat.models import Membership, Message, Room, UserEvent
from realtime import event_poll, sockets
from tests.support.conversation_state import differences, fresh_view
from tests.support.event_poller import EventPoller
from tests.support.frames import of_type, presence_of, settled

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def poller_for(client) -> EventPoller:
    async def get(query: dict) -> tuple[int, dict]:
        response = await client.get("/api/events", query)
        return response.status_code, response.json()

    return EventPoller(get)


@pytest.fixture
def bob_polls(bob, async_bearer):
    return poller_for(async_bearer(bob))


@pytest.fixture
def alice_api(alice, async_bearer):
    return async_bearer(alice)


def room(slug: str = "general") -> Room:
    return Room.objects.get(slug=slug)


def post(user, body: str, slug: str = "general", thread: int | None = None) -> Message:
    return services.message_post(user=user, room=room(slug), body=body, thread=thread)[0]


def page_reader(client):
    async def read(slug: str, thread: int | None, before: int | None) -> dict:
        query = {"limit": 100, **({"thread": thread} if thread else {})}
        if before:
            query["before"] = before
        response = await client.get(f"/api/rooms/{slug}/messages", query)
        assert response.status_code == 200, response.content
        return response.json()

    return read


in_db = database_sync_to_async


async def test_without_a_cursor_the_answer_comes_at_once_with_no_frames(bob_polls):
    status, body = await bob_polls.get({"timeout": 30})
    assert status == 200
    assert body["events"] == []
    assert isinstance(body["cursor"], str) and body["cursor"]


async def test_a_waiting_poll_answers_with_the_sockets_message_frame_as_soon_as_it_is_posted(
    alice, bob_polls
):
    await bob_polls.start()
    waiting = asyncio.create_task(bob_polls.poll(timeout=30))
    await asyncio.sleep(0.5)
    assert not waiting.done(), "nothing happened yet: the poll must wait"
    message = await in_db(post)(alice, "hello bob")
    frames = await asyncio.wait_for(waiting, 10)
    assert [(f["type"], f["message"]["body"], f["seq"]) for f in frames] == [
        ("message", "hello bob", message.seq)
    ]
    assert frames[0]["message"]["author"]["username"] == "alice"


async def test_every_change_to_a_message_reaches_a_waiting_poller_as_the_socket_frame(
    alice, bob, bob_polls, alice_api
):
    root = await in_db(post)(alice, "root")
    doomed = await in_db(post)(alice, "doomed")
    await bob_polls.start()
    changes = [
        lambda: services.message_edit(user=alice, message_id=root.id, body="root, edited"),
        lambda: services.message_post(user=bob, room=room(), body="reply", thread=root.id),
        lambda: reactions.reaction_set(user=bob, message_id=root.id, emoji="👍", on=True),
        lambda: reactions.pin_set(user=alice, message_id=root.id, on=True),
        lambda: services.message_delete(user=alice, message_id=doomed.id),
    ]
    for change in changes:
        waiting = asyncio.create_task(bob_polls.poll(timeout=30))
        await asyncio.sleep(0.2)
        await in_db(change)()
        await asyncio.wait_for(waiting, 10)
    kinds = [frame["type"] for frame in bob_polls.frames]
    for kind in ("message_edited", "message", "thread_updated", "reaction", "message_pinned"):
        assert kind in kinds, kinds
    assert kinds[-1] == "message_deleted"
    seqs = bob_polls.seqs("general")
    assert seqs == sorted(set(seqs)), "each change once, in seq order"
    assert (
        differences(
            bob_polls.state.view("general"), await fresh_view(page_reader(alice_api), "general")
        )
        == []
    )


async def test_changes_made_between_polls_come_as_the_synced_page_with_nothing_missing(
    alice, bob, bob_polls, alice_api
):
    first = await in_db(post)(alice, "before the cursor")
    await bob_polls.start()
    await in_db(post)(alice, "new while away")
    await in_db(services.message_edit)(user=alice, message_id=first.id, body="edited while away")
    await in_db(reactions.reaction_set)(user=bob, message_id=first.id, emoji="🎉", on=True)
    frames = await bob_polls.poll(timeout=30)
    assert [frame["type"] for frame in frames] == ["synced"]
    synced = frames[0]
    assert synced["room"] == "general" and synced["has_more"] is False
    bodies = {change["body"] for change in synced["changes"]}
    assert bodies == {"new while away", "edited while away"}
    assert await bob_polls.poll(timeout=0) == [], "nothing is repeated"
    held = bob_polls.state.room("general").messages
    assert sorted(held) == sorted({first.id, *[c["id"] for c in synced["changes"]]})
    assert held[first.id]["reactions"][0]["emoji"] == "🎉"


async def test_the_users_own_events_arrive_in_order_even_between_polls(alice, bob, bob_polls):
    def setup() -> None:
        services.room_create(creator=alice, name="Plans", slug="plans")

    await in_db(setup)()
    await bob_polls.start()

    def happen() -> None:
        services.room_invite(by=alice, room=room("plans"), username="bob")
        last = post(alice, "in plans", "plans")
        services.read_mark(user=bob, room=room("plans"), message_id=last.id)
        services.notify_set(user=bob, room=room("plans"), notify="none")
        services.member_remove(by=alice, room=room("plans"), username="bob")

    await in_db(happen)()
    await bob_polls.poll_until(lambda: bool(bob_polls.of_type("room_removed")))
    own = [
        f
        for f in bob_polls.frames
        if f["type"] in {"room_added", "read", "room_notify", "room_removed"}
    ]
    assert [f["type"] for f in own] == ["room_added", "read", "room_notify", "room_removed"]
    assert own[0]["room"]["slug"] == "plans"
    assert own[1] == {**own[1], "room": "plans", "unread": 0}
    assert own[2] == {"type": "room_notify", "room": "plans", "notify": "none"}
    assert own[3] == {"type": "room_removed", "room": "plans"}
    await in_db(post)(alice, "after bob left", "plans")
    assert await bob_polls.poll(timeout=1) == [], "a room you left yields nothing more"


async def test_an_invite_wakes_a_waiting_poll_and_the_new_rooms_messages_follow(alice, bob_polls):
    await in_db(services.room_create)(creator=alice, name="Plans", slug="plans")
    await bob_polls.start()
    waiting = asyncio.create_task(bob_polls.poll(timeout=30))
    await asyncio.sleep(0.3)
    await in_db(services.room_invite)(by=alice, room=await in_db(room)("plans"), username="bob")
    frames = await asyncio.wait_for(waiting, 10)
    assert [f["type"] for f in frames] == ["room_added"]
    await in_db(post)(alice, "welcome", "plans")
    await bob_polls.poll_until(
        lambda: any(m["body"] == "welcome" for m in bob_polls.state.view("plans")["timeline"])
    )


async def test_a_member_removed_while_waiting_gets_room_removed_and_not_the_next_message(
    alice, bob, bob_polls
):
    def setup() -> None:
        services.room_create(creator=alice, name="Plans", slug="plans")
        services.room_invite(by=alice, room=room("plans"), username="bob")

    await in_db(setup)()
    await bob_polls.start()
    waiting = asyncio.create_task(bob_polls.poll(timeout=30))
    await asyncio.sleep(0.3)

    def remove_then_post() -> None:
        services.member_remove(by=alice, room=room("plans"), username="bob")
        post(alice, "secret after bob left", "plans")

    await in_db(remove_then_post)()
    await asyncio.wait_for(waiting, 10)
    await bob_polls.poll(timeout=1)
    assert bob_polls.of_type("room_removed") == [{"type": "room_removed", "room": "plans"}]
    assert "secret" not in json.dumps(bob_polls.frames)


async def test_a_room_added_in_the_admin_without_an_event_is_announced(alice, bob, bob_polls):
    await in_db(services.room_create)(creator=alice, name="Plans", slug="plans")
    await bob_polls.start()
    await in_db(Membership.objects.create)(room=await in_db(room)("plans"), user=bob)
    frames = await bob_polls.poll(timeout=0)
    assert [(f["type"], f["room"]["slug"]) for f in frames] == [("room_added", "plans")]
    await in_db(Membership.objects.filter(room__slug="plans", user=bob).delete)()
    assert await bob_polls.poll(timeout=0) == [{"type": "room_removed", "room": "plans"}]


async def test_best_effort_frames_published_while_waiting_are_delivered(
    alice, bob, bob_polls, alice_api
):
    await bob_polls.start()
    waiting = asyncio.create_task(bob_polls.poll(timeout=30))
    await asyncio.sleep(0.3)
    response = await alice_api.post("/api/rooms/general/typing")
    assert response.status_code == 204
    frames = await asyncio.wait_for(waiting, 10)
    assert [(f["type"], f["user"]["username"]) for f in frames] == [("typing", "alice")]


async def test_typing_over_http_is_for_members_and_throttled(
    alice, make_user, async_bearer, alice_api
):
    await in_db(services.room_create)(creator=alice, name="Plans", slug="plans")
    outsider = await sync_to_async(async_bearer)(await sync_to_async(make_user)("outsider"))
    assert (await outsider.post("/api/rooms/plans/typing")).status_code == 403
    assert (await outsider.post("/api/rooms/nowhere/typing")).status_code == 404
    statuses = [(await alice_api.post("/api/rooms/plans/typing")).status_code for _ in range(5)]
    assert statuses[0] == 204 and statuses[-1] == 429


async def test_a_cursor_of_another_user_or_too_far_behind_is_told_to_resync(
    alice, bob, bob_polls, async_bearer, settings
):
    await bob_polls.start()
    alice_polls = poller_for(await sync_to_async(async_bearer)(alice))
    status, body = await alice_polls.get({"cursor": bob_polls.cursor, "timeout": 0})
    assert (status, body["code"]) == (410, "cursor_expired")

    settings.CHAT_USER_EVENTS_KEPT = 50
    general = await in_db(room)()

    def many_reads() -> None:
        for _ in range(event_poll.USER_EVENTS_PAGE + 20):
            services.read_mark(user=bob, room=general, message_id=0)

    await in_db(many_reads)()
    assert await in_db(UserEvent.objects.filter(user=bob).count)() < 120, "old events were trimmed"
    status, body = await bob_polls.get({"cursor": bob_polls.cursor, "timeout": 0})
    assert status == 410 and body["code"] == "cursor_expired"
    assert "poll without a cursor" in body["detail"]


@pytest.mark.parametrize("cursor", ["garbage", "eJwDAAAAAAE", "A" * 7001, "not:url-safe"])
async def test_a_malformed_cursor_is_a_clear_422(bob_polls, cursor):
    status, body = await bob_polls.get({"cursor": cursor, "timeout": 0})
    assert status == 422 and body["code"] == "invalid", body


async def test_polls_beyond_the_per_user_cap_are_refused_and_a_finished_one_frees_its_slot(
    bob_polls, settings
):
    settings.CHAT_MAX_LONG_POLLS_PER_USER = 2
    await bob_polls.start()
    query = {"cursor": bob_polls.cursor, "timeout": 3}
    waiting = [asyncio.create_task(bob_polls.get(query)) for _ in range(2)]
    await asyncio.sleep(0.5)
    status, body = await bob_polls.get(query)
    assert (status, body["code"]) == (429, "rate_limited")
    assert [(await task)[0] for task in waiting] == [200, 200]
    assert (await bob_polls.get({**query, "timeout": 0}))[0] == 200


async def test_a_poll_whose_token_is_revoked_while_waiting_gets_401(bob):
    from accounts.services import token_create, token_revoke
    from tests.api.conftest import AsyncJsonClient

    token, raw = await in_db(token_create)(user=bob, name="script")
    polls = poller_for(AsyncJsonClient({"Authorization": f"Bearer {raw}"}))
    await polls.start()
    waiting = asyncio.create_task(polls.get({"cursor": polls.cursor, "timeout": 30}))
    await asyncio.sleep(0.5)
    assert await in_db(token_revoke)(user=bob, token_id=token.pk)
    status, _ = await asyncio.wait_for(waiting, 10)
    assert status == 401


async def test_a_new_direct_room_arrives_named_after_the_other_person_for_both(
    alice, bob, bob_polls, alice_api
):
    alice_polls = poller_for(alice_api)
    for polls in (alice_polls, bob_polls):
        await polls.start()
    await in_db(services.direct_room_open)(user=bob, username="alice")
    for polls, peer in ((alice_polls, "bob"), (bob_polls, "alice")):
        frames = await polls.poll(timeout=5)
        (added,) = [f for f in frames if f["type"] == "room_added"]
        assert (added["room"]["kind"], added["room"]["peer"]) == ("direct", peer)


async def test_a_user_who_long_polls_is_online_for_the_members_until_the_polls_stop(
    alice, bob, bob_polls, connect, settings
):
    """Without a WebSocket bob still shows online; the gaps between his polls never turn
    him offline; once he stops polling he goes offline, like a socket that vanished."""
    settings.CHAT_PRESENCE_TTL_SECS = 1.0
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 0.4
    alice_socket = await connect(alice)
    assert await in_db(presence.backend().online)([bob.pk]) == set()

    await bob_polls.start()
    online = {"type": "presence", "room": "general", "user": "bob", "online": True}
    assert await presence_of(alice_socket, "bob") == online
    for _ in range(3):  # polling on, each answer at once, with pauses between them
        await bob_polls.poll(timeout=0)
        await asyncio.sleep(0.4)
        await in_db(sockets.presence_sweep)()
    assert [f for f in of_type(await settled(alice_socket), "presence") if f["user"] == "bob"] == []
    assert await in_db(presence.backend().online)([bob.pk]) == {bob.pk}

    await asyncio.sleep(1.2)  # his last poll waited 0 s: gone after the TTL
    await in_db(sockets.presence_sweep)()
    assert await presence_of(alice_socket, "bob") == {**online, "online": False}
    assert await in_db(presence.backend().online)([bob.pk]) == set()


async def test_a_long_poll_keeps_its_user_online_for_as_long_as_it_waits(
    alice, bob, bob_polls, connect, settings
):
    settings.CHAT_PRESENCE_TTL_SECS = 0.5
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 0.2
    alice_socket = await connect(alice)
    await bob_polls.start()
    await presence_of(alice_socket, "bob")
    waiting = asyncio.ensure_future(bob_polls.poll(timeout=2))
    await asyncio.sleep(1.5)  # three TTLs into the wait
    await in_db(sockets.presence_sweep)()
    assert await in_db(presence.backend().online)([bob.pk]) == {bob.pk}
    assert await waiting == []
