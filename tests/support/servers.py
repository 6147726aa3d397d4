"""Real servers for tests: daphne replicas on the tests' PostgreSQL and Redis.

Replicas run ``python -m project.serve project.asgi:application`` (daphne with
a graceful shutdown) in their own processes, on the test database
pytest-django created (so transactional tests' rows are visible to them) and
the tests' Redis database and key prefix.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def replica_env(database_name: str, **extra: str) -> dict[str, str]:
    """The environment of a replica sharing the tests' database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "REDIS_KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX", "chattest"),
        "DJANGO_DEBUG": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


@dataclass
class WorkerRun:
    """The background worker's process, and everything it printed once stopped."""

    process: subprocess.Popen
    output: str = ""


@contextmanager
def notify_worker(env: dict[str, str]) -> Iterator[WorkerRun]:
    """``manage.py runworker chat-notify`` (mention emails, upload cleanup) with ``env``,
    stopped with SIGTERM on leaving; its output is in ``.output`` afterwards."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "chat-notify", "--layer", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = WorkerRun(process)
    try:
        yield run
    finally:
        process.send_signal(signal.SIGTERM)
        run.output = process.communicate(timeout=30)[0]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback test URL
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered at {url} within {timeout:.0f} s")


@dataclass
class Replica:
    """One daphne process; start(), stop() (SIGTERM), kill() (SIGKILL), restart()."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> "Replica":
        # project.serve is daphne with a graceful SIGTERM (close frames, disconnect()).
        command = [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "project.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_http(f"{self.http_url}/accounts/login/", process=self.process)
        except Exception as error:
            raise RuntimeError(f"{error}\n--- replica log ---\n{self.log_text()}") from error
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> "Replica":
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]
