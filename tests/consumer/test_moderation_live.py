"""Moderation over the socket: who may delete and archive, and the room sees it live.

Through the real ASGI application and the Redis channel layer.
"""

import pytest

from chat import services
from chat.models import Message, Room
from tests.support.db import call
from tests.support.frames import error_for, receive_type, send

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_moderator_deletes_anyones_message_and_the_room_sees_it(
    people, private_room, connect
):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    sent = await send(b, "secret", "something regrettable", "r1")
    await a.send_json_to({"type": "delete", "id": sent["id"]})
    for socket in (a, b):
        deleted = await receive_type(socket, "message_deleted")
        assert deleted == {
            "type": "message_deleted",
            "room": "secret",
            "id": sent["id"],
            "seq": sent["seq"] + 1,
            "thread": None,
        }


async def test_a_plain_member_cannot_delete_someone_elses_message(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    sent = await send(a, "general", "mine", "m1")
    error = await error_for(b, {"type": "delete", "id": sent["id"]})
    assert error["code"] == "forbidden"


async def test_an_archived_room_is_read_only_and_members_see_it_live(people, private_room, connect):
    b = await connect(people["bob"])
    sent = await send(b, "secret", "before the archive", "b1")
    await call(services.room_archive, by=people["alice"], room=private_room)
    updated = await receive_type(b, "room_updated")
    assert (updated["room"], updated["archived"]) == ("secret", True)

    error = await error_for(b, {"type": "send", "room": "secret", "body": "x", "client_id": "b2"})
    assert error["code"] == "forbidden"
    await b.send_json_to({"type": "history", "room": "secret"})
    assert [m["id"] for m in (await receive_type(b, "history"))["messages"]] == [sent["id"]]


async def test_only_moderators_archive(people, private_room):
    with pytest.raises(services.ClientError) as refused:
        await call(services.room_archive, by=people["bob"], room=private_room)
    assert refused.value.code == "forbidden"


async def test_a_socket_that_posted_to_a_room_is_refused_once_it_changed_behind_its_back(
    people, private_room, connect
):
    """A socket keeps the rooms it posts to (no read per post); a room changed in the
    database without any event reaching the socket still refuses its next post."""
    b = await connect(people["bob"])
    first = await send(b, "secret", "kept", "b1")
    await call(lambda: private_room.memberships.filter(user=people["bob"]).delete())
    error = await error_for(b, {"type": "send", "room": "secret", "body": "x", "client_id": "b2"})
    assert error["code"] == "not_found"  # a private room he is not in: hidden
    await call(services.room_invite, by=people["alice"], room=private_room, username="bob")
    again = await send(b, "secret", "back in", "b3")
    assert again["seq"] == first["seq"] + 1

    await call(lambda: Room.objects.filter(pk=private_room.pk).update(slug="hush"))
    error = await error_for(b, {"type": "send", "room": "secret", "body": "y", "client_id": "b4"})
    assert error["code"] == "not_found"
    stored = await call(lambda: list(Message.objects.values_list("client_id", flat=True)))
    assert sorted(stored) == ["b1", "b3"]
