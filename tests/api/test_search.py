"""GET /api/search: words, "phrases" and -exclusions over the caller's rooms, newest first.

What a hit shows (an escaped highlight with only <mark>), its filters and pages,
who can never find what (rooms left, removed from or never joined; deleted
messages), that an edit re-indexes, that the search is rate limited and refuses
bad input, and that PostgreSQL answers from the GIN index over 50,000 messages.
"""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from chat import services
from chat.models import Message, Room
from search import index
from search.selectors import search_queryset

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("alice", "bob", "eve")}


@pytest.fixture
def api(people, bearer):
    return {name: bearer(user) for name, user in people.items()}


@pytest.fixture
def team(people):
    """`team`, a private room of alice and bob."""
    room = services.room_create(creator=people["alice"], name="Team", slug="team", kind="private")
    services.room_invite(by=people["alice"], room=room, username="bob")
    return room


def say(user, room: Room, body: str) -> Message:
    message, _ = services.message_post(user=user, room=room, body=body)
    return message


def found(client, q: str, **params) -> list[str]:
    response = client.get("/api/search", {"q": q, **params})
    assert response.status_code == 200, response.json()
    return [hit["body"] for hit in response.json()["messages"]]


def test_words_must_all_match_and_hits_come_newest_first(api, people, team):
    say(people["alice"], team, "The deploy is on Friday")
    say(people["bob"], team, "Friday lunch?")
    say(people["bob"], team, "deploy went fine, Friday it is")
    assert found(api["alice"], "friday deploy") == [
        "deploy went fine, Friday it is",
        "The deploy is on Friday",
    ]
    assert found(api["alice"], "FRIDAY") == [
        "deploy went fine, Friday it is",
        "Friday lunch?",
        "The deploy is on Friday",
    ]
    assert found(api["alice"], "nowhere") == []


def test_a_hit_is_the_message_object_plus_a_highlight(api, people, team):
    message = say(people["bob"], team, "Ship the **release** today")
    response = api["alice"].get("/api/search", {"q": "release"})
    assert response.json() == {
        "messages": [
            {
                "id": message.id,
                "room": "team",
                "author": {
                    "username": "bob",
                    "display_name": "bob",
                    "avatar_url": "/accounts/avatar/bob.svg",
                },
                "body": "Ship the **release** today",
                "html": message.html,
                "created_at": response.json()["messages"][0]["created_at"],
                "edited_at": None,
                "client_id": None,
                "seq": message.seq,
                "thread": None,
                "reply_count": 0,
                "last_reply_at": None,
                "reactions": [],
                "pinned": False,
                "mentions": [],
                "attachments": [],
                "highlight": "Ship the **<mark>release</mark>** today",
            }
        ],
        "has_more": False,
    }


def test_quoted_phrases_match_the_words_in_that_order(api, people, team):
    say(people["alice"], team, "the release notes are ready")
    say(people["alice"], team, "notes about the release")
    assert found(api["bob"], '"release notes"') == ["the release notes are ready"]


def test_excluded_words_drop_their_messages(api, people, team):
    say(people["alice"], team, "budget for the offsite")
    say(people["alice"], team, "budget draft, confidential")
    assert found(api["bob"], "budget -confidential") == ["budget for the offsite"]


def test_room_and_author_filters(api, people, team, default_room):
    say(people["alice"], team, "standup notes")
    say(people["bob"], team, "my standup")
    say(people["bob"], default_room, "standup in general")
    assert found(api["alice"], "standup", room="team") == ["my standup", "standup notes"]
    assert found(api["alice"], "standup", author="bob") == ["standup in general", "my standup"]
    assert found(api["alice"], "standup", room="team", author="bob") == ["my standup"]
    assert found(api["alice"], "standup", author="nobody") == []


def test_a_room_filter_on_a_room_i_am_not_in_is_a_404_like_a_missing_room(
    api, people, team, default_room
):
    say(people["alice"], team, "secret plan")
    services.room_create(creator=people["bob"], name="Open", slug="open", kind="public")
    for slug in ("team", "open", "no-such-room"):
        response = api["eve"].get("/api/search", {"q": "plan", "room": slug})
        assert response.status_code == 404
        assert response.json() == {"detail": "No such room.", "code": "not_found"}


def test_pages_go_back_with_before_and_has_more(api, people, team):
    ids = [say(people["alice"], team, f"report number {n}").id for n in range(5)]
    first = api["bob"].get("/api/search", {"q": "report", "limit": 2}).json()
    assert [hit["id"] for hit in first["messages"]] == [ids[4], ids[3]]
    assert first["has_more"] is True
    second = api["bob"].get("/api/search", {"q": "report", "limit": 2, "before": ids[3]}).json()
    assert [hit["id"] for hit in second["messages"]] == [ids[2], ids[1]]
    assert second["has_more"] is True
    last = api["bob"].get("/api/search", {"q": "report", "limit": 2, "before": ids[1]}).json()
    assert [hit["id"] for hit in last["messages"]] == [ids[0]]
    assert last["has_more"] is False


def test_a_page_spanning_the_newest_window_and_older_messages_is_whole_and_in_order(
    api, people, team, settings
):
    """The newest CHAT_SEARCH_RECENT_WINDOW messages are searched first, the older
    ones only when the page is not full: together they read as one newest-first list."""
    settings.CHAT_SEARCH_RECENT_WINDOW = 4
    old = [say(people["alice"], team, f"outage report {n}").id for n in range(3)]
    for n in range(6):
        say(people["alice"], team, f"lunch plans {n}")
    recent = say(people["alice"], team, "outage over").id
    page = api["bob"].get("/api/search", {"q": "outage", "limit": 3}).json()
    assert [hit["id"] for hit in page["messages"]] == [recent, old[2], old[1]]
    assert page["has_more"] is True
    rest = api["bob"].get("/api/search", {"q": "outage", "before": old[1]}).json()
    assert ([hit["id"] for hit in rest["messages"]], rest["has_more"]) == ([old[0]], False)
    assert found(api["bob"], "lunch -plans") == []


def test_the_page_size_defaults_to_20_and_stops_at_50(api, people, team):
    for n in range(51):
        Message.objects.create(room=team, author=people["alice"], body=f"log {n}", html="")
    assert len(found(api["bob"], "log")) == 20
    assert len(found(api["bob"], "log", limit=500)) == 50


def test_the_highlight_is_escaped_text_with_only_mark_tags(api, people, team):
    say(people["bob"], team, '<script>alert("x")</script> <b>exploit</b> & <mark>fake</mark>')
    [hit] = api["alice"].get("/api/search", {"q": "exploit"}).json()["messages"]
    highlight = hit["highlight"]
    assert "<script" not in highlight and "<b>" not in highlight
    assert "&lt;script&gt;" in highlight
    assert "<mark>exploit</mark>" in highlight
    assert "&amp;" in highlight
    assert highlight.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_a_private_room_i_was_never_in_yields_nothing(api, people, team):
    say(people["alice"], team, "salary figures")
    assert found(api["eve"], "salary") == []
    assert found(api["alice"], "salary") == ["salary figures"]


def test_a_room_i_left_yields_nothing_even_a_public_one(api, people):
    open_room = services.room_create(creator=people["alice"], name="Open", slug="open")
    services.room_join(user=people["bob"], room=open_room)
    say(people["alice"], open_room, "picnic on saturday")
    assert found(api["bob"], "picnic") == ["picnic on saturday"]
    services.room_leave(user=people["bob"], room=open_room)
    assert found(api["bob"], "picnic") == []
    assert api["bob"].get("/api/search", {"q": "picnic", "room": "open"}).status_code == 404


def test_a_room_i_was_removed_from_yields_nothing(api, people, team):
    say(people["alice"], team, "reorganisation plans")
    assert found(api["bob"], "reorganisation") == ["reorganisation plans"]
    services.member_remove(by=people["alice"], room=team, username="bob")
    assert found(api["bob"], "reorganisation") == []


def test_deleted_messages_never_match(api, people, team):
    message = say(people["alice"], team, "wrong channel password hunter2")
    services.message_delete(user=people["alice"], message_id=message.id)
    assert found(api["bob"], "hunter2") == []


def test_an_edit_re_indexes_the_message(api, people, team):
    message = say(people["alice"], team, "meeting on tuesday")
    services.message_edit(user=people["alice"], message_id=message.id, body="meeting on thursday")
    assert found(api["bob"], "tuesday") == []
    assert found(api["bob"], "thursday") == ["meeting on thursday"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"q": "ok", "room": "te\x00am"},
        {"q": "ok", "limit": 0},
        {"q": "ok", "limit": "many"},
        {"q": "ok", "before": "newest"},
        {},
    ],
)
def test_bad_input_is_a_422_with_a_detail(api, params):
    response = api["alice"].get("/api/search", params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_searching_too_fast_is_a_429(api, settings):
    settings.CHAT_RATE_LIMIT_SEARCH_BURST = 2
    settings.CHAT_RATE_LIMIT_SEARCH_PER_MINUTE = 0.01
    assert api["alice"].get("/api/search", {"q": "a"}).status_code == 200
    assert api["alice"].get("/api/search", {"q": "a"}).status_code == 200
    response = api["alice"].get("/api/search", {"q": "a"})
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_search_needs_credentials(client):
    assert client.get("/api/search", {"q": "a"}).status_code == 401


def test_the_simple_configuration_matches_any_language_and_stop_words(api, people, team):
    say(people["alice"], team, "Das Treffen ist morgen")
    say(people["alice"], team, "to be or not to be")
    assert found(api["bob"], "treffen") == ["Das Treffen ist morgen"]
    assert found(api["bob"], '"not to be"') == ["to be or not to be"]


def test_postgres_answers_from_the_gin_index_over_50000_messages(people, team):
    """The exact query the API runs, EXPLAINed over 50,000 messages: a Bitmap Index Scan on
    the GIN index, never a sequential scan of chat_message."""
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chat_message (room_id, author_id, body, html, created, deleted, client_id)"
            " SELECT %s, %s, 'routine message number ' || n || ' about ' ||"
            " (ARRAY['lunch','builds','tickets','coffee'])[1 + n %% 4] ||"
            " CASE WHEN n %% 1001 = 0 THEN ' kubernetes' ELSE '' END,"
            " '', now(), n %% 97 = 0, '' FROM generate_series(1, 50000) AS n",
            [team.pk, people["alice"].pk],
        )
        cursor.execute("ANALYZE chat_message")
        cursor.execute("ANALYZE chat_membership")
    assert Message.objects.count() >= 50000
    queryset = search_queryset(user=people["bob"], q="kubernetes -lunch")
    plan = queryset[:21].explain()
    assert f"Bitmap Index Scan on {index.INDEX}" in plan, plan
    assert "Seq Scan on chat_message" not in plan, plan
    hits = list(queryset[:21])
    assert len(hits) == 21
    assert all("kubernetes" in hit.body and "lunch" not in hit.body for hit in hits)


def test_the_english_configuration_stems_words_after_a_reindex(api, people, team, settings):
    say(people["alice"], team, "We deployed the builds")
    assert found(api["bob"], "deploying") == []
    settings.CHAT_SEARCH_CONFIG = "english"
    with connection.cursor() as cursor:  # the test's transaction rolls the rebuild back
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("search_reindex", stdout=io.StringIO())
    assert found(api["bob"], "deploying") == ["We deployed the builds"]
    [hit] = api["bob"].get("/api/search", {"q": "build"}).json()["messages"]
    assert hit["highlight"] == "We deployed the <mark>builds</mark>"


@pytest.mark.parametrize("config", ["klingon", "simple; DROP TABLE chat_message"])
def test_reindexing_with_an_unknown_configuration_is_refused_and_changes_nothing(
    api, people, team, settings, config
):
    say(people["alice"], team, "still searchable")
    settings.CHAT_SEARCH_CONFIG = config
    with pytest.raises(CommandError):
        call_command("search_reindex", stdout=io.StringIO())
    settings.CHAT_SEARCH_CONFIG = "simple"
    assert found(api["bob"], "searchable") == ["still searchable"]


def test_or_finds_either_word_and_a_query_of_punctuation_finds_nothing(api, people, team):
    say(people["alice"], team, "tea at four")
    say(people["alice"], team, "coffee at five")
    say(people["alice"], team, "water at six")
    assert found(api["bob"], "tea or coffee") == ["coffee at five", "tea at four"]
    assert found(api["bob"], '!!! "" - :') == []
