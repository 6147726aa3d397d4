"""Messages over HTTP: posting (the WebSocket's rules and fan-out) and paging history."""

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Message, Room

pytestmark = [pytest.mark.django_db]


def test_a_posted_message_is_stored_and_returned_as_the_protocol_message(make_user, bearer):
    response = bearer(make_user("alice")).post(
        "/api/rooms/general/messages", {"body": "hi **all**", "client_id": "c1"}
    )
    assert response.status_code == 201
    message = response.json()
    stored = Message.objects.get()
    assert message["id"] == stored.id
    assert (message["room"], message["body"], message["client_id"]) == (
        "general",
        "hi **all**",
        "c1",
    )
    assert message["html"] == "<p>hi <strong>all</strong></p>"
    assert message["author"]["username"] == "alice"
    assert message["created_at"].endswith("Z") and message["edited_at"] is None


def test_a_retry_with_the_same_client_id_returns_the_first_message_with_200(make_user, bearer):
    api = bearer(make_user("alice"))
    first = api.post("/api/rooms/general/messages", {"body": "once", "client_id": "same"})
    retry = api.post("/api/rooms/general/messages", {"body": "once", "client_id": "same"})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Message.objects.count() == 1
    without_id = [api.post("/api/rooms/general/messages", {"body": "again"}) for _ in range(2)]
    assert [r.status_code for r in without_id] == [201, 201]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"body": "x" * 4001}, 413, "too_long"),
        ({"body": "   "}, 422, "invalid"),
        ({"body": "nul \x00 byte"}, 422, "invalid"),
        ({"body": 42}, 422, "invalid"),
        ({}, 422, "invalid"),
        ({"body": "hi", "client_id": "c" * 65}, 422, "invalid"),
    ],
)
def test_messages_are_validated_like_websocket_sends(make_user, bearer, payload, status, code):
    response = bearer(make_user("alice")).post("/api/rooms/general/messages", payload)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Message.objects.exists()


def test_the_longest_allowed_message_is_accepted(make_user, bearer):
    response = bearer(make_user("alice")).post("/api/rooms/general/messages", {"body": "x" * 4000})
    assert response.status_code == 201


def test_posting_needs_membership_and_a_room_that_is_not_archived(make_user, bearer):
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_create(creator=bob, name="Random", slug="random")
    outsider = bearer(alice).post("/api/rooms/random/messages", {"body": "hi"})
    assert outsider.status_code == 403
    assert outsider.json()["code"] == "forbidden"

    services.room_archive(by=bob, room=room)
    archived = bearer(bob).post("/api/rooms/random/messages", {"body": "hi"})
    assert archived.status_code == 403
    assert not Message.objects.exists()


def test_posting_too_fast_is_a_429_and_stores_nothing(make_user, bearer, settings):
    settings.CHAT_RATE_LIMIT_BURST = 3
    api = bearer(make_user("alice"))
    statuses = [
        api.post("/api/rooms/general/messages", {"body": f"m{n}"}).status_code for n in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    limited = api.post("/api/rooms/general/messages", {"body": "more"})
    assert limited.json()["code"] == "rate_limited"
    assert limited["Retry-After"] == "1"
    assert Message.objects.count() == 3


def test_history_pages_backwards_and_forwards_in_ascending_order(make_user, bearer):
    alice = make_user("alice")
    general = Room.objects.get(slug="general")
    ids = [services.message_post(user=alice, room=general, body=f"m{n}")[0].id for n in range(7)]
    services.message_delete(user=alice, message_id=ids[3])
    live = ids[:3] + ids[4:]
    api = bearer(alice)

    def page(**query) -> tuple[list[int], bool]:
        body = api.get("/api/rooms/general/messages", query).json()
        return [m["id"] for m in body["messages"]], body["has_more"]

    assert page() == (live, False)
    assert page(limit=2) == (live[-2:], True)
    assert page(before=live[-2], limit=2) == (live[-4:-2], True)
    assert page(before=live[1]) == (live[:1], False)
    assert page(after=live[0], limit=3) == (live[1:4], True)
    assert page(after=live[-1]) == ([], False)
    assert page(limit=1000) == (live, False), "larger limits are capped, not refused"


def test_history_parameters_are_validated(make_user, bearer):
    api = bearer(make_user("alice"))
    for query in [{"limit": 0}, {"before": -1}, {"after": "x"}, {"after": 2**63}]:
        response = api.get("/api/rooms/general/messages", query)
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["loc"][-1] in query


@pytest.mark.django_db(transaction=True)
async def test_a_message_posted_over_http_reaches_websocket_members_live(
    make_user, bearer, connect
):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    api = await database_sync_to_async(bearer)(alice)
    socket = await connect(bob)
    response = await database_sync_to_async(api.post)(
        "/api/rooms/general/messages", {"body": "from a script", "client_id": "s1"}
    )
    assert response.status_code == 201
    while (frame := await socket.receive_json_from(timeout=5))["type"] != "message":
        pass
    assert frame["message"] == response.json()
