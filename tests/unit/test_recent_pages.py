"""A page of changes is read once while its room is unchanged (a reconnect storm's syncs)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import selectors, services
from chat.models import Room
from chat.recent_pages import RecentPages

pytestmark = [pytest.mark.django_db]


def fresh(room: Room) -> Room:
    """The room as a request reads it (room_for_user): with its seq of now."""
    return Room.objects.get(pk=room.pk)


def test_the_same_sync_of_an_unchanged_room_reads_no_messages_again(make_user, default_room):
    alice = make_user("alice")
    for n in range(3):
        services.message_post(user=alice, room=default_room, body=f"hello {n}")
    first = selectors.changes_page(room=fresh(default_room), since=0)
    room = fresh(default_room)
    with CaptureQueriesContext(connection) as queries:
        again = selectors.changes_page(room=room, since=0)
    assert queries.captured_queries == []
    assert again == first and [c["body"] for c in again["changes"]] == [
        "hello 0",
        "hello 1",
        "hello 2",
    ]


def test_any_change_to_the_room_is_in_the_next_page(make_user, default_room):
    alice = make_user("alice")
    posted, _ = services.message_post(user=alice, room=default_room, body="first")
    before = selectors.changes_page(room=fresh(default_room), since=0)

    services.message_edit(user=alice, message_id=posted.pk, body="first, edited")
    edited = selectors.changes_page(room=fresh(default_room), since=0)
    services.message_post(user=alice, room=default_room, body="second")
    after = selectors.changes_page(room=fresh(default_room), since=0)

    assert [c["body"] for c in before["changes"]] == ["first"]
    assert [c["body"] for c in edited["changes"]] == ["first, edited"]
    assert [c["body"] for c in after["changes"]] == ["first, edited", "second"]
    assert after["seq"] > edited["seq"] > before["seq"]


def test_a_page_handed_out_twice_is_two_objects(make_user, default_room):
    alice = make_user("alice")
    services.message_post(user=alice, room=default_room, body="hi")
    one = selectors.changes_page(room=fresh(default_room), since=0)
    one["ref"] = "mine"  # the socket's reply adds its ref
    two = selectors.changes_page(room=fresh(default_room), since=0)
    assert "ref" not in two


def test_pages_expire_and_the_oldest_go_first():
    now = [0.0]
    pages = RecentPages(capacity=2, ttl=5.0, clock=lambda: now[0])
    pages.put("a", {"n": 1})
    pages.put("b", {"n": 2})
    assert pages.get("a") == {"n": 1}  # now the most recent
    pages.put("c", {"n": 3})
    assert pages.get("b") is None, "the least recently used went"
    assert pages.get("a") == {"n": 1} and pages.get("c") == {"n": 3}
    now[0] = 5.1
    assert pages.get("a") is None and pages.get("c") is None
