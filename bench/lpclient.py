"""Long-polling receivers for the load generator: ``GET /api/events`` in a loop.

A receiver is one user with an API token (``Authorization: Bearer``). It asks
once without a cursor (the current position), then polls
``/api/events?cursor=…&timeout=25`` again the moment an answer arrives, with
the answer's cursor; ``alternate`` sends every other poll to the other replica,
so the cursor crosses replicas on every poll. The client is a small HTTP/1.1
keep-alive client on ``asyncio.Protocol`` (one connection per replica), for
the same reason the WebSocket client is one: the load generator shares the 2
cores with the servers. A response's arrival time is taken where its last
byte is parsed, as a WebSocket frame's is.

Errors the protocol defines are handled as a client must (410: poll again
without a cursor; 429 and 503: pause; 401: stop) and counted, never hidden:
a resync here fetches no state, so anything it skips shows up as lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import quote

POLL_TIMEOUT = 25  # seconds the server may hold a poll (the protocol's default)
CLIENT_TIMEOUT = POLL_TIMEOUT + 15.0  # the client gives a held poll up after this
REQUEST_TIMEOUT = 30.0  # a poll that must answer at once (no cursor)


class LongPollRefused(Exception):
    """The first poll got no cursor (no such route, not logged in): not worth retrying."""


# --------------------------------------------------------------------------
# A minimal HTTP/1.1 keep-alive client
# --------------------------------------------------------------------------


class HTTPConn(asyncio.Protocol):
    """One keep-alive connection, one request at a time; Content-Length, chunked or
    read-until-close bodies."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.used = False  # a response came back on it (a stale keep-alive may be closed)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.length: int | None = None
        self.chunked = False
        self.body = bytearray()

    # -- asyncio.Protocol ------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            self.status = int(lines[0].split(" ", 2)[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            self.head_done = True
            self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            if "content-length" in self.headers:
                self.length = int(self.headers["content-length"])
            elif self.status in (204, 304):
                self.length = 0
        if self.chunked:
            self._read_chunks()
        elif self.length is not None and len(self.buf) >= self.length:
            self.body = self.buf[: self.length]
            del self.buf[: self.length]
            self._done()

    def _read_chunks(self) -> None:
        while True:
            end = self.buf.find(b"\r\n")
            if end < 0:
                return
            size = int(bytes(self.buf[:end]).split(b";")[0], 16)
            if size == 0:  # last chunk; no trailers expected
                if len(self.buf) < end + 4:
                    return
                del self.buf[: end + 4]
                self._done()
                return
            if len(self.buf) < end + 2 + size + 2:
                return
            self.body += self.buf[end + 2 : end + 2 + size]
            del self.buf[: end + 2 + size + 2]

    def _done(self) -> None:
        now = time.monotonic()
        self.used = True
        waiter, self.waiter = self.waiter, None
        result = (self.status, self.headers, bytes(self.body), now)
        if self.headers.get("connection", "").lower() == "close":
            self.closed = True
            self.transport.close()
        self._reset()
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def connection_lost(self, exc) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if self.head_done and self.length is None and not self.chunked:  # read until close
            self.body = self.buf
            waiter.set_result((self.status, self.headers, bytes(self.body), time.monotonic()))
        else:
            waiter.set_exception(ConnectionError(exc or "connection closed"))

    # -- requests ----------------------------------------------------------
    async def request(self, raw: bytes, timeout: float) -> tuple[int, dict, bytes, float]:
        """Send one request; (status, headers, body, arrival time of its last byte)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        try:
            return await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            self.close()  # a late answer must not be read as the next request's
            raise

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HTTPClient:
    """Requests to one server over a keep-alive connection, reopened when it drops."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: HTTPConn | None = None

    async def get(self, target: str, headers: dict[str, str], timeout: float):
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        for _ in range(2):
            if self.conn is None or self.conn.closed:
                loop = asyncio.get_running_loop()
                _, self.conn = await loop.create_connection(HTTPConn, "127.0.0.1", self.port)
            reused = self.conn.used
            try:
                return await self.conn.request(raw, timeout)
            except ConnectionError:
                self.conn = None
                if not reused:  # a fresh connection failed: a real error
                    raise
        raise ConnectionError("connection closed twice")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------
# The receiver
# --------------------------------------------------------------------------


class LongPoller:
    """One long-polling receiver. ``on_events(poller, frames, arrival)`` gets every
    answer's frames; ``on_error(poller, code)`` every failed poll."""

    kind = "lp"
    mute = False

    def __init__(
        self,
        ports: list[int],
        start: int,
        token: str,
        on_events: Callable,
        on_error: Callable,
        *,
        alternate: bool = False,
    ) -> None:
        self.http = [HTTPClient(p) for p in ports]
        self.n = start  # index of the next poll's replica
        self.alternate = alternate
        # As behind the TLS-terminating proxy production runs behind (else the product,
        # with DEBUG off, redirects plain HTTP to https).
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "X-Forwarded-Proto": "https",
        }
        self.on_events = on_events
        self.on_error = on_error
        self.cursor: str | None = None
        self.seen: set[int] = set()  # message ids delivered (deliveries dedupe by id)
        self.last_seq: dict[str, int] = {}  # per room: the highest message seq seen
        self.polls = 0  # answered polls
        self.polls_by_port = dict.fromkeys(ports, 0)
        self.port = ports[start]  # the replica of the poll in flight
        self.empty_polls = 0
        self.task: asyncio.Task | None = None
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    async def _poll(self) -> tuple[int, dict, bytes, float]:
        client = self.http[self.n % len(self.http)]
        self.port = client.port
        if self.alternate:
            self.n += 1
        if self.cursor is None:
            return await client.get("/api/events", self.headers, REQUEST_TIMEOUT)
        target = f"/api/events?cursor={quote(self.cursor, safe='')}&timeout={POLL_TIMEOUT}"
        return await client.get(target, self.headers, CLIENT_TIMEOUT)

    async def start(self) -> None:
        """The first poll, without a cursor: the position deliveries count from."""
        status, _, body, _ = await self._poll()
        if status != 200:
            raise LongPollRefused(f"GET /api/events: {status} {body[:200]!r}")
        self.cursor = json.loads(body)["cursor"]
        self.task = asyncio.create_task(self._loop())
        self.task.add_done_callback(self._ended)

    async def _loop(self) -> None:
        while True:
            try:
                status, headers, body, arrival = await self._poll()
            except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
                self.on_error(self, "poll_timeout" if isinstance(exc, TimeoutError) else "poll_io")
                await asyncio.sleep(0.2)
                continue
            if status == 200:
                data = json.loads(body)
                self.cursor = data["cursor"]
                self.polls += 1
                self.polls_by_port[self.port] += 1
                if data["events"]:
                    self.on_events(self, data["events"], arrival)
                else:
                    self.empty_polls += 1
                continue
            code = _error_code(status, body)
            self.on_error(self, code)
            if status == 410:  # cursor_expired: resync (no state kept here) from now on
                self.cursor = None
            elif status == 401:
                return
            elif status in (429, 503):
                await asyncio.sleep(float(headers.get("retry-after", 1) or 1))
            else:
                await asyncio.sleep(0.5)

    def _ended(self, task: asyncio.Task) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        for client in self.http:
            client.close()
        if self.task is None and not self.closed.done():
            self.closed.set_result(None)


def _error_code(status: int, body: bytes) -> str:
    """``http_<status>_<code>`` from the API's ``{detail, code}`` error body."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    return f"http_{status}" + (f"_{code}" if code else "")


def frame_messages(frame: dict) -> list[dict]:
    """The message objects a frame delivers: a ``message``'s, or a ``synced``'s live
    changes (tombstones are not deliveries)."""
    kind = frame.get("type")
    if kind == "message":
        return [frame["message"]]
    if kind == "synced":
        return [c for c in frame.get("changes", ()) if not c.get("deleted")]
    return []
