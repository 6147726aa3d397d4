"""Whatever is sent, /api/ answers JSON with a fitting status; and it describes itself."""

import pytest
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from chat import services

pytestmark = [pytest.mark.django_db]

DESIGN_ROUTES = {
    ("get", "/api/me"),
    ("get", "/api/rooms"),
    ("post", "/api/rooms"),
    ("get", "/api/rooms/{slug}"),
    ("post", "/api/rooms/{slug}/join"),
    ("post", "/api/rooms/{slug}/leave"),
    ("get", "/api/rooms/{slug}/members"),
    ("post", "/api/rooms/{slug}/members"),
    ("get", "/api/rooms/{slug}/messages"),
    ("post", "/api/rooms/{slug}/messages"),
    ("get", "/api/rooms/{slug}/poll"),
    ("post", "/api/dms"),
    ("post", "/api/groups"),
    ("get", "/api/tokens"),
    ("post", "/api/tokens"),
    ("delete", "/api/tokens/{token_id}"),
    # Part two: conversations
    ("get", "/api/rooms/{slug}/changes"),
    ("get", "/api/rooms/{slug}/pins"),
    ("patch", "/api/rooms/{slug}/me"),
    ("post", "/api/messages/{message_id}/reactions"),
    ("delete", "/api/messages/{message_id}/reactions/{emoji}"),
    ("put", "/api/messages/{message_id}/pin"),
    ("delete", "/api/messages/{message_id}/pin"),
    # Part two: without WebSockets
    ("get", "/api/events"),
    # Part two: files and images
    ("post", "/api/uploads"),
}
# Beyond the design's table: what a complete client needs (moderation, edits, read marks).
MORE_ROUTES = {
    ("patch", "/api/rooms/{slug}"),
    ("delete", "/api/rooms/{slug}/members/{username}"),
    ("post", "/api/rooms/{slug}/read"),
    ("patch", "/api/messages/{message_id}"),
    ("delete", "/api/messages/{message_id}"),
    ("patch", "/api/rooms/{slug}/members/{username}"),
    ("get", "/api/users"),
    ("get", "/api/search"),
    ("post", "/api/rooms/{slug}/typing"),
}


@pytest.fixture
def api(make_user, bearer):
    return bearer(make_user("alice"))


def test_a_body_that_is_not_json_is_a_400(api):
    response = api.post("/api/rooms/general/messages", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "parse" in response.json()["detail"]


def test_a_body_larger_than_a_websocket_frame_is_a_413_before_it_is_read(api, settings):
    body = {"body": "x" * settings.CHAT_MAX_FRAME_BYTES}
    response = api.post("/api/rooms/general/messages", body)
    assert response.status_code == 413
    assert response.json()["code"] == "too_long"


def test_fields_of_the_wrong_type_are_a_422_naming_each_field(api):
    response = api.post("/api/rooms", {"name": ["x"], "slug": 7, "kind": "secret"})
    assert response.status_code == 422
    body = response.json()
    assert {tuple(error["loc"][-1:]) for error in body["errors"]} == {
        ("name",),
        ("slug",),
        ("kind",),
    }
    assert "slug" in body["detail"]


def test_unknown_routes_and_methods_answer_in_json(api):
    for path in ["/api/", "/api/nope", "/api/rooms/general/nope", "/api/me/", "/api/rooms/a/b/c"]:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    response = api.delete("/api/rooms")
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}
    assert "Method not allowed" in response.json()["detail"]


@pytest.mark.parametrize(
    "outage",
    [OperationalError("the database is restarting"), RedisConnectionError("connection refused")],
)
def test_while_postgres_or_redis_is_unreachable_requests_get_a_503_to_retry(
    api, monkeypatch, outage
):
    def unreachable(**kwargs):
        raise outage

    monkeypatch.setattr(services, "message_post", unreachable)
    response = api.post("/api/rooms/general/messages", {"body": "hi", "client_id": "c1"})
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == "2"


def test_the_openapi_schema_covers_every_route_of_the_design_and_more(client):
    schema = client.get("/api/openapi.json").json()
    routes = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert routes == DESIGN_ROUTES | MORE_ROUTES
    schemes = schema["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}


def test_the_interactive_docs_are_served(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
