"""Roles over HTTP (PATCH /api/rooms/{slug}/members/{username}) and the people picker's
search (GET /api/users): who may change roles, how ownership is handed over, and what
a search shows, pages and refuses."""

import pytest

from accounts.services import profile_update
from chat import services
from chat.models import Membership, Room

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("olga", "mona", "bob", "eve", "stan")}


@pytest.fixture
def api(people, bearer, secret):
    people["stan"].is_staff = True
    people["stan"].save(update_fields=["is_staff"])
    return {name: bearer(user) for name, user in people.items()}


def roles(room: Room) -> dict[str, str]:
    return dict(room.memberships.values_list("user__username", "role"))


def set_role(client, username: str, role, slug: str = "secret"):
    return client.patch(f"/api/rooms/{slug}/members/{username}", {"role": role})


# Roles
# ------------------------------------------------------------------------------


def test_the_owner_promotes_a_member_and_demotes_a_moderator(api, secret):
    promoted = set_role(api["olga"], "bob", "moderator")
    assert promoted.status_code == 200
    assert promoted.json() | {"online": False} == {
        "username": "bob",
        "display_name": "bob",
        "avatar_url": "/accounts/avatar/bob.svg",
        "role": "moderator",
        "online": False,
    }
    assert set_role(api["olga"], "mona", "member").status_code == 200
    assert roles(secret) == {"olga": "owner", "mona": "member", "bob": "moderator"}
    # The new moderator can now moderate: remove the plain member.
    assert api["bob"].delete("/api/rooms/secret/members/mona").status_code == 204


def test_handing_the_room_over_makes_the_old_owner_a_moderator(api, secret):
    handed = set_role(api["olga"], "bob", "owner")
    assert handed.status_code == 200
    assert handed.json()["role"] == "owner"
    assert roles(secret) == {"olga": "moderator", "mona": "moderator", "bob": "owner"}
    # olga is no longer the owner: she changes no roles now, bob does.
    assert set_role(api["olga"], "mona", "member").status_code == 403
    assert set_role(api["bob"], "olga", "member").status_code == 200
    assert roles(secret)["olga"] == "member"


def test_staff_hand_a_public_room_over_without_being_members(api, people):
    lobby = services.room_create(creator=people["olga"], name="Lobby", slug="lobby")
    services.room_join(user=people["bob"], room=lobby)
    assert set_role(api["stan"], "bob", "owner", slug="lobby").status_code == 200
    assert roles(lobby) == {"olga": "moderator", "bob": "owner"}


@pytest.mark.parametrize("caller", ["mona", "bob"])
def test_only_the_owner_changes_roles(api, secret, caller):
    refused = set_role(api[caller], "bob" if caller == "mona" else "mona", "moderator")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert roles(secret) == {"olga": "owner", "mona": "moderator", "bob": "member"}


def test_an_outsider_gets_the_404_of_a_room_that_does_not_exist(api, secret):
    assert set_role(api["eve"], "bob", "moderator").status_code == 404
    assert set_role(api["eve"], "bob", "moderator", slug="nowhere").status_code == 404


@pytest.mark.parametrize("username", ["eve", "nobody", "bob\x00"])
def test_someone_who_is_not_a_member_is_a_404(api, secret, username):
    response = set_role(api["olga"], username, "moderator")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Membership.objects.filter(room=secret, user__username="eve").exists()


@pytest.mark.parametrize("role", ["admin", "", None, 1, ["owner"]])
def test_an_unknown_role_is_a_422(api, secret, role):
    response = set_role(api["olga"], "bob", role)
    assert response.status_code == 422
    assert roles(secret)["bob"] == "member"


def test_a_body_without_role_or_not_json_is_refused(api, secret):
    assert api["olga"].patch("/api/rooms/secret/members/bob", {}).status_code == 422
    not_json = api["olga"].patch("/api/rooms/secret/members/bob", "{role", "application/json")
    assert not_json.status_code == 400


def test_nobody_changes_their_own_role_nor_the_owners(api, secret, people):
    own = set_role(api["olga"], "olga", "member")
    assert own.status_code == 403
    assert "your own role" in own.json()["detail"]
    assert set_role(api["mona"], "mona", "owner").status_code == 403
    assert roles(secret) == {"olga": "owner", "mona": "moderator", "bob": "member"}
    # Staff cannot leave a room without its owner either: they hand it over instead.
    lobby = services.room_create(creator=people["olga"], name="Lobby", slug="lobby")
    demoted = set_role(api["stan"], "olga", "member", slug="lobby")
    assert demoted.status_code == 403
    assert "handing the room" in demoted.json()["detail"]
    assert roles(lobby) == {"olga": "owner"}


def test_direct_rooms_have_no_roles(api, people):
    room, _ = services.direct_room_open(user=people["olga"], username="bob")
    response = set_role(api["olga"], "bob", "moderator", slug=room.slug)
    assert response.status_code == 403
    assert "no roles" in response.json()["detail"]
    assert set(roles(room).values()) == {"member"}


def test_setting_the_role_a_member_has_is_not_an_error(api, secret):
    assert set_role(api["olga"], "mona", "moderator").status_code == 200
    assert roles(secret)["mona"] == "moderator"


def test_roles_change_in_an_archived_room(api, secret, people):
    services.room_archive(by=people["olga"], room=secret)
    assert set_role(api["olga"], "bob", "moderator").status_code == 200


def test_a_role_change_reaches_the_room_as_member_updated(
    api, secret, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("chat.events.to_room", lambda room, frame, **kw: sent.append(frame))
    with django_capture_on_commit_callbacks(execute=True):
        assert set_role(api["olga"], "bob", "owner").status_code == 200
    assert [(f["type"], f["room"], f["user"]["username"], f["role"]) for f in sent] == [
        ("member_updated", "secret", "olga", "moderator"),
        ("member_updated", "secret", "bob", "owner"),
    ]
    assert all(f["user"]["role"] == f["role"] for f in sent)


# People search
# ------------------------------------------------------------------------------


@pytest.fixture
def directory(make_user):
    """People to find: Ben Okoro (bokoro), Benedikt (benno), Ruben (ruben), and Ana."""
    made = {}
    for username, name in (
        ("bokoro", "Ben Okoro"),
        ("benno", "Benedikt"),
        ("ruben", ""),
        ("ana", "Ana Lima"),
    ):
        made[username] = make_user(username)
        if name:
            profile_update(user=made[username], display_name=name)
    return made


def search(client, query: str):
    return client.get(f"/api/users?{query}")


def test_people_are_found_by_display_name_in_any_case(api, directory):
    found = search(api["eve"], "q=ben%20okoro")
    assert found.status_code == 200
    (person,) = found.json()
    assert (person["username"], person["display_name"]) == ("bokoro", "Ben Okoro")
    # The generated picture is drawn from the name: a new name is a new URL (no stale cache).
    assert person["avatar_url"].startswith("/accounts/avatar/bokoro.svg?v=")


def test_people_are_found_by_part_of_a_username_or_a_name_ordered_by_username(api, directory):
    found = search(api["eve"], "q=BEN").json()
    assert [p["username"] for p in found] == ["benno", "bokoro", "ruben"]
    assert set(found[0]) == {"username", "display_name", "avatar_url"}, "never an email"
    assert [p["username"] for p in search(api["eve"], "q=lima").json()] == ["ana"]


def test_the_searcher_and_deactivated_people_are_left_out(api, directory):
    directory["benno"].is_active = False
    directory["benno"].save(update_fields=["is_active"])
    assert [p["username"] for p in search(api["eve"], "q=ben").json()] == ["bokoro", "ruben"]
    assert [p["username"] for p in search(api["bob"], "q=bo").json()] == ["bokoro"]


def test_wildcards_are_plain_text(api, directory):
    assert search(api["eve"], "q=%25").json() == []
    assert search(api["eve"], "q=_").json() == []


def test_pages_follow_the_cursor_until_everyone_was_seen_once(api, make_user):
    for index in range(7):
        make_user(f"sam{index}")
    seen, url, pages = [], "/api/users?q=sam&limit=3", 0
    while url:
        response = api["eve"].get(url)
        assert response.status_code == 200
        seen += [p["username"] for p in response.json()]
        pages += 1
        cursor = response.get("X-Next-Cursor")
        if cursor:
            assert response["Link"] == f'</api/users?q=sam&after={cursor}&limit=3>; rel="next"'
        url = f"/api/users?q=sam&after={cursor}&limit=3" if cursor else ""
    assert seen == [f"sam{index}" for index in range(7)]
    assert pages == 3


def test_a_page_is_at_most_the_largest_size(api, make_user, settings):
    settings.CHAT_PEOPLE_SEARCH_MAX_PAGE_SIZE = 2
    for index in range(3):
        make_user(f"sam{index}")
    response = search(api["eve"], "q=sam&limit=100")
    assert len(response.json()) == 2
    assert response["X-Next-Cursor"] == "sam1"


@pytest.mark.parametrize(
    "query", ["", "q=", "q=%20%20", "q=a&limit=0", "q=a&limit=x", "q=" + "a" * 81, "q=a%00"]
)
def test_a_bad_query_is_a_422(api, query):
    response = search(api["eve"], query)
    assert response.status_code == 422
    assert "detail" in response.json()


def test_searching_too_fast_is_a_429(api, directory, settings):
    settings.CHAT_RATE_LIMIT_PEOPLE_SEARCH_BURST = 3
    settings.CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE = 1
    answers = [search(api["eve"], "q=ben").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = search(api["eve"], "q=ben")
    assert refused.json()["code"] == "rate_limited"
    assert refused["Retry-After"] == "1"
    assert search(api["bob"], "q=ben").status_code == 200, "each user has their own bucket"


def test_searching_needs_a_signed_in_user(client, directory):
    assert client.get("/api/users?q=ben").status_code == 401
