"""Project-wide HTTP middleware.

Every middleware here runs in async mode too. Under ASGI, one sync-only
middleware makes Django run the whole chain in a thread, which then blocks for
as long as the view runs: a long poll (realtime/longpoll.py) would hold a thread
for its whole wait, and a client hanging up would not cancel it.
"""

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

log = logging.getLogger(__name__)

# (the default storage, the origin its file URLs point at): computed once per storage.
_files_origin: list[tuple[object, str]] = []


def stored_files_origin() -> str:
    """Where the browser fetches stored files from, when it is not this site: a store
    such as S3 (GET /files/... answers 302 to a presigned URL there); "" for files on
    disk, which this site serves itself (or nginx, behind it)."""
    storage = storages["default"]
    if _files_origin and _files_origin[0][0] is storage:
        return _files_origin[0][1]
    origin = ""
    if not isinstance(storage, FileSystemStorage):
        try:
            url = urlsplit(storage.url("content-security-policy-probe"))
        except Exception:  # no credentials yet, say: images from the store stay blocked
            log.warning("no URL from the file store; its images are not in img-src", exc_info=True)
        else:
            if url.scheme in ("http", "https") and url.netloc:
                origin = f"{url.scheme}://{url.netloc}"
    _files_origin[:] = [(storage, origin)]
    return origin


def content_security_policy() -> str:
    """CONTENT_SECURITY_POLICY, with the file store's origin added to img-src: the CSP
    applies to a redirect's target too, so without it no inline image from S3 shows."""
    policy = settings.CONTENT_SECURITY_POLICY
    origin = stored_files_origin()
    if not origin:
        return policy
    directives = [part.strip() for part in policy.split(";")]
    for index, directive in enumerate(directives):
        if directive.split(" ", 1)[0] == "img-src":
            directives[index] = f"{directive} {origin}"
            break
    else:
        directives.append(f"img-src 'self' data: {origin}")
    return "; ".join(directives)


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
        response.setdefault("Content-Security-Policy", content_security_policy())
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
