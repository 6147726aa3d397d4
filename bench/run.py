"""``make bench``: fan-out across replicas, side by side, in one bounded run.

    python bench/run.py                 # the full run (about 8-10 minutes on 2 cores)
    python bench/run.py --profile smoke # a tiny end-to-end run (the test suite's)
    python bench/run.py --variants floor,product-core --workloads room500

Starts everything it measures (2 floor processes, 2 baseline daphnes, 2 daphnes
per product channel layer, one load-generator process), drives the load
generator over a pipe, reads CPU and memory from /proc, writes
``bench/results/latest.json`` and the PNG plots, prints a table, and stops
every process it started, also on Ctrl+C or an error. See bench/README.md for
the method.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (found through the sys.path line above)

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# Redis databases reserved for the benchmark (tests and dev servers use others).
REDIS_DB_BASELINE = 10
REDIS_DB_CORE = 11
REDIS_DB_PUBSUB = 12
PG_URL_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "chat_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"

LOCK_PATH = "/tmp/chat-bench.lock"
P99_TARGET_MS = 100.0  # saturation = highest rate whose p99 is within this and nothing is lost
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

IDLE_ROOM_SIZE = 10
# The reconnect storm (bench/storm.py): its clients are in rooms of IDLE_ROOM_SIZE of their
# own (presence) and each in one of STORM_ROOMS rooms that a sender posts to meanwhile.
STORM_ROOMS = 4
STORM_RATE = 5.0
STORM_VARIANT = "product-pubsub"
# Seconds the storm may take before the profile fails. Generous: a storm that nginx turns
# into 502s (bench/README.md) takes minutes, and how many is the figure.
STORM_LIMIT = 300.0
# nginx's main config (deploy/cluster.py) allows 4,096 connections per worker; a proxied
# socket takes two, and one worker may take most of a burst of connects.
NGINX_WORKER_CONNECTIONS = 16384
ALL_VARIANTS = ["floor", "baseline", "product-core", "product-pubsub"]


@dataclass
class Workload:
    name: str
    members: int  # per room (with ``sizes``: about their mean, for tables only)
    rooms: int
    start_rate: float  # first ladder step, deliveries per second (offered)
    sizes: tuple[int, ...] = ()  # room sizes, cycled over the rooms (default: all ``members``)
    # Deployments of this workload alone, started for it and stopped after it (default: the
    # run's variants), and fixed offered rates (deliveries/s, each ``repeats`` times, variants
    # interleaved) instead of the ladder.
    variants: tuple[str, ...] = ()
    rates: tuple[float, ...] = ()
    repeats: int = 1
    duration: float | None = None  # seconds of sending per trial (default: the profile's)
    # Reactions instead of posts (product variants only; the floor and the baseline have no
    # reactions): a message is posted first, then this many members toggle their 👍 on it.
    react_senders: int = 0
    # Long polling (product only): each room's first ``senders`` members post over WebSocket
    # (their own copies are not counted), the others receive. ``transports`` are the
    # receivers' transports, one connection set each in turn: ``ws``, ``lp`` (GET
    # /api/events) or ``mixed`` (every other receiver on each); ``alternate``: a long poller
    # sends each poll to the other replica than its last.
    senders: int = 0
    transports: tuple[str, ...] = ()
    alternate: bool = False

    def room_sizes(self) -> list[int]:
        if not self.sizes:
            return [self.members] * self.rooms
        return [self.sizes[r % len(self.sizes)] for r in range(self.rooms)]

    def mean_members(self) -> float:
        """Deliveries per message: the offered message rate is deliveries/s divided by this."""
        sizes = self.room_sizes()
        return sum(sizes) / len(sizes) - self.senders


@dataclass
class Profile:
    workloads: list[Workload]
    steps: int  # ladder steps (x2 each) at most
    refine: bool  # after the first failing step, try the geometric midpoint
    duration: float  # seconds of sending per trial
    drain: float  # seconds to wait for stragglers after the last send
    idle_sockets: int
    idle_warmup: int
    compare: bool  # the extra trials at 50% of the floor's saturation
    settle: float = 1.0  # seconds to let a server settle before reading its memory
    steps_down: int = 3  # halvings tried below the start when the first step already fails
    idle_deadline: float = 150.0  # stop opening idle sockets after this (a slow handshake path)
    # Experiments instead of the ladder: fixed offered rates (deliveries/s) per workload,
    # each run ``repeats`` times, variants interleaved; then one burst per variant.
    fixed: dict[str, list[float]] | None = None
    repeats: int = 1
    bursts: dict[str, int] | None = None
    burst_variants: list[str] | None = None  # None: every variant
    burst_drain: float = 10.0
    variants: list[str] | None = None  # default of --variants (None: ALL_VARIANTS)
    # Write into an existing latest.json instead of replacing it: this run's workloads'
    # trials replace theirs, its summary keys are added (report.merge_results).
    merge: bool = False
    redis_idle_window: float = 5.0  # seconds of idle Redis CPU reading (own Redis servers only)
    # The reconnect storm (after the workloads): this many sockets through nginx to two
    # product-pubsub replicas of its own, one SIGKILLed (0: none; --storm-sockets). Not in
    # the full run: connecting 2,000 sockets alone takes 60-70 s (bench/README.md).
    storm_sockets: int = 0
    storm_rate: float = STORM_RATE  # posts per second over the storm rooms meanwhile


# Many rooms on two Redis shards against the same on one (issue 19). 1,000 rooms: the
# layer hashes a group with CRC32 & 0xFFF of its channel name, and over the short ids of a
# fresh database that is lumpy (rooms 2-201 split 66/134 under the default prefix; rooms
# 2-1001 466/534; any 1,000 consecutive 3-4 digit ids 500/500). Rooms of 2-3 keep it at
# 2,500 sockets per deployment; 50 posts/s for 10 s, twice: every room once (the rooms
# take turns across trials), at a rate a shared 2-core machine still serves.
SHARDS_VARIANTS = ("product-pubsub+shards1", "product-pubsub+shards2")
SHARDS_WORKLOAD = Workload(
    "shards",
    3,
    1000,
    250.0,
    sizes=(2, 3),
    variants=SHARDS_VARIANTS,
    rates=(125.0,),
    repeats=2,
    duration=10.0,
)


# Long polling (issue 15). In a room of 50, 2 WebSocket senders (one per replica) and 48
# receivers: all on WebSocket, all long polling, or half each, one connection set at a time
# (a connected client of a member receives whether it is counted or not), taking turns over
# the repeats; server CPU per delivery is read on the single-transport sets, latency per
# transport on the mixed one. 1 message/s: each long-poll delivery is a poll of its own
# (~20 ms of server CPU each in the first runs: 48 receivers take one core); 5 messages/s:
# polls answer several messages at once.
LONGPOLL_TRANSPORTS = ("mixed", "ws", "lp")
STRAGGLERS_LIMIT = 120.0  # seconds a transport trial's late deliveries are waited for
LONGPOLL_ROOM_WORKLOAD = Workload(
    "room50-longpoll",
    50,
    1,
    48.0,
    senders=2,
    transports=LONGPOLL_TRANSPORTS,
    rates=(48.0, 240.0),  # 1 and 5 messages/s to 48 receivers
    repeats=2,
    duration=10.0,
)
# BlueChatter (a long-polling chat without a cursor) delivered 58% at ~18 messages/s to 20
# long-polling clients on two instances: the same load and ten times it, 20 receivers on 2
# replicas, each poll on the other replica than the last, posts from 2 WebSocket senders.
LONGPOLL_BLUECHATTER_WORKLOAD = Workload(
    "longpoll-20x2",
    22,
    1,
    360.0,
    senders=2,
    transports=("lp",),
    alternate=True,
    rates=(360.0, 3600.0),  # 18 and 180 messages/s
    repeats=2,
    duration=10.0,
)


def fixed_profile(workload: Workload, rates: list[float], **kw) -> Profile:
    """Each rate (deliveries/s) twice on one workload, variants interleaved; no ladder."""
    return Profile(
        **{
            "workloads": [workload],
            "steps": 0,
            "refine": False,
            "duration": 8.0,
            "drain": 3.0,
            "idle_sockets": 0,
            "idle_warmup": 0,
            "compare": False,
            "fixed": {workload.name: rates},
            "repeats": 2,
            **kw,
        }
    )


# python bench/run.py --profile storm [--storm-sockets N]: two product replicas behind
# nginx, N sockets over them, one replica SIGKILLed: seconds until every dropped client
# is back on the survivor and caught up; merged into the existing latest.json.
STORM = Profile(
    workloads=[],
    steps=0,
    refine=False,
    duration=0,
    drain=0,
    idle_sockets=0,
    idle_warmup=0,
    compare=False,
    variants=[],
    merge=True,
    storm_sockets=2000,
)

PROFILES = {
    "full": Profile(
        workloads=[
            Workload("room2", 2, 100, 50.0),
            Workload("room50", 50, 10, 250.0),
            Workload("room500", 500, 1, 500.0),
            SHARDS_WORKLOAD,
        ],
        steps=7,
        refine=True,
        duration=4.0,
        drain=3.0,
        idle_sockets=2000,
        idle_warmup=20,
        compare=True,
    ),
    "idle": Profile(  # memory per idle connection only (and the connect rate)
        workloads=[],
        steps=0,
        refine=False,
        duration=0,
        drain=0,
        idle_sockets=2000,
        idle_warmup=20,
        compare=False,
    ),
    # python bench/run.py --profile hypotheses --out bench/results/hypotheses --variants
    #   baseline,baseline+nohop,baseline+once,product-pubsub,product-pubsub+hop,
    #   product-pubsub+perrecipient,product-pubsub+uvicorn,product-core,product-core+cap100
    # (rooms of 50: connecting 500 members of one room would fan out ~125k presence frames
    # per product deployment before the first trial)
    "hypotheses": Profile(
        workloads=[Workload("room50", 50, 10, 500.0)],
        steps=0,
        refine=False,
        duration=4.0,
        drain=3.0,
        idle_sockets=0,
        idle_warmup=0,
        compare=False,
        fixed={"room50": [500.0, 1000.0]},
        repeats=3,
        bursts={"room50": 200},
        burst_variants=["baseline", "product-core", "product-core+cap100", "product-pubsub"],
        burst_drain=30.0,
    ),
    # Fixed high load, for profiling a replica (py-spy) and A/B of product changes:
    # python bench/run.py --profile room500-fixed --variants ...; in rooms of 2 the
    # per-message cost (storing) is everything.
    "room500-fixed": fixed_profile(Workload("room500", 500, 1, 4000.0), [4000.0, 16000.0]),
    "room2-fixed": fixed_profile(Workload("room2", 2, 100, 400.0), [400.0, 800.0]),
    # The cost of a post alone, below saturation on a shared machine (rooms of 2: ~2.5 ms of
    # server CPU a post is everything there): before/after of a product change.
    "room2-low": fixed_profile(Workload("room2", 2, 100, 100.0), [100.0, 200.0], repeats=3),
    # python bench/run.py --profile reactions: a few members of the room of 500 toggle their
    # 👍 on one message at the room500-fixed rates; every member gets every `reaction`.
    # Product variants only; merged into the existing latest.json (reactions500_* keys).
    "reactions": fixed_profile(
        Workload("reactions500", 500, 1, 4000.0, react_senders=4),
        [4000.0, 16000.0],
        variants=["product-pubsub", "product-core"],
        merge=True,
    ),
    # python bench/run.py --profile longpoll: long-polling receivers (GET /api/events) against
    # WebSocket ones in a room of 50, and the BlueChatter load (20 long pollers on 2 replicas,
    # every poll on the other replica, 18 and 180 messages/s). Product only, merged into the
    # existing latest.json (longpoll_* keys).
    "longpoll": Profile(
        workloads=[LONGPOLL_ROOM_WORKLOAD, LONGPOLL_BLUECHATTER_WORKLOAD],
        steps=0,
        refine=False,
        duration=8.0,
        drain=3.0,
        idle_sockets=0,
        idle_warmup=0,
        compare=False,
        variants=["product-pubsub"],
        merge=True,
    ),
    "longpoll-smoke": Profile(  # the same, tiny (tests/bench)
        workloads=[
            Workload(
                "room10-longpoll",
                10,
                1,
                40.0,
                senders=2,
                transports=LONGPOLL_TRANSPORTS,
                rates=(40.0,),
                duration=1.0,
            ),
            Workload(
                "longpoll-4x2",
                6,
                1,
                40.0,
                senders=2,
                transports=("lp",),
                alternate=True,
                rates=(40.0, 200.0),
                duration=1.0,
            ),
        ],
        steps=0,
        refine=False,
        duration=1.0,
        drain=3.0,
        idle_sockets=0,
        idle_warmup=0,
        compare=False,
        settle=0.3,
        variants=["product-pubsub"],
        merge=True,
    ),
    "reactions-smoke": fixed_profile(  # the same, tiny (tests/bench)
        Workload("reactions20", 20, 1, 200.0, react_senders=2),
        [200.0],
        duration=1.0,
        repeats=1,
        settle=0.3,
        variants=["product-pubsub"],
        merge=True,
    ),
    # python bench/run.py --profile shards: the full run's shards workload alone (~2.5 min),
    # merged into the existing latest.json.
    "shards": Profile(
        workloads=[SHARDS_WORKLOAD],
        steps=0,
        refine=False,
        duration=8.0,
        drain=3.0,
        idle_sockets=0,
        idle_warmup=0,
        compare=False,
        variants=[],
        merge=True,
    ),
    "shards-smoke": Profile(  # the same, tiny (tests/bench)
        workloads=[
            Workload(
                "shards", 3, 24, 60.0, sizes=(2, 3, 4), variants=SHARDS_VARIANTS, rates=(60.0,)
            )
        ],
        steps=0,
        refine=False,
        duration=1.0,
        drain=3.0,
        idle_sockets=0,
        idle_warmup=0,
        compare=False,
        settle=0.3,
        variants=[],
        merge=True,
        redis_idle_window=1.0,
    ),
    # python bench/run.py --profile storm [--storm-sockets N]: two product replicas behind
    # nginx, N sockets over them, one replica SIGKILLed: seconds until every dropped client
    # is back on the survivor and caught up; merged into the existing latest.json.
    "storm": STORM,
    "storm-smoke": replace(STORM, storm_sockets=50),  # the same, tiny (tests/bench)
    "smoke": Profile(
        workloads=[Workload("room2", 2, 4, 40.0), Workload("room10", 10, 1, 100.0)],
        steps=1,
        refine=False,
        duration=0.5,
        drain=3.0,
        idle_sockets=40,
        idle_warmup=4,
        compare=True,
        settle=0.3,
        steps_down=0,
    ),
}


# --------------------------------------------------------------------------
# /proc readers
# --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def uss_kb(pid: int) -> int:
    """Unique set size: Private_Clean + Private_Dirty from smaps_rollup."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def machine_busy_seconds() -> float:
    """CPU-seconds all cores spent not idle, from /proc/stat (to see what else ran)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() in ("postgres", "postmaster"):
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_sum(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def clean_environ() -> dict:
    """os.environ minus the app's own knobs, so a caller's settings (e.g. the test suite's
    DATABASE_URL, REDIS_KEY_PREFIX) never leak into the servers under test."""
    drop = ("DJANGO_", "DATABASE_", "REDIS_", "CHAT_", "CHANNEL_", "EMAIL_", "CSRF_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server on :{port} exited ({proc.returncode}); see {log}:\n{tail(log)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on :{port} did not listen within {timeout}s; see {log}")


def tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


class Procs:
    """Every process the run starts, each in its own session so it can be killed as a group."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen] = []

    def start(
        self, name: str, argv: list[str], *, env: dict | None = None, cwd: Path = REPO, **kw
    ) -> subprocess.Popen:
        log = self.logdir / f"{name}.log"
        fh = open(log, "ab")  # noqa: SIM115 (owned by the child process)
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**clean_environ(), **(env or {})},
            stdout=kw.pop("stdout", fh),
            stderr=fh,
            start_new_session=True,
            **kw,
        )
        proc.log = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        self.stop(list(self.procs))

    def stop(self, procs: list[subprocess.Popen]) -> None:
        """SIGTERM to each one's process group, SIGKILL after 5 s."""
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs = [p for p in self.procs if p not in procs]


class LoadGenClient:
    def __init__(self, procs: Procs) -> None:
        self.proc = procs.start(
            "loadgen",
            [sys.executable, str(HERE / "loadgen.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = self._read()
        self.pid = hello["pid"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator died; see {self.proc.log}:\n{tail(self.proc.log)}")
        return json.loads(line)

    def call(self, **msg) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read()


# --------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------


@dataclass
class Deployment:
    name: str  # floor | baseline | product-core | product-pubsub
    protocol: str  # loadgen variant: floor | baseline | product
    ports: list[int] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    procs: list = field(default_factory=list)
    # ``+shards<N>``: Redis servers of its own (not the shared one): the layer's shards, and
    # one more for presence, rate limits and the cache (so the shards carry the layer alone).
    shard_ports: list[int] = field(default_factory=list)
    aux_port: int | None = None
    redis_procs: list = field(default_factory=list)
    layer: str = ""
    # port -> CPU-seconds per second each of those servers uses with the sockets connected and
    # no message sent (cron, the watchdog's probes, heartbeats): the trials' net Redis CPU
    redis_idle_cpu: dict[int, float] = field(default_factory=dict)

    def own_redis(self) -> list[int]:
        return [*self.shard_ports, *([self.aux_port] if self.aux_port else [])]


# Where the product's code is run from: the working tree, or (default) a snapshot of a git
# revision, so that edits in progress in a shared checkout never change a run halfway.
PRODUCT_DIR = REPO


def snapshot_product(rev: str, dest: Path) -> tuple[Path, str | None]:
    """``git archive`` of ``rev`` into ``dest``; 'worktree' runs the checkout as it is."""
    if rev == "worktree":
        return REPO, None
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", rev + "^{commit}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest, commit


def product_available() -> bool:
    return (PRODUCT_DIR / "project" / "asgi.py").exists() and (
        PRODUCT_DIR / "chat" / "services.py"
    ).exists()


# redis-py 8 gives every connection a 5 s socket timeout (redis/_defaults.py), and
# channels-redis's RedisChannelLayer.receive blocks in BZPOPMIN for 5 s: the read times out
# and the consumer dies (its socket closes) whenever a channel sees no message for 5 s.
# Until the product configures its layer against that, the benchmark passes a longer timeout
# in the URL for the RedisChannelLayer deployments (--redis-as-is measures without it).
CORE_LAYER_URL_QUERY = "?socket_timeout=30"


def product_env(layer: str, *, as_is: bool = False) -> dict:
    db = REDIS_DB_CORE if layer == "core" else REDIS_DB_PUBSUB
    query = CORE_LAYER_URL_QUERY if layer == "core" and not as_is else ""
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}{query}",
        "CHANNEL_LAYER": layer,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-not-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHAT_RATE_LIMIT_ENABLED": "0",
        # No mail: seeding makes a token per user, and each new token is emailed (the console
        # backend would write them into the seed script's JSON on stdout).
        "EMAIL_URL": "dummymail://",
        "PYTHONPATH": str(PRODUCT_DIR),
    }


def daphne_argv(port: int, app: str) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]


def product_daphne_argv(port: int, app: str) -> list[str]:
    """daphne as the product ships it (docker-compose, make cluster): project.serve."""
    return [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), app]


def uvicorn_argv(port: int, app: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--ws", "websockets-sansio", "--no-access-log", "--lifespan", "off",
        "--log-level", "warning",
    ]  # fmt: skip


def start_redis(procs: Procs, name: str) -> tuple[int, subprocess.Popen]:
    """A throwaway redis-server on a free loopback port (no persistence), ready to serve."""
    import redis

    port = free_port()
    argv = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--daemonize", "no",
    ]  # fmt: skip
    proc = procs.start(name, argv)
    deadline = time.monotonic() + 10
    while True:
        try:
            if redis.Redis(host=REDIS_HOST, port=port, socket_timeout=1).ping():
                return port, proc
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = tail(proc.log)
                raise RuntimeError(f"redis-server :{port} did not start:\n{log}") from None
            time.sleep(0.05)


def redis_counters(port: int) -> dict:
    """CPU (``INFO cpu``, microsecond resolution) and command calls of one Redis server."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=port, socket_timeout=5)
    cpu = client.info("cpu")
    stats = client.info("commandstats")
    client.close()
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
    return {
        "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
        "publishes": calls.get("publish", 0),
        "commands": sum(calls.values()),
    }


def counters_delta(before: dict, after: dict) -> dict:
    return {
        "cpu_s": round(after["cpu_s"] - before["cpu_s"], 6),
        "publishes": after["publishes"] - before["publishes"],
        # INFO itself is a command: one per reading (two INFO calls each)
        "commands": after["commands"] - before["commands"] - 2,
    }


def start_deployment(
    procs: Procs, name: str, *, as_is: bool = False, tag: str | None = None
) -> Deployment:
    """Two server processes of a variant. ``base+change`` names run an experiment variant:
    ``baseline+nohop`` / ``baseline+once`` (bench/baseline/baseline_chat/variants.py),
    ``product-<layer>+shards<N>`` (the layer on N Redis servers of its own),
    ``product-<layer>+<patch>`` (bench/product_patches.py)."""
    base, _, change = name.partition("+")
    ports = [free_port(), free_port()]
    starts = []
    tag = tag or name.replace("+", "-")  # names its logs, and its Redis key prefix
    if base == "floor":
        dep = Deployment(name, "floor", ports)
        for i, port in enumerate(ports):
            redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB_BASELINE}"
            argv = [
                sys.executable,
                str(HERE / "floor.py"),
                "--port",
                str(port),
                "--redis",
                redis_url,
            ]
            starts.append(procs.start(f"{tag}-{i}", argv))
    elif base == "baseline":
        dep = Deployment(name, "baseline", ports)
        env = {
            "DJANGO_SETTINGS_MODULE": "baseline_site.settings",
            "PYTHONPATH": str(HERE / "baseline"),
            "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB_BASELINE}"
            + ("" if as_is else CORE_LAYER_URL_QUERY),
            "BASELINE_CONSUMER": change or "tutorial",
            # Deployments sharing a Redis DB must not share groups: a prefix of their own.
            "BASELINE_PREFIX": "bench-" + tag,
        }
        for i, port in enumerate(ports):
            argv = daphne_argv(port, "baseline_site.asgi:application")
            starts.append(procs.start(f"{tag}-{i}", argv, env=env, cwd=HERE / "baseline"))
    elif base in ("product-core", "product-pubsub"):
        layer = base.split("-", 1)[1]
        dep = Deployment(name, "product", ports, layer=layer)
        env = product_env(layer, as_is=as_is)
        env["REDIS_KEY_PREFIX"] = "bench-" + tag  # groups, presence and cache of its own
        app = "project.asgi:application"
        server = product_daphne_argv
        changes = [c for c in change.split("+") if c]
        for c in [c for c in changes if c.startswith("shards")]:
            changes.remove(c)
            count = int(c.removeprefix("shards") or 2)
            query = CORE_LAYER_URL_QUERY if layer == "core" and not as_is else ""
            for i in range(count):
                port, proc = start_redis(procs, f"{tag}-redis-shard{i}")
                dep.shard_ports.append(port)
                dep.redis_procs.append(proc)
            dep.aux_port, proc = start_redis(procs, f"{tag}-redis-aux")
            dep.redis_procs.append(proc)
            env["REDIS_URL"] = ",".join(
                f"redis://{REDIS_HOST}:{port}/0{query}" for port in dep.shard_ports
            )
            env["PRESENCE_REDIS_URL"] = env["CACHE_REDIS_URL"] = (
                f"redis://{REDIS_HOST}:{dep.aux_port}/0"
            )
            # Servers of its own: the product's default prefix, which the hashing depends on.
            env["REDIS_KEY_PREFIX"] = "chat"
        if "uvicorn" in changes:  # the same application on uvicorn + websockets, not daphne
            server = uvicorn_argv
            changes.remove("uvicorn")
        if changes:
            env["PYTHONPATH"] += os.pathsep + str(HERE)
            env["BENCH_PATCH"] = ",".join(changes)
            app = "product_patches:application"
        for i, port in enumerate(ports):
            starts.append(procs.start(f"{tag}-{i}", server(port, app), env=env, cwd=PRODUCT_DIR))
    else:
        raise ValueError(f"unknown variant {name}")
    dep.pids = [p.pid for p in starts]
    dep.procs = starts
    return dep


def wait_deployment(dep: Deployment) -> None:
    for proc, port in zip(dep.procs, dep.ports, strict=True):
        wait_port(port, proc, 60, proc.log)


def start_nginx(procs: Procs, ports: list[int]) -> tuple[int, subprocess.Popen]:
    """nginx in front of replicas, configured as the product deploys it: the chat part is
    deploy/nginx/chat.conf.template and the main config deploy/cluster.py's (as
    tests/support/nginx.py does), with more connections per worker."""
    import importlib.util
    import urllib.request

    spec = importlib.util.spec_from_file_location("cluster", PRODUCT_DIR / "deploy" / "cluster.py")
    cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cluster)
    binary = next((path for path in cluster.NGINX_CANDIDATES if Path(path).exists()), None)
    if binary is None:
        raise RuntimeError("nginx is not installed: make system-deps (apt-get install nginx)")
    port = free_port()
    directory = procs.logdir / "nginx"
    for sub in ("tmp", "media"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    chat_conf = directory / "chat.conf"
    chat_conf.write_text(
        cluster.render_template(
            listen=f"127.0.0.1:{port}",
            servers=[f"127.0.0.1:{p}" for p in ports],
            media_root=str(directory / "media"),
        )
    )
    main_conf = directory / "nginx.conf"
    main_conf.write_text(
        cluster.main_config(directory, chat_conf).replace(
            "worker_connections 4096;", f"worker_connections {NGINX_WORKER_CONNECTIONS};"
        )
    )
    argv = [binary, "-p", str(directory), "-c", str(main_conf), "-e", "stderr"]
    proc = procs.start("nginx", argv)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return port, proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = tail(proc.log)
                raise RuntimeError(f"nginx did not start; see {proc.log}:\n{log}") from None
            time.sleep(0.1)


def reset_redis() -> int:
    import redis

    for db in (REDIS_DB_BASELINE, REDIS_DB_CORE, REDIS_DB_PUBSUB):
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).flushdb()
    return int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT).info("server")["process_id"])


def prepare_product_db(procs: Procs, plan: dict) -> list[str]:
    """Fresh ``chat_bench`` database, migrated and seeded; returns raw tokens by user index."""
    import psycopg

    with psycopg.connect(PG_URL_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    env = {**clean_environ(), **product_env("core")}
    run = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PRODUCT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode:
        raise RuntimeError(f"migrate failed:\n{run.stdout}\n{run.stderr}")
    run = subprocess.run(
        [sys.executable, str(HERE / "product_seed.py")],
        cwd=PRODUCT_DIR,
        env=env,
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode:
        raise RuntimeError(f"seeding failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)["tokens"]


# --------------------------------------------------------------------------
# Socket plans
# --------------------------------------------------------------------------


def workload_rooms(w: Workload) -> list[str]:
    return [f"bench-{w.name}-{r}" for r in range(w.rooms)]


def seed_plan(profile: Profile) -> tuple[dict, dict[str, list[int]]]:
    """Disjoint users per workload; idle sockets reuse users 0..N-1."""
    rooms = []
    first_user: dict[str, list[int]] = {}
    nxt = 0
    for w in profile.workloads:
        users_w = []
        for slug, size in zip(workload_rooms(w), w.room_sizes(), strict=True):
            members = list(range(nxt, nxt + size))
            nxt += size
            users_w += members
            rooms.append({"slug": slug, "members": members})
        first_user[w.name] = users_w
    # Idle sockets get users of their own, in rooms of IDLE_ROOM_SIZE: connecting thousands
    # of members of one room would measure the presence storm, not idle memory.
    idle = list(range(nxt, nxt + profile.idle_sockets + profile.idle_warmup))
    for k in range(0, len(idle), IDLE_ROOM_SIZE):
        rooms.append(
            {"slug": f"bench-idle-{k // IDLE_ROOM_SIZE}", "members": idle[k : k + IDLE_ROOM_SIZE]}
        )
    first_user["idle"] = idle
    nxt += len(idle)
    # Storm clients (then the sender, last): rooms of IDLE_ROOM_SIZE of their own, and each
    # in one of STORM_ROOMS rooms, which the sender is a member of.
    n = profile.storm_sockets
    storm = list(range(nxt, nxt + n + 1)) if n else []
    for k in range(0, n, IDLE_ROOM_SIZE):
        members = storm[k : min(n, k + IDLE_ROOM_SIZE)]
        rooms.append({"slug": f"bench-storm-small-{k // IDLE_ROOM_SIZE}", "members": members})
    for j in range(STORM_ROOMS if n else 0):
        rooms.append({"slug": storm_room(j), "members": storm[j:n:STORM_ROOMS] + storm[n:]})
    first_user["storm"] = storm
    return {"users": nxt + len(storm), "rooms": rooms}, first_user


def storm_room(j: int) -> str:
    return f"bench-storm-{j}"


def product_username(index: int) -> str:
    """The username bench/product_seed.py gives user ``index``."""
    return f"bench-u{index:05d}"


def sockets_for(dep: Deployment, w: Workload, users: list[int], tokens: list[str]) -> list[dict]:
    socks = []
    k = 0
    for slug, size in zip(workload_rooms(w), w.room_sizes(), strict=True):
        for _ in range(size):
            s = {"room": slug}
            if dep.protocol == "product":
                s["token"] = tokens[users[k]]
                s["user"] = product_username(users[k])
            socks.append(s)
            k += 1
    return socks


def transport_sockets(
    dep: Deployment, w: Workload, users: list[int], tokens: list[str], mode: str
) -> list[dict]:
    """A workload with transports, receivers all on ``mode`` (``mixed``: every other one
    on each). Each transport's clients alternate over the replicas, senders too."""
    socks = []
    k = 0
    for slug, size in zip(workload_rooms(w), w.room_sizes(), strict=True):
        placed = {"send": 0, "ws": 0, "lp": 0}
        for j in range(size):
            user = users[k]
            k += 1
            if j < w.senders:
                role, kind = "send", "ws"
            else:
                role = "recv"
                kind = mode if mode != "mixed" else ("ws", "lp")[(j - w.senders) % 2]
            slot = "send" if role == "send" else kind
            port = dep.ports[placed[slot] % len(dep.ports)]
            placed[slot] += 1
            s = {
                "room": slug,
                "token": tokens[user],
                "user": product_username(user),
                "transport": kind,
                "role": role,
                "port": port,
            }
            if kind == "lp" and w.alternate:
                s["alternate"] = True
            socks.append(s)
    return socks


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


class Bench:
    def __init__(self, args, profile: Profile) -> None:
        self.args = args
        self.profile = profile
        self.logdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
        self.procs = Procs(self.logdir)
        self.trial_id = 0
        self.trials: list[dict] = []
        self.idle: dict[str, dict] = {}
        self.connects: list[dict] = []
        self.wv: list[str] = []  # the variants taking part in the current workload
        self.product_commit: str | None = None
        self.notes: list[str] = []
        self.storm: dict | None = None
        self.t_start = time.monotonic()

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t_start:6.1f}s] {text}", flush=True)

    def run(self) -> dict:
        profile = self.profile
        global PRODUCT_DIR
        variants = self.args.variants
        # Variants of a workload of their own (``Workload.variants``) start with it.
        own = [v for w in profile.workloads for v in w.variants]
        if profile.storm_sockets:  # the storm's deployment of its own
            own.append(STORM_VARIANT)
        if any(v.startswith("product") for v in variants + own):
            PRODUCT_DIR, self.product_commit = snapshot_product(
                self.args.product_src, self.logdir / "product"
            )
            self.log(f"product from {self.args.product_src} ({self.product_commit or PRODUCT_DIR})")
        if any(v.startswith("product") for v in variants + own) and not product_available():
            self.notes.append(
                "no product code (project/asgi.py, chat/services.py): product variants skipped"
            )
            self.log("product not in the tree yet: skipping product variants")
            variants = [v for v in variants if not v.startswith("product")]
            for w in profile.workloads:
                w.variants = tuple(v for v in w.variants if not v.startswith("product"))
            profile.storm_sockets = 0
        self.variants = variants
        if not self.args.redis_as_is:
            self.notes.append(
                "RedisChannelLayer deployments (baseline, product-core) run with"
                f" REDIS_URL{CORE_LAYER_URL_QUERY}: with redis-py 8's 5 s default socket timeout"
                " an idle consumer dies after 5 s (BZPOPMIN blocks 5 s)"
            )
        # The shared Redis only for the run's own variants (workload deployments bring theirs).
        self.redis_pid = reset_redis() if variants or profile.storm_sockets else None
        self.log(f"logs in {self.logdir}; redis pid {self.redis_pid}")

        self.deps = {}
        # Floor and baseline boot while the product's database is prepared.
        for v in variants:
            if not v.startswith("product"):
                self.deps[v] = start_deployment(self.procs, v, as_is=self.args.redis_as_is)
        tokens: list[str] = []
        plan, self.users = seed_plan(profile)
        if any(v.startswith("product") for v in variants + own):
            self.log(f"product: fresh database {PG_DB}, migrate, seed {plan['users']} users")
            tokens = prepare_product_db(self.procs, plan)
        self.tokens = tokens
        for v in variants:
            if v.startswith("product"):
                self.deps[v] = start_deployment(self.procs, v, as_is=self.args.redis_as_is)
        self.gen = LoadGenClient(self.procs)
        for v in variants:
            wait_deployment(self.deps[v])
            self.log(f"started {v} on ports {self.deps[v].ports} (pids {self.deps[v].pids})")
        time.sleep(profile.settle)

        if profile.idle_sockets:
            self.measure_idle([self.deps[v] for v in variants])
        for w in profile.workloads:
            self.run_workload(w)
        if profile.storm_sockets:
            self.run_storm()
        return self.results()

    # -- the reconnect storm -------------------------------------------------------
    def run_storm(self) -> None:
        """Two product replicas of their own behind nginx, the storm's clients over them
        (bench/storm.py), one replica SIGKILLed: ``self.storm`` gets the figures."""
        p = self.profile
        users = self.users["storm"]
        n = p.storm_sockets
        dep = start_deployment(self.procs, STORM_VARIANT, as_is=self.args.redis_as_is, tag="storm")
        stopped = list(dep.procs)
        try:
            wait_deployment(dep)
            nginx_port, nginx = start_nginx(self.procs, dep.ports)
            stopped.append(nginx)
            self.log(
                f"storm: {STORM_VARIANT} on ports {dep.ports} (pids {dep.pids}) behind nginx"
                f" :{nginx_port}; {n} sockets, {p.storm_rate} posts/s to {STORM_ROOMS} rooms"
            )
            plan = {
                "nginx_port": nginx_port,
                "replica_ports": dep.ports,
                "replica_pids": dep.pids,
                "tokens": [self.tokens[u] for u in users[:n]],
                "sender_token": self.tokens[users[n]],
                "storm_rooms": [storm_room(j) for j in range(STORM_ROOMS)],
                "rate": p.storm_rate,
                "lead": 1.0,
                "limit": STORM_LIMIT,
                "drain_limit": 15.0,
                "connect_concurrency": 16,
                "connect_limit": 300.0,
            }
            proc = self.procs.start(
                "storm",
                [sys.executable, str(HERE / "storm.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                out, _ = proc.communicate(json.dumps(plan), timeout=600)
            except subprocess.TimeoutExpired:
                self.procs.stop([proc])
                raise RuntimeError(f"the storm did not end; see {proc.log}") from None
            if proc.returncode or not out.strip():
                raise RuntimeError(f"the storm client failed; see {proc.log}:\n{tail(proc.log)}")
            result = json.loads(out.strip().splitlines()[-1])
        finally:
            self.procs.stop(stopped)
        if not result.get("ok"):
            raise RuntimeError(f"storm: {result.get('error')}")
        result.update(variant=STORM_VARIANT, replicas=2, through="nginx")
        self.storm = result
        self.log(
            f"storm: {result['dropped']} of {n} sockets dropped, all back and caught up"
            f" {fmt(result['reconnect_storm_s'], 2)} s after the kill (reconnected p50"
            f" {fmt(result['reconnected_s']['p50'], 2)} s, caught up p99"
            f" {fmt(result['caught_up_s']['p99'], 2)} s); {result['messages']} posts,"
            f" lost {result['lost']}, duplicates {result['duplicates']}"
            + ("" if result["valid"] else "  INVALID")
        )

    # -- idle memory -----------------------------------------------------
    def idle_sockets(self, dep: Deployment, lo: int, hi: int) -> list[dict]:
        socks = []
        for i in range(lo, hi):
            s = {"room": None, "port": dep.ports[0]}
            if dep.protocol == "product":
                s["token"] = self.tokens[self.users["idle"][i]]
            elif dep.protocol == "baseline":
                s["room"] = f"idle-{i % 8}"
            socks.append(s)
        return socks

    def measure_idle(self, deps: list[Deployment]) -> None:
        """USS of one replica before and after N idle sockets, and its connect rate.

        Each variant's sockets all go to its first replica; the variants connect one after
        another, so each connect rate is that of one replica on an otherwise quiet machine
        (connected in parallel, the two product variants shared the two cores for most of
        their connects while the others had finished). A few warm-up sockets first, so the
        baseline reading already includes lazily-built per-process state.
        """
        p = self.profile

        def sets(prefix: str, lo: int, hi: int) -> list[dict]:
            return [
                {
                    "set": f"{prefix}-{d.name}",
                    "variant": d.protocol,
                    "ports": d.ports,
                    "sockets": self.idle_sockets(d, lo, hi),
                    "join": False,
                }
                for d in deps
            ]

        warm = self.gen.call(cmd="connect_many", sets=sets("warm", 0, p.idle_warmup))
        for d, r in zip(deps, warm["replies"], strict=True):
            self.check(r, f"{d.name} idle warm-up")
        time.sleep(p.settle)
        before = {d.name: uss_kb(d.pids[0]) for d in deps}
        self.log(f"idle: connecting {p.idle_sockets} sockets to one replica of each variant")
        idle_sets = sets("idle", p.idle_warmup, p.idle_warmup + p.idle_sockets)
        for spec in idle_sets:
            spec["deadline"] = p.idle_deadline
        replies = [
            self.gen.call(cmd="connect_many", sets=[spec])["replies"][0] for spec in idle_sets
        ]
        time.sleep(2 * p.settle)
        for d, r in zip(deps, replies, strict=True):
            after = uss_kb(d.pids[0])
            if not r.get("ok"):
                self.notes.append(f"idle {d.name}: {r.get('error')}")
            self.idle[d.name] = {
                "sockets": r["connected"],
                "skipped": r.get("skipped", 0),
                "failed": r.get("failed", 0),
                "retries": r.get("retries", 0),
                "connect_seconds": r["seconds"],
                "connects_per_s": round(r["connected"] / r["seconds"], 1) if r["seconds"] else None,
                "uss_before_kb": before[d.name],
                "uss_after_kb": after,
                "kb_per_connection": round((after - before[d.name]) / max(1, r["connected"]), 2),
            }
            self.log(
                f"idle {d.name}: {r['connected']} sockets in {r['seconds']}s, USS"
                f" {before[d.name]} -> {after} kB = {self.idle[d.name]['kb_per_connection']}"
                " kB/connection"
            )
        for d in deps:
            self.gen.call(cmd="close", set=f"idle-{d.name}")
            self.gen.call(cmd="close", set=f"warm-{d.name}")

    def check(self, reply: dict, what: str) -> dict:
        if not reply.get("ok"):
            raise RuntimeError(f"{what}: {reply.get('error')}")
        return reply

    # -- load ------------------------------------------------------------------
    def trial(
        self,
        w: Workload,
        v: str,
        deliveries_rate: float,
        kind: str,
        *,
        burst: int = 0,
        set_name: str | None = None,
        transport: str | None = None,
    ) -> dict:
        """One trial: open-loop sends at ``deliveries_rate`` for the profile's duration, or
        (``burst``) that many messages written at once, spread over the rooms. ``set_name``:
        the load generator's set, if not the variant's (``transport``: its receivers')."""
        dep = self.deps[v]
        self.trial_id += 1
        rate = deliveries_rate / w.mean_members()  # messages per second over all rooms
        pg = postgres_pids() if dep.protocol == "product" else []
        own_redis = dep.own_redis()
        k0 = {port: redis_counters(port) for port in own_redis}
        c0 = {pid: cpu_seconds(pid) for pid in dep.pids}
        g0, p0 = cpu_seconds(self.gen.pid), cpu_sum(pg)
        r0 = cpu_seconds(self.redis_pid) if not own_redis else 0.0
        m0 = machine_busy_seconds()
        t0 = time.monotonic()
        if burst:
            cmd = {"cmd": "burst", "count": burst, "drain": self.profile.burst_drain}
        else:
            cmd = {"cmd": "run", "rate": rate, "duration": w.duration or self.profile.duration}
            cmd["drain"] = self.profile.drain
            cmd["react"] = bool(w.react_senders)
        reply = self.check(
            self.gen.call(**cmd, set=set_name or v, trial=self.trial_id), f"{v} trial"
        )
        wall = time.monotonic() - t0
        replicas = sum(cpu_seconds(pid) - c0[pid] for pid in dep.pids)
        shards = {port: counters_delta(k0[port], redis_counters(port)) for port in own_redis}
        if own_redis:
            redis_cpu = sum(d["cpu_s"] for d in shards.values())
        else:
            redis_cpu = cpu_seconds(self.redis_pid) - r0
        server_cpu = replicas + redis_cpu
        loadgen_cpu = cpu_seconds(self.gen.pid) - g0
        pg_cpu = cpu_sum(pg) - p0
        machine = machine_busy_seconds() - m0
        passed = (
            reply["delivered_unique"] == reply["expected"]
            and reply["p99_ms"] is not None
            and reply["p99_ms"] <= P99_TARGET_MS
        )
        nominal = reply["messages"] / rate if not burst else max(reply["total_seconds"], 1e-3)
        t = {
            "workload": w.name,
            "members": w.members,
            "rooms": w.rooms,
            "variant": v,
            **({"transport": transport} if transport else {}),
            "kind": kind,
            "trial": self.trial_id,
            "offered_msgs_per_s": round(rate, 3),
            "offered_deliveries_per_s": round(deliveries_rate, 1),
            "delivered_deliveries_per_s": round(reply["delivered_unique"] / nominal, 1),
            "delivery_ratio": round(reply["delivered_unique"] / reply["expected"], 6)
            if reply["expected"]
            else None,
            "cpu": {
                "replicas_s": round(replicas, 3),
                "redis_s": round(redis_cpu, 3),
                "server_s": round(server_cpu, 3),
                "postgres_s": round(max(0.0, pg_cpu), 3),  # backends come and go: approximate
                "loadgen_s": round(loadgen_cpu, 3),
                # everything else that ran meanwhile (other users of the machine)
                "others_s": round(max(0.0, machine - server_cpu - loadgen_cpu - pg_cpu), 3),
                "wall_s": round(wall, 3),
            },
            "deliveries_per_cpu_s": round(reply["delivered_unique"] / server_cpu, 1)
            if server_cpu > 0
            else None,
            "passed": passed,
            **{k: reply[k] for k in reply if k != "ok"},
        }
        if own_redis:
            # Per server (INFO cpu and commandstats deltas): the layer's shards in REDIS_URL
            # order, then presence, rate limits and cache on their own server.
            t["layer"] = dep.layer

            def server(port: int) -> dict:
                idle = dep.redis_idle_cpu.get(port, 0.0) * wall
                return {"port": port, **shards[port], "idle_cpu_s": round(idle, 6)}

            t["redis_shards"] = [server(port) for port in dep.shard_ports]
            t["redis_aux"] = server(dep.aux_port)
        self.note_stragglers(v, reply)
        self.trials.append(t)
        label = f"{v}/{transport}" if transport else v
        self.log(
            f"{w.name:8s} {label:15s} {deliveries_rate:9.0f}/s offered  "
            f"{t['delivered_deliveries_per_s']:9.0f}/s delivered  "
            f"p50 {fmt(t['p50_ms'])} p99 {fmt(t['p99_ms'])} p99.9 {fmt(t['p999_ms'])} ms  "
            f"{reply['delivered_unique']}/{reply['expected']}  "
            f"cpu {server_cpu:5.2f}s -> {fmt(t['deliveries_per_cpu_s'], 0)}/cpu-s  "
            f"{'ok' if passed else 'SATURATED'}"
            + "".join(
                f"  shard{i} {d['publishes']} pub {d['cpu_s']:.3f}s"
                for i, d in enumerate(t.get("redis_shards", []))
            )
            + "".join(
                f"  {k} p50 {fmt(b['p50_ms'])} p99 {fmt(b['p99_ms'])}"
                f" {b['delivered']}/{b['expected']}"
                for k, b in t.get("by_transport", {}).items()
            )
            + (f"  {t['polls']} polls" if "polls" in t else "")
            + (f"  errors {t['errors']}" if t.get("errors") else "")
        )
        time.sleep(min(0.3, self.profile.settle))
        if not passed and self.wv:
            # A saturated trial leaves a backlog its servers work off for up to tens of
            # seconds after the trial ends; the next trial (often another variant's, at the
            # same rate) must not share the two cores with it (bench/README.md, Results).
            t["quiet_after_s"] = self.wait_quiet(w, record=False)
        return t

    def wait_quiet(
        self, w: Workload, *, per_process: float = 0.03, limit: float = 240.0, record: bool = True
    ) -> float:
        """Wait until the servers of this workload's variants use < ``per_process`` of a core
        each on average (idle replicas still run heartbeats and watchdog probes); returns the
        seconds waited (``record``: also kept with the workload's connects)."""
        pids = [pid for v in self.wv for pid in self.deps[v].pids]
        threshold = per_process * len(pids)
        t0 = time.monotonic()
        calm = 0
        before = cpu_sum(pids)
        step = self.profile.settle
        threshold *= step
        while time.monotonic() - t0 < limit and calm < 2:
            time.sleep(step)
            now = cpu_sum(pids)
            calm = calm + 1 if now - before < threshold else 0
            before = now
        waited = round(time.monotonic() - t0, 1)
        if record:
            self.connects.append({"workload": w.name, "settle_seconds": waited})
        self.log(f"{w.name}: servers quiet after {waited}s")
        return waited

    def measure_redis_idle(self, deps: list[Deployment]) -> None:
        """What the deployments' own Redis servers burn with nothing sent, all at once: an
        idle server is not free (cron at 10 Hz, the watchdog probing each shard every second),
        and at a few hundred publishes per trial that is most of its CPU."""
        ports = [(d, port) for d in deps for port in d.own_redis()]
        if not ports:
            return
        window = self.profile.redis_idle_window
        before = {port: redis_counters(port) for _, port in ports}
        time.sleep(window)
        for d, port in ports:
            rate = (redis_counters(port)["cpu_s"] - before[port]["cpu_s"]) / window
            d.redis_idle_cpu[port] = rate
        self.log(
            "idle Redis CPU (ms/s): "
            + "  ".join(f"{d.name} {port} {1000 * d.redis_idle_cpu[port]:.2f}" for d, port in ports)
        )

    def note_stragglers(self, v: str, reply: dict) -> None:
        """Late deliveries of the variant's previous trial (after its drain window): the
        trial's ``delivered_eventually`` tells late from lost."""
        prev = reply.get("previous_trial")
        if prev is None:
            return
        for t in self.trials:
            if t["trial"] == prev:
                t["late_after_drain"] = reply.get("previous_late_unique", 0)
                t["delivered_eventually"] = t["delivered_unique"] + t["late_after_drain"]
                return

    def run_workload(self, w: Workload) -> None:
        """Connect every variant's sockets, then the ladder (or fixed rates); a workload with
        variants of its own starts them first and stops them after."""
        if not w.variants:
            self._run_workload(w, self.variants)
            return
        started = []
        try:
            for v in w.variants:
                self.deps[v] = start_deployment(self.procs, v, as_is=self.args.redis_as_is)
                started.append(v)
            for v in w.variants:
                wait_deployment(self.deps[v])
                d = self.deps[v]
                self.log(
                    f"started {v} on ports {d.ports} (pids {d.pids}),"
                    f" layer on Redis {d.shard_ports}, presence and cache on {d.aux_port}"
                )
            time.sleep(self.profile.settle)
            self._run_workload(w, list(w.variants))
        finally:
            for v in started:
                d = self.deps[v]
                self.procs.stop(d.procs + d.redis_procs)

    def _run_workload(self, w: Workload, variants: list[str]) -> None:
        p = self.profile
        if w.react_senders or w.transports:
            what = "reactions" if w.react_senders else "/api/events"
            for v in [v for v in variants if self.deps[v].protocol != "product"]:
                self.notes.append(f"{w.name}: {v} skipped: it has no {what}")
                self.log(f"{w.name}: {v} skipped (no {what})")
            variants = [v for v in variants if self.deps[v].protocol == "product"]
        if w.transports:
            self.run_transports(w, variants)
            return
        specs = []
        for v in variants:
            dep = self.deps[v]
            # Product users are seeded members: the server subscribes a socket to all of its
            # user's rooms before hello, so no join frame (whose reply carries the member list).
            specs.append(
                {
                    "set": v,
                    "variant": dep.protocol,
                    "ports": dep.ports,
                    "sockets": sockets_for(dep, w, self.users[w.name], self.tokens),
                    "join": dep.protocol != "product",
                }
            )
        many = self.gen.call(cmd="connect_many", sets=specs)
        for v, r in zip(variants, many["replies"], strict=True):
            self.connects.append({"workload": w.name, "variant": v, **r})
            self.log(
                f"{w.name}: {v} connected {r['connected']} sockets in {r['seconds']}s"
                f" ({r.get('retries', 0)} retried handshakes)"
            )
        # A variant whose sockets could not all connect sits this workload out (noted).
        self.wv = []
        for v, r in zip(variants, many["replies"], strict=True):
            if r.get("ok"):
                self.wv.append(v)
            else:
                self.notes.append(f"{w.name}: {v} skipped: {r.get('error')}")
                self.log(f"{w.name}: {v} SKIPPED: {r.get('error')}")
                self.gen.call(cmd="close", set=v)
        # Connecting can leave work queued behind it (the product announces every user's
        # presence to their rooms: a 500-member room fans out ~125k presence frames), and
        # it must not bleed into the first trials.
        self.wait_quiet(w)
        if w.react_senders:  # the message to react to, posted by a member
            for v in self.wv:
                r = self.check(
                    self.gen.call(cmd="react_target", set=v, senders=w.react_senders),
                    f"{v} reaction target",
                )
                self.log(f"{w.name}: {v} reacts to message {r['id']} from {r['senders']}")
        # Warm-up (not recorded): first messages pay for imports and caches.
        for v in self.wv:
            self.gen.call(
                cmd="run",
                set=v,
                rate=min(20.0, w.rooms * 2.0),
                duration=0.5,
                drain=2.0,
                trial=0,
                react=bool(w.react_senders),
            )
        self.measure_redis_idle([self.deps[v] for v in self.wv])

        if p.fixed is not None or w.rates:
            self.run_fixed(w)
            self.close_sets()
            return
        # The ladder, interleaved: every step runs each still-unsaturated variant in turn.
        active = list(self.wv)
        best: dict[str, float] = {}
        failed_at: dict[str, float] = {}
        rate = w.start_rate
        for step in range(p.steps):
            order = active[step % len(active) :] + active[: step % len(active)] if active else []
            for v in order:
                t = self.trial(w, v, rate, "ladder")
                if t["passed"]:
                    best[v] = rate
                else:
                    failed_at[v] = rate
                    active.remove(v)
            if not active:
                break
            rate *= 2
        # A variant that failed the first step: step down (halving) until one passes.
        for v in self.wv:
            down = failed_at.get(v)
            for _ in range(p.steps_down if v not in best else 0):
                down /= 2
                t = self.trial(w, v, down, "ladder")
                if t["passed"]:
                    best[v] = down
                    break
        if p.refine:
            for v in self.wv:
                if v in failed_at and v in best:
                    mid = math.sqrt(best[v] * failed_at[v])
                    t = self.trial(w, v, mid, "refine")
                    if t["passed"]:
                        best[v] = mid
        if p.compare and "floor" in self.wv:
            floor_sat = best.get("floor", w.start_rate)
            half = floor_sat / 2
            for v in self.wv:
                self.trial(w, v, half, "compare")
        self.close_sets()

    def run_transports(self, w: Workload, variants: list[str]) -> None:
        """Each transport's connection set in turn (only one may be connected: every client
        of a member receives), per variant: connect, settle, warm up, its fixed-rate trials,
        close. With several transports they take turns over the repeats; with one, its set
        stays connected for all of them. After each trial its stragglers are waited for (up
        to ``STRAGGLERS_LIMIT``): a saturated long poll catches up long after the drain
        window, and its backlog must neither count as lost nor slow the next trial."""
        rates = w.rates or (self.profile.fixed or {}).get(w.name, [])
        repeats = w.repeats if w.rates else self.profile.repeats
        modes = list(w.transports)
        cycles, inner = (repeats, 1) if len(modes) > 1 else (1, repeats)
        skipped: set[str] = set()
        for cycle in range(cycles):
            for mode in modes[cycle % len(modes) :] + modes[: cycle % len(modes)]:
                for v in [v for v in variants if v not in skipped]:
                    name = f"{v}/{mode}"
                    if not self.connect_transport(w, v, mode, name):
                        skipped.add(v)
                        continue
                    for _ in range(inner):
                        for rate in rates:
                            self.trial(w, v, rate, "fixed", set_name=name, transport=mode)
                            reply = self.gen.call(
                                cmd="stragglers",
                                set=name,
                                quiet=2 * self.profile.settle,
                                limit=STRAGGLERS_LIMIT,
                            )
                            self.note_stragglers(v, reply)
                    self.gen.call(cmd="close", set=name)
        self.wv = []

    def connect_transport(self, w: Workload, v: str, mode: str, name: str) -> bool:
        """Connect one transport's set of a variant, let the servers settle (connecting
        announces presence), warm it up; False (noted) if it could not connect."""
        dep = self.deps[v]
        spec = {
            "set": name,
            "variant": dep.protocol,
            "ports": dep.ports,
            "sockets": transport_sockets(dep, w, self.users[w.name], self.tokens, mode),
            "join": False,
        }
        r = self.gen.call(cmd="connect_many", sets=[spec])["replies"][0]
        self.connects.append({"workload": w.name, "variant": name, **r})
        if not r.get("ok"):
            self.notes.append(f"{w.name}: {name} skipped: {r.get('error')}")
            self.log(f"{w.name}: {name} SKIPPED: {r.get('error')}")
            self.gen.call(cmd="close", set=name)
            return False
        self.log(f"{w.name}: {name} connected {r['connected']} clients in {r['seconds']}s")
        self.wv = [v]
        self.wait_quiet(w)
        # Warm-up (not recorded): the first polls and posts pay for imports and caches.
        self.gen.call(cmd="run", set=name, rate=10.0, duration=0.5, drain=2.0, trial=0)
        return True

    def close_sets(self) -> None:
        # The last trials' stragglers: wait while they keep arriving (an overloaded trial
        # can leave a backlog of tens of seconds), so that late is not taken for lost.
        for v in self.wv:
            quiet = 2 * self.profile.settle
            reply = self.gen.call(cmd="stragglers", set=v, quiet=quiet, limit=60.0)
            self.note_stragglers(v, reply)
            self.gen.call(cmd="close", set=v)

    def run_fixed(self, w: Workload) -> None:
        p = self.profile
        n = 0
        rates = w.rates or (p.fixed or {}).get(w.name, [])
        for _ in range(w.repeats if w.rates else p.repeats):
            for rate in rates:
                order = self.wv[n % len(self.wv) :] + self.wv[: n % len(self.wv)]
                n += 1
                for v in order:
                    self.trial(w, v, rate, "fixed")
        count = (p.bursts or {}).get(w.name)
        if count:
            for v in self.wv:
                if p.burst_variants is not None and v not in p.burst_variants:
                    continue
                self.trial(w, v, 0.0, "burst", burst=count)
                time.sleep(1.0)

    # -- results ------------------------------------------------------------
    def results(self) -> dict:
        p = self.profile
        return report.build_results(
            trials=self.trials,
            idle=self.idle,
            storm=self.storm,
            variants=self.variants,
            meta={
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "profile": self.args.profile,
                "git_commit": git_commit(),
                "product_src": self.args.product_src,
                "product_commit": self.product_commit,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "kernel": platform.release(),
                },
                "trial_seconds": p.duration,
                "drain_seconds": p.drain,
                "p99_target_ms": P99_TARGET_MS,
                "idle_sockets": p.idle_sockets,
                "storm_sockets": p.storm_sockets,
                "workloads": [dict(w.__dict__, mean_members=w.mean_members()) for w in p.workloads],
                "wall_seconds": round(time.monotonic() - self.t_start, 1),
                "notes": self.notes,
                "connects": self.connects,
            },
        )


def fmt(x, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def git_commit() -> str | None:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument(
        "--variants",
        default=None,
        help="comma list (default: the profile's, mostly all four; a workload with variants"
        " of its own, such as shards, runs those too)",
    )
    parser.add_argument(
        "--workloads", default=None, help="comma list of workload names (default: the profile's)"
    )
    parser.add_argument(
        "--out", default=str(HERE / "results"), help="directory for latest.json and the PNGs"
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--product-src",
        default="HEAD",
        help="git revision of the product to run (snapshot via git archive), or 'worktree'",
    )
    parser.add_argument(
        "--redis-as-is",
        action="store_true",
        help="no socket_timeout workaround in RedisChannelLayer URLs (see CORE_LAYER_URL_QUERY)",
    )
    parser.add_argument(
        "--storm-sockets",
        type=int,
        default=None,
        help="sockets of the reconnect storm (default: the profile's: 2,000 in storm, 50 in"
        " storm-smoke, none in the others)",
    )
    parser.add_argument(
        "--storm-rate",
        type=float,
        default=None,
        help=f"posts per second to the storm's rooms during it (default {STORM_RATE:g})",
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=900.0,
        help="seconds to wait for another bench run (they share Redis DBs 10-12)",
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.variants is None:
        args.variants = ",".join(ALL_VARIANTS if profile.variants is None else profile.variants)
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        if v.partition("+")[0] not in ALL_VARIANTS:
            parser.error(f"unknown variant {v}")
    if args.storm_sockets is not None:
        profile.storm_sockets = max(0, args.storm_sockets)
    if args.storm_rate is not None:
        profile.storm_rate = args.storm_rate
    if args.workloads:
        names = args.workloads.split(",")
        profile.workloads = [w for w in profile.workloads if w.name in names]
        if "storm" not in names:  # the storm is named like a workload here
            profile.storm_sockets = 0

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    lock = acquire_lock(args.lock_timeout)
    from loadgen import raise_nofile_limit

    raise_nofile_limit()  # inherited by the servers we start
    bench = Bench(args, profile)
    try:
        results = bench.run()
    except KeyboardInterrupt:
        bench.log("interrupted: stopping everything")
        return 130
    finally:
        try:
            if getattr(bench, "gen", None) is not None and bench.gen.proc.poll() is None:
                bench.gen.proc.stdin.write('{"cmd": "exit"}\n')
                bench.gen.proc.stdin.flush()
                bench.gen.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
        bench.procs.stop_all()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    latest = out / "latest.json"
    wall = results["meta"]["wall_seconds"]
    merged = profile.merge and latest.exists()
    if merged:  # the plots are of the ladder workloads, which this run left as they were
        results = report.merge_results(json.loads(latest.read_text()), results)
        bench.log(f"merged the {args.profile} run into the existing {latest}")
    latest.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(report.table(results))
    if not args.no_plots and not merged:
        for path in report.plots(results, out):
            print(f"wrote {path}")
    print(f"wrote {latest} in {wall}s")
    lock.close()
    storm = bench.storm
    if storm is not None and not storm["valid"]:
        print(
            f"reconnect storm FAILED: lost {storm['lost']}, duplicates {storm['duplicates']},"
            f" foreign {storm['foreign']}, finished {storm['finished']}"
        )
        return 1
    return 0


def acquire_lock(timeout: float):
    """One bench at a time on a machine: runs share chat_bench and Redis DBs 10-12."""
    import fcntl

    fh = open(LOCK_PATH, "w")  # noqa: SIM115 (held for the whole run)
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(  # noqa: B904
                    f"another bench run holds {LOCK_PATH}; gave up after {timeout:.0f}s"
                )
            if not waited:
                print(f"another bench run holds {LOCK_PATH}; waiting", flush=True)
                waited = True
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
