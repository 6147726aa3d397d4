"""Direct conversations: opened live for the other user, one room per pair, closed to others.

Through the real ASGI application and the Redis channel layer.
"""

import pytest

from chat import services
from tests.support.db import call
from tests.support.frames import drain, error_for, of_type, receive_type, send

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_direct_conversation_appears_live_for_the_other_user(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    await a.send_json_to({"type": "dm", "username": "bob", "ref": "d"})
    joined = await receive_type(a, "joined")
    assert joined["ref"] == "d"
    assert joined["info"]["kind"] == "direct"
    assert {m["username"] for m in joined["members"]} == {"alice", "bob"}

    added = (await receive_type(b, "room_added"))["room"]
    assert (added["slug"], added["kind"], added["peer"]) == (joined["room"], "direct", "alice")

    sent = await send(a, joined["room"], "just between us", "dm1")
    assert (await receive_type(b, "message"))["message"]["id"] == sent["id"]


async def test_opening_a_direct_conversation_again_finds_the_same_room(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    await a.send_json_to({"type": "dm", "username": "bob"})
    first = (await receive_type(a, "joined"))["room"]
    for socket in (a, b):
        assert (await receive_type(socket, "room_added"))["room"]["slug"] == first
    await b.send_json_to({"type": "dm", "username": "alice"})
    assert (await receive_type(b, "joined"))["room"] == first
    assert of_type(await drain(a), "room_added") == []


async def test_a_third_user_can_neither_join_read_nor_post_in_a_direct_room(people, connect):
    room, _ = await call(services.direct_room_open, user=people["alice"], username="bob")
    a, c = await connect(people["alice"]), await connect(people["carol"])
    for frame in (
        {"type": "join", "room": room.slug},
        {"type": "history", "room": room.slug},
        {"type": "send", "room": room.slug, "body": "hi", "client_id": "c1"},
        {"type": "typing", "room": room.slug},
        {"type": "read", "room": room.slug, "message_id": 1},
    ):
        error = await error_for(c, frame)
        missing = await error_for(c, {**frame, "room": "dm-no-such-room"})
        assert (error["code"], error["detail"]) == ("not_found", missing["detail"])
    await send(a, room.slug, "private words", "a1")
    assert of_type(await drain(c), "message") == []


@pytest.mark.parametrize(
    ("username", "code"), [("alice", "invalid"), ("nobody", "not_found"), ("", "invalid")]
)
async def test_direct_conversations_need_another_existing_user(people, connect, username, code):
    a = await connect(people["alice"])
    assert (await error_for(a, {"type": "dm", "username": username}))["code"] == code


async def test_no_direct_conversation_with_a_deactivated_user(people, connect):
    from accounts.services import user_deactivate

    await call(user_deactivate, user=people["carol"])
    a = await connect(people["alice"])
    assert (await error_for(a, {"type": "dm", "username": "carol"}))["code"] == "not_found"
