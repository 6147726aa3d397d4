"""WebSocket handshake auth: a bearer token, or a session cookie from an allowed Origin."""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from accounts.services import token_authenticate


def bearer_token(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class HandshakeAuthMiddleware:
    """Scripts authenticate with `Authorization: Bearer`; browsers with the session cookie.

    A bearer handshake needs no Origin (a token cannot be sent by another site's
    page); a cookie handshake must come from an allowed Origin, or it is
    refused before the upgrade.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.cookie_stack = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        token = bearer_token(scope)
        if token is None:
            return await self.cookie_stack(scope, receive, send)
        user = await database_sync_to_async(token_authenticate)(token)
        # In place, not a copy: the scope lives as long as the socket, and nothing
        # upstream (daphne, the logging middleware) reads it again.
        scope["user"] = user or AnonymousUser()
        return await self.inner(scope, receive, send)
