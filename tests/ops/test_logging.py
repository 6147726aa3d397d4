"""Structured logs: one line per event, carrying the request or socket it belongs to."""

import asyncio
import json
import logging
import sys

import pytest

from project.logging import LineFormatter, RequestContextMiddleware, log_context


def record(msg: str = "socket opened", **extra) -> logging.LogRecord:
    return logging.getLogger("realtime.consumers").makeRecord(
        "realtime.consumers", logging.INFO, __file__, 1, msg, (), None, extra=extra
    )


def test_json_lines_carry_the_context_and_the_extra_fields():
    token = log_context.set({"socket_id": "abc123"})
    try:
        line = LineFormatter("json").format(record(user_id=7, code=1012))
    finally:
        log_context.reset(token)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["msg"] == "socket opened"
    assert fields["level"] == "info"
    assert fields["logger"] == "realtime.consumers"
    assert (fields["socket_id"], fields["user_id"], fields["code"]) == ("abc123", 7, 1012)
    assert fields["ts"].endswith("+00:00")


def test_a_traceback_stays_on_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = LineFormatter("json").format(failed)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc"]


def test_text_lines_are_key_value_pairs_quoted_where_needed():
    line = LineFormatter("text").format(record("request", path="/a b", status=200))
    assert "msg=request" in line
    assert 'path="/a b"' in line
    assert "status=200" in line


async def call_http(app, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    sent: list[dict] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": headers,
        "client": ("::1", 1),
    }

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def answer(scope, receive, send) -> None:
    logging.getLogger("chat.test").info("inside the request")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(LineFormatter("json"))
        self.lines: list[dict] = []

    def emit(self, entry: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(entry)))


@pytest.fixture
def lines():
    handler = Lines()
    loggers = [logging.getLogger("chat.test"), logging.getLogger("chat.access")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


async def test_every_request_gets_an_id_in_its_log_lines_and_its_response(lines):
    sent = await call_http(RequestContextMiddleware(answer), "/api/rooms", [])
    request_id = dict(sent[0]["headers"])[b"x-request-id"].decode()
    inside, access = lines
    assert inside["msg"] == "inside the request"
    assert inside["request_id"] == access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/rooms", 204)


async def test_the_load_balancers_request_id_is_kept_and_junk_is_replaced(lines):
    app = RequestContextMiddleware(answer)
    kept = await call_http(app, "/", [(b"x-request-id", b"0f9e8d7c6b5a")])
    assert dict(kept[0]["headers"])[b"x-request-id"] == b"0f9e8d7c6b5a"
    junk = await call_http(app, "/", [(b"x-request-id", b"<script>" * 20)])
    assert dict(junk[0]["headers"])[b"x-request-id"] != b"<script>" * 20
