"""`make cluster` for real: replicas, the worker and nginx, used only through nginx.

One cluster (deploy/cluster.py, production settings) serves the whole module;
the last test stops it the way an operator does, with Ctrl+C.
"""

import asyncio
import json
import os
import re
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from tests.ops.conftest import ClusterProcess, process_alive
from tests.support.clients import (
    ChatClient,
    assert_everyone_holds_everything,
    converse,
    settle,
    stored_messages,
)

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

ROOM = "general"


def get(url: str, token: str = "", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; HTTP errors are answers too."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def clients_through(cluster: ClusterProcess, tokens: list[str]) -> list[ChatClient]:
    clients = []
    for index, token in enumerate(tokens):
        client = ChatClient(
            urls=[cluster.ws_url], headers={"Authorization": f"Bearer {token}"}, name=f"c{index}"
        )
        clients.append(await client.start())
    return clients


async def users_with_tokens(make_user, token_for, *names: str) -> tuple[list, list[str]]:
    users = [await sync_to_async(make_user)(name) for name in names]
    return users, [await sync_to_async(token_for)(user) for user in users]


class LongPoller:
    """A client without WebSockets: polls the room through nginx, cursor to cursor."""

    def __init__(self, cluster: ClusterProcess, token: str, after: int = 0) -> None:
        self.url = f"{cluster.url}/api/rooms/{ROOM}/poll"
        self.token = token
        self.cursor = after
        self.held: dict[int, dict] = {}
        self.failures: list[str] = []
        self.stopped = False

    async def run(self) -> None:
        while not self.stopped:
            status, _, body = await asyncio.to_thread(
                get, f"{self.url}?after={self.cursor}&timeout=5", self.token, 30
            )
            if status != 200:
                self.failures.append(f"{status}: {body[:200]!r}")
                await asyncio.sleep(0.2)
                continue
            page = json.loads(body)
            self.held.update((message["id"], message) for message in page["messages"])
            self.cursor = page["cursor"]


async def test_the_cluster_serves_the_product_through_nginx(cluster, make_user, token_for):
    _, tokens = await users_with_tokens(make_user, token_for, "alice", "bob", "carol")

    for probe in ("/healthz", "/readyz"):
        assert (await asyncio.to_thread(get, cluster.url + probe))[0] == 200, probe
    status, _, _ = await asyncio.to_thread(get, cluster.url + "/metrics")
    assert status == 404, "metrics are scraped from each replica, never through nginx"

    # Production static files: hashed names, cached for good.
    status, _, page = await asyncio.to_thread(get, cluster.url + "/accounts/login/")
    assert status == 200
    stylesheet = re.search(rb'href="(/static/chat/app\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, "static files have hashed names"
    status, headers, _ = await asyncio.to_thread(get, cluster.url + stylesheet[1].decode())
    assert status == 200
    assert "immutable" in headers["Cache-Control"]

    # WebSockets and long polls through nginx, on whichever replicas it picks.
    alice_client, bob_client = await clients_through(cluster, tokens[:2])
    poller = LongPoller(cluster, tokens[1])
    polling = asyncio.create_task(poller.run())
    try:
        await asyncio.sleep(0.5)  # the poll is waiting for the next message
        sent = await alice_client.send(ROOM, "hello @carol", "hello-1")
        live = bob_client.live()
        if sent["id"] not in bob_client.rooms[ROOM]:
            await asyncio.wait_for(live.get(), 10)
        assert bob_client.rooms[ROOM][sent["id"]]["body"] == "hello @carol"
        for _ in range(100):
            if sent["id"] in poller.held:
                break
            await asyncio.sleep(0.1)
        assert poller.held[sent["id"]]["body"] == "hello @carol"
        assert poller.failures == []
    finally:
        poller.stopped = True
        for client in (alice_client, bob_client):
            await client.close()
        await asyncio.wait_for(polling, 15)

    # Carol is offline: the cluster's worker emails her the mention.
    worker_log = cluster.directory / "logs" / "worker.log"
    for _ in range(100):
        if "carol@example.com" in worker_log.read_text(errors="replace"):
            break
        await asyncio.sleep(0.1)
    assert "To: carol@example.com" in worker_log.read_text(errors="replace")


async def test_a_rolling_restart_loses_and_duplicates_nothing(cluster, make_user, token_for):
    """SIGTERM one replica while four clients post through nginx and two long-poll."""
    _, tokens = await users_with_tokens(make_user, token_for, "ann", "ben", "cat", "dan")
    clients = await clients_through(cluster, tokens)  # round robin: two on each replica
    pollers = [LongPoller(cluster, token) for token in tokens[:2]]
    polling = [asyncio.create_task(poller.run()) for poller in pollers]
    log_start = len(cluster.lines)

    async def restart_replica_one() -> None:
        await asyncio.sleep(1.0)  # messages are flowing
        os.kill(cluster.replica_pids()[1], signal.SIGTERM)

    try:
        sent, _ = await asyncio.gather(
            converse(clients, ROOM, rounds=8, pause=0.3, tag="rolling"), restart_replica_one()
        )
        await settle(clients)
        stored = await sync_to_async(stored_messages)(ROOM)
        assert len(stored) == len(sent) == 32
        assert_everyone_holds_everything(clients, ROOM, stored, sent)
        for _ in range(150):
            if all(len(poller.held) >= len(stored) for poller in pollers):
                break
            await asyncio.sleep(0.1)
        for poller in pollers:
            assert sorted(poller.held) == [message_id for message_id, _, _ in stored]
            assert poller.failures == [], "nginx retries a cut long poll on another replica"
    finally:
        for poller in pollers:
            poller.stopped = True
        for client in clients:
            await client.close()
        await asyncio.wait_for(asyncio.gather(*polling), 15)

    # The sockets on the stopped replica were told to reconnect, not dropped.
    assert 1012 in [code for client in clients for code in client.close_codes]
    assert all(client.connects >= 1 for client in clients)
    cluster.wait_for_line(r"replica 1 exited with 0;", start=log_start)
    cluster.wait_for_line(r"replica 1 is back", timeout=60, start=log_start)


def test_ctrl_c_stops_everything_the_cluster_started(cluster):
    pids = cluster.child_pids()
    nginx_pid = int((cluster.directory / "nginx" / "nginx.pid").read_text())
    assert cluster.stop(signal.SIGINT) == 0, cluster.output
    assert "stopped" in cluster.lines[-1]
    assert [pid for pid in [*pids, nginx_pid] if process_alive(pid)] == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", cluster.port), 1):
        pass
    assert not Path(cluster.directory / "nginx" / "nginx.pid").exists()
