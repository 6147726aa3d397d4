"""WebSocket handshake auth: a bearer token, or a session cookie from a trusted Origin."""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import is_same_domain, split_domain_port, validate_host

from accounts.services import token_find


def _header(scope: dict, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def bearer_token(scope: dict) -> str | None:
    value = _header(scope, b"authorization")
    if value is not None:
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def _is_secure(scope: dict) -> bool:
    """As Django's request.is_secure(): wss, or the proxy's SECURE_PROXY_SSL_HEADER."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, wanted)
        return value is not None and value.split(",", 1)[0].strip() == secure_value
    return False


def _own_origin(scope: dict) -> str | None:
    """``scheme://host[:port]`` of the page the socket belongs to, if its Host is allowed."""
    host = _header(scope, b"host")
    if settings.USE_X_FORWARDED_HOST:
        host = _header(scope, b"x-forwarded-host") or host
    if not host:
        return None
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return None
    return f"{'https' if _is_secure(scope) else 'http'}://{host}"


def origin_trusted(scope: dict) -> bool:
    """Whether the handshake's Origin may carry the session cookie, exactly as Django's
    CSRF check decides for a form post: the socket's own origin (scheme, host and
    port of the Host header, if allowed), or one of CSRF_TRUSTED_ORIGINS (exact, or
    ``scheme://*.domain``). A page on another port or scheme of an allowed host is
    another origin, so it is refused, though the browser sends it the cookie.
    """
    origin = _header(scope, b"origin")
    if not origin:
        return False
    if origin == _own_origin(scope):
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        parsed.scheme == pattern.scheme and is_same_domain(parsed.netloc, pattern.netloc[1:])
        for pattern in map(urlsplit, (entry for entry in trusted if "://*." in entry))
    )


class TrustedOriginValidator:
    """Refuse (403, before the upgrade) a handshake whose Origin is not trusted."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if origin_trusted(scope):
            return await self.inner(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


class HandshakeAuthMiddleware:
    """Scripts authenticate with `Authorization: Bearer`; browsers with the session cookie.

    A bearer handshake needs no Origin (a token cannot be sent by another site's
    page); a cookie handshake must come from a trusted Origin (origin_trusted),
    or it is refused before the upgrade. A bearer socket carries its token's id
    in the scope, so revoking the token closes it (ChatConsumer.chat_close).
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.cookie_stack = TrustedOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        token = bearer_token(scope)
        if token is None:
            return await self.cookie_stack(scope, receive, send)
        found = await database_sync_to_async(token_find)(token)
        # In place, not a copy: the scope lives as long as the socket, and nothing
        # upstream (daphne, the logging middleware) reads it again.
        scope["user"] = AnonymousUser() if found is None else found.user
        scope["token_id"] = None if found is None else found.pk
        return await self.inner(scope, receive, send)
