"""Per-room ordering of posts across replicas.

A message is stored and then published (after commit). With only a row lock,
replica A could commit id N, release the lock, and be overtaken by replica B
publishing N+1 before A publishes N; a client that dropped in between and
caught up from N+1 would never see N. Holding a lock across the store *and*
the publish makes every room's messages go out in id order.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# pg_advisory_lock(class, object): the class keeps these locks apart from others'.
ROOM_POST_LOCK_CLASS = 0x6368

_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


def lock_statement(room_id: int) -> tuple[str, list[int]]:
    """The statement that takes the room's ordering lock (PostgreSQL), and its parameters.

    A caller that sends it first in one round trip with its store
    (chat.changes.message_insert) holds ``room_post_lock(taken_by_caller=True)``.
    """
    return "SELECT pg_advisory_lock(%s, %s)", [ROOM_POST_LOCK_CLASS, room_id]


@contextmanager
def room_post_lock(room_id: int, *, taken_by_caller: bool = False) -> Iterator[None]:
    """Hold while a message to the room is stored and published.

    ``taken_by_caller`` (PostgreSQL only): the caller's first statement takes the
    lock (``lock_statement``), saving a round trip; it is released here all the same.
    """
    if connection.vendor != "postgresql":
        # Embedded mode is one process: a thread lock per room is enough.
        with _local_guard:
            lock = _local_locks.setdefault(room_id, threading.Lock())
        with lock:
            yield
        return
    if not taken_by_caller:
        with connection.cursor() as cursor:
            cursor.execute(*lock_statement(room_id))
    try:
        yield
    finally:
        # Session-level locks outlive a failed statement; a pooled connection
        # must never go back to the pool still holding one.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
