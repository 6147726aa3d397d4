"""The chat part of the HTTP API: rooms, members, messages, long polling, direct rooms.

Views validate input, call one service or selector, and shape the output; the
WebSocket consumer calls the same functions, so a message posted here is
validated, rate limited, deduplicated and fanned out exactly like one sent
over a socket. Rooms a user may not see answer 404, like missing ones.
"""

from typing import Annotated, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status

from accounts.api import UserOut, errors
from chat import longpoll, presence, selectors, services

MESSAGE_ID_MAX = 2**63 - 1  # the database's bigint ids
# Rooms a user may not see answer 404, like rooms that do not exist.
RoomSlug = Annotated[str, Path(description="The room's slug.", example="general")]

router = Router()

# Schemas
# ------------------------------------------------------------------------------

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class RoomOut(Schema):
    slug: str
    name: str = Field(description="For a direct room, the other person's name.")
    kind: Literal["public", "private", "direct"]
    topic: str
    archived: bool = Field(description="Archived rooms are read-only.")
    is_member: bool
    unread: int = Field(description="Messages by others after my read mark.")
    last_message_id: int
    peer: str | None = Field(None, description="For a direct room, the other person's username.")


class RoomIn(Schema):
    name: str = Field(max_length=100)
    slug: str = Field(pattern=r"^[a-z0-9-]{1,50}$", description="Not starting with 'dm-'.")
    kind: Literal["public", "private"] = "public"
    topic: str = Field("", max_length=250)


class MemberOut(UserOut):
    role: Literal["owner", "moderator", "member"]
    online: bool = Field(description="Connected on any replica.")


class UsernameIn(Schema):
    username: str


class MessageOut(Schema):
    id: int = Field(description="Monotonic per room: the cursor every page and poll uses.")
    room: str
    author: UserOut
    body: str = Field(description="What the author typed (Markdown).")
    html: str = Field(description="The body rendered and sanitised: safe to insert.")
    created_at: DateTime
    edited_at: DateTime | None
    client_id: str | None


class MessageIn(Schema):
    body: str = Field(
        description=f"Markdown, not blank, at most {settings.CHAT_MESSAGE_MAX_LENGTH} "
        "characters (longer is a 413)."
    )
    client_id: str | None = Field(
        None,
        description=f"Up to {services.CLIENT_ID_MAX_LENGTH} characters, unique per author: "
        "a retry with the same client_id returns the first message (200) instead of "
        "posting again.",
    )


class MessagesPage(Schema):
    messages: list[MessageOut] = Field(description="Ascending by id.")
    has_more: bool = Field(description="More messages lie beyond this page.")


class PollOut(MessagesPage):
    cursor: int = Field(description="Pass this as `after` in the next poll.")


MessageId = Annotated[int, Field(ge=0, le=MESSAGE_ID_MAX)]


class PageQuery(Schema):
    before: MessageId | None = Field(None, description="Messages older than this id.")
    after: MessageId | None = Field(None, description="Messages newer than this id.")
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_HISTORY_PAGE_SIZE}, "
        f"at most {settings.CHAT_HISTORY_MAX_PAGE_SIZE}.",
    )


class PollQuery(Schema):
    after: MessageId | None = Field(
        None, description="The last message id the client has; omitted: the newest."
    )
    timeout: float = Field(
        longpoll.POLL_DEFAULT_TIMEOUT_SECS,
        ge=0,
        le=longpoll.POLL_MAX_TIMEOUT_SECS,
        description="Seconds to wait when there is nothing newer yet.",
    )


# Rooms and members
# ------------------------------------------------------------------------------


@router.get(
    "/rooms", response={200: list[RoomOut], **errors()}, tags=["rooms"], summary="Rooms I can see"
)
def room_list(request: HttpRequest) -> list[dict]:
    """Public rooms, and the private and direct rooms I belong to."""
    return selectors.visible_rooms(user=request.auth)


@router.post(
    "/rooms", response={201: RoomOut, **errors(409)}, tags=["rooms"], summary="Create a room"
)
def room_create(request: HttpRequest, payload: RoomIn) -> Status:
    """I become its owner. A slug already in use is a 409."""
    room = services.room_create(creator=request.auth, **payload.dict())
    return Status(201, selectors.room_detail(room=room, user=request.auth))


@router.get(
    "/rooms/{slug}", response={200: RoomOut, **errors(404)}, tags=["rooms"], summary="One room"
)
def room_get(request: HttpRequest, slug: RoomSlug) -> dict:
    room = selectors.room_for_user(user=request.auth, slug=slug)
    return selectors.room_detail(room=room, user=request.auth)


@router.post(
    "/rooms/{slug}/join",
    response={200: RoomOut, **errors(404)},
    tags=["rooms"],
    summary="Join a public room",
)
def room_join(request: HttpRequest, slug: RoomSlug) -> dict:
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
    response={200: MemberOut, **errors(403, 404)},
    tags=["rooms"],
    summary="Invite someone",
)
def member_invite(request: HttpRequest, slug: RoomSlug, payload: UsernameIn) -> dict:
    """Private rooms: owners and moderators. Public rooms: any member.

    Answers the member; inviting someone who is already in is not an error.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    membership = services.room_invite(by=request.auth, room=room, username=payload.username)
    return selectors.member_payload(membership, presence.backend().online([membership.user_id]))


# Messages
# ------------------------------------------------------------------------------


@router.get(
    "/rooms/{slug}/messages",
    response={200: MessagesPage, **errors(404)},
    tags=["messages"],
    summary="History",
)
def message_list(request: HttpRequest, slug: RoomSlug, query: Query[PageQuery]) -> dict:
    """A page ascending by id: the newest, or `before` an id, or `after` an id."""
    room = selectors.room_for_user(user=request.auth, slug=slug)
    messages, has_more = selectors.messages_page(
        room=room, before=query.before, after=query.after, limit=query.limit
    )
    return {"messages": [selectors.message_payload(m) for m in messages], "has_more": has_more}


@router.post(
    "/rooms/{slug}/messages",
    response={200: MessageOut, 201: MessageOut, **errors(403, 404, 429)},
    tags=["messages"],
    summary="Post a message",
)
def message_post(request: HttpRequest, slug: RoomSlug, payload: MessageIn) -> Status:
    """Stored, then delivered live to the room's members on every replica.

    201 when stored; 200 with the first message when its client_id was
    already used (a retry). Too long is a 413, too fast a 429.
    """
    room = selectors.room_for_user(user=request.auth, slug=slug)
    message, created = services.message_post(
        user=request.auth, room=room, body=payload.body, client_id=payload.client_id
    )
    return Status(201 if created else 200, selectors.message_payload(message))


@router.get(
    "/rooms/{slug}/poll",
    response={200: PollOut, **errors(404)},
    tags=["messages"],
    summary="Long poll",
)
async def message_poll(request: HttpRequest, slug: RoomSlug, query: Query[PollQuery]) -> dict:
    """Messages after `after`, at once if there are some; otherwise the next ones,
    from any replica, as soon as they are posted, or none when `timeout` passes.

    Poll again with the returned `cursor`: no message is ever skipped or repeated.
    Only new messages are delivered here; edits and deletions are not.
    """
    page = await longpoll.poll(
        user=request.auth, slug=slug, after=query.after, timeout=query.timeout
    )
    return page.as_payload()


# Direct rooms
# ------------------------------------------------------------------------------


@router.post(
    "/dms",
    response={200: RoomOut, 201: RoomOut, **errors(404)},
    tags=["rooms"],
    summary="Open a direct room",
)
def direct_room_open(request: HttpRequest, payload: UsernameIn) -> Status:
    """The one direct room with that user: 201 when this created it, else 200."""
    room, created = services.direct_room_open(user=request.auth, username=payload.username)
    return Status(201 if created else 200, selectors.room_detail(room=room, user=request.auth))
