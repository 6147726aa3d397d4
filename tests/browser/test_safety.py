"""What a user types is shown, never run."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ATTACKS = [
    "<script>alert('script tag')</script>",
    "<img src=x onerror=\"alert('onerror');window.__pwned=1\">",
    "<a href=\"javascript:alert('href')\">click me</a>",
    "[markdown link](javascript:alert('markdown'))",
    "<javascript:alert('autolink')>",
    "<svg onload=alert('svg')></svg><iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<b onmouseover=alert('hover')>hover me</b> <details open ontoggle=alert('toggle')>x</details>",
]


def test_script_tags_event_handlers_and_javascript_links_render_as_text(
    replicas, make_person, open_chat, page_watch
):
    make_person("mallory")
    make_person("alice")
    one, two = replicas
    mallory = open_chat("mallory", one)
    alice = open_chat("alice", two)

    for attack in ATTACKS:
        mallory.send(attack)
    mallory.send("[a fine link](https://example.com/)")
    alice.expect_message("a fine link", author="mallory")
    mallory.expect_message("a fine link")

    for person in (alice, mallory):
        page = person.page
        bodies = page.locator("#message-list .msg-body")
        expect(bodies).to_have_count(len(ATTACKS) + 1)
        # What was typed is visible as text...
        expect(person.message("alert('script tag')")).to_contain_text("<script>")
        expect(person.message("onerror")).to_contain_text("<img src=x onerror=")
        expect(person.message("markdown link")).to_contain_text("(javascript:alert('markdown'))")
        # ...and nothing of it became live markup.
        live = bodies.locator(
            "script, img, iframe, svg, details, [onerror], [onload], [onmouseover]"
        )
        expect(live).to_have_count(0)
        expect(bodies.locator("a[href^='javascript' i]")).to_have_count(0)
        expect(bodies.locator("a")).to_have_count(1)
        expect(bodies.locator("a")).to_have_attribute("href", "https://example.com/")
        # Poking at it does nothing either.
        person.message("hover me").hover()
        person.message("click me").click()
        assert page.evaluate("window.__pwned") is None

    page_watch.pages["alice"].reload()
    alice.expect_online()
    alice.expect_message("a fine link")
    expect(
        alice.page.locator("#message-list .msg-body").locator("script, img, iframe")
    ).to_have_count(0)
    assert page_watch.dialogs == []  # page.on("dialog") never fired


def test_names_and_topics_are_text_too(replicas, make_person, open_chat, in_thread):
    from accounts.models import Profile
    from chat.services import room_create

    creator = make_person("mallory")
    make_person("alice")

    def booby_trap():
        Profile.objects.filter(user=creator).update(
            display_name="<img src=x onerror=alert('name')>"
        )
        room_create(
            creator=creator,
            name="<script>alert('room')</script>",
            slug="trap",
            topic="<img src=x onerror=alert('topic')>",
        )

    in_thread(booby_trap)
    (one, _) = replicas
    mallory = open_chat("mallory", one)
    mallory.send("hello")
    mallory.open_room("<script>alert('room')</script>")
    expect(mallory.page.locator("#room-topic")).to_have_text("<img src=x onerror=alert('topic')>")
    mallory.open_room("General")
    expect(mallory.expect_message("hello").locator(".msg-author")).to_have_text(
        re.compile("onerror")
    )
    expect(mallory.page.locator("#app img:not(.avatar)")).to_have_count(0)
    expect(mallory.page.locator("#app script")).to_have_count(0)


def test_a_display_name_copied_from_someone_else_shows_who_really_wrote(
    replicas, make_person, open_chat, in_thread
):
    from accounts.models import Profile

    make_person("alice")
    mallory_user = make_person("mallory")
    in_thread(lambda: Profile.objects.filter(user=mallory_user).update(display_name="alice"))
    one, two = replicas
    mallory = open_chat("mallory", one)
    alice = open_chat("alice", two)
    mallory.send("send me your password")
    alice.send("who is this?")

    forged = alice.expect_message("send me your password", author="alice")
    expect(forged.locator(".msg-username")).to_have_text("@mallory")
    expect(forged.locator(".msg-author")).to_have_attribute("title", "@mallory")
    real = alice.expect_message("who is this?", author="alice")
    expect(real.locator(".msg-username")).to_have_count(0)  # the name is the username
    expect(real.locator(".msg-author")).to_have_attribute("title", "@alice")
