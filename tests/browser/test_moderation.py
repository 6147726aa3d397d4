"""Moderation in the browser: an owner removes a member and archives the room,
and the other members' pages follow live."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_removes_a_member_and_archives_the_room_live(
    start_replicas, make_person, open_chat, in_thread
):
    from chat.services import room_create, room_invite

    owner = make_person("olga")
    for username in ("bob", "carol"):
        make_person(username)

    def make_ops():
        room = room_create(creator=owner, name="Ops", slug="ops", kind="private")
        for username in ("bob", "carol"):
            room_invite(by=owner, room=room, username=username)

    in_thread(make_ops)
    (replica,) = start_replicas(1)
    olga, bob, carol = (open_chat(name, replica) for name in ("olga", "bob", "carol"))
    for person in (olga, bob, carol):
        person.open_room("Ops")

    # Members get no moderation controls.
    expect(carol.member("bob")).to_be_visible()
    expect(carol.page.get_by_role("button", name="Room settings")).to_be_hidden()
    expect(carol.page.get_by_role("button", name=re.compile("^Remove "))).to_have_count(0)

    # Removing asks first, inline; cancelling keeps the member.
    olga.member("bob").get_by_role("button", name="Remove bob from the room").click()
    confirm = olga.member("bob").get_by_role("group", name="Remove bob?")
    expect(confirm).to_contain_text("Remove bob from Ops?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(olga.member("bob")).to_be_visible()

    olga.remove_member("bob")
    expect(bob.room_link("Ops")).to_have_count(0)  # live, without a reload
    expect(bob.room_title).to_have_text("General")
    expect(bob.composer_error).to_have_text("You are no longer a member of that room.")
    expect(olga.member("bob")).to_have_count(0)
    expect(carol.member("bob")).to_have_count(0)

    settings = olga.room_settings()
    settings.get_by_label("Topic").fill("Frozen for the audit")
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_be_hidden()
    expect(carol.room_topic).to_have_text("Frozen for the audit")

    olga.room_settings().get_by_role("button", name="Archive room").click()
    olga.page.get_by_role("dialog", name="Archive Ops?").get_by_role(
        "button", name="Archive room"
    ).click()
    expect(carol.composer).to_be_disabled()
    expect(carol.page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    expect(carol.page.locator("#composer-note")).to_contain_text("This room is archived")
    expect(carol.room_topic).to_have_text("Frozen for the audit (archived: read only)")
    expect(olga.composer).to_be_disabled()

    olga.room_settings().get_by_role("button", name="Reopen room").click()
    expect(carol.composer).to_be_enabled()
    carol.send("back in business")
    olga.expect_message("back in business", author="carol")
