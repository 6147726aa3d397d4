"""Rooms over HTTP: list, create, detail, join, leave, members, invite, direct rooms."""

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Membership, Room

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def private_room(make_user):
    """`secret`, a private room owned by olga."""
    owner = make_user("olga")
    return services.room_create(creator=owner, name="Secret", slug="secret", kind="private")


def test_the_list_shows_public_rooms_and_my_own_with_membership_and_unread(
    make_user, bearer, private_room
):
    alice, bob = make_user("alice"), make_user("bob")
    general = Room.objects.get(slug="general")
    services.room_create(creator=bob, name="Random", slug="random")
    services.room_create(creator=alice, name="Mine", slug="mine", kind="private")
    for n in range(2):
        services.message_post(user=bob, room=general, body=f"hi {n}")

    rooms = {room["slug"]: room for room in bearer(alice).get("/api/rooms").json()}
    assert set(rooms) == {"general", "random", "mine"}, "olga's private room stays hidden"
    assert (rooms["general"]["is_member"], rooms["general"]["unread"]) == (True, 2)
    assert (rooms["random"]["is_member"], rooms["random"]["unread"]) == (False, 0)
    assert rooms["mine"]["kind"] == "private"
    assert rooms["general"]["last_message_id"] == general.messages.last().id


def test_creating_a_room_makes_me_its_owner_and_a_taken_slug_is_a_409(make_user, bearer):
    api = bearer(make_user("alice"))
    created = api.post("/api/rooms", {"name": "Lab", "slug": "lab", "topic": "experiments"})
    assert created.status_code == 201
    assert created.json() | {"last_message_id": 0} == {
        "slug": "lab",
        "name": "Lab",
        "kind": "public",
        "topic": "experiments",
        "archived": False,
        "is_member": True,
        "unread": 0,
        "mentions": 0,
        "notify": "mentions",
        "last_message_id": 0,
        "seq": 0,
        "peer": None,
    }
    assert Membership.objects.get(room__slug="lab").role == "owner"

    taken = api.post("/api/rooms", {"name": "Another lab", "slug": "lab"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "conflict"


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Bad", "slug": "Not A Slug"},
        {"name": "Bad", "slug": "dm-1-2"},
        {"name": "   ", "slug": "blank-name"},
        {"name": "Bad", "slug": "bad", "kind": "direct"},
        {"name": "Bad"},
        {"name": "Bad", "slug": "bad", "topic": "t" * 251},
    ],
)
def test_invalid_rooms_are_a_422_and_nothing_is_created(make_user, bearer, payload):
    response = bearer(make_user("alice")).post("/api/rooms", payload)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exclude(slug="general").exists()


def test_a_private_room_answers_outsiders_exactly_like_a_missing_room(
    make_user, bearer, private_room
):
    api = bearer(make_user("alice"))
    for suffix in ["", "/members", "/messages", "/join", "/leave"]:
        method = api.post if suffix in ("/join", "/leave") else api.get
        hidden, missing = method(f"/api/rooms/secret{suffix}"), method(f"/api/rooms/nope{suffix}")
        assert hidden.status_code == missing.status_code == 404, suffix
        assert hidden.json() == missing.json()
    assert api.post("/api/rooms/secret/messages", {"body": "hi"}).status_code == 404
    assert api.post("/api/rooms/secret/members", {"username": "alice"}).status_code == 404


def test_join_and_leave_a_public_room(make_user, bearer):
    bob = make_user("bob")
    services.room_create(creator=bob, name="Random", slug="random")
    api = bearer(make_user("alice"))

    joined = api.post("/api/rooms/random/join")
    assert joined.status_code == 200
    assert joined.json()["is_member"] is True
    assert api.get("/api/rooms/random").json()["is_member"] is True

    assert api.post("/api/rooms/random/leave").status_code == 204
    assert api.get("/api/rooms/random").json()["is_member"] is False
    assert api.post("/api/rooms/random/leave").status_code == 204, "leaving twice is harmless"


def test_members_are_listed_with_their_role_and_whether_they_are_online(make_user, bearer):
    alice = make_user("alice")
    make_user("bob")
    members = bearer(alice).get("/api/rooms/general/members").json()
    assert [(m["username"], m["role"], m["online"]) for m in members] == [
        ("alice", "member", False),
        ("bob", "member", False),
    ]
    assert members[0]["avatar_url"] and members[0]["display_name"] == "alice"


@pytest.mark.django_db(transaction=True)
async def test_a_member_with_an_open_socket_is_listed_online(make_user, bearer, connect):
    alice = await database_sync_to_async(make_user)("alice")
    api = await database_sync_to_async(bearer)(alice)
    await connect(alice)
    members = (await database_sync_to_async(api.get)("/api/rooms/general/members")).json()
    assert [(m["username"], m["online"]) for m in members] == [("alice", True)]


def test_owners_invite_into_private_rooms_and_the_invitee_then_sees_it(
    make_user, bearer, private_room
):
    olga, alice = bearer(Membership.objects.get(room=private_room).user), make_user("alice")
    invited = olga.post("/api/rooms/secret/members", {"username": "alice"})
    assert invited.status_code == 200
    assert (invited.json()["username"], invited.json()["role"]) == ("alice", "member")
    assert bearer(alice).get("/api/rooms/secret").json()["is_member"] is True
    assert olga.post("/api/rooms/secret/members", {"username": "alice"}).status_code == 200


def test_invitations_need_the_right_role_and_a_real_user(make_user, bearer, private_room):
    owner = bearer(Membership.objects.get(room=private_room).user)
    alice = make_user("alice")
    make_user("bob")
    owner.post("/api/rooms/secret/members", {"username": "alice"})

    by_member = bearer(alice).post("/api/rooms/secret/members", {"username": "bob"})
    assert by_member.status_code == 403
    assert by_member.json()["code"] == "forbidden"
    unknown = owner.post("/api/rooms/secret/members", {"username": "nobody"})
    assert unknown.status_code == 404
    assert owner.post("/api/rooms/secret/members", {}).status_code == 422


def test_a_direct_room_is_created_once_per_pair_and_cannot_be_left(make_user, bearer):
    alice, bob = make_user("alice"), make_user("bob")
    first = bearer(alice).post("/api/dms", {"username": "bob"})
    assert first.status_code == 201
    room = first.json()
    assert (room["kind"], room["peer"], room["name"], room["is_member"]) == (
        "direct",
        "bob",
        "bob",
        True,
    )
    again = bearer(bob).post("/api/dms", {"username": "alice"})
    assert again.status_code == 200
    assert (again.json()["slug"], again.json()["peer"]) == (room["slug"], "alice")

    leave = bearer(alice).post(f"/api/rooms/{room['slug']}/leave")
    assert leave.status_code == 403
    invite = bearer(alice).post(f"/api/rooms/{room['slug']}/members", {"username": "alice"})
    assert invite.status_code == 403


def test_direct_rooms_need_another_real_user(make_user, bearer):
    api = bearer(make_user("alice"))
    assert api.post("/api/dms", {"username": "alice"}).status_code == 422
    assert api.post("/api/dms", {"username": "nobody"}).status_code == 404
    assert api.post("/api/dms", {"username": ""}).status_code == 422


def test_a_group_conversation_is_a_private_room_of_exactly_those_people(make_user, bearer):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    dave = make_user("dave")
    first = bearer(alice).post("/api/groups", {"usernames": ["bob", "carol"]})
    assert first.status_code == 201, first.json()
    room = first.json()
    assert (room["kind"], room["name"], room["is_member"]) == (
        "private",
        "alice, bob & carol",
        True,
    )
    members = bearer(bob).get(f"/api/rooms/{room['slug']}/members").json()
    assert {(m["username"], m["role"]) for m in members} == {
        ("alice", "owner"),
        ("bob", "member"),
        ("carol", "member"),
    }
    # The same people, in any order and from any of them, find the same room.
    again = bearer(carol).post("/api/groups", {"usernames": ["bob", "alice", "carol"]})
    assert (again.status_code, again.json()["slug"]) == (200, room["slug"])
    # Others are a group of their own; an outsider cannot see this one.
    other = bearer(alice).post("/api/groups", {"usernames": ["bob", "dave"]})
    assert other.status_code == 201 and other.json()["slug"] != room["slug"]
    assert bearer(dave).get(f"/api/rooms/{room['slug']}").status_code == 404
    # One who left and opens it again is back in it, with its history.
    assert bearer(bob).post(f"/api/rooms/{room['slug']}/leave").status_code == 204
    back = bearer(bob).post("/api/groups", {"usernames": ["alice", "carol"]})
    assert (back.status_code, back.json()["is_member"]) == (200, True)
    assert Membership.objects.filter(room__slug=room["slug"]).count() == 3
    assert dave.pk not in Membership.objects.filter(room__slug=room["slug"]).values_list(
        "user_id", flat=True
    )


@pytest.mark.parametrize(
    ("usernames", "status"),
    [
        (["bob"], 422),  # one person: a direct conversation
        (["bob", "alice"], 422),  # myself does not count
        ([f"u{n}" for n in range(9)], 422),  # past 8 others: a room
        (["bob", "nobody"], 404),
        ("bob,carol", 422),
    ],
)
def test_a_group_needs_two_to_eight_other_real_people(make_user, bearer, usernames, status):
    alice = make_user("alice")
    for name in ("bob", "carol", *(f"u{n}" for n in range(9))):
        make_user(name)
    before = Room.objects.count()
    answer = bearer(alice).post("/api/groups", {"usernames": usernames})
    assert answer.status_code == status, answer.json()
    assert answer.json()["detail"]
    assert Room.objects.count() == before


def test_group_addresses_are_reserved(make_user, bearer):
    api = bearer(make_user("alice"))
    answer = api.post("/api/rooms", {"name": "Sneaky", "slug": "gm-0123456789ab"})
    assert answer.status_code == 422
