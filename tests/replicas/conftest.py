"""Fixtures of the multi-replica tests."""

import pytest
from asgiref.sync import sync_to_async

from tests.support.live import bearer


@pytest.fixture
async def people(make_user, token_for) -> dict:
    """alice, bob, carol and dave, onboarded (in `general`), each with ``headers``
    carrying a new API token of theirs."""
    result = {}
    for name in ("alice", "bob", "carol", "dave"):
        user = await sync_to_async(make_user)(name)
        user.headers = bearer(await sync_to_async(token_for)(user))
        result[name] = user
    return result
