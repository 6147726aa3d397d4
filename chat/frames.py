"""Every frame the server sends a client, and every object in them, typed once.

The WebSocket (docs/protocol.md) and GET /api/events send these frames; the HTTP
API (chat/api.py) answers with the same object classes, so a message, a room or a
member has one definition. The published JSON Schema (docs/ws-schema.json, served
at /api/ws-schema.json) is generated from ``ServerFrame`` by chat/ws_schema.py.

The payloads themselves are still built as dicts (chat/selectors.py,
chat/events.py, realtime/consumers.py, realtime/sockets.py) and encoded once per event;
tests/consumer/test_frames_validate.py checks with ``frame_validate`` that each
frame the server sends validates here, so a field the schema does not list cannot
slip out.
"""

from collections.abc import Iterator
from functools import reduce
from operator import or_
from typing import Annotated, Literal

from django.conf import settings
from ninja import Field, Schema

from accounts.api import UserOut
from files.schemas import AttachmentOut
from project.errors import ErrorCode

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Notify = Literal["all", "mentions", "none"]
Role = Literal["owner", "moderator", "member"]
Ref = Annotated[
    str | None,
    Field(max_length=100, description="The `ref` of the client frame this answers, if it had one."),
]

# Objects
# ------------------------------------------------------------------------------


class ReactionOut(Schema):
    emoji: str = Field(description="One Unicode emoji or a :short_name:.")
    count: int
    users: list[str] = Field(
        description=f"The first {settings.CHAT_REACTION_USERS_SHOWN} who reacted, in order."
    )


class MessageOut(Schema):
    id: int = Field(description="Monotonic per room: the cursor every page and poll uses.")
    room: str
    author: UserOut
    body: str = Field(description="What the author typed (Markdown).")
    html: str = Field(description="The body rendered and sanitised: safe to insert.")
    created_at: DateTime
    edited_at: DateTime | None
    client_id: str | None
    seq: int = Field(description="The room seq of this message's last change.")
    thread: int | None = Field(description="The thread root's id for a reply; null for a root.")
    reply_count: int = Field(description="A root's live replies.")
    last_reply_at: DateTime | None
    reactions: list[ReactionOut] = Field(description="Per emoji, in order of first use.")
    pinned: bool
    mentions: list[str] = Field(
        description="Members mentioned by username, and `room` or `here` if used."
    )
    attachments: list[AttachmentOut] = Field(
        description="Files posted with the message, in the order given (docs/files.md)."
    )


class TombstoneOut(Schema):
    id: int
    room: str
    deleted: Literal[True]
    seq: int
    thread: int | None


class RoomInfoOut(Schema):
    """The room object of `hello`, `joined.info` and `room_added`."""

    slug: str
    name: str = Field(description="For a direct room, the other person's name.")
    kind: Literal["public", "private", "direct"]
    topic: str
    archived: bool = Field(description="Archived rooms are read-only.")
    unread: int = Field(description="Messages by others after my read mark.")
    mentions: int = Field(description="Unread messages that mention me (by name, @room, @here).")
    notify: Notify = Field(
        description="What the room tells me about: direct rooms default to all, others to "
        "mentions; none mutes it."
    )
    last_message_id: int
    seq: int = Field(description="The room's change cursor: pass it as `since` to …/changes.")
    peer: str | None = Field(None, description="For a direct room, the other person's username.")


# The HTTP API's room (GET /api/rooms and the room routes): whether I am a member, too.
# No docstring: it would become the OpenAPI schema's description.
class RoomOut(RoomInfoOut):
    is_member: bool


class MemberOut(UserOut):
    role: Role
    online: bool = Field(description="Connected on any replica.")


class HelloUserOut(UserOut):
    """The socket's own user."""

    is_staff: bool


# Frames
# ------------------------------------------------------------------------------


class HelloFrame(Schema):
    """Right after the upgrade: who I am and my rooms."""

    type: Literal["hello"]
    user: HelloUserOut
    rooms: list[RoomInfoOut]


class JoinedFrame(Schema):
    """The reply to `join` and `dm`: the room, its latest page and its members."""

    type: Literal["joined"]
    room: str
    info: RoomInfoOut = Field(description="Its `seq` was read before the page.")
    messages: list[MessageOut] = Field(description="The latest page of roots, ascending.")
    has_more: bool
    members: list[MemberOut]
    ref: Ref = None


class LeftFrame(Schema):
    """The reply to `leave`."""

    type: Literal["left"]
    room: str
    ref: Ref = None


class MessageFrame(Schema):
    """A new message (a root, or a reply with `message.thread`); the sender's copy has its ref."""

    type: Literal["message"]
    message: MessageOut
    seq: int
    ref: Ref = None


class MessageEditedFrame(Schema):
    type: Literal["message_edited"]
    message: MessageOut
    seq: int


class MessageDeletedFrame(Schema):
    type: Literal["message_deleted"]
    room: str
    id: int
    seq: int
    thread: int | None = Field(description="The root's id if the message was a reply.")


class ThreadUpdatedFrame(Schema):
    """A reply to the root `id` was posted or deleted (its own seq, right after the reply's)."""

    type: Literal["thread_updated"]
    room: str
    id: int
    reply_count: int
    last_reply_at: DateTime | None
    seq: int


class ReactionFrame(Schema):
    type: Literal["reaction"]
    room: str
    id: int
    emoji: str
    user: str = Field(description="The username of who reacted.")
    on: bool = Field(description="Added (true) or removed (false).")
    seq: int


class MessagePinnedFrame(Schema):
    type: Literal["message_pinned"]
    room: str
    id: int
    pinned: bool
    by: str = Field(description="The username of who pinned or unpinned it.")
    seq: int


class HistoryFrame(Schema):
    """The reply to `history`."""

    type: Literal["history"]
    room: str
    messages: list[MessageOut] = Field(description="Ascending by id.")
    has_more: bool = Field(description="Older messages exist (with `after`: newer ones).")
    thread: int | None = Field(None, description="A thread page: the root's id.")
    root: MessageOut | None = Field(None, description="A thread page: the root.")
    has_newer: bool | None = Field(None, description="With `around`: newer messages exist.")
    focus: int | None = Field(None, description="With `around`: the id the page is centred on.")
    ref: Ref = None


class ChangesOut(Schema):
    """A page of the change cursor: `GET …/changes`, and inside `synced`."""

    room: str
    changes: list[MessageOut | TombstoneOut] = Field(
        description="Every message changed after `since`, once each, in seq order, as it is "
        "now; deleted ones as tombstones."
    )
    seq: int = Field(description="Pass this as `since` next (with has_more, at once).")
    has_more: bool


class SyncedFrame(ChangesOut):
    """The reply to `sync` (and a room catching up in GET /api/events)."""

    type: Literal["synced"]
    ref: Ref = None


class RoomNotifyFrame(Schema):
    """I changed a room's notification setting: my other tabs follow."""

    type: Literal["room_notify"]
    room: str
    notify: Notify


class TypingFrame(Schema):
    type: Literal["typing"]
    room: str
    user: UserOut


class PresenceFrame(Schema):
    """A member's first socket opened, or their last one closed or expired."""

    type: Literal["presence"]
    room: str
    user: str = Field(description="The member's username.")
    online: bool


class MemberJoinedFrame(Schema):
    type: Literal["member_joined"]
    room: str
    user: MemberOut


class MemberLeftFrame(Schema):
    type: Literal["member_left"]
    room: str
    user: UserOut


class RoomAddedFrame(Schema):
    """I am in a new room; the socket has already subscribed to it."""

    type: Literal["room_added"]
    room: RoomInfoOut


class RoomRemovedFrame(Schema):
    """I left or was removed; the socket has already unsubscribed."""

    type: Literal["room_removed"]
    room: str = Field(description="The room's slug.")


class RoomUpdatedFrame(Schema):
    """A room was renamed, its topic changed, or it was archived or reopened."""

    type: Literal["room_updated"]
    room: str
    name: str
    topic: str
    archived: bool


class MemberUpdatedFrame(Schema):
    """A member's role changed."""

    type: Literal["member_updated"]
    room: str
    user: MemberOut
    role: Role


class UserUpdatedFrame(Schema):
    """Someone in the room changed their display name or avatar (one per shared room)."""

    type: Literal["user_updated"]
    room: str
    user: UserOut


class ReadFrame(Schema):
    """My read mark moved (on every one of my sockets)."""

    type: Literal["read"]
    room: str
    message_id: int
    unread: int
    mentions: int


class ErrorFrame(Schema):
    """A client frame was refused; the socket stays open."""

    type: Literal["error"]
    code: ErrorCode
    detail: str = Field(description="What went wrong, for people.")
    ref: Ref = None


class PongFrame(Schema):
    """The reply to `ping`."""

    type: Literal["pong"]
    ref: Ref = None


FRAMES: tuple[type[Schema], ...] = (
    HelloFrame,
    JoinedFrame,
    LeftFrame,
    MessageFrame,
    MessageEditedFrame,
    MessageDeletedFrame,
    ThreadUpdatedFrame,
    ReactionFrame,
    MessagePinnedFrame,
    HistoryFrame,
    SyncedFrame,
    RoomNotifyFrame,
    TypingFrame,
    PresenceFrame,
    MemberJoinedFrame,
    MemberLeftFrame,
    RoomAddedFrame,
    RoomRemovedFrame,
    RoomUpdatedFrame,
    MemberUpdatedFrame,
    UserUpdatedFrame,
    ReadFrame,
    ErrorFrame,
    PongFrame,
)
# The model of each frame type: {"hello": HelloFrame, ...}.
FRAME_MODELS: dict[str, type[Schema]] = {
    model.model_fields["type"].annotation.__args__[0]: model for model in FRAMES
}
# Any server frame, told apart by `type`: what the published schema describes.
ServerFrame = Annotated[reduce(or_, FRAMES), Field(discriminator="type")]


class FrameMismatch(ValueError):
    """A frame carries a field its model does not list."""


def frame_validate(frame: dict) -> Schema:
    """``frame`` as its model, refusing any value of another JSON type and any field
    the schema does not list, at any depth (for tests and tools; the server does not
    call it).

    Not pydantic's ``extra="forbid"``: ninja's Schema reads its input through
    attribute access (ninja.schema.DjangoGetter), which never sees an extra key
    unless the class itself forbids them, and the shared objects cannot: the
    OpenAPI document would change. So the parsed frame must dump back to exactly
    what was sent.
    """
    model = FRAME_MODELS.get(frame.get("type"))
    if model is None:
        raise FrameMismatch(f"no server frame has the type {frame.get('type')!r}")
    parsed = model.model_validate(frame, strict=True)
    unlisted = list(_unlisted(frame, parsed.model_dump(mode="json", exclude_unset=True)))
    if unlisted:
        raise FrameMismatch(f"{frame['type']}: not in the schema: {', '.join(unlisted)}")
    return parsed


def _unlisted(sent: object, parsed: object, path: str = "") -> Iterator[str]:
    """The paths where ``sent`` has what ``parsed`` (its model's dump) does not."""
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key, value in sent.items():
            if key in parsed:
                yield from _unlisted(value, parsed[key], f"{path}.{key}" if path else key)
            else:
                yield f"{path}.{key}" if path else key
    elif isinstance(sent, list) and isinstance(parsed, list) and len(sent) == len(parsed):
        for index, (item, parsed_item) in enumerate(zip(sent, parsed, strict=True)):
            yield from _unlisted(item, parsed_item, f"{path}[{index}]")
    elif type(sent) is not type(parsed) or sent != parsed:
        yield f"{path} (sent {sent!r}, the model reads {parsed!r})"
