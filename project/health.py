"""Probes for the load balancer and the metrics endpoint.

``/healthz``: the process is up (no dependency is touched).
``/readyz``: the database and Redis answer, and the replica is not draining
(503 with the failing checks otherwise).
``/metrics``: Prometheus text, for METRICS_ALLOWED_IPS or a bearer METRICS_TOKEN.

``ProbeMiddleware`` answers these three first in the middleware stack, before
host validation and the HTTPS redirect: probes and scrapers address a replica
by its container or loopback address, which is not one of ALLOWED_HOSTS.
"""

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from functools import cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

READY_CHECK_TIMEOUT_SECS = 2
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


def _check_redis() -> None:
    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=READY_CHECK_TIMEOUT_SECS,
        socket_connect_timeout=READY_CHECK_TIMEOUT_SECS,
    )
    try:
        client.ping()
    finally:
        client.close()


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
