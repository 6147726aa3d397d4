"""A client of GET /api/events that follows the protocol: keep the cursor, apply every frame.

``EventPoller`` holds what such a client shows (a ``ConversationState``) and
every frame it was given, so tests can check that each change arrived once, in
order, and that the result equals a fresh fetch. ``get`` is any way to make the
request (the in-process ASGI client, or a real replica through urllib).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.support.conversation_state import ConversationState

# (query) -> (status, decoded JSON body)
EventsGet = Callable[[dict], Awaitable[tuple[int, dict]]]

SEQ_FRAMES = {
    "message",
    "message_edited",
    "message_deleted",
    "thread_updated",
    "reaction",
    "message_pinned",
}


@dataclass
class EventPoller:
    get: EventsGet
    cursor: str | None = None
    frames: list[dict] = field(default_factory=list)
    state: ConversationState = field(default_factory=ConversationState)

    async def start(self) -> None:
        """The first poll: no cursor, answered at once with the current one."""
        answer = await self.poll(timeout=0)
        assert answer == [], "a poll without a cursor answers with no frames"

    async def poll(self, timeout: float = 10) -> list[dict]:
        query = {"timeout": timeout, **({"cursor": self.cursor} if self.cursor else {})}
        status, body = await self.get(query)
        assert status == 200, (status, body)
        self.cursor = body["cursor"]
        self.frames.extend(body["events"])
        for frame in body["events"]:
            self.state.apply(frame)
        return body["events"]

    async def poll_until(self, done: Callable[[], bool], polls: int = 20) -> None:
        """Poll (each waiting up to 10 s) until ``done()``; fail after ``polls`` answers."""
        for _ in range(polls):
            if done():
                return
            await self.poll()
        assert done(), f"not there after {polls} polls; frames: {self.frames[-5:]}"

    def of_type(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame["type"] == kind]

    def seqs(self, slug: str) -> list[int]:
        """Every seq this client was handed for the room: live frames' and synced pages'."""
        seqs: list[int] = []
        for frame in self.frames:
            if frame["type"] in SEQ_FRAMES and _room_of(frame) == slug:
                seqs.append(frame["seq"])
            elif frame["type"] == "synced" and frame["room"] == slug:
                seqs.extend(change["seq"] for change in frame["changes"])
        return seqs


def _room_of(frame: dict) -> str:
    return frame["message"]["room"] if "message" in frame else frame["room"]
