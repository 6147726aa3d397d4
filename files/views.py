"""Serving uploads: GET /files/<id>/<name> and /files/<id>/thumb/<name>, after the access check.

Who may read what is files.selectors.upload_readable; anyone else gets the same
404 as for a file that never existed. Three ways of sending the bytes:

- ``CHAT_FILES_ACCEL_REDIRECT`` set (the cluster, docker-compose): the app answers
  with ``X-Accel-Redirect`` and nginx sends the file from its ``internal``
  location, so replicas never stream files.
- Local storage without it (``make run``, tests): the app streams the file,
  honouring a single ``Range``.
- Any other storage (S3): a 302 to a presigned URL valid
  ``CHAT_S3_URL_EXPIRY_SECS``, which names the download's type and file name.
"""

from collections.abc import AsyncIterator, Iterator
from typing import IO
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.handlers.asgi import ASGIRequest
from django.db.models.fields.files import FieldFile
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from accounts import services as account_services
from files.models import Upload
from files.ranges import Unsatisfiable, parse_range
from files.selectors import upload_readable
from project.errors import ClientError

CHUNK_BYTES = 64 * 1024
# Nothing a file says may run: not as a page, not in a frame, not as a script.
FILE_CSP = "default-src 'none'; sandbox"
# The browser keeps a file it was allowed to read for a while, and only for this user.
CACHE_CONTROL = "private, max-age=300"


def _caller(request: HttpRequest) -> AbstractBaseUser | AnonymousUser | None:
    """The session's user, or a bearer token's (scripts fetching attachments)."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found = account_services.token_find(token.strip())
        return found.user if found is not None and found.user.is_active else None
    return request.user


def _not_found() -> HttpResponse:
    response = JsonResponse({"detail": "No such file.", "code": "not_found"}, status=404)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def content_disposition(upload: Upload, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback name, and the real one in UTF-8."""
    fallback = upload.name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(upload.name, safe='')}"


def _headers(response: HttpResponse, upload: Upload, content_type: str) -> HttpResponse:
    response["Content-Type"] = content_type
    response["Content-Disposition"] = content_disposition(upload, inline=upload.is_image)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = CACHE_CONTROL
    response["Accept-Ranges"] = "bytes"
    return response


def _is_local(field: FieldFile) -> bool:
    try:
        field.storage.path(field.name)
    except NotImplementedError:
        return False
    return True


def _read_sync(stream: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = stream.read(min(CHUNK_BYTES, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        stream.close()


async def _read_async(stream: IO[bytes], length: int) -> AsyncIterator[bytes]:
    # Under ASGI a synchronous iterator would be read whole into memory before the
    # first byte is sent (Django consumes it in one thread hop); chunk by chunk here.
    try:
        while length > 0:
            chunk = await sync_to_async(stream.read)(min(CHUNK_BYTES, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        await sync_to_async(stream.close)()


def _stream(request: HttpRequest, field: FieldFile, size: int) -> HttpResponse:
    try:
        span = parse_range(request.headers.get("Range"), size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = span if span is not None else (0, size - 1)
    length = last - first + 1
    stream = field.storage.open(field.name, "rb")
    if first:
        stream.seek(first)
    read = _read_async if isinstance(request, ASGIRequest) else _read_sync
    response = StreamingHttpResponse(read(stream, length), status=206 if span else 200)
    response["Content-Length"] = str(length)
    if span is not None:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def _send(request: HttpRequest, upload: Upload, field: FieldFile) -> HttpResponse:
    local = _is_local(field)
    if local and settings.CHAT_FILES_ACCEL_REDIRECT:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.CHAT_FILES_ACCEL_REDIRECT + quote(field.name)
        return _headers(response, upload, upload.content_type)
    if not local:
        url = field.storage.url(
            field.name,
            parameters={
                "ResponseContentType": upload.content_type,
                "ResponseContentDisposition": content_disposition(upload, inline=upload.is_image),
                "ResponseCacheControl": CACHE_CONTROL,
            },
            expire=settings.CHAT_S3_URL_EXPIRY_SECS,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    return _headers(_stream(request, field, field.size), upload, upload.content_type)


def _readable(request: HttpRequest, upload_id: int) -> Upload | None:
    try:
        return upload_readable(user=_caller(request), upload_id=upload_id)
    except ClientError:
        return None


@require_safe
def file_view(request: HttpRequest, upload_id: int, name: str) -> HttpResponse:
    """The file itself; the name in the URL is for people and is not checked."""
    upload = _readable(request, upload_id)
    if upload is None:
        return _not_found()
    return _send(request, upload, upload.file)


@require_safe
def thumbnail_view(request: HttpRequest, upload_id: int, name: str = "") -> HttpResponse:
    upload = _readable(request, upload_id)
    if upload is None or not upload.thumbnail:
        return _not_found()
    return _send(request, upload, upload.thumbnail)
