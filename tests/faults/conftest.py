"""Fixtures of the fault campaign: servers a test may break, and people who talk."""

import pytest
from asgiref.sync import sync_to_async

from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

# Rate limits have their own tests; conversations here post faster than a person.
NO_RATE_LIMIT = {"CHAT_RATE_LIMIT_ENABLED": "0"}


@pytest.fixture
def own_redis():
    """A Redis server of this test's own, which it may restart, kill or pause."""
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture
def postgres_proxy():
    """A proxy in front of PostgreSQL that the test can cut to simulate an outage."""
    proxy = TcpProxy("127.0.0.1", 5432).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def database_name(transactional_db) -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


@pytest.fixture
def people(make_user, token_for):
    """`await people("alice", "bob")`: onboarded users (in `general`) and their API tokens."""

    async def create(*names: str) -> list[str]:
        tokens = []
        for name in names:
            user = await sync_to_async(make_user)(name)
            tokens.append(await sync_to_async(token_for)(user))
        return tokens

    return create
