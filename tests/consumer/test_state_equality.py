"""What a client builds from a page, live frames and `sync` equals a fresh fetch (verify_action).

In the style of Zulip's verify_action: for each kind of change, a client that
loaded the room (its joined page and every thread) and then saw only live
frames, and a client that was disconnected during the change and resynced
with `sync` from its last seq, both end with exactly what a client fetching
everything afresh gets: the main timeline and each thread's page, message
object for message object (seq, reactions, pins, reply counts included).
The client is tests/support/conversation_state.py, which applies frames by the
protocol's client rule and nothing else.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async

from tests.support.conversation_state import Viewer, differences, effect, fresh_view

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOM = "general"


def transport(communicator) -> tuple[Callable, Callable]:
    """(send, receive) over a Channels WebsocketCommunicator; receive never cancels the app."""

    async def receive(timeout: float) -> dict | None:
        if await communicator.receive_nothing(timeout=timeout):
            return None
        return await communicator.receive_json_from()

    return communicator.send_json_to, receive


async def viewer(connect, user, name: str) -> Viewer:
    socket = await connect(user)
    send, receive = transport(socket)
    client = Viewer(send=send, receive=receive, name=name)
    client.take(socket.hello)
    client.socket = socket
    return client


async def post(writer: Viewer, body: str, thread: int | None = None) -> dict:
    frame = {
        "type": "send",
        "room": ROOM,
        "body": body,
        "client_id": f"{body}-{len(writer.frames)}",
    }
    if thread is not None:
        frame["thread"] = thread
    reply = await writer.request(frame)
    assert reply["type"] == "message", reply
    return reply


@dataclass
class Base:
    """The room before the change: two roots, one with a reply and a reaction, one pinned."""

    plan: int
    reply: int
    date: int


async def base_state(writer: Viewer) -> Base:
    plan = (await post(writer, "the plan"))["message"]["id"]
    reply = (await post(writer, "agreed", thread=plan))["message"]["id"]
    date = (await post(writer, "the date"))["message"]["id"]
    await react(writer, plan, "👍", True)
    await pin(writer, date, True)
    return Base(plan=plan, reply=reply, date=date)


async def react(writer: Viewer, message_id: int, emoji: str, on: bool) -> dict:
    frame = {"type": "react", "id": message_id, "emoji": emoji, "on": on}
    return await effect(writer, frame, "reaction", id=message_id, emoji=emoji, on=on)


async def pin(writer: Viewer, message_id: int, on: bool) -> dict:
    frame = {"type": "pin", "id": message_id, "on": on}
    return await effect(writer, frame, "message_pinned", id=message_id, pinned=on)


async def edit(writer: Viewer, message_id: int, body: str) -> dict:
    frame = {"type": "edit", "id": message_id, "body": body}
    return await effect(writer, frame, "message_edited")


async def delete(writer: Viewer, message_id: int) -> dict:
    return await effect(
        writer, {"type": "delete", "id": message_id}, "message_deleted", id=message_id
    )


async def reply_to(writer: Viewer, root: int, parent: int, body: str) -> dict:
    await post(writer, body, thread=parent)
    while (frame := await writer.next())["type"] != "thread_updated" or frame["id"] != root:
        pass
    return frame


async def delete_reply(writer: Viewer, root: int, reply: int) -> dict:
    await delete(writer, reply)
    while (frame := await writer.next())["type"] != "thread_updated" or frame["id"] != root:
        pass
    return frame


# Each kind of change, made by the writer; returns the last frame it produced (its seq).
Change = Callable[[Viewer, Base], Awaitable[dict]]
CHANGES: dict[str, Change] = {
    "post": lambda w, b: post(w, "a new root"),
    "edit": lambda w, b: edit(w, b.plan, "the plan, revised"),
    "delete": lambda w, b: delete(w, b.date),
    "react": lambda w, b: react(w, b.plan, "🎉", True),
    "unreact": lambda w, b: react(w, b.plan, "👍", False),
    "pin": lambda w, b: pin(w, b.plan, True),
    "unpin": lambda w, b: pin(w, b.date, False),
    "thread_reply": lambda w, b: reply_to(w, b.plan, b.plan, "me too"),
    "reply_to_a_reply": lambda w, b: reply_to(w, b.plan, b.reply, "and me"),
    "new_thread": lambda w, b: reply_to(w, b.date, b.date, "which day?"),
    "edit_reply": lambda w, b: edit(w, b.reply, "agreed!"),
    "react_to_reply": lambda w, b: react(w, b.reply, "✅", True),
    "delete_reply": lambda w, b: delete_reply(w, b.plan, b.reply),
}

# Every kind after a first post, in an order that keeps each target alive (the date is
# deleted last; a root with replies is never deleted, which the protocol leaves open).
IN_A_ROW = [
    "edit",
    "react",
    "unreact",
    "pin",
    "unpin",
    "thread_reply",
    "reply_to_a_reply",
    "edit_reply",
    "react_to_reply",
    "delete_reply",
    "delete",
]


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False


@pytest.fixture
async def people(make_user) -> dict:
    return {name: await database_sync_to_async(make_user)(name) for name in ("alice", "bob", "eve")}


async def fetched_afresh(connect, user) -> tuple[dict, int]:
    """A new client's view of the room (timeline and every thread) and the room's seq."""
    fresh = await viewer(connect, user, "fresh")
    seq = fresh.state.seq(ROOM)
    view = await fresh_view(fresh.read_page, ROOM)
    await fresh.socket.disconnect()
    return view, seq


@pytest.mark.parametrize("kind", list(CHANGES))
async def test_a_client_that_stayed_connected_ends_equal_to_a_fresh_fetch(people, connect, kind):
    writer = await viewer(connect, people["alice"], "alice")
    base = await base_state(writer)
    reader = await viewer(connect, people["bob"], "bob")
    await reader.load(ROOM)
    before = reader.state.seq(ROOM)

    last = await CHANGES[kind](writer, base)
    await reader.until_seq(ROOM, last["seq"])

    fresh, seq = await fetched_afresh(connect, people["eve"])
    assert seq == last["seq"] == reader.state.seq(ROOM)
    assert differences(reader.state.view(ROOM), fresh) == []
    live = [s for room, s in reader.state.live_seqs if room == ROOM]
    assert live == list(range(before + 1, seq + 1)), "each change once, in seq order"


@pytest.mark.parametrize("kind", list(CHANGES))
async def test_a_client_away_during_the_change_resyncs_equal_to_a_fresh_fetch(
    people, connect, kind
):
    writer = await viewer(connect, people["alice"], "alice")
    base = await base_state(writer)
    away = await viewer(connect, people["bob"], "bob")
    await away.load(ROOM)
    await away.quiet()
    await away.socket.disconnect()

    last = await CHANGES[kind](writer, base)

    socket = await connect(people["bob"])
    away.reconnected(*transport(socket), socket.hello)
    await away.resync(ROOM)
    await away.quiet()
    fresh, seq = await fetched_afresh(connect, people["eve"])
    assert seq == last["seq"] == away.state.seq(ROOM)
    assert away.syncs[-1]["seq"] == seq
    assert differences(away.state.view(ROOM), fresh) == []

    # The rule makes everything idempotent: the whole history again changes nothing.
    everything = await away.request({"type": "sync", "room": ROOM, "since": 0, "limit": 100})
    assert everything["has_more"] is False
    assert differences(away.state.view(ROOM), fresh) == []


async def test_every_kind_of_change_in_a_row_with_a_client_away_for_half_of_them(people, connect):
    writer = await viewer(connect, people["alice"], "alice")
    base = await base_state(writer)
    live = await viewer(connect, people["bob"], "bob")
    await live.load(ROOM)
    start = live.state.seq(ROOM)
    away = await viewer(connect, people["eve"], "eve")
    await away.load(ROOM)
    await CHANGES["post"](writer, base)
    await away.until_seq(ROOM, writer.state.seq(ROOM))
    await away.socket.disconnect()
    for kind in IN_A_ROW:
        last = await CHANGES[kind](writer, base)

    socket = await connect(people["eve"])
    away.reconnected(*transport(socket), socket.hello)
    calls = await away.resync(ROOM, limit=2)
    assert calls > 1, "the resync was paged"
    for client in (live, away):
        await client.until_seq(ROOM, last["seq"])

    fresh, seq = await fetched_afresh(connect, people["alice"])
    assert seq == last["seq"]
    for client in (live, away):
        assert differences(client.state.view(ROOM), fresh) == [], client.name
    seen_live = [s for room, s in live.state.live_seqs if room == ROOM]
    assert seen_live == list(range(start + 1, seq + 1))
    synced = [c["seq"] for reply in away.syncs for c in reply["changes"]]
    assert synced == sorted(set(synced)), "sync returned each change once, in seq order"
