"""Every page, the interactive API docs included, sends the strict Content-Security-Policy."""

import pytest
from django.conf import settings
from django.test import Client

from tests.faults.test_xss import assert_no_inline_script_allowed

pytestmark = [pytest.mark.django_db]


def test_the_api_docs_are_not_exempt_from_the_policy():
    response = Client().get("/api/docs")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert_no_inline_script_allowed(response)
    # Swagger UI comes from ninja's own static files, which 'self' allows; no CDN.
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def test_app_pages_keep_the_strict_policy(make_user):
    client = Client()
    client.force_login(make_user("alice"))
    for path in ["/", "/accounts/profile/", "/accounts/login/", "/api/openapi.json"]:
        response = client.get(path)
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, path
        assert "script-src 'self';" in response["Content-Security-Policy"]
