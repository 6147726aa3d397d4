"""Joining or creating a room never makes the user's other changes wait, so none deadlocks.

A room cap check locks the user's row until its transaction ends. Everything the
user does meanwhile (marking read, posting, choosing notifications) writes rows
that point at the user, and PostgreSQL checks those foreign keys with a share lock
on the same row. With ``FOR UPDATE`` that check waited for the room's creation,
which itself waited for the user's event counter row the other change held: a
deadlock, seen in CI as a 503 on POST /api/rooms while the page marked General read.
"""

import threading
from unittest import mock

import pytest
from django.db import connection

from chat import events, services
from chat.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def _in_the_meantime(action: str, user, room) -> None:
    if action == "mark read":
        last, _ = services.message_post(user=user, room=room, body="to be read")
        services.read_mark(user=user, room=room, message_id=last.id)
    elif action == "post":
        services.message_post(user=user, room=room, body="posted meanwhile")
    elif action == "mute":
        services.notify_set(user=user, room=room, notify=Membership.Notify.NONE)


@pytest.mark.parametrize("action", ["mark read", "post", "mute"])
def test_what_a_user_does_while_their_room_is_being_created_neither_waits_nor_deadlocks(
    action, make_user, default_room, settings
):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    alice = make_user("alice")
    if action == "mark read":
        services.message_post(user=alice, room=default_room, body="an earlier message")
    creating = threading.Event()
    created = threading.Event()
    finish_creating = threading.Event()
    failures: list[BaseException] = []
    record_room_added = events.room_added

    def room_added_after_a_pause(user, room):
        creating.set()  # the cap check holds alice's row lock from here to the commit
        finish_creating.wait(10)
        record_room_added(user, room)

    def create_room():
        try:
            services.room_create(creator=alice, name="Back Room", slug="back", kind="private")
            created.set()
        except BaseException as error:  # noqa: BLE001 - the main thread reports it
            failures.append(error)
        finally:
            connection.close()

    with mock.patch.object(events, "room_added", room_added_after_a_pause):
        creator = threading.Thread(target=create_room)
        creator.start()
        try:
            assert creating.wait(10), "the room's creation never reached its user event"
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '5s'")
            try:
                _in_the_meantime(action, alice, default_room)
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("RESET lock_timeout")
        finally:
            finish_creating.set()
            creator.join(15)
    assert not failures, f"creating the room failed: {failures!r}"
    assert created.is_set()
    assert Membership.objects.filter(user=alice, room__slug="back").exists()


def test_the_room_cap_still_holds_against_concurrent_joins(make_user, default_room, settings):
    """The lock that serialises a user's new memberships still does: of two rooms created
    at once by a user one room short of the cap, one is refused."""
    settings.CHAT_RATE_LIMIT_ENABLED = False
    alice = make_user("alice")
    settings.CHAT_MAX_ROOMS_PER_USER = Membership.objects.filter(user=alice).count() + 1
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def create(slug: str):
        try:
            start.wait(5)
            services.room_create(creator=alice, name=slug, slug=slug)
            outcomes.append("created")
        except services.ClientError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(slug,)) for slug in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert sorted(outcomes) == ["created", "forbidden"]
