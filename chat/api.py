"""The chat part of the HTTP API: rooms, members, roles, messages, direct rooms, and
finding people to invite or write to (the long polls are realtime/api.py).

Views validate input, call one service or selector, and shape the output; the
WebSocket consumer calls the same functions, so a message posted here is
validated, rate limited, deduplicated and fanned out exactly like one sent
over a socket. Rooms a user may not see answer 404, like missing ones.
"""

from typing import Annotated, Literal, Self
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictBool, StrictInt, model_validator

from accounts import selectors as people_selectors
from accounts.api import UserOut
from chat import presence, ratelimit, reactions, selectors, services
from chat.frames import ChangesOut, MemberOut, MessageOut, RoomOut
from files.services import MAX_ATTACHMENTS
from project import validators
from project.errors import ClientError, errors

MESSAGE_ID_MAX = validators.ID_MAX
# Rooms a user may not see answer 404, like rooms that do not exist.
RoomSlug = Annotated[str, Path(description="The room's slug.", example="general")]
Username = Annotated[str, Path(description="The member's username.", example="bob")]

router = Router()

# Schemas
# ------------------------------------------------------------------------------


class RoomIn(Schema):
    name: str = Field(max_length=100)
    slug: str = Field(pattern=r"^[a-z0-9-]{1,50}$", description="Not starting with 'dm-'.")
    kind: Literal["public", "private"] = "public"
    topic: str = Field("", max_length=250)


class RoomPatch(Schema):
    """Only the fields sent change; at least one is required."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: str | None = Field(None, max_length=100)
    topic: str | None = Field(None, max_length=250)
    archived: StrictBool | None = Field(
        None, description="true archives the room (read-only), false reopens it."
    )

    @model_validator(mode="after")
    def something_to_change(self) -> Self:
        if self.name is None and self.topic is None and self.archived is None:
            raise ValueError("send at least one of name, topic, archived")
        return self


class UsernameIn(Schema):
    username: str


class UsernamesIn(Schema):
    usernames: list[str] = Field(
        description="The other people: 2 to 8 usernames (yours, if given, is left out)."
    )


class RoleIn(Schema):
    role: Literal["owner", "moderator", "member"] = Field(
        description="`owner` hands the room over: the old owner becomes a moderator."
    )


class ChangesQuery(Schema):
    since: int = Field(ge=0, le=MESSAGE_ID_MAX, description="The last seq the client has.")
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_HISTORY_PAGE_SIZE}, "
        f"at most {settings.CHAT_HISTORY_MAX_PAGE_SIZE}.",
    )


class ReactionIn(Schema):
    emoji: str = Field(max_length=32, description="One Unicode emoji or a :short_name:.")


class NotifyIn(Schema):
    notify: Literal["all", "mentions", "none"]


class MessageIn(Schema):
    body: str = Field(
        "",
        description=f"Markdown, at most {settings.CHAT_MESSAGE_MAX_LENGTH} characters "
        "(longer is a 413); blank only with attachments.",
    )
    attachments: list[StrictInt] | None = Field(
        None,
        description="Ids of your own uploads (POST /api/uploads) not yet posted, at most "
        f"{MAX_ATTACHMENTS}; someone else's or a missing one is a 404, one already posted "
        "a 409.",
    )
    client_id: str | None = Field(
        None,
        description=f"Up to {services.CLIENT_ID_MAX_LENGTH} characters, unique per author: "
        "a retry with the same client_id returns the first message (200) instead of "
        "posting again.",
    )
    thread: int | None = Field(
        None,
        ge=1,
        le=MESSAGE_ID_MAX,
        description="Reply in the thread of this message of the same room (a reply's "
        "thread is its root's).",
    )


class MessageEditIn(Schema):
    body: str = Field(
        description=f"The new Markdown, not blank, at most {settings.CHAT_MESSAGE_MAX_LENGTH} "
        "characters (longer is a 413)."
    )


class MessagesPage(Schema):
    messages: list[MessageOut] = Field(description="Ascending by id.")
    has_more: bool = Field(description="More messages lie beyond this page.")


class ThreadPage(MessagesPage):
    root: MessageOut | None = Field(None, description="With `thread`: the thread's root.")
    has_newer: bool | None = Field(
        None, description="With `around`: newer messages exist (page on with `after`)."
    )
    focus: int | None = Field(
        None, description="With `around`: the id the page is centred on (a reply's root)."
    )


class PinsOut(Schema):
    messages: list[MessageOut] = Field(description="The newest pin first.")


MessageId = Annotated[int, Field(ge=0, le=MESSAGE_ID_MAX)]
MessageIdPath = Annotated[int, Path(ge=1, le=MESSAGE_ID_MAX, description="The message's id.")]


class ReadIn(Schema):
    message_id: StrictInt = Field(
        ge=0, le=MESSAGE_ID_MAX, description="The newest message read; the mark never moves back."
    )


class ReadOut(Schema):
    room: str
    message_id: int = Field(description="The read mark now stored.")
    unread: int = Field(description="Messages by others after the mark.")


class PageQuery(Schema):
    before: MessageId | None = Field(None, description="Messages older than this id.")
    after: MessageId | None = Field(None, description="Messages newer than this id.")
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_HISTORY_PAGE_SIZE}, "
        f"at most {settings.CHAT_HISTORY_MAX_PAGE_SIZE}.",
    )
    thread: MessageId | None = Field(
        None, description="A thread root's id: page its replies instead of the main timeline."
    )
    around: MessageId | None = Field(
        None,
        description="A message id: the page with it in the middle (a permalink); in the "
        "main timeline a reply stands for its root. Not with `before`/`after`.",
    )


# Rooms and members
# ------------------------------------------------------------------------------


class RoomListQuery(Schema):
    after: str | None = Field(
        None,
        pattern=r"^[a-z0-9-]{1,50}$",
        description="The cursor: rooms whose slug sorts after this one (`X-Next-Cursor`).",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_ROOM_LIST_PAGE_SIZE}, "
        f"at most {settings.CHAT_ROOM_LIST_MAX_PAGE_SIZE}.",
    )


@router.get(
    "/rooms", response={200: list[RoomOut], **errors()}, tags=["rooms"], summary="Rooms I can see"
)
def room_list(
    request: HttpRequest, response: HttpResponse, query: Query[RoomListQuery]
) -> list[dict]:
    """Public rooms, and the private and direct rooms I belong to, a page at a time by slug.

    When more rooms follow, the answer carries `X-Next-Cursor: <slug>` and
    `Link: </api/rooms?after=<slug>&limit=<n>>; rel="next"`; without them it
    is the last page.
    """
    rooms, cursor = selectors.visible_rooms(user=request.auth, after=query.after, limit=query.limit)
    if cursor is not None:
        params = {"after": cursor, "limit": selectors.room_list_limit(query.limit)}
        response["X-Next-Cursor"] = cursor
        response["Link"] = f'<{request.path}?{urlencode(params)}>; rel="next"'
    return rooms


@router.post(
    "/rooms",
    response={201: RoomOut, **errors(403, 409, 429)},
    tags=["rooms"],
    summary="Create a room",
)
def room_create(request: HttpRequest, payload: RoomIn) -> Status:
    """I become its owner. A slug already in use is a 409; too many rooms created
    lately a 429 (CHAT_RATE_LIMIT_ROOMS_PER_HOUR); being in CHAT_MAX_ROOMS_PER_USER
    rooms already a 403."""
    room = services.room_create(creator=request.auth, **payload.dict())
    return Status(201, selectors.room_detail(room=room, user=request.auth))


@router.get(
    "/rooms/{slug}", response={200: RoomOut, **errors(404)}, tags=["rooms"], summary="One room"
)
def room_get(request: HttpRequest, slug: RoomSlug) -> dict:
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return selectors.room_detail(room=room, user=request.auth)


@router.patch(
    "/rooms/{slug}",
    response={200: RoomOut, **errors(403, 404)},
    tags=["rooms"],
    summary="Change a room",
)
def room_change(request: HttpRequest, slug: RoomSlug, payload: RoomPatch) -> dict:
    """Rename, change the topic, archive or reopen (the owner, moderators, staff).

    Members see it live (`room_updated`). All of the change or none of it applies.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    with transaction.atomic():
        if payload.name is not None or payload.topic is not None:
            services.room_update(by=request.auth, room=room, name=payload.name, topic=payload.topic)
        if payload.archived is not None:
            services.room_archive(by=request.auth, room=room, archived=payload.archived)
    return selectors.room_detail(room=room, user=request.auth)


@router.post(
    "/rooms/{slug}/join",
    response={200: RoomOut, **errors(403, 404)},
    tags=["rooms"],
    summary="Join a public room",
)
def room_join(request: HttpRequest, slug: RoomSlug) -> dict:
    """Anyone may join a public room; being in CHAT_MAX_ROOMS_PER_USER rooms already is a 403."""
    room = selectors.room_for_user(user=request.auth, slug=slug)
    services.room_join(user=request.auth, room=room)
    return selectors.room_detail(room=room, user=request.auth)


@router.post(
    "/rooms/{slug}/leave",
    response={204: None, **errors(403, 404)},
    tags=["rooms"],
    summary="Leave a room",
)
def room_leave(request: HttpRequest, slug: RoomSlug) -> Status:
    """Direct rooms cannot be left (403)."""
    room = selectors.room_for_user(user=request.auth, slug=slug)
    services.room_leave(user=request.auth, room=room)
    return Status(204, None)


@router.get(
    "/rooms/{slug}/members",
    response={200: list[MemberOut], **errors(404)},
    tags=["rooms"],
    summary="A room's members",
)
def member_list(request: HttpRequest, slug: RoomSlug) -> list[dict]:
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return selectors.members(room=room)


@router.post(
    "/rooms/{slug}/members",
    response={200: MemberOut, **errors(403, 404, 429)},
    tags=["rooms"],
    summary="Invite someone",
)
def member_invite(request: HttpRequest, slug: RoomSlug, payload: UsernameIn) -> dict:
    """The room's owner, moderators and staff, public and private rooms alike (403
    otherwise: others join public rooms themselves). Too many lately is a 429
    (CHAT_RATE_LIMIT_INVITES_PER_MINUTE), someone already in CHAT_MAX_ROOMS_PER_USER
    rooms a 403.

    Answers the member; adding someone who is already in is not an error and costs nothing.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    membership = services.room_invite(by=request.auth, room=room, username=payload.username)
    return selectors.member_payload(membership, presence.backend().online([membership.user_id]))


@router.delete(
    "/rooms/{slug}/members/{username}",
    response={204: None, **errors(403, 404)},
    tags=["rooms"],
    summary="Remove a member",
)
def member_remove(request: HttpRequest, slug: RoomSlug, username: Username) -> Status:
    """The owner, moderators and staff; only the owner or staff remove a moderator,
    nobody removes the owner, and direct rooms keep their two members (403).

    The removed member's sockets drop the room at once, on every replica.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    services.member_remove(by=request.auth, room=room, username=username)
    return Status(204, None)


@router.patch(
    "/rooms/{slug}/members/{username}",
    response={200: MemberOut, **errors(403, 404)},
    tags=["rooms"],
    summary="Change a member's role",
)
def member_role_set(
    request: HttpRequest, slug: RoomSlug, username: Username, payload: RoleIn
) -> dict:
    """The owner (or staff) makes a member a moderator or a plain member again, or
    hands the room over with `owner` (the old owner becomes a moderator).

    403: not the owner or staff, one's own role, the owner's role (hand the room
    over instead), a direct room. 404: not a member. An unknown role is a 422. The
    room's members see `member_updated` live, on every replica; answers the member.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    membership = services.member_role_set(
        by=request.auth, room=room, username=username, role=payload.role
    )
    return selectors.member_payload(membership, presence.backend().online([membership.user_id]))


@router.post(
    "/rooms/{slug}/read",
    response={200: ReadOut, **errors(403, 404)},
    tags=["rooms"],
    summary="Mark read",
)
def read_mark(request: HttpRequest, slug: RoomSlug, payload: ReadIn) -> dict:
    """Move my read mark forward to `message_id` (never back); members only.

    My other connections get `read` with the new unread count.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    unread = services.read_mark(user=request.auth, room=room, message_id=payload.message_id)
    mark = selectors.membership_of(user=request.auth, room=room).last_read_id
    return {"room": room.slug, "message_id": mark, "unread": unread}


# Messages
# ------------------------------------------------------------------------------


@router.get(
    "/rooms/{slug}/messages",
    response={200: ThreadPage, **errors(404)},
    tags=["messages"],
    summary="History",
)
def message_list(request: HttpRequest, slug: RoomSlug, query: Query[PageQuery]) -> dict:
    """A page ascending by id: the newest, or `before` an id, or `after` an id, or
    `around` one (a permalink: about half older, `has_newer` when it does not
    reach the newest).

    The main timeline holds thread roots (each with `reply_count`); with `thread`
    the page is that thread's replies, and `root` is the root.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return selectors.history_page(
        room=room,
        before=query.before,
        after=query.after,
        around=query.around,
        limit=query.limit,
        thread=query.thread,
    )


@router.get(
    "/rooms/{slug}/changes",
    response={200: ChangesOut, **errors(404)},
    tags=["messages"],
    summary="Changes since a seq",
)
def change_list(request: HttpRequest, slug: RoomSlug, query: Query[ChangesQuery]) -> dict:
    """Everything that changed in the room's messages after `since` (posts, edits,
    deletions, reactions, pins, reply counts): each changed message once, as it is
    now, in seq order. A client that kept the room's `seq` misses nothing."""
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return selectors.changes_page(room=room, since=query.since, limit=query.limit)


@router.get(
    "/rooms/{slug}/pins",
    response={200: PinsOut, **errors(404)},
    tags=["messages"],
    summary="Pinned messages",
)
def pin_list(request: HttpRequest, slug: RoomSlug) -> dict:
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return {
        "messages": [selectors.message_payload(m) for m in selectors.pinned_messages(room=room)]
    }


@router.patch(
    "/rooms/{slug}/me",
    response={200: RoomOut, **errors(403, 404)},
    tags=["rooms"],
    summary="My notification setting",
)
def notify_set(request: HttpRequest, slug: RoomSlug, payload: NotifyIn) -> dict:
    """`all`, `mentions` or `none` (muted); members only. My other tabs get `room_notify`."""
    room = selectors.room_for_user(user=request.auth, slug=slug)
    services.notify_set(user=request.auth, room=room, notify=payload.notify)
    return selectors.room_detail(room=room, user=request.auth)


@router.post(
    "/rooms/{slug}/messages",
    response={200: MessageOut, 201: MessageOut, **errors(403, 404, 409, 429)},
    tags=["messages"],
    summary="Post a message",
)
def message_post(request: HttpRequest, slug: RoomSlug, payload: MessageIn) -> Status:
    """Stored, then delivered live to the room's members on every replica.

    201 when stored; 200 with the first message when its client_id was
    already used (a retry). Too long is a 413, too fast a 429.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    posted = services.message_post(
        user=request.auth,
        room=room,
        body=payload.body,
        client_id=payload.client_id,
        thread=payload.thread,
        attachments=payload.attachments,
    )
    return Status(201 if posted.created else 200, posted.payload)


@router.post(
    "/rooms/{slug}/typing",
    response={204: None, **errors(403, 404, 429)},
    tags=["messages"],
    summary="I am typing",
)
def typing_announce(request: HttpRequest, slug: RoomSlug) -> Status:
    """Tell the room's other members I am typing (members only; nothing is stored).

    For clients without a WebSocket; best effort, like the socket's `typing`.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    if not ratelimit.take_token(request.auth.pk, "typing"):
        raise ClientError("rate_limited", "Typing is announced at most every 2 seconds.")
    services.typing_announce(user=request.auth, room=room, exclude="")
    return Status(204, None)


@router.patch(
    "/messages/{message_id}",
    response={200: MessageOut, **errors(403, 404)},
    tags=["messages"],
    summary="Edit a message",
)
def message_edit(request: HttpRequest, message_id: MessageIdPath, payload: MessageEditIn) -> dict:
    """My own messages only, not in archived rooms (403); the room sees `message_edited`."""
    message = services.message_edit(user=request.auth, message_id=message_id, body=payload.body)
    return selectors.message_payload(message)


@router.delete(
    "/messages/{message_id}",
    response={204: None, **errors(403, 404)},
    tags=["messages"],
    summary="Delete a message",
)
def message_delete(request: HttpRequest, message_id: MessageIdPath) -> Status:
    """The author, or the room's owner, moderators and staff; the room sees
    `message_deleted`. Deleted and invisible messages are a 404."""
    services.message_delete(user=request.auth, message_id=message_id)
    return Status(204, None)


EmojiPath = Annotated[
    str, Path(max_length=32, description="The emoji (URL-encoded) or :short_name:.")
]


@router.post(
    "/messages/{message_id}/reactions",
    response={200: MessageOut, **errors(403, 404, 429)},
    tags=["messages"],
    summary="React",
)
def reaction_add(request: HttpRequest, message_id: MessageIdPath, payload: ReactionIn) -> dict:
    """Add my reaction (idempotent); the room sees `reaction`. Members only; at most
    `CHAT_MAX_REACTIONS_PER_MESSAGE` different emoji per message (422 beyond)."""
    message = reactions.reaction_set(
        user=request.auth, message_id=message_id, emoji=payload.emoji, on=True
    )
    return selectors.message_payload(message)


@router.delete(
    "/messages/{message_id}/reactions/{emoji}",
    response={200: MessageOut, **errors(403, 404, 429)},
    tags=["messages"],
    summary="Remove my reaction",
)
def reaction_remove(request: HttpRequest, message_id: MessageIdPath, emoji: EmojiPath) -> dict:
    message = reactions.reaction_set(
        user=request.auth, message_id=message_id, emoji=emoji, on=False
    )
    return selectors.message_payload(message)


@router.put(
    "/messages/{message_id}/pin",
    response={200: MessageOut, **errors(403, 404, 429)},
    tags=["messages"],
    summary="Pin",
)
def pin_add(request: HttpRequest, message_id: MessageIdPath) -> dict:
    """Members pin (idempotent), not in archived rooms; the room sees `message_pinned`."""
    message = reactions.pin_set(user=request.auth, message_id=message_id, on=True)
    return selectors.message_payload(message)


@router.delete(
    "/messages/{message_id}/pin",
    response={200: MessageOut, **errors(403, 404, 429)},
    tags=["messages"],
    summary="Unpin",
)
def pin_remove(request: HttpRequest, message_id: MessageIdPath) -> dict:
    message = reactions.pin_set(user=request.auth, message_id=message_id, on=False)
    return selectors.message_payload(message)


# Direct rooms
# ------------------------------------------------------------------------------


@router.post(
    "/dms",
    response={200: RoomOut, 201: RoomOut, **errors(403, 404, 429)},
    tags=["rooms"],
    summary="Open a direct room",
)
def direct_room_open(request: HttpRequest, payload: UsernameIn) -> Status:
    """The one direct room with that user: 201 when this created it, else 200.

    Creating one is rate limited (429, CHAT_RATE_LIMIT_DMS_PER_MINUTE); opening an
    existing one is free. Either of us in CHAT_MAX_ROOMS_PER_USER rooms already is a 403.
    """
    room, created = services.direct_room_open(user=request.auth, username=payload.username)
    return Status(201 if created else 200, selectors.room_detail(room=room, user=request.auth))


@router.post(
    "/groups",
    response={200: RoomOut, 201: RoomOut, **errors(403, 404, 429)},
    tags=["rooms"],
    summary="Open a group conversation",
)
def group_room_open(request: HttpRequest, payload: UsernamesIn) -> Status:
    """The private room of exactly me and these people, named after us: 201 when this
    created it (everyone gets `room_added`), else 200 (the same people find the same
    room; if I had left it, I am back in it).

    422 for fewer than 2 or more than 8 others, 404 for a username nobody has; rate
    limited and capped as direct rooms are.
    """
    room, created = services.group_room_open(user=request.auth, usernames=payload.usernames)
    return Status(201 if created else 200, selectors.room_detail(room=room, user=request.auth))


# People
# ------------------------------------------------------------------------------


PEOPLE_QUERY_MAX_LENGTH = 80


class PeopleQuery(Schema):
    q: str = Field(
        min_length=1,
        max_length=PEOPLE_QUERY_MAX_LENGTH,
        description="Part of a username or display name, any case.",
    )
    after: str | None = Field(
        None,
        max_length=150,
        description="The cursor: people whose username sorts after this one (`X-Next-Cursor`).",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_PEOPLE_SEARCH_PAGE_SIZE}, "
        f"at most {settings.CHAT_PEOPLE_SEARCH_MAX_PAGE_SIZE}.",
    )


@router.get(
    "/users",
    response={200: list[UserOut], **errors(429)},
    tags=["people"],
    summary="Find people",
)
def people_search(
    request: HttpRequest, response: HttpResponse, query: Query[PeopleQuery]
) -> list[dict]:
    """Active people (not me) whose username or display name contains `q`, any case,
    by username: for inviting someone or starting a direct conversation.

    Each is `{username, display_name, avatar_url}`, what any member already sees;
    never an email address. More pages: `X-Next-Cursor` and `Link`, as for
    `GET /api/rooms`. Rate limited per user (429, CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE).
    """
    q = validators.text(query.q, field="q", max_length=PEOPLE_QUERY_MAX_LENGTH, strip=True)
    if query.after is not None:
        validators.string(query.after, field="after")
    if not ratelimit.take_token(request.auth.pk, "people_search"):
        raise ClientError("rate_limited", "You are searching too fast; wait a moment.")
    people, cursor = people_selectors.people_search(
        viewer=request.auth, q=q, after=query.after, limit=query.limit
    )
    if cursor is not None:
        params = {"q": q, "after": cursor, "limit": people_selectors.people_limit(query.limit)}
        response["X-Next-Cursor"] = cursor
        response["Link"] = f'<{request.path}?{urlencode(params)}>; rel="next"'
    return people
