"""A client's view of conversations, built exactly as the protocol's client rule says.

The conversations protocol (issue 14): ``ConversationState`` takes pages
(``joined``, ``history``), live frames and ``synced`` replies, and keeps per
message the ``seq`` of its last change: a frame about a message is applied only
if its ``seq`` is greater, and deltas (``reaction``, ``message_pinned``,
``thread_updated``) about a message it does not hold are ignored. Deleted
messages are kept as tombstones, so a stale copy arriving later (a page read
before the delete) cannot bring them back. ``view(room)`` is what the client
shows: the main timeline (roots) and each thread's replies, which tests compare
with a fresh fetch (``fresh_view``).
"""

import copy
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

# (room, thread or None, before or None) -> one history page {messages, has_more, root?}
PageReader = Callable[[str, int | None, int | None], Awaitable[dict]]

# Live frames about one message of a room, and the ones that change nothing here.
MESSAGE_FRAMES = {"message", "message_edited"}
DELTA_FRAMES = {"reaction", "message_pinned", "thread_updated"}
# Only the first this many users of a reaction are listed on the message object.
REACTION_USERS_SHOWN = 20


@dataclass
class RoomState:
    seq: int = 0
    # message id -> message object, or a tombstone {id, room, deleted: True, seq, thread}
    messages: dict[int, dict] = field(default_factory=dict)


@dataclass
class ConversationState:
    rooms: dict[str, RoomState] = field(default_factory=dict)
    # every (room, seq) of a live frame applied or skipped, in arrival order
    live_seqs: list[tuple[str, int]] = field(default_factory=list)

    def room(self, slug: str) -> RoomState:
        return self.rooms.setdefault(slug, RoomState())

    def seq(self, slug: str) -> int:
        return self.room(slug).seq

    def _saw(self, slug: str, seq: int) -> None:
        state = self.room(slug)
        state.seq = max(state.seq, seq)

    # What the server sends
    # --------------------------------------------------------------------------

    def apply(self, frame: dict) -> None:
        """Any frame from the server; the ones not about messages are ignored."""
        kind = frame.get("type")
        if kind == "hello":
            # Only rooms new to this client: after a reconnect the cursor it kept is
            # where its `sync` starts, and the new hello's seq would skip the gap.
            for room in frame["rooms"]:
                if room["slug"] not in self.rooms:
                    self._saw(room["slug"], room["seq"])
        elif kind == "joined":
            self._saw(frame["room"], frame["info"]["seq"])
            self.page(frame["room"], frame["messages"])
        elif kind == "history":
            self.page(frame["room"], frame["messages"])
            if frame.get("root"):
                self.page(frame["room"], [frame["root"]])
        elif kind == "synced":
            self.synced(frame)
        elif kind in MESSAGE_FRAMES:
            room = frame["message"]["room"]
            self.live_seqs.append((room, frame["seq"]))
            self._message(room, frame["message"], frame["seq"])
            self._saw(room, frame["seq"])
        elif kind == "message_deleted":
            self.live_seqs.append((frame["room"], frame["seq"]))
            self._tombstone(
                frame["room"],
                {
                    "id": frame["id"],
                    "room": frame["room"],
                    "deleted": True,
                    "seq": frame["seq"],
                    "thread": frame["thread"],
                },
            )
            self._saw(frame["room"], frame["seq"])
        elif kind in DELTA_FRAMES:
            self.live_seqs.append((frame["room"], frame["seq"]))
            self._delta(frame)
            self._saw(frame["room"], frame["seq"])

    def page(self, slug: str, messages: list[dict]) -> None:
        """Messages from a page: kept unless what is held is as new or newer."""
        for message in messages:
            self._message(slug, message, message["seq"])

    def synced(self, frame: dict) -> None:
        slug = frame["room"]
        for change in frame["changes"]:
            if change.get("deleted"):
                self._tombstone(slug, change)
            else:
                self._message(slug, change, change["seq"])
        self._saw(slug, frame["seq"])

    def _newer(self, slug: str, message_id: int, seq: int) -> bool:
        held = self.room(slug).messages.get(message_id)
        return held is None or seq > held["seq"]

    def _message(self, slug: str, message: dict, seq: int) -> None:
        if self._newer(slug, message["id"], seq):
            self.room(slug).messages[message["id"]] = {**copy.deepcopy(message), "seq": seq}

    def _tombstone(self, slug: str, tombstone: dict) -> None:
        if self._newer(slug, tombstone["id"], tombstone["seq"]):
            self.room(slug).messages[tombstone["id"]] = dict(tombstone)

    def _delta(self, frame: dict) -> None:
        held = self.room(frame["room"]).messages.get(frame["id"])
        if held is None or held.get("deleted") or frame["seq"] <= held["seq"]:
            return
        held["seq"] = frame["seq"]
        kind = frame["type"]
        if kind == "thread_updated":
            held["reply_count"] = frame["reply_count"]
            held["last_reply_at"] = frame["last_reply_at"]
        elif kind == "message_pinned":
            held["pinned"] = frame["pinned"]
        else:
            _react(held["reactions"], frame["emoji"], frame["user"], frame["on"])

    # What the client shows
    # --------------------------------------------------------------------------

    def view(self, slug: str) -> dict:
        """{"timeline": [roots by id], "threads": {root id: [replies by id]}}, no tombstones."""
        held = [m for _, m in sorted(self.room(slug).messages.items()) if not m.get("deleted")]
        return _view(held)


def _react(reactions: list[dict], emoji: str, user: str, on: bool) -> None:
    entry = next((r for r in reactions if r["emoji"] == emoji), None)
    if on:
        if entry is None:
            reactions.append({"emoji": emoji, "count": 1, "users": [user]})
        elif user not in entry["users"]:
            entry["count"] += 1
            if len(entry["users"]) < REACTION_USERS_SHOWN:
                entry["users"].append(user)
    elif entry is not None and user in entry["users"]:
        entry["users"].remove(user)
        entry["count"] -= 1
        if entry["count"] == 0:
            reactions.remove(entry)


def _view(messages: list[dict]) -> dict:
    timeline = [m for m in messages if m["thread"] is None]
    threads: dict[int, list[dict]] = {}
    for message in messages:
        if message["thread"] is not None:
            threads.setdefault(message["thread"], []).append(message)
    return {"timeline": timeline, "threads": threads}


async def read_all(read_page: PageReader, slug: str, thread: int | None = None) -> list[dict]:
    """Every message of the main timeline (or of one thread), paging back to the start."""
    messages: list[dict] = []
    before = None
    while True:
        page = await read_page(slug, thread, before)
        messages = page["messages"] + messages
        if not page["has_more"] or not page["messages"]:
            return messages
        before = page["messages"][0]["id"]


async def fresh_view(read_page: PageReader, slug: str) -> dict:
    """What a client that has never been away fetches: the timeline and every thread."""
    timeline = await read_all(read_page, slug)
    threads = {}
    for root in timeline:
        replies = await read_all(read_page, slug, root["id"])
        if replies:
            threads[root["id"]] = replies
    return {"timeline": timeline, "threads": threads}


def differences(held: dict, fresh: dict) -> list[str]:
    """Readable differences between two views (empty when they are equal)."""
    problems = []

    def compare(where: str, mine: list[dict], theirs: list[dict]) -> None:
        mine_by_id = {m["id"]: m for m in mine}
        theirs_by_id = {m["id"]: m for m in theirs}
        for missing in sorted(theirs_by_id.keys() - mine_by_id.keys()):
            problems.append(f"{where}: the client lacks #{missing}")
        for extra in sorted(mine_by_id.keys() - theirs_by_id.keys()):
            problems.append(f"{where}: the client still holds #{extra}")
        for message_id in sorted(mine_by_id.keys() & theirs_by_id.keys()):
            a, b = mine_by_id[message_id], theirs_by_id[message_id]
            for key in sorted(a.keys() | b.keys()):
                if a.get(key) != b.get(key):
                    problems.append(
                        f"{where} #{message_id}.{key}: client {a.get(key)!r}, fresh {b.get(key)!r}"
                    )

    compare("timeline", held["timeline"], fresh["timeline"])
    for root in sorted(held["threads"].keys() | fresh["threads"].keys()):
        compare(f"thread {root}", held["threads"].get(root, []), fresh["threads"].get(root, []))
    return problems


# A client over any socket
# ------------------------------------------------------------------------------

# send(frame); receive(timeout) -> the next frame, or None if none came in time
Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[float], Awaitable[dict | None]]


@dataclass
class Viewer:
    """A client applying every frame it receives to its ``ConversationState``."""

    send: Send
    receive: Receive
    name: str = "viewer"
    state: ConversationState = field(default_factory=ConversationState)
    frames: list[dict] = field(default_factory=list)
    # every `synced` reply, to account for the seqs a client got by sync
    syncs: list[dict] = field(default_factory=list)
    _refs: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _resume: dict[str, int] = field(default_factory=dict)

    def take(self, frame: dict) -> None:
        self.frames.append(frame)
        self.state.apply(frame)
        if frame["type"] == "synced":
            self.syncs.append(frame)

    def reconnected(self, send: Send, receive: Receive, hello: dict) -> None:
        """The same client on a new socket: its state kept, each room's cursor noted.

        `sync` starts from the cursor held when the old socket went away: live frames
        on the new socket may move the room's max seq past changes not yet synced.
        """
        self.send, self.receive = send, receive
        self._resume = {slug: room.seq for slug, room in self.state.rooms.items()}
        self.take(hello)

    async def next(self, timeout: float = 10) -> dict:
        frame = await self.receive(timeout)
        if frame is None:
            raise TimeoutError(f"{self.name}: nothing arrived within {timeout} s")
        self.take(frame)
        return frame

    async def request(self, frame: dict, timeout: float = 10) -> dict:
        """Send with a ref; the reply echoing it (every frame meanwhile is applied too)."""
        ref = f"{self.name}-{next(self._refs)}"
        await self.send({**frame, "ref": ref})
        while (reply := await self.next(timeout)).get("ref") != ref:
            pass
        return reply

    async def read_page(self, slug: str, thread: int | None, before: int | None) -> dict:
        frame: dict = {"type": "history", "room": slug, "limit": 100}
        if thread is not None:
            frame["thread"] = thread
        if before is not None:
            frame["before"] = before
        page = await self.request(frame)
        assert page["type"] == "history", f"{self.name}: {frame} -> {page}"
        return page

    async def load(self, slug: str) -> None:
        """Open the room (its joined page) and every thread it shows, as a reader would."""
        joined = await self.request({"type": "join", "room": slug})
        assert joined["type"] == "joined", joined
        for root in joined["messages"]:
            if root["reply_count"]:
                await read_all(self.read_page, slug, root["id"])

    async def until_seq(self, slug: str, seq: int, timeout: float = 10) -> None:
        """Apply frames until the room's cursor reaches seq, then until the socket is quiet."""
        while self.state.seq(slug) < seq:
            await self.next(timeout)
        await self.quiet()

    async def quiet(self, quiet: float = 0.3) -> None:
        while (frame := await self.receive(quiet)) is not None:
            self.take(frame)

    async def resync(self, slug: str, limit: int | None = None) -> int:
        """`sync` from the kept cursor until has_more is false; how many calls it took."""
        since, calls = self._resume.pop(slug, self.state.seq(slug)), 0
        while True:
            frame: dict = {"type": "sync", "room": slug, "since": since}
            if limit is not None:
                frame["limit"] = limit
            reply = await self.request(frame)
            assert reply["type"] == "synced", f"{self.name}: {frame} -> {reply}"
            calls += 1
            since = reply["seq"]
            if not reply["has_more"]:
                return calls
            assert calls < 1000, "sync never ends"


async def effect(writer: Viewer, frame: dict, wanted: str, **match) -> dict:
    """Send a command; the frame of its effect the writer receives (a refusal fails)."""
    ref = f"{writer.name}-effect-{len(writer.frames)}"
    await writer.send({**frame, "ref": ref})
    while True:
        got = await writer.next()
        if got["type"] == "error" and got.get("ref") == ref:
            raise AssertionError(f"{frame} was refused: {got}")
        if got["type"] == wanted and all(got.get(k) == v for k, v in match.items()):
            return got
