#!/usr/bin/env python3
"""Run the product scaled out on one machine: N daphne replicas behind nginx.

    python deploy/cluster.py --replicas 2 --port 8080     (make cluster REPLICAS=2 PORT=8080)

With the local PostgreSQL and Redis (DATABASE_URL / REDIS_URL, else the
`chat` database, created if missing, and Redis database 0), this migrates,
collects static files, starts the replicas (``python -m project.serve``, which
drains gracefully on SIGTERM), the background worker and nginx with the
config rendered from deploy/nginx/chat.conf.template, then prints the URL.

REDIS_URL may name several servers (the channel layer shards over them) or a
Sentinel-managed master, in the forms of project/redis_config.py:

    REDIS_URL=redis://127.0.0.1:6380/0,redis://127.0.0.1:6381/0 make cluster
    REDIS_URL=redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/0 make cluster

PRESENCE_REDIS_URL and CACHE_REDIS_URL place presence and the cache elsewhere;
every server (or, for Sentinel, one of its Sentinels) must answer before start.

It supervises what it started: a replica that exits is started again on its
port (so `kill -TERM <replica pid>` restarts one replica), SIGHUP restarts
them one after another (a rolling restart, for new code), and Ctrl+C or
SIGTERM stops everything. Settings are production ones (DJANGO_DEBUG=0) over
plain HTTP on this machine; any variable already set in the environment wins.
Everything it writes (nginx config, pid and temp files, logs, static files,
a generated secret key) lives in --dir (default .cluster/).
"""

import argparse
import contextlib
import ctypes
import fcntl
import hashlib
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "chat.conf.template"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx")
READY_TIMEOUT_SECS = 60
STOP_TIMEOUT_SECS = 20
POLL_SECS = 0.25
# A process that keeps crashing is restarted at this pace, not in a tight loop.
RESTART_DELAY_SECS = 1.0

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Children get SIGTERM if this supervisor dies without cleaning up (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Environment
# ------------------------------------------------------------------------------


def cluster_env(args: argparse.Namespace, directory: Path) -> dict[str, str]:
    """Production settings over plain HTTP on this machine; the environment wins."""
    key_file = directory / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    defaults = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/chat",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": key_file.read_text().strip(),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        # Plain HTTP on this machine: no HTTPS redirect, no secure-only cookies, no HSTS.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(directory / "static"),
        "MEDIA_ROOT": str(ROOT / "media"),
        # nginx sends uploaded files after the app's check (chat.conf.template).
        "CHAT_FILES_ACCEL_REDIRECT": "/_protected/",
        "CHAT_SITE_URL": f"http://localhost:{args.port}",
        "PYTHONUNBUFFERED": "1",
    }
    return {**defaults, **os.environ}


def static_fingerprint(env: dict[str, str]) -> str:
    """What collectstatic's output depends on: static sources, packages, the storage (DEBUG)."""
    skip = {".venv", ".git", ".cluster", "staticfiles", "media", "node_modules", "tests"}
    digest = hashlib.sha256(f"debug={env['DJANGO_DEBUG']}\n".encode())
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in skip)
        if "static" not in Path(directory).relative_to(ROOT).parts:
            continue
        for name in sorted(files):
            stat = (Path(directory) / name).stat()
            digest.update(f"{directory}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    packages = Path(sysconfig.get_paths()["purelib"])
    digest.update(" ".join(sorted(p.name for p in packages.glob("*.dist-info"))).encode())
    return digest.hexdigest()


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _tcp_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def redis_problems(env: dict[str, str]) -> list[str]:
    """What is wrong with REDIS_URL (and PRESENCE_/CACHE_REDIS_URL), checked from here.

    Every form the replicas read (project/redis_config.py): each server of a
    sharded list must answer, and for a Sentinel-managed one at least one of
    its Sentinels (the replicas then ask it for the master).
    """
    sys.path.insert(0, str(ROOT))
    from django.core.exceptions import ImproperlyConfigured

    from project.redis_config import parse_redis_urls

    problems = []
    for variable in ("REDIS_URL", "PRESENCE_REDIS_URL", "CACHE_REDIS_URL"):
        try:
            servers = parse_redis_urls(env.get(variable, ""), variable)
        except ImproperlyConfigured as error:
            problems.append(str(error))
            continue
        for server in servers:
            if server.is_sentinel:
                if not any(_tcp_reachable(host, port) for host, port in server.sentinels):
                    problems.append(f"{variable}: no Sentinel is reachable for {server.describe()}")
            elif server.url.startswith("unix://"):
                if not Path(urlparse(server.url).path).exists():
                    problems.append(f"{variable}: no socket at {server.describe()}")
            elif not _reachable(server.url, 6379):
                problems.append(f"{variable}: Redis is not reachable at {server.describe()}")
    return problems


def check_services(env: dict[str, str]) -> None:
    url = env["DATABASE_URL"]
    if not _reachable(url, 5432):
        hint = START_HINTS["PostgreSQL"]
        sys.exit(f"PostgreSQL is not reachable at {url}. Start it with:\n  {hint}")
    problems = redis_problems(env)
    if problems:
        sys.exit("\n".join(problems) + f"\nStart a local Redis with:\n  {START_HINTS['Redis']}")


def ensure_database(url: str) -> None:
    """Create the database named in DATABASE_URL if it does not exist yet."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            say(f"creating the database {name}")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# Processes
# ------------------------------------------------------------------------------


def wait_for_http(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}; see {log}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(POLL_SECS)
    raise RuntimeError(f"{url} was not ready within {READY_TIMEOUT_SECS} s; see {log}")


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Child:
    """A process this supervisor started, restarted with the same command."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> "Child":
        self.launch()
        return self.wait_ready()

    def launch(self) -> "Child":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches the supervisor only; it orders the stop
                preexec_fn=_die_with_parent,  # no threads here, so preexec_fn is safe
            )
        return self

    def wait_ready(self) -> "Child":
        if self.ready_url:
            wait_for_http(self.ready_url, self.process, self.log)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.dir).resolve()
        self.logs = self.dir / "logs"
        self.nginx_dir = self.dir / "nginx"
        for path in (self.logs, self.nginx_dir / "tmp"):
            path.mkdir(parents=True, exist_ok=True)
        self.env = cluster_env(args, self.dir)
        self.replicas: list[Child] = []
        self.worker: Child | None = None
        self.nginx: Child | None = None
        self.stopping = False
        self.rolling = False

    @property
    def url(self) -> str:
        return f"http://{self.args.host}:{self.args.port}"

    def prepare(self) -> None:
        check_services(self.env)
        if self.env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
            ensure_database(self.env["DATABASE_URL"])
        static_root = Path(self.env["STATIC_ROOT"])
        static_root.mkdir(parents=True, exist_ok=True)
        with (static_root / ".collect.lock").open("w") as lock:
            # One collectstatic at a time into a static root several clusters share.
            fcntl.flock(lock, fcntl.LOCK_EX)
            fingerprint = static_fingerprint(self.env)
            stamp = static_root / ".collected"
            commands = [("migrate", "--noinput", "-v", "0")]
            if stamp.exists() and stamp.read_text() == fingerprint:
                say(f"migrating the database (static files in {static_root} are up to date)")
            else:
                say(f"migrating the database; collecting static files into {static_root}")
                commands.append(("collectstatic", "--noinput", "-v", "0"))
            # Independent, so side by side: each is mostly Django starting up.
            running = [
                subprocess.Popen([sys.executable, "manage.py", *command], cwd=ROOT, env=self.env)
                for command in commands
            ]
            for process in running:
                if process.wait() != 0:
                    raise subprocess.CalledProcessError(process.returncode, process.args)
            stamp.write_text(fingerprint)

    def replica(self, number: int, port: int) -> Child:
        command = [
            sys.executable, "-m", "project.serve",
            "--bind", "127.0.0.1", "--port", str(port),
            "--proxy-headers",
            "--shutdown-timeout", str(self.args.shutdown_timeout),
            "project.asgi:application",
        ]  # fmt: skip
        return Child(
            name=f"replica {number}",
            command=command,
            env=self.env,
            log=self.logs / f"replica-{number}.log",
            ready_url=f"http://127.0.0.1:{port}/readyz",
        )

    def start(self) -> None:
        say(f"starting {self.args.replicas} daphne replicas")
        ports = [free_port() for _ in range(self.args.replicas)]
        self.replicas = [self.replica(n, port) for n, port in enumerate(ports, start=1)]
        for child in self.replicas:
            child.launch()
        for child, port in zip(self.replicas, ports, strict=True):
            child.wait_ready()
            print(f"    {child.name}  http://127.0.0.1:{port}  pid {child.pid}  log {child.log}")
        if self.args.worker:
            say("starting the background worker (runworker chat-notify)")
            self.worker = Child(
                name="worker",
                command=[
                    sys.executable,
                    "manage.py",
                    "runworker",
                    "chat-notify",
                    "--layer",
                    "worker",
                ],  # fmt: skip
                env=self.env,
                log=self.logs / "worker.log",
            ).start()
            print(f"    worker  pid {self.worker.pid}  log {self.worker.log}")
        say(f"starting nginx on {self.url}")
        self.nginx = self.start_nginx(ports)
        say(f"chat is up at {self.url} ({len(self.replicas)} replicas; Ctrl+C to stop)")

    def start_nginx(self, ports: list[int]) -> Child:
        nginx = next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)
        if nginx is None:
            raise RuntimeError("nginx is not installed (make system-deps installs it)")
        chat_conf = self.nginx_dir / "chat.conf"
        chat_conf.write_text(
            render_template(
                listen=f"{self.args.host}:{self.args.port}",
                servers=[f"127.0.0.1:{port}" for port in ports],
                media_root=self.env["MEDIA_ROOT"],
            )
        )
        main_conf = self.nginx_dir / "nginx.conf"
        main_conf.write_text(main_config(self.nginx_dir, chat_conf))
        command = [nginx, "-p", str(self.nginx_dir), "-c", str(main_conf), "-e", "stderr"]
        subprocess.run([*command, "-t", "-q"], check=True)
        return Child(
            name="nginx",
            command=command,
            env=self.env,
            log=self.logs / "nginx.log",
            ready_url=f"http://127.0.0.1:{self.args.port}/healthz",
        ).start()

    # Supervision
    # --------------------------------------------------------------------------

    def supervise(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        while not self.stopping:
            if self.rolling:
                self.rolling = False
                self.rolling_restart()
            if self.nginx is not None and self.nginx.exited() is not None:
                say(f"nginx exited with {self.nginx.exited()}:\n{tail(self.nginx.log)}")
                break
            for child in [*self.replicas, *([self.worker] if self.worker else [])]:
                code = child.exited()
                if code is not None and not self.stopping:
                    say(f"{child.name} exited with {code}; starting it again")
                    time.sleep(RESTART_DELAY_SECS)
                    self.restart(child, signal_first=False)
            time.sleep(POLL_SECS)

    def _on_stop(self, signum: int, frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        print(flush=True)
        say(f"{signal.Signals(signum).name}: stopping everything")

    def _on_hup(self, signum: int, frame: object) -> None:
        self.rolling = True

    def restart(self, child: Child, *, signal_first: bool = True) -> None:
        if signal_first:
            child.signal(signal.SIGTERM)
            child.wait(STOP_TIMEOUT_SECS)
        try:
            child.start()
        except RuntimeError as error:
            say(f"{child.name} did not come back: {error}")
            return
        say(f"{child.name} is back (pid {child.pid})")

    def rolling_restart(self) -> None:
        say("rolling restart: one replica at a time")
        for child in self.replicas:
            if self.stopping:
                return
            self.restart(child)
        say("rolling restart done")

    def stop(self) -> None:
        """Replicas first (their sockets get a close frame through nginx), then the rest."""
        for child in self.replicas:
            child.signal(signal.SIGTERM)
        for child in self.replicas:
            child.wait(STOP_TIMEOUT_SECS)
        for child in (self.worker, self.nginx):
            if child is not None:
                child.signal(signal.SIGTERM)
                child.wait(STOP_TIMEOUT_SECS)
        say("stopped")


def render_template(*, listen: str, servers: list[str], media_root: str) -> str:
    """deploy/nginx/chat.conf.template with this machine's replicas."""
    rendered = string.Template(TEMPLATE.read_text()).safe_substitute(
        CHAT_LISTEN=listen,
        CHAT_UPSTREAM_SERVERS="\n    ".join(f"server {server} max_fails=0;" for server in servers),
        CHAT_RESOLVER="# (no resolver: the replicas are addresses)",
        CHAT_MEDIA_ROOT=media_root.rstrip("/"),
    )
    assert "${CHAT_" not in rendered, "a placeholder of the nginx template was not filled"
    return rendered


def main_config(directory: Path, chat_conf: Path) -> str:
    """nginx's main config: every path inside the cluster directory, so no root is needed."""
    mime_types = Path("/etc/nginx/mime.types")
    temp = directory / "tmp"
    return f"""# Generated by deploy/cluster.py; the chat part is {chat_conf.name}.
daemon off;
worker_processes auto;
pid {directory / "nginx.pid"};
error_log stderr warn;
events {{
    worker_connections 4096;
}}
http {{
    {f"include {mime_types};" if mime_types.exists() else ""}
    default_type application/octet-stream;
    access_log {directory / "access.log"};
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    include {chat_conf};
}}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="daphne processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="nginx's address (default 127.0.0.1)")
    parser.add_argument("--dir", default=str(ROOT / ".cluster"), help="state and logs")
    parser.add_argument(
        "--no-worker", dest="worker", action="store_false", help="skip the background worker"
    )
    parser.add_argument(
        "--shutdown-timeout", type=float, default=10.0, help="seconds a replica drains on SIGTERM"
    )
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    cluster = Cluster(parse_args(argv))
    try:
        cluster.prepare()
        cluster.start()
        cluster.supervise()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        say(f"cluster failed: {error}")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
