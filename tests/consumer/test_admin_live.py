"""The Django admin moderates through the same services as the chat, so members see it live.

Deleting and archiving, adding and removing members, renaming a room and
deactivating a user in the admin all reach the open sockets at once; the
moderation pages open, and the admin refuses what the services refuse.
Through the real ASGI application and the Redis channel layer.
"""

import pytest
from django.test import Client

from chat.events import CLOSE_SESSION_ENDED
from tests.support.admin import room_change_form
from tests.support.db import call
from tests.support.frames import close_code, receive_type, send

pytestmark = [pytest.mark.django_db(transaction=True)]


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
    form = room_change_form(
        private_room,
        name="Secret",
        creator=people["alice"],
        memberships=memberships,
        remove=[people["bob"].pk],
    )
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
    form = room_change_form(
        private_room, name="Top secret", topic="need to know", creator=people["alice"]
    )
    response = await call(admin_client.post, f"/admin/chat/room/{private_room.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    updated = await receive_type(b, "room_updated")
    assert (updated["name"], updated["topic"], updated["archived"]) == (
        "Top secret",
        "need to know",
        False,
    )
