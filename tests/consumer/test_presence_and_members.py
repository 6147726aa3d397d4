"""Who is online and who is in a room, as members see it live.

Through the real ASGI application and the Redis channel layer; the same
behaviour across separate replicas is in tests/replicas/.
"""

import asyncio

import pytest

from chat import presence, services
from realtime import sockets
from tests.support.db import call
from tests.support.frames import of_type, presence_of, receive_type, settled

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_members_see_a_user_online_from_the_first_socket_until_the_last(people, connect):
    b = await connect(people["bob"])
    first_tab = await connect(people["alice"])
    came = await presence_of(b, "alice")
    assert came == {"type": "presence", "room": "general", "user": "alice", "online": True}

    second_tab = await connect(people["alice"])
    await first_tab.disconnect()
    changes = [f for f in of_type(await settled(b), "presence") if f["user"] == "alice"]
    assert changes == [], "alice is still online in another tab"

    await second_tab.disconnect()
    left = await presence_of(b, "alice")
    assert left == {"type": "presence", "room": "general", "user": "alice", "online": False}


async def test_member_lists_say_who_is_online(people, connect):
    b = await connect(people["bob"])
    await b.send_json_to({"type": "join", "room": "general"})
    members = {m["username"]: m for m in (await receive_type(b, "joined"))["members"]}
    assert members["bob"]["online"] is True
    assert members["alice"]["online"] is False
    assert members["alice"]["avatar_url"] == "/accounts/avatar/alice.svg"

    await connect(people["alice"])
    await b.send_json_to({"type": "join", "room": "general"})
    members = {m["username"]: m for m in (await receive_type(b, "joined"))["members"]}
    assert members["alice"]["online"] is True


async def test_users_of_a_replica_that_stopped_vouching_go_offline(people, connect, settings):
    """A killed replica never runs disconnect(); its sockets expire and any replica sweeps them."""
    settings.CHAT_PRESENCE_TTL_SECS = 0.5
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 0.2
    b = await connect(people["bob"])
    await call(presence.backend().connect, people["alice"].pk, "socket-on-a-dead-replica")
    await asyncio.sleep(0.7)
    await call(sockets.presence_sweep)
    assert await presence_of(b, "alice") == {
        "type": "presence",
        "room": "general",
        "user": "alice",
        "online": False,
    }
    assert await call(presence.backend().online, [people["alice"].pk, people["bob"].pk]) == {
        people["bob"].pk
    }


async def test_members_see_others_join_and_leave(people, connect):
    await call(services.room_create, creator=people["alice"], name="Lobby", slug="lobby")
    a, c = await connect(people["alice"]), await connect(people["carol"])

    await c.send_json_to({"type": "join", "room": "lobby"})
    await receive_type(c, "joined")
    joined = await receive_type(a, "member_joined")
    assert joined["room"] == "lobby"
    assert joined["user"]["username"] == "carol"
    assert joined["user"]["online"] is True
    assert joined["user"]["role"] == "member"

    await c.send_json_to({"type": "leave", "room": "lobby"})
    assert (await receive_type(c, "left"))["room"] == "lobby"
    left = await receive_type(a, "member_left")
    assert (left["room"], left["user"]["username"]) == ("lobby", "carol")
