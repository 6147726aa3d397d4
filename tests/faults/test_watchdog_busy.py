"""A busy replica on a healthy Redis never recycles its sockets (issue 18).

The watchdog's probe goes round the channel layer; with a backlog of fan-out
longer to drain than the probe's timeout, a probe that waited behind it is not
a lost layer, and closing every socket with 4012 would start a reconnect storm
against a replica that is already overloaded.

Here one replica holds many sockets in a room and receives a burst of new
messages all at once, far more than it can hand out within the probe's
timeout. Posting through a replica on this shared two-core machine is too slow
to outrun one replica's fan-out, so the messages are stored first (through
``message_post``, their events kept back) and their events then published as
fast as Redis takes them, as many replicas posting at once would.
"""

import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from realtime.watchdog import CLOSE_LAYER_LOST
from tests.faults.conftest import NO_RATE_LIMIT
from tests.support.clients import ChatClient, assert_everyone_holds_everything, stored_messages
from tests.support.metrics import scrape

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LISTENERS = 20  # people with sockets on the busy replica
SOCKETS_EACH = 5  # sockets per person (tabs)
MESSAGES = 1000
# Lowered so that the burst's backlog outlasts the probe's timeout several times over.
PROBE_TIMEOUT = "0.5"


async def connect(url: str, token: str, name: str) -> ChatClient:
    client = ChatClient(urls=[url], headers={"Authorization": f"Bearer {token}"}, name=name)
    return await client.start()


def store_burst() -> tuple[set[str], list[tuple[str, dict]]]:
    """Post MESSAGES to general (sync); return their client_ids and the events kept back."""
    from django.contrib.auth import get_user_model

    from chat.models import Room
    from chat.services import message_post

    held: list[tuple[str, dict]] = []
    poster = get_user_model().objects.get(username="poster")
    room = Room.objects.get(slug="general")
    sent = set()
    with mock.patch("chat.events._send", lambda group, event, kind: held.append((group, event))):
        for n in range(MESSAGES):
            client_id = f"burst-{n}"
            message_post(
                user=poster, room=room, body=f"burst {n} " + "x" * 200, client_id=client_id
            )
            sent.add(client_id)
    return sent, held


def layer_of(kind: str):
    """The replicas' channel layer (project/settings.py), whichever this process uses."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer
    from django.conf import settings

    hosts = [server.layer_host() for server in settings.REDIS_SERVERS]
    prefix = f"{settings.KEY_PREFIX}:asgi"
    if kind == "pubsub":
        return RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
    return RedisChannelLayer(hosts=hosts, prefix=prefix, capacity=settings.CHANNEL_CAPACITY)


async def publish(kind: str, held: list[tuple[str, dict]]) -> None:
    """What the posting replicas would have sent, as fast as the layer takes it."""
    layer = layer_of(kind)
    for group, event in held:
        await layer.group_send(group, {**event, "group": group})


async def every_socket_holds(clients: list[ChatClient], count: int, timeout: float) -> None:
    async def holds(client: ChatClient) -> None:
        while len(client.rooms["general"]) < count:
            assert CLOSE_LAYER_LOST not in client.close_codes, f"{client.name} was recycled"
            await asyncio.sleep(0.1)

    await asyncio.wait_for(asyncio.gather(*(holds(client) for client in clients)), timeout)


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_an_overloaded_replica_on_a_healthy_redis_recycles_no_socket(
    layer, settings, start_replicas, people
):
    settings.CHAT_RATE_LIMIT_ENABLED = False  # the burst is stored from this process
    tokens = await people(*(f"l{n}" for n in range(LISTENERS)), "poster")
    env = {
        "CHANNEL_LAYER": layer,
        "CHAT_WATCHDOG_PROBE_TIMEOUT": PROBE_TIMEOUT,
        # The test reads its sockets slower than the replica writes: no slow-client drop.
        "CHAT_SLOW_CLIENT_GRACE_SECS": "300",
        **NO_RATE_LIMIT,
    }
    (busy,) = await sync_to_async(start_replicas)(1, **env)
    listeners: list[ChatClient] = []
    for n, token in enumerate(tokens[:LISTENERS]):  # a person's tabs at once, people in turn
        tabs = (connect(busy.ws_url, token, f"l{n}-{tab}") for tab in range(SOCKETS_EACH))
        listeners.extend(await asyncio.gather(*tabs))
    try:
        sent, held = await sync_to_async(store_burst)()
        loop = asyncio.get_running_loop()
        # From the first event on: where the replica drains as fast as the layer takes
        # the burst (the core layer on a fast host), the backlog builds while publishing.
        publishing = loop.time()
        await asyncio.to_thread(asyncio.run, publish(layer, held))
        await every_socket_holds(listeners, MESSAGES, timeout=90)
        lag = loop.time() - publishing

        metrics = await asyncio.to_thread(scrape, busy.http_url)
        assert lag > float(PROBE_TIMEOUT) * 2, (
            f"the replica was not overloaded (every socket held the burst {lag:.1f} s after "
            f"its publishing began): raise MESSAGES or SOCKETS_EACH"
        )
        recycled = [c.name for c in listeners if CLOSE_LAYER_LOST in c.close_codes]
        assert not recycled, f"{len(recycled)} busy sockets were recycled: {recycled[:10]}"
        closed = [(c.name, c.close_codes) for c in listeners if c.connects != 1 or c.close_codes]
        assert not closed, f"sockets closed under load: {closed[:10]}"
        assert metrics.get("chat_sockets_recycled_total", 0) == 0
        assert metrics.get("chat_channel_layer_recoveries_total", 0) == 0

        stored = await sync_to_async(stored_messages)("general")
        assert len(stored) == MESSAGES
        assert_everyone_holds_everything(listeners, "general", stored, sent)
    finally:
        await asyncio.gather(*(client.close() for client in listeners))
