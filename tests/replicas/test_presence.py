"""Presence across separate daphne replicas, including one killed with SIGKILL.

A killed replica runs no disconnect(): its users go offline because their
sockets stop being vouched for and a live replica sweeps them. The replicas
here use short presence timings (a socket expires 3 s after its last
heartbeat) so the tests wait seconds, not the production default's 50.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.presence import Timings
from tests.support.live import Socket, bearer

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

FAST = Timings(ttl=3, heartbeat=1, sweep=1)
FAST_ENV = {
    "CHAT_PRESENCE_TTL_SECS": str(FAST.ttl),
    "CHAT_PRESENCE_HEARTBEAT_SECS": str(FAST.heartbeat),
    "CHAT_PRESENCE_SWEEP_SECS": str(FAST.sweep),
}
# How long members may have to wait for a dead replica's user to go offline:
# expiry plus one sweep, and a margin for a loaded test machine.
OFFLINE_WINDOW = FAST.offline_within + 10


@pytest.fixture
async def tokens(make_user, token_for):
    """Bearer tokens of alice and bob, both members of `general`."""
    result = {}
    for name in ("alice", "bob"):
        user = await sync_to_async(make_user)(name)
        result[name] = bearer(await sync_to_async(token_for)(user))
    return result


async def members_of_general(socket: Socket) -> dict[str, bool]:
    joined = await socket.request({"type": "join", "room": "general"})
    return {member["username"]: member["online"] for member in joined["members"]}


def presence_changes(frames: list[dict], username: str) -> list[bool]:
    return [f["online"] for f in frames if f["type"] == "presence" and f["user"] == username]


async def test_presence_follows_the_first_and_last_socket_on_any_replica(start_replicas, tokens):
    one, two = await sync_to_async(start_replicas)(2, **FAST_ENV)
    bob = await Socket.open(two.ws_url, tokens["bob"])
    alice_on_one = await Socket.open(one.ws_url, tokens["alice"])
    await bob.next("presence", user="alice", online=True)

    alice_on_two = await Socket.open(two.ws_url, tokens["alice"])
    await alice_on_one.close()
    await asyncio.sleep(FAST.ttl)  # beyond a heartbeat and an expiry: nothing may flip
    assert presence_changes(await bob.settled(), "alice") == []
    assert (await members_of_general(bob))["alice"] is True

    await alice_on_two.close()
    await bob.next("presence", user="alice", online=False)
    assert (await members_of_general(bob))["alice"] is False
    await bob.close()


async def test_users_of_a_killed_replica_go_offline_for_members_elsewhere(start_replicas, tokens):
    doomed, survivor = await sync_to_async(start_replicas)(2, **FAST_ENV)
    bob = await Socket.open(survivor.ws_url, tokens["bob"])
    alice = await Socket.open(doomed.ws_url, tokens["alice"])
    await bob.next("presence", user="alice", online=True)

    await sync_to_async(doomed.kill)()  # SIGKILL: no disconnect(), no goodbye
    offline = await bob.next("presence", timeout=OFFLINE_WINDOW, user="alice", online=False)
    assert offline["room"] == "general"
    assert (await members_of_general(bob)) == {"alice": False, "bob": True}
    await bob.close()
    await alice.connection.close()


async def test_a_user_also_connected_elsewhere_stays_online_when_a_replica_dies(
    start_replicas, tokens
):
    doomed, survivor = await sync_to_async(start_replicas)(2, **FAST_ENV)
    bob = await Socket.open(survivor.ws_url, tokens["bob"])
    alice_doomed = await Socket.open(doomed.ws_url, tokens["alice"])
    await bob.next("presence", user="alice", online=True)
    alice_elsewhere = await Socket.open(survivor.ws_url, tokens["alice"])

    await sync_to_async(doomed.kill)()
    await asyncio.sleep(FAST.offline_within + 2)  # the dead socket has expired and been swept
    assert presence_changes(await bob.settled(), "alice") == []
    assert (await members_of_general(bob))["alice"] is True

    await alice_elsewhere.close()
    await bob.next("presence", user="alice", online=False)
    await bob.close()
    await alice_doomed.connection.close()
