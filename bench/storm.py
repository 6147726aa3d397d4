"""The reconnect storm's clients: N sockets through nginx, one replica SIGKILLed.

Run by ``bench/run.py`` (``--profile storm``, and the full run): reads its plan
as one JSON object on stdin, logs progress on stderr and prints one JSON object
(the figures) on stdout. Plan keys: ``nginx_port``, ``replica_ports``,
``replica_pids`` (replica 0 is the one killed; its process group gets
SIGKILL), ``tokens`` (one socket each, through nginx), ``sender_token`` (a
member of every storm room, connected straight to the survivor so it never
drops), ``storm_rooms``, ``rate`` (posts per second over those rooms),
``lead`` (seconds of posting before the kill), ``limit`` (seconds the storm may
take), ``drain_limit``, ``connect_concurrency``, ``connect_limit``.

Each client behaves as the browser client does (static/chat/socket.js and
sync.js): see ``backoff_delay``, ``Client.heartbeat`` and ``Client.on_hello``.
The figure, ``reconnect_storm_s``, is the time from the kill until the last
client whose socket dropped has its ``hello`` from the survivor and the answer
to its last ``sync`` page of every room. Then every client must hold every
message the sender posted to its rooms, exactly once (see ``Client.take``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import urllib.request

from loadgen import HANDSHAKE_TIMEOUT, WSClient, raise_nofile_limit, ws_connect

# static/chat/socket.js: the reconnect backoff and the heartbeat.
BACKOFF_BASE_S = 0.5  # BACKOFF_BASE_MS
BACKOFF_CAP_S = 15.0  # BACKOFF_CAP_MS
PING_IDLE_S = 4.0  # PING_IDLE_MS: a ping when the line was silent this long...
PONG_TIMEOUT_S = 4.0  # PONG_TIMEOUT_MS: ...and no frame at all this long after it: dropped
HEARTBEAT_CHECK_S = PING_IDLE_S / 2  # the interval that looks at the line (setInterval)
# static/chat/sync.js: the page size of a catch-up ``sync``.
SYNC_PAGE = 200
SWEEP_S = 0.25  # how often this process runs every client's heartbeat check
CLK_TCK = os.sysconf("SC_CLK_TCK")


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """socket.js ``backoffDelay``: 0.5 s, 1 s, 2 s, ... capped at 15 s, each drawn
    uniformly from [d/2, d] ("equal jitter")."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
    return ceiling / 2 + rng.random() * ceiling / 2


def log(text: str) -> None:
    print(f"[storm {time.monotonic():.1f}] {text}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def open_sockets(port: int) -> int | None:
    """``chat_open_sockets`` of one replica (its /metrics answers loopback)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("chat_open_sockets "):
            return int(float(line.split()[1]))
    return None


def quantiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    xs = sorted(values)

    def q(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3)

    return {"p50": q(0.5), "p99": q(0.99), "max": round(xs[-1], 3)}


class Storm:
    """What every client reports to: the kill time, the drops, errors, counters."""

    def __init__(self, plan: dict) -> None:
        self.plan = plan
        self.killed_at: float | None = None
        self.dropped: set[int] = set()
        self.errors: dict[str, int] = {}
        self.handshake_failures: dict[str, int] = {}
        self.heartbeat_drops = 0
        self.sync_requests = 0
        self.overlaps = 0  # live and in a catch-up page: the store's de-duplication
        self.duplicates_live = 0
        self.duplicates_sync = 0
        self.stopping = False
        self.posted: dict[int, str] = {}  # message id -> room (the sender's acks)

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


class Client:
    """One browser tab's socket: connect, reconnect with backoff, heartbeat, catch up."""

    def __init__(self, index: int, token: str, storm: Storm, rng: random.Random) -> None:
        self.index = index
        self.storm = storm
        self.rng = rng
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ws: WSClient | None = None
        self.attempt = 0  # socket.js: failed attempts since the last hello
        self.gen = 0  # the socket's number (each connect is a new one)
        self.ever_opened = False
        self.ready = False  # open, hello received and caught up
        self.first_hello = asyncio.get_running_loop().create_future()
        self.cursor: dict[str, int] = {}  # room -> highest seq applied
        self.live_seq: dict[str, int] = {}  # room -> highest seq seen live while syncing
        self.syncing: list[str] = []  # rooms still to catch up, the current one first
        self.holding = False  # from a reconnect until its catch-up ends
        self.sync_since = 0
        self.sync_ref = ""
        self.got: dict[int, bool] = {}  # every message id that arrived: whether live
        self.rooms: list[str] = []
        # The storm, for a client that dropped after the kill:
        self.dropped_at: float | None = None
        self.reconnected_at: float | None = None
        self.caught_up_at: float | None = None
        self.attempts_after_kill = 0
        self.drops = 0
        # Heartbeat (socket.js startHeartbeat/probe)
        self.last_frame = 0.0
        self.next_check = 0.0
        self.probe_at: float | None = None

    # -- the socket's life: connect, wait for it to close, back off, again ------------
    async def life(self, port: int, gate: asyncio.Semaphore) -> None:
        """socket.js ``start``/``closed``/``scheduleRetry``. The first connect waits
        for a slot of ``gate`` (until its hello), as the bench's other connects do; a
        reconnect, like a browser's, waits for nobody."""
        while not self.storm.stopping:
            try:
                if not self.ever_opened:
                    async with gate:
                        ws = await self.connect(port)
                        await asyncio.wait(
                            [self.first_hello, ws.closed],
                            timeout=HANDSHAKE_TIMEOUT,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                        if not self.first_hello.done():
                            ws.close()
                else:
                    ws = await self.connect(port)
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.failed(exc)
            else:
                await ws.closed
                self.closed()
            if self.storm.stopping:
                return
            delay = backoff_delay(self.attempt, self.rng)
            self.attempt += 1
            await asyncio.sleep(delay)

    async def connect(self, port: int) -> WSClient:
        if self.dropped_at is not None and self.reconnected_at is None:
            self.attempts_after_kill += 1
        self.gen += 1
        if self.ever_opened:
            # sync.js holdCursor: room events may overtake hello (the server subscribes
            # first), and until the catch-up ends they must not move the cursor.
            self.holding = True
            self.live_seq = dict(self.cursor)
        self.ws = await ws_connect(port, "/ws/", self.headers, self.on_text)
        now = time.monotonic()
        self.last_frame = now  # socket.js: on open, the heartbeat starts
        self.next_check = now + HEARTBEAT_CHECK_S
        self.probe_at = None
        return self.ws

    def failed(self, exc: BaseException) -> None:
        """A handshake that did not open (refused, reset, nginx's 502, a timeout)."""
        text = str(exc) or type(exc).__name__
        kind = text.split(" ", 2)[1] if text.startswith("HTTP/") else type(exc).__name__
        self.storm.count(self.storm.handshake_failures, kind)

    def closed(self) -> None:
        self.ws = None
        self.ready = False
        self.syncing = []
        storm = self.storm
        if storm.killed_at is not None and self.ever_opened:
            now = time.monotonic()
            self.drops += 1
            if self.dropped_at is None:
                self.dropped_at = now
                storm.dropped.add(self.index)
            self.reconnected_at = self.caught_up_at = None

    def heartbeat(self, now: float) -> None:
        """socket.js: every 2 s, a ping if the line was silent for 4 s; no frame at all
        within 4 s of the ping and the socket is dropped (then reconnects)."""
        ws = self.ws
        if ws is None:
            return
        if self.probe_at is not None and now - self.probe_at >= PONG_TIMEOUT_S:
            if self.last_frame < self.probe_at:
                self.storm.heartbeat_drops += 1
                ws.close()
                return
            self.probe_at = None
        if now >= self.next_check:
            self.next_check += HEARTBEAT_CHECK_S
            silent = now - self.last_frame >= PING_IDLE_S
            if self.probe_at is None and silent and ws.send_text('{"type":"ping"}'):
                self.probe_at = now

    # -- frames ------------------------------------------------------------------------
    def on_text(self, ws: WSClient, payload: bytes) -> None:
        if ws is not self.ws:
            return
        now = time.monotonic()
        self.last_frame = now
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "message":
            message = frame["message"]
            room = message["room"]
            seq = message.get("seq") or frame.get("seq") or 0
            if self.holding:  # sync.js holdCursor: live frames move liveSeq, not the cursor
                self.live_seq[room] = max(self.live_seq.get(room, 0), seq)
            else:
                self.cursor[room] = max(self.cursor.get(room, 0), seq)
            self.take(message["id"], live=True)
        elif kind == "hello":
            self.on_hello(frame, now)
        elif kind == "synced":
            self.on_synced(frame, now)
        elif kind == "error":
            self.storm.count(self.storm.errors, frame.get("code", "?"))
            if self.syncing and frame.get("ref") == self.sync_ref:
                self.syncing = []  # a failed catch-up: this client is never caught up
                self.storm.count(self.storm.errors, "sync_failed")

    def take(self, message_id: int, *, live: bool) -> None:
        """A message arrived, live or in a catch-up page. Live once and in catch-up pages
        is harmless, in either order (the store de-duplicates by id): the server drops
        live copies of what it sent in a ``joined``/``history`` page, not of a ``synced``
        one, so a message committed before the page's read and published after the new
        socket subscribed comes both ways (``overlaps``). The same message live twice is
        a duplicate, and so is a catch-up change at or below the cursor asked from
        (``on_synced``)."""
        seen_live = self.got.get(message_id)
        if seen_live is None:
            self.got[message_id] = live
        elif live and seen_live:
            self.storm.duplicates_live += 1
        else:
            self.storm.overlaps += 1
            self.got[message_id] = seen_live or live

    def on_hello(self, frame: dict, now: float) -> None:
        """socket.js: a hello resets the backoff. The first one sets each room's cursor
        (the room object's seq); after a reconnect sync.js ``resync`` holds every cursor
        and syncs the rooms one after another, each until ``has_more`` is false."""
        self.attempt = 0
        rooms = frame.get("rooms") or []
        if not self.ever_opened:
            self.ever_opened = True
            self.rooms = [r["slug"] for r in rooms]
            self.cursor = {r["slug"]: r.get("seq") or 0 for r in rooms}
            self.ready = True
            if not self.first_hello.done():
                self.first_hello.set_result(now)
            return
        if self.dropped_at is not None and self.reconnected_at is None:
            self.reconnected_at = now
        self.syncing = [slug for slug in self.rooms if slug in self.cursor]
        self.sync_next(self.cursor[self.syncing[0]] if self.syncing else 0, now)

    def sync_next(self, since: int, now: float) -> None:
        if not self.syncing:
            self.ready = True
            self.holding = False
            if self.dropped_at is not None:
                self.caught_up_at = now
            return
        self.sync_since = since
        self.sync_ref = f"s{self.gen}-{self.storm.sync_requests}"
        self.storm.sync_requests += 1
        frame = {
            "type": "sync",
            "room": self.syncing[0],
            "since": since,
            "limit": SYNC_PAGE,
            "ref": self.sync_ref,
        }
        self.ws.send_text(json.dumps(frame))

    def on_synced(self, frame: dict, now: float) -> None:
        if not self.syncing or frame.get("room") != self.syncing[0]:
            return
        room = self.syncing[0]
        changes = frame.get("changes") or []
        for change in changes:
            if (change.get("seq") or 0) <= self.sync_since:
                self.storm.duplicates_sync += 1  # the server did not honour the cursor
            elif not change.get("deleted"):
                self.take(change["id"], live=False)
        since = max(self.sync_since, frame.get("seq") or 0)
        self.cursor[room] = since  # sync.js: what is applied so far; a drop resumes here
        if frame.get("has_more") and changes:
            self.sync_next(since, now)
            return
        self.cursor[room] = max(since, self.live_seq.get(room, 0))
        self.syncing.pop(0)
        self.sync_next(self.cursor[self.syncing[0]] if self.syncing else 0, now)


class Sender:
    """Posts to the storm rooms in turn on a fixed schedule, over a socket of its own
    straight to the survivor; a post counts once its ``message`` echo arrives."""

    def __init__(self, storm: Storm, token: str, rooms: list[str]) -> None:
        self.storm = storm
        self.rooms = rooms
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ws: WSClient | None = None
        self.hello = asyncio.get_running_loop().create_future()
        self.sent = 0
        self.closed_early = False

    async def connect(self, port: int) -> None:
        self.ws = await ws_connect(port, "/ws/", self.headers, self.on_text)
        await asyncio.wait_for(self.hello, HANDSHAKE_TIMEOUT)

    def on_text(self, ws: WSClient, payload: bytes) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "hello" and not self.hello.done():
            self.hello.set_result(True)
        elif kind == "message":
            message = frame["message"]
            if (message.get("client_id") or "").startswith("storm-"):
                self.storm.posted[message["id"]] = message["room"]
        elif kind == "error":
            self.storm.count(self.storm.errors, "sender_" + frame.get("code", "?"))

    async def post(self, rate: float, stop: asyncio.Event) -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            due = t0 + self.sent / rate
            if due > time.monotonic():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), due - time.monotonic())
                continue
            room = self.rooms[self.sent % len(self.rooms)]
            body = f"storm:{self.sent}"
            frame = {"type": "send", "room": room, "body": body, "client_id": f"storm-{self.sent}"}
            if not self.ws.send_text(json.dumps(frame)):
                self.closed_early = True
                return
            self.sent += 1


async def wait_until(predicate, limit: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


async def settle(pids: list[int], *, quiet: float = 0.05, limit: float = 60.0) -> float:
    """Wait until the replicas use < ``quiet`` of a core each for 2 s in a row
    (connecting announces presence; its fan-out must not bleed into the storm)."""
    t0 = time.monotonic()
    calm = 0
    before = sum(cpu_seconds(pid) for pid in pids)
    while calm < 2 and time.monotonic() - t0 < limit:
        await asyncio.sleep(1.0)
        now = sum(cpu_seconds(pid) for pid in pids)
        calm = calm + 1 if now - before < quiet * len(pids) else 0
        before = now
    return round(time.monotonic() - t0, 1)


async def run(plan: dict) -> dict:
    storm = Storm(plan)
    rng = random.Random(plan.get("seed", 18))
    nginx_port = plan["nginx_port"]
    killed_pid, survivor_pid = plan["replica_pids"]
    killed_port, survivor_port = plan["replica_ports"]
    clients = [Client(i, tok, storm, rng) for i, tok in enumerate(plan["tokens"])]

    async def sweep() -> None:
        while not storm.stopping:
            now = time.monotonic()
            for c in clients:
                c.heartbeat(now)
            await asyncio.sleep(SWEEP_S)

    heartbeat = asyncio.create_task(sweep())
    gate = asyncio.Semaphore(plan.get("connect_concurrency", 16))
    t0 = time.monotonic()
    lives = [asyncio.create_task(c.life(nginx_port, gate)) for c in clients]
    connected = await wait_until(
        lambda: all(c.ever_opened for c in clients), plan.get("connect_limit", 300.0), 0.2
    )
    connect_s = round(time.monotonic() - t0, 3)
    opened = sum(c.ever_opened for c in clients)
    log(f"{opened}/{len(clients)} sockets through nginx in {connect_s} s")
    out: dict = {
        "sockets": len(clients),
        "connected": opened,
        "connect_seconds": connect_s,
        "connects_per_s": round(opened / connect_s, 1) if connect_s else None,
        "rooms": len(plan["storm_rooms"]),
        "rate_msgs_per_s": plan["rate"],
    }
    if not connected:
        return {**out, "ok": False, "error": f"only {opened} of {len(clients)} connected"}

    sender = Sender(storm, plan["sender_token"], plan["storm_rooms"])
    await sender.connect(survivor_port)
    out["settle_seconds"] = await settle(plan["replica_pids"])
    per_replica = [open_sockets(killed_port), open_sockets(survivor_port)]
    if per_replica[1] is not None:
        per_replica[1] -= 1  # the sender's
    out["sockets_per_replica_before_kill"] = per_replica
    expected_drops = per_replica[0] if per_replica[0] is not None else 1
    log(f"sockets per replica {per_replica}; posting {plan['rate']}/s, then the kill")

    stop = asyncio.Event()
    posting = asyncio.create_task(sender.post(plan["rate"], stop))
    await asyncio.sleep(plan.get("lead", 1.0))
    c0 = {pid: cpu_seconds(pid) for pid in (survivor_pid,)}
    m0 = machine_busy_seconds()
    storm.killed_at = time.monotonic()
    os.killpg(killed_pid, signal.SIGKILL)
    done = await wait_until(
        lambda: len(storm.dropped) >= expected_drops and all(c.ready for c in clients),
        plan.get("limit", 120.0),
    )
    t_end = time.monotonic()
    stop.set()
    await posting
    out["survivor_cpu_s"] = round(cpu_seconds(survivor_pid) - c0[survivor_pid], 3)
    out["machine_busy_s"] = round(machine_busy_seconds() - m0, 3)
    dropped = [c for c in clients if c.dropped_at is not None]
    caught = [c.caught_up_at for c in dropped if c.caught_up_at is not None]
    storm_s = round(max(caught) - storm.killed_at, 3) if done and caught else None
    log(
        f"storm: {len(dropped)} dropped (expected {expected_drops}), "
        f"{'all caught up' if done else 'NOT all caught up'} after "
        f"{round(t_end - storm.killed_at, 2)} s"
    )

    # Drain: the last posts' echoes, then every client's copies of them.
    await wait_until(lambda: len(storm.posted) >= sender.sent, 10.0)
    by_room: dict[str, set[int]] = {}
    for mid, room in storm.posted.items():
        by_room.setdefault(room, set()).add(mid)

    def missing(c: Client) -> int:
        return sum(len(by_room.get(r, set()) - c.got.keys()) for r in c.rooms)

    await wait_until(lambda: all(missing(c) == 0 for c in clients), plan.get("drain_limit", 15.0))
    storm.stopping = True
    lost = sum(missing(c) for c in clients)
    foreign = sum(len(c.got.keys() - storm.posted.keys()) for c in clients)
    expected = sum(len(by_room.get(r, ())) for c in clients for r in c.rooms)
    duplicates = storm.duplicates_live + storm.duplicates_sync
    attempts: dict[str, int] = {}
    for c in dropped:
        key = str(c.attempts_after_kill)
        attempts[key] = attempts.get(key, 0) + 1
    out.update(
        {
            "ok": True,
            "finished": done,
            "reconnect_storm_s": storm_s,
            "storm_wall_s": round(t_end - storm.killed_at, 3),
            "expected_drops": expected_drops,
            "dropped": len(dropped),
            "drops": sum(c.drops for c in dropped),
            "not_caught_up": sum(not c.ready for c in clients) if not done else 0,
            "reconnected_s": quantiles(
                [c.reconnected_at - storm.killed_at for c in dropped if c.reconnected_at]
            ),
            "caught_up_s": quantiles([t - storm.killed_at for t in caught]),
            "attempts_per_reconnect": dict(sorted(attempts.items(), key=lambda kv: int(kv[0]))),
            "handshake_failures": storm.handshake_failures,
            "heartbeat_drops": storm.heartbeat_drops,
            "sync_requests": storm.sync_requests,
            "messages_sent": sender.sent,
            "messages": len(storm.posted),
            "expected_deliveries": expected,
            "lost": lost,
            "duplicates": duplicates,
            "duplicates_live": storm.duplicates_live,
            "duplicates_sync": storm.duplicates_sync,
            "overlaps": storm.overlaps,
            "foreign": foreign,
            "errors": storm.errors,
        }
    )
    out["valid"] = bool(
        done and storm_s is not None and lost == 0 and duplicates == 0 and foreign == 0
    )
    for c in clients:
        if c.ws is not None:
            c.ws.close()
    if sender.ws is not None:
        sender.ws.close()
    heartbeat.cancel()
    for task in lives:
        task.cancel()
    await asyncio.gather(heartbeat, *lives, return_exceptions=True)
    return out


def main() -> None:
    raise_nofile_limit()
    plan = json.loads(sys.stdin.read())
    result = asyncio.run(run(plan))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
