"""Live frames for roles and profiles through the real ASGI app: `member_updated` when a
role changes (the API, the admin), `user_updated` when someone's name or picture changes."""

import pytest
from django.test import Client

from accounts.services import profile_update
from chat import services
from chat.models import Membership
from tests.support.admin import room_change_form
from tests.support.db import call
from tests.support.frames import drain, receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def people(make_user):
    return {name: await call(make_user, name) for name in ("alice", "bob", "carol", "dave")}


@pytest.fixture
async def secret(people):
    """`secret`, private: alice owns it, bob and carol are members; dave is outside."""
    room = await call(
        services.room_create, creator=people["alice"], name="Secret", slug="secret", kind="private"
    )
    for username in ("bob", "carol"):
        await call(services.room_invite, by=people["alice"], room=room, username=username)
    return room


async def test_a_promotion_reaches_every_member_as_member_updated(people, secret, connect):
    bob, carol = await connect(people["bob"]), await connect(people["carol"])
    await call(
        services.member_role_set, by=people["alice"], room=secret, username="bob", role="moderator"
    )
    for socket in (bob, carol):
        frame = await receive_type(socket, "member_updated")
        assert (frame["room"], frame["role"]) == ("secret", "moderator")
        assert frame["user"]["username"] == "bob"
        assert frame["user"]["role"] == "moderator"
        assert frame["user"]["online"] is True


async def test_handing_over_tells_the_room_about_both_owners(people, secret, connect):
    carol = await connect(people["carol"])
    await call(
        services.member_role_set, by=people["alice"], room=secret, username="bob", role="owner"
    )
    frames = [f for f in await drain(carol) if f["type"] == "member_updated"]
    assert [(f["user"]["username"], f["role"]) for f in frames] == [
        ("alice", "moderator"),
        ("bob", "owner"),
    ]


async def test_a_refused_role_change_sends_nothing(people, secret, connect):
    carol = await connect(people["carol"])
    with pytest.raises(Exception, match="Only the room's owner"):
        await call(
            services.member_role_set, by=people["bob"], room=secret, username="carol", role="owner"
        )
    assert [f for f in await drain(carol) if f["type"] == "member_updated"] == []


async def test_a_role_changed_in_the_admin_is_live_and_follows_the_rules(
    people, secret, connect, admin_client
):
    carol = await connect(people["carol"])
    membership = await call(Membership.objects.get, room=secret, user=people["carol"])
    response = await call(
        admin_client.post,
        f"/admin/chat/membership/{membership.pk}/change/",
        {"role": "owner"},
    )
    assert response.status_code == 302
    frames = [f for f in await drain(carol) if f["type"] == "member_updated"]
    assert [(f["user"]["username"], f["role"]) for f in frames] == [
        ("alice", "moderator"),
        ("carol", "owner"),
    ]
    roles = await call(lambda: dict(secret.memberships.values_list("user__username", "role")))
    assert roles == {"alice": "moderator", "bob": "member", "carol": "owner"}


async def test_the_rooms_admin_page_changes_roles_through_the_service(
    people, secret, connect, admin_client
):
    bob = await connect(people["bob"])
    memberships = await call(lambda: list(secret.memberships.order_by("pk")))
    form = room_change_form(
        secret,
        name="Secret",
        creator=people["alice"],
        memberships=memberships,
        roles={people["bob"].pk: "moderator"},
    )
    response = await call(admin_client.post, f"/admin/chat/room/{secret.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    frame = await receive_type(bob, "member_updated")
    assert (frame["user"]["username"], frame["role"]) == ("bob", "moderator")


async def test_a_new_display_name_reaches_everyone_who_shares_a_room(people, secret, connect):
    alice, bob, dave = [await connect(people[name]) for name in ("alice", "bob", "dave")]
    await call(profile_update, user=people["carol"], display_name="Carol Diaz")
    # bob shares `secret` and `general` with carol: one frame for each room.
    frames = [f for f in await drain(bob) if f["type"] == "user_updated"]
    assert sorted(f["room"] for f in frames) == ["general", "secret"]
    user = frames[0]["user"]
    assert (user["username"], user["display_name"]) == ("carol", "Carol Diaz")
    assert set(user) == {"username", "display_name", "avatar_url"}
    assert user["avatar_url"].startswith("/accounts/avatar/carol.svg?v=")
    assert [f["room"] for f in await drain(dave) if f["type"] == "user_updated"] == ["general"]
    assert [f for f in await drain(alice) if f["type"] == "user_updated"]


async def test_the_profile_page_pushes_the_change_and_an_unchanged_save_pushes_nothing(
    people, secret, connect
):
    bob = await connect(people["bob"])
    browser = Client()
    await call(browser.force_login, people["carol"])
    response = await call(browser.post, "/accounts/profile/", {"display_name": "Carol D"})
    assert response.status_code in (200, 302)
    frame = await receive_type(bob, "user_updated")
    assert frame["user"]["display_name"] == "Carol D"
    await drain(bob)
    await call(browser.post, "/accounts/profile/", {"display_name": "Carol D"})
    assert [f for f in await drain(bob) if f["type"] == "user_updated"] == []


async def test_rooms_above_the_presence_limit_are_not_told(people, secret, connect, settings):
    settings.CHAT_PRESENCE_ROOM_MAX_MEMBERS = 3  # secret has 3 members, general 4
    bob = await connect(people["bob"])
    await call(profile_update, user=people["carol"], display_name="Carol Diaz")
    frames = [f for f in await drain(bob) if f["type"] == "user_updated"]
    assert [f["room"] for f in frames] == ["secret"]
