"""Graceful shutdown: SIGTERM drains a replica instead of dropping its clients."""

import asyncio
import http.client
import urllib.error
import urllib.request

import pytest
import websockets
from asgiref.sync import sync_to_async
from websockets.frames import Close

from chat import presence
from tests.support.live import next_frame, open_socket

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


async def close_of(socket) -> Close | None:
    """The close frame the server sent, once the socket is closed."""
    try:
        while True:
            await socket.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd


def long_poll(replica, token: str) -> str:
    """How a 30 s long poll on the replica ended."""
    request = urllib.request.Request(
        f"{replica.http_url}/api/rooms/general/poll?after=0&timeout=30",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=40) as response:  # noqa: S310
            return f"answered {response.status}"
    except urllib.error.HTTPError as error:
        return f"answered {error.code}"
    except (ConnectionError, urllib.error.URLError, http.client.HTTPException):
        return "connection closed before any response"


async def test_sigterm_drains_the_replica_instead_of_dropping_its_clients(
    start_replicas, make_user, token_for
):
    alice, bob = [await sync_to_async(make_user)(name) for name in ("alice", "bob")]
    tokens = [await sync_to_async(token_for)(user) for user in (alice, bob)]
    leaving, staying = await sync_to_async(start_replicas)(2)
    alice_socket = await open_socket(leaving, tokens[0])
    bob_socket = await open_socket(staying, tokens[1])
    try:
        closed = asyncio.create_task(close_of(alice_socket))
        polling = asyncio.create_task(asyncio.to_thread(long_poll, leaving, tokens[1]))
        await asyncio.sleep(1)  # the poll is waiting on the replica
        exit_code = await asyncio.to_thread(leaving.stop)

        # Sockets get a close frame that says "reconnect now".
        close = await asyncio.wait_for(closed, 10)
        assert close is not None, "the socket was dropped without a close frame"
        assert (close.code, close.reason) == (1012, "server restarting")
        # disconnect() ran: Alice went offline at once, not after the presence sweep.
        gone = await next_frame(bob_socket, "presence", user="alice")
        assert gone["online"] is False
        assert not await sync_to_async(presence.backend().online)([alice.pk])
        # The waiting long poll was cut before any response (nginx retries exactly
        # that elsewhere), rather than waited out for 30 s.
        assert await asyncio.wait_for(polling, 5) == "connection closed before any response"
        assert exit_code == 0, leaving.log_text()
    finally:
        await bob_socket.close()
