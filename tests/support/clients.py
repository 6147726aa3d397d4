"""A WebSocket chat client that behaves like the browser's: it never loses a message.

``ChatClient`` keeps one socket open to one of several URLs (replicas, or a
load balancer), reconnects with a short backoff when it drops (moving on to
the next URL, as a load balancer would), and after every (re)connect asks
``history after=<last id held>`` for every room until nothing is newer. It
keeps messages by id, so live frames that race with a catch-up page are
harmless, and a send is retried with the same ``client_id`` until the server
acknowledges it. Tests then compare what each client holds with the database.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import socket as sockets
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import websockets

log = logging.getLogger(__name__)

# Errors after which the same send is simply tried again (same client_id).
RETRYABLE_ERRORS = {"rate_limited", "unavailable"}


class Disconnected(Exception):
    """The socket closed while a request was waiting for its reply."""


@dataclass
class ChatClient:
    urls: list[str]
    headers: dict[str, str]
    name: str = "client"
    reconnect: bool = True
    request_timeout: float = 10.0
    # A small kernel receive buffer, so that a client that stops reading backs up
    # the server quickly (see stop_reading).
    rcvbuf: int | None = None
    # room slug -> message id -> message, everything this client holds
    rooms: dict[str, dict[int, dict]] = field(default_factory=dict)
    # frames received on every socket, in order (diagnostics and assertions)
    frames: list[dict] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    connects: int = 0
    failed_attempts: int = 0

    def __post_init__(self) -> None:
        self._url_cycle = itertools.cycle(self.urls)
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._refs = itertools.count(1)
        self._ready = asyncio.Event()
        self._closing = False
        self._live_listeners: list[asyncio.Queue] = []
        self._reading = asyncio.Event()
        self._reading.set()

    # Lifecycle
    # --------------------------------------------------------------------------

    async def start(self) -> "ChatClient":
        """Connect (retrying) and catch up; then keep the connection up in the background."""
        await self._connect_until_up()
        if self.reconnect:
            self._keeper = asyncio.create_task(self._keep_connected())
        return self

    async def close(self) -> None:
        self._closing = True
        for task in (self._keeper, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()

    @property
    def is_open(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _connect_until_up(self) -> None:
        delay = 0.1
        while not self._closing:
            url = next(self._url_cycle)
            try:
                await self._open(url)
                return
            except Exception as error:  # refused, reset, timed out: try the next URL
                self.failed_attempts += 1
                log.info("%s: connect to %s failed: %r", self.name, url, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _open(self, url: str) -> None:
        socket = await websockets.connect(
            url,
            additional_headers=self.headers,
            open_timeout=5,
            max_size=8 * 2**20,
            sock=self._tcp(url) if self.rcvbuf else None,
            max_queue=2 if self.rcvbuf else 16,
        )
        try:
            hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if hello.get("type") != "hello":
                raise Disconnected(f"expected hello, got {hello}")
        except BaseException:
            await socket.close()
            raise
        self.frames.append(hello)
        for room in hello["rooms"]:
            self.rooms.setdefault(room["slug"], {})
        self._socket = socket
        self.connects += 1
        self._reader = asyncio.create_task(self._read(socket))
        try:
            await self.catch_up()
        except Exception:
            await socket.close()
            raise
        self._ready.set()

    def _tcp(self, url: str) -> sockets.socket:
        """A connected TCP socket whose receive buffer is set before the handshake."""
        parsed = urlparse(url)
        tcp = sockets.socket()
        tcp.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, self.rcvbuf)
        tcp.connect((parsed.hostname, parsed.port))
        return tcp

    def stop_reading(self) -> None:
        """Take no more frames off the socket, like a frozen client: the server backs up."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    async def _keep_connected(self) -> None:
        while not self._closing:
            await self._reader
            self._ready.clear()
            if self._closing:
                return
            await asyncio.sleep(0.1)
            await self._connect_until_up()

    async def _read(self, socket) -> None:
        try:
            async for raw in socket:
                await self._reading.wait()
                frame = json.loads(raw)
                self.frames.append(frame)
                self._on_frame(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_codes.append(socket.close_code)
            self._ready.clear()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(Disconnected(f"closed with {socket.close_code}"))
            self._pending.clear()

    def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind in ("message", "message_edited"):
            self._hold(frame["message"])
            for queue in self._live_listeners:
                queue.put_nowait(frame["message"])
        elif kind in ("history", "joined"):
            for message in frame.get("messages", []):
                self._hold(message)
        elif kind == "room_added":
            self.rooms.setdefault(frame["room"]["slug"], {})
        ref = frame.get("ref")
        if ref in self._pending and not self._pending[ref].done():
            self._pending.pop(ref).set_result(frame)

    def _hold(self, message: dict) -> None:
        self.rooms.setdefault(message["room"], {})[message["id"]] = message

    # Requests
    # --------------------------------------------------------------------------

    async def request(self, frame: dict) -> dict:
        """Send a frame and return its reply (an error frame is returned, not raised)."""
        socket = self._socket
        if socket is None:
            raise Disconnected("not connected")
        ref = f"{self.name}-{next(self._refs)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await socket.send(json.dumps({**frame, "ref": ref}))
        except websockets.ConnectionClosed as error:
            self._pending.pop(ref, None)
            raise Disconnected(str(error)) from error
        try:
            return await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            self._pending.pop(ref, None)
            raise

    async def catch_up(self, rooms: Iterable[str] | None = None) -> None:
        """Ask every room for what is newer than the last message held, page by page."""
        for slug in list(rooms or self.rooms):
            while True:
                after = max(self.rooms.get(slug) or {0: None})
                reply = await self.request(
                    {"type": "history", "room": slug, "after": after, "limit": 100}
                )
                if reply["type"] == "error":
                    raise AssertionError(f"{self.name}: history of {slug} failed: {reply}")
                if not reply["has_more"] or not reply["messages"]:
                    break

    async def send(self, room: str, body: str, client_id: str, *, patience: float = 60) -> dict:
        """Post until acknowledged, as the browser's outbox does: same client_id every try."""
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            try:
                await self.wait_ready(
                    timeout=max(0.1, deadline - asyncio.get_running_loop().time())
                )
                reply = await self.request(
                    {"type": "send", "room": room, "body": body, "client_id": client_id}
                )
            except (Disconnected, TimeoutError):
                reply = None
            if reply is not None and reply["type"] == "message":
                return reply["message"]
            if reply is not None and reply.get("code") not in RETRYABLE_ERRORS:
                raise AssertionError(f"{self.name}: send {client_id} refused: {reply}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.name}: send {client_id} never acknowledged")
            await asyncio.sleep(0.2)

    def live(self) -> asyncio.Queue:
        """A queue of every message this client receives live from now on."""
        queue: asyncio.Queue = asyncio.Queue()
        self._live_listeners.append(queue)
        return queue

    def held(self, room: str) -> list[dict]:
        """The room as this client shows it: every message once, in id order."""
        return [message for _, message in sorted(self.rooms.get(room, {}).items())]


async def start_clients(count: int, urls: list[str], tokens: list[str]) -> list[ChatClient]:
    """One connected, caught-up client per token, spread over the URLs."""
    clients = []
    for index, token in enumerate(tokens[:count]):
        rotated = urls[index % len(urls) :] + urls[: index % len(urls)]
        client = ChatClient(
            urls=rotated, headers={"Authorization": f"Bearer {token}"}, name=f"c{index}"
        )
        clients.append(await client.start())
    return clients


def stored_messages(room: str) -> list[tuple[int, str, str]]:
    """(id, author, client_id) of every live message of the room, in id order (sync)."""
    from chat.models import Message

    return list(
        Message.objects.filter(room__slug=room, deleted=False)
        .order_by("id")
        .values_list("id", "author__username", "client_id")
    )


def assert_everyone_holds_everything(
    clients: list[ChatClient], room: str, stored: list[tuple[int, str, str]], sent: set[str]
) -> None:
    """Every acknowledged send is stored once, and every client holds exactly what is stored."""
    client_ids = [client_id for _, _, client_id in stored]
    assert len(client_ids) == len(set(client_ids)), "a retried send was stored twice"
    missing = sent - set(client_ids)
    assert not missing, f"acknowledged sends missing from the database: {sorted(missing)}"
    stored_ids = [message_id for message_id, _, _ in stored]
    for client in clients:
        held_ids = [message["id"] for message in client.held(room)]
        assert held_ids == stored_ids, (
            f"{client.name} holds {len(held_ids)} messages, {len(stored_ids)} are stored; "
            f"missing {sorted(set(stored_ids) - set(held_ids))[:10]}, "
            f"extra {sorted(set(held_ids) - set(stored_ids))[:10]}"
        )


async def converse(
    clients: list[ChatClient], room: str, *, rounds: int, pause: float, tag: str = "m"
) -> set[str]:
    """Every client posts `rounds` messages, `pause` seconds apart; returns the client_ids."""

    async def talk(client: ChatClient) -> set[str]:
        sent = set()
        for n in range(rounds):
            client_id = f"{tag}-{client.name}-{n}"
            await client.send(room, f"{client.name} says {n}", client_id)
            sent.add(client_id)
            await asyncio.sleep(pause)
        return sent

    results = await asyncio.gather(*(talk(client) for client in clients))
    return set().union(*results)


async def settle(clients: list[ChatClient], timeout: float = 30) -> None:
    """Wait until every client is connected again and has caught up once more."""
    deadline = asyncio.get_running_loop().time() + timeout
    for client in clients:
        while True:
            try:
                await client.wait_ready(max(0.1, deadline - asyncio.get_running_loop().time()))
                await client.catch_up()
                break
            except Disconnected:  # the socket it was using has just gone: on the next one
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)
