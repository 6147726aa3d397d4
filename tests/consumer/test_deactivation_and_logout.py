"""Deactivation and logout close exactly the sockets they should, and only those.

Through the real ASGI application and the Redis channel layer; the same across
replicas is in tests/replicas/test_social_replicas.py.
"""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.events import CLOSE_SESSION_ENDED
from tests.support.db import call
from tests.support.frames import close_code, presence_of, still_open

pytestmark = [pytest.mark.django_db(transaction=True)]


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
