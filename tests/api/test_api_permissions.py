"""Who may do what over HTTP: every API route, as every kind of caller, in one table.

The world of every case: `secret`, a private room (olga owns it, mona
moderates, bob is a member, tina is a member whose message and membership are
acted on), and `lobby`, a public room with the same people in the same roles;
eve is signed in but in neither room; stan is staff and in neither room; dora
was deactivated after her token was made; anonymous sends no credentials.

Each row is one route on one room and the status each caller gets. A route in
the OpenAPI schema without a row fails `test_every_route_has_a_row`, so a new
route cannot ship without a rule. The rules behind the table are in
docs/social.md (rooms, moderation) and docs/api.md.
"""

import json

import pytest
from django.test import Client

from chat import services
from chat.models import Membership, Message, Room

ROLES = ("anonymous", "deactivated", "outsider", "member", "moderator", "owner", "staff")
ACTOR = {
    "outsider": "eve",
    "member": "bob",
    "moderator": "mona",
    "owner": "olga",
    "staff": "stan",
    "deactivated": "dora",
}

# Statuses a whole column shares: no credentials or a dead account's token.
NO_AUTH = {"anonymous": 401, "deactivated": 401}


def everyone(status: int) -> dict[str, int]:
    return {role: status for role in ROLES if role not in NO_AUTH}


def private(*, outsider: int, member: int, moderator: int, owner: int, staff: int) -> dict:
    return {
        "outsider": outsider,
        "member": member,
        "moderator": moderator,
        "owner": owner,
        "staff": staff,
    }


# (method, path template, room, body) -> status per role. `{slug}` is the row's
# room; `{message_id}` is tina's message in it; `{username}` is tina.
# Private rooms: outsiders and staff outside the room get the same 404 as for a
# room that does not exist. Public rooms: anyone may read and join; staff
# moderate them without being members.
MATRIX: list[tuple[str, str, str, dict | None, dict[str, int]]] = [
    ("GET", "/api/me", "-", None, everyone(200)),
    ("GET", "/api/tokens", "-", None, everyone(200)),
    # A token cannot mint tokens (only a signed-in session can).
    ("POST", "/api/tokens", "-", {"name": "script"}, everyone(403)),
    # Someone else's token is no token of yours.
    ("DELETE", "/api/tokens/{other_token_id}", "-", None, everyone(404)),
    ("GET", "/api/rooms", "-", None, everyone(200)),
    ("POST", "/api/rooms", "-", {"name": "New", "slug": "new-{role}"}, everyone(201)),
    ("POST", "/api/dms", "-", {"username": "tina"}, everyone(201)),
    ("POST", "/api/groups", "-", {"usernames": ["tina", "bob", "mona"]}, everyone(201)),
    # The people picker: anyone signed in finds people (never their email).
    ("GET", "/api/users?q=ti", "-", None, everyone(200)),
    # Message search: anyone signed in searches their own rooms (never others').
    ("GET", "/api/search?q=hello", "-", None, everyone(200)),
    # A JSON body carries no `file` field (tests/files/ upload real ones).
    ("POST", "/api/uploads", "-", None, everyone(422)),
    # secret: private
    (
        "GET",
        "/api/rooms/{slug}",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "PATCH",
        "/api/rooms/{slug}",
        "secret",
        {"topic": "changed"},
        private(outsider=404, member=403, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/join",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/leave",
        "secret",
        None,
        private(outsider=404, member=204, moderator=204, owner=204, staff=404),
    ),
    (
        "GET",
        "/api/rooms/{slug}/members",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/members",
        "secret",
        {"username": "nina"},
        private(outsider=404, member=403, moderator=200, owner=200, staff=404),
    ),
    (
        "DELETE",
        "/api/rooms/{slug}/members/{username}",
        "secret",
        None,
        private(outsider=404, member=403, moderator=204, owner=204, staff=404),
    ),
    # Roles: only the owner (staff outside a private room do not see it).
    (
        "PATCH",
        "/api/rooms/{slug}/members/{username}",
        "secret",
        {"role": "moderator"},
        private(outsider=404, member=403, moderator=403, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/read",
        "secret",
        {"message_id": 1},
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "GET",
        "/api/rooms/{slug}/messages",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/messages",
        "secret",
        {"body": "hello"},
        private(outsider=404, member=201, moderator=201, owner=201, staff=404),
    ),
    (
        "GET",
        "/api/rooms/{slug}/poll?timeout=0",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/typing",
        "secret",
        None,
        private(outsider=404, member=204, moderator=204, owner=204, staff=404),
    ),
    # The long poll over every room is the caller's own: it only ever holds their rooms.
    (
        "GET",
        "/api/events?timeout=0",
        "secret",
        None,
        everyone(200),
    ),
    # Only the author edits; nobody here is tina.
    (
        "PATCH",
        "/api/messages/{message_id}",
        "secret",
        {"body": "rewritten"},
        private(outsider=404, member=403, moderator=403, owner=403, staff=404),
    ),
    (
        "DELETE",
        "/api/messages/{message_id}",
        "secret",
        None,
        private(outsider=404, member=403, moderator=204, owner=204, staff=404),
    ),
    # Conversations: reading as for history; reacting, pinning and the notify
    # setting are for members (a message one cannot react to answers like a missing one).
    (
        "GET",
        "/api/rooms/{slug}/changes?since=0",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "GET",
        "/api/rooms/{slug}/pins",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "PATCH",
        "/api/rooms/{slug}/me",
        "secret",
        {"notify": "none"},
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/messages/{message_id}/reactions",
        "secret",
        {"emoji": ":tada:"},
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "DELETE",
        "/api/messages/{message_id}/reactions/:tada:",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "PUT",
        "/api/messages/{message_id}/pin",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "DELETE",
        "/api/messages/{message_id}/pin",
        "secret",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    # lobby: public
    (
        "GET",
        "/api/rooms/{slug}",
        "lobby",
        None,
        private(outsider=200, member=200, moderator=200, owner=200, staff=200),
    ),
    (
        "PATCH",
        "/api/rooms/{slug}",
        "lobby",
        {"topic": "changed"},
        private(outsider=403, member=403, moderator=200, owner=200, staff=200),
    ),
    (
        "POST",
        "/api/rooms/{slug}/join",
        "lobby",
        None,
        private(outsider=200, member=200, moderator=200, owner=200, staff=200),
    ),
    (
        "GET",
        "/api/rooms/{slug}/messages",
        "lobby",
        None,
        private(outsider=200, member=200, moderator=200, owner=200, staff=200),
    ),
    # Posting needs membership even where reading does not.
    (
        "POST",
        "/api/rooms/{slug}/messages",
        "lobby",
        {"body": "hello"},
        private(outsider=403, member=201, moderator=201, owner=201, staff=403),
    ),
    # Adding someone else to a room is the owner's and moderators' (and staff's) call.
    (
        "POST",
        "/api/rooms/{slug}/members",
        "lobby",
        {"username": "nina"},
        private(outsider=403, member=403, moderator=200, owner=200, staff=200),
    ),
    (
        "DELETE",
        "/api/rooms/{slug}/members/{username}",
        "lobby",
        None,
        private(outsider=403, member=403, moderator=204, owner=204, staff=204),
    ),
    (
        "PATCH",
        "/api/rooms/{slug}/members/{username}",
        "lobby",
        {"role": "moderator"},
        private(outsider=403, member=403, moderator=403, owner=200, staff=200),
    ),
    (
        "POST",
        "/api/rooms/{slug}/read",
        "lobby",
        {"message_id": 1},
        private(outsider=403, member=200, moderator=200, owner=200, staff=403),
    ),
    (
        "PATCH",
        "/api/messages/{message_id}",
        "lobby",
        {"body": "rewritten"},
        private(outsider=404, member=403, moderator=403, owner=403, staff=404),
    ),
    (
        "DELETE",
        "/api/messages/{message_id}",
        "lobby",
        None,
        private(outsider=404, member=403, moderator=204, owner=204, staff=404),
    ),
    (
        "GET",
        "/api/rooms/{slug}/changes?since=0",
        "lobby",
        None,
        private(outsider=200, member=200, moderator=200, owner=200, staff=200),
    ),
    (
        "PATCH",
        "/api/rooms/{slug}/me",
        "lobby",
        {"notify": "all"},
        private(outsider=403, member=200, moderator=200, owner=200, staff=403),
    ),
    (
        "POST",
        "/api/messages/{message_id}/reactions",
        "lobby",
        {"emoji": "👍"},
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "PUT",
        "/api/messages/{message_id}/pin",
        "lobby",
        None,
        private(outsider=404, member=200, moderator=200, owner=200, staff=404),
    ),
    (
        "POST",
        "/api/rooms/{slug}/typing",
        "lobby",
        None,
        private(outsider=403, member=204, moderator=204, owner=204, staff=403),
    ),
]


def _case_id(row) -> str:
    method, path, room, _, _ = row
    return f"{method} {path.split('?')[0]} [{room}]"


def _is_async(row) -> bool:
    """The long poll is an async view: it reads in a thread of its own, so its cases run
    on a committed (transactional) database rather than inside a test transaction."""
    return "/poll" in row[1] or "/events" in row[1]


def _cases(*, async_view: bool) -> list:
    return [
        pytest.param(row, role, id=f"{_case_id(row)} as {role}")
        for row in MATRIX
        if _is_async(row) == async_view
        for role in ROLES
    ]


@pytest.fixture
def world(make_user, token_for) -> dict:
    people = {
        name: make_user(name)
        for name in ("olga", "mona", "bob", "tina", "eve", "stan", "dora", "nina")
    }
    people["stan"].is_staff = True
    people["stan"].save(update_fields=["is_staff"])
    olga = people["olga"]
    rooms, messages = {}, {}
    for slug, kind in (("secret", "private"), ("lobby", "public")):
        room = services.room_create(creator=olga, name=slug.title(), slug=slug, kind=kind)
        for username in ("mona", "bob", "tina"):
            services.room_invite(by=olga, room=room, username=username)
        Membership.objects.filter(room=room, user=people["mona"]).update(role="moderator")
        rooms[slug] = Room.objects.get(pk=room.pk)
        messages[slug] = services.message_post(user=people["tina"], room=rooms[slug], body="hi")[
            0
        ].id
    tokens = {name: token_for(user) for name, user in people.items()}
    people["dora"].is_active = False
    people["dora"].save(update_fields=["is_active"])
    other_token_id = people["nina"].api_tokens.get().pk
    return {"tokens": tokens, "messages": messages, "other_token_id": other_token_id}


def _request(world: dict, row, role: str):
    method, path, room, body, _ = row
    path = path.format(
        slug=room,
        message_id=world["messages"].get(room, 0),
        username="tina",
        other_token_id=world["other_token_id"],
    )
    if body is not None:
        body = {k: v.format(role=role) if isinstance(v, str) else v for k, v in body.items()}
    headers = {}
    if role != "anonymous":
        headers["Authorization"] = f"Bearer {world['tokens'][ACTOR[role]]}"
    client = Client(headers=headers)
    return client.generic(
        method,
        path,
        data=b"" if body is None else json.dumps(body),
        content_type="application/json",
    )


def _check(world: dict, row, role: str) -> None:
    expected = {**NO_AUTH, **row[4]}[role]
    response = _request(world, row, role)
    assert response.status_code == expected, (
        f"{_case_id(row)} as {role}: {response.status_code} {response.content[:200]!r}"
    )
    assert response["Content-Type"].startswith("application/json") or response.status_code == 204
    if expected >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "role"), _cases(async_view=False))
def test_each_caller_gets_the_documented_answer(world, row, role):
    _check(world, row, role)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("row", "role"), _cases(async_view=True))
def test_each_caller_of_the_long_poll_gets_the_documented_answer(world, row, role):
    _check(world, row, role)


@pytest.mark.django_db
def test_a_refused_write_changes_nothing(world):
    """A member's refused moderation leaves the room, its members and messages as they were."""
    bob = world["tokens"]["bob"]
    client = Client(headers={"Authorization": f"Bearer {bob}"})
    message_id = world["messages"]["secret"]
    assert client.delete(f"/api/messages/{message_id}").status_code == 403
    assert client.delete("/api/rooms/secret/members/tina").status_code == 403
    assert (
        client.patch(
            "/api/rooms/secret", {"topic": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert not Message.objects.get(pk=message_id).deleted
    assert Membership.objects.filter(room__slug="secret", user__username="tina").exists()
    assert Room.objects.get(slug="secret").topic == ""


def test_every_route_has_a_row(client):
    """A route added to the API without a row in MATRIX fails here."""
    schema = client.get("/api/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    covered = {
        (
            method,
            path.split("?")[0]
            .replace("{other_token_id}", "{token_id}")
            .replace("/reactions/:tada:", "/reactions/{emoji}"),
        )
        for method, path, _, _, _ in MATRIX
    }
    assert routes - covered == set(), "give each new route a row in MATRIX"
