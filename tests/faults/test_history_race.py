"""A message committed while a socket reads a page appears exactly once: in the page or live.

The page is read and the live subscription made at different moments; a
message committed between the two must be in one of them, never in neither
(lost) and never shown twice. The test commits it from inside the page read,
just before or just after the query, through the real ASGI application.
"""

import pytest
from channels.db import database_sync_to_async

from chat import selectors, services
from tests.consumer.test_protocol import drain

pytestmark = [pytest.mark.django_db(transaction=True)]


def commit_during_page_reads(monkeypatch, room_slug: str, author, when: str) -> list:
    """Make the next page read of the room commit a message just before or after its query."""
    original = selectors.messages_page
    posted: list = []

    def post() -> None:
        room = selectors.room_for_user(user=author, slug=room_slug)
        message, _ = services.message_post(
            user=author, room=room, body="in the gap", client_id="gap"
        )
        posted.append(message.id)

    def page(**kwargs):
        if posted or kwargs["room"].slug != room_slug:
            return original(**kwargs)
        if when == "before":
            post()
        result = original(**kwargs)
        if when == "after":
            post()
        return result

    monkeypatch.setattr(selectors, "messages_page", page)
    return posted


def copies_of(frames: list[dict], message_id: int) -> int:
    """How many times the socket was given this message, in pages or live."""
    count = 0
    for frame in frames:
        if frame["type"] in ("joined", "history"):
            count += sum(1 for m in frame["messages"] if m["id"] == message_id)
        elif frame["type"] == "message":
            count += frame["message"]["id"] == message_id
    return count


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_message_committed_while_joining_a_room_arrives_exactly_once(
    when, make_user, connect, monkeypatch
):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    await database_sync_to_async(services.room_create)(creator=bob, name="Side", slug="side")
    socket = await connect(alice)
    posted = commit_during_page_reads(monkeypatch, "side", bob, when)

    await socket.send_json_to({"type": "join", "room": "side"})
    frames = await drain(socket, quiet=1.0)

    assert [f["type"] for f in frames if f["type"] == "joined"] == ["joined"]
    assert copies_of(frames, posted[0]) == 1


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_message_committed_while_catching_up_arrives_exactly_once(
    when, make_user, connect, monkeypatch
):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    socket = await connect(alice)
    posted = commit_during_page_reads(monkeypatch, "general", bob, when)

    await socket.send_json_to({"type": "history", "room": "general", "after": 0})
    frames = await drain(socket, quiet=1.0)

    assert copies_of(frames, posted[0]) == 1
