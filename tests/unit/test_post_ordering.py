"""Posts to one room are stored and published one at a time, in id order."""

import threading
from unittest import mock

import pytest

from chat import events, services

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_posters_publish_in_id_order(make_user, default_room):
    users = [make_user(f"poster{n}") for n in range(4)]
    published: list[int] = []
    original = events.message_created

    def slow_publish(message):
        # A publisher that stalls after commit would be overtaken without the lock.
        threading.Event().wait(0.01 if message.id % 2 else 0.05)
        published.append(message.id)
        original(message)

    def post_many(user):
        from django.db import connection

        try:
            for n in range(5):
                services.message_post(user=user, room=default_room, body=f"{user} {n}")
        finally:
            connection.close()

    with mock.patch.object(events, "message_created", slow_publish):
        threads = [threading.Thread(target=post_many, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(published) == 20
    assert published == sorted(published)


def test_the_lock_is_released_when_publishing_fails(make_user, default_room):
    alice = make_user("alice")
    with (
        mock.patch.object(events, "message_created", side_effect=ConnectionError("redis")),
        pytest.raises(ConnectionError),
    ):
        services.message_post(user=alice, room=default_room, body="lost publish")
    message, created = services.message_post(user=alice, room=default_room, body="next")
    assert created and message.body == "next"
