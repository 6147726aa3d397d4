"""Security review (issue 12): long polls, API tokens, typing memory and the Origin check.

In one process, through the real ASGI application, PostgreSQL and Redis; the
same across real replicas is in tests/replicas/test_security_replicas.py.
"""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.test import Client

from accounts.models import ApiToken
from accounts.services import token_create, token_find
from chat import presence, services
from chat.events import CLOSE_SESSION_ENDED
from chat.groups import room_group, user_group
from chat.models import Membership, Room
from project.errors import ClientError
from realtime import longpoll
from realtime.consumers import TYPING_TRACKED_MAX, ChatConsumer
from realtime.delivery import BACKLOG_MAX, CLOSE_TRY_AGAIN
from realtime.relay import relay
from tests.api.conftest import AsyncJsonClient
from tests.support.frames import close_code, receive_type, settled, still_open

pytestmark = [pytest.mark.django_db(transaction=True)]

call = database_sync_to_async


# Helpers
# ------------------------------------------------------------------------------


def bearer_client(user) -> tuple[AsyncJsonClient, int]:
    """An in-process ASGI client with a new token of the user, and the token's id."""
    raw = token_create(user=user, name="script")[1]
    return AsyncJsonClient({"Authorization": f"Bearer {raw}"}), token_find(raw).pk


async def bearer_socket(raw: str) -> WebsocketCommunicator:
    from project.asgi import application

    socket = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {raw}".encode())]
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    assert (await socket.receive_json_from(timeout=10))["type"] == "hello"
    return socket


def consumer_of(user) -> ChatConsumer:
    """The live consumer of the user's one socket in this process (from the relay)."""
    (consumer,) = relay().members[user_group(user.pk)]
    return consumer


def post(user, body: str, slug: str) -> int:
    return services.message_post(user=user, room=Room.objects.get(slug=slug), body=body)[0].id


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def secret(alice, bob):
    """A private room of alice's with bob in it."""
    room = services.room_create(creator=alice, name="Secret", slug="secret", kind="private")
    services.room_invite(by=alice, room=room, username="bob")
    return room


# 1. A waiting long poll re-checks access and ends when its member is removed
# ------------------------------------------------------------------------------


async def test_a_member_removed_while_polling_never_gets_the_next_message(alice, bob, secret):
    poller, _ = await call(bearer_client)(bob)
    waiting = asyncio.create_task(poller.get("/api/rooms/secret/poll", {"timeout": 30}))
    await asyncio.sleep(0.5)
    assert not waiting.done()

    await call(services.member_remove)(by=alice, room=secret, username="bob")
    await call(post)(alice, "after bob left", "secret")

    response = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert b"after bob left" not in response.content


async def test_being_removed_ends_a_waiting_poll_at_once_with_not_found(alice, bob, secret):
    poller, _ = await call(bearer_client)(bob)
    waiting = asyncio.create_task(poller.get("/api/rooms/secret/poll", {"timeout": 30}))
    await asyncio.sleep(0.5)
    await call(services.member_remove)(by=alice, room=secret, username="bob")
    # Well before the poll's 30 s: the room_removed event woke it.
    response = await asyncio.wait_for(waiting, 10)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_a_poll_ends_with_401_when_its_token_is_revoked(alice):
    poller, token_id = await call(bearer_client)(alice)
    waiting = asyncio.create_task(poller.get("/api/rooms/general/poll", {"timeout": 30}))
    await asyncio.sleep(0.5)
    await call(services_token_revoke)(alice, token_id)
    response = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 401


def services_token_revoke(user, token_id: int) -> None:
    from accounts.services import token_revoke

    assert token_revoke(user=user, token_id=token_id)


# 2. Revoking a token closes the sockets opened with it; new passwords revoke tokens
# ------------------------------------------------------------------------------


async def test_revoking_a_token_closes_its_sockets_and_only_those(alice):
    revoked_raw, kept_raw = [(await call(token_create)(user=alice, name=n))[1] for n in "ab"]
    revoked_socket = await bearer_socket(revoked_raw)
    kept_socket = await bearer_socket(kept_raw)
    browser = Client()
    await call(browser.force_login)(alice)

    token_id = (await call(token_find)(revoked_raw)).pk
    response = await call(browser.post)(f"/accounts/profile/tokens/{token_id}/revoke/")
    assert response.status_code == 302

    assert await close_code(revoked_socket) == CLOSE_SESSION_ENDED
    assert await still_open(kept_socket)
    await kept_socket.disconnect()


async def test_revoking_through_the_api_closes_the_bearer_socket_with_4001(alice, connect):
    raw = (await call(token_create)(user=alice, name="bot"))[1]
    socket = await bearer_socket(raw)
    other = await connect(alice)  # another token of alice's
    caller, _ = await call(bearer_client)(alice)

    response = await caller.delete(f"/api/tokens/{(await call(token_find)(raw)).pk}")
    assert response.status_code == 204

    assert await close_code(socket) == CLOSE_SESSION_ENDED
    assert await still_open(other)


def test_a_new_password_revokes_every_token(alice, bob):
    for name in ("laptop script", "bot"):
        token_create(user=alice, name=name)
    token_create(user=bob, name="bob's")
    alice.set_password("a-new-Secret-77")
    alice.save()
    assert not ApiToken.objects.filter(user=alice).exists()
    assert ApiToken.objects.filter(user=bob).count() == 1


def test_creating_a_token_emails_its_owner_once(alice, settings):
    settings.CHAT_SITE_URL = "https://chat.example"
    browser = Client()
    browser.force_login(alice)
    response = browser.post("/accounts/profile/tokens/", {"name": "deploy bot"})
    assert response.status_code == 302  # post/redirect/get: the value is shown once after
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["alice@example.com"]
    assert "deploy bot" in sent.body
    assert "https://chat.example/accounts/profile/" in sent.body


def test_creating_a_token_through_the_api_emails_its_owner(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/").status_code == 200
    response = browser.post(
        "/api/tokens",
        {"name": "ci"},
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert response.status_code == 201, response.content
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert response.json()["prefix"] in mail.outbox[0].body


# 4. Typing frames store nothing for rooms that are not the user's; every structure is bounded
# ------------------------------------------------------------------------------


async def test_typing_frames_with_huge_room_strings_store_nothing(alice, connect):
    socket = await connect(alice)
    consumer = consumer_of(alice)
    for n in range(64):
        await socket.send_json_to({"type": "typing", "room": f"{n}" + "x" * 60_000, "ref": "t"})
        assert (await receive_type(socket, "error", timeout=10))["code"] == "not_found"
    assert consumer.last_typing == {}
    assert consumer.room_ids == {(await call(Room.objects.get)(slug="general")).pk}


async def test_typing_for_many_valid_slugs_keeps_at_most_the_bound(alice, make_user, connect):
    """Slugs of missing rooms keep nothing; the user's own rooms stay within the bound."""
    bob = await call(make_user)("bob")

    def many_rooms(count: int) -> list[str]:
        slugs = [f"room-{n}" for n in range(count)]
        for slug in slugs:
            room = Room.objects.create(slug=slug, name=slug, kind="public", creator=alice)
            Membership.objects.create(room=room, user=bob)
        return slugs

    slugs = await call(many_rooms)(TYPING_TRACKED_MAX + 10)
    socket = await connect(bob)
    consumer = consumer_of(bob)
    for n in range(300):
        await socket.send_json_to({"type": "typing", "room": f"missing-{n}"})
    await settled(socket)
    assert consumer.last_typing == {}

    for slug in slugs:
        await socket.send_json_to({"type": "typing", "room": slug})
    await settled(socket)
    assert len(consumer.last_typing) == TYPING_TRACKED_MAX
    assert list(consumer.last_typing) == slugs[-TYPING_TRACKED_MAX:]  # the newest are kept


async def test_a_failed_join_leaves_no_subscription(alice, bob, connect, settings):
    """room_ids holds the user's memberships only: a join refused after the lookup drops it."""
    room = await call(services.room_create)(creator=alice, name="Full", slug="full")
    settings.CHAT_MAX_ROOMS_PER_USER = 1  # bob is in `general` already: joining is refused
    socket = await connect(bob)
    consumer = consumer_of(bob)
    await socket.send_json_to({"type": "join", "room": "full", "ref": "j"})
    assert (await receive_type(socket, "error", timeout=10))["ref"] == "j"
    assert room.pk not in consumer.room_ids
    assert relay().listening(room_group(room.pk)) == 0


async def test_a_socket_whose_backlog_overflows_is_closed_to_catch_up(alice, connect):
    socket = await connect(alice)
    consumer = consumer_of(alice)
    general = await call(Room.objects.get)(slug="general")
    event = {"type": "chat.frame", "room_id": general.pk, "frame": '{"type":"typing"}'}
    consumer.delivery.busy += 1  # as while a command waits on PostgreSQL
    try:
        for _ in range(BACKLOG_MAX + 50):
            await consumer.relay_event(dict(event))
        assert not consumer.delivery.backlog
    finally:
        consumer.delivery.busy -= 1
    assert await close_code(socket) == CLOSE_TRY_AGAIN


# 6. The Origin of a cookie handshake must match exactly: scheme, host and port
# ------------------------------------------------------------------------------


async def cookie_handshake(client: Client, *, host: str, origin: str, extra=()) -> bool:
    from project.asgi import application

    socket = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
            (b"host", host.encode()),
            (b"origin", origin.encode()),
            *extra,
        ],
    )
    connected, _ = await socket.connect(timeout=10)
    if connected:
        await socket.disconnect()
    return connected


@pytest.fixture
async def signed_in(alice) -> Client:
    browser = Client()
    await call(browser.force_login)(alice)
    return browser


async def test_a_page_on_another_port_of_an_allowed_host_is_refused(signed_in):
    host = "127.0.0.1:8000"
    assert await cookie_handshake(signed_in, host=host, origin="http://127.0.0.1:8000")
    for origin in ("http://127.0.0.1:9999", "http://localhost:8000", "https://127.0.0.1:8000"):
        assert not await cookie_handshake(signed_in, host=host, origin=origin), origin


async def test_behind_a_tls_proxy_only_the_https_origin_is_the_sockets_own(signed_in, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]
    host = "chat.example:8443"
    settings.ALLOWED_HOSTS = ["chat.example"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert await cookie_handshake(
        signed_in, host=host, origin="https://chat.example:8443", extra=proxied
    )
    assert not await cookie_handshake(
        signed_in, host=host, origin="http://chat.example:8443", extra=proxied
    )
    assert not await cookie_handshake(signed_in, host=host, origin="https://chat.example:8443")


async def test_trusted_origins_are_matched_exactly_or_by_their_wildcard(signed_in, settings):
    settings.ALLOWED_HOSTS = ["chat.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example:8443", "https://*.example.org"]
    host = "chat.example"
    for origin, trusted in (
        ("https://app.example:8443", True),
        ("https://app.example", False),
        ("http://app.example:8443", False),
        ("https://eu.example.org", True),
        ("http://eu.example.org", False),
        ("https://example.org.evil", False),
    ):
        assert await cookie_handshake(signed_in, host=host, origin=origin) is trusted, origin


async def test_a_disallowed_host_has_no_own_origin(signed_in, settings):
    settings.CSRF_TRUSTED_ORIGINS = []
    origin = "http://evil.example"
    assert not await cookie_handshake(signed_in, host="evil.example", origin=origin)


# 9. Long polls per user are capped, and every ending frees its slot
# ------------------------------------------------------------------------------


async def test_polls_over_the_cap_get_429_and_finished_polls_free_their_slots(alice, settings):
    settings.CHAT_MAX_LONG_POLLS_PER_USER = 2
    poller, _ = await call(bearer_client)(alice)
    waiting = [
        asyncio.create_task(poller.get("/api/rooms/general/poll", {"timeout": 30}))
        for _ in range(2)
    ]
    await asyncio.sleep(0.5)
    over = await poller.get("/api/rooms/general/poll", {"timeout": 30})
    assert over.status_code == 429
    assert over.json()["code"] == "rate_limited"
    assert "long polls" in over.json()["detail"]

    await call(post)(alice, "wakes both", "general")
    for task in waiting:
        assert (await asyncio.wait_for(task, 10)).status_code == 200
    assert (await poller.get("/api/rooms/general/poll", {"timeout": 0})).status_code == 200


async def test_refused_and_answered_polls_hold_no_slot(alice, bob, secret, settings):
    settings.CHAT_MAX_LONG_POLLS_PER_USER = 1
    outsider, _ = await call(bearer_client)(await call(_make_carol)())
    for _ in range(3):  # not found: the slot is freed with the error
        assert (await outsider.get("/api/rooms/secret/poll", {"timeout": 5})).status_code == 404
    for _ in range(3):  # a zero timeout answers at once
        assert (await outsider.get("/api/rooms/general/poll", {"timeout": 0})).status_code == 200


def _make_carol():
    from django.contrib.auth import get_user_model

    from chat.services import user_onboard

    carol = get_user_model().objects.create_user("carol", "carol@example.com", "pw-carol")
    user_onboard(user=carol)
    return carol


async def test_a_cancelled_poll_frees_its_slot(alice, settings):
    """The client went away (the server cancels the request): its slot is released."""
    settings.CHAT_MAX_LONG_POLLS_PER_USER = 1
    waiting = asyncio.create_task(longpoll.poll(user=alice, slug="general", after=None, timeout=30))
    await asyncio.sleep(0.5)
    with pytest.raises(ClientError) as refused:
        await longpoll.poll(user=alice, slug="general", after=None, timeout=0)
    assert refused.value.code == "rate_limited"
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    page = await longpoll.poll(user=alice, slug="general", after=None, timeout=0)
    assert page.messages == []


def test_a_dead_replicas_slots_expire(alice):
    """Slots a killed replica never freed stop counting after their TTL."""
    backend = presence.backend()
    assert backend.poll_slot_take(alice.pk, "dead-1", limit=1, ttl=0.3)
    assert not backend.poll_slot_take(alice.pk, "live-1", limit=1, ttl=30)
    time.sleep(0.6)
    assert backend.poll_slot_take(alice.pk, "live-1", limit=1, ttl=30)
