"""Who may call the API: bearer tokens, browser sessions with CSRF, and the tokens themselves."""

import pytest

from accounts.models import ApiToken

pytestmark = [pytest.mark.django_db]

NEW_ROOM = {"name": "Lab", "slug": "lab"}


def test_without_credentials_every_route_answers_401_in_json(client):
    for method, path in [("get", "/api/me"), ("get", "/api/rooms"), ("post", "/api/rooms")]:
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.json() == {"detail": "Authentication required."}
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_token_identifies_the_user_and_needs_no_csrf(make_user, bearer):
    api = bearer(make_user("alice"))
    me = api.get("/api/me").json()
    assert (me["username"], me["email"]) == ("alice", "alice@example.com")
    assert api.post("/api/rooms", NEW_ROOM).status_code == 201


def test_a_wrong_bearer_token_is_refused_even_alongside_a_valid_session(make_user, client):
    client.force_login(make_user("alice"))
    response = client.get("/api/me", headers={"Authorization": "Bearer chat_not-a-token"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_a_session_reads_freely_but_writes_only_with_the_csrf_token(make_user, session, csrf_token):
    browser = session(make_user("alice"))
    assert browser.get("/api/me").json()["username"] == "alice"

    refused = browser.post("/api/rooms", NEW_ROOM)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    accepted = browser.post("/api/rooms", NEW_ROOM, headers={"X-CSRFToken": csrf_token(browser)})
    assert accepted.status_code == 201


def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(
    make_user, session, csrf_token, client
):
    browser = session(make_user("alice"))
    headers = {"X-CSRFToken": csrf_token(browser)}
    created = browser.post("/api/tokens", {"name": "deploy bot"}, headers=headers)
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith(created.json()["prefix"])

    stored = ApiToken.objects.get(pk=created.json()["id"])
    assert raw not in (stored.digest, stored.prefix, stored.name)
    listed = browser.get("/api/tokens").json()
    assert [(t["id"], t["name"]) for t in listed] == [(stored.pk, "deploy bot")]
    assert "token" not in listed[0]

    as_bot = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/me", headers=as_bot).json()["username"] == "alice"
    assert browser.get("/api/tokens").json()[0]["last_used_at"] is not None

    assert browser.delete(f"/api/tokens/{stored.pk}", headers=headers).status_code == 204
    assert client.get("/api/me", headers=as_bot).status_code == 401
    again = browser.delete(f"/api/tokens/{stored.pk}", headers=headers)
    assert again.status_code == 404


def test_a_token_can_list_and_revoke_tokens_but_not_mint_new_ones(make_user, bearer, token_for):
    alice, bob = make_user("alice"), make_user("bob")
    api = bearer(alice)
    refused = api.post("/api/tokens", {"name": "another"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"

    token_for(bob)
    bobs = ApiToken.objects.get(user=bob)
    assert api.delete(f"/api/tokens/{bobs.pk}").status_code == 404, "someone else's token"
    assert ApiToken.objects.filter(pk=bobs.pk).exists()
    own = ApiToken.objects.filter(user=alice).get()
    assert [t["id"] for t in api.get("/api/tokens").json()] == [own.pk]
    assert api.delete(f"/api/tokens/{own.pk}").status_code == 204


def test_token_names_are_validated(make_user, session, csrf_token):
    browser = session(make_user("alice"))
    headers = {"X-CSRFToken": csrf_token(browser)}
    for name in ["", "   ", "x" * 81]:
        response = browser.post("/api/tokens", {"name": name}, headers=headers)
        assert response.status_code == 422, name
        assert response.json()["code"] == "invalid"
