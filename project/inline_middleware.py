"""Stock Django middleware whose hooks run inline in async mode (InlineInAsyncMixin).

Session and message middleware are not here: saving a session, and reading
messages kept in it, are database I/O and stay in a thread.
"""

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware


class InlineInAsyncMixin:
    """Run a stock Django middleware's hooks on the event loop, not in a thread.

    Django's MiddlewareMixin, in async mode, sends ``process_request``,
    ``process_view`` and ``process_response`` each through
    ``sync_to_async(thread_sensitive=True)``: a hop to the request's thread and
    back, about a dozen per request with the stock middleware, which costs more
    CPU than a long poll's own work. The middleware below do no I/O in those
    hooks (headers, cookies, redirects, lazy objects), so they run inline.
    Any of them that ever touched the database would raise
    SynchronousOnlyOperation rather than block the loop.
    """

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        sync_view_hook = getattr(self, "process_view", None)
        if self.async_mode and sync_view_hook is not None:
            # The handler adapts each process_view to its mode: an async one is
            # awaited as it is, a sync one would go through sync_to_async.
            async def process_view(*args):
                return sync_view_hook(*args)

            self.process_view = process_view

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class InlineSecurityMiddleware(InlineInAsyncMixin, SecurityMiddleware):
    pass


class InlineCommonMiddleware(InlineInAsyncMixin, CommonMiddleware):
    pass


class InlineCsrfViewMiddleware(InlineInAsyncMixin, CsrfViewMiddleware):
    """CSRF with the token in a cookie (CSRF_USE_SESSIONS is off): no I/O."""


class InlineAuthenticationMiddleware(InlineInAsyncMixin, AuthenticationMiddleware):
    """Sets the lazy ``request.user``; the user is loaded (in a thread) when first used."""


class InlineXFrameOptionsMiddleware(InlineInAsyncMixin, XFrameOptionsMiddleware):
    pass
