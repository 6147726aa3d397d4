"""Structured logs: one line per event, with the request or socket it belongs to.

``LineFormatter`` writes each record as one JSON object (``LOG_FORMAT=json``,
the production default; a traceback is a field of the same line) or as
``key=value`` pairs (``LOG_FORMAT=text``, the development default; a traceback
follows on its own lines, for reading). ``RequestContextMiddleware`` wraps the ASGI application:
it gives every HTTP request a ``request_id`` and every WebSocket a
``socket_id`` (the ``X-Request-ID`` the load balancer set, else a new one),
which every log line written while serving it carries, and logs one access
line per HTTP request. ``RedactCredentials`` takes credentials out of every
record before it is written.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

log_context: ContextVar[dict[str, str] | None] = ContextVar("log_context", default=None)

access_log = logging.getLogger("chat.access")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Probes and scrapes arrive every few seconds; they are logged at DEBUG.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class LineFormatter(logging.Formatter):
    """Format a record as one line: JSON (``style_name="json"``) or key=value pairs."""

    def __init__(self, style_name: str = "json", **kwargs) -> None:
        super().__init__(**kwargs)
        self.json = style_name == "json"

    def fields(self, record: logging.LogRecord) -> dict:
        fields = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(log_context.get() or {})
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                fields[name] = value
        return fields

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        traceback = redact(self.formatException(record.exc_info)) if record.exc_info else ""
        if self.json:
            if traceback:
                fields["exc"] = traceback
            return json.dumps(fields, default=str, ensure_ascii=False)
        line = " ".join(f"{key}={_logfmt(value)}" for key, value in fields.items())
        return f"{line}\n{traceback}" if traceback else line


# Credentials never reach a log line
# ------------------------------------------------------------------------------

REDACTED = "[redacted]"
# Names whose values are credentials: request headers, their META keys, cookies
# and form fields, compared in lower case with "_" read as "-".
CREDENTIAL_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-csrftoken",
        "http-authorization",
        "http-proxy-authorization",
        "http-cookie",
        "http-x-csrftoken",
        "sessionid",
        "csrftoken",
        "csrfmiddlewaretoken",
        "password",
        "token",
    }
)
_TEXT_PATTERNS = [
    # django-ninja's HttpBearer logs the whole Authorization header of any other
    # scheme ("Unexpected auth - 'Basic ...'") when DEBUG is on.
    (re.compile(r"(Unexpected auth - ')[^']*"), rf"\1{REDACTED}"),
    # A header written out: "Authorization: ...", "'cookie': '...'", "HTTP_COOKIE=...".
    (
        re.compile(
            r"(?i)\b((?:http[-_])?(?:proxy[-_])?(?:authorization|cookie|x[-_]csrftoken)"
            r"['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(basic|bearer|digest)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # This product's API tokens (accounts.services.TOKEN_PREFIX), wherever they appear.
    (re.compile(r"\bchat_[A-Za-z0-9_-]{8,}"), f"chat_{REDACTED}"),
    (re.compile(r"(?i)\b(sessionid|csrftoken|messages)=[^;\s'\"]+"), rf"\1={REDACTED}"),
]
# The session key is the cookie's value: SQL debug lines about sessions lose their literals.
_SESSION_SQL = "django_session"
_SQL_LITERAL = re.compile(r"'[^']*'")


def _is_credential_name(name: object) -> bool:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and name.lower().replace("_", "-") in CREDENTIAL_NAMES


def redact(value: object) -> object:
    """The value with every credential in it replaced by REDACTED.

    Text goes through the patterns; mappings (headers, META, cookies) and ASGI
    header lists lose the values of credential names, at any depth.
    """
    if isinstance(value, str):
        for pattern, replacement in _TEXT_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, bytes):
        return redact(value.decode("latin-1")).encode("latin-1")
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_credential_name(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = [
            (item[0], REDACTED)
            if isinstance(item, tuple) and len(item) == 2 and _is_credential_name(item[0])
            else redact(item)
            for item in value
        ]
        return type(value)(items) if isinstance(value, tuple) else items
    return value


class RedactCredentials(logging.Filter):
    """Take credentials (Authorization, Cookie, X-CSRFToken, API tokens, session
    keys) out of a record, in place, so no handler can write them.

    settings.LOGGING puts it on the console handler, for every record, and on
    the loggers that write credentials themselves ("django": django-ninja;
    "django.db.backends": session keys in SQL), so the record is clean before
    any handler sees it, a test's or a third party's too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = redact(record.args)
        try:
            message = redact(record.getMessage())
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports it
            return True
        if record.name.startswith("django.db.backends") and _SESSION_SQL in message:
            message = _SQL_LITERAL.sub(f"'{REDACTED}'", message)
            record.__dict__.update(sql=REDACTED, params=REDACTED)
        record.msg, record.args = message, None
        for name, value in list(vars(record).items()):
            if name in _STANDARD_ATTRS or name.startswith("_"):
                continue
            record.__dict__[name] = REDACTED if _is_credential_name(name) else redact(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_plain.formatException(record.exc_info))
        return True


_plain = logging.Formatter()


def _logfmt(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return json.dumps(text, ensure_ascii=False)


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def request_id_of(scope: dict) -> str:
    """The load balancer's X-Request-ID if it is sane, else a new id."""
    given = _header(scope, b"x-request-id")
    return given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """ASGI middleware: a request or socket id for the log lines, and an access log.

    WebSocket traffic is not wrapped frame by frame: only the id is set, so the
    hot path pays nothing. HTTP responses carry the id back as X-Request-ID.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "websocket":
            token = log_context.set({"socket_id": request_id_of(scope)})
            try:
                return await self.app(scope, receive, send)
            finally:
                log_context.reset(token)
        if kind != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_of(scope)
        token = log_context.set({"request_id": request_id})
        started = time.monotonic()
        status = 0

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            await send(message)

        try:
            return await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            access_log.log(
                logging.DEBUG if path in QUIET_PATHS else logging.INFO,
                "request",
                extra={
                    "method": scope.get("method", ""),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "client": (scope.get("client") or ("",))[0],
                },
            )
            log_context.reset(token)
