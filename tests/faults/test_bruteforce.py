"""Password guessing across replicas: allauth's limits live in the shared Redis cache.

An attacker who alternates between replicas gets no fresh attempts: after five
wrong passwords for one account (ACCOUNT_RATE_LIMITS "5/5m/key"), every replica
refuses that login, even with the right password, until the window passes.
"""

import pytest

from tests.support.live import WebSession, password_for_replicas

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOO_MANY = "Too many failed login attempts"


def attempt(browser: WebSession, password: str) -> tuple[int, str]:
    return browser.post("/accounts/login/", {"login": "alice", "password": password})


def test_failed_logins_are_counted_across_replicas_and_switching_does_not_reset_them(
    start_replicas, make_user
):
    password_for_replicas(make_user("alice"), "right-horse-9")
    one, two = start_replicas(2)
    browsers = [WebSession(one.http_url), WebSession(two.http_url)]

    for guess in range(5):
        status, page = attempt(browsers[guess % 2], f"wrong-{guess}")
        assert status == 200 and TOO_MANY not in page, f"guess {guess} was already refused"
        assert "not correct" in page

    for browser in browsers:
        status, page = attempt(browser, "wrong-again")
        assert TOO_MANY in page, page[:2000]
        status, page = attempt(browser, "right-horse-9")
        assert status != 302 and TOO_MANY in page
        assert not browser.cookie("sessionid")
