"""One user floods the service: capped per user across replicas, everyone else unaffected."""

import asyncio
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings

from tests.support.clients import ChatClient, settle, stored_messages

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


async def open_or_refused(url: str, token: str) -> tuple[object, dict, int | None]:
    """(socket, first frame, close code if it was closed at once).

    A handshake daphne dropped unanswered (the application had not accepted it
    within 5 s on a saturated machine) is tried again, as a browser would.
    """
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in range(5):
        try:
            socket = await websockets.connect(url, additional_headers=headers, open_timeout=60)
            break
        except websockets.InvalidMessage:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
    first = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if first["type"] == "hello":
        return socket, first, None
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), 30)
    return socket, first, socket.close_code


async def test_one_user_opening_1000_sockets_across_replicas_gets_the_cap_and_a_clear_error(
    start_replicas, people
):
    mallory, bob = await people("mallory", "bob")
    one, two = await sync_to_async(start_replicas)(2)
    cap = settings.CHAT_MAX_SOCKETS_PER_USER
    gate = asyncio.Semaphore(40)

    async def attempt(n: int):
        async with gate:
            return await open_or_refused((one, two)[n % 2].ws_url, mallory)

    results = await asyncio.gather(*(attempt(n) for n in range(1000)))
    opened = [socket for socket, first, _ in results if first["type"] == "hello"]
    refused = [(first, code) for _, first, code in results if first["type"] != "hello"]
    try:
        assert len(opened) == cap
        assert len(refused) == 1000 - cap
        for first, code in refused:
            assert (first["type"], first["code"], code) == ("error", "rate_limited", 4029)
            assert f"{cap} connections" in first["detail"]

        # Bob, on either replica, chats as usual meanwhile.
        bob_client = await ChatClient([two.ws_url], {"Authorization": f"Bearer {bob}"}).start()
        try:
            message = await bob_client.send("general", "anyone flooding?", "bob-1")
            assert message["author"]["username"] == "bob"
        finally:
            await bob_client.close()

        # Closing one of her sockets frees a place, on any replica.
        await opened.pop().close()
        deadline = time.monotonic() + 10
        while True:
            socket, first, _ = await open_or_refused(one.ws_url, mallory)
            if first["type"] == "hello" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        opened.append(socket)
        assert first["type"] == "hello"
    finally:
        await asyncio.gather(*(socket.close() for socket in opened))


async def test_fifty_messages_a_second_across_replicas_are_capped_and_others_are_unaffected(
    start_replicas, people
):
    mallory, bob = await people("mallory", "bob")
    one, two = await sync_to_async(start_replicas)(2)
    headers = {"Authorization": f"Bearer {mallory}"}
    flooders = [
        await ChatClient([replica.ws_url], headers, name=f"m{n}").start()
        for n, replica in enumerate((one, two))
    ]
    bystander = await ChatClient([two.ws_url], {"Authorization": f"Bearer {bob}"}).start()
    try:

        async def flood(n: int) -> dict:
            await asyncio.sleep(n / 50)  # 50 a second, alternating replicas
            frame = {"type": "send", "room": "general", "body": f"spam {n}", "client_id": f"s{n}"}
            return await flooders[n % 2].request(frame)

        async def chat() -> list[dict]:
            replies = []
            for n in range(4):
                frame = {"type": "send", "room": "general", "body": f"hi {n}", "client_id": f"b{n}"}
                replies.append(await bystander.request(frame))
                await asyncio.sleep(0.5)
            return replies

        started = time.monotonic()
        flood_replies, bob_replies = await asyncio.gather(
            asyncio.gather(*(flood(n) for n in range(100))), chat()
        )
        elapsed = time.monotonic() - started

        accepted = [reply for reply in flood_replies if reply["type"] == "message"]
        refused = [reply for reply in flood_replies if reply["type"] != "message"]
        # The shared bucket: a burst, then the sustained rate, whichever replica is asked.
        ceiling = settings.CHAT_RATE_LIMIT_BURST + settings.CHAT_RATE_LIMIT_PER_SECOND * elapsed
        assert settings.CHAT_RATE_LIMIT_BURST <= len(accepted) <= ceiling + 1
        assert {(reply["type"], reply["code"]) for reply in refused} == {("error", "rate_limited")}
        stored = await sync_to_async(stored_messages)("general")
        assert sum(author == "mallory" for _, author, _ in stored) == len(accepted)

        assert [reply["type"] for reply in bob_replies] == ["message"] * 4
        await settle([bystander])
        held = {message["id"] for message in bystander.held("general")}
        assert {reply["message"]["id"] for reply in accepted} <= held
    finally:
        for client in (*flooders, bystander):
            await client.close()
