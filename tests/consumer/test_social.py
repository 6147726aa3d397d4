"""Presence, members, typing, direct and private rooms, moderation: what members see live.

Through the real ASGI application and the Redis channel layer; the same
behaviour across separate replicas is in tests/replicas/.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat import presence, services, sessions
from chat.events import CLOSE_SESSION_ENDED
from tests.support.frames import drain, receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]


# Helpers
# ------------------------------------------------------------------------------


async def settled(socket) -> list[dict]:
    """Everything the socket was sent before now: a ping's pong comes after it all."""
    await socket.send_json_to({"type": "ping", "ref": "settle"})
    frames = []
    while (frame := await socket.receive_json_from(timeout=5)).get("ref") != "settle":
        frames.append(frame)
    return frames


async def still_open(socket) -> bool:
    await socket.send_json_to({"type": "ping", "ref": "alive"})
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return False
        if '"ref":"alive"' in output.get("text", ""):
            return True


async def close_code(socket) -> int:
    """Wait for the server to close the socket; its close code.

    The client then completes the closing handshake, as a browser does (daphne
    reports it to the consumer as `websocket.disconnect`).
    """
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            await socket.disconnect(code=output.get("code"))
            return output.get("code")


async def presence_of(socket, username: str, timeout: float = 5) -> dict:
    """The next presence change of that user (one's own sockets hear about oneself too)."""
    while (frame := await receive_type(socket, "presence", timeout))["user"] != username:
        pass
    return frame


def of_type(frames: list[dict], wanted: str) -> list[dict]:
    return [f for f in frames if f["type"] == wanted]


async def call(func, *args, **kwargs):
    return await database_sync_to_async(func)(*args, **kwargs)


async def send(socket, room: str, body: str, client_id: str) -> dict:
    await socket.send_json_to({"type": "send", "room": room, "body": body, "client_id": client_id})
    return (await receive_type(socket, "message"))["message"]


async def error_for(socket, frame: dict) -> dict:
    await socket.send_json_to(frame)
    return await receive_type(socket, "error")


@pytest.fixture
async def people(make_user):
    """alice, bob and carol, onboarded (members of `general`)."""
    return {name: await call(make_user, name) for name in ("alice", "bob", "carol")}


@pytest.fixture
async def private_room(people):
    """`secret`, a private room alice owns where bob is a member; carol is not."""
    room = await call(
        services.room_create, creator=people["alice"], name="Secret", slug="secret", kind="private"
    )
    await call(services.room_invite, by=people["alice"], room=room, username="bob")
    return room


# Presence
# ------------------------------------------------------------------------------


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
    await call(sessions.presence_sweep)
    assert await presence_of(b, "alice") == {
        "type": "presence",
        "room": "general",
        "user": "alice",
        "online": False,
    }
    assert await call(presence.backend().online, [people["alice"].pk, people["bob"].pk]) == {
        people["bob"].pk
    }


# Members and typing
# ------------------------------------------------------------------------------


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


# Direct conversations
# ------------------------------------------------------------------------------


async def test_a_direct_conversation_appears_live_for_the_other_user(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    await a.send_json_to({"type": "dm", "username": "bob", "ref": "d"})
    joined = await receive_type(a, "joined")
    assert joined["ref"] == "d"
    assert joined["info"]["kind"] == "direct"
    assert {m["username"] for m in joined["members"]} == {"alice", "bob"}

    added = (await receive_type(b, "room_added"))["room"]
    assert (added["slug"], added["kind"], added["peer"]) == (joined["room"], "direct", "alice")

    sent = await send(a, joined["room"], "just between us", "dm1")
    assert (await receive_type(b, "message"))["message"]["id"] == sent["id"]


async def test_opening_a_direct_conversation_again_finds_the_same_room(people, connect):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    await a.send_json_to({"type": "dm", "username": "bob"})
    first = (await receive_type(a, "joined"))["room"]
    for socket in (a, b):
        assert (await receive_type(socket, "room_added"))["room"]["slug"] == first
    await b.send_json_to({"type": "dm", "username": "alice"})
    assert (await receive_type(b, "joined"))["room"] == first
    assert of_type(await drain(a), "room_added") == []


async def test_a_third_user_can_neither_join_read_nor_post_in_a_direct_room(people, connect):
    room, _ = await call(services.direct_room_open, user=people["alice"], username="bob")
    a, c = await connect(people["alice"]), await connect(people["carol"])
    for frame in (
        {"type": "join", "room": room.slug},
        {"type": "history", "room": room.slug},
        {"type": "send", "room": room.slug, "body": "hi", "client_id": "c1"},
        {"type": "typing", "room": room.slug},
        {"type": "read", "room": room.slug, "message_id": 1},
    ):
        error = await error_for(c, frame)
        missing = await error_for(c, {**frame, "room": "dm-no-such-room"})
        assert (error["code"], error["detail"]) == ("not_found", missing["detail"])
    await send(a, room.slug, "private words", "a1")
    assert of_type(await drain(c), "message") == []


@pytest.mark.parametrize(
    ("username", "code"), [("alice", "invalid"), ("nobody", "not_found"), ("", "invalid")]
)
async def test_direct_conversations_need_another_existing_user(people, connect, username, code):
    a = await connect(people["alice"])
    assert (await error_for(a, {"type": "dm", "username": username}))["code"] == code


async def test_no_direct_conversation_with_a_deactivated_user(people, connect):
    from accounts.services import user_deactivate

    await call(user_deactivate, user=people["carol"])
    a = await connect(people["alice"])
    assert (await error_for(a, {"type": "dm", "username": "carol"}))["code"] == "not_found"


# Private rooms
# ------------------------------------------------------------------------------


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


# Moderation
# ------------------------------------------------------------------------------


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


# Moderation in the admin: the same services, so the same live events
# ------------------------------------------------------------------------------


@pytest.fixture
async def admin_client(make_user):
    await call(make_user, "operator", is_staff=True, is_superuser=True)
    client = Client()
    assert await call(client.login, username="operator", password="pw-operator")
    return client


async def test_the_admin_deletes_a_message_live(people, connect, admin_client):
    a, b = await connect(people["alice"]), await connect(people["bob"])
    sent = await send(a, "general", "spam", "s1")
    response = await call(
        admin_client.post,
        "/admin/chat/message/",
        {"action": "soft_delete", "_selected_action": [sent["id"]]},
    )
    assert response.status_code == 302
    assert (await receive_type(b, "message_deleted"))["id"] == sent["id"]


async def test_the_admin_removes_a_member_live(people, private_room, connect, admin_client):
    from chat.models import Membership

    b = await connect(people["bob"])
    membership = await call(Membership.objects.get, room=private_room, user=people["bob"])
    response = await call(
        admin_client.post, f"/admin/chat/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert (await receive_type(b, "room_removed"))["room"] == "secret"
    assert not await call(Membership.objects.filter(pk=membership.pk).exists)


async def test_the_admin_archives_a_room_live(people, private_room, connect, admin_client):
    b = await connect(people["bob"])
    response = await call(
        admin_client.post,
        "/admin/chat/room/",
        {"action": "archive", "_selected_action": [private_room.pk]},
    )
    assert response.status_code == 302
    assert (await receive_type(b, "room_updated"))["archived"] is True


async def test_deleting_a_room_in_the_admin_removes_it_from_members_live(
    people, private_room, connect, admin_client
):
    b = await connect(people["bob"])
    response = await call(
        admin_client.post, f"/admin/chat/room/{private_room.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert (await receive_type(b, "room_removed"))["room"] == "secret"


# Deactivation and logout
# ------------------------------------------------------------------------------


async def test_deactivating_a_user_closes_all_their_sockets_and_only_theirs(
    people, connect, token_for
):
    from accounts.services import user_deactivate
    from project.asgi import application

    token = await call(token_for, people["carol"])
    c1, c2 = await connect(people["carol"]), await connect(people["carol"])
    b = await connect(people["bob"])
    await call(user_deactivate, user=people["carol"])
    assert [await close_code(c1), await close_code(c2)] == [CLOSE_SESSION_ENDED] * 2
    # (bob may first hear of carol coming online: his socket joined the room's
    # group while that announcement was still on its way to this process)
    while (await presence_of(b, "carol"))["online"]:
        pass
    assert await still_open(b)

    again = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await again.connect(timeout=5)
    assert not connected, "a deactivated user's token opens no socket"


async def test_deactivating_in_the_admin_user_form_closes_the_sockets(
    people, connect, admin_client
):
    c = await connect(people["carol"])
    user = people["carol"]
    form = {
        "username": "carol",
        "email": user.email,
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(await call(lambda: user.profile.pk)),
        "profile-0-user": str(user.pk),
        "profile-0-display_name": "",
    }  # is_active left unticked
    response = await call(admin_client.post, f"/admin/auth/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert await close_code(c) == CLOSE_SESSION_ENDED


async def test_turning_is_active_off_anywhere_closes_the_sockets(people, connect):
    c = await connect(people["carol"])
    user = people["carol"]
    user.is_active = False
    await call(user.save)
    assert await close_code(c) == CLOSE_SESSION_ENDED


async def test_saving_an_active_user_closes_nothing(people, connect):
    c = await connect(people["carol"])
    user = people["carol"]
    user.first_name = "Carol"
    await call(user.save)
    assert await still_open(c)


async def cookie_socket(client: Client) -> WebsocketCommunicator:
    from project.asgi import application

    socket = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
        ],
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
    return socket


async def test_logout_closes_that_sessions_sockets_only(people, connect):
    laptop, phone = Client(), Client()
    for client in (laptop, phone):
        assert await call(client.login, username="alice", password="pw-alice")
    laptop_tabs = [await cookie_socket(laptop), await cookie_socket(laptop)]
    phone_tab = await cookie_socket(phone)
    script = await connect(people["alice"])
    try:
        response = await call(laptop.post, "/accounts/logout/")
        assert response.status_code == 302
        for tab in laptop_tabs:
            assert await close_code(tab) == CLOSE_SESSION_ENDED
        assert await still_open(phone_tab)
        assert await still_open(script), "bearer-token scripts are not a browser session"
    finally:
        for socket in (*laptop_tabs, phone_tab):
            await socket.disconnect()


async def test_adding_a_member_in_the_admin_invites_them_live(
    people, private_room, connect, admin_client
):
    c = await connect(people["carol"])
    response = await call(
        admin_client.post,
        "/admin/chat/membership/add/",
        {"room": private_room.pk, "user": people["carol"].pk, "role": "moderator"},
    )
    assert response.status_code == 302
    assert (await receive_type(c, "room_added"))["room"]["slug"] == "secret"
    membership = await call(private_room.memberships.get, user=people["carol"])
    assert membership.role == "moderator"


async def test_removing_a_member_on_the_rooms_admin_page_is_live(
    people, private_room, connect, admin_client
):
    b = await connect(people["bob"])
    memberships = await call(lambda: list(private_room.memberships.order_by("pk")))
    form = {
        "name": "Secret",
        "slug": "secret",
        "topic": "",
        "kind": "private",
        "creator": people["alice"].pk,
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, membership in enumerate(memberships):
        prefix = f"memberships-{index}-"
        form |= {
            f"{prefix}id": membership.pk,
            f"{prefix}room": private_room.pk,
            f"{prefix}user": membership.user_id,
            f"{prefix}role": membership.role,
        }
        if membership.user_id == people["bob"].pk:
            form[f"{prefix}DELETE"] = "on"
    response = await call(admin_client.post, f"/admin/chat/room/{private_room.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert (await receive_type(b, "room_removed"))["room"] == "secret"


@pytest.mark.parametrize(
    "page",
    [
        "/admin/auth/user/",
        "/admin/chat/room/",
        "/admin/chat/message/",
        "/admin/chat/membership/",
        "/admin/chat/membership/add/",
    ],
)
async def test_the_moderation_pages_open(people, private_room, admin_client, page):
    assert (await call(admin_client.get, page)).status_code == 200
    for user in people.values():
        assert (
            await call(admin_client.get, f"/admin/auth/user/{user.pk}/change/")
        ).status_code == 200


async def test_the_admin_refuses_to_remove_a_rooms_owner(people, private_room, admin_client):
    owner = await call(private_room.memberships.get, user=people["alice"])
    response = await call(
        admin_client.post, f"/admin/chat/membership/{owner.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert await call(private_room.memberships.filter(pk=owner.pk).exists)


async def test_renaming_a_room_in_the_admin_is_live(people, private_room, connect, admin_client):
    b = await connect(people["bob"])
    form = {
        "name": "Top secret",
        "slug": "secret",
        "topic": "need to know",
        "kind": "private",
        "creator": people["alice"].pk,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    response = await call(admin_client.post, f"/admin/chat/room/{private_room.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    updated = await receive_type(b, "room_updated")
    assert (updated["name"], updated["topic"], updated["archived"]) == (
        "Top secret",
        "need to know",
        False,
    )
