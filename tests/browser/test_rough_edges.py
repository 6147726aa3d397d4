"""The rough edges a new team tripped on (issue 17): the phone header, actions
shown only to those who may use them, confirmations, long messages, join
lines, drafts, shortcuts, the quick switcher and a dropped network."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Quarterly planning and roadmap"


def test_on_a_phone_the_room_actions_fold_into_one_menu_and_the_name_stays_readable(
    start_replicas, make_person, open_chat, in_thread
):
    from chat.services import room_create

    owner = make_person("olga")
    in_thread(room_create, creator=owner, name=LONG_NAME, slug="planning", kind="private")
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica, viewport=PHONE, is_mobile=True, has_touch=True)
    page = olga.page
    page.goto("/#/r/planning")
    expect(olga.room_title).to_have_text(LONG_NAME)

    menu = page.get_by_role("button", name="Room actions")
    expect(menu).to_be_visible()
    for action in ("Room settings", "Invite", "Leave"):
        expect(page.get_by_role("button", name=action, exact=True)).to_be_hidden()
    width = olga.room_title.locator(".room-title-text").bounding_box()["width"]
    assert width >= 120, f"the room name gets {width:.0f} px at {PHONE['width']} px"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"

    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for action in ("Room settings", "Invite", "Leave"):
        button = page.get_by_role("button", name=action, exact=True)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], action
    page.get_by_role("button", name="Room settings").tap()
    expect(page.get_by_role("dialog", name=f"Settings of {LONG_NAME}")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")


def test_invite_shows_only_to_those_who_may_invite(
    start_replicas, make_person, open_chat, in_thread
):
    from chat.services import room_archive, room_create, room_invite

    owner = make_person("olga")
    make_person("bob")

    def make_rooms():
        ops = room_create(creator=owner, name="Ops", slug="ops", kind="private")
        old = room_create(creator=owner, name="Old", slug="old", kind="private")
        for room in (ops, old):
            room_invite(by=owner, room=room, username="bob")
        room_archive(by=owner, room=old)

    in_thread(make_rooms)
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    bob = open_chat("bob", replica)
    invite = re.compile(r"^Invite$")

    olga.open_room("Ops")
    expect(olga.member("bob")).to_be_visible()
    expect(olga.page.get_by_role("button", name=invite)).to_be_visible()  # the owner may
    olga.open_room("Old")
    expect(olga.page.get_by_role("button", name="Room settings")).to_be_visible()
    expect(olga.page.get_by_role("button", name=invite)).to_be_hidden()  # archived: nobody

    for room in ("Ops", "Old", "General"):
        bob.open_room(room)
        expect(bob.member("bob")).to_be_visible()  # the member list (and so the role) is in
        expect(bob.page.get_by_role("button", name=invite)).to_be_hidden()
        expect(bob.page.get_by_role("button", name="Room settings")).to_be_hidden()
    expect(bob.page.get_by_role("button", name="Leave")).to_be_visible()
