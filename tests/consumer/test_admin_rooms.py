"""A room created in the Django admin is a room like any other: it has its owner
(the chosen creator, else the operator), who hears `room_added` live, and the
members added on the same page are invited (each hears `room_added`)."""

import pytest

from chat.models import Membership, Room
from tests.support.db import call
from tests.support.frames import receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]


def add_form(*, slug: str, kind: str = "private", creator=None, members=()) -> dict:
    form = {
        "name": "Launch",
        "slug": slug,
        "topic": "",
        "kind": kind,
        "creator": creator.pk if creator else "",
        "memberships-TOTAL_FORMS": str(len(members)),
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, user in enumerate(members):
        form |= {f"memberships-{index}-user": user.pk, f"memberships-{index}-role": "member"}
    return form


async def test_a_room_added_in_the_admin_is_owned_by_its_creator_who_hears_of_it(
    make_user, connect, admin_client
):
    alice, bob = await call(make_user, "alice"), await call(make_user, "bob")
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    form = add_form(slug="launch", creator=alice, members=[bob])
    response = await call(admin_client.post, "/admin/chat/room/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    roles = await call(
        lambda: dict(
            Membership.objects.filter(room__slug="launch").values_list("user__username", "role")
        )
    )
    assert roles == {"alice": "owner", "bob": "member"}
    for socket in (alice_socket, bob_socket):
        frame = await receive_type(socket, "room_added")
        assert frame["room"]["slug"] == "launch"


async def test_without_a_creator_the_operator_owns_the_room(admin_client, admin_user):
    response = await call(admin_client.post, "/admin/chat/room/add/", add_form(slug="ops"))
    assert response.status_code == 302, response.content.decode()[:3000]
    room = await call(Room.objects.get, slug="ops")
    owners = await call(
        lambda: list(room.memberships.filter(role="owner").values_list("user_id", flat=True))
    )
    assert (room.creator_id, owners) == (admin_user.pk, [admin_user.pk])


@pytest.mark.parametrize(
    ("slug", "kind", "says"),
    [("dm-sneaky", "private", "reserved"), ("fine", "direct", "kind must be")],
)
async def test_the_admin_refuses_what_the_chat_refuses(admin_client, slug, kind, says):
    response = await call(
        admin_client.post, "/admin/chat/room/add/", add_form(slug=slug, kind=kind)
    )
    assert response.status_code == 200  # the form again, with the reason
    assert says in response.content.decode()
    assert not await call(Room.objects.filter(slug=slug).exists)
