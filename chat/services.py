"""Writes: every domain action, shared by the WebSocket, the API and the admin.

Each action checks (access, validation), writes in a transaction, and emits
its events with ``transaction.on_commit``.
"""

import copy
import hashlib
from functools import partial
from typing import Self

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.identity import display_name
from accounts.services import profile_ensure
from chat import events, metrics, ratelimit
from chat.changes import RoomChanged, message_insert, one_trip_posts, room_change, take_seq
from chat.locks import room_post_lock
from chat.mentions import Mentions, mentions_markup, mentions_resolve
from chat.models import Membership, Mention, Message, Room
from chat.payloads import message_payload
from chat.rendering import render_markdown
from chat.selectors import (
    is_member,
    membership_of,
    mention_count,
    room_for_user,
    thread_root,
    unread_count,
)
from files.selectors import attachment_payload
from files.services import attachments_bind, attachments_claim
from project import validators
from project.errors import ClientError

CLIENT_ID_MAX_LENGTH = 64
ROOM_NAME_MAX_LENGTH = 100
ROOM_TOPIC_MAX_LENGTH = 250


def _on_commit(func, *args) -> None:
    transaction.on_commit(partial(func, *args))


# Accounts and rooms
# ------------------------------------------------------------------------------


def user_onboard(*, user: AbstractBaseUser) -> None:
    """A new user gets a profile and joins every default room."""
    profile_ensure(user=user)
    for room in Room.objects.filter(is_default=True, archived=False):
        membership, created = Membership.objects.get_or_create(room=room, user=user)
        if created:
            _on_commit(events.member_joined, membership)


def room_fields_check(*, name: object, slug: object, kind: object, topic: object) -> None:
    """What a new room's fields must be (the API, the socket and the admin's form)."""
    if kind not in (Room.Kind.PUBLIC, Room.Kind.PRIVATE):
        raise ClientError("invalid", "kind must be 'public' or 'private'.")
    if validators.slug(slug).startswith(("dm-", "gm-")):
        raise ClientError("invalid", "slugs starting with 'dm-' or 'gm-' are reserved.")
    _room_name(name)
    _room_topic(topic or "")


def _room_name(name: object) -> str:
    return validators.text(name, field="name", max_length=ROOM_NAME_MAX_LENGTH, strip=True)


def _room_topic(topic: object) -> str:
    return validators.text(topic, field="topic", max_length=ROOM_TOPIC_MAX_LENGTH, required=False)


@transaction.atomic
def room_create(
    *,
    creator: AbstractBaseUser,
    name: str,
    slug: str,
    kind: str = "public",
    topic: str = "",
    is_default: bool = False,
    by_operator: bool = False,
) -> Room:
    """A new public or private room, owned by its creator, who hears `room_added`.

    ``by_operator``: created in the admin for ``creator``; their room cap and the
    creation rate limit do not apply.
    """
    room_fields_check(name=name, slug=slug, kind=kind, topic=topic)
    name = name.strip()
    if Room.objects.filter(slug=slug).exists():
        raise ClientError("conflict", f"A room with the slug '{slug}' already exists.")
    if not by_operator:
        _room_cap_check(creator, yourself=True)
        _spend_token(creator, "room_create", "You are creating rooms too fast; try again later.")
    room = Room.objects.create(
        slug=slug, name=name, topic=topic or "", kind=kind, creator=creator, is_default=is_default
    )
    Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
    events.room_added(creator, room)
    return room


@transaction.atomic
def room_join(*, user: AbstractBaseUser, room: Room) -> tuple[Membership, bool]:
    """Join a public room; for other kinds only existing members get through."""
    membership = membership_of(user=user, room=room)
    if membership is not None:
        return membership, False
    if room.kind != Room.Kind.PUBLIC:
        raise ClientError("not_found", "No such room.")
    return _member_add(user=user, room=room)


def _member_add(*, user: AbstractBaseUser, room: Room) -> tuple[Membership, bool]:
    """Make the user a member (inside a transaction): within their room cap, heard
    by the room (`member_joined`) and by their own sockets (`room_added`)."""
    _room_cap_check(user, yourself=True)
    membership, created = Membership.objects.get_or_create(room=room, user=user)
    if created:
        _on_commit(events.member_joined, membership)
        events.room_added(user, room)
    return membership, created


@transaction.atomic
def room_leave(*, user: AbstractBaseUser, room: Room) -> None:
    if room.kind == Room.Kind.DIRECT:
        raise ClientError("forbidden", "You cannot leave a direct conversation.")
    deleted, _ = Membership.objects.filter(room=room, user=user).delete()
    if deleted:
        events.room_removed(user.pk, room)
        _on_commit(events.member_left, room, user)


def _spend_token(user: AbstractBaseUser, bucket: ratelimit.Bucket, detail: str) -> None:
    """Take a token of the user's bucket, shared by every replica, or refuse (429).

    (chat_rate_limited counts refused posts only, as documented.)
    """
    if not ratelimit.take_token(user.pk, bucket):
        raise ClientError("rate_limited", detail)


def _room_cap_check(user: AbstractBaseUser, *, yourself: bool) -> None:
    """Refuse a new membership past CHAT_MAX_ROOMS_PER_USER.

    Every room is in the user's `hello` and subscribes each of their sockets,
    so this bounds both. The user's row is locked until the transaction ends,
    so concurrent additions cannot pass the cap together. ``no_key``: FOR NO KEY
    UPDATE still serialises these checks but not the foreign-key checks of rows that
    point at the user (their events, posts, reads), which FOR UPDATE made wait and,
    with the user's event counter row held in between, deadlock.
    """
    cap = settings.CHAT_MAX_ROOMS_PER_USER
    if cap <= 0:
        return
    users = get_user_model().objects
    users.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").first()
    if Membership.objects.filter(user_id=user.pk).count() < cap:
        return
    if yourself:
        raise ClientError(
            "forbidden", f"You are in {cap} rooms, the most allowed; leave one first."
        )
    raise ClientError("forbidden", f"{user.get_username()} is in {cap} rooms, the most allowed.")


def _require_moderator(*, user: AbstractBaseUser, room: Room) -> None:
    if getattr(user, "is_staff", False):
        return
    membership = membership_of(user=user, room=room)
    if membership is None or not membership.can_moderate:
        raise ClientError("forbidden", "Only the room's owner or moderators may do that.")


def _active_user(username: object) -> AbstractBaseUser:
    if not isinstance(username, str) or not username:
        raise ClientError("invalid", "username is required.")
    if not validators.is_lookup_text(username):  # no username has a NUL
        raise ClientError("not_found", "No such user.")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ClientError("not_found", "No such user.")
    return user


@transaction.atomic
def room_invite(*, by: AbstractBaseUser, room: Room, username: str) -> Membership:
    """Add someone to a room: the owner, moderators and staff only, for every kind of room.

    Others join public rooms themselves (room_join): being added is not consented
    to, so a plain member must not be able to push anyone into rooms. Rate limited
    per inviter (staff exempt: the admin adds members in bulk); a refusal stores nothing.
    """
    if room.kind == Room.Kind.DIRECT:
        raise ClientError("forbidden", "Direct conversations have exactly two members.")
    _require_moderator(user=by, room=room)
    invitee = _active_user(username)
    membership = membership_of(user=invitee, room=room)
    if membership is not None:
        return membership
    _room_cap_check(invitee, yourself=invitee.pk == by.pk)
    if not getattr(by, "is_staff", False):
        _spend_token(by, "invite", "You are adding people too fast; wait a moment.")
    membership, created = Membership.objects.get_or_create(room=room, user=invitee)
    if created:
        _on_commit(events.member_joined, membership)
        events.room_added(invitee, room)
    return membership


def _member_named(*, room: Room, username: object) -> tuple[AbstractBaseUser, Membership]:
    """The user called ``username`` and their membership of the room, or not_found."""
    target = None
    if validators.is_lookup_text(username):
        target = get_user_model().objects.filter(username=username).first()
    membership = membership_of(user=target, room=room) if target else None
    if membership is None:
        raise ClientError("not_found", "That user is not a member.")
    return target, membership


@transaction.atomic
def member_remove(*, by: AbstractBaseUser, room: Room, username: str) -> None:
    """Remove a member; their sockets stop receiving the room on every replica."""
    if room.kind == Room.Kind.DIRECT:
        raise ClientError("forbidden", "Direct conversations have exactly two members.")
    _require_moderator(user=by, room=room)
    target, membership = _member_named(room=room, username=username)
    if membership.role == Membership.Role.OWNER:
        raise ClientError("forbidden", "The owner cannot be removed.")
    if membership.role == Membership.Role.MODERATOR and not _is_owner_or_staff(by, room):
        raise ClientError("forbidden", "Only the owner can remove a moderator.")
    membership.delete()
    events.room_removed(target.pk, room)
    _on_commit(events.member_left, room, target)


ROLES = frozenset(Membership.Role.values)


@transaction.atomic
def member_role_set(
    *, by: AbstractBaseUser, room: Room, username: object, role: object
) -> Membership:
    """Make a member a moderator or a plain member, or hand them the room (role "owner").

    Only the owner (or staff) changes roles. Handing over ownership makes the old
    owner a moderator, so a room always has exactly one owner; for the same reason
    nobody changes their own role, and the owner's only changes by handing the
    room to someone else. Direct rooms have no roles. The room's members get
    `member_updated` for every membership that changed, on every replica.
    """
    if room.kind == Room.Kind.DIRECT:
        raise ClientError("forbidden", "Direct conversations have no roles.")
    if not isinstance(role, str) or role not in ROLES:
        raise ClientError("invalid", "role must be 'owner', 'moderator' or 'member'.")
    # One role change per room at a time: two simultaneous handovers cannot leave two owners.
    Room.objects.select_for_update(no_key=True).filter(pk=room.pk).values_list("pk").first()
    if not _is_owner_or_staff(by, room):
        raise ClientError("forbidden", "Only the room's owner may change roles.")
    target, membership = _member_named(room=room, username=username)
    if target.pk == by.pk:
        raise ClientError(
            "forbidden", "You cannot change your own role; hand the room to someone else instead."
        )
    if membership.role == role:
        return membership
    if membership.role == Membership.Role.OWNER:
        raise ClientError(
            "forbidden", "The owner's role changes only by handing the room to someone else."
        )
    if role == Membership.Role.OWNER:
        for previous in Membership.objects.filter(room=room, role=Membership.Role.OWNER):
            previous.role = Membership.Role.MODERATOR
            previous.save(update_fields=["role"])
            _on_commit(events.member_updated, previous)
    membership.role = role
    membership.save(update_fields=["role"])
    _on_commit(events.member_updated, membership)
    return membership


def _is_owner_or_staff(user: AbstractBaseUser, room: Room) -> bool:
    membership = membership_of(user=user, room=room)
    is_owner = membership is not None and membership.role == Membership.Role.OWNER
    return getattr(user, "is_staff", False) or is_owner


@transaction.atomic
def room_archive(*, by: AbstractBaseUser, room: Room, archived: bool = True) -> Room:
    """Archive (read-only) or reopen a room; members see it live."""
    _require_moderator(user=by, room=room)
    room.archived = archived
    room.save(update_fields=["archived"])
    _on_commit(events.room_updated, room)
    return room


@transaction.atomic
def room_update(
    *, by: AbstractBaseUser, room: Room, name: str | None = None, topic: str | None = None
) -> Room:
    """Rename a room or change its topic (moderators); members see it live."""
    _require_moderator(user=by, room=room)
    if name is not None:
        room.name = _room_name(name)
    if topic is not None:
        room.topic = _room_topic(topic)
    room.save(update_fields=["name", "topic"])
    _on_commit(events.room_updated, room)
    return room


@transaction.atomic
def room_delete(*, by: AbstractBaseUser, room: Room) -> None:
    """Delete a room and its messages (owner or staff); members' sockets drop it live."""
    if not _is_owner_or_staff(by, room):
        raise ClientError("forbidden", "Only the room's owner may delete it.")
    member_ids = list(room.memberships.values_list("user_id", flat=True))
    gone = copy.copy(room)  # keeps pk and slug for the events, which run after the delete
    room.delete()
    for user_id in sorted(member_ids):  # counter rows locked in id order (chat/user_events.py)
        events.room_removed(user_id, gone)


def direct_room_open(*, user: AbstractBaseUser, username: str) -> tuple[Room, bool]:
    """The one direct room of this pair, created on first use (rate limited, `dm`)."""
    other = _active_user(username)
    if other.pk == user.pk:
        raise ClientError("invalid", "You cannot open a direct conversation with yourself.")
    low, high = sorted((user.pk, other.pk))
    direct_key = f"{low}:{high}"
    room = Room.objects.filter(direct_key=direct_key).first()
    if room is not None:
        return room, False
    try:
        with transaction.atomic():
            # Locks both rows in id order (no deadlock with the reverse pair).
            for member in sorted((user, other), key=lambda member: member.pk):
                _room_cap_check(member, yourself=member.pk == user.pk)
            # Only a new room costs a token: opening an existing one is free.
            _spend_token(user, "dm", "You are starting conversations too fast; wait a moment.")
            room = Room.objects.create(
                slug=f"dm-{low}-{high}",
                name=f"{user.get_username()} & {other.get_username()}",
                kind=Room.Kind.DIRECT,
                creator=user,
                direct_key=direct_key,
            )
            members = sorted((user, other), key=lambda member: member.pk)
            for member in members:
                Membership.objects.create(room=room, user=member)
            # Each one's room object names the other (its peer): both must be members first.
            for member in members:
                events.room_added(member, room)
    except IntegrityError:
        return Room.objects.get(direct_key=direct_key), False
    return room, True


# A group conversation has at most this many people besides the one who opens it;
# a bigger group is a room of its own (with a name and an address).
GROUP_MAX_OTHERS = 8


def _group_others(*, user: AbstractBaseUser, usernames: object) -> list[AbstractBaseUser]:
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise ClientError("invalid", "usernames must be a list of usernames.")
    wanted = list(dict.fromkeys(u for u in usernames if u != user.get_username()))
    if len(wanted) < 2:
        raise ClientError(
            "invalid", "A group conversation needs two other people; for one, open a direct one."
        )
    if len(wanted) > GROUP_MAX_OTHERS:
        raise ClientError(
            "invalid",
            f"A group conversation has at most {GROUP_MAX_OTHERS + 1} people; "
            "for more, create a room.",
        )
    others = []
    for username in wanted:
        try:
            others.append(_active_user(username))
        except ClientError as error:
            raise ClientError(error.code, f"There is no user called {username[:150]}.") from None
    return sorted(others, key=lambda other: other.pk)


def _group_name(people: list[AbstractBaseUser]) -> str:
    names = [display_name(person) for person in people]
    name = f"{', '.join(names[:-1])} & {names[-1]}"
    if len(name) <= ROOM_NAME_MAX_LENGTH:
        return name
    return name[: ROOM_NAME_MAX_LENGTH - 1].rstrip(", &") + "…"


def group_room_open(*, user: AbstractBaseUser, usernames: object) -> tuple[Room, bool]:
    """The private room of exactly these people (2 to GROUP_MAX_OTHERS others and the
    user), created on first use and named after them; opening it again with the same
    people finds it (``direct_key`` holds a digest of the set). Whoever opens it first
    owns it: like any private room, it can be renamed and people added or removed.
    One who left it and opens it again is back in it. Rate limited as new direct rooms.
    """
    others = _group_others(user=user, usernames=usernames)
    people = sorted([user, *others], key=lambda person: person.pk)
    digest = hashlib.sha256(",".join(str(person.pk) for person in people).encode()).hexdigest()
    group_key = f"g:{digest[:40]}"
    room = Room.objects.filter(direct_key=group_key).first()
    if room is not None:
        if membership_of(user=user, room=room) is None:
            with transaction.atomic():
                _member_add(user=user, room=room)
        return room, False
    try:
        with transaction.atomic():
            for person in people:  # user rows locked in id order, as for a direct room
                _room_cap_check(person, yourself=person.pk == user.pk)
            _spend_token(user, "dm", "You are starting conversations too fast; wait a moment.")
            room = Room.objects.create(
                slug=f"gm-{digest[:12]}",
                name=_group_name([user, *others]),
                kind=Room.Kind.PRIVATE,
                creator=user,
                direct_key=group_key,
            )
            for person in people:
                role = Membership.Role.OWNER if person.pk == user.pk else Membership.Role.MEMBER
                Membership.objects.create(room=room, user=person, role=role)
            for person in people:  # counter rows in id order (chat/user_events.py)
                events.room_added(person, room)
    except IntegrityError:
        return Room.objects.get(direct_key=group_key), False
    return room, True


# Messages
# ------------------------------------------------------------------------------


def _clean_body(body: object, *, may_be_empty: bool = False) -> str:
    """The body as typed; blank only for a message that carries attachments."""
    if body is None and may_be_empty:
        body = ""
    body = validators.string(body, field="body")
    if not body.strip() and not may_be_empty:
        raise ClientError("invalid", "The message is empty.")
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise ClientError("too_long", f"Messages are limited to {limit} characters ({len(body)}).")
    return body


def _check_writable(*, user: AbstractBaseUser, room: Room) -> None:
    if not is_member(user=user, room=room):
        raise ClientError("forbidden", "Join the room before posting.")
    if room.archived:
        raise ClientError("forbidden", "This room is archived and read-only.")


class Posted(tuple[Message, bool]):
    """What message_post answers: ``(message, created)``, and the message object
    (``payload``) its `message` frame published, which the socket and the API answer
    the poster with, so it is built once per post."""

    payload: dict

    def __new__(cls, message: Message, created: bool, payload: dict) -> Self:
        posted = super().__new__(cls, (message, created))
        posted.payload = payload
        return posted

    @property
    def message(self) -> Message:
        return self[0]

    @property
    def created(self) -> bool:
        return self[1]


def _retried(*, user: AbstractBaseUser, client_id: str) -> Posted | None:
    """The message an earlier try with this client_id stored, published again; or None.

    The first try may have committed on a replica that died before fanning out
    (tests/faults/test_replica_death.py); publishing again is harmless, since
    every receiver keeps messages by id.
    """
    if not client_id:
        return None
    existing = Message.objects.filter(author=user, client_id=client_id).first()
    if existing is None:
        return None
    if existing.deleted:
        return Posted(existing, False, message_payload(existing))
    return Posted(existing, False, events.message_created(existing))


def message_post(
    *,
    user: AbstractBaseUser,
    room: Room,
    body: object,
    client_id: object = "",
    thread: object = None,
    attachments: object = None,
    room_read_earlier: bool = False,
) -> Posted:
    """Store a message (a reply, with ``thread``) and fan it out; a repeated client_id
    returns the first one.

    ``attachments`` are ids of the user's own unused uploads (files.services); with
    some, the body may be blank. Returns (message, created) with the published
    message object as ``.payload``. A refused post stores nothing and leaves the
    uploads unused.

    ``room_read_earlier``: ``room`` comes from an earlier read, as a socket keeps
    the rooms it posted to (realtime.consumers), and may have changed since. A post
    stored in one round trip checks the room in its own statement
    (chat.changes.message_insert); any other post reads the room again first.
    """
    fields = {"body": body, "client_id": client_id, "thread": thread, "attachments": attachments}
    if room_read_earlier and not _one_trip(thread=thread, attachments=attachments):
        room = room_for_user(user=user, slug=room.slug)
    try:
        return _message_post(user=user, room=room, **fields)
    except RoomChanged:
        # Gone, archived, renamed or left since it was read: the room read again, and
        # the post's own checks on it, say which; changed back meanwhile, it goes in.
        room = room_for_user(user=user, slug=room.slug)
    try:
        return _message_post(user=user, room=room, **fields)
    except RoomChanged:
        raise ClientError("not_found", "No such room.") from None


def _one_trip(*, thread: object, attachments: object) -> bool:
    """Whether a post is stored by _message_post_one_trip."""
    return thread is None and attachments in (None, []) and one_trip_posts()


def _message_post(
    *,
    user: AbstractBaseUser,
    room: Room,
    body: object,
    client_id: object,
    thread: object,
    attachments: object,
) -> Posted:
    body = _clean_body(body, may_be_empty=isinstance(attachments, list) and bool(attachments))
    client_id = validators.text(
        "" if client_id is None else client_id,
        field="client_id",
        max_length=CLIENT_ID_MAX_LENGTH,
        required=False,
    )
    _check_writable(user=user, room=room)
    root_id = None if thread is None else thread_root(room=room, thread=thread).pk
    mentioned = mentions_resolve(room=room, author=user, body=body)
    # A retry is told apart from a new message by the unique (author, client_id)
    # constraint, not by a query before every post: it costs a rate-limit token,
    # but a retry the limit would refuse is still answered with the stored message.
    if not ratelimit.take_post_token(user.pk):
        retried = _retried(user=user, client_id=client_id)
        if retried is not None:
            return retried
        metrics.RATE_LIMITED.inc()
        raise ClientError("rate_limited", "You are sending messages too fast; wait a moment.")
    html = mentions_markup(render_markdown(body), mentioned.names)
    if _one_trip(thread=thread, attachments=attachments):
        return _message_post_one_trip(
            user=user, room=room, body=body, html=html, client_id=client_id, mentioned=mentioned
        )
    published: list[dict] = []  # the message object, once the commit has published it
    try:
        # One change per room at a time, from insert to publish: ids and seqs commit
        # and go out in order, so neither cursor ever steps over a change. Never
        # inside an outer transaction: the publish would then follow the unlock.
        with room_change(room.pk, durable=True):
            uploads = attachments_claim(user=user, ids=attachments, room=room)
            seq = take_seq(room.pk, 2 if root_id else 1)
            message = Message.objects.create(
                room=room,
                author=user,
                body=body,
                html=html,
                client_id=client_id,
                seq=seq - 1 if root_id else seq,
                thread_id=root_id,
                mentions=mentioned.names,
                attachment_summary=[attachment_payload(upload) for upload in uploads],
            )
            if uploads:
                attachments_bind(uploads=uploads, message=message)
            Room.objects.filter(pk=room.pk).update(last_message_id=message.id)
            room.last_message_id = message.id
            room.seq = seq
            if mentioned.user_ids:
                Mention.objects.bulk_create(
                    Mention(message=message, room=room, user_id=uid) for uid in mentioned.user_ids
                )
            _on_commit(metrics.MESSAGES_ACCEPTED.inc)
            _on_commit(lambda: published.append(events.message_created(message)))
            _on_commit(events.mention_notify, message)
            if root_id:  # after the reply's own frame: seqs go out in order
                _thread_recount(root_id=root_id, seq=seq)
    except IntegrityError:
        retried = _retried(user=user, client_id=client_id)
        if retried is None:
            raise
        return retried
    if not published:
        # The hooks run at this block's commit (durable); only a test's enclosing
        # transaction (pytest-django's) holds them back, and then nothing went out.
        published.append(message_payload(message))
    return Posted(message, True, published[0])


def _message_post_one_trip(
    *,
    user: AbstractBaseUser,
    room: Room,
    body: str,
    html: str,
    client_id: str,
    mentioned: Mentions,
) -> Posted:
    """message_post's store and publish for a post with no thread or attachments, on
    PostgreSQL: the lock, the seq, the message, its mentions and the room's
    last_message_id in one round trip (chat.changes.message_insert), then the same
    publish as on commit, still under the lock, and the lock released.
    """
    message = Message(
        room=room, author=user, body=body, html=html, client_id=client_id, mentions=mentioned.names
    )
    try:
        with room_post_lock(room.pk, taken_by_caller=True):
            message_insert(message, mentioned_user_ids=mentioned.user_ids)
            room.last_message_id = message.id
            room.seq = message.seq
            metrics.MESSAGES_ACCEPTED.inc()
            payload = events.message_created(message)
            events.mention_notify(message)
    except IntegrityError:
        retried = _retried(user=user, client_id=client_id)
        if retried is None:
            raise
        return retried
    return Posted(message, True, payload)


def _thread_recount(*, root_id: int, seq: int) -> None:
    """Recount a root's live replies (inside room_change) and tell the room.

    A root deleted meanwhile refuses the reply (the transaction rolls back).
    """
    live = Message.objects.filter(thread_id=root_id, deleted=False)
    count = live.count()
    last = live.order_by("-id").values_list("created", flat=True).first()
    updated = Message.objects.filter(pk=root_id, deleted=False).update(
        reply_count=count, last_reply_at=last, seq=seq
    )
    if not updated:
        raise ClientError("not_found", "That thread's first message was deleted.")
    root = Message.objects.select_related("room").get(pk=root_id)
    _on_commit(events.thread_updated, root)


def message_for_member(*, user: AbstractBaseUser, message_id: object) -> Message:
    """A live message of a room the user is a member of; anything else is not_found."""
    message_id = validators.integer(message_id, field="id")
    message = (
        Message.objects.select_related("room", "author__profile")
        .filter(pk=message_id, deleted=False)
        .first()
    )
    if message is None or membership_of(user=user, room=message.room) is None:
        raise ClientError("not_found", "No such message.")
    return message


def message_still_live(message: Message) -> None:
    """Inside room_change: the message was not deleted since it was read."""
    if not Message.objects.filter(pk=message.pk, deleted=False).exists():
        raise ClientError("not_found", "No such message.")


def message_edit(*, user: AbstractBaseUser, message_id: object, body: object) -> Message:
    message = message_for_member(user=user, message_id=message_id)
    if message.author_id != user.pk:
        raise ClientError("forbidden", "You can only edit your own messages.")
    if message.room.archived:
        raise ClientError("forbidden", "This room is archived and read-only.")
    body = _clean_body(body, may_be_empty=bool(message.attachment_summary))
    mentioned = mentions_resolve(room=message.room, author=user, body=body)
    with room_change(message.room_id):
        message_still_live(message)
        message.body = body
        message.html = mentions_markup(render_markdown(body), mentioned.names)
        message.edited_at = timezone.now()
        message.seq = take_seq(message.room_id)
        if message.mentions or mentioned.names:
            Mention.objects.filter(message=message).delete()
            Mention.objects.bulk_create(
                Mention(message=message, room_id=message.room_id, user_id=uid)
                for uid in mentioned.user_ids
            )
        message.mentions = mentioned.names
        message.save(update_fields=["body", "html", "edited_at", "seq", "mentions"])
        _on_commit(events.message_edited, message)
    return message


def message_delete(*, user: AbstractBaseUser, message_id: object) -> Message:
    """Soft delete: the author, a room moderator or staff."""
    message = message_for_member(user=user, message_id=message_id)
    if message.author_id != user.pk:
        _require_moderator(user=user, room=message.room)
    return message_soft_delete(message=message)


def message_soft_delete(*, message: Message) -> Message:
    """Mark deleted and tell the room (a reply also updates its root); also used by the admin."""
    with room_change(message.room_id):
        # A reply's live root changes too (its count), with the next seq.
        recount = message.thread_id is not None and (
            Message.objects.filter(pk=message.thread_id, deleted=False).exists()
        )
        seq = take_seq(message.room_id, 2 if recount else 1)
        message.seq = seq - 1 if recount else seq
        updated = Message.objects.filter(pk=message.pk, deleted=False).update(
            deleted=True, seq=message.seq
        )
        if not updated:
            raise ClientError("not_found", "No such message.")
        message.deleted = True
        _on_commit(events.message_deleted, message)
        if recount:
            _thread_recount(root_id=message.thread_id, seq=seq)
    return message


@transaction.atomic
def read_mark(*, user: AbstractBaseUser, room: Room, message_id: object) -> int:
    """Move the user's read mark forward; returns the unread count."""
    message_id = validators.non_negative_integer(message_id, field="message_id")
    membership = membership_of(user=user, room=room)
    if membership is None:
        raise ClientError("forbidden", "You are not a member of this room.")
    mark = min(message_id, Room.objects.values_list("last_message_id", flat=True).get(pk=room.pk))
    if mark > membership.last_read_id:
        membership.last_read_id = mark
        membership.save(update_fields=["last_read_id"])
    unread = unread_count(membership=membership)
    mentions = mention_count(membership=membership)
    events.read(user.pk, room, membership.last_read_id, unread, mentions)
    return unread


def typing_announce(*, user: AbstractBaseUser, room: Room, exclude: str) -> None:
    """Tell the room's other sockets the user is typing (nothing is stored)."""
    if not is_member(user=user, room=room):
        raise ClientError("forbidden", "You are not a member of this room.")
    events.typing(room, user, exclude=exclude)


NOTIFY_LEVELS = frozenset(Membership.Notify.values)


@transaction.atomic
def notify_set(*, user: AbstractBaseUser, room: Room, notify: object) -> Membership:
    """Choose what a room tells the member: all, mentions or none (muted)."""
    if not isinstance(notify, str) or notify not in NOTIFY_LEVELS:
        raise ClientError("invalid", "notify must be 'all', 'mentions' or 'none'.")
    membership = membership_of(user=user, room=room)
    if membership is None:
        raise ClientError("forbidden", "You are not a member of this room.")
    membership.notify = notify
    membership.save(update_fields=["notify"])
    events.room_notify(user.pk, room, notify)
    return membership
