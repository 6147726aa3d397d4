"""Typing indicators: to the others, throttled, and never about a room one cannot see.

Through the real ASGI application and the Redis channel layer.
"""

import pytest

from tests.support.frames import drain, error_for, of_type, receive_type, settled, still_open

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_typing_reaches_the_others_not_the_sender(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    await a.send_json_to({"type": "typing", "room": "general"})
    typing = await receive_type(b, "typing")
    assert typing["room"] == "general"
    assert typing["user"]["username"] == "alice"
    assert of_type(await settled(a), "typing") == []


async def test_typing_is_throttled_so_a_client_cannot_flood_the_room(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    for _ in range(20):
        await a.send_json_to({"type": "typing", "room": "general"})
    await settled(a)
    assert len(of_type(await drain(b), "typing")) == 1


async def test_typing_in_a_room_one_cannot_see_is_refused_quietly(people, private_room, connect):
    b, c = await connect(people["bob"]), await connect(people["carol"])
    for room in ("secret", ["secret"], None):
        error = await error_for(c, {"type": "typing", "room": room})
        assert error["code"] == "not_found"
    assert await still_open(c)
    assert of_type(await drain(b), "typing") == []
