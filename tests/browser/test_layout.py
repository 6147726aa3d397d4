"""How it looks: phone and desktop layouts, light and dark, with screenshots.

Screenshots go to tests/browser/artifacts/ on every run. With
UPDATE_SCREENSHOTS=1 the README's copies in docs/screenshots/ are refreshed too.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# WCAG AA for normal text.
MIN_CONTRAST = 4.5

CONTRAST_JS = """(selectors) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.body).backgroundColor) || { r: 255, g: 255, b: 255 };
  };
  const out = {};
  for (const selector of selectors) {
    const el = document.querySelector(selector);
    if (!el) { out[selector] = null; continue; }
    const fg = luminance(parse(getComputedStyle(el).color));
    const bg = luminance(background(el));
    out[selector] = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  }
  return out;
}"""

TEXT_TO_CHECK = [
    "#message-list .msg-body",
    "#message-list .msg-author",
    "#message-list .msg-meta time",
    "#sidebar a.room-link[aria-current] .room-name",
    "#sidebar a.room-link:not([aria-current]) .room-name",
    "#sidebar .sidebar-heading h2",
    "#room-topic",
    "#composer-hint",
    "#typing",
    ".day-sep",
]


def seed_conversation():
    from django.contrib.auth import get_user_model

    from accounts.models import Profile
    from chat.models import Room
    from chat.reactions import pin_set, reaction_set
    from chat.services import (
        direct_room_open,
        message_post,
        read_mark,
        room_create,
        room_invite,
        room_join,
    )

    users = {u.username: u for u in get_user_model().objects.all()}
    for username, name in [("alice", "Alice Martin"), ("bob", "Bob Chen"), ("carol", "Carol Diaz")]:
        Profile.objects.filter(user=users[username]).update(display_name=name)
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    general = Room.objects.get(slug="general")
    design = room_create(creator=carol, name="Design", slug="design", topic="Mockups and colours")
    ops = room_create(creator=bob, name="Ops", slug="ops", kind="private", topic="Deploys, on-call")
    room_join(user=alice, room=design)
    room_invite(by=bob, room=ops, username="alice")
    post = lambda user, room, body: message_post(user=user, room=room, body=body)  # noqa: E731
    post(carol, general, "Morning all! The new release is out.")
    post(
        bob,
        general,
        "Nice. Deploy notes:\n\n1. Run `make cluster`\n2. Watch the **replica** dashboards\n"
        "3. Ping the on-call room if anything looks off",
    )
    post(alice, general, "Thanks Bob. The settings I used:")
    post(alice, general, "```\nREDIS_URL=redis://cache:6379/0\nDJANGO_DEBUG=0\n```")
    post(
        carol,
        general,
        "> we restarted a replica mid-demo\n\nand *nobody* noticed. That is the point.",
    )
    shipping = post(
        bob, general, "Shipping it. Notes are in [the runbook](https://example.com/runbook)."
    )[0]
    # What a day of conversation leaves: a thread, reactions, a pin.
    notes = general.messages.get(body__startswith="Nice. Deploy notes")
    message_post(user=carol, room=general, body="Step 2 saved me yesterday", thread=notes.id)
    message_post(user=alice, room=general, body="Same here, thanks @bob", thread=notes.id)
    for user, emoji in ((alice, "🎉"), (carol, "🎉"), (alice, "🚀")):
        reaction_set(user=user, message_id=shipping.id, emoji=emoji, on=True)
    pin_set(user=carol, message_id=notes.id, on=True)
    last = post(alice, design, "New palette is up for review")[0]
    for room in (general, design):
        read_mark(user=alice, room=room, message_id=room.last_message_id or last.id)
    post(carol, design, "Love the dark mode contrast")
    post(carol, design, "Can we try a warmer accent?")
    post(bob, ops, "Replica 3 is back after the kernel update")
    dm, _ = direct_room_open(user=bob, username="alice")
    post(bob, dm, "Lunch after the deploy?")


def assert_readable(page, scheme: str) -> None:
    ratios = page.evaluate(CONTRAST_JS, TEXT_TO_CHECK)
    low = {sel: round(r, 2) for sel, r in ratios.items() if r is not None and r < MIN_CONTRAST}
    assert not low, f"text below {MIN_CONTRAST}:1 contrast in {scheme} mode: {low}"
    assert all(r is not None for r in ratios.values()), ratios


def save(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_phone_and_desktop_layouts_in_light_and_dark(replicas, make_person, open_chat, in_thread):
    for username in ("alice", "bob", "carol"):
        make_person(username)
    in_thread(seed_conversation)
    one, two = replicas
    carol = open_chat("carol", two)
    shots = {}

    for scheme in ("light", "dark"):
        desktop = open_chat("alice", one, viewport=DESKTOP, color_scheme=scheme)
        page = desktop.page
        desktop.expect_message("Shipping it.")
        expect(page.locator("#sidebar")).to_be_visible()
        expect(page.locator("#members")).to_be_visible()
        expect(page.get_by_role("button", name="Show rooms")).to_be_hidden()
        expect(desktop.room_link("Design").locator(".unread-badge")).to_have_text("2")
        expect(page.locator("#dm-list")).to_contain_text("Bob Chen")
        expect(desktop.member("Carol Diaz")).to_have_class(re.compile(r"\bis-online\b"))
        expect(page.locator("#message-list pre code")).to_contain_text("REDIS_URL")
        # Typing is announced at most once per 3 s (composer.js TYPING_EVERY_MS), and
        # the previous pass typed moments ago: type for longer than that window.
        carol.composer.press_sequentially("On it", delay=800)
        expect(desktop.typing_line).to_have_text("Carol Diaz is typing…")
        assert_readable(page, scheme)
        shots[f"desktop-{scheme}"] = save(page, f"desktop-{scheme}")
        if scheme == "light":
            page.get_by_role("button", name="2 replies: open the thread").click()
            expect(page.locator("#thread-panel")).to_contain_text("Same here, thanks")
            shots["desktop-thread-light"] = save(page, "desktop-thread-light")
        carol.composer.fill("")
        page.context.close()

        phone = open_chat(
            "alice", one, viewport=PHONE, color_scheme=scheme, is_mobile=True, has_touch=True
        )
        page = phone.page
        phone.expect_message("Shipping it.")
        # One column: the room fills the screen; rooms and members are a tap away.
        expect(page.locator("#sidebar")).to_be_hidden()
        expect(page.locator("#members")).to_be_hidden()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
        for control in (phone.composer, page.get_by_role("button", name="Send")):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            assert box["y"] + box["height"] <= PHONE["height"]
        assert_readable(page, scheme)
        shots[f"phone-{scheme}"] = save(page, f"phone-{scheme}")

        page.get_by_role("button", name="Show rooms").tap()
        expect(page.locator("#sidebar")).to_be_visible()
        expect(page.get_by_role("button", name="Hide rooms")).to_have_attribute(
            "aria-expanded", "true"
        )
        shots[f"phone-rooms-{scheme}"] = save(page, f"phone-rooms-{scheme}")
        phone.room_link("Ops").tap()
        expect(phone.room_title).to_have_text("Ops")
        expect(page.locator("#sidebar")).to_be_hidden()
        page.get_by_role("button", name="Show members").tap()
        expect(page.locator("#members")).to_be_visible()
        expect(phone.member("Bob Chen")).to_be_visible()
        page.context.close()

    # An owner's view: carol owns Design, so she has its settings and Invite;
    # on a phone they are in the Room actions menu.
    carol.open_room("Design")
    expect(carol.page.get_by_role("button", name="Room settings")).to_be_visible()
    expect(carol.page.get_by_role("button", name="Invite", exact=True)).to_be_visible()
    shots["desktop-owner-light"] = save(carol.page, "desktop-owner-light")
    owner_phone = open_chat(
        "carol", two, viewport=PHONE, color_scheme="dark", is_mobile=True, has_touch=True
    )
    owner_phone.page.goto("/#/r/design")
    expect(owner_phone.room_title).to_have_text("Design")
    owner_phone.expect_message("Can we try a warmer accent?")
    owner_phone.page.get_by_role("button", name="Room actions").tap()
    expect(owner_phone.page.get_by_role("button", name="Room settings")).to_be_visible()
    shots["phone-owner-menu-dark"] = save(owner_phone.page, "phone-owner-menu-dark")

    for path in shots.values():
        assert path.stat().st_size > 10_000, f"{path} looks empty"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in (
            "desktop-light",
            "desktop-thread-light",
            "desktop-dark",
            "desktop-owner-light",
            "phone-light",
            "phone-dark",
            "phone-rooms-dark",
            "phone-owner-menu-dark",
        ):
            shutil.copyfile(shots[name], DOCS_SCREENSHOTS / f"{name}.png")
