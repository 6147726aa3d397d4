"""Group conversations: the same people find one room, even when they open it at once."""

import threading

import pytest
from django.db import connection

from chat import services
from chat.models import Membership, Room, UserEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_people_opening_the_same_group_at_once_get_one_room(make_user, settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    people = {name: make_user(name) for name in ("alice", "bob", "carol")}
    start = threading.Barrier(2)
    opened: list[tuple[str, bool]] = []
    failures: list[BaseException] = []

    def open_group(opener: str) -> None:
        others = [name for name in people if name != opener]
        try:
            start.wait(5)
            room, created = services.group_room_open(user=people[opener], usernames=others)
            opened.append((room.slug, created))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_group, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not failures, failures
    assert len({slug for slug, _ in opened}) == 1
    assert sorted(created for _, created in opened) == [False, True]
    room = Room.objects.get(slug=opened[0][0])
    assert Membership.objects.filter(room=room).count() == 3
    # Each of the three heard room_added once.
    assert UserEvent.objects.filter(room_id=room.pk).count() == 3
