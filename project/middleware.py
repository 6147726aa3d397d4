"""Project-wide HTTP middleware.

Every middleware here runs in async mode too. Under ASGI, one sync-only
middleware makes Django run the whole chain in a thread, which then blocks for
as long as the view runs: a long poll (chat/longpoll.py) would hold a thread
for its whole wait, and a client hanging up would not cancel it.
"""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware


class ContentSecurityPolicyMiddleware:
    """Send a Content-Security-Policy that forbids inline script on every page.

    The interactive API docs at /api/docs get the same policy: django-ninja
    serves Swagger UI from its own static files (ninja is in INSTALLED_APPS, so
    no CDN) and passes its settings as a JSON data block, not an inline script.
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
        return self._protect(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self._protect(await self.get_response(request))

    def _protect(self, response: HttpResponse) -> HttpResponse:
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in async mode (WhiteNoise 6 itself is sync-only).

    Static files are looked up and opened in a thread; every other request
    passes straight through without one.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable | None = None, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class InlineInAsyncMixin:
    """Run a stock Django middleware's hooks on the event loop, not in a thread.

    Django's MiddlewareMixin, in async mode, sends ``process_request``,
    ``process_view`` and ``process_response`` each through
    ``sync_to_async(thread_sensitive=True)``: a hop to the request's thread and
    back, about a dozen per request with the stock middleware, which costs more
    CPU than a long poll's own work. The middleware listed below do no I/O in
    those hooks (headers, cookies, redirects, lazy objects), so they run inline.
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
