"""A throwaway Sentinel setup: a master, a replica and three ``redis-sentinel`` processes.

Everything runs on loopback with free ports and no persistence, owned by one
test, which may SIGKILL the master and wait for Sentinel to promote the
replica. Sentinel here declares a master down after DOWN_AFTER_MS (production
setups use a few seconds, see docs/operations.md).
"""

import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer
from tests.support.servers import free_port

MASTER_NAME = "chatmaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2


def sentinel_binary() -> str:
    found = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
    if not Path(found).exists():
        raise RuntimeError("redis-sentinel is missing: apt-get install redis-sentinel")
    return found


@dataclass
class ReplicaServer(RedisServer):
    """A redis-server that replicates ``master_port`` from the start."""

    master_port: int = 0

    def command(self) -> list[str]:
        return [*super().command(), "--replicaof", "127.0.0.1", str(self.master_port)]

    def is_ready(self) -> bool:
        """Synced with the master, not merely up."""
        return self.client().info("replication").get("master_link_status") == "up"


@dataclass
class SentinelProcess:
    master_port: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sentinel-")))

    def start(self) -> "SentinelProcess":
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            "daemonize no\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [sentinel_binary(), str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-sentinel did not start on {self.port}:\n{self.log_text()}")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def log_text(self) -> str:
        return (self.directory / "log").read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class SentinelSetup:
    """start(), url (redis+sentinel://...), master_port(), kill_master(), wait_for_failover()."""

    master: RedisServer = field(default_factory=RedisServer)
    replica: ReplicaServer | None = None
    sentinels: list[SentinelProcess] = field(default_factory=list)

    def start(self) -> "SentinelSetup":
        self.master.start()
        self.replica = ReplicaServer(master_port=self.master.port).start()
        self.sentinels = [SentinelProcess(self.master.port).start() for _ in range(3)]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # every Sentinel knows the replica and the others
            states = [s.client().sentinel_master(MASTER_NAME) for s in self.sentinels]
            if all(
                int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2
                for state in states
            ):
                return self
            time.sleep(0.1)
        raise RuntimeError("Sentinels did not discover each other and the replica")

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def master_port(self) -> int:
        for sentinel in self.sentinels:
            try:
                _, port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                return int(port)
            except redis.RedisError:
                continue
        raise RuntimeError("no Sentinel answers")

    def kill_master(self) -> None:
        self.master.kill()

    def wait_for_failover(self, timeout: float = 30.0) -> float:
        """Seconds until every Sentinel names the replica as the master."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            ports = set()
            for sentinel in self.sentinels:
                try:
                    ports.add(
                        int(sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)[1])
                    )
                except redis.RedisError:
                    ports.add(None)
            if ports == {self.replica.port}:
                return time.monotonic() - started
            time.sleep(0.05)
        raise TimeoutError(f"no failover within {timeout} s:\n{self.sentinels[0].log_text()}")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.kill()
        for server in (self.master, self.replica):
            if server is not None:
                server.kill()
