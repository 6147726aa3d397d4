"""The change cursor: every change to a room's messages takes the room's next ``seq``.

A change (a post, an edit, a delete, a reaction, a pin, a thread's reply count)
runs inside ``room_change``: the room's ordering lock (chat.locks), then a
transaction that takes the next seq with ``take_seq``, writes, and publishes from
``on_commit`` before the lock is released. So seqs are distinct, gap-free (a
refused change rolls its seq back) and reach every replica in commit order, and
``changes_page`` (chat.selectors) can hand a reconnecting client everything it
missed, once each.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from chat.locks import room_post_lock
from chat.models import Room


@contextmanager
def room_change(room_id: int, *, durable: bool = False) -> Iterator[None]:
    """Hold the room's ordering lock and a transaction around one change.

    ``durable``: refuse (RuntimeError) to run inside an outer transaction, whose
    commit would come after the lock is released, so a later change could be
    published first.
    """
    with room_post_lock(room_id), transaction.atomic(durable=durable):
        yield


def take_seq(room_id: int, count: int = 1) -> int:
    """Reserve the room's next ``count`` seqs (inside ``room_change``); returns the last.

    One statement: the UPDATE also row-locks the room until the commit, so even a
    change made inside an outer transaction (the admin's) cannot share a seq.
    """
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET seq = seq + %s WHERE id = %s RETURNING seq",  # noqa: S608
            [count, room_id],
        )
        return cursor.fetchone()[0]
