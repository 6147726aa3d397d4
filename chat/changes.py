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

from chat.locks import lock_statement, room_post_lock
from chat.models import Membership, Mention, Message, Room


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


def one_trip_posts() -> bool:
    """Whether ``message_insert`` may store a post here: PostgreSQL, no transaction
    open (its statements commit on their own, so nothing may wrap them), a cursor that
    sends several statements at once (client-side binding, Django's default) and READ
    COMMITTED (each statement sees what committed before the lock was granted)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    from psycopg import IsolationLevel

    options = connection.settings_dict["OPTIONS"]
    read_committed = IsolationLevel.READ_COMMITTED
    return (
        options.get("server_side_binding") is not True
        and options.get("isolation_level", read_committed) == read_committed
    )


# The columns message_insert writes from the instance; id, seq and created come
# from the database, after the lock is granted.
_FROM_DATABASE = ("id", "seq", "created")
_insert_sql: dict[bool, str] = {}


class RoomChanged(Exception):
    """message_insert stored nothing: the room is gone, archived or renamed, or the author
    is no longer a member, since the room was read. Read it again to say which."""


def message_insert(message: Message, *, mentioned_user_ids: list[int]) -> None:
    """Lock the room, take its next seq, store the message (and its Mention rows), point
    the room's last_message_id at it: one round trip instead of six.

    Inside ``room_post_lock(room_id, taken_by_caller=True)``, when ``one_trip_posts()``.
    The lock is its own statement, first; the rest is one statement, so the seq, the
    message and the room commit together or not at all (an IntegrityError: the
    client_id was used already; nothing stored, no seq taken). The message's id is
    drawn after the lock is granted, so ids and seqs still commit in lock order.
    Sets ``message.id``, ``.seq`` and ``.created``.

    The statement itself checks, under the lock, what a post needs of its room: it
    still has ``message.room``'s slug, is not archived and has the author as a
    member; otherwise it stores nothing and RoomChanged is raised. So the room may
    come from an earlier read (a socket keeps the rooms it posts to) without a
    round trip to read it again.
    """
    sql = _insert_sql.get(bool(mentioned_user_ids))
    if sql is None:
        sql = _insert_sql[bool(mentioned_user_ids)] = _message_insert_sql(
            mentions=bool(mentioned_user_ids)
        )
    fields = _message_fields()
    lock_sql, lock_params = lock_statement(message.room_id)
    params = [*lock_params, message.room_id, message.room.slug, message.room_id, message.author_id]
    if mentioned_user_ids:
        params += [message.room_id, list(mentioned_user_ids)]
    params += [
        field.get_db_prep_save(getattr(message, field.attname), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"{lock_sql}; {sql}", params)
        cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        raise RoomChanged
    message.id, message.seq, message.created = row
    message._state.adding = False
    message._state.db = connection.alias


def _message_fields() -> list:
    return [
        field
        for field in Message._meta.concrete_fields
        if field.attname not in _FROM_DATABASE and not field.generated
    ]


def _message_insert_sql(*, mentions: bool) -> str:
    quote = connection.ops.quote_name
    messages, rooms = Message._meta.db_table, quote(Room._meta.db_table)
    members = quote(Membership._meta.db_table)
    fields = _message_fields()
    columns = ", ".join(quote(column) for column in [*_FROM_DATABASE, *(f.column for f in fields)])
    values = ", ".join(["%s"] * len(fields))
    mention_rows = ""
    if mentions:
        mention_rows = (
            f", mention AS (INSERT INTO {quote(Mention._meta.db_table)}"  # noqa: S608
            " (message_id, room_id, user_id)"
            " SELECT new.id, %s, uid FROM new, room, unnest(%s::integer[]) AS uid)"
        )
    # nextval is volatile and new is read twice: it runs once. The room row is
    # updated, and the message inserted, in the same statement (last_message_id's
    # foreign key is checked at commit).
    return (
        f"WITH new AS (SELECT nextval(pg_get_serial_sequence('{messages}', 'id')) AS id),"  # noqa: S608
        f" room AS (UPDATE {rooms} SET seq = seq + 1, last_message_id = (SELECT id FROM new)"
        " WHERE id = %s AND slug = %s AND NOT archived"
        f" AND EXISTS (SELECT 1 FROM {members} WHERE room_id = %s AND user_id = %s)"
        " RETURNING seq)"
        f"{mention_rows}"
        f" INSERT INTO {quote(messages)} ({columns})"
        f" SELECT new.id, room.seq, clock_timestamp(), {values} FROM new, room"
        " RETURNING id, seq, created"
    )
