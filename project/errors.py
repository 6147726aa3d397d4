"""The one error type every domain check raises, and the shape the API answers it with.

A leaf: accounts, chat, search and files all raise ``ClientError``; the socket
turns it into an ``error`` frame, the API (project/api.py) into ``{detail, code}``
with the status below.
"""

from typing import Literal

from ninja import Field, Schema

ErrorCode = Literal[
    "bad_frame",
    "unknown_type",
    "not_found",
    "forbidden",
    "invalid",
    "conflict",
    "too_long",
    "rate_limited",
    "cursor_expired",
]

HTTP_STATUS: dict[str, int] = {
    "bad_frame": 400,
    "unknown_type": 400,
    "invalid": 422,
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "too_long": 413,
    "rate_limited": 429,
    "cursor_expired": 410,
}


class ClientError(Exception):
    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


class ErrorOut(Schema):
    detail: str = Field(description="What went wrong, for people.")
    code: str | None = Field(
        None, description="For programs: the WebSocket protocol's error code, when there is one."
    )
    errors: list[dict] | None = Field(
        None, description="Each invalid field, for request validation errors (422)."
    )


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """Responses for an operation: the given statuses plus those any route can answer
    (503 while PostgreSQL or Redis is unreachable)."""
    return dict.fromkeys(sorted({400, 401, 413, 422, 503, *statuses}), ErrorOut)
