"""The published WebSocket schema is the one chat/frames.py generates, and it covers
every frame docs/protocol.md lists."""

import json
import re
from pathlib import Path

from chat.frames import FRAME_MODELS
from chat.ws_schema import ws_schema, ws_schema_text

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "ws-schema.json"
REGENERATE = "regenerate it: .venv/bin/python manage.py ws_schema"


def documented_server_frames() -> set[str]:
    """The frame types in the first column of docs/protocol.md's server-to-client table."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Server to client", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}


def test_the_committed_schema_is_what_the_models_generate():
    assert DOCUMENT.exists(), f"docs/ws-schema.json is missing; {REGENERATE}"
    assert DOCUMENT.read_text() == ws_schema_text(), f"docs/ws-schema.json is stale; {REGENERATE}"


def test_every_documented_server_frame_has_a_model_and_no_model_is_undocumented():
    documented = documented_server_frames()
    assert len(documented) > 20, documented
    # `pong` is documented as the reply in the client-to-server table.
    assert documented | {"pong"} == set(FRAME_MODELS)


def test_the_schema_tells_frames_apart_by_type():
    schema = ws_schema()
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(FRAME_MODELS)
    for frame_type, ref in mapping.items():
        model = schema["$defs"][ref.removeprefix("#/$defs/")]
        assert model["properties"]["type"]["const"] == frame_type
        assert "type" in model["required"]


def test_the_schema_is_served_next_to_the_openapi_document(client):
    response = client.get("/api/ws-schema.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/schema+json")
    assert json.loads(response.content) == json.loads(DOCUMENT.read_text())
