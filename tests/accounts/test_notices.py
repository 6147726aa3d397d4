"""Notices ("You have signed out.") are shown once, where they land, and never
pile up for a later page (issue 17: "Successfully signed in as ana." came back
after signing out, and on the profile page)."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db]


def page_text(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def test_signing_in_and_out_leaves_no_stale_notice(make_user):
    make_user("ana")
    client = Client()
    response = client.post("/accounts/login/", {"login": "ana", "password": "pw-ana"})
    assert response.status_code == 302
    app = page_text(client, response["Location"])
    assert "Successfully signed in" not in app
    assert "Successfully signed in" not in page_text(client, "/accounts/profile/")

    response = client.post("/accounts/logout/")
    login_page = page_text(client, response["Location"])
    assert "You have signed out." in login_page  # shown once, where it lands
    again = page_text(client, "/accounts/login/")
    assert "You have signed out." not in again
    assert "Successfully signed in" not in again


def test_a_notice_that_lands_in_the_chat_is_shown_there_and_consumed(default_room, mailoutbox):
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "ana",
            "email": "ana@example.com",
            "password1": "Lantern-harbour-91",
            "password2": "Lantern-harbour-91",
        },
    )
    assert response.status_code == 302
    app = page_text(client, response["Location"])  # the chat
    assert "Confirmation email sent to ana@example.com." in app
    assert "Successfully signed in" not in app
    assert "Confirmation email sent" not in page_text(client, "/accounts/profile/")


def test_changing_to_a_weak_password_is_refused(make_user):
    user = make_user("ana")
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "pw-ana", "password1": "ana12345", "password2": "ana12345"},
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "too short" in text and "too similar" in text
    user.refresh_from_db()
    assert user.check_password("pw-ana")
