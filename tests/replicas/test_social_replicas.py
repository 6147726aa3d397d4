"""Direct and private rooms, typing, membership and session ends across separate replicas.

Every change is made on one replica (or in the admin / by HTTP on one) and
observed by sockets on another, which never reconnect.
"""

import pytest
from asgiref.sync import sync_to_async

from chat import services
from tests.support.live import Socket, WebSession, password_for_replicas, people_with_tokens

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

CLOSE_SESSION_ENDED = 4001


@pytest.fixture
async def people(make_user, token_for):
    """alice, bob and carol with their bearer headers; all members of `general`."""
    return await people_with_tokens(make_user, token_for, ("alice", "bob", "carol"))


def about(frames: list[dict], room: str) -> list[dict]:
    return [f for f in frames if f.get("room") == room or f.get("message", {}).get("room") == room]


async def test_a_direct_conversation_opened_on_one_replica_appears_live_on_another(
    replicas, people
):
    one, two = replicas
    alice = await Socket.open(one.ws_url, people["alice"].headers)
    bob = await Socket.open(two.ws_url, people["bob"].headers)
    carol = await Socket.open(two.ws_url, people["carol"].headers)

    joined = await alice.request({"type": "dm", "username": "bob"})
    slug = joined["room"]
    added = (await bob.next("room_added"))["room"]
    assert (added["slug"], added["kind"], added["peer"]) == (slug, "direct", "alice")

    sent = await alice.request({"type": "send", "room": slug, "body": "psst", "client_id": "a1"})
    assert (await bob.next("message"))["message"]["id"] == sent["message"]["id"]
    await bob.request({"type": "send", "room": slug, "body": "yes?", "client_id": "b1"})
    assert (await alice.next("message"))["message"]["body"] == "yes?"

    for frame in (
        {"type": "join", "room": slug},
        {"type": "history", "room": slug},
        {"type": "send", "room": slug, "body": "me too", "client_id": "c1"},
    ):
        assert (await carol.request(frame))["code"] == "not_found"
    assert about(await carol.settled(), slug) == []
    for socket in (alice, bob, carol):
        await socket.close()


async def test_an_invitee_gets_the_room_live_and_a_removed_member_stops_receiving_everywhere(
    replicas, people
):
    one, two = replicas
    room = await sync_to_async(services.room_create)(
        creator=people["alice"], name="Secret", slug="secret", kind="private"
    )
    alice = await Socket.open(one.ws_url, people["alice"].headers)
    bob_tabs = [
        await Socket.open(one.ws_url, people["bob"].headers),
        await Socket.open(two.ws_url, people["bob"].headers),
    ]

    await sync_to_async(services.room_invite)(by=people["alice"], room=room, username="bob")
    for tab in bob_tabs:
        assert (await tab.next("room_added"))["room"]["slug"] == "secret"
    await alice.request({"type": "send", "room": "secret", "body": "hi", "client_id": "a1"})
    for tab in bob_tabs:
        assert (await tab.next("message"))["message"]["body"] == "hi"

    await sync_to_async(services.member_remove)(by=people["alice"], room=room, username="bob")
    for tab in bob_tabs:
        await tab.next("room_removed", room="secret")
    await alice.next("member_left", room="secret")
    await alice.request({"type": "send", "room": "secret", "body": "bye", "client_id": "a2"})
    await alice.send({"type": "typing", "room": "secret"})
    await alice.settled()
    for tab in bob_tabs:
        assert about(await tab.until_quiet(), "secret") == []
        assert (await tab.request({"type": "history", "room": "secret"}))["code"] == "not_found"
    for socket in (alice, *bob_tabs):
        await socket.close()


async def test_typing_and_membership_changes_reach_members_on_the_other_replica(replicas, people):
    one, two = replicas
    await sync_to_async(services.room_create)(creator=people["alice"], name="Lobby", slug="lobby")
    alice = await Socket.open(one.ws_url, people["alice"].headers)
    carol = await Socket.open(two.ws_url, people["carol"].headers)

    await carol.request({"type": "join", "room": "lobby"})
    joined = await alice.next("member_joined", room="lobby")
    assert (joined["user"]["username"], joined["user"]["online"]) == ("carol", True)

    for _ in range(10):
        await carol.send({"type": "typing", "room": "lobby"})
    await carol.settled()
    typing = [f for f in await alice.until_quiet() if f["type"] == "typing"]
    assert [(f["room"], f["user"]["username"]) for f in typing] == [("lobby", "carol")]
    assert [f for f in await carol.until_quiet() if f["type"] == "typing"] == []

    await carol.request({"type": "leave", "room": "lobby"})
    left = await alice.next("member_left", room="lobby")
    assert left["user"]["username"] == "carol"
    for socket in (alice, carol):
        await socket.close()


async def test_deactivating_in_the_admin_closes_the_users_sockets_on_every_replica(
    replicas, people, make_user
):
    one, two = replicas
    operator = await sync_to_async(make_user)("operator", is_staff=True, is_superuser=True)
    await sync_to_async(password_for_replicas)(operator, "pw-operator")
    carol_tabs = [
        await Socket.open(one.ws_url, people["carol"].headers),
        await Socket.open(two.ws_url, people["carol"].headers),
    ]
    bob = await Socket.open(two.ws_url, people["bob"].headers)

    admin = WebSession(one.http_url)
    # The admin signs in through allauth (secure_admin_login), like every account.
    await sync_to_async(admin.sign_in)("operator", "pw-operator")
    status, _ = await sync_to_async(admin.post)(
        "/admin/auth/user/",
        {"action": "deactivate", "_selected_action": str(people["carol"].pk)},
    )
    assert status == 302
    for tab in carol_tabs:
        assert await tab.close_code() == CLOSE_SESSION_ENDED
    await bob.next("presence", user="carol", online=False)
    assert await bob.is_open()
    await bob.close()


async def test_logout_closes_that_sessions_sockets_on_every_replica_and_no_others(replicas, people):
    one, two = replicas
    await sync_to_async(password_for_replicas)(people["alice"], "pw-alice")
    laptop, phone = WebSession(one.http_url), WebSession(two.http_url)
    for browser in (laptop, phone):
        await sync_to_async(browser.sign_in)("alice", "pw-alice")
    laptop_tabs = [
        await Socket.open(one.ws_url, laptop.socket_headers()),
        await Socket.open(two.ws_url, {**laptop.socket_headers(), "Origin": two.http_url}),
    ]
    phone_tab = await Socket.open(two.ws_url, phone.socket_headers())
    script = await Socket.open(one.ws_url, people["alice"].headers)

    status, _ = await sync_to_async(laptop.post)("/accounts/logout/", {})
    assert status == 302
    for tab in laptop_tabs:
        assert await tab.close_code() == CLOSE_SESSION_ENDED
    assert await phone_tab.is_open()
    assert await script.is_open(), "bearer-token scripts are not a browser session"
    for socket in (phone_tab, script):
        await socket.close()
