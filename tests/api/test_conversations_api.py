"""Threads, reactions, pins, notify and the change cursor over HTTP: the socket's objects."""

from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Message
from tests.support.frames import receive_type

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def people(make_user) -> dict:
    return {name: make_user(name) for name in ("alice", "bob", "eve", "olga", "mona")}


@pytest.fixture
def alice(people, bearer):
    return bearer(people["alice"])


@pytest.fixture
def bob(people, bearer):
    return bearer(people["bob"])


def post(client, body: str, *, room: str = "general", **extra) -> dict:
    response = client.post(f"/api/rooms/{room}/messages", {"body": body, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def react(client, message_id: int, emoji: str):
    return client.post(f"/api/messages/{message_id}/reactions", {"emoji": emoji})


def unreact(client, message_id: int, emoji: str):
    return client.delete(f"/api/messages/{message_id}/reactions/{quote(emoji, safe='')}")


def room_seq(client, room: str = "general") -> int:
    return client.get(f"/api/rooms/{room}").json()["seq"]


def changes(client, since: int, room: str = "general", **query) -> dict:
    response = client.get(f"/api/rooms/{room}/changes", {"since": since, **query})
    assert response.status_code == 200, response.content
    return response.json()


# Room objects
# ------------------------------------------------------------------------------


def test_a_room_carries_its_seq_my_unread_mentions_and_notify(people, alice, bob):
    start = room_seq(bob)
    post(alice, "@bob hi")
    post(alice, "nothing")
    room = bob.get("/api/rooms/general").json()
    assert room["seq"] == start + 2
    assert (room["unread"], room["mentions"], room["notify"]) == (2, 1, "mentions")
    listed = next(r for r in bob.get("/api/rooms").json() if r["slug"] == "general")
    assert (listed["seq"], listed["mentions"], listed["notify"]) == (start + 2, 1, "mentions")


# Threads
# ------------------------------------------------------------------------------


def test_a_reply_is_posted_with_thread_and_a_reply_to_a_reply_goes_to_the_root(alice, bob):
    root = post(alice, "root")
    assert (root["thread"], root["reply_count"], root["last_reply_at"]) == (None, 0, None)
    reply = post(bob, "reply", thread=root["id"])
    nested = post(alice, "nested", thread=reply["id"])
    assert reply["thread"] == nested["thread"] == root["id"]

    page = alice.get("/api/rooms/general/messages", {"thread": root["id"]}).json()
    assert [m["id"] for m in page["messages"]] == [reply["id"], nested["id"]]
    assert page["has_more"] is False
    assert page["root"]["id"] == root["id"]
    assert (page["root"]["reply_count"], page["root"]["last_reply_at"]) == (
        2,
        nested["created_at"],
    )
    timeline = alice.get("/api/rooms/general/messages").json()
    assert [m["id"] for m in timeline["messages"]] == [root["id"]], "the main timeline is roots"

    newest = alice.get("/api/rooms/general/messages", {"thread": root["id"], "limit": 1}).json()
    assert ([m["id"] for m in newest["messages"]], newest["has_more"]) == ([nested["id"]], True)
    older = alice.get(
        "/api/rooms/general/messages", {"thread": root["id"], "before": nested["id"]}
    ).json()
    assert [m["id"] for m in older["messages"]] == [reply["id"]]


def test_a_thread_root_in_another_room_deleted_or_missing_is_a_404(people, alice):
    elsewhere = services.room_create(creator=people["olga"], name="Team", slug="team")
    services.room_join(user=people["alice"], room=elsewhere)
    foreign = post(alice, "in team", room="team")
    gone = post(alice, "soon gone")
    assert alice.delete(f"/api/messages/{gone['id']}").status_code == 204
    before = Message.objects.count()
    for root in (foreign["id"], gone["id"], 10**9):
        response = alice.post("/api/rooms/general/messages", {"body": "re", "thread": root})
        assert response.status_code == 404, root
        assert response.json()["code"] == "not_found"
        listed = alice.get("/api/rooms/general/messages", {"thread": root})
        assert listed.status_code == 404, root
    assert Message.objects.count() == before


def test_thread_must_be_a_message_id(alice):
    response = alice.post("/api/rooms/general/messages", {"body": "re", "thread": "x"})
    assert response.status_code == 422
    assert not Message.objects.exists()
    assert alice.get("/api/rooms/general/messages", {"thread": -1}).status_code == 422


# Reactions
# ------------------------------------------------------------------------------


def test_reacting_returns_the_message_with_its_aggregate_and_is_idempotent(alice, bob):
    message = post(alice, "ship it")
    first = react(bob, message["id"], "👍")
    assert first.status_code == 200
    body = first.json()
    assert body["id"] == message["id"]
    assert body["reactions"] == [{"emoji": "👍", "count": 1, "users": ["bob"]}]
    assert body["seq"] > message["seq"]
    again = react(bob, message["id"], "👍")
    assert again.status_code == 200
    assert again.json() == body, "reacting twice changes nothing"

    both = react(alice, message["id"], "👍").json()
    assert both["reactions"] == [{"emoji": "👍", "count": 2, "users": ["bob", "alice"]}]
    removed = unreact(bob, message["id"], "👍")
    assert removed.status_code == 200
    assert removed.json()["reactions"] == [{"emoji": "👍", "count": 1, "users": ["alice"]}]
    repeated = unreact(bob, message["id"], "👍")
    assert (repeated.status_code, repeated.json()) == (200, removed.json())
    fetched = alice.get("/api/rooms/general/messages").json()["messages"][0]
    assert fetched == removed.json(), "the socket's and the API's message objects are one"


@pytest.mark.parametrize("emoji", [":tada:", "🇫🇷", "👍🏽", "👨‍👩‍👧", "❤️"])
def test_unicode_emoji_and_short_names_round_trip_in_the_path(alice, emoji):
    message = post(alice, "react")
    assert react(alice, message["id"], emoji).json()["reactions"][0]["emoji"] == emoji
    assert unreact(alice, message["id"], emoji).json()["reactions"] == []


@pytest.mark.parametrize("emoji", ["a", "hello", "😀😀", ":UPPER:", ":" + "a" * 31 + ":", "", 7])
def test_a_reaction_that_is_not_one_emoji_is_a_422(alice, emoji):
    message = post(alice, "react")
    response = react(alice, message["id"], emoji)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert alice.get("/api/rooms/general/messages").json()["messages"][0]["reactions"] == []


def test_a_twenty_first_different_emoji_is_a_422(alice, bob, settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    message = post(alice, "so many feelings")
    emoji = list("😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋")
    for one in emoji[:20]:
        assert react(alice, message["id"], one).status_code == 200
    response = react(bob, message["id"], emoji[20])
    assert (response.status_code, response.json()["code"]) == (422, "invalid")
    assert react(bob, message["id"], emoji[0]).status_code == 200


def test_reactions_and_pins_in_an_archived_room_are_a_403(people, alice, bearer):
    room = services.room_create(creator=people["olga"], name="Old", slug="old")
    services.room_join(user=people["alice"], room=room)
    message = post(alice, "last words", room="old")
    assert react(alice, message["id"], "👋").status_code == 200
    services.room_archive(by=people["olga"], room=room)
    for response in (
        react(alice, message["id"], "😢"),
        unreact(alice, message["id"], "👋"),
        alice.put(f"/api/messages/{message['id']}/pin"),
        alice.delete(f"/api/messages/{message['id']}/pin"),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    shown = alice.get("/api/rooms/old/messages").json()["messages"][0]
    assert (shown["reactions"][0]["emoji"], shown["pinned"]) == ("👋", False)


def test_messages_i_may_not_touch_are_a_404_like_missing_ones(people, secret, bearer):
    hidden, _ = services.message_post(user=people["olga"], room=secret, body="shh")
    team = services.room_create(creator=people["olga"], name="Team", slug="team")
    public, _ = services.message_post(user=people["olga"], room=team, body="hi")
    eve = bearer(people["eve"])
    for message_id in (hidden.id, public.id, 10**9):
        for response in (
            react(eve, message_id, "👀"),
            unreact(eve, message_id, "👀"),
            eve.put(f"/api/messages/{message_id}/pin"),
            eve.delete(f"/api/messages/{message_id}/pin"),
        ):
            assert response.status_code == 404, (message_id, response.request)
            assert response.json()["detail"] == "No such message."
    assert eve.get("/api/rooms/secret/pins").status_code == 404
    assert eve.get("/api/rooms/secret/changes", {"since": 0}).status_code == 404


def test_reactions_and_pins_spend_the_posting_bucket(alice, settings):
    settings.CHAT_RATE_LIMIT_BURST = 3
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.01
    message = post(alice, "one")
    assert react(alice, message["id"], "👍").status_code == 200
    assert alice.put(f"/api/messages/{message['id']}/pin").status_code == 200
    for response in (
        react(alice, message["id"], "🎉"),
        unreact(alice, message["id"], "👍"),
        alice.delete(f"/api/messages/{message['id']}/pin"),
        alice.post("/api/rooms/general/messages", {"body": "two"}),
    ):
        assert response.status_code == 429
        assert response.json()["code"] == "rate_limited"
    shown = alice.get("/api/rooms/general/messages").json()["messages"]
    assert [m["id"] for m in shown] == [message["id"]]
    assert [r["emoji"] for r in shown[0]["reactions"]] == ["👍"] and shown[0]["pinned"] is True


# Pins
# ------------------------------------------------------------------------------


def test_pinning_returns_the_message_and_pins_list_newest_pin_first(alice, bob):
    first, second = post(alice, "the plan"), post(alice, "the date")
    pinned = bob.put(f"/api/messages/{first['id']}/pin")
    assert pinned.status_code == 200
    assert (pinned.json()["id"], pinned.json()["pinned"]) == (first["id"], True)
    assert pinned.json()["seq"] > second["seq"]
    assert alice.put(f"/api/messages/{second['id']}/pin").status_code == 200
    pins = alice.get("/api/rooms/general/pins").json()["messages"]
    assert [m["id"] for m in pins] == [second["id"], first["id"]]
    assert all(m["pinned"] for m in pins)

    unpinned = alice.delete(f"/api/messages/{first['id']}/pin")
    assert (unpinned.status_code, unpinned.json()["pinned"]) == (200, False)
    assert [m["id"] for m in alice.get("/api/rooms/general/pins").json()["messages"]] == [
        second["id"]
    ]
    assert alice.delete(f"/api/messages/{second['id']}/pin").status_code == 200
    assert alice.get("/api/rooms/general/pins").json()["messages"] == []


def test_a_deleted_message_leaves_the_pins(alice):
    message = post(alice, "pinned then deleted")
    alice.put(f"/api/messages/{message['id']}/pin")
    assert alice.delete(f"/api/messages/{message['id']}").status_code == 204
    assert alice.get("/api/rooms/general/pins").json()["messages"] == []


# Mentions
# ------------------------------------------------------------------------------


def test_at_room_needs_an_owner_or_moderator(people, bearer, secret):
    for name, status in (("bob", 403), ("mona", 201), ("olga", 201)):
        response = bearer(people[name]).post(
            "/api/rooms/secret/messages", {"body": f"@room from {name}"}
        )
        assert response.status_code == status, name
    assert list(Message.objects.values_list("body", flat=True)) == [
        "@room from mona",
        "@room from olga",
    ]
    stored = bearer(people["bob"]).get("/api/rooms/secret/messages").json()["messages"]
    assert [m["mentions"] for m in stored] == [["room"], ["room"]]
    assert bearer(people["bob"]).get("/api/rooms/secret").json()["mentions"] == 2


# The change cursor
# ------------------------------------------------------------------------------


def test_changes_return_each_changed_message_once_in_seq_order_with_tombstones(alice, bob):
    since = room_seq(bob)
    one, two = post(alice, "one"), post(alice, "two")
    assert alice.patch(f"/api/messages/{one['id']}", {"body": "one!"}).status_code == 200
    reacted = react(bob, two["id"], "👍").json()
    assert alice.delete(f"/api/messages/{one['id']}").status_code == 204
    deleted_seq = room_seq(bob)
    three = post(alice, "three")

    page = changes(bob, since)
    assert page["room"] == "general"
    assert [c["id"] for c in page["changes"]] == [two["id"], one["id"], three["id"]]
    assert page["changes"][0] == reacted
    assert page["changes"][1] == {
        "id": one["id"],
        "room": "general",
        "deleted": True,
        "seq": deleted_seq,
        "thread": None,
    }
    assert page["changes"][2] == three
    assert (page["seq"], page["has_more"]) == (three["seq"], False)
    assert changes(bob, page["seq"]) == {
        "room": "general",
        "changes": [],
        "seq": three["seq"],
        "has_more": False,
    }


def test_changes_page_with_limit_and_the_returned_seq(alice, bob):
    since = room_seq(bob)
    posted = [post(alice, f"m{n}") for n in range(5)]
    seen, cursor, calls = [], since, 0
    while True:
        page = changes(bob, cursor, limit=2)
        calls += 1
        seen += [c["id"] for c in page["changes"]]
        assert len(page["changes"]) <= 2
        cursor = page["seq"]
        if not page["has_more"]:
            break
    assert seen == [m["id"] for m in posted]
    assert (calls, cursor) == (3, posted[-1]["seq"])


@pytest.mark.parametrize("query", [{"since": -1}, {"since": "x"}, {"since": 0, "limit": 0}])
def test_changes_parameters_are_validated(alice, query):
    response = alice.get("/api/rooms/general/changes", query)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


# Notifications
# ------------------------------------------------------------------------------


def test_notify_defaults_to_mentions_and_all_in_direct_rooms(alice):
    assert alice.get("/api/rooms/general").json()["notify"] == "mentions"
    direct = alice.post("/api/dms", {"username": "bob"})
    assert direct.status_code == 201
    assert direct.json()["notify"] == "all"
    assert alice.get(f"/api/rooms/{direct.json()['slug']}").json()["notify"] == "all"


def test_notify_is_set_per_member_and_validated(alice, bob):
    for value in ("all", "none", "mentions"):
        response = alice.patch("/api/rooms/general/me", {"notify": value})
        assert response.status_code == 200
        assert (response.json()["slug"], response.json()["notify"]) == ("general", value)
    alice.patch("/api/rooms/general/me", {"notify": "none"})
    assert alice.get("/api/rooms/general").json()["notify"] == "none"
    assert bob.get("/api/rooms/general").json()["notify"] == "mentions", (
        "it is mine, not the room's"
    )
    for bad in ("loud", "", None, 1, "ALL"):
        response = alice.patch("/api/rooms/general/me", {"notify": bad})
        assert response.status_code == 422, bad
    assert alice.get("/api/rooms/general").json()["notify"] == "none"


def test_notify_needs_membership(people, bearer, secret):
    services.room_create(creator=people["olga"], name="Team", slug="team")
    eve = bearer(people["eve"])
    assert eve.patch("/api/rooms/secret/me", {"notify": "all"}).status_code == 404
    assert eve.patch("/api/rooms/team/me", {"notify": "all"}).status_code in (403, 404)


@pytest.mark.django_db(transaction=True)
async def test_setting_notify_tells_my_own_sockets(make_user, bearer, connect):
    alice = await database_sync_to_async(make_user)("alice")
    await database_sync_to_async(make_user)("bob")
    client = await database_sync_to_async(bearer)(alice)
    socket = await connect(alice)
    assert next(r for r in socket.hello["rooms"] if r["slug"] == "general")["notify"] == (
        "mentions"
    )
    response = await database_sync_to_async(client.patch)(
        "/api/rooms/general/me", {"notify": "none"}
    )
    assert response.status_code == 200
    frame = await receive_type(socket, "room_notify")
    assert frame == {"type": "room_notify", "room": "general", "notify": "none"}
    again = await connect(alice)
    assert next(r for r in again.hello["rooms"] if r["slug"] == "general")["notify"] == "none"
