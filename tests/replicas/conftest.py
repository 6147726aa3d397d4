"""Fixtures of the multi-replica tests."""

import pytest
from asgiref.sync import sync_to_async

from tests.support.live import people_with_tokens


@pytest.fixture
async def people(make_user, token_for) -> dict:
    """alice, bob, carol and dave, onboarded (in `general`), each with ``headers``
    carrying a new API token of theirs."""
    return await people_with_tokens(make_user, token_for, ("alice", "bob", "carol", "dave"))


@pytest.fixture
async def replicas(start_replicas):
    """Two replicas on the tests' database and Redis."""
    return await sync_to_async(start_replicas)(2)
