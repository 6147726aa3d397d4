"""The long polls of the HTTP API, for clients without a WebSocket.

`GET /api/rooms/{slug}/poll` waits for a room's next messages,
`GET /api/events` for everything the socket would have sent; both wait on this
replica's relay (realtime/longpoll.py, realtime/event_poll.py).
"""

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import AuthenticationError

from chat.api import MessageId, MessagesPage, RoomSlug
from project.errors import errors
from realtime import event_poll, longpoll

router = Router()


def _credentials(request: HttpRequest) -> tuple[str, int | None]:
    """The session key or the token id a poll ends with (the one the request used)."""
    token_id = getattr(request, "api_token_id", None)
    session = getattr(request, "session", None) if token_id is None else None
    return getattr(session, "session_key", None) or "", token_id


class PollOut(MessagesPage):
    cursor: int = Field(description="Pass this as `after` in the next poll.")


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


class EventsQuery(Schema):
    cursor: str | None = Field(
        None,
        # A request line nginx takes by default (8 KiB); 500 rooms need about 5.5 KB.
        max_length=7000,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="The last answer's `cursor`; omitted: answer at once with the current one.",
    )
    timeout: float = Field(
        longpoll.POLL_DEFAULT_TIMEOUT_SECS,
        ge=0,
        le=longpoll.POLL_MAX_TIMEOUT_SECS,
        description="Seconds to wait when nothing happened after the cursor yet.",
    )


class EventsOut(Schema):
    events: list[dict] = Field(
        description="Frames exactly as the WebSocket sends them (docs/protocol.md)."
    )
    cursor: str = Field(description="Opaque: pass it as `cursor` in the next poll.")


@router.get(
    "/rooms/{slug}/poll",
    response={200: PollOut, **errors(404, 429)},
    tags=["messages"],
    summary="Long poll",
)
async def message_poll(request: HttpRequest, slug: RoomSlug, query: Query[PollQuery]) -> dict:
    """Messages after `after`, at once if there are some; otherwise the next ones,
    from any replica, as soon as they are posted, or none when `timeout` passes.

    Poll again with the returned `cursor`: no message is ever skipped or repeated.
    Only new messages are delivered here; edits and deletions are not. A member
    removed from the room while the poll waits gets a 404 at once; a poll whose
    session or token ends meanwhile gets a 401. At most
    `CHAT_MAX_LONG_POLLS_PER_USER` polls of one user wait at once (429 beyond).
    """
    session_key, token_id = _credentials(request)
    try:
        page = await longpoll.poll(
            user=request.auth,
            slug=slug,
            after=query.after,
            timeout=query.timeout,
            session_key=session_key,
            token_id=token_id,
        )
    except longpoll.PollEnded:
        raise AuthenticationError(message="The session or token ended.") from None
    return page.as_payload()


@router.get(
    "/events",
    response={200: EventsOut, **errors(410, 429)},
    tags=["messages"],
    summary="Long poll every room",
)
async def events_poll(request: HttpRequest, query: Query[EventsQuery]) -> HttpResponse:
    """Everything that happened in my rooms and to me after `cursor`, as the socket's
    frames: at once if anything did, else as soon as something does, on any replica,
    or no frames when `timeout` passes. For clients without a WebSocket.

    Poll again with the returned `cursor`: nothing is skipped or repeated, whichever
    replica answers. Without a cursor the answer comes at once, with no frames and
    the current cursor. A cursor that can no longer be served is a 410
    (`cursor_expired`): reload the state and poll without one. A poll whose session
    or token ends while it waits gets a 401; at most `CHAT_MAX_LONG_POLLS_PER_USER`
    polls of one user (this one and the per-room one together) wait at once (429).
    See docs/api.md, "Without WebSockets".
    """
    session_key, token_id = _credentials(request)
    try:
        answer = await event_poll.poll_events(
            user=request.auth,
            cursor_text=query.cursor,
            timeout=query.timeout,
            session_key=session_key,
            token_id=token_id,
        )
    except event_poll.PollEnded:
        raise AuthenticationError(message="The session or token ended.") from None
    return HttpResponse(answer.as_json(), content_type="application/json")
