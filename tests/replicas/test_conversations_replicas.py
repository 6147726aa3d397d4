"""Conversations across separate replicas: every change reaches every client exactly once.

Two clients on two daphne replicas (one Redis, one PostgreSQL) hold the room as
the protocol's client rule builds it (tests/support/conversation_state.py);
a third person changes the room in every way, through a socket on one replica
and the HTTP API of the other. One client is disconnected midway, comes back
on the other replica and resyncs with `sync`. Both end equal to a fresh fetch,
and every seq of the room reached each client once: live, or through `sync`
(where a message's later change stands for its earlier ones).
"""

import asyncio
import json
from urllib.parse import quote

import pytest
import websockets
from asgiref.sync import sync_to_async

from tests.support.conversation_state import Viewer, differences, effect, fresh_view
from tests.support.live import json_request

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

ROOM = "general"


class Api:
    """The writer's HTTP API on one replica."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url, self.headers = base_url, headers

    async def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 204)):
        status, payload = await asyncio.to_thread(
            json_request, method, self.base_url + path, self.headers, body
        )
        assert status in ok, f"{method} {path} {body}: {status} {payload}"
        return payload

    async def seq(self) -> int:
        return (await self.call("GET", f"/api/rooms/{ROOM}"))["seq"]

    async def read_page(self, slug: str, thread: int | None, before: int | None) -> dict:
        query = "limit=100" + (f"&thread={thread}" if thread else "")
        query += f"&before={before}" if before else ""
        return await self.call("GET", f"/api/rooms/{slug}/messages?{query}")


async def open_viewer(url: str, headers: dict[str, str], name: str) -> tuple[Viewer, object]:
    connection = await websockets.connect(url, additional_headers=headers, open_timeout=10)
    hello = json.loads(await asyncio.wait_for(connection.recv(), 10))
    assert hello["type"] == "hello", hello
    client = Viewer(*transport(connection), name=name)
    client.take(hello)
    return client, connection


def transport(connection):
    async def send(frame: dict) -> None:
        await connection.send(json.dumps(frame))

    async def receive(timeout: float) -> dict | None:
        try:
            return json.loads(await asyncio.wait_for(connection.recv(), timeout))
        except TimeoutError:
            return None

    return send, receive


async def post(writer: Viewer, body: str, thread: int | None = None) -> int:
    frame = {"type": "send", "room": ROOM, "body": body, "client_id": body}
    if thread is not None:
        frame["thread"] = thread
    reply = await writer.request(frame)
    assert reply["type"] == "message", reply
    return reply["message"]["id"]


SEQ_FRAMES = {
    "message",
    "message_edited",
    "message_deleted",
    "reaction",
    "message_pinned",
    "thread_updated",
}


def seq_owner(frame: dict) -> tuple[str, int]:
    """(room, message) a live frame is about (thread_updated: its root)."""
    if "message" in frame:
        return frame["message"]["room"], frame["message"]["id"]
    return frame["room"], frame["id"]


async def test_two_replicas_every_kind_of_change_and_a_resync_on_the_other_replica(
    start_replicas, people
):
    one, two = await sync_to_async(start_replicas)(2, CHAT_RATE_LIMIT_ENABLED="0")
    carol, carol_socket = await open_viewer(one.ws_url, people["carol"].headers, "carol")
    api = Api(two.http_url, people["carol"].headers)
    connections = [carol_socket]
    try:
        # Before anyone looks: two roots, a thread, a reaction.
        plan = await post(carol, "the plan")
        date = await post(carol, "the date")
        reply = (
            await api.call("POST", f"/api/rooms/{ROOM}/messages", {"body": "ok", "thread": plan})
        )["id"]
        await api.call("POST", f"/api/messages/{plan}/reactions", {"emoji": "👍"})

        alice, connection = await open_viewer(one.ws_url, people["alice"].headers, "alice")
        connections.append(connection)
        bob, bob_connection = await open_viewer(two.ws_url, people["bob"].headers, "bob")
        connections.append(bob_connection)
        for client in (alice, bob):
            await client.load(ROOM)
        start = await api.seq()
        assert alice.state.seq(ROOM) == bob.state.seq(ROOM) == start

        # Phase one, both watching: socket and API changes interleaved.
        await effect(carol, {"type": "edit", "id": plan, "body": "the plan, v2"}, "message_edited")
        await api.call("PUT", f"/api/messages/{date}/pin")
        await effect(
            carol, {"type": "react", "id": date, "emoji": "🎉", "on": True}, "reaction", id=date
        )
        extra = (await api.call("POST", f"/api/rooms/{ROOM}/messages", {"body": "aside"}))["id"]
        target = await api.seq()
        for client in (alice, bob):
            await client.until_seq(ROOM, target)
        await bob_connection.close()

        # Phase two, bob away: every other kind of change, through both ways in.
        await post(carol, "me too", thread=reply)  # a reply to a reply: plan's thread
        await api.call("POST", f"/api/messages/{reply}/reactions", {"emoji": "✅"})
        await api.call("PATCH", f"/api/messages/{reply}", {"body": "ok!"})
        await effect(carol, {"type": "pin", "id": date, "on": False}, "message_pinned", id=date)
        await api.call("DELETE", f"/api/messages/{plan}/reactions/{quote('👍', safe='')}")
        await effect(carol, {"type": "pin", "id": plan, "on": True}, "message_pinned", id=plan)
        await api.call("DELETE", f"/api/messages/{extra}")
        new_thread = await post(carol, "which day?", thread=date)
        await api.call("PATCH", f"/api/messages/{date}", {"body": "the date: friday"})
        await effect(carol, {"type": "delete", "id": new_thread}, "message_deleted")
        away_until = await api.seq()
        await alice.until_seq(ROOM, away_until)

        # bob comes back on the other replica and resyncs, a few changes per call.
        connection = await websockets.connect(
            one.ws_url, additional_headers=people["bob"].headers, open_timeout=10
        )
        connections.append(connection)
        hello = json.loads(await asyncio.wait_for(connection.recv(), 10))
        bob.reconnected(*transport(connection), hello)
        assert await bob.resync(ROOM, limit=3) > 1
        assert bob.syncs[-1]["seq"] == away_until

        # Phase three, both watching again.
        await api.call("POST", f"/api/rooms/{ROOM}/messages", {"body": "later", "thread": plan})
        await effect(
            carol, {"type": "react", "id": date, "emoji": "🎉", "on": False}, "reaction", id=date
        )
        end = await api.seq()
        for client in (alice, bob):
            await client.until_seq(ROOM, end)

        fresh_client, connection = await open_viewer(two.ws_url, people["dave"].headers, "dave")
        connections.append(connection)
        fresh = await fresh_view(fresh_client.read_page, ROOM)
        for client in (alice, bob):
            assert differences(client.state.view(ROOM), fresh) == [], client.name
        over_http = await fresh_view(api.read_page, ROOM)
        assert differences(over_http, fresh) == [], "the API's messages are the socket's"

        # Every seq once: alice saw them all live; bob live, or through sync.
        owner = {
            f["seq"]: seq_owner(f)[1]
            for f in alice.frames
            if f["type"] in SEQ_FRAMES and seq_owner(f)[0] == ROOM
        }
        alice_live = [s for room, s in alice.state.live_seqs if room == ROOM]
        assert len(alice_live) == len(set(alice_live)), "a live frame came twice"
        # Changes made just before she looked may reach her replica's relay after her
        # socket listens (pub/sub takes milliseconds): live too, and in her page.
        assert [s for s in alice_live if s > start] == list(range(start + 1, end + 1))
        assert all(s <= start for s in alice_live[: len(alice_live) - (end - start)])
        bob_live = [s for room, s in bob.state.live_seqs if room == ROOM]
        assert len(bob_live) == len(set(bob_live)), "a live frame came twice"
        synced = {c["seq"]: c["id"] for reply in bob.syncs for c in reply["changes"]}
        assert not set(bob_live) & set(synced), "a change came both live and through sync"
        for seq in range(start + 1, end + 1):
            covered = seq in bob_live or any(
                message_id == owner[seq] and later >= seq for later, message_id in synced.items()
            )
            assert covered, f"bob never learnt of seq {seq} (message {owner[seq]})"
        assert all(start < s <= away_until for s in synced)
    finally:
        for connection in connections:
            await connection.close()
