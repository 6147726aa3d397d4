"""The interactive API docs work in Chromium under the strict Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_runs_under_the_policy_with_nothing_refused(start_replicas, new_page):
    (replica,) = start_replicas(1)
    page = new_page(replica.http_url, "docs")
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    response = page.goto("/api/docs")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible()
    operation = page.locator(".opblock-get").first
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.click()
    expect(page.locator(".live-responses-table .response-col_status").nth(1)).to_have_text(
        "401"
    )  # signed out: the API answered the request Swagger UI made
    refused = [line for line in console if "Content Security Policy" in line]
    assert refused == []
