"""Load generator: many WebSocket clients in one asyncio process.

Driven by ``bench/run.py`` over stdin/stdout, one JSON object per line:

    {"cmd": "connect", "set": "floor", "variant": "floor", "ports": [...], "sockets": [...]}
    {"cmd": "run", "set": "floor", "rate": 40.0, "duration": 4, "drain": 3, "trial": 7}
    {"cmd": "burst", "set": "floor", "count": 300, "drain": 5, "trial": 8}
    {"cmd": "react_target", "set": "product-pubsub", "senders": 4}
    {"cmd": "run", "set": "product-pubsub", "rate": 8, "duration": 8, "react": true, ...}
    {"cmd": "connect", ..., "sockets": [{"transport": "lp", "role": "recv", ...}, ...]}
    {"cmd": "close", "set": "floor"}
    {"cmd": "exit"}

Every reply is one JSON line with ``"ok": true`` (or ``"ok": false`` and an
``error``). The client side is a small hand-written RFC 6455 client on
``asyncio.Protocol`` rather than the ``websockets`` asyncio client: the load
generator shares the same 2 cores as the servers it measures, and parsing
frames straight in ``data_received`` (no task wake-up per frame) makes each
delivered frame cost about a fifth of what it does through a full client. Every
delivered frame is still decoded with ``json.loads`` and its latency recorded.

Open loop: messages are sent on a fixed schedule (``t0 + i / rate``) whatever
the servers do, and each body carries its *scheduled* send time, so a slow
server (or a late load generator) shows up as latency instead of hiding it
(no coordinated omission).

Reactions (product only): ``react_target`` posts one message to the set's first
room and picks its first members as senders; a ``run`` with ``"react": true``
then sends, in turn from each sender, a ``react`` that toggles the sender's 👍
on that message, on the same schedule. A ``reaction`` frame carries no body to
time it by, but a socket's commands run one at a time and in order, so the
n-th ``reaction`` by a user that a socket receives answers that user's n-th
``react``: its trial, index and scheduled time are looked up by that count.

Transports (long polling, product only): a socket spec with ``transport``
(``ws`` or ``lp``) and ``role`` (``send`` or ``recv``) makes a set whose
messages are posted by its ``send`` WebSocket members only (their own copies
are not counted) and delivered to its ``recv`` members, each on a WebSocket or
long polling ``GET /api/events`` (``bench/lpclient.py``; deliveries are its
``message`` frames and the live ``changes`` of ``synced`` frames, deduplicated
by message id). Each trial then reports latency and deliveries per transport
(``by_transport``) and the polls answered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import sys
import time
from array import array

from lpclient import LongPoller, LongPollRefused, frame_messages

BODY_SIZE = 100  # bytes; the issue asks for 100-byte messages
REACT_EMOJI = "\N{THUMBS UP SIGN}"
REACT_TARGET_BODY = "bench: the message the reactions workload reacts to"
# Parallel handshakes. More only queue up in the servers, and daphne drops a handshake the
# application has not accepted within 5 s (--websocket_connect_timeout).
CONNECT_CONCURRENCY = 16
HANDSHAKE_TIMEOUT = 30.0
# A refused, reset or timed-out handshake is retried with backoff, as the product's browser
# client does: under a reconnect storm daphne drops handshakes that wait > 5 s.
CONNECT_ATTEMPTS = 12


def raise_nofile_limit() -> int:
    """Raise the open-file soft limit to the hard limit (thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def make_body(trial: int, seq: int, sched: float) -> str:
    """A 100-byte body: ``trial:seq:scheduled-send-time:`` padded with ``x``."""
    head = f"{trial:05d}:{seq:07d}:{sched:.6f}:"
    return head + "x" * (BODY_SIZE - len(head))


def parse_body(body: str) -> tuple[int, int, float]:
    trial, seq, sched, _ = body.split(":", 3)
    return int(trial), int(seq), float(sched)


# --------------------------------------------------------------------------
# A minimal WebSocket client protocol
# --------------------------------------------------------------------------


class WSClient(asyncio.Protocol):
    """RFC 6455 client: handshake, unmasked server frames in, masked frames out."""

    kind: str | None = None  # transport to count its deliveries under (sets with transports)
    mute = False  # a sender of a set with transports: its own copies are not deliveries

    def __init__(self, path: str, host: str, headers: dict[str, str], on_text) -> None:
        self.path = path
        self.host = host
        self.headers = headers
        self.on_text = on_text  # called with (client, bytes payload) for each text frame
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.handshaken = False
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.fragments: list[bytes] = []
        self.frag_opcode = 0
        self.first_frames: list[dict] = []  # control frames that arrived before anyone waited
        self.waiter: asyncio.Future | None = None
        self.ready = False
        self.reactions_seen: dict[str, int] | None = None  # per reacting user (reactions)
        self.last_seq = -1  # the highest ``seq`` of a reaction frame seen (reactions)

    # -- asyncio.Protocol ------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            del buf[: end + 4]
            self.handshaken = True
            self.opened.set_result(True)
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            end = pos + hdr + ln
            if end > n:
                break
            payload = bytes(buf[pos + hdr : end])
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 and b0 & 0x80:
                self.on_text(self, payload)
            elif opcode in (1, 2):  # first fragment of a fragmented message
                self.frag_opcode = opcode
                self.fragments = [payload]
            elif opcode == 0:
                self.fragments.append(payload)
                if b0 & 0x80:
                    whole = b"".join(self.fragments)
                    self.fragments = []
                    if self.frag_opcode == 1:
                        self.on_text(self, whole)
            elif opcode == 9:  # ping -> pong
                self._write_frame(0xA, payload)
            elif opcode == 8:  # close -> echo and drop
                self._write_frame(0x8, payload[:2])
                self.transport.close()
        if pos:
            del buf[:pos]

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(exc)

    # -- sending -----------------------------------------------------------
    def _write_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        if n:
            key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
            payload = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
        self.transport.write(head + mask + payload)

    def send_text(self, text: str) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self._write_frame(0x1, text.encode())
        return True

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self._write_frame(0x8, (1000).to_bytes(2, "big"))
            finally:
                self.transport.close()


async def ws_connect(port: int, path: str, headers: dict[str, str], on_text) -> WSClient:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: WSClient(path, f"127.0.0.1:{port}", headers, on_text), "127.0.0.1", port
    )
    try:
        await asyncio.wait_for(proto.opened, HANDSHAKE_TIMEOUT)
    except BaseException:
        proto.transport.close()
        raise
    return proto


# --------------------------------------------------------------------------
# Variants: how to open a socket, join a room, send, read a delivery
# --------------------------------------------------------------------------
#
# floor and product speak the product protocol (hello / join / joined / send /
# message); the baseline speaks the Channels tutorial protocol (one socket per
# room at /ws/chat/<room>/, {"message": ...} both ways).


class Variant:
    multiplexed = True  # product protocol (one /ws/ socket, join frames)

    def path(self, sock: dict) -> str:
        return "/ws/"

    def headers(self, sock: dict) -> dict[str, str]:
        return {}

    def send_frame(self, room: str, body: str, client_id: str) -> str:
        return json.dumps({"type": "send", "room": room, "body": body, "client_id": client_id})

    def delivered_body(self, frame: dict) -> str | None:
        if frame.get("type") == "message":
            return frame["message"]["body"]
        return None


class ProductVariant(Variant):
    def headers(self, sock: dict) -> dict[str, str]:
        return {"Authorization": f"Bearer {sock['token']}"}


class BaselineVariant(Variant):
    multiplexed = False

    def path(self, sock: dict) -> str:
        return f"/ws/chat/{sock['room']}/"

    def headers(self, sock: dict) -> dict[str, str]:
        # The tutorial wraps the router in AllowedHostsOriginValidator.
        return {"Origin": "http://127.0.0.1"}

    def send_frame(self, room: str, body: str, client_id: str) -> str:
        return json.dumps({"message": body})

    def delivered_body(self, frame: dict) -> str | None:
        return frame.get("message")


VARIANTS = {"floor": Variant, "baseline": BaselineVariant, "product": ProductVariant}


# --------------------------------------------------------------------------
# A connection set: all the sockets of one variant for one workload
# --------------------------------------------------------------------------


class Trial:
    def __init__(self, trial: int) -> None:
        self.id = trial
        self.latencies = array("d")
        self.counts = array("I")  # deliveries per seq
        self.expected = array("I")  # expected deliveries per seq
        self.late_or_foreign = 0
        self.late_unique = 0  # deliveries after the drain window, counted until the next trial
        self.errors: dict[str, int] = {}
        self.done = asyncio.Event()
        self.outstanding = 0
        self.sending_done = False
        # Sets with transports: latencies and expected deliveries per transport, and the
        # long polls answered before the trial (to count those answered during it).
        self.kind_latencies: dict[str, array] = {}
        self.kind_expected: dict[str, int] = {}
        self.polls_before: dict = {}
        self.lp_frames: dict[str, int] = {}  # frames long polls answered, by type


class ConnSet:
    def __init__(
        self, name: str, variant: Variant, rooms: dict[str, list[int]], users: list
    ) -> None:
        self.name = name
        self.variant = variant
        self.rooms = rooms  # slug -> socket indices (members)
        self.users = users  # socket index -> username (product sockets; else None)
        self.clients: list[WSClient | LongPoller] = []
        # Sets with transports: who posts (WebSocket members) and who is counted, per room,
        # and each receiver's transport; errors of long polls between trials.
        self.senders: dict[str, list[int]] = rooms
        self.receivers: dict[str, list[int]] = rooms
        self.kind_counts: dict[str, dict[str, int]] = {}
        self.errors_between: dict[str, int] = {}
        self.ports: list[int] = []
        self.trial: Trial | None = None
        self.last_trial: Trial | None = None  # still counting its stragglers
        self.other_frames = 0
        # The next trial's first room: rooms take turns across trials too, so that short
        # trials over many rooms reach every room (the shards workload's hashing).
        self.next_room = 0
        # Reactions: the message reacted to, the senders (socket indices), each sender's 👍
        # state, and per sender username every react sent: (trial, index, scheduled, on).
        self.react_id: int | None = None
        self.react_senders: list[int] = []
        self.react_on: dict[str, bool] = {}
        self.react_log: dict[str, list[tuple[int, int, float, bool]]] = {}

    def poll_counts(self) -> dict:
        """Long polls answered so far by the set's pollers: all, empty, per replica port."""
        pollers = [c for c in self.clients if isinstance(c, LongPoller)]
        by_port = dict.fromkeys(self.ports, 0)
        for p in pollers:
            for port, n in p.polls_by_port.items():
                by_port[port] += n
        return {
            "polls": sum(p.polls for p in pollers),
            "empty_polls": sum(p.empty_polls for p in pollers),
            "by_port": by_port,
        }

    # Hot path: called for every text frame on every socket of the set.
    def on_text(self, client: WSClient, payload: bytes) -> None:
        now = time.monotonic()
        frame = json.loads(payload)
        body = self.variant.delivered_body(frame)
        if body is None or client.mute:
            if frame.get("type") == "reaction":
                self.on_reaction(client, frame, now)
            else:
                self.on_control(client, frame)
            return
        try:
            t_id, seq, sched = parse_body(body)
        except ValueError:  # not a trial's message (the reactions' target)
            self.on_control(client, frame)
            return
        self.count(t_id, seq, sched, now, client.kind)

    def on_events(self, poller: LongPoller, frames: list[dict], now: float) -> None:
        """One long poll's answer: each message delivered once per poller (by id); a
        message seq that does not follow the room's last one is counted as an error."""
        by_type = self.trial.lp_frames if self.trial is not None else None
        for frame in frames:
            if by_type is not None:
                by_type[frame.get("type")] = by_type.get(frame.get("type"), 0) + 1
            messages = frame_messages(frame)
            if not messages:
                self.other_frames += 1
                continue
            for m in messages:
                mid = m["id"]
                if mid in poller.seen:
                    self.error(poller, "repeated_message")
                    continue
                poller.seen.add(mid)
                room, seq = m.get("room"), m.get("seq")
                last = poller.last_seq.get(room)
                if last is not None and seq is not None and seq != last + 1:
                    self.error(poller, "seq_gap" if seq > last + 1 else "seq_back")
                if seq is not None:
                    poller.last_seq[room] = seq if last is None else max(seq, last)
                try:
                    t_id, i, sched = parse_body(m["body"])
                except ValueError:  # not a trial's message
                    continue
                self.count(t_id, i, sched, now, "lp")

    def error(self, client, code: str) -> None:
        """A long poll's error, in the running trial or between trials."""
        errors = self.trial.errors if self.trial is not None else self.errors_between
        errors[code] = errors.get(code, 0) + 1

    def on_reaction(self, client: WSClient, frame: dict, now: float) -> None:
        """The n-th ``reaction`` by a user on this socket answers that user's n-th react."""
        user = frame.get("user")
        seen = client.reactions_seen
        if seen is None:
            seen = client.reactions_seen = {}
        n = seen.get(user, 0)
        seen[user] = n + 1
        sent = self.react_log.get(user)
        trial = self.trial
        if sent is None or n >= len(sent):
            if trial is not None:
                trial.late_or_foreign += 1
            return
        t_id, seq, sched, on = sent[n]
        # Each frame is a change of the room: on one socket its seq only ever grows.
        frame_seq = frame.get("seq", -1)
        if trial is not None and (frame.get("on") is not on or frame_seq <= client.last_seq):
            code = "reaction_out_of_order" if frame.get("on") is not on else "seq_not_increasing"
            trial.errors[code] = trial.errors.get(code, 0) + 1
        client.last_seq = max(client.last_seq, frame_seq)
        self.count(t_id, seq, sched, now)

    def count(self, t_id: int, seq: int, sched: float, now: float, kind: str | None = None) -> None:
        """One delivery of message (or react) ``seq`` of trial ``t_id`` (over ``kind``)."""
        trial = self.trial
        if trial is None or t_id != trial.id:
            last = self.last_trial
            if last is not None and t_id == last.id:  # after its drain window: late, not lost
                if last.counts[seq] < last.expected[seq]:
                    last.late_unique += 1
                last.counts[seq] += 1
            elif trial is not None:
                trial.late_or_foreign += 1
            return
        trial.latencies.append(now - sched)
        if kind is not None:
            lat = trial.kind_latencies.get(kind)
            if lat is None:
                lat = trial.kind_latencies[kind] = array("d")
            lat.append(now - sched)
        trial.counts[seq] += 1
        if trial.counts[seq] == trial.expected[seq]:
            trial.outstanding -= 1
            if trial.outstanding == 0 and trial.sending_done:
                trial.done.set()

    def on_control(self, client: WSClient, frame: dict) -> None:
        """A frame that is not a delivery: hello, joined, presence, error..."""
        if client.waiter is not None and not client.waiter.done():
            client.waiter.set_result(frame)
            return
        if not client.ready:
            client.first_frames.append(frame)
            return
        if frame.get("type") == "error" and self.trial is not None:
            code = frame.get("code", "?")
            self.trial.errors[code] = self.trial.errors.get(code, 0) + 1
        self.other_frames += 1

    async def expect(self, client: WSClient, pred, timeout: float = HANDSHAKE_TIMEOUT) -> dict:
        """Wait for the next control frame on ``client`` matching ``pred``."""
        deadline = time.monotonic() + timeout
        while True:
            if client.first_frames:
                frame = client.first_frames.pop(0)
            else:
                client.waiter = asyncio.get_running_loop().create_future()
                try:
                    frame = await asyncio.wait_for(
                        client.waiter, max(0.01, deadline - time.monotonic())
                    )
                finally:
                    client.waiter = None
            if pred(frame):
                return frame


async def open_socket(cs: ConnSet, sock: dict, port: int, join: bool) -> WSClient | LongPoller:
    v = cs.variant
    if sock.get("transport") == "lp":
        return await open_poller(cs, sock, port)
    client = await ws_connect(port, v.path(sock), v.headers(sock), cs.on_text)
    if sock.get("transport"):
        client.kind = sock["transport"]
        client.mute = sock.get("role") == "send"
    try:
        await _greet(cs, client, sock, join)
    except BaseException:
        client.close()
        raise
    client.ready = True
    client.first_frames.clear()
    return client


async def open_poller(cs: ConnSet, sock: dict, port: int) -> LongPoller:
    """A long-polling receiver whose first poll (no cursor) has answered; it polls on."""
    ports = cs.ports if sock.get("alternate") else [port]
    poller = LongPoller(
        ports,
        ports.index(port),
        sock["token"],
        cs.on_events,
        cs.error,
        alternate=bool(sock.get("alternate")),
    )
    try:
        await poller.start()
    except BaseException:
        poller.close()
        raise
    return poller


async def _greet(cs: ConnSet, client: WSClient, sock: dict, join: bool) -> None:
    """Product protocol: wait for hello, then join the socket's room."""
    v = cs.variant
    if v.multiplexed:
        # Room events may overtake hello: the server subscribes before it reads state.
        await cs.expect(client, lambda f: f.get("type") == "hello")
        if join and sock.get("room"):
            room = sock["room"]
            client.send_text(json.dumps({"type": "join", "room": room}))
            frame = await cs.expect(client, lambda f: f.get("type") in ("joined", "error"))
            if frame.get("type") != "joined":
                raise ConnectionError(f"join {room} failed: {str(frame)[:200]}")


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


class LoadGen:
    def __init__(self) -> None:
        self.sets: dict[str, ConnSet] = {}

    async def cmd_connect(self, msg: dict) -> dict:
        t0 = time.monotonic()
        variant = VARIANTS[msg["variant"]]()
        sockets = msg["sockets"]
        ports = msg["ports"]
        rooms: dict[str, list[int]] = {}
        for i, s in enumerate(sockets):
            if s.get("room"):
                rooms.setdefault(s["room"], []).append(i)
        cs = ConnSet(msg["set"], variant, rooms, [s.get("user") for s in sockets])
        cs.ports = ports
        if any(s.get("transport") for s in sockets):
            cs.senders, cs.receivers = {}, {}
            for i, s in enumerate(sockets):
                role = cs.senders if s.get("role") == "send" else cs.receivers
                role.setdefault(s["room"], []).append(i)
                if s.get("role") != "send":
                    kinds = cs.kind_counts.setdefault(s["room"], {})
                    kinds[s["transport"]] = kinds.get(s["transport"], 0) + 1
        self.sets[msg["set"]] = cs
        join = msg.get("join", True)
        sem = asyncio.Semaphore(msg.get("concurrency", CONNECT_CONCURRENCY))
        clients: list[WSClient | None] = [None] * len(sockets)
        retries = [0]

        deadline = t0 + float(msg.get("deadline") or "inf")
        skipped = [0]

        async def one(i: int, s: dict) -> None:
            async with sem:
                if time.monotonic() > deadline:  # bounded phase: stop opening new sockets
                    skipped[0] += 1
                    return
                port = s.get("port") or ports[i % len(ports)]
                for attempt in range(CONNECT_ATTEMPTS):
                    try:
                        clients[i] = await open_socket(cs, s, port, join)
                        return
                    except LongPollRefused:  # no /api/events (an older product): no retry
                        raise
                    except (OSError, TimeoutError) as exc:  # refused, reset, handshake timeout
                        retries[0] += 1
                        if attempt == CONNECT_ATTEMPTS - 1:
                            raise exc
                        await asyncio.sleep(min(4.0, 0.5 * (attempt + 1)))

        results = await asyncio.gather(
            *(one(i, s) for i, s in enumerate(sockets)), return_exceptions=True
        )
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        cs.clients = [c for c in clients if c is not None]
        seconds = round(time.monotonic() - t0, 3)
        if errors:
            return {
                "ok": False,
                "error": f"{len(errors)} sockets failed: {errors[:3]}",
                "failed": len(errors),
                "retries": retries[0],
                "connected": len(cs.clients),
                "seconds": seconds,
            }
        return {
            "ok": True,
            "connected": len(cs.clients),
            "failed": 0,
            "retries": retries[0],
            "skipped": skipped[0],
            "seconds": seconds,
        }

    async def cmd_connect_many(self, msg: dict) -> dict:
        """Several ``connect`` commands at once (different servers connect in parallel)."""
        replies = await asyncio.gather(*(self.cmd_connect(m) for m in msg["sets"]))
        return {"ok": True, "replies": list(replies)}

    async def cmd_close(self, msg: dict) -> dict:
        cs = self.sets.pop(msg["set"], None)
        if cs is None:
            return {"ok": True}
        for c in cs.clients:
            c.close()
        await asyncio.gather(
            *(asyncio.wait_for(asyncio.shield(c.closed), 10) for c in cs.clients),
            return_exceptions=True,
        )
        return {"ok": True, "closed": len(cs.clients)}

    async def cmd_react_target(self, msg: dict) -> dict:
        """Post the message the reactions trials react to (from the first room's first
        member) and take that room's first ``senders`` members as the reacting ones."""
        cs = self.sets[msg["set"]]
        room = next(iter(cs.rooms))
        members = cs.rooms[room]
        client = cs.clients[members[0]]
        client_id = f"bench-react-target-{cs.name}"
        client.send_text(cs.variant.send_frame(room, REACT_TARGET_BODY, client_id))
        frame = await cs.expect(
            client,
            lambda f: (
                f.get("type") == "error"
                or (f.get("type") == "message" and f["message"].get("client_id") == client_id)
            ),
        )
        if frame.get("type") == "error":
            return {"ok": False, "error": f"posting the target failed: {frame}"}
        cs.react_id = frame["message"]["id"]
        cs.react_senders = members[: int(msg["senders"])]
        return {"ok": True, "id": cs.react_id, "senders": [cs.users[i] for i in cs.react_senders]}

    def _react_frame(self, cs: ConnSet, trial: Trial, i: int, sched: float) -> tuple[int, str]:
        """The ``i``-th react of a trial: from the next sender in turn, toggling its 👍."""
        sender = cs.react_senders[i % len(cs.react_senders)]
        user = cs.users[sender]
        on = not cs.react_on.get(user, False)
        cs.react_on[user] = on
        cs.react_log.setdefault(user, []).append((trial.id, i, sched, on))
        frame = {"type": "react", "id": cs.react_id, "emoji": REACT_EMOJI, "on": on}
        return sender, json.dumps(frame)

    async def _send_schedule(
        self, cs: ConnSet, trial: Trial, times: list[float], react: bool = False
    ) -> dict:
        """Send one message (``react``: one react) at each scheduled time (absolute
        monotonic)."""
        names = list(cs.rooms)
        start = cs.next_room % len(names)
        room_names = names[start:] + names[:start]
        cs.next_room = start + len(times)
        rng = random.Random(trial.id)
        n = len(times)
        trial.counts = array("I", bytes(4 * n))
        trial.expected = array(
            "I", (len(cs.receivers[room_names[i % len(room_names)]]) for i in range(n))
        )
        for i in range(n):
            for kind, count in cs.kind_counts.get(room_names[i % len(room_names)], {}).items():
                trial.kind_expected[kind] = trial.kind_expected.get(kind, 0) + count
        trial.polls_before = cs.poll_counts()
        trial.outstanding = n
        trial.sending_done = False
        max_lag = 0.0
        lags = array("d")
        send_failures = 0
        i = 0
        while i < n:
            now = time.monotonic()
            if times[i] > now:
                await asyncio.sleep(times[i] - now)
                continue
            # Send everything that is due (never wait for replies: open loop).
            while i < n and times[i] <= now:
                room = room_names[i % len(room_names)]
                if react:
                    sender, text = self._react_frame(cs, trial, i, times[i])
                    client = cs.clients[sender]
                else:
                    members = cs.senders[room]
                    client = cs.clients[members[rng.randrange(len(members))]]
                    body = make_body(trial.id, i, times[i])
                    text = cs.variant.send_frame(room, body, f"b{trial.id}-{i}")
                if not client.send_text(text):
                    send_failures += 1
                lag = now - times[i]
                lags.append(lag)
                if lag > max_lag:
                    max_lag = lag
                i += 1
            await asyncio.sleep(0)
        trial.sending_done = True
        if trial.outstanding == 0:
            trial.done.set()
        lags_sorted = sorted(lags)
        return {
            "send_lag_p99_ms": round(1000 * lags_sorted[int(0.99 * (len(lags_sorted) - 1))], 3)
            if lags_sorted
            else 0,
            "send_lag_max_ms": round(1000 * max_lag, 3),
            "send_failures": send_failures,
        }

    async def _finish(
        self,
        cs: ConnSet,
        trial: Trial,
        send_info: dict,
        drain: float,
        t_start: float,
        t_end_send: float,
    ) -> dict:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(trial.done.wait(), drain)
        t_done = time.monotonic()
        cs.trial = None
        cs.last_trial = trial
        lat = sorted(trial.latencies)
        expected = sum(trial.expected)
        delivered = len(lat)
        unique = sum(min(c, e) for c, e in zip(trial.counts, trial.expected, strict=False))
        out = {
            "ok": True,
            "messages": len(trial.expected),
            "expected": expected,
            "delivered": delivered,
            "delivered_unique": unique,
            "duplicates": delivered - unique,
            "messages_incomplete": sum(
                1 for c, e in zip(trial.counts, trial.expected, strict=False) if c < e
            ),
            "errors": trial.errors,
            "send_seconds": round(t_end_send - t_start, 4),
            "total_seconds": round(t_done - t_start, 4),
            **send_info,
        }
        out.update(latency_summary(lat))
        if trial.kind_expected:
            out["by_transport"] = {
                kind: {
                    "expected": expected,
                    "delivered": len(trial.kind_latencies.get(kind, ())),
                    **latency_summary(sorted(trial.kind_latencies.get(kind, ()))),
                }
                for kind, expected in sorted(trial.kind_expected.items())
            }
            now, before = cs.poll_counts(), trial.polls_before
            out["polls"] = now["polls"] - before["polls"]
            out["empty_polls"] = now["empty_polls"] - before["empty_polls"]
            # polls answered by each replica, in the set's port order
            out["polls_by_replica"] = [
                now["by_port"][port] - before["by_port"][port] for port in cs.ports
            ]
            out["errors_between_trials"], cs.errors_between = cs.errors_between, {}
            out["lp_frames"] = trial.lp_frames
        return out

    @staticmethod
    def _stragglers(cs: ConnSet) -> dict:
        """Deliveries of the set's previous trial that came after its drain window."""
        last = cs.last_trial
        cs.last_trial = None
        if last is None:
            return {}
        return {"previous_trial": last.id, "previous_late_unique": last.late_unique}

    async def cmd_stragglers(self, msg: dict) -> dict:
        """Wait while the last trial's stragglers keep coming (``quiet`` s without one ends
        it, ``limit`` s at most), then report them."""
        cs = self.sets.get(msg["set"])
        if cs is None:
            return {"ok": True}
        last = cs.last_trial
        deadline = time.monotonic() + float(msg.get("limit", 0))
        while last is not None and time.monotonic() < deadline:
            seen = last.late_unique
            await asyncio.sleep(float(msg.get("quiet", 2.0)))
            if last.late_unique == seen:
                break
        return {"ok": True, **self._stragglers(cs)}

    async def cmd_run(self, msg: dict) -> dict:
        cs = self.sets[msg["set"]]
        late = self._stragglers(cs)
        rate = float(msg["rate"])
        duration = float(msg["duration"])
        n = max(1, int(round(rate * duration)))
        trial = Trial(int(msg["trial"]))
        cs.trial = trial
        t0 = time.monotonic() + 0.05
        times = [t0 + i / rate for i in range(n)]
        info = await self._send_schedule(cs, trial, times, bool(msg.get("react")))
        t_end = time.monotonic()
        out = await self._finish(cs, trial, info, float(msg.get("drain", 3.0)), t0, t_end)
        return {**out, **late}

    async def cmd_burst(self, msg: dict) -> dict:
        """``count`` messages to one room as fast as the loop can write them."""
        cs = self.sets[msg["set"]]
        late = self._stragglers(cs)
        count = int(msg["count"])
        trial = Trial(int(msg["trial"]))
        cs.trial = trial
        t0 = time.monotonic() + 0.05
        times = [t0] * count
        info = await self._send_schedule(cs, trial, times)
        t_end = time.monotonic()
        out = await self._finish(cs, trial, info, float(msg.get("drain", 5.0)), t0, t_end)
        return {**out, **late}

    async def handle(self, msg: dict) -> dict:
        fn = getattr(self, "cmd_" + msg["cmd"], None)
        if fn is None:
            return {"ok": False, "error": f"unknown command {msg['cmd']}"}
        return await fn(msg)


def latency_summary(lat_sorted) -> dict:
    """Percentiles (ms) and a 201-point quantile sketch for CDF plots."""
    n = len(lat_sorted)
    if not n:
        return {
            "p50_ms": None,
            "p99_ms": None,
            "p999_ms": None,
            "max_ms": None,
            "mean_ms": None,
            "cdf_ms": [],
        }

    def q(p: float) -> float:
        return round(1000 * lat_sorted[min(n - 1, int(p * n))], 3)

    return {
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "p999_ms": q(0.999),
        "max_ms": round(1000 * lat_sorted[-1], 3),
        "mean_ms": round(1000 * sum(lat_sorted) / n, 3),
        "cdf_ms": [q(i / 200) for i in range(200)] + [round(1000 * lat_sorted[-1], 3)],
    }


async def main() -> None:
    limit = raise_nofile_limit()
    gen = LoadGen()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    out.write(json.dumps({"ok": True, "ready": True, "nofile": limit, "pid": os.getpid()}) + "\n")
    out.flush()
    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg.get("cmd") == "exit":
            break
        try:
            reply = await gen.handle(msg)
        except Exception as exc:  # reported to the controller, which decides
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    for name in list(gen.sets):
        await gen.cmd_close({"set": name})


if __name__ == "__main__":
    asyncio.run(main())
