"""Mail names the product from SITE_NAME / SITE_DOMAIN, never "example.com"."""

import pytest
from django.contrib.sites.models import Site
from django.test import Client

from accounts.sites import sync_site

pytestmark = [pytest.mark.django_db]


def test_the_site_follows_the_settings_after_migrate():
    site = Site.objects.get_current()
    assert (site.name, site.domain) == ("Chat", "localhost:8000")


def test_a_password_reset_mail_says_the_sites_name(make_user, mailoutbox, settings):
    settings.SITE_NAME = "Acme Chat"
    settings.SITE_DOMAIN = "chat.acme.test"
    sync_site()  # what the post_migrate receiver does at start-up
    make_user("ana")
    response = Client().post("/accounts/password/reset/", {"email": "ana@example.com"})
    assert response.status_code == 302
    (mail,) = mailoutbox
    assert mail.subject.startswith("[Acme Chat] ")
    assert "example.com" not in mail.subject
    assert "Acme Chat" in mail.body or "chat.acme.test" in mail.body
    assert "example.com/" not in mail.body  # links point at this site, not example.com
