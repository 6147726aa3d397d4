"""API clients: a bearer-token client and a browser-session client that enforces CSRF."""

import pytest
from django.test import AsyncClient, Client


class JsonClient(Client):
    """Django's test client, sending JSON bodies (POST, PATCH) by default."""

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data, content_type=content_type, **extra)

    def patch(self, path, data="", content_type="application/json", **extra):
        return super().patch(path, data, content_type=content_type, **extra)


class AsyncJsonClient(AsyncClient):
    """Django's in-process ASGI client, sending JSON and these headers on every request.

    (AsyncClient(headers=...) would turn them into WSGI names, which ASGI drops.)
    """

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.default_headers = headers

    def generic(self, method, path, *args, headers=None, **kwargs):
        headers = {**self.default_headers, **(headers or {})}
        return super().generic(method, path, *args, headers=headers, **kwargs)

    async def post(self, path, data=None, content_type="application/json", **extra):
        return await super().post(path, data, content_type=content_type, **extra)


@pytest.fixture
def bearer(token_for):
    """bearer(user) -> a client sending `Authorization: Bearer <a new token of user>`."""

    def make(user) -> JsonClient:
        return JsonClient(headers={"Authorization": f"Bearer {token_for(user)}"})

    return make


@pytest.fixture
def async_bearer(token_for):
    """async_bearer(user) -> an in-process ASGI client with a bearer token (call in a thread)."""

    def make(user) -> AsyncJsonClient:
        return AsyncJsonClient({"Authorization": f"Bearer {token_for(user)}"})

    return make


@pytest.fixture
def session():
    """session(user) -> a signed-in browser client that checks CSRF like a real browser's."""

    def make(user) -> JsonClient:
        client = JsonClient(enforce_csrf_checks=True)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def csrf_token():
    """csrf_token(client) -> the CSRF token the app page hands the browser, for X-CSRFToken."""

    def fetch(client: Client) -> str:
        assert client.get("/").status_code == 200
        return client.cookies["csrftoken"].value

    return fetch


@pytest.fixture
def secret(people):
    """`secret`, a private room: olga owns it, mona moderates, bob is a member, eve is outside.

    `people` is the test module's own: a dict of onboarded users by name.
    """
    from chat import services
    from chat.models import Membership

    room = services.room_create(
        creator=people["olga"], name="Secret", slug="secret", kind="private"
    )
    for username in ("mona", "bob"):
        services.room_invite(by=people["olga"], room=room, username=username)
    Membership.objects.filter(room=room, user=people["mona"]).update(role="moderator")
    return room
