"""Private rooms: invitations and removals take effect live, and nothing leaks to outsiders.

Through the real ASGI application and the Redis channel layer.
"""

import pytest

from chat import services
from tests.support.db import call
from tests.support.frames import drain, error_for, receive_type, send, settled

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_an_invitee_gets_the_room_live_and_its_messages_without_reconnecting(
    people, private_room, connect
):
    a, c = await connect(people["alice"]), await connect(people["carol"])
    await call(services.room_invite, by=people["alice"], room=private_room, username="carol")
    added = (await receive_type(c, "room_added"))["room"]
    assert (added["slug"], added["kind"]) == ("secret", "private")
    assert (await receive_type(a, "member_joined"))["user"]["username"] == "carol"

    sent = await send(a, "secret", "welcome, carol", "w1")
    assert (await receive_type(c, "message"))["message"]["id"] == sent["id"]


async def test_only_owners_and_moderators_invite_to_a_private_room(people, private_room):
    with pytest.raises(services.ClientError) as refused:
        await call(services.room_invite, by=people["bob"], room=private_room, username="carol")
    assert refused.value.code == "forbidden"


async def test_a_removed_member_stops_receiving_on_every_socket_at_once(
    people, private_room, connect
):
    a = await connect(people["alice"])
    bob_tabs = [await connect(people["bob"]), await connect(people["bob"])]
    await call(services.member_remove, by=people["alice"], room=private_room, username="bob")
    for tab in bob_tabs:
        assert (await receive_type(tab, "room_removed"))["room"] == "secret"
    assert (await receive_type(a, "member_left"))["user"]["username"] == "bob"

    await send(a, "secret", "now that bob is gone", "g1")
    await a.send_json_to({"type": "typing", "room": "secret"})
    for tab in bob_tabs:
        assert [f for f in await drain(tab) if f.get("room") == "secret"] == []
        assert (await error_for(tab, {"type": "history", "room": "secret"}))["code"] == "not_found"


async def test_no_event_of_a_private_room_reaches_a_non_member(people, private_room, connect):
    a, c = await connect(people["alice"]), await connect(people["carol"])
    b = await connect(people["bob"])
    await send(a, "secret", "members only", "m1")
    await b.send_json_to({"type": "typing", "room": "secret"})
    await call(services.room_archive, by=people["alice"], room=private_room)
    await call(services.member_remove, by=people["alice"], room=private_room, username="bob")
    await settled(a)
    assert [f for f in await drain(c) if f.get("room") == "secret"] == []


async def test_the_owner_cannot_be_removed_and_only_the_owner_removes_moderators(
    people, private_room
):
    from chat.models import Membership

    await call(
        Membership.objects.filter(room=private_room, user=people["bob"]).update, role="moderator"
    )
    await call(services.room_invite, by=people["bob"], room=private_room, username="carol")
    await call(
        Membership.objects.filter(room=private_room, user=people["carol"]).update, role="moderator"
    )
    for target in ("alice", "carol"):
        with pytest.raises(services.ClientError) as refused:
            await call(services.member_remove, by=people["bob"], room=private_room, username=target)
        assert refused.value.code == "forbidden"
    await call(services.member_remove, by=people["alice"], room=private_room, username="carol")
