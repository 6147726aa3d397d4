"""Probes for the load balancer and the metrics endpoint.

``/healthz``: the process is up (no dependency is touched).
``/readyz``: the database and every Redis answer (each shard of REDIS_URL, the
presence and cache servers; through Sentinel, the master it names), and the
replica is not draining (503 with the failing checks otherwise).
``check_redis_at_startup``: a Sentinel setup that cannot work stops the replica
at start-up (project/asgi.py), naming the variable and what is wrong.
``/metrics``: Prometheus text, for METRICS_ALLOWED_IPS or a bearer METRICS_TOKEN.

``ProbeMiddleware`` answers these three first in the middleware stack, before
host validation and the HTTPS redirect: probes and scrapers address a replica
by its container or loopback address, which is not one of ALLOWED_HOSTS.
"""

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from functools import cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from project.redis_config import RedisServer

log = logging.getLogger(__name__)

READY_CHECK_TIMEOUT_SECS = 2
# How long a replica waits at start-up for one of its Sentinels to answer.
STARTUP_SENTINEL_WAIT_SECS = 10.0
_draining = False


def mark_draining() -> None:
    """The server is shutting down: /readyz answers 503 from now on."""
    global _draining
    _draining = True


def is_draining() -> bool:
    return _draining


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def redis_servers() -> list[tuple[str, RedisServer]]:
    """Every Redis this replica needs, once each, with the variable that names it."""
    found: dict = {}
    for server in settings.REDIS_SERVERS:
        found.setdefault(server, "REDIS_URL")
    for variable, server in (
        ("PRESENCE_REDIS_URL", settings.PRESENCE_REDIS),
        ("CACHE_REDIS_URL", settings.CACHE_REDIS),
    ):
        if server is not None:
            found.setdefault(server, variable)
    return [(variable, server) for server, variable in found.items()]


def _check_redis() -> None:
    """Each server (each shard, each Sentinel-managed master) answers a PING."""
    failed = []
    for _, server in redis_servers():
        client = server.sync_client(
            socket_timeout=READY_CHECK_TIMEOUT_SECS,
            socket_connect_timeout=READY_CHECK_TIMEOUT_SECS,
        )
        try:
            client.ping()
        except Exception as error:
            failed.append(f"{server.describe()}: {type(error).__name__}")
        finally:
            client.close()
    if failed:
        raise ConnectionError("; ".join(failed))


def check_redis_at_startup(wait_secs: float = STARTUP_SENTINEL_WAIT_SECS) -> None:
    """Refuse to start on a Sentinel setup that cannot work (ImproperlyConfigured).

    A Sentinel-managed server needs at least one of its Sentinels to answer
    (tried for ``wait_secs``, so replicas may start alongside them) and to know
    the master by its name. A master that is down is an outage, not a
    configuration error: the replica starts and /readyz answers 503 until
    Sentinel names a master that answers.
    """
    for variable, server in redis_servers():
        if server.is_sentinel:
            _check_sentinel(variable, server, wait_secs)


def _check_sentinel(variable: str, server: RedisServer, wait_secs: float) -> None:
    import redis

    deadline = time.monotonic() + wait_secs
    while True:
        errors, unknown = [], []
        for host, port in server.sentinels:
            client = redis.Redis(host=host, port=port, **server.sentinel_kwargs())
            try:
                client.sentinel_master(server.master_name)
                return
            except redis.ResponseError as error:
                unknown.append(f"{host}:{port} ({error})")
            except redis.RedisError as error:
                errors.append(f"{host}:{port} ({type(error).__name__}: {error})")
            finally:
                client.close()
        if unknown:
            raise ImproperlyConfigured(
                f"{variable}: no Sentinel knows a master named {server.master_name!r}: "
                + "; ".join(unknown)
            )
        if time.monotonic() >= deadline:
            raise ImproperlyConfigured(
                f"{variable}: no Sentinel answers for {server.describe()}: " + "; ".join(errors)
            )
        time.sleep(0.5)


def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            check()
            checks[name] = "ok"
        except Exception as error:
            log.warning("readiness check failed", extra={"check": name, "error": str(error)})
            checks[name] = f"error: {type(error).__name__}"
    if not settings.REDIS_URL:
        checks["redis"] = "not configured"
    if _draining:
        checks["server"] = "draining"
    ready = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


# Metrics
# ------------------------------------------------------------------------------


@cache
def _allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_IPS)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return JsonResponse({"detail": "Metrics are not available from here."}, status=403)
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    import chat.metrics  # noqa: F401 - registers the product's metrics

    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,
}


class ProbeMiddleware:
    """Answer the probes before host validation (put it first in MIDDLEWARE).

    Async-capable like the rest of the chain (see project/middleware.py): other
    requests pass straight through without a thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.async_mode:
            return self.__acall__(request)
        probe = self._probe(request)
        return probe(request) if probe else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        probe = self._probe(request)
        if probe is None:
            return await self.get_response(request)
        return await sync_to_async(probe)(request)

    @staticmethod
    def _probe(request: HttpRequest) -> Callable[[HttpRequest], HttpResponse] | None:
        if request.method not in ("GET", "HEAD"):
            return None
        return PROBES.get(request.path_info)
