"""The WebSocket protocol of DESIGN.md, through the real ASGI application."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.support.frames import drain, receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]


async def count_messages() -> int:
    return await database_sync_to_async(Message.objects.count)()


async def test_hello_lists_the_default_room_with_unread_and_last_id(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    socket = await connect(alice)
    rooms = {room["slug"]: room for room in socket.hello["rooms"]}
    assert rooms["general"]["unread"] == 0
    assert rooms["general"]["last_message_id"] == 0
    assert socket.hello["user"]["username"] == "alice"


async def test_send_reaches_every_member_with_client_id_and_ref(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    a, b = await connect(alice), await connect(bob)
    await a.send_json_to(
        {"type": "send", "room": "general", "body": "hi **bob**", "client_id": "c1", "ref": "r1"}
    )
    own = await receive_type(a, "message")
    theirs = await receive_type(b, "message")
    assert own["ref"] == "r1"
    assert own["message"]["client_id"] == "c1"
    assert theirs["message"]["id"] == own["message"]["id"]
    assert theirs["message"]["html"] == "<p>hi <strong>bob</strong></p>"
    assert theirs["message"]["author"]["username"] == "alice"
    assert [f for f in await drain(a) if f["type"] == "message"] == [], "the sender got it twice"


async def test_a_retried_send_never_creates_a_second_message(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    frame = {"type": "send", "room": "general", "body": "once", "client_id": "same"}
    await a.send_json_to(frame)
    first = await receive_type(a, "message")
    await a.send_json_to(frame)
    second = await receive_type(a, "message")
    assert first["message"]["id"] == second["message"]["id"]
    assert await count_messages() == 1


async def test_join_returns_latest_page_and_members(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    for n in range(3):
        await a.send_json_to(
            {"type": "send", "room": "general", "body": f"m{n}", "client_id": f"c{n}"}
        )
        await receive_type(a, "message")
    await a.send_json_to({"type": "join", "room": "general", "ref": "j"})
    joined = await receive_type(a, "joined")
    assert joined["ref"] == "j"
    assert [m["body"] for m in joined["messages"]] == ["m0", "m1", "m2"]
    assert joined["members"][0]["username"] == "alice"
    assert joined["members"][0]["online"] is True


async def test_history_pages_backwards_and_forwards_ascending(make_user, connect, settings):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    ids = []
    for n in range(5):
        await a.send_json_to(
            {"type": "send", "room": "general", "body": f"m{n}", "client_id": f"c{n}"}
        )
        ids.append((await receive_type(a, "message"))["message"]["id"])
    await a.send_json_to({"type": "history", "room": "general", "before": ids[4], "limit": 2})
    page = await receive_type(a, "history")
    assert [m["id"] for m in page["messages"]] == ids[2:4]
    assert page["has_more"] is True
    await a.send_json_to({"type": "history", "room": "general", "after": ids[1], "limit": 10})
    page = await receive_type(a, "history")
    assert [m["id"] for m in page["messages"]] == ids[2:]
    assert page["has_more"] is False


async def test_edit_and_delete_reach_the_room(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    a, b = await connect(alice), await connect(bob)
    await a.send_json_to({"type": "send", "room": "general", "body": "typo", "client_id": "x"})
    message_id = (await receive_type(b, "message"))["message"]["id"]
    await a.send_json_to({"type": "edit", "id": message_id, "body": "fixed"})
    edited = await receive_type(b, "message_edited")
    assert edited["message"]["body"] == "fixed" and edited["message"]["edited_at"]
    await b.send_json_to({"type": "edit", "id": message_id, "body": "hijack", "ref": "e"})
    error = await receive_type(b, "error")
    assert (error["code"], error["ref"]) == ("forbidden", "e")
    await a.send_json_to({"type": "delete", "id": message_id})
    deleted = await receive_type(b, "message_deleted")
    assert deleted == {
        "type": "message_deleted",
        "room": "general",
        "id": message_id,
        "seq": edited["seq"] + 1,
        "thread": None,
    }


async def test_read_mark_reaches_the_users_other_sockets(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    a = await connect(alice)
    b1, b2 = await connect(bob), await connect(bob)
    await a.send_json_to({"type": "send", "room": "general", "body": "one", "client_id": "1"})
    message_id = (await receive_type(a, "message"))["message"]["id"]
    await b1.send_json_to({"type": "read", "room": "general", "message_id": message_id})
    read = await receive_type(b2, "read")
    assert read == {
        "type": "read",
        "room": "general",
        "message_id": message_id,
        "unread": 0,
        "mentions": 0,
    }


async def test_ping_pong(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    await a.send_json_to({"type": "ping", "ref": "p"})
    assert await receive_type(a, "pong") == {"type": "pong", "ref": "p"}


BAD_FRAMES = [
    ("not json {", "bad_frame"),
    ("[1, 2]", "bad_frame"),
    ('"text"', "bad_frame"),
    ('{"no": "type"}', "unknown_type"),
    ('{"type": "explode"}', "unknown_type"),
    ('{"type": "send", "room": "general", "client_id": "a"}', "invalid"),
    ('{"type": "send", "room": "general", "body": 42}', "invalid"),
    ('{"type": "send", "room": "general", "body": "   "}', "invalid"),
    ('{"type": "send", "room": "nowhere", "body": "x"}', "not_found"),
    ('{"type": "send", "room": ["general"], "body": "x"}', "not_found"),
    ('{"type": "edit", "id": "1", "body": "x"}', "invalid"),
    ('{"type": "history", "room": "general", "before": "soon"}', "invalid"),
    ('{"type": "history", "room": "general", "limit": -1}', "invalid"),
    ("[" * 100000 + "]" * 100000, "too_long"),
    ('{"type": "send", "room": "general", "body": "' + "x" * 4001 + '"}', "too_long"),
    ('{"type":"send","room":"general","body":"n","client_id":"' + "c" * 65 + '"}', "invalid"),
    ("9" * 5000, "bad_frame"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES, ids=[c for _, c in BAD_FRAMES])
async def test_bad_frames_get_an_error_and_the_socket_stays_open(make_user, connect, raw, code):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    await a.send_to(text_data=raw)
    error = await receive_type(a, "error")
    assert error["code"] == code and error["detail"]
    await a.send_json_to({"type": "ping"})
    assert (await receive_type(a, "pong"))["type"] == "pong"
    assert await count_messages() == 0


async def test_binary_frames_are_refused(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    await a.send_to(bytes_data=b"\x00\x01")
    assert (await receive_type(a, "error"))["code"] == "bad_frame"


async def test_over_the_rate_limit_is_refused_and_nothing_stored(make_user, connect, settings):
    settings.CHAT_RATE_LIMIT_BURST = 3
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.01
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    codes = []
    for n in range(5):
        await a.send_json_to({"type": "send", "room": "general", "body": "x", "client_id": f"{n}"})
        frame = await a.receive_json_from(timeout=5)
        while frame["type"] not in ("message", "error"):
            frame = await a.receive_json_from(timeout=5)
        codes.append(frame.get("code", "ok"))
    assert codes == ["ok", "ok", "ok", "rate_limited", "rate_limited"]
    assert await count_messages() == 3


async def test_private_rooms_are_invisible_to_non_members(make_user, connect):
    from chat import services

    alice = await database_sync_to_async(make_user)("alice")
    eve = await database_sync_to_async(make_user)("eve")
    await database_sync_to_async(services.room_create)(
        creator=alice, name="Secret", slug="secret", kind="private"
    )
    e = await connect(eve)
    for frame in (
        {"type": "join", "room": "secret"},
        {"type": "history", "room": "secret"},
        {"type": "send", "room": "secret", "body": "let me in"},
    ):
        await e.send_json_to(frame)
        error = await receive_type(e, "error")
        assert error["code"] == "not_found"
        await e.send_json_to({**frame, "room": "no-such-room"})
        assert (await receive_type(e, "error"))["detail"] == error["detail"]


async def test_message_html_never_carries_script(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    body = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    await a.send_json_to({"type": "send", "room": "general", "body": body, "client_id": "x"})
    html = (await receive_type(a, "message"))["message"]["html"]
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;" in html, "what the user typed is shown as text"


async def test_members_see_a_new_user_join_the_default_room(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    a = await connect(alice)
    await database_sync_to_async(make_user)("newcomer")
    joined = await receive_type(a, "member_joined")
    assert joined["room"] == "general"
    assert joined["user"]["username"] == "newcomer"


async def test_presence_is_announced_only_in_rooms_small_enough(make_user, connect, settings):
    from chat import services

    settings.CHAT_PRESENCE_ROOM_MAX_MEMBERS = 2
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    await database_sync_to_async(make_user)("carol")  # general now has 3 members
    pair = await database_sync_to_async(services.room_create)(
        creator=alice, name="Pair", slug="pair"
    )
    await database_sync_to_async(services.room_join)(user=bob, room=pair)
    a = await connect(alice)
    await connect(bob)
    announced = [
        (f["room"], f["user"]) for f in await drain(a, quiet=0.5) if f["type"] == "presence"
    ]
    assert ("pair", "bob") in announced
    assert all(room == "pair" for room, _ in announced), "general is over the limit"
