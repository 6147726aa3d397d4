"""Threads, reactions, pins, mentions and the change cursor over the WebSocket.

Through the real ASGI application and the Redis channel layer, as the
conversations protocol (issue 14) pins them: every frame about a message
carries the room `seq` it produced, and `sync` returns what changed since a
seq, once each. The client-side state built from those frames is checked
against fresh fetches in test_state_equality.py.
"""

import itertools

import pytest
from django.test import Client

from chat import services
from chat.models import Message, Room
from tests.support.db import call
from tests.support.frames import drain, settled

pytestmark = [pytest.mark.django_db(transaction=True)]

_refs = itertools.count(1)


# Helpers
# ------------------------------------------------------------------------------


async def request(socket, frame: dict, timeout: float = 5) -> dict:
    """Send a frame with a ref; the reply (or error) echoing it."""
    ref = f"r{next(_refs)}"
    await socket.send_json_to({**frame, "ref": ref})
    while (reply := await socket.receive_json_from(timeout=timeout)).get("ref") != ref:
        pass
    return reply


async def act(socket, frame: dict, wanted: str, timeout: float = 5, **match) -> dict:
    """Send a command whose effect reaches the room; the frame it produced for this socket.

    The room frame may or may not echo the ref, so it is matched by type and fields;
    an error echoing the ref fails the test.
    """
    ref = f"r{next(_refs)}"
    await socket.send_json_to({**frame, "ref": ref})
    while True:
        got = await socket.receive_json_from(timeout=timeout)
        if got["type"] == "error" and got.get("ref") == ref:
            raise AssertionError(f"{frame} was refused: {got}")
        if got["type"] == wanted and all(got.get(k) == v for k, v in match.items()):
            return got


async def until(socket, wanted: str, timeout: float = 5, **match) -> dict:
    """The next frame of that type (and those field values), skipping the others."""
    while True:
        got = await socket.receive_json_from(timeout=timeout)
        if got["type"] == wanted and all(got.get(k) == v for k, v in match.items()):
            return got


async def until_message(socket, message_id: int, timeout: float = 5) -> dict:
    """The next `message` frame about that message."""
    while True:
        got = await until(socket, "message", timeout)
        if got["message"]["id"] == message_id:
            return got


async def error_for(socket, frame: dict) -> dict:
    reply = await request(socket, frame)
    assert reply["type"] == "error", f"{frame} was accepted: {reply}"
    return reply


async def post(socket, room: str, body: str, *, thread: int | None = None) -> dict:
    """Send and return the sender's own `message` frame (with its seq)."""
    frame = {"type": "send", "room": room, "body": body, "client_id": f"c{next(_refs)}"}
    if thread is not None:
        frame["thread"] = thread
    reply = await request(socket, frame)
    assert reply["type"] == "message", reply
    return reply


async def react(socket, message_id: int, emoji: str, on: bool = True) -> dict:
    frame = {"type": "react", "id": message_id, "emoji": emoji, "on": on}
    return await act(socket, frame, "reaction", id=message_id, emoji=emoji, on=on)


async def pin(socket, message_id: int, on: bool = True) -> dict:
    frame = {"type": "pin", "id": message_id, "on": on}
    return await act(socket, frame, "message_pinned", id=message_id, pinned=on)


async def current(socket, room: str, message_id: int, *, thread: int | None = None) -> dict:
    """The message as a fresh `history` page shows it now."""
    frame = {"type": "history", "room": room, "after": message_id - 1, "limit": 1}
    if thread is not None:
        frame["thread"] = thread
    page = await request(socket, frame)
    assert page["type"] == "history", page
    assert [m["id"] for m in page["messages"]] == [message_id], page
    return page["messages"][0]


async def room_seq(connect, user, slug: str) -> int:
    """The room's seq as a new socket's `hello` reports it."""
    socket = await connect(user)
    seq = next(r["seq"] for r in socket.hello["rooms"] if r["slug"] == slug)
    await socket.disconnect()
    return seq


async def sync(socket, room: str, since: int, **extra) -> dict:
    reply = await request(socket, {"type": "sync", "room": room, "since": since, **extra})
    assert reply["type"] == "synced", reply
    return reply


def api(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


async def message_count() -> int:
    return await call(Message.objects.count)


@pytest.fixture
async def people(make_user):
    """alice, bob and eve, all in `general`; olga owns the `team` room alice and bob joined."""
    names = ("alice", "bob", "eve", "olga")
    users = {name: await call(make_user, name) for name in names}
    team = await call(
        services.room_create, creator=users["olga"], name="Team", slug="team", kind="public"
    )
    for name in ("alice", "bob"):
        await call(services.room_join, user=users[name], room=team)
    return users


# Threads
# ------------------------------------------------------------------------------


async def test_a_new_message_carries_the_conversation_fields(people, connect):
    a = await connect(people["alice"])
    frame = await post(a, "general", "hello")
    message = frame["message"]
    assert frame["seq"] == message["seq"] and isinstance(frame["seq"], int)
    assert message["thread"] is None
    assert (message["reply_count"], message["last_reply_at"]) == (0, None)
    assert (message["reactions"], message["pinned"], message["mentions"]) == ([], False, [])


async def test_a_reply_names_its_root_and_a_reply_to_a_reply_goes_to_the_same_root(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    root = (await post(a, "general", "lunch?"))["message"]
    reply = (await post(b, "general", "yes", thread=root["id"]))["message"]
    assert reply["thread"] == root["id"]
    assert (reply["reply_count"], reply["last_reply_at"]) == (0, None)
    nested = (await post(a, "general", "where?", thread=reply["id"]))["message"]
    assert nested["thread"] == root["id"], "a reply to a reply belongs to the root's thread"
    seen = await until_message(b, nested["id"])
    assert seen["message"] == nested


async def test_a_thread_root_must_be_a_live_message_of_the_same_room(people, connect):
    a = await connect(people["alice"])
    elsewhere = (await post(a, "team", "in team"))["message"]
    gone = (await post(a, "general", "soon deleted"))["message"]
    await act(a, {"type": "delete", "id": gone["id"]}, "message_deleted", id=gone["id"])
    before = await message_count()
    missing = await error_for(a, {"type": "send", "room": "general", "body": "re", "thread": 10**9})
    assert missing["code"] == "not_found"
    for root in (elsewhere["id"], gone["id"]):
        error = await error_for(
            a, {"type": "send", "room": "general", "body": "re", "thread": root}
        )
        assert (error["code"], error["detail"]) == ("not_found", missing["detail"])
    assert await message_count() == before, "a refused reply stores nothing"


async def test_the_main_timeline_shows_roots_and_a_thread_page_its_replies_and_root(
    people, connect
):
    a = await connect(people["alice"])
    root = (await post(a, "general", "root"))["message"]
    other = (await post(a, "general", "another root"))["message"]
    replies = [(await post(a, "general", f"r{n}", thread=root["id"]))["message"] for n in range(3)]
    await drain(a)

    timeline = await request(a, {"type": "history", "room": "general"})
    assert [m["id"] for m in timeline["messages"]] == [root["id"], other["id"]]
    shown = timeline["messages"][0]
    assert shown["reply_count"] == 3
    assert shown["last_reply_at"] == replies[-1]["created_at"]
    joined = await request(a, {"type": "join", "room": "general"})
    assert [m["id"] for m in joined["messages"]] == [root["id"], other["id"]]

    thread = await request(a, {"type": "history", "room": "general", "thread": root["id"]})
    assert thread["type"] == "history"
    assert thread["thread"] == root["id"]
    assert [m["id"] for m in thread["messages"]] == [r["id"] for r in replies]
    assert thread["root"]["id"] == root["id"] and thread["root"]["reply_count"] == 3
    assert thread["has_more"] is False
    paged = await request(
        a, {"type": "history", "room": "general", "thread": root["id"], "limit": 2}
    )
    assert [m["id"] for m in paged["messages"]] == [r["id"] for r in replies[1:]]
    assert paged["has_more"] is True


async def test_the_thread_of_a_message_in_another_room_is_not_found(people, connect):
    a = await connect(people["alice"])
    elsewhere = (await post(a, "team", "in team"))["message"]
    error = await error_for(a, {"type": "history", "room": "general", "thread": elsewhere["id"]})
    assert error["code"] == "not_found"


async def test_thread_updated_follows_a_reply_and_its_deletion(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    root = (await post(a, "general", "root"))["message"]
    reply = await post(a, "general", "first reply", thread=root["id"])
    updated = await until(b, "thread_updated", id=root["id"])
    assert updated["room"] == "general"
    assert (updated["reply_count"], updated["last_reply_at"]) == (
        1,
        reply["message"]["created_at"],
    )
    assert updated["seq"] > reply["seq"], "the thread's update takes a seq of its own"

    await a.send_json_to({"type": "delete", "id": reply["message"]["id"]})
    deleted = await until(b, "message_deleted", id=reply["message"]["id"])
    assert deleted == {
        "type": "message_deleted",
        "room": "general",
        "id": reply["message"]["id"],
        "seq": deleted["seq"],
        "thread": root["id"],
    }
    after = await until(b, "thread_updated", id=root["id"])
    assert (after["reply_count"], after["last_reply_at"]) == (0, None)
    assert after["seq"] > deleted["seq"] > updated["seq"]
    assert (await current(b, "general", root["id"]))["reply_count"] == 0


# Reactions
# ------------------------------------------------------------------------------


async def test_a_reaction_reaches_the_room_and_is_aggregated_on_the_message(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    message = (await post(a, "general", "ship it"))["message"]
    mine = await react(b, message["id"], "👍")
    theirs = await until(a, "reaction", id=message["id"])
    assert theirs == {
        "type": "reaction",
        "room": "general",
        "id": message["id"],
        "emoji": "👍",
        "user": "bob",
        "on": True,
        "seq": mine["seq"],
    }
    assert mine["seq"] > message["seq"]
    await react(a, message["id"], "👍")
    await react(a, message["id"], ":tada:")
    shown = await current(a, "general", message["id"])
    assert shown["reactions"] == [
        {"emoji": "👍", "count": 2, "users": ["bob", "alice"]},
        {"emoji": ":tada:", "count": 1, "users": ["alice"]},
    ]
    off = await react(b, message["id"], "👍", on=False)
    assert (await until(a, "reaction", id=message["id"]))["on"] is False
    shown = await current(a, "general", message["id"])
    assert shown["reactions"][0] == {"emoji": "👍", "count": 1, "users": ["alice"]}
    assert shown["seq"] == off["seq"], "a message's seq is that of its last change"


async def test_reacting_twice_and_unreacting_twice_change_nothing_more(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    message = (await post(a, "general", "once"))["message"]
    first = await react(b, message["id"], "🎉")
    await b.send_json_to({"type": "react", "id": message["id"], "emoji": "🎉", "on": True})
    frames = await settled(b)
    shown = await current(b, "general", message["id"])
    assert shown["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["bob"]}]
    assert shown["seq"] == first["seq"], "a repeated reaction is no change"

    removed = await react(b, message["id"], "🎉", on=False)
    await b.send_json_to({"type": "react", "id": message["id"], "emoji": "🎉", "on": False})
    frames += await settled(b)
    shown = await current(b, "general", message["id"])
    assert shown["reactions"] == []
    assert shown["seq"] == removed["seq"]
    errors = [f for f in frames + await drain(b) if f["type"] == "error"]
    assert errors == [], "repeating a reaction is not an error"


NOT_EMOJI = [
    "a",
    "hello",
    "😀😀",
    ":no spaces:",
    ":UPPER:",
    "::",
    ":" + "a" * 31 + ":",
    "<b>x</b>",
    "",
    42,
    None,
    ["👍"],
]


@pytest.mark.parametrize("emoji", NOT_EMOJI, ids=[repr(e) for e in NOT_EMOJI])
async def test_a_reaction_that_is_not_one_emoji_is_invalid(people, connect, emoji):
    a = await connect(people["alice"])
    message = (await post(a, "general", "react to me"))["message"]
    error = await error_for(a, {"type": "react", "id": message["id"], "emoji": emoji, "on": True})
    assert error["code"] == "invalid" and error["detail"]
    assert (await current(a, "general", message["id"]))["reactions"] == []


ONE_EMOJI = ["👍", "🎉", "❤️", "👍🏽", "🇫🇷", "👨‍👩‍👧", ":tada:", ":+1:", ":white_check_mark:"]


@pytest.mark.parametrize("emoji", ONE_EMOJI)
async def test_one_unicode_emoji_or_a_short_name_is_a_reaction(people, connect, emoji):
    a = await connect(people["alice"])
    message = (await post(a, "general", "react to me"))["message"]
    await react(a, message["id"], emoji)
    shown = await current(a, "general", message["id"])
    assert shown["reactions"] == [{"emoji": emoji, "count": 1, "users": ["alice"]}]


TWENTY_ONE_EMOJI = list("😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋")


async def test_a_twenty_first_different_emoji_on_a_message_is_invalid(people, connect, settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    a, b = await connect(people["alice"]), await connect(people["bob"])
    message = (await post(a, "general", "so many feelings"))["message"]
    for emoji in TWENTY_ONE_EMOJI[:20]:
        await react(a, message["id"], emoji)
    error = await error_for(
        b, {"type": "react", "id": message["id"], "emoji": TWENTY_ONE_EMOJI[20], "on": True}
    )
    assert error["code"] == "invalid"
    await react(b, message["id"], TWENTY_ONE_EMOJI[0])  # an emoji already there is fine
    shown = await current(a, "general", message["id"])
    assert [r["emoji"] for r in shown["reactions"]] == TWENTY_ONE_EMOJI[:20]
    assert shown["reactions"][0] == {"emoji": "😀", "count": 2, "users": ["alice", "bob"]}


async def test_reacting_and_pinning_in_an_archived_room_are_forbidden(people, connect):
    a = await connect(people["alice"])
    message = (await post(a, "team", "last words"))["message"]
    await react(a, message["id"], "👋")
    team = await call(Room.objects.get, slug="team")
    await call(services.room_archive, by=people["olga"], room=team)
    for frame in (
        {"type": "react", "id": message["id"], "emoji": "😢", "on": True},
        {"type": "react", "id": message["id"], "emoji": "👋", "on": False},
        {"type": "pin", "id": message["id"], "on": True},
    ):
        assert (await error_for(a, frame))["code"] == "forbidden", frame
    shown = await current(a, "team", message["id"])
    assert shown["reactions"] == [{"emoji": "👋", "count": 1, "users": ["alice"]}]
    assert shown["pinned"] is False


async def test_a_message_i_may_not_touch_is_not_found_like_a_missing_one(people, connect):
    """A private room I am not in, and a public room I have not joined: as if it did not exist."""
    secret = await call(
        services.room_create, creator=people["olga"], name="Secret", slug="secret", kind="private"
    )
    hidden, _ = await call(services.message_post, user=people["olga"], room=secret, body="shh")
    team = await call(Room.objects.get, slug="team")
    public, _ = await call(services.message_post, user=people["olga"], room=team, body="hi")
    e = await connect(people["eve"])
    for kind, extra in (("react", {"emoji": "👀", "on": True}), ("pin", {"on": True})):
        missing = await error_for(e, {"type": kind, "id": 10**9, **extra})
        assert (missing["code"], missing["detail"]) == ("not_found", "No such message.")
        for message_id in (hidden.id, public.id):
            error = await error_for(e, {"type": kind, "id": message_id, **extra})
            assert (error["code"], error["detail"]) == ("not_found", missing["detail"])
    o = await connect(people["olga"])
    assert (await current(o, "secret", hidden.id))["reactions"] == []
    assert (await current(o, "team", public.id))["pinned"] is False


async def test_react_and_pin_frames_are_validated(people, connect):
    a = await connect(people["alice"])
    message = (await post(a, "general", "x"))["message"]
    for frame in (
        {"type": "react", "id": "1", "emoji": "👍", "on": True},
        {"type": "react", "id": message["id"], "emoji": "👍", "on": "yes"},
        {"type": "pin", "id": message["id"], "on": 1},
        {"type": "pin", "on": True},
    ):
        assert (await error_for(a, frame))["code"] == "invalid", frame


# Pins
# ------------------------------------------------------------------------------


async def test_pin_and_unpin_reach_the_room_and_the_pins_list(people, connect, token_for):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    first = (await post(a, "general", "the plan"))["message"]
    second = (await post(a, "general", "the date"))["message"]
    pinned = await pin(b, first["id"])
    seen = await until(a, "message_pinned", id=first["id"])
    assert seen == {
        "type": "message_pinned",
        "room": "general",
        "id": first["id"],
        "pinned": True,
        "by": "bob",
        "seq": pinned["seq"],
    }
    await pin(a, second["id"])
    assert (await current(a, "general", first["id"]))["pinned"] is True

    client = api(await call(token_for, people["alice"]))
    pins = (await call(client.get, "/api/rooms/general/pins")).json()["messages"]
    assert [m["id"] for m in pins] == [second["id"], first["id"]], "newest pin first"

    unpinned = await pin(a, first["id"], on=False)
    seen = await until(b, "message_pinned", id=first["id"])
    assert (seen["pinned"], seen["by"], seen["seq"]) == (False, "alice", unpinned["seq"])
    shown = await current(b, "general", first["id"])
    assert (shown["pinned"], shown["seq"]) == (False, unpinned["seq"])
    pins = (await call(client.get, "/api/rooms/general/pins")).json()["messages"]
    assert [m["id"] for m in pins] == [second["id"]]


# Mentions
# ------------------------------------------------------------------------------


async def test_a_mention_is_listed_on_the_message_and_rendered_as_a_mention(people, connect):
    a = await connect(people["alice"])
    message = (await post(a, "general", "@bob can you look? cc @eve"))["message"]
    assert sorted(message["mentions"]) == ["bob", "eve"]
    assert '<span class="mention" data-user="bob">@bob</span>' in message["html"]
    assert '<span class="mention" data-user="eve">@eve</span>' in message["html"]
    plain = (await post(a, "general", "mail me at alice@example.com, @nobody"))["message"]
    assert plain["mentions"] == []
    assert 'class="mention"' not in plain["html"]


async def test_at_room_by_a_plain_member_is_forbidden_and_nothing_is_stored(people, connect):
    b = await connect(people["bob"])
    before = await message_count()
    for body in ("@room standup now", "@here anyone?"):
        error = await error_for(b, {"type": "send", "room": "team", "body": body})
        assert error["code"] == "forbidden"
    assert await message_count() == before


async def test_at_room_and_at_here_by_the_owner_mention_everyone(people, connect):
    o = await connect(people["olga"])
    message = (await post(o, "team", "@room standup in 5"))["message"]
    assert message["mentions"] == ["room"]
    assert '<span class="mention" data-user="room">@room</span>' in message["html"]
    here = (await post(o, "team", "@here quick one"))["message"]
    assert here["mentions"] == ["here"]
    assert '<span class="mention" data-user="here">@here</span>' in here["html"]


async def test_unread_mentions_are_counted_in_hello_and_in_read(people, connect):
    a, o = await connect(people["alice"]), await connect(people["olga"])
    first = (await post(a, "team", "@bob look"))["message"]
    await post(a, "team", "nothing for bob")
    await post(a, "team", "a reply for @bob", thread=first["id"])
    last = (await post(o, "team", "@room wrap up"))["message"]

    b1, b2 = await connect(people["bob"]), await connect(people["bob"])
    team = next(r for r in b1.hello["rooms"] if r["slug"] == "team")
    assert (team["unread"], team["mentions"]) == (4, 3)
    assert team["notify"] == "mentions"

    await b1.send_json_to({"type": "read", "room": "team", "message_id": first["id"]})
    read = await until(b2, "read", room="team")
    assert read == {
        "type": "read",
        "room": "team",
        "message_id": first["id"],
        "unread": 3,
        "mentions": 2,
    }
    await b1.send_json_to({"type": "read", "room": "team", "message_id": last["id"]})
    read = await until(b2, "read", room="team", message_id=last["id"])
    assert (read["unread"], read["mentions"]) == (0, 0)


# The change cursor
# ------------------------------------------------------------------------------


async def test_hello_and_joined_carry_the_rooms_seq(people, connect):
    a = await connect(people["alice"])
    seq = next(r["seq"] for r in a.hello["rooms"] if r["slug"] == "general")
    last = await post(a, "general", "bump")
    assert last["seq"] == seq + 1
    joined = await request(a, {"type": "join", "room": "general"})
    assert joined["info"]["seq"] == last["seq"]
    assert await room_seq(connect, people["bob"], "general") == last["seq"]


async def test_every_change_takes_the_next_seq_of_its_room_in_order(people, connect):
    """Each change is one frame with the room's next seq; rooms count separately."""
    a, b = await connect(people["alice"]), await connect(people["bob"])
    start = next(r["seq"] for r in b.hello["rooms"] if r["slug"] == "general")
    team_start = next(r["seq"] for r in b.hello["rooms"] if r["slug"] == "team")
    root = (await post(a, "general", "root"))["message"]
    await post(a, "team", "elsewhere")
    reply = (await post(a, "general", "reply", thread=root["id"]))["message"]
    await act(a, {"type": "edit", "id": root["id"], "body": "root!"}, "message_edited")
    await react(a, root["id"], "👍")
    await pin(a, root["id"])
    await react(a, root["id"], "👍", on=False)
    await pin(a, root["id"], on=False)
    await act(a, {"type": "delete", "id": reply["id"]}, "message_deleted", id=reply["id"])
    await until(a, "thread_updated", reply_count=0)
    end = await room_seq(connect, people["eve"], "general")

    frames = [f for f in await drain(b, quiet=0.5) if "seq" in f]
    general = [
        f["seq"] for f in frames if f.get("room", f.get("message", {}).get("room")) == "general"
    ]
    assert general == list(range(start + 1, end + 1)), "once each, in order, no gaps"
    assert end - start == 10, "2 posts, 2 thread updates, an edit, 4 toggles, a delete"
    team = [f["seq"] for f in frames if f.get("message", {}).get("room") == "team"]
    assert team == [team_start + 1]


async def test_sync_returns_each_changed_message_once_in_seq_order_with_tombstones(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    since = next(r["seq"] for r in b.hello["rooms"] if r["slug"] == "general")
    one = (await post(a, "general", "one"))["message"]
    two = (await post(a, "general", "two"))["message"]
    await act(a, {"type": "edit", "id": one["id"], "body": "one!"}, "message_edited")
    reacted = await react(b, two["id"], "👍")
    deleted = await act(a, {"type": "delete", "id": one["id"]}, "message_deleted", id=one["id"])
    three = await post(a, "general", "three")

    synced = await sync(b, "general", since)
    assert synced["room"] == "general"
    changes = synced["changes"]
    assert [c["id"] for c in changes] == [two["id"], one["id"], three["message"]["id"]]
    assert [c["seq"] for c in changes] == [reacted["seq"], deleted["seq"], three["seq"]]
    assert changes[0]["reactions"] == [{"emoji": "👍", "count": 1, "users": ["bob"]}]
    assert changes[0]["body"] == "two"
    assert changes[1] == {
        "id": one["id"],
        "room": "general",
        "deleted": True,
        "seq": deleted["seq"],
        "thread": None,
    }, "a tombstone carries nothing of the deleted message"
    assert changes[2] == {**three["message"], "seq": three["seq"]}
    assert (synced["seq"], synced["has_more"]) == (three["seq"], False)

    caught_up = await sync(b, "general", synced["seq"])
    assert (caught_up["changes"], caught_up["seq"], caught_up["has_more"]) == (
        [],
        three["seq"],
        False,
    )
    everything = await sync(b, "general", 0)
    assert [c["id"] for c in everything["changes"]] == [
        two["id"],
        one["id"],
        three["message"]["id"],
    ]


async def test_sync_pages_with_limit_until_has_more_is_false(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    since = next(r["seq"] for r in b.hello["rooms"] if r["slug"] == "general")
    root = (await post(a, "general", "root"))["message"]
    reply = await post(a, "general", "reply", thread=root["id"])
    updated = await until(a, "thread_updated", id=root["id"])
    other = await post(a, "general", "other")

    pages = []
    cursor = since
    while True:
        page = await sync(b, "general", cursor, limit=1)
        pages.append(page)
        cursor = page["seq"]
        if not page["has_more"]:
            break
        assert len(pages) < 10, "sync never ends"
    # the root's own post (seq+1) was superseded by its thread update
    assert [[c["id"] for c in p["changes"]] for p in pages] == [
        [reply["message"]["id"]],
        [root["id"]],
        [other["message"]["id"]],
    ]
    assert [p["seq"] for p in pages] == [reply["seq"], updated["seq"], other["seq"]]
    assert pages[1]["changes"][0]["reply_count"] == 1
    assert pages[0]["changes"][0]["thread"] == root["id"]


@pytest.mark.parametrize("since", [-1, "3", 1.5, None, True, [1]])
async def test_sync_since_must_be_a_non_negative_integer(people, connect, since):
    a = await connect(people["alice"])
    error = await error_for(a, {"type": "sync", "room": "general", "since": since})
    assert error["code"] == "invalid"


async def test_sync_limit_must_be_a_positive_integer(people, connect):
    a = await connect(people["alice"])
    for limit in (0, -5, "10"):
        error = await error_for(a, {"type": "sync", "room": "general", "since": 0, "limit": limit})
        assert error["code"] == "invalid", limit


async def test_sync_of_a_room_i_cannot_see_is_not_found(people, connect):
    await call(
        services.room_create, creator=people["olga"], name="Secret", slug="secret", kind="private"
    )
    e = await connect(people["eve"])
    hidden = await error_for(e, {"type": "sync", "room": "secret", "since": 0})
    missing = await error_for(e, {"type": "sync", "room": "no-such-room", "since": 0})
    assert hidden["code"] == missing["code"] == "not_found"
    assert hidden["detail"] == missing["detail"]


async def test_reactions_spend_the_posting_bucket(people, connect, settings):
    settings.CHAT_RATE_LIMIT_BURST = 3
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.01
    a = await connect(people["alice"])
    message = (await post(a, "general", "one"))["message"]
    await react(a, message["id"], "👍")
    await pin(a, message["id"])
    for frame in (
        {"type": "react", "id": message["id"], "emoji": "🎉", "on": True},
        {"type": "pin", "id": message["id"], "on": False},
        {"type": "send", "room": "general", "body": "two"},
    ):
        assert (await error_for(a, frame))["code"] == "rate_limited", frame
    shown = await current(a, "general", message["id"])
    assert [r["emoji"] for r in shown["reactions"]] == ["👍"] and shown["pinned"] is True
