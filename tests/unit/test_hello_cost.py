"""What a socket's `hello` costs the database does not grow with the user's rooms.

Every handshake of a replica queues for the one database thread, so a user
with fifty conversations must not cost fifty statements more than a new one
(a reconnect storm is every user at once).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import selectors, services
from realtime import sockets

pytestmark = pytest.mark.django_db(transaction=True)


def hello_statements(user) -> int:
    with CaptureQueriesContext(connection) as queries:
        hello = sockets.session_open(user=user, conn_id="socket.test")
    sockets.session_close(user=user, conn_id="socket.test")
    assert hello["type"] == "hello"
    return len(queries.captured_queries)


def test_hello_costs_the_same_statements_for_two_rooms_or_ten(make_user, default_room):
    alice = make_user("alice")
    make_user("bob")
    services.direct_room_open(user=alice, username="bob")
    few = hello_statements(alice)

    for n in range(4):
        services.room_create(creator=alice, name=f"Team {n}", slug=f"team-{n}")
    for name in ("carol", "dave", "erin", "frank"):
        make_user(name)
        services.direct_room_open(user=alice, username=name)
    many = hello_statements(alice)
    assert many == few, f"{few} statements with two rooms, {many} with ten"


def test_hello_names_each_direct_room_after_the_other_person(make_user, default_room):
    alice = make_user("alice")
    bob = make_user("bob")
    bob.profile.display_name = "Bob B."
    bob.profile.save()
    make_user("carol")
    services.direct_room_open(user=alice, username="bob")
    services.direct_room_open(user=alice, username="carol")
    direct = {
        room["peer"]: room["name"]
        for room in selectors.rooms_for_user(user=alice)
        if room["kind"] == "direct"
    }
    assert direct == {"bob": "Bob B.", "carol": "carol"}


def test_a_handshake_subscribes_to_exactly_the_users_rooms(make_user, default_room):
    alice = make_user("alice")
    make_user("bob")
    direct, _ = services.direct_room_open(user=alice, username="bob")
    team = services.room_create(creator=alice, name="Team", slug="team")
    services.room_create(creator=make_user("carol"), name="Elsewhere", slug="elsewhere")
    expected = {default_room.pk, direct.pk, team.pk}
    assert sorted(selectors.room_ids_for_user(user_id=alice.pk)) == sorted(expected)
    assert selectors.room_ids_for_user(user_id=10**9) == []
