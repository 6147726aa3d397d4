"""A replica's accept queue holds a reconnect storm, not Twisted's default of 50.

When a replica dies its clients reconnect to the survivors within a second. With
a queue of 50 the kernel dropped their handshakes, nginx's connects timed out and
it marked the survivor down as well (bench/README.md, "The reconnect storm").
"""

import subprocess
from pathlib import Path

from project.server.cli import (
    HANDSHAKE_TIMEOUT_SECS,
    LISTEN_BACKLOG,
    GracefulCommandLineInterface,
    with_listen_backlog,
)


def test_tcp_endpoints_get_the_backlog_and_an_explicit_one_is_kept() -> None:
    endpoints = ["tcp:port=8000:interface=127.0.0.1", "tcp:port=1:backlog=7", "unix:/tmp/s"]
    assert with_listen_backlog(endpoints, 1024) == [
        "tcp:port=8000:interface=127.0.0.1:backlog=1024",
        "tcp:port=1:backlog=7",
        "unix:/tmp/s",
    ]


def test_a_replica_listens_with_a_queue_for_a_reconnect_storm(start_replicas) -> None:
    (replica,) = start_replicas(1)
    listening = subprocess.run(
        ["ss", "-Hltn", f"sport = :{replica.port}"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    # For a listening socket, ss's Send-Q column is the size of its accept queue.
    assert [line.split()[2] for line in listening] == [str(min(LISTEN_BACKLOG, somaxconn))]


def test_a_queued_handshake_waits_for_the_application_longer_than_daphnes_5_s() -> None:
    """In a storm a handshake may queue for seconds; dropping it at 5 s made the client
    retry and lost the work already done for it."""
    parsed = GracefulCommandLineInterface().parser.parse_args(["project.asgi:application"])
    assert parsed.websocket_connect_timeout == HANDSHAKE_TIMEOUT_SECS >= 30
    chosen = ["--websocket_connect_timeout", "7", "project.asgi:application"]
    assert GracefulCommandLineInterface().parser.parse_args(chosen).websocket_connect_timeout == 7
