"""GET /api/search: full-text search over the messages of the caller's rooms."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from chat import ratelimit
from chat.api import MESSAGE_ID_MAX, MessageOut
from project import validators
from project.errors import ClientError, errors
from search import selectors

router = Router()


class SearchQuery(Schema):
    q: str = Field(
        min_length=1,
        max_length=selectors.Q_MAX_LENGTH,
        description='Words, "quoted phrases" and -excluded words (all words must match).',
    )
    room: str | None = Field(
        None, max_length=50, description="Only this room (its slug); one of my rooms."
    )
    author: str | None = Field(None, max_length=150, description="Only this author's username.")
    before: int | None = Field(
        None, ge=1, le=MESSAGE_ID_MAX, description="The cursor: hits older than this message id."
    )
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Default {settings.CHAT_SEARCH_PAGE_SIZE}, "
        f"at most {settings.CHAT_SEARCH_MAX_PAGE_SIZE}.",
    )


class SearchHitOut(MessageOut):
    highlight: str = Field(
        description="The body's matching passage, HTML-escaped, hits in <mark> (no other tag)."
    )


class SearchPage(Schema):
    messages: list[SearchHitOut] = Field(description="Newest first.")
    has_more: bool = Field(description="Older hits remain: pass the last id as `before`.")


@router.get(
    "/search",
    response={200: SearchPage, **errors(404, 429)},
    tags=["search"],
    summary="Search messages",
)
def search(request: HttpRequest, query: Query[SearchQuery]) -> dict:
    """Messages matching `q` in the rooms I am a member of now, newest first.

    A room I left or was removed from, a private room I was never in and deleted
    messages never match; `room` naming any room I am not in is a 404, like a missing
    one. Rate limited per user (429, CHAT_RATE_LIMIT_SEARCH_PER_MINUTE).
    """
    for field, text in (("q", query.q), ("room", query.room), ("author", query.author)):
        if text is not None:
            validators.string(text, field=field)
    if not ratelimit.take_token(request.auth.pk, "search"):
        raise ClientError("rate_limited", "You are searching too fast; wait a moment.")
    return selectors.search(
        user=request.auth,
        q=query.q,
        room_slug=query.room,
        author=query.author,
        before=query.before,
        limit=query.limit,
    )
