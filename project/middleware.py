"""Project-wide HTTP middleware.

Every middleware here runs in async mode too. Under ASGI, one sync-only
middleware makes Django run the whole chain in a thread, which then blocks for
as long as the view runs: a long poll (realtime/longpoll.py) would hold a thread
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
