"""The one error type every domain check raises; consumers and the API translate it."""

from typing import Literal

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
