"""No credential is ever logged: Authorization, Cookie, X-CSRFToken, API tokens.

With DEBUG on, django-ninja logs the whole Authorization header of any scheme
but Bearer ("Unexpected auth - 'Basic ...'"); project.logging.RedactCredentials
cleans every record before a handler writes it.
"""

import io
import json
import logging

import pytest
from django.test import Client

from project.logging import REDACTED, LineFormatter, RedactCredentials

pytestmark = [pytest.mark.django_db]

SECRET = "s3cret-Value-42"


def written(caplog) -> str:
    """Every captured record as the product writes it (text and JSON lines)."""
    lines = []
    for record in caplog.records:
        lines += [record.getMessage(), LineFormatter("text").format(record)]
        lines.append(LineFormatter("json").format(record))
    return "\n".join(lines)


@pytest.fixture
def console() -> io.StringIO:
    """What the root console handler writes while the test runs."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, LineFormatter)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.parametrize(
    "header", [f"Basic {SECRET}", f"Token {SECRET}", f"Digest {SECRET}", f"{SECRET}"]
)
def test_an_authorization_header_of_another_scheme_is_not_logged_under_debug(
    settings, caplog, console, header
):
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    response = Client().get("/api/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert any(r.name == "django" and "Unexpected auth" in r.getMessage() for r in caplog.records)
    assert SECRET not in written(caplog)
    assert SECRET not in console.getvalue()
    assert f"Unexpected auth - '{REDACTED}'" in console.getvalue()


def test_cookies_csrf_tokens_and_api_tokens_are_not_logged(
    settings, caplog, console, make_user, token_for
):
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    token = token_for(make_user("alice"))
    client = Client(HTTP_X_CSRFTOKEN=SECRET)
    client.cookies["sessionid"] = SECRET
    client.cookies["csrftoken"] = SECRET
    client.post("/api/tokens", {"name": "x"}, content_type="application/json")
    Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}x")
    logging.getLogger("chat.test").warning("client sent %s", f"Authorization: Bearer {token}")
    for text in (written(caplog), console.getvalue()):
        assert SECRET not in text
        assert token not in text


def make_record(msg: str, *args, name: str = "chat.test", **extra) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(
        name, logging.WARNING, __file__, 1, msg, args, None, extra=extra
    )


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        (make_record("headers %s", {"Authorization": SECRET, "Accept": "text/html"}), "text/html"),
        (make_record("meta %r", {"HTTP_COOKIE": f"sessionid={SECRET}"}), "meta"),
        (make_record("scope", headers=[(b"x-csrftoken", SECRET.encode()), (b"host", b"h")]), "h"),
        (make_record("asked", authorization=f"Basic {SECRET}"), "asked"),
        (make_record(f"Authorization: Bearer {SECRET}"), "Authorization"),
        (make_record(f"cookie header was 'csrftoken={SECRET}; theme=dark'"), "cookie header"),
        (make_record(f"token chat_{SECRET} refused"), "refused"),
        (
            make_record(
                f"SELECT * FROM \"django_session\" WHERE session_key = '{SECRET}'",
                name="django.db.backends",
                params=(SECRET,),
            ),
            "SELECT",
        ),
    ],
    ids=["dict-args", "meta", "asgi-headers", "extra", "text", "cookie", "api-token", "sql"],
)
def test_the_filter_redacts_credentials_wherever_they_sit(record, kept):
    assert RedactCredentials().filter(record) is True
    for style in ("text", "json"):
        line = LineFormatter(style).format(record)
        assert SECRET not in line and SECRET not in json.dumps(line)
        assert kept in line


def test_ordinary_lines_are_left_as_they_were():
    record = make_record("socket closed", user_id=7, code=1000)
    RedactCredentials().filter(record)
    assert (record.getMessage(), record.user_id, record.code) == ("socket closed", 7, 1000)
    record = make_record("API outage on %s %s: %r", "POST", "/api/tokens", "timeout")
    RedactCredentials().filter(record)
    assert record.getMessage() == "API outage on POST /api/tokens: 'timeout'"
