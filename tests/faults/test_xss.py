"""An XSS corpus in every field a user controls: rendered, served and administered as text.

Message bodies go through the Markdown renderer and sanitiser; names, topics
and display names through the templates (the app shell, the profile page, the
generated avatar) and the Django admin. A payload may show up as text, never
as markup: no injected element, no event handler, no javascript: link, no
script. Every page also forbids inline script with its Content-Security-Policy,
so a payload that slipped through would still not run. (The browser tests in
tests/browser/test_safety.py check the client's rendering in Chromium.)
"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.services import profile_update
from chat import services
from chat.models import Membership, Message, Room

pytestmark = [pytest.mark.django_db]

# Each payload carries its own marker, so a page can be searched for what it did with it.
CORPUS = [
    '<script>alert("xss01")</script>',
    '<img src=x onerror=alert("xss02")>',
    '"><svg onload=alert("xss03")>',
    "'><iframe src=javascript:alert('xss04')></iframe>",
    "<a href=\"javascript:alert('xss05')\">xss05</a>",
    '[xss06](javascript:alert("xss06"))',
    '</textarea><script>alert("xss07")</script>',
    '</script><script>alert("xss08")</script>',
    "<details open ontoggle=alert('xss09')>x</details>",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("xss10")>',
    '{{ "xss11" }}{% debug %}<b onmouseover=alert("xss11")>b</b>',
    "<a href=\"&#106;avascript:alert('xss12')\">xss12</a>",
    "<div style=\"background:url('javascript:alert(xss13)')\">xss13</div>",
    "<object data=\"data:text/html,<script>alert('xss14')</script>\"></object>",
    "![xss15](x\" onerror=\"alert('xss15'))",
]
MARKERS = [re.search(r"xss\d\d", payload).group() for payload in CORPUS]
# What sanitised message HTML may contain.
SAFE_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "del",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "s", "span", "table", "thead", "tbody", "tr",
    "th", "td", "img",
}  # fmt: skip


class Markup(HTMLParser):
    """Every element with its attributes, and the text inside <script> elements."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def injections(html: str) -> list[str]:
    """What a payload managed to turn into markup on this page."""
    markup = Markup(html)
    found = []
    for tag, attrs in markup.elements:
        for name, value in attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}={value!r}>")
            if re.sub(r"\s", "", value).lower().startswith(("javascript:", "data:text/html")):
                found.append(f"<{tag} {name}={value!r}>")
            if any(marker in value for marker in MARKERS) and name == "style":
                found.append(f"<{tag} {name}={value!r}>")
    for script in markup.scripts:
        # json_script's data (an object) is not code; anything else with a payload is.
        if any(marker in script for marker in MARKERS) and not script.lstrip().startswith("{"):
            found.append(f"<script>{script[:80]}")
    return found


def assert_no_inline_script_allowed(response) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src, f"no script policy on {response.request['PATH_INFO']}: {policy!r}"
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src


@pytest.fixture
def mallory(make_user, settings):
    """A user who put the corpus everywhere she could: rooms, topics, messages, her name."""
    settings.CHAT_RATE_LIMIT_ENABLED = False
    user = make_user("mallory")
    for n, payload in enumerate(CORPUS):
        room = services.room_create(
            creator=user, name=payload[:100], slug=f"xss-{n}", topic=f"topic {payload}"[:250]
        )
        services.message_post(user=user, room=room, body=payload, client_id=f"x{n}")
    profile_update(user=user, display_name=CORPUS[2][:80])
    return user


@pytest.fixture
def operator(make_user):
    return make_user("operator", is_staff=True, is_superuser=True)


def test_message_bodies_are_sanitised_to_harmless_markup(mallory):
    for message in Message.objects.filter(author=mallory):
        assert injections(message.html) == [], message.body
        assert {tag for tag, _ in Markup(message.html).elements} <= SAFE_TAGS, message.html


def test_pages_showing_names_topics_and_display_names_escape_them(mallory):
    browser = Client()
    browser.force_login(mallory)
    for path in ["/", "/accounts/profile/", "/accounts/avatar/mallory.svg"]:
        response = browser.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert injections(page) == [], path
        assert not any(payload in page for payload in CORPUS), f"a raw payload on {path}"
        assert_no_inline_script_allowed(response)


def test_the_admin_shows_every_payload_as_text(mallory, operator):
    admin = Client()
    admin.force_login(operator)
    room = Room.objects.get(slug="xss-3")
    message = Message.objects.filter(author=mallory).first()
    membership = Membership.objects.filter(user=mallory).first()
    pages = [
        "/admin/chat/room/",
        f"/admin/chat/room/{room.pk}/change/",
        "/admin/chat/message/",
        f"/admin/chat/message/{message.pk}/change/",
        "/admin/chat/membership/",
        f"/admin/chat/membership/{membership.pk}/change/",
        "/admin/accounts/profile/",
        f"/admin/accounts/profile/{mallory.profile.pk}/change/",
        f"/admin/auth/user/{mallory.pk}/change/",
        "/admin/chat/message/?q=%3Cscript%3Ealert(%22xss01%22)%3C/script%3E",
    ]
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert injections(page) == [], path
        assert not any(payload in page for payload in CORPUS if len(payload) > 20), path
        assert_no_inline_script_allowed(response)


def test_sign_in_and_sign_up_pages_forbid_inline_script(client):
    for path in ["/accounts/login/", "/accounts/signup/", "/admin/login/"]:
        response = client.get(path, follow=True)  # /admin/login/ sends to /accounts/login/
        assert response.status_code == 200, path
        assert_no_inline_script_allowed(response)
