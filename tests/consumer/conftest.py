"""Who the live-chat consumer tests talk as: three onboarded users and a private room.

A test module that needs other people defines its own `people` fixture.
"""

import pytest

from chat import services
from tests.support.db import call


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
