"""Operations fixtures: the one-machine cluster (deploy/cluster.py) run for real."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.servers import ROOT, free_port, replica_env

CLUSTER_START_TIMEOUT_SECS = 120
# "replica 1  http://127.0.0.1:4567  pid 89" when started, "replica 1 is back (pid 90)".
REPLICA_PID_RE = re.compile(r"replica (\d+)(?:\s+http://\S+\s+| is back \()pid (\d+)")


class ClusterProcess:
    """``deploy/cluster.py`` in a subprocess, its progress lines read as they come."""

    def __init__(self, env: dict[str, str], directory: Path, replicas: int = 2) -> None:
        self.port = free_port()
        self.directory = directory
        self.lines: list[str] = []
        self._eof = False
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "deploy/cluster.py",
                "--replicas",
                str(replicas),
                "--port",
                str(self.port),
                "--dir",
                str(directory),
                "--shutdown-timeout",
                "5",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match:
        """The first line (from index `start`) matching `pattern`, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if match := regex.search(line):
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    break
                self._changed.wait(min(remaining, 0.5))
        raise AssertionError(
            f"the cluster never printed /{pattern}/; its output:\n{self.output}\n"
            f"(logs in {self.directory / 'logs'})"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def replica_pids(self) -> dict[int, int]:
        """Replica number -> its current pid (restarted replicas have new ones)."""
        pids: dict[int, int] = {}
        for line in self.lines:
            if match := REPLICA_PID_RE.search(line):
                pids[int(match[1])] = int(match[2])
        return pids

    def child_pids(self) -> list[int]:
        """Every process the cluster started and reported (replicas, worker)."""
        return [int(pid) for pid in re.findall(r"\bpid (\d+)", self.output)]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory) -> ClusterProcess:
    """Two replicas, the worker and nginx on the tests' database, with production settings."""
    from django.conf import settings

    database_name = settings.DATABASES["default"]["NAME"]
    # Static files are collected once and shared with `make cluster` (the cluster
    # skips collectstatic while they are up to date).
    static_root = str(ROOT / ".cluster" / "static")
    env = replica_env(database_name, DJANGO_DEBUG="0", STATIC_ROOT=static_root)
    running = ClusterProcess(env, tmp_path_factory.mktemp("cluster"))
    try:
        running.wait_for_line(r"chat is up at ", timeout=CLUSTER_START_TIMEOUT_SECS)
    except AssertionError:
        running.stop()
        raise
    yield running
    running.stop()
