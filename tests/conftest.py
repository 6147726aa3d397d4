"""Shared fixtures: real PostgreSQL and Redis, users, WebSocket clients, replicas and nginx."""

import contextlib
import os
import socket
from urllib.parse import urlparse

import pytest
import redis
from channels.testing import WebsocketCommunicator

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
    ),
}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    checks = [
        ("PostgreSQL", os.environ["DATABASE_URL"], 5432),
        ("Redis", os.environ["REDIS_URL"], 6379),
    ]
    for name, url, port in checks:
        if not _reachable(url, port):
            pytest.exit(
                f"{name} is not reachable at {url}. The suite needs it; start it with:\n"
                f"  {START_HINTS[name]}\n(or point DATABASE_URL / REDIS_URL at a running server)",
                returncode=3,
            )


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with an empty Redis database of its own (rate limits, presence)."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    yield
    client.close()


@pytest.fixture(autouse=True)
def forget_recent_pages():
    """Flushed tables give rooms their old ids again: no page outlives its test."""
    from chat.selectors import recent_pages

    recent_pages.clear()


@pytest.fixture
def default_room(django_db_blocker):
    """The `general` room the data migration creates (transactional tests flush it)."""
    from chat.models import Room

    room, _ = Room.objects.get_or_create(
        slug="general", defaults={"name": "General", "kind": "public", "is_default": True}
    )
    return room


@pytest.fixture
def make_user(django_user_model, default_room):
    """Create an onboarded user (profile, default rooms, a verified address), like sign-up does."""
    from allauth.account.models import EmailAddress

    from chat.services import user_onboard

    def make(username: str, **extra):
        user = django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password="pw-" + username, **extra
        )
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        user_onboard(user=user)
        return user

    return make


@pytest.fixture
def token_for():
    from accounts.services import token_create

    def issue(user) -> str:
        return token_create(user=user, name="test")[1]

    return issue


@pytest.fixture
async def connect(token_for):
    """Open an authenticated WebSocket through the real ASGI application; closed at teardown."""
    from project.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_socket(user, *, expect_hello: bool = True) -> WebsocketCommunicator:
        token = await _in_thread(token_for, user)
        communicator = WebsocketCommunicator(
            application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected, "the handshake was refused"
        opened.append(communicator)
        if expect_hello:
            hello = await communicator.receive_json_from(timeout=10)
            assert hello["type"] == "hello"
            communicator.hello = hello
        return communicator

    yield open_socket
    for communicator in opened:
        with contextlib.suppress(Exception):  # some tests close their sockets themselves
            await communicator.disconnect(timeout=5)


async def _in_thread(func, *args):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(func)(*args)


@pytest.fixture
def start_replicas(transactional_db):
    """Start daphne replicas on the test database; all are stopped at teardown."""
    from django.db import connection

    from tests.support.servers import Replica, replica_env

    started: list = []

    def start(count: int = 2, **env: str) -> list:
        database_name = connection.settings_dict["NAME"]
        for _ in range(count):
            started.append(Replica(env=replica_env(database_name, **env)).start())
        return started[-count:]

    yield start
    for replica in started:
        replica.kill()


@pytest.fixture
def load_balancer():
    """`load_balancer(replicas)`: nginx in front of them, as deployed; stopped at teardown."""
    from tests.support.nginx import Nginx

    started: list[Nginx] = []

    def start(replicas: list) -> Nginx:
        started.append(Nginx(replicas).start())
        return started[-1]

    yield start
    for nginx in started:
        nginx.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """An S3-compatible store: moto's server in a process of its own, spoken to over HTTP
    as AWS or MinIO would be (tests/files/test_s3.py, the browser's S3 image test)."""
    import subprocess
    import sys

    from tests.support.servers import free_port, wait_for_http

    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/moto-api/", process=process)
    except Exception as error:
        process.kill()
        raise RuntimeError(f"moto's server did not start: {log.read_text()[-2000:]}") from error
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
