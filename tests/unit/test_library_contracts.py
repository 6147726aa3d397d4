"""Every reliance on a library's internals holds against the installed versions.

An upgrade that moves an attribute, changes a copied function or rewords a log
line fails here, in CI, instead of turning a piece off in production. The
channels-redis log texts are checked against the real library emitting them.
"""

import asyncio
import dataclasses
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.conf import settings
from prometheus_client import REGISTRY

from chat import publish
from project import compat
from project.server import cli, writes
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
RELIANCES = [*compat.RELIANCES, *cli.RELIANCES, *publish.RELIANCES]
BOUNDED = ["asgiref", "autobahn", "channels", "channels-redis", "daphne", "Twisted"]


@pytest.mark.parametrize("reliance", RELIANCES, ids=lambda reliance: reliance.name)
def test_contract_holds_for_the_installed_library(reliance):
    try:
        reliance.probe()
    except Exception as error:
        pytest.fail(
            f"{reliance.library} {version(reliance.library)} broke a contract written for "
            f"{reliance.written_for}: {reliance.relies_on}: {error}. Adapt the piece to the "
            "new version (a pinned digest is project.compat.source_digest(function)), or keep "
            "the upper bound in pyproject.toml."
        )


@pytest.mark.parametrize("library", BOUNDED)
def test_the_installed_library_is_the_locked_one(library):
    lock = (ROOT / "requirements-dev.lock").read_text()
    name = re.escape(library.lower()).replace("\\-", "[-_]")
    pinned = re.search(rf"^{name}==(\S+)", lock, re.M | re.I)
    assert pinned, f"{library} is not in requirements-dev.lock (make lock)"
    assert version(library) == pinned.group(1), f"install from the lock: make install ({library})"


# A broken contract: one WARNING and off, or a refusal to start
# ------------------------------------------------------------------------------


def _broken(reliance: compat.Reliance) -> compat.Reliance:
    def probe() -> None:
        raise compat.ContractBroken("SomeClass.some_attribute is gone")

    return dataclasses.replace(reliance, probe=probe)


def test_a_broken_contract_turns_its_piece_off_with_one_warning_naming_the_library(caplog):
    reliance = _broken(compat.THREAD_RELEASE)
    with caplog.at_level(logging.WARNING, logger="project.compat"):
        assert not reliance.enabled
        assert not reliance.check()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"asgiref {version('asgiref')}" in warnings[0]
    assert "SomeClass.some_attribute is gone" in warnings[0]


def test_a_broken_required_contract_refuses_to_start(caplog):
    reliance = _broken(compat.LAYER_INTERNALS)
    with pytest.raises(compat.LibraryContractError) as refused:
        compat.verify([_broken(compat.OVER_CAPACITY), reliance])
    assert f"refusing to start: channels-redis {version('channels-redis')}" in str(refused.value)
    assert "SomeClass.some_attribute is gone" in str(refused.value)


def test_a_changed_twisted_write_withdraws_the_fast_writes(monkeypatch):
    from autobahn import util
    from autobahn.websocket import protocol
    from twisted.internet import tcp

    monkeypatch.setattr(tcp.Connection, "write", tcp.Connection.write)
    monkeypatch.setattr(protocol, "hltype", protocol.hltype)
    monkeypatch.setattr(protocol, "hlval", protocol.hlval)
    monkeypatch.setattr(writes, "WRITE_THROUGH", _broken(writes.WRITE_THROUGH))
    writes.install_fast_writes()
    writes.withdraw_broken()
    assert tcp.Connection.write is writes.buffered_write
    assert protocol.hltype is writes._plain  # its own contract holds: kept
    monkeypatch.setattr(writes, "AUTOBAHN_LOG_ARGS", _broken(writes.AUTOBAHN_LOG_ARGS))
    writes.withdraw_broken()
    assert protocol.hltype is util.hltype


# asgiref: a waiting poll gives its request thread back, never a caller's executor
# ------------------------------------------------------------------------------


async def test_a_waiting_poll_gives_its_request_thread_back():
    """As under Django's ASGI handler: a context without an executor of its own."""
    async with ThreadSensitiveContext():
        first = await sync_to_async(threading.get_ident)()
        context = SyncToAsync.thread_sensitive_context.get()
        executor = SyncToAsync.context_to_thread_executor[context]
        compat.release_thread_sensitive_executor()
        assert context not in SyncToAsync.context_to_thread_executor
        assert executor._shutdown
        # The rest of the request runs on a fresh thread, one at a time as before.
        second = await sync_to_async(threading.get_ident)()
        assert second != first
        assert await sync_to_async(threading.get_ident)() == second


async def test_an_executor_the_context_was_given_is_left_to_its_owner():
    owned = ThreadPoolExecutor(max_workers=1)
    try:
        async with ThreadSensitiveContext(executor=owned):
            first = await sync_to_async(threading.get_ident)()
            compat.release_thread_sensitive_executor()
            assert not owned._shutdown
            assert await sync_to_async(threading.get_ident)() == first
    finally:
        owned.shutdown()


# Channels: the consumer's dispatch, without the per-event database hop
# ------------------------------------------------------------------------------


class _Consumer:
    def __init__(self) -> None:
        self.handled: list[dict] = []

    async def chat_frame(self, message: dict) -> None:
        self.handled.append(message)


async def test_dispatch_calls_the_handler_without_closing_old_connections(monkeypatch):
    import channels.consumer

    hops = []

    async def close_old_connections() -> None:
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", close_old_connections)
    consumer = _Consumer()
    await compat.dispatch(consumer, {"type": "chat.frame", "n": 1})
    assert consumer.handled == [{"type": "chat.frame", "n": 1}]
    assert hops == []
    with pytest.raises(ValueError, match="No handler for message type chat.nothing"):
        await compat.dispatch(consumer, {"type": "chat.nothing"})

    # Were Channels' dispatch to change, its own would run (with its hop).
    monkeypatch.setattr(compat, "CONSUMER_DISPATCH", _broken(compat.CONSUMER_DISPATCH))
    await compat.dispatch(consumer, {"type": "chat.frame", "n": 2})
    assert consumer.handled[-1] == {"type": "chat.frame", "n": 2}
    assert hops == [1]


# channels-redis: the log lines, as the real library writes them
# ------------------------------------------------------------------------------


def _redis_url() -> str:
    url = settings.REDIS_SERVERS[0].url if settings.REDIS_SERVERS else ""
    assert url.startswith("redis://"), (
        "these tests need a plain Redis in REDIS_URL (redis-server --port 6379; "
        f"REDIS_URL=redis://127.0.0.1:6379/9), not {url!r}"
    )
    return url


def _prefix() -> str:
    return f"{os.environ.get('REDIS_KEY_PREFIX', 'chattest')}:contract:{uuid.uuid4().hex[:8]}"


def _drops() -> float:
    value = REGISTRY.get_sample_value("chat_channel_layer_drops_total", {"reason": "over_capacity"})
    return value or 0.0


async def test_over_capacity_line_of_the_real_layer_is_matched_and_counted(caplog):
    from channels_redis.core import RedisChannelLayer

    # The product's watcher is connected when Django starts (chat/apps.py).
    layer = RedisChannelLayer(hosts=[_redis_url()], prefix=_prefix(), capacity=1)
    try:
        # Channels of their own (a process' "!" channels share one list in Redis).
        full = [f"contract.{name}" for name in "abc"]
        for channel in full:
            await layer.group_add("room.contract", channel)
        await layer.group_send("room.contract", {"type": "chat.frame"})
        before = _drops()
        with caplog.at_level(logging.INFO, logger=compat.OVER_CAPACITY_LOGGER):
            await layer.group_send("room.contract", {"type": "chat.frame"})
        lines = [r for r in caplog.records if r.name == compat.OVER_CAPACITY_LOGGER]
        assert [compat.over_capacity_count(r) for r in lines] == [3], [
            r.getMessage() for r in lines
        ]
        assert _drops() == before + 3
    finally:
        await layer.flush()


async def test_receive_failure_line_of_the_real_pubsub_layer_is_matched(caplog):
    """The pub/sub layer's connection to Redis breaks: the product's matcher sees it at once."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from realtime import watchdog

    parts = urlsplit(_redis_url())
    proxy = TcpProxy(parts.hostname, parts.port or 6379).start()
    layer = RedisPubSubChannelLayer(
        hosts=[f"redis://127.0.0.1:{proxy.port}{parts.path}"], prefix=_prefix()
    )
    watchdog.lost.clear()
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping"})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "ping"}
        with caplog.at_level(logging.ERROR, logger=compat.RECEIVE_FAILURE_LOGGER):
            proxy.cut()
            deadline = time.monotonic() + 10
            while not any(compat.is_receive_failure(r) for r in caplog.records):
                assert time.monotonic() < deadline, "channels-redis logged no receive failure"
                await asyncio.sleep(0.05)
        record = next(r for r in caplog.records if compat.is_receive_failure(r))
        assert compat.failed_shard(record) == 0
        assert watchdog.lost == {0}  # the quarantine started from the line itself
    finally:
        watchdog.lost.clear()
        proxy.restore()
        await layer.flush()
        proxy.stop()


def test_the_server_refuses_to_start_when_daphne_lacks_what_draining_needs():
    """python -m project.serve checks before it listens, and says which library broke what."""
    broken_daphne = (
        "import sys, daphne.server\n"
        "daphne.server.Server.protocol_disconnected = daphne.server.Server.protocol_connected\n"
        "from project.server.cli import main\n"
        "main(['-b', '127.0.0.1', '-p', '0', 'project.asgi:application'])\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", broken_daphne],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert f"refusing to start: daphne {version('daphne')}" in started.stderr
    assert "Listening on" not in started.stderr
