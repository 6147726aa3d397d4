"""GET /api/rooms pages by slug: a bounded answer however many rooms exist, and a cursor."""

import re

import pytest

from chat import services
from chat.models import Room

pytestmark = [pytest.mark.django_db]


def make_rooms(count: int, *, prefix: str = "room", kind: str = "public") -> list[str]:
    slugs = [f"{prefix}-{n:04}" for n in range(count)]
    Room.objects.bulk_create(Room(slug=slug, name=slug.title(), kind=kind) for slug in slugs)
    return slugs


def test_the_list_answers_a_page_of_the_default_size_with_a_next_cursor(
    make_user, bearer, settings
):
    make_rooms(150)
    response = bearer(make_user("alice")).get("/api/rooms")
    assert response.status_code == 200
    rooms = response.json()
    assert isinstance(rooms, list), "old clients still get a list"
    assert len(rooms) == settings.CHAT_ROOM_LIST_PAGE_SIZE == 100
    cursor = response.headers["X-Next-Cursor"]
    assert cursor == rooms[-1]["slug"]
    assert response.headers["Link"] == f'</api/rooms?after={cursor}&limit=100>; rel="next"'


def test_following_the_cursor_walks_every_visible_room_once(make_user, bearer):
    alice = make_user("alice")
    api = bearer(alice)
    public = make_rooms(7)
    hidden = make_rooms(3, prefix="hidden", kind="private")
    mine = services.room_create(creator=alice, name="Mine", slug="mine", kind="private")
    seen, path, pages = [], "/api/rooms?limit=3", 0
    while path:
        response = api.get(path)
        assert response.status_code == 200
        page = response.json()
        assert len(page) <= 3
        seen += [room["slug"] for room in page]
        link = response.headers.get("Link")
        path = re.match(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        pages += 1
    assert seen == sorted(public + ["general", mine.slug])
    assert not set(seen) & set(hidden)
    assert pages == 3, "9 rooms: three full pages, the last without a cursor"


def test_a_page_says_which_rooms_are_mine_and_their_unread_counts(make_user, bearer):
    alice, bob = make_user("alice"), make_user("bob")
    make_rooms(5)
    general = Room.objects.get(slug="general")
    services.message_post(user=bob, room=general, body="hi")
    first, second = (
        bearer(alice).get(path).json()
        for path in ("/api/rooms?limit=3", "/api/rooms?limit=3&after=room-0001")
    )
    assert [len(first), len(second)] == [3, 3]
    by_slug = {room["slug"]: room for room in first + second}
    assert (by_slug["general"]["is_member"], by_slug["general"]["unread"]) == (True, 1)
    assert (by_slug["room-0002"]["is_member"], by_slug["room-0002"]["unread"]) == (False, 0)


def test_the_last_page_has_no_cursor_and_a_large_limit_is_capped(make_user, bearer, settings):
    make_rooms(250)
    api = bearer(make_user("alice"))
    capped = api.get("/api/rooms?limit=5000")
    assert len(capped.json()) == settings.CHAT_ROOM_LIST_MAX_PAGE_SIZE == 200
    last = api.get(f"/api/rooms?limit=200&after={capped.headers['X-Next-Cursor']}")
    assert len(last.json()) == 251 - 200
    assert "X-Next-Cursor" not in last.headers and "Link" not in last.headers


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "after=NOT%20A%20SLUG", "after=a%00b"])
def test_bad_paging_parameters_are_a_422(make_user, bearer, query):
    response = bearer(make_user("alice")).get(f"/api/rooms?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
