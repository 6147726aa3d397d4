"""/metrics: restricted by setting, and counting what a replica does."""

import logging

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def receive_type(socket, wanted: str, timeout: float = 5) -> dict:
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == wanted:
            return frame


def test_metrics_answer_loopback_and_refuse_other_addresses():
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")
    assert refused.status_code == 403
    assert b"chat_" not in refused.content


def test_metrics_accept_configured_networks_and_the_bearer_token(settings):
    from project.health import _allowed_networks

    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "scrape-secret"
    _allowed_networks.cache_clear()
    try:
        assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
        outsider = Client(REMOTE_ADDR="203.0.113.9")
        assert outsider.get("/metrics").status_code == 403
        wrong = outsider.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = outsider.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200
    finally:
        _allowed_networks.cache_clear()


def test_metrics_are_prometheus_text_with_the_product_series():
    response = Client().get("/metrics")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for series in (
        "chat_open_sockets",
        "chat_messages_accepted_total",
        "chat_events_fanned_out_total",
        "chat_delivery_latency_seconds_bucket",
        "chat_client_errors_total",
        "chat_rate_limited_total",
        "chat_channel_layer_drops_total",
    ):
        assert series in text, series


async def test_a_message_is_counted_from_acceptance_to_delivery(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    open_before = sample("chat_open_sockets")
    a, b = await connect(alice), await connect(bob)
    assert sample("chat_open_sockets") == open_before + 2
    accepted = sample("chat_messages_accepted_total")
    fanned_out = sample("chat_events_fanned_out_total", type="message")
    delivered = sample("chat_delivery_latency_seconds_count")

    await a.send_json_to({"type": "send", "room": "general", "body": "count me", "client_id": "m1"})
    await receive_type(b, "message")

    assert sample("chat_messages_accepted_total") == accepted + 1
    assert sample("chat_events_fanned_out_total", type="message") == fanned_out + 1
    # Bob's socket got the room's copy; Alice's own copy is her direct reply.
    assert sample("chat_delivery_latency_seconds_count") == delivered + 1
    assert sample("chat_delivery_latency_seconds_sum") > 0
    await b.disconnect()
    assert sample("chat_open_sockets") == open_before + 1


async def test_error_replies_are_counted_by_code(make_user, connect):
    alice = await database_sync_to_async(make_user)("alice")
    socket = await connect(alice)
    before = sample("chat_client_errors_total", code="bad_frame", transport="ws")
    await socket.send_to(text_data="{not json")
    assert (await receive_type(socket, "error"))["code"] == "bad_frame"
    assert sample("chat_client_errors_total", code="bad_frame", transport="ws") == before + 1


def test_rate_limit_refusals_are_counted(make_user, default_room, settings):
    from chat.services import message_post
    from project.errors import ClientError

    settings.CHAT_RATE_LIMIT_BURST = 1
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.01
    alice = make_user("alice")
    before = sample("chat_rate_limited_total")
    message_post(user=alice, room=default_room, body="first")
    with pytest.raises(ClientError):
        message_post(user=alice, room=default_room, body="second")
    assert sample("chat_rate_limited_total") == before + 1


def test_channel_layer_drops_reported_by_channels_redis_are_counted():
    import chat.metrics  # noqa: F401 - installs the log watcher

    before = sample("chat_channel_layer_drops_total", reason="over_capacity")
    logging.getLogger("channels_redis.core").info(
        "%s of %s channels over capacity in group %s", 3, 40, "room.1"
    )
    assert sample("chat_channel_layer_drops_total", reason="over_capacity") == before + 3
