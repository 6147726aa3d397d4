"""A user's own events, kept in order so a long poll (GET /api/events) misses none.

The frames a user's sockets get on their user group (``room_added``,
``room_removed``, ``read``, ``room_notify``) are stored here, in the
transaction that caused them, each with the user's next ``seq``. Taking a seq
updates the user's counter row, which stays locked until that transaction
commits, so a user's events commit in seq order and ``seq > cursor`` never
steps over one that committed late (the same argument as a room's ``seq``,
chat/changes.py). A user keeps the last ``CHAT_USER_EVENTS_KEPT`` events; a
cursor further behind is told to resync (``CursorExpired``).
"""

from django.conf import settings
from django.db import connection, transaction

from chat.models import UserEvent, UserEventCounter
from project.errors import ClientError

# Old events are trimmed on every TRIM_EVERY-th event of a user, not on each.
TRIM_EVERY = 100


class CursorExpired(ClientError):
    """The cursor cannot be served: the client reloads its state and starts afresh."""

    def __init__(self) -> None:
        super().__init__(
            "cursor_expired",
            "This cursor can no longer be served: reload the rooms and poll without a cursor.",
        )


def _take_seq(user_id: int) -> int:
    table = connection.ops.quote_name(UserEventCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, seq) VALUES (%s, 1) "  # noqa: S608
            f"ON CONFLICT (user_id) DO UPDATE SET seq = {table}.seq + 1 RETURNING seq",
            [user_id],
        )
        return cursor.fetchone()[0]


def record(user_id: int, frame_text: str, *, room_id: int | None = None) -> int:
    """Store an encoded frame as the user's next event; returns its seq.

    Call it inside the transaction that made the change: the event commits with it.
    """
    with transaction.atomic():
        seq = _take_seq(user_id)
        UserEvent.objects.create(user_id=user_id, seq=seq, room_id=room_id, frame=frame_text)
        kept = settings.CHAT_USER_EVENTS_KEPT
        if seq % TRIM_EVERY == 0 and seq > kept:
            UserEvent.objects.filter(user_id=user_id, seq__lte=seq - kept).delete()
    return seq


def current_seq(user_id: int) -> int:
    """The seq of the user's latest event (0 before the first)."""
    seq = UserEventCounter.objects.filter(user_id=user_id).values_list("seq", flat=True).first()
    return seq or 0


def events_after(
    user_id: int, after: int, limit: int
) -> tuple[list[tuple[int, int | None, str]], bool]:
    """``([(seq, room id, frame text), ...], has_more)``: the user's events after ``after``.

    Raises CursorExpired when the first of them was already trimmed, or when
    ``after`` lies beyond the latest (a cursor from another database).
    """
    rows = list(
        UserEvent.objects.filter(user_id=user_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "room_id", "frame")[: limit + 1]
    )
    if rows and rows[0][0] != after + 1:
        raise CursorExpired
    if not rows and after > current_seq(user_id):
        raise CursorExpired
    return rows[:limit], len(rows) > limit
