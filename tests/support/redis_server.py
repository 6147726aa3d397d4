"""A throwaway Redis server owned by one test, for outages the shared one must never see.

The machine's Redis on 6379 serves every engineer and test run, so restart and
pause tests start their own ``redis-server`` on a free port (no persistence:
a restart loses everything, like a crashed cache node) and point replicas at it.
"""

import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.servers import free_port


@dataclass
class RedisServer:
    """start(), kill() (SIGKILL), restart() on the same port, pause() (SIGSTOP), resume()."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".redis.log")[1]))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def command(self) -> list[str]:
        """The redis-server command line: loopback, no persistence, in the foreground."""
        return [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        return self.client().ping()

    def start(self) -> "RedisServer":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.is_ready():
                    return self
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"{type(self).__name__} on {self.port} was not ready:\n{self.log.read_text()}"
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot die otherwise
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, down_for: float = 0.0) -> "RedisServer":
        """Kill and start again on the same port, empty (nothing was persisted)."""
        self.kill()
        time.sleep(down_for)
        return self.start()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
