"""One account must not spam or amplify: nobody is added to rooms without a moderator's say,
room creation, invitations and new direct rooms are rate limited across replicas, a user's
rooms are capped, and @mention emails are capped, verified-only and throttled per recipient.
"""

import json

import pytest
from allauth.account.models import EmailAddress
from channels.db import database_sync_to_async
from django.test import Client

from chat import ratelimit, services
from chat.models import Membership, Room
from chat.notifications import mention_notify
from project.errors import ClientError

pytestmark = [pytest.mark.django_db]


class Api:
    """A bearer-token client of the HTTP API, sending JSON."""

    def __init__(self, token: str) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data: dict | None = None):
        return self.client.post(path, json.dumps(data or {}), content_type="application/json")


@pytest.fixture
def api(token_for):
    return lambda user: Api(token_for(user))


@pytest.fixture
def lobby(make_user):
    """`lobby`, a public room olga owns, where mona moderates and bob is a plain member."""
    olga, mona, bob = make_user("olga"), make_user("mona"), make_user("bob")
    room = services.room_create(creator=olga, name="Lobby", slug="lobby")
    for user in (mona, bob):
        services.room_join(user=user, room=room)
    Membership.objects.filter(room=room, user=mona).update(role="moderator")
    return room


def member_names(room: Room) -> set[str]:
    return set(room.memberships.values_list("user__username", flat=True))


# (a) Adding someone to a room is the owner's, moderators' and staff's call
# ------------------------------------------------------------------------------


def test_only_the_owner_moderators_and_staff_add_people_to_a_public_room(
    make_user, api, lobby, django_user_model
):
    for name in ("victim", "ann", "ben", "cat", "dan"):
        make_user(name)
    people = {u.username: u for u in django_user_model.objects.all()}
    refused = api(people["bob"]).post("/api/rooms/lobby/members", {"username": "victim"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "victim" not in member_names(lobby)

    staff = make_user("root", is_staff=True)  # not a member of the room
    assert (
        api(people["olga"]).post("/api/rooms/lobby/members", {"username": "ann"}).status_code == 200
    )
    assert (
        api(people["mona"]).post("/api/rooms/lobby/members", {"username": "ben"}).status_code == 200
    )
    assert api(staff).post("/api/rooms/lobby/members", {"username": "cat"}).status_code == 200
    assert api(people["dan"]).post("/api/rooms/lobby/join").status_code == 200, "anyone joins"
    assert {"ann", "ben", "cat", "dan"} <= member_names(lobby)


# (b) Named token buckets: room creation, invitations, new direct rooms
# ------------------------------------------------------------------------------


def test_each_action_has_its_own_bucket_and_posting_keeps_its_own(settings):
    settings.CHAT_RATE_LIMIT_BURST = 2
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.001
    settings.CHAT_RATE_LIMIT_DMS_BURST = 1
    settings.CHAT_RATE_LIMIT_DMS_PER_MINUTE = 0.001
    assert [ratelimit.take_post_token(7) for _ in range(3)] == [True, True, False]
    assert [ratelimit.take_token(7, "dm") for _ in range(2)] == [True, False]
    assert ratelimit.take_token(7, "invite"), "a full post bucket leaves invitations alone"
    assert [ratelimit.take_token(8, "post") for _ in range(2)] == [True, True]


def test_creating_rooms_fast_is_a_429_that_stores_nothing(make_user, api, settings):
    alice = api(make_user("alice"))
    burst = settings.CHAT_RATE_LIMIT_ROOMS_BURST
    for n in range(burst):
        assert alice.post("/api/rooms", {"name": f"R{n}", "slug": f"r-{n}"}).status_code == 201
    refused = alice.post("/api/rooms", {"name": "One more", "slug": "one-more"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert not Room.objects.filter(slug="one-more").exists()


def test_room_creation_is_limited_on_every_replica_alike(make_user, settings):
    """The bucket lives in Redis: a second process spending it sees the same tokens."""
    alice = make_user("alice")
    for _ in range(settings.CHAT_RATE_LIMIT_ROOMS_BURST):
        assert ratelimit.take_token(alice.pk, "room_create")  # as another replica would
    with pytest.raises(ClientError) as refused:
        services.room_create(creator=alice, name="Late", slug="late")
    assert refused.value.code == "rate_limited"


def test_adding_people_fast_is_a_429_that_stores_nothing_and_staff_are_exempt(
    make_user, api, lobby, settings
):
    burst = settings.CHAT_RATE_LIMIT_INVITES_BURST
    names = [f"user{n}" for n in range(burst + 2)]
    for name in names:
        make_user(name)
    olga = api(Membership.objects.get(room=lobby, user__username="olga").user)
    for name in names[:burst]:
        assert olga.post("/api/rooms/lobby/members", {"username": name}).status_code == 200
    assert olga.post("/api/rooms/lobby/members", {"username": "bob"}).status_code == 200, (
        "adding someone already in costs nothing"
    )
    refused = olga.post("/api/rooms/lobby/members", {"username": names[burst]})
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert names[burst] not in member_names(lobby)

    staff = make_user("root", is_staff=True)
    for _ in range(burst):
        ratelimit.take_token(staff.pk, "invite")
    assert api(staff).post("/api/rooms/lobby/members", {"username": names[-1]}).status_code == 200


def test_opening_new_direct_rooms_fast_is_a_429_but_existing_ones_stay_free(
    make_user, api, settings
):
    burst = settings.CHAT_RATE_LIMIT_DMS_BURST
    names = [f"peer{n}" for n in range(burst + 1)]
    for name in names:
        make_user(name)
    alice = api(make_user("alice"))
    for name in names[:burst]:
        assert alice.post("/api/dms", {"username": name}).status_code == 201
    refused = alice.post("/api/dms", {"username": names[burst]})
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert not Room.objects.filter(kind="direct", memberships__user__username=names[burst]).exists()
    for name in names[:burst]:
        assert alice.post("/api/dms", {"username": name}).status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_the_dm_frame_answers_rate_limited_when_the_bucket_is_empty(
    make_user, connect, settings
):
    alice = await database_sync_to_async(make_user)("alice")
    await database_sync_to_async(make_user)("bob")
    socket = await connect(alice)
    for _ in range(settings.CHAT_RATE_LIMIT_DMS_BURST):
        await database_sync_to_async(ratelimit.take_token)(alice.pk, "dm")
    await socket.send_json_to({"type": "dm", "username": "bob", "ref": "d1"})
    frame = await socket.receive_json_from(timeout=10)
    while frame["type"] != "error":
        frame = await socket.receive_json_from(timeout=10)
    assert (frame["code"], frame.get("ref")) == ("rate_limited", "d1")
    assert not await database_sync_to_async(Room.objects.filter(kind="direct").exists)()


# (d) A user's rooms are capped: what others can push them into is bounded
# ------------------------------------------------------------------------------


def test_nobody_gets_a_user_past_the_room_cap(make_user, api, lobby, settings):
    bob = Membership.objects.get(room=lobby, user__username="bob").user  # general, lobby
    olga = Membership.objects.get(room=lobby, user__username="olga").user
    dora = make_user("dora")  # only in general
    side = services.room_create(creator=olga, name="Side", slug="side")
    extra = services.room_create(creator=olga, name="Extra", slug="extra")
    settings.CHAT_MAX_ROOMS_PER_USER = 3
    services.room_join(user=bob, room=side)  # bob's third room: at the cap

    invited = api(olga).post("/api/rooms/extra/members", {"username": "bob"})
    assert invited.status_code == 403
    assert "bob is in 3 rooms" in invited.json()["detail"]
    assert "bob is in 3 rooms" in api(dora).post("/api/dms", {"username": "bob"}).json()["detail"]
    assert api(bob).post("/api/rooms/extra/join").status_code == 403
    assert api(bob).post("/api/rooms", {"name": "Mine", "slug": "mine"}).status_code == 403
    assert Membership.objects.filter(user=bob).count() == 3
    assert "bob" not in member_names(extra)
    assert not Room.objects.filter(kind="direct").exists()

    services.room_leave(user=bob, room=side)
    assert api(bob).post("/api/rooms/extra/join").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_the_cap_bounds_the_victims_hello(make_user, connect, settings):
    settings.CHAT_MAX_ROOMS_PER_USER = 4
    settings.CHAT_RATE_LIMIT_ENABLED = False  # the cap holds even with no rate limit

    def push_victim_into_rooms() -> int:
        make_user("victim")
        refused = 0
        for n in range(10):
            owner = make_user(f"owner{n}")
            room = services.room_create(creator=owner, name=f"Room {n}", slug=f"room-{n}")
            try:
                services.room_invite(by=owner, room=room, username="victim")
            except ClientError as error:
                assert error.code == "forbidden"
                refused += 1
        return refused

    assert await database_sync_to_async(push_victim_into_rooms)() == 7
    victim = await database_sync_to_async(
        lambda: Membership.objects.get(user__username="victim", room__slug="general").user
    )()
    hello = (await connect(victim)).hello
    assert len(hello["rooms"]) == 4


# (e) @mention emails: capped per message, verified addresses only, throttled per recipient
# ------------------------------------------------------------------------------


def post(user, room, body: str) -> int:
    return services.message_post(user=user, room=room, body=body)[0].id


def test_one_message_emails_at_most_the_cap_of_people(
    make_user, default_room, mailoutbox, settings
):
    author = make_user("author")
    names = [f"reader{n:02}" for n in range(25)]
    for name in names:
        make_user(name)
    message_id = post(author, default_room, " ".join(f"@{name}" for name in names))
    mailoutbox.clear()
    emailed = mention_notify(message_id=message_id)
    assert len(emailed) == len(mailoutbox) == settings.CHAT_MENTION_EMAILS_PER_MESSAGE == 20
    assert set(emailed) == set(names[:20]), "the first mentioned are told"


def test_mention_emails_go_only_to_a_verified_primary_address(make_user, default_room, mailoutbox):
    author, _, unverified, no_record, switched = (
        make_user(name) for name in ("author", "vera", "una", "nora", "sam")
    )
    EmailAddress.objects.filter(user=unverified).update(verified=False)
    EmailAddress.objects.filter(user=no_record).delete()
    switched.email = "someone-else@example.net"  # not the address sam verified
    switched.save()
    message_id = post(author, default_room, "@vera @una @nora @sam read this")
    mailoutbox.clear()
    assert mention_notify(message_id=message_id) == ["vera"]
    assert [email.to for email in mailoutbox] == [["vera@example.com"]]


def test_a_recipient_gets_one_email_per_room_per_interval(make_user, default_room, mailoutbox):
    author, bob = make_user("author"), make_user("bob")
    other = services.room_create(creator=author, name="Other", slug="other")
    services.room_join(user=bob, room=other)
    first = post(author, default_room, "@bob one")
    second = post(author, default_room, "@bob two")
    elsewhere = post(author, other, "@bob three")
    mailoutbox.clear()
    assert mention_notify(message_id=first) == ["bob"]
    assert mention_notify(message_id=second) == [], "the same room within the interval"
    assert mention_notify(message_id=elsewhere) == ["bob"]
    assert len(mailoutbox) == 2


def test_a_recipient_has_a_bucket_of_mention_emails_across_rooms(
    make_user, default_room, mailoutbox, settings
):
    settings.CHAT_MENTION_EMAILS_BURST = 2
    settings.CHAT_MENTION_EMAILS_PER_HOUR = 0.001
    settings.CHAT_RATE_LIMIT_ROOMS_BURST = 10
    bob = make_user("bob")
    messages = []
    for n in range(4):
        author = make_user(f"author{n}")
        room = services.room_create(creator=author, name=f"Room {n}", slug=f"room-{n}")
        services.room_join(user=bob, room=room)
        messages.append(post(author, room, "@bob look"))
    mailoutbox.clear()
    emailed = [mention_notify(message_id=message_id) for message_id in messages]
    assert emailed == [["bob"], ["bob"], [], []]
    assert len(mailoutbox) == 2
