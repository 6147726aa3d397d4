"""Moderation, edits and read marks over HTTP: remove members, change and archive rooms,
edit and delete messages, mark a room read. The services' rules (docs/social.md),
answered with the API's statuses, and the same live events as the WebSocket path."""

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Message, Room

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("olga", "mona", "bob", "eve")}


@pytest.fixture
def api(people, bearer, secret):
    """api[name]: a bearer-token client of that person."""
    return {name: bearer(user) for name, user in people.items()}


def post(user, room: Room, body: str) -> int:
    return services.message_post(user=user, room=room, body=body)[0].id


def member_names(room: Room) -> set[str]:
    return set(room.memberships.values_list("user__username", flat=True))


# Removing members
# ------------------------------------------------------------------------------


def test_the_owner_removes_a_member_who_then_no_longer_sees_the_room(api, secret):
    removed = api["olga"].delete("/api/rooms/secret/members/bob")
    assert removed.status_code == 204
    assert removed.content == b""
    assert member_names(secret) == {"olga", "mona"}
    assert api["bob"].get("/api/rooms/secret").status_code == 404
    usernames = [m["username"] for m in api["olga"].get("/api/rooms/secret/members").json()]
    assert usernames == ["mona", "olga"]

    again = api["olga"].delete("/api/rooms/secret/members/bob")
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("by", "target", "status"),
    [
        ("mona", "bob", 204),  # moderators remove members
        ("olga", "mona", 204),  # the owner removes moderators
        ("bob", "mona", 403),  # members remove nobody
        ("mona", "olga", 403),  # nobody removes the owner
        ("olga", "eve", 404),  # not a member
        ("olga", "nobody", 404),  # no such user
        ("eve", "bob", 404),  # outsiders cannot see the private room at all
    ],
)
def test_who_may_remove_whom(api, secret, by, target, status):
    before = member_names(secret)
    response = api[by].delete(f"/api/rooms/secret/members/{target}")
    assert response.status_code == status
    if status == 204:
        assert member_names(secret) == before - {target}
    else:
        assert response.json()["code"] == {403: "forbidden", 404: "not_found"}[status]
        assert member_names(secret) == before


def test_staff_remove_from_public_rooms_and_nobody_from_direct_ones(api, people, make_user, bearer):
    staff = bearer(make_user("root", is_staff=True))
    assert staff.delete("/api/rooms/general/members/bob").status_code == 204
    assert api["bob"].get("/api/rooms/general").json()["is_member"] is False

    dm, _ = services.direct_room_open(user=people["olga"], username="eve")
    refused = api["olga"].delete(f"/api/rooms/{dm.slug}/members/eve")
    assert refused.status_code == 403
    assert member_names(dm) == {"olga", "eve"}


# Changing and archiving rooms
# ------------------------------------------------------------------------------


def test_the_owner_renames_a_room_changes_its_topic_archives_and_reopens_it(api, secret):
    changed = api["olga"].patch("/api/rooms/secret", {"name": "Plans", "topic": "Q3 only"})
    assert changed.status_code == 200
    assert (changed.json()["slug"], changed.json()["name"], changed.json()["topic"]) == (
        "secret",
        "Plans",
        "Q3 only",
    )
    assert (changed.json()["archived"], changed.json()["is_member"]) == (False, True)

    archived = api["mona"].patch("/api/rooms/secret", {"archived": True})
    assert (archived.status_code, archived.json()["archived"]) == (200, True)
    assert archived.json()["name"] == "Plans", "fields not sent stay as they were"
    assert api["bob"].post("/api/rooms/secret/messages", {"body": "hello?"}).status_code == 403

    reopened = api["olga"].patch("/api/rooms/secret", {"archived": False})
    assert reopened.json()["archived"] is False
    assert api["bob"].post("/api/rooms/secret/messages", {"body": "hello!"}).status_code == 201
    secret.refresh_from_db()
    assert (secret.name, secret.topic, secret.archived) == ("Plans", "Q3 only", False)


def test_members_cannot_change_a_room_and_outsiders_cannot_see_it(api, secret):
    refused = api["bob"].patch("/api/rooms/secret", {"archived": True})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    hidden = api["eve"].patch("/api/rooms/secret", {"name": "Mine now"})
    missing = api["eve"].patch("/api/rooms/nope", {"name": "Mine now"})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    secret.refresh_from_db()
    assert (secret.name, secret.archived) == ("Secret", False)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": None},
        {"name": "   "},
        {"name": "n" * 101},
        {"topic": "t" * 251},
        {"archived": "yes"},
        {"archived": 1},
        {"name": "Renamed", "topic": "nul \x00 byte"},
    ],
)
def test_invalid_changes_are_a_422_and_change_nothing(api, secret, payload):
    response = api["olga"].patch("/api/rooms/secret", payload)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    secret.refresh_from_db()
    assert (secret.name, secret.topic, secret.archived) == ("Secret", "", False)


def test_the_browser_session_moderates_with_its_csrf_token(people, secret, session, csrf_token):
    browser = session(people["olga"])
    refused = browser.patch("/api/rooms/secret", {"topic": "no token"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    headers = {"X-CSRFToken": csrf_token(browser)}
    assert browser.patch("/api/rooms/secret", {"topic": "ok"}, headers=headers).status_code == 200
    removed = browser.delete("/api/rooms/secret/members/bob", headers=headers)
    assert removed.status_code == 204


# Editing and deleting messages
# ------------------------------------------------------------------------------


def test_authors_edit_their_messages(api, people, secret):
    message_id = post(people["bob"], secret, "teh plan")
    response = api["bob"].patch(f"/api/messages/{message_id}", {"body": "the **plan**"})
    assert response.status_code == 200
    edited = response.json()
    assert (edited["id"], edited["room"], edited["body"]) == (message_id, "secret", "the **plan**")
    assert edited["html"] == "<p>the <strong>plan</strong></p>"
    assert edited["edited_at"].endswith("Z")
    assert Message.objects.get(pk=message_id).body == "the **plan**"


@pytest.mark.parametrize(
    ("who", "payload", "status", "code"),
    [
        ("mona", {"body": "my words now"}, 403, "forbidden"),  # even moderators
        ("bob", {"body": "x" * 4001}, 413, "too_long"),
        ("bob", {"body": "  "}, 422, "invalid"),
        ("bob", {"body": 7}, 422, "invalid"),
        ("bob", {}, 422, "invalid"),
        ("eve", {"body": "hi"}, 404, "not_found"),  # a room eve cannot see
    ],
)
def test_edits_are_refused_with_the_fitting_status(api, people, secret, who, payload, status, code):
    message_id = post(people["bob"], secret, "original")
    response = api[who].patch(f"/api/messages/{message_id}", payload)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert Message.objects.get(pk=message_id).body == "original"


def test_archived_rooms_refuse_edits_and_missing_messages_are_a_404(api, people, secret):
    message_id = post(people["bob"], secret, "original")
    services.room_archive(by=people["olga"], room=secret)
    archived = api["bob"].patch(f"/api/messages/{message_id}", {"body": "changed"})
    assert archived.status_code == 403
    assert api["bob"].patch("/api/messages/999999", {"body": "hi"}).status_code == 404
    assert api["bob"].patch("/api/messages/0", {"body": "hi"}).status_code == 422


def test_authors_and_moderators_delete_messages_and_members_cannot(api, people, secret):
    own, others = post(people["bob"], secret, "mine"), post(people["bob"], secret, "rude")
    monas = post(people["mona"], secret, "by a moderator")

    assert api["bob"].delete(f"/api/messages/{own}").status_code == 204
    assert api["mona"].delete(f"/api/messages/{others}").status_code == 204
    refused = api["bob"].delete(f"/api/messages/{monas}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert api["eve"].delete(f"/api/messages/{monas}").status_code == 404

    shown = api["olga"].get("/api/rooms/secret/messages").json()["messages"]
    assert [m["body"] for m in shown] == ["by a moderator"]
    again = api["bob"].delete(f"/api/messages/{own}")
    assert again.status_code == 404, "a deleted message is gone"


# Read marks
# ------------------------------------------------------------------------------


def test_marking_a_room_read_moves_the_mark_forward_only(api, people, secret):
    first, second = (post(people["olga"], secret, f"news {n}") for n in range(2))
    assert api["bob"].get("/api/rooms/secret").json()["unread"] == 2

    response = api["bob"].post("/api/rooms/secret/read", {"message_id": first})
    assert response.status_code == 200
    assert response.json() == {"room": "secret", "message_id": first, "unread": 1}
    assert api["bob"].get("/api/rooms/secret").json()["unread"] == 1

    read_all = api["bob"].post("/api/rooms/secret/read", {"message_id": second})
    assert read_all.json() == {"room": "secret", "message_id": second, "unread": 0}
    back = api["bob"].post("/api/rooms/secret/read", {"message_id": first})
    assert back.json() == {"room": "secret", "message_id": second, "unread": 0}
    beyond = api["bob"].post("/api/rooms/secret/read", {"message_id": second + 1000})
    assert beyond.json()["message_id"] == second, "the mark stops at the newest message"


def test_read_marks_need_membership_and_a_message_id(api, people, secret):
    services.room_create(creator=people["olga"], name="Random", slug="random")
    not_joined = api["bob"].post("/api/rooms/random/read", {"message_id": 1})
    assert not_joined.status_code == 403
    assert api["eve"].post("/api/rooms/secret/read", {"message_id": 1}).status_code == 404
    for payload in [{}, {"message_id": -1}, {"message_id": "1"}, {"message_id": True}]:
        response = api["bob"].post("/api/rooms/secret/read", payload)
        assert response.status_code == 422, payload
        assert response.json()["code"] == "invalid"


# Live, like the WebSocket path
# ------------------------------------------------------------------------------


async def next_of(socket, wanted: str) -> dict:
    """The next frame of the wanted type, skipping other chatter."""
    while (frame := await socket.receive_json_from(timeout=5))["type"] != wanted:
        pass
    return frame


@pytest.mark.django_db(transaction=True)
async def test_changes_made_over_http_reach_websocket_members_live(people, api, secret, connect):
    message_id = await database_sync_to_async(post)(people["bob"], secret, "typo")
    bob, bob_elsewhere = await connect(people["bob"]), await connect(people["bob"])

    def call(name: str, method: str, path: str, payload: dict | None = None):
        client = api[name]
        args = () if payload is None else (payload,)
        return database_sync_to_async(getattr(client, method))(path, *args)

    await call("bob", "patch", f"/api/messages/{message_id}", {"body": "fixed"})
    assert (await next_of(bob, "message_edited"))["message"]["body"] == "fixed"
    await call("bob", "post", "/api/rooms/secret/read", {"message_id": message_id})
    assert (await next_of(bob_elsewhere, "read"))["message_id"] == message_id
    await call("mona", "delete", f"/api/messages/{message_id}")
    assert (await next_of(bob, "message_deleted"))["id"] == message_id

    await call("olga", "patch", "/api/rooms/secret", {"topic": "new topic", "archived": True})
    updated = await next_of(bob, "room_updated")
    assert {k: updated[k] for k in ("room", "name", "topic")} == {
        "room": "secret",
        "name": "Secret",
        "topic": "new topic",
    }
    while not updated["archived"]:  # name and topic, then the archive: two events
        updated = await next_of(bob, "room_updated")

    await call("olga", "delete", "/api/rooms/secret/members/bob")
    for socket in (bob, bob_elsewhere):
        assert (await next_of(socket, "room_removed"))["room"] == "secret"
