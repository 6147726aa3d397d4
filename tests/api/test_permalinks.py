"""A page around one message (`around=<id>`): what a permalink or a search hit opens."""

import pytest

from chat import services
from chat.models import Room
from tests.support.frames import receive_type

pytestmark = [pytest.mark.django_db]


def post(user, body: str, slug: str = "general", thread: int | None = None) -> int:
    room = Room.objects.get(slug=slug)
    return services.message_post(user=user, room=room, body=body, thread=thread)[0].id


@pytest.fixture
def alice(make_user, settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    return make_user("alice")


def test_the_page_holds_the_message_in_the_middle_with_both_directions_flagged(alice, bearer):
    ids = [post(alice, f"m{n}") for n in range(30)]
    page = bearer(alice).get(f"/api/rooms/general/messages?around={ids[15]}&limit=10").json()
    assert [m["id"] for m in page["messages"]] == ids[10:20]
    assert (page["has_more"], page["has_newer"], page["focus"]) == (True, True, ids[15])


def test_near_either_end_the_page_fills_from_the_other_side(alice, bearer):
    ids = [post(alice, f"m{n}") for n in range(12)]
    api = bearer(alice)
    first = api.get(f"/api/rooms/general/messages?around={ids[1]}&limit=6").json()
    assert [m["id"] for m in first["messages"]] == ids[0:6]
    assert (first["has_more"], first["has_newer"]) == (False, True)
    last = api.get(f"/api/rooms/general/messages?around={ids[-1]}&limit=6").json()
    assert [m["id"] for m in last["messages"]] == ids[-4:]
    assert (last["has_more"], last["has_newer"]) == (True, False)


def test_a_reply_opens_at_its_root_in_the_timeline_and_in_its_thread_with_thread(alice, bearer):
    root = post(alice, "root")
    replies = [post(alice, f"reply {n}", thread=root) for n in range(3)]
    post(alice, "later root")
    api = bearer(alice)
    main = api.get(f"/api/rooms/general/messages?around={replies[1]}").json()
    assert main["focus"] == root
    assert root in [m["id"] for m in main["messages"]]
    assert not set(replies) & {m["id"] for m in main["messages"]}
    thread = api.get(f"/api/rooms/general/messages?around={replies[1]}&thread={root}").json()
    assert [m["id"] for m in thread["messages"]] == replies
    assert thread["focus"] == replies[1] and thread["root"]["id"] == root


def test_a_message_you_may_not_read_answers_like_a_missing_one(alice, make_user, bearer):
    services.room_create(creator=alice, name="Secret", slug="secret", kind="private")
    hidden = post(alice, "hidden", "secret")
    elsewhere = post(alice, "in general")
    eve = bearer(make_user("eve"))
    for path in (
        f"/api/rooms/secret/messages?around={hidden}",
        f"/api/rooms/general/messages?around={hidden}",
        "/api/rooms/general/messages?around=999999",
    ):
        response = eve.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    services.message_delete(user=alice, message_id=elsewhere)
    gone = eve.get(f"/api/rooms/general/messages?around={elsewhere}")
    assert gone.status_code == 404, "a deleted message is not found either"


def test_around_with_before_or_after_is_refused(alice, bearer):
    message = post(alice, "m")
    response = bearer(alice).get(f"/api/rooms/general/messages?around={message}&before=5")
    assert response.status_code == 422


@pytest.mark.django_db(transaction=True)
async def test_the_socket_history_takes_around_too(alice, connect):
    from channels.db import database_sync_to_async

    ids = [await database_sync_to_async(post)(alice, f"m{n}") for n in range(8)]
    socket = await connect(alice)
    await socket.send_json_to({"type": "history", "room": "general", "around": ids[4], "limit": 4})
    page = await receive_type(socket, "history")
    assert [m["id"] for m in page["messages"]] == ids[2:6]
    assert (page["has_more"], page["has_newer"], page["focus"]) == (True, True, ids[4])
    await socket.send_json_to(
        {"type": "history", "room": "general", "around": ids[4], "after": ids[1]}
    )
    error = await receive_type(socket, "error")
    assert error["code"] == "invalid"
