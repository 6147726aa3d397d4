"""The admin signs in through allauth's login, so its limits and lockout hold there too.

Django's own admin login form would check passwords with no rate limit and no
lockout. It now only sends people to /accounts/login/, whose failed-login
limits (ACCOUNT_RATE_LIMITS "5/5m/key") are counted in the cache, which with
REDIS_URL is the Redis every replica shares.
"""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = [pytest.mark.django_db]

TOO_MANY = "Too many failed login attempts"
ADMIN_LOGIN = "/admin/login/"
LOGIN = "/accounts/login/"


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def signed_in_to_admin(client: Client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200 and "Site administration" in response.content.decode()


def test_the_limits_are_counted_in_the_cache_every_replica_shares():
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def test_the_admin_login_form_checks_no_password(superuser):
    client = Client()
    for guess in range(15):
        response = client.post(
            f"{ADMIN_LOGIN}?next=/admin/", {"username": "root", "password": f"wrong-{guess}"}
        )
        assert response.status_code == 302
        assert response["Location"].startswith(f"{LOGIN}?next=")
    response = client.post(ADMIN_LOGIN, {"username": "root", "password": "pw-root"})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not signed_in_to_admin(client)


def test_after_the_failed_login_limit_the_right_password_no_longer_opens_the_admin(superuser):
    client = Client()
    for guess in range(5):
        page = client.post(LOGIN, {"login": "root", "password": f"wrong-{guess}"})
        assert page.status_code == 200 and TOO_MANY not in page.content.decode()

    for _ in range(10):
        page = client.post(LOGIN, {"login": "root", "password": "wrong-again"})
        assert page.status_code in (200, 429)
        assert page.status_code == 429 or TOO_MANY in page.content.decode()

    page = client.post(f"{LOGIN}?next=/admin/", {"login": "root", "password": "pw-root"})
    assert page.status_code in (200, 429) and (
        page.status_code == 429 or TOO_MANY in page.content.decode()
    )
    client.post(ADMIN_LOGIN, {"username": "root", "password": "pw-root"})
    assert not signed_in_to_admin(client)
    # A fresh client (another browser, another replica) gets no fresh attempts.
    other = Client()
    page = other.post(f"{LOGIN}?next=/admin/", {"login": "root", "password": "pw-root"})
    assert page.status_code != 302
    assert not signed_in_to_admin(other)


def test_staff_sign_in_through_allauth_and_reach_the_admin(superuser):
    client = Client()
    to_login = client.get("/admin/", follow=True)
    assert to_login.redirect_chain[-1][0] == f"{LOGIN}?next=%2Fadmin%2F"
    response = client.post(f"{LOGIN}?next=/admin/", {"login": "root", "password": "pw-root"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert signed_in_to_admin(client)


def test_a_signed_in_user_who_is_not_staff_does_not_get_into_the_admin(make_user):
    make_user("alice")
    client = Client()
    response = client.post(f"{LOGIN}?next=/admin/", {"login": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert client.get("/admin/login/?next=/admin/").status_code == 403
    assert client.get("/admin/", follow=True).status_code == 403
    assert not signed_in_to_admin(client)
    response = client.post(ADMIN_LOGIN, {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
