"""Session-authenticated JSON from another site is refused: no CSRF token, or a foreign Origin.

A browser sends the session cookie with any request a page makes, so the API
must not act on it unless the request also proves it came from our pages:
the CSRF token (which another site cannot read) and a same-site Origin.
Bearer tokens are not cookies and need neither (tests/api/test_auth.py).
"""

import pytest
from django.test import Client

from accounts.models import ApiToken
from chat.models import Message

pytestmark = [pytest.mark.django_db]

FOREIGN_ORIGINS = [
    "http://evil.example",
    "null",
    "http://testserver.evil.example",
    "https://testserver",
    "http://testserver:8080",
]


@pytest.fixture
def browser(make_user):
    """alice's signed-in browser, checking CSRF as a real one does, with its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.user = make_user("alice")
    client.force_login(client.user)
    assert client.get("/").status_code == 200
    client.csrf = client.cookies["csrftoken"].value
    return client


def post_message(browser: Client, body: str, headers: dict[str, str]):
    return browser.post(
        "/api/rooms/general/messages",
        {"body": body},
        content_type="application/json",
        headers=headers,
    )


def test_a_session_post_without_the_csrf_token_is_refused(browser):
    response = post_message(browser, "no token", {"Origin": "http://testserver"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_session_post_from_a_foreign_origin_is_refused_even_with_the_token(browser, origin):
    headers = {"Origin": origin, "X-CSRFToken": browser.csrf}
    response = post_message(browser, "from elsewhere", headers)
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_a_session_delete_from_a_foreign_origin_is_refused(browser, token_for):
    token_for(browser.user)
    token = ApiToken.objects.get()
    response = browser.delete(
        f"/api/tokens/{token.pk}",
        headers={"Origin": "http://evil.example", "X-CSRFToken": browser.csrf},
    )
    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_same_request_from_our_own_pages_is_accepted(browser):
    headers = {"Origin": "http://testserver", "X-CSRFToken": browser.csrf}
    response = post_message(browser, "from home", headers)
    assert response.status_code == 201
    assert Message.objects.get().body == "from home"
