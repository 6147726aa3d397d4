"""Roles and profiles across separate replicas: a role changed through replica A's API and
a display name changed on replica A's profile page reach sockets on replica B, which
never reconnect."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat import services
from tests.support.live import (
    Socket,
    WebSession,
    json_request,
    password_for_replicas,
    people_with_tokens,
)

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def people(make_user, token_for):
    return await people_with_tokens(make_user, token_for, ("olga", "bob", "carol"))


@pytest.fixture
async def ops(people):
    """`ops`, private: olga owns it, bob and carol are members."""
    room = await sync_to_async(services.room_create)(
        creator=people["olga"], name="Ops", slug="ops", kind="private"
    )
    for username in ("bob", "carol"):
        await sync_to_async(services.room_invite)(by=people["olga"], room=room, username=username)
    return room


async def test_a_role_changed_through_one_replica_reaches_sockets_on_another(replicas, people, ops):
    one, two = replicas
    bob = await Socket.open(two.ws_url, people["bob"].headers)
    carol = await Socket.open(two.ws_url, people["carol"].headers)

    status, member = await asyncio.to_thread(
        json_request,
        "PATCH",
        f"{one.http_url}/api/rooms/ops/members/bob",
        people["olga"].headers,
        {"role": "moderator"},
    )
    assert (status, member["role"]) == (200, "moderator")
    for socket in (bob, carol):
        frame = await socket.next("member_updated", room="ops")
        assert (frame["user"]["username"], frame["role"]) == ("bob", "moderator")

    status, _ = await asyncio.to_thread(
        json_request,
        "PATCH",
        f"{one.http_url}/api/rooms/ops/members/carol",
        people["olga"].headers,
        {"role": "owner"},
    )
    assert status == 200
    first = await bob.next("member_updated", room="ops")
    second = await bob.next("member_updated", room="ops")
    assert {(f["user"]["username"], f["role"]) for f in (first, second)} == {
        ("olga", "moderator"),
        ("carol", "owner"),
    }
    for socket in (bob, carol):
        await socket.close()


async def test_a_display_name_changed_on_one_replica_reaches_sockets_on_another(
    replicas, people, ops
):
    one, two = replicas
    await sync_to_async(password_for_replicas)(people["carol"], "pw-carol")
    bob = await Socket.open(two.ws_url, people["bob"].headers)
    olga = await Socket.open(one.ws_url, people["olga"].headers)

    profile = WebSession(one.http_url)
    await sync_to_async(profile.sign_in)("carol", "pw-carol")
    status, _ = await sync_to_async(profile.post)(
        "/accounts/profile/", {"display_name": "Carol Diaz"}
    )
    assert status in (200, 302)
    # Both share `ops` and `general` with carol: one frame for each room, in either order.
    for socket in (bob, olga):
        frames = [await socket.next("user_updated") for _ in range(2)]
        assert sorted(f["room"] for f in frames) == ["general", "ops"]
        for frame in frames:
            user = frame["user"]
            assert (user["username"], user["display_name"]) == ("carol", "Carol Diaz")
            assert user["avatar_url"].startswith("/accounts/avatar/carol.svg?v=")
    for socket in (bob, olga):
        await socket.close()
