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


def test_concurrent_changes_of_every_kind_take_distinct_gap_free_seqs_published_in_order(
    make_user, default_room, settings
):
    """Posts, edits, reactions, pins and replies from four threads (as from four
    replicas) share one room's seq: no two share one, none is skipped, and they
    go out in seq order even when a publisher stalls after its commit."""
    from chat import reactions
    from chat.models import Room

    settings.CHAT_RATE_LIMIT_ENABLED = False
    users = [make_user(f"changer{n}") for n in range(4)]
    root, _ = services.message_post(user=users[0], room=default_room, body="root")
    start = Room.objects.get(pk=default_room.pk).seq
    published: list[int] = []
    lock = threading.Lock()

    def recording(original):
        def publish(*args, **kwargs):
            threading.Event().wait(0.02)
            seq = args[0].seq
            with lock:
                published.append(seq)
            original(*args, **kwargs)

        return publish

    def change_many(user):
        from django.db import connection

        try:
            for n in range(3):
                mine, _ = services.message_post(user=user, room=default_room, body=f"{user} {n}")
                services.message_edit(user=user, message_id=mine.id, body=f"{user} {n}!")
                reactions.reaction_set(user=user, message_id=root.id, emoji="👍", on=n % 2 == 0)
                reactions.pin_set(user=user, message_id=mine.id, on=True)
                services.message_post(user=user, room=default_room, body="re", thread=root.id)
        finally:
            connection.close()

    patched = {
        name: recording(getattr(events, name))
        for name in ("message_created", "message_edited", "thread_updated")
    }
    with (
        mock.patch.multiple(events, **patched),
        mock.patch.object(events, "reaction", recording(events.reaction)),
        mock.patch.object(events, "message_pinned", recording(events.message_pinned)),
    ):
        threads = [threading.Thread(target=change_many, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    end = Room.objects.get(pk=default_room.pk).seq
    # Each round: a post, an edit, a reaction, a pin, a reply and its root's count.
    assert end - start == 4 * 3 * 6
    assert published == list(range(start + 1, end + 1)), "distinct, gap-free, in order"
