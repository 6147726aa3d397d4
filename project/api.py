"""The HTTP API at /api/: one NinjaAPI, its error handling, and its URLs.

Every answer under /api/ is JSON, errors included: ``{"detail": ...}`` with the
status that fits (and ``code``, the WebSocket protocol's error code, when a
domain check refused). No input produces an HTML page or a 500, unknown paths
and methods included; a 503 says PostgreSQL or Redis is briefly unreachable.
Interactive docs at /api/docs, the schema at /api/openapi.json.
"""

import functools
import inspect
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.api import BearerAuth, SessionAuth
from accounts.api import router as accounts_router
from chat.api import router as chat_router
from files.api import router as files_router
from project.errors import ClientError
from realtime.api import router as realtime_router
from search.api import router as search_router

logger = logging.getLogger(__name__)

# A request body larger than a WebSocket frame may be is refused before parsing.
MAX_BODY_BYTES = settings.CHAT_MAX_FRAME_BYTES
# POST /api/uploads carries a file: a little above the file's limit (the multipart
# framing), so a file just over it gets the service's own 413 (files/services.py).
UPLOAD_BODY_BYTES = settings.CHAT_UPLOAD_MAX_BYTES + 64 * 1024

api = NinjaAPI(
    title="Chat API",
    version="1",
    description=(
        "Rooms, members, messages and long polling for scripts, bots and devices. "
        "Authenticate with `Authorization: Bearer <token>` (create tokens on your "
        "profile page or with `POST /api/tokens` in a signed-in session), or with the "
        "browser session plus its CSRF token in `X-CSRFToken` for unsafe methods. "
        'Errors are JSON: `{"detail": ..., "code": ...}`.'
    ),
    auth=[BearerAuth(), SessionAuth()],
    urls_namespace="api",
)
api.add_router("", accounts_router)
api.add_router("", chat_router)
api.add_router("", realtime_router)
api.add_router("", search_router)
api.add_router("", files_router)


def error(status: int, detail: str, *, code: str | None = None, **extra: object) -> JsonResponse:
    payload = {"detail": detail, **({"code": code} if code else {}), **extra}
    return JsonResponse(payload, status=status)


# Exception handlers
# ------------------------------------------------------------------------------


@api.exception_handler(ClientError)
def client_error(request: HttpRequest, exc: ClientError) -> HttpResponse:
    response = error(exc.http_status, exc.detail, code=exc.code)
    if exc.code == "rate_limited":
        response["Retry-After"] = "1"
    return response


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    def where(item: dict) -> str:
        return ".".join(str(part) for part in item.get("loc", ()))

    summary = "; ".join(f"{where(item)}: {item.get('msg', 'invalid')}" for item in exc.errors)
    errors = [
        {key: item[key] for key in ("loc", "msg", "type") if key in item} for item in exc.errors
    ]
    return error(422, summary or "Invalid request.", code="invalid", errors=errors)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = "Authentication required." if exc.message == "Unauthorized" else exc.message
    response = error(401, detail)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error(exc.status_code, str(exc))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(404, "Not found.", code="not_found")


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error(413, "The request body is too large.", code="too_long")


@api.exception_handler(MultiPartParserError)
def malformed_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """A multipart body Django cannot parse (no boundary, say): POST /api/uploads."""
    return error(400, f"Malformed multipart body: {exc}")


# PostgreSQL or Redis unreachable (a restart, a failover): tell clients to retry.
OUTAGES = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_OUTAGE_SECS = 2


def outage(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("API outage on %s %s: %r", request.method, request.path, exc)
    response = error(503, "The service is briefly unavailable; retry.", code="unavailable")
    response["Retry-After"] = str(RETRY_AFTER_OUTAGE_SECS)
    return response


for _exc_class in OUTAGES:
    api.add_exception_handler(_exc_class, outage)


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("API error on %s %s", request.method, request.path, exc_info=exc)
    return error(500, "Internal server error.")


# URLs: ninja's routes, each answering in JSON before and around ninja
# ------------------------------------------------------------------------------


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _refusal(request: HttpRequest, limit: int) -> HttpResponse | None:
    if _declared_length(request) > limit:
        return error(413, f"Request bodies are limited to {limit} bytes.", code="too_long")
    return None


def _as_json(response: HttpResponse) -> HttpResponse:
    """Ninja answers a wrong method with a plain-text 405; keep its Allow header."""
    if response.status_code == 405 and not response.get("Content-Type", "").startswith(
        "application/json"
    ):
        allowed = response["Allow"]
        response = error(405, f"Method not allowed; use {allowed}.")
        response["Allow"] = allowed
    return response


def json_only(view: Callable, *, max_body: int = MAX_BODY_BYTES) -> Callable:
    """Wrap a ninja view: refuse oversized bodies up front, answer 404 and 405 in JSON."""
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if (refused := _refusal(request, max_body)) is not None:
                return refused
            try:
                return _as_json(await view(request, *args, **kwargs))
            except Http404:
                return error(404, "Not found.", code="not_found")

        return csrf_exempt(async_wrapper)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (refused := _refusal(request, max_body)) is not None:
            return refused
        try:
            return _as_json(view(request, *args, **kwargs))
        except Http404:
            return error(404, "Not found.", code="not_found")

    return csrf_exempt(wrapper)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return error(404, "No such API route; see /api/docs.", code="not_found")


def _urlpatterns() -> list[URLPattern]:
    patterns, _, _ = api.urls
    for pattern in patterns:
        max_body = UPLOAD_BODY_BYTES if str(pattern.pattern) == "uploads" else MAX_BODY_BYTES
        pattern.callback = json_only(pattern.callback, max_body=max_body)
    return [*patterns, re_path(r"", api_not_found)]


# Mounted at /api/ by project/urls.py with include("project.api").
app_name = api.urls_namespace
urlpatterns = _urlpatterns()
