"""Reads: what a user may see, shaped as the protocol's payloads.

The objects themselves (message, room, member) are built by chat.payloads; their
builders stay importable from here.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from chat import presence
from chat.models import Membership, Mention, Message, Room
from chat.payloads import encode, member_payload, message_payload, room_payload, rooms_payload
from chat.recent_pages import RecentPages
from project import validators
from project.errors import ClientError
from project.rows import ModelColumns, model_columns

# Shared by every reader of this process; the pages are never changed once built.
recent_pages = RecentPages()

# daphne sends no frame over 1 MiB (--websocket_max_message_size); a page of long
# messages can be bigger, so pages are cut to this and say has_more, and the
# client pages on from the last id it got (tests/faults/test_slow_client.py).
PAGE_MAX_BYTES = 512 * 1024


def fit_page(messages: list[dict], *, keep: str) -> tuple[list[dict], bool]:
    """The page cut to PAGE_MAX_BYTES, keeping its oldest or newest end; True if cut."""
    # A JSON character takes at most 6 bytes (\u0001): most pages are far below.
    # Tombstones (sync) have neither body nor html.
    estimate = sum(len(m.get("body", "")) + len(m.get("html", "")) + 512 for m in messages)
    if estimate * 6 <= PAGE_MAX_BYTES:
        return messages, False
    ordered = messages if keep == "oldest" else messages[::-1]
    kept, size = [], 0
    for message in ordered:
        size += len(encode(message).encode()) + 1
        if kept and size > PAGE_MAX_BYTES:
            break
        kept.append(message)
    cut = len(kept) < len(messages)
    return (kept if keep == "oldest" else kept[::-1]), cut


def tombstone(message: Message) -> dict:
    """What a change page says of a deleted message."""
    return {
        "id": message.id,
        "room": message.room.slug,
        "deleted": True,
        "seq": message.seq,
        "thread": message.thread_id,
    }


def change_payload(message: Message) -> dict:
    return tombstone(message) if message.deleted else message_payload(message)


def room_for_user(*, user: AbstractBaseUser, slug: object) -> Room:
    """The room if the user may see it; missing and hidden rooms answer alike.

    The room carries ``viewer_role``: the user's role in it, or None.
    """
    # What no slug can be is no room either, without a query (a NUL, for one, would
    # reach PostgreSQL, which refuses it: tests/faults/test_frame_fuzz.py).
    if not validators.is_slug(slug):
        raise ClientError("not_found", "No such room.")
    # The viewer's role comes in the same query (None: not a member), so a post
    # checks membership without another round trip (services.message_post).
    room = _room_with_role(slug=slug, user_id=user.pk)
    if room is None:
        raise ClientError("not_found", "No such room.")
    if room.kind != Room.Kind.PUBLIC and room.viewer_role is None:
        raise ClientError("not_found", "No such room.")
    return room


_room_reads: dict[str, tuple[str, ModelColumns]] = {}


def _room_with_role(*, slug: str, user_id: int) -> Room | None:
    """The room by slug with ``viewer_role``, in hand-written SQL (project/rows.py).

    Every socket command that names a room reads it (a post, first of all): the
    ORM's filter and Subquery took about 1 ms of CPU to compile each time, this
    about 0.1 ms.
    """
    read = _room_reads.get(connection.vendor)
    if read is None:
        read = _room_reads[connection.vendor] = _room_read()
    sql, columns = read
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    room = columns.build(row[:-1])
    room.viewer_role = row[-1]
    return room


def _room_read() -> tuple[str, ModelColumns]:
    quote = connection.ops.quote_name
    columns = model_columns(Room, "r")
    rooms, members = quote(Room._meta.db_table), quote(Membership._meta.db_table)
    # Names from the models, values as parameters.
    sql = (
        f"SELECT {columns.sql}, (SELECT m.role FROM {members} m"  # noqa: S608
        " WHERE m.room_id = r.id AND m.user_id = %s LIMIT 1)"
        f" FROM {rooms} r WHERE r.slug = %s"
    )
    return sql, columns


def membership_of(*, user: AbstractBaseUser, room: Room) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def is_member(*, user: AbstractBaseUser, room: Room) -> bool:
    """Whether the user belongs to the room; no query for a room from room_for_user."""
    if hasattr(room, "viewer_role"):
        return room.viewer_role is not None
    return membership_of(user=user, room=room) is not None


def _unread_filter(user: AbstractBaseUser) -> Q:
    return (
        Q(room__messages__id__gt=F("last_read_id"))
        & Q(room__messages__deleted=False)
        & ~Q(room__messages__author=user)
    )


def _unread_mentions(user: AbstractBaseUser):
    """Per membership row: unread live messages that mention the user (a subquery)."""
    mentions = (
        Mention.objects.filter(
            user_id=user.pk,
            room_id=OuterRef("room_id"),
            message_id__gt=OuterRef("last_read_id"),
            message__deleted=False,
        )
        .order_by()
        .values("room_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(mentions), 0)


# One statement for everything a socket's `hello` needs (and which of the rooms hear
# presence): the ORM's version of it cost 4-5 ms of query compilation per connect,
# on the one database thread every handshake queues for.
_MEMBER_ROOMS_SQL = """
SELECT r.*, m.notify AS member_notify,
  (SELECT COUNT(*) FROM {message} msg
    WHERE msg.room_id = m.room_id AND msg.id > m.last_read_id AND NOT msg.deleted
      AND (msg.author_id IS NULL OR msg.author_id <> %(user)s)) AS unread,
  (SELECT COUNT(*) FROM {mention} mn JOIN {message} mm ON mm.id = mn.message_id
    WHERE mn.user_id = %(user)s AND mn.room_id = m.room_id
      AND mn.message_id > m.last_read_id AND NOT mm.deleted) AS mentions,
  (SELECT COUNT(*) FROM (SELECT 1 FROM {membership} o WHERE o.room_id = m.room_id
    LIMIT %(counted)s) AS firsts) AS members_counted
FROM {membership} m JOIN {room} r ON r.id = m.room_id
WHERE m.user_id = %(user)s
ORDER BY r.kind, r.name
"""


def member_rooms(*, user_id: int) -> list[Room]:
    """The user's rooms, each with ``unread``, ``mentions``, ``member_notify`` (the
    stored setting) and ``hears_presence`` (at most CHAT_PRESENCE_ROOM_MAX_MEMBERS
    members: see sessions._rooms_of), in one statement."""
    sql = _MEMBER_ROOMS_SQL.format(
        message=Message._meta.db_table,
        mention=Mention._meta.db_table,
        membership=Membership._meta.db_table,
        room=Room._meta.db_table,
    )
    limit = settings.CHAT_PRESENCE_ROOM_MAX_MEMBERS
    rooms = list(Room.objects.raw(sql, {"user": user_id, "counted": limit + 1}))
    for room in rooms:
        room.hears_presence = room.members_counted <= limit
    return rooms


def rooms_for_user(*, user: AbstractBaseUser) -> list[dict]:
    """The user's rooms with unread and mention counts, for `hello`."""
    return rooms_payload(rooms=member_rooms(user_id=user.pk), viewer=user)


def unread_count(*, membership: Membership) -> int:
    return (
        Message.objects.filter(
            room_id=membership.room_id, id__gt=membership.last_read_id, deleted=False
        )
        .exclude(author_id=membership.user_id)
        .count()
    )


def mention_count(*, membership: Membership) -> int:
    """Unread live messages that mention the member."""
    return Mention.objects.filter(
        user_id=membership.user_id,
        room_id=membership.room_id,
        message_id__gt=membership.last_read_id,
        message__deleted=False,
    ).count()


def room_ids_for_user(*, user_id: int) -> list[int]:
    """The ids of the user's rooms: asked by every handshake, so plain SQL (the ORM's
    compilation cost more than the query, on the one database thread)."""
    qn = connection.ops.quote_name
    room, user = (Membership._meta.get_field(name).column for name in ("room", "user"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(room)} FROM {qn(Membership._meta.db_table)}"  # noqa: S608 (model names)
            f" WHERE {qn(user)} = %s",
            [user_id],
        )
        return [row[0] for row in cursor.fetchall()]


def page_limit(limit: object) -> int:
    if limit is None:
        return settings.CHAT_HISTORY_PAGE_SIZE
    return min(
        validators.positive_integer(limit, field="limit"), settings.CHAT_HISTORY_MAX_PAGE_SIZE
    )


def messages_page(
    *,
    room: Room,
    before: int | None = None,
    after: int | None = None,
    limit: int | None = None,
    thread: int | None = None,
    roots_only: bool = True,
) -> tuple[list[Message], bool]:
    """A page of live messages, ascending; `after` pages forward, otherwise backward.

    The room's main timeline holds thread roots only (``roots_only``); with
    ``thread`` the page is that thread's replies.
    """
    size = page_limit(limit)
    visible = _timeline(room=room, thread=thread, roots_only=roots_only)
    if after is not None:
        rows = list(visible.filter(id__gt=after).order_by("id")[: size + 1])
        return rows[:size], len(rows) > size
    if before is not None:
        visible = visible.filter(id__lt=before)
    rows = list(visible.order_by("-id")[: size + 1])
    return list(reversed(rows[:size])), len(rows) > size


def _timeline(*, room: Room, thread: int | None, roots_only: bool = True):
    visible = Message.objects.filter(room=room, deleted=False).select_related(
        "author__profile", "room"
    )
    if thread is not None:
        return visible.filter(thread_id=thread)
    return visible.filter(thread__isnull=True) if roots_only else visible


@dataclass(frozen=True, slots=True)
class AroundPage:
    messages: list[Message]
    has_more: bool  # older messages exist
    has_newer: bool  # newer messages exist: the page does not reach the newest
    focus: int  # the id the page is centred on (a reply's root in the main timeline)


def messages_around(
    *, room: Room, around: object, limit: int | None = None, thread: int | None = None
) -> AroundPage:
    """The page of the timeline (or of ``thread``'s replies) with ``around`` in it, about
    half of it older: what a permalink or a search hit opens.

    In the main timeline a reply stands for its root (the client then opens the
    thread). A message that is not a live one of this room (or thread) is not_found,
    like a missing one.
    """
    around = message_id_arg("around", around)
    target = Message.objects.filter(room=room, pk=around, deleted=False).first()
    if target is None or (thread is not None and thread not in (target.pk, target.thread_id)):
        raise ClientError("not_found", "No such message.")
    focus = target.thread_id if thread is None and target.thread_id else target.pk
    size = page_limit(limit)
    visible = _timeline(room=room, thread=thread)
    if thread is not None and focus == thread:
        older_rows: list[Message] = []  # the root itself: its replies from the first
    else:
        older_rows = list(visible.filter(id__lt=focus).order_by("-id")[: size // 2 + 1])
    older = older_rows[: size // 2]
    newer_rows = list(visible.filter(id__gte=focus).order_by("id")[: size - len(older) + 1])
    newer = newer_rows[: size - len(older)]
    return AroundPage(
        messages=[*reversed(older), *newer],
        has_more=len(older_rows) > len(older),
        has_newer=len(newer_rows) > len(newer),
        focus=focus,
    )


def history_page(
    *,
    room: Room,
    before: object = None,
    after: object = None,
    around: object = None,
    limit: object = None,
    thread: object = None,
) -> dict:
    """``{messages, has_more}`` of the main timeline, or of a thread's replies (with
    ``thread`` and ``root``), newest, ``before`` / ``after`` an id or ``around`` one
    (with ``has_newer`` and ``focus``): the page ``history`` and ``GET …/messages``
    answer, cut to PAGE_MAX_BYTES."""
    before = message_id_arg("before", before)
    after = message_id_arg("after", after)
    root = thread_root(room=room, thread=thread) if thread is not None else None
    root_id = root.pk if root else None
    page: dict = {}
    if around is not None:
        if before is not None or after is not None:
            raise ClientError("invalid", "around cannot be combined with before or after.")
        found = messages_around(room=room, around=around, limit=limit, thread=root_id)
        messages, has_more = found.messages, found.has_more
        page = {"has_newer": found.has_newer, "focus": found.focus}
    else:
        messages, has_more = messages_page(
            room=room, before=before, after=after, limit=limit, thread=root_id
        )
    payloads, cut = fit_page(
        [message_payload(m) for m in messages], keep="oldest" if after is not None else "newest"
    )
    page = {"messages": payloads, "has_more": has_more or cut, **page}
    if root is not None:
        page["thread"] = root.pk
        page["root"] = message_payload(root)
    return page


# The socket's replies with a page (history_page and changes_page are the HTTP API's too)


def joined_frame(*, user: AbstractBaseUser, room: Room) -> dict:
    """The ``joined`` reply: the room, its newest page (cut to PAGE_MAX_BYTES), its members."""
    # `info.seq` is read with the room, before the page: a change committed in
    # between is in the page or live, and a later sync from that seq finds it.
    membership = membership_of(user=user, room=room)
    notify = membership.notify if membership else ""
    messages, has_more = messages_page(room=room)
    page, cut = fit_page([message_payload(m) for m in messages], keep="newest")
    return {
        "type": "joined",
        "room": room.slug,
        "info": room_payload(room=room, viewer=user, notify=notify),
        "messages": page,
        "has_more": has_more or cut,
        "members": members(room=room),
    }


def history_frame(
    *,
    room: Room,
    before: object = None,
    after: object = None,
    around: object = None,
    limit: object = None,
    thread: object = None,
) -> dict:
    """The ``history`` reply: history_page's page (the arguments as a frame gave them)."""
    page = history_page(
        room=room, before=before, after=after, around=around, limit=limit, thread=thread
    )
    return {"type": "history", "room": room.slug, **page}


def synced_frame(*, room: Room, since: object, limit: object = None) -> dict:
    """The ``synced`` reply: changes_page's page."""
    return {"type": "synced", **changes_page(room=room, since=since, limit=limit)}


def members(*, room: Room) -> list[dict]:
    memberships = list(
        Membership.objects.filter(room=room, user__is_active=True)
        .select_related("user__profile")
        .order_by("user__username")
    )
    online = presence.backend().online([m.user_id for m in memberships])
    return [member_payload(m, online) for m in memberships]


def room_list_limit(limit: object) -> int:
    if limit is None:
        return settings.CHAT_ROOM_LIST_PAGE_SIZE
    return min(
        validators.positive_integer(limit, field="limit"), settings.CHAT_ROOM_LIST_MAX_PAGE_SIZE
    )


def visible_rooms(
    *, user: AbstractBaseUser, after: str | None = None, limit: int | None = None
) -> tuple[list[dict], str | None]:
    """A page of the public rooms and the user's own, by slug, each with `is_member`
    and `unread`; and the cursor of the next page (the last slug), or None.

    Keyset paging on the unique slug: a page costs the same however many rooms
    there are, and rooms created or deleted meanwhile never shift the pages.
    """
    size = room_list_limit(limit)
    mine = Membership.objects.filter(room=OuterRef("pk"), user_id=user.pk)
    rooms = Room.objects.filter(Q(kind=Room.Kind.PUBLIC) | Exists(mine))
    if after:
        rooms = rooms.filter(slug__gt=after)
    page = list(rooms.order_by("slug")[: size + 1])
    more = len(page) > size
    page = page[:size]
    mine_in_page = {
        m.room_id: m
        for m in Membership.objects.filter(user=user, room__in=page).annotate(
            unread=Count("room__messages", filter=_unread_filter(user)),
            mentions=_unread_mentions(user),
        )
    }
    payloads = [_listed_room(room, user, mine_in_page.get(room.pk)) for room in page]
    return payloads, (page[-1].slug if more else None)


def _listed_room(room: Room, user: AbstractBaseUser, membership: Membership | None) -> dict:
    if membership is None:
        return {**room_payload(room=room, viewer=user), "is_member": False}
    counts = {"unread": membership.unread, "mentions": membership.mentions}
    return {
        **room_payload(room=room, viewer=user, notify=membership.notify, **counts),
        "is_member": True,
    }


def room_detail(*, room: Room, user: AbstractBaseUser) -> dict:
    """One room as `visible_rooms` shows it."""
    membership = membership_of(user=user, room=room)
    if membership is not None:
        membership.unread = unread_count(membership=membership)
        membership.mentions = mention_count(membership=membership)
    return _listed_room(room, user, membership)


def message_id_arg(name: str, value: object) -> int | None:
    """An optional integer message id argument of a frame, or `invalid`."""
    return None if value is None else validators.integer(value, field=name)


def thread_root(*, room: Room, thread: object) -> Message:
    """The live root of the thread ``thread`` belongs to in ``room``: the message
    itself, or a reply's root. Missing, deleted, another room's: not_found, as for
    any message one may not see."""
    thread = validators.integer(thread, field="thread")
    live = Message.objects.select_related("author__profile", "room").filter(
        room=room, deleted=False
    )
    message = live.filter(pk=thread).first()
    if message is not None and message.thread_id is not None:
        message = live.filter(pk=message.thread_id).first()
    if message is None:
        raise ClientError("not_found", "No such thread in this room.")
    return message


def changes_page(*, room: Room, since: object, limit: object = None) -> dict:
    """``{room, changes, seq, has_more}``: every message of the room changed after
    ``since``, once each, in seq order, as it is now (deleted ones as tombstones);
    ``seq`` is the cursor to pass next."""
    since = validators.non_negative_integer(since, field="since")
    size = page_limit(limit)
    # The room was just read (room_for_user), so its seq says whether anything
    # changed since this page was last read: a reconnect storm reads it once.
    key = (room.pk, since, size, room.seq)
    page = recent_pages.get(key)
    if page is not None:
        return dict(page)
    rows = list(
        Message.objects.filter(room=room, seq__gt=since)
        .select_related("author__profile", "room")
        .order_by("seq")[: size + 1]
    )
    changes, cut = fit_page([change_payload(m) for m in rows[:size]], keep="oldest")
    page = {
        "room": room.slug,
        "changes": changes,
        "seq": changes[-1]["seq"] if changes else since,
        "has_more": len(rows) > size or cut,
    }
    recent_pages.put(key, page)
    return dict(page)


def pinned_messages(*, room: Room) -> list[Message]:
    """The room's pinned live messages, the newest pin first (at most a full page)."""
    return list(
        Message.objects.filter(room=room, pinned=True, deleted=False)
        .select_related("author__profile", "room")
        .order_by("-pinned_at", "-id")[: settings.CHAT_HISTORY_MAX_PAGE_SIZE]
    )
