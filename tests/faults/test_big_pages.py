"""Pages of the longest messages still fit in a frame daphne will send (at most 1 MiB).

100 messages of 4,000 characters that HTML-escape to four times their length
make a 2 MB page; daphne refuses to send it, so a client could never join the
room or catch up. Pages are cut to 512 KiB and say has_more instead.
"""

import json

import pytest
from channels.db import database_sync_to_async

from chat import selectors, services
from tests.consumer.test_protocol import receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]

MIB = 2**20
LONGEST = "<" * 4000  # "&lt;" in the HTML: 20 KB per message on the wire


@pytest.fixture
def crowded_room(make_user, settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False

    def fill() -> list[int]:
        author = make_user("verbose")
        room = selectors.room_for_user(user=author, slug="general")
        return [
            services.message_post(user=author, room=room, body=LONGEST, client_id=f"v{n}")[0].id
            for n in range(100)
        ]

    return fill


async def test_catching_up_through_pages_of_the_longest_messages_gets_everything(
    crowded_room, make_user, connect
):
    ids = await database_sync_to_async(crowded_room)()
    socket = await connect(await database_sync_to_async(make_user)("reader"))
    got, after = [], 0
    while True:
        await socket.send_json_to({"type": "history", "room": "general", "after": after})
        page = await receive_type(socket, "history")
        assert len(json.dumps(page, ensure_ascii=False).encode()) < MIB
        got += [message["id"] for message in page["messages"]]
        if not page["has_more"]:
            break
        after = page["messages"][-1]["id"]
    assert got == ids


async def test_joining_a_room_of_the_longest_messages_sends_a_page_that_fits(
    crowded_room, make_user, connect
):
    ids = await database_sync_to_async(crowded_room)()
    socket = await connect(await database_sync_to_async(make_user)("joiner"))
    await socket.send_json_to({"type": "join", "room": "general"})
    joined = await receive_type(socket, "joined")
    assert len(json.dumps(joined, ensure_ascii=False).encode()) < MIB
    assert joined["has_more"] is True
    assert [message["id"] for message in joined["messages"]] == ids[-len(joined["messages"]) :]
