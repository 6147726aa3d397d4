"""The published WebSocket schema: a JSON Schema of every server-to-client frame.

Generated from chat/frames.py; committed as docs/ws-schema.json (``manage.py
ws_schema`` rewrites it, tests/unit/test_frame_schema.py fails while it is stale)
and served at /api/ws-schema.json, next to the OpenAPI document.
"""

import json
from functools import cache

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from pydantic import TypeAdapter

from chat.frames import ServerFrame

URL = "/api/ws-schema.json"


def ws_schema() -> dict:
    """The JSON Schema (draft 2020-12) a server frame validates against."""
    schema = TypeAdapter(ServerFrame).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": URL,
        "title": "Chat WebSocket: server-to-client frames",
        "description": "Every frame the server sends on /ws/ (and in GET /api/events), "
        "told apart by `type`; see docs/protocol.md.",
        **schema,
    }


@cache
def ws_schema_text() -> str:
    """The schema as committed in docs/ws-schema.json."""
    return json.dumps(ws_schema(), indent=2, ensure_ascii=False) + "\n"


@require_safe
def ws_schema_view(request: HttpRequest) -> HttpResponse:
    """GET /api/ws-schema.json: public, like /api/openapi.json."""
    return HttpResponse(ws_schema_text(), content_type="application/schema+json")
