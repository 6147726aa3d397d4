"""Moderation and people in the browser: a moderator deletes someone else's message,
the owner makes a member a moderator and hands the room over (the member's page
follows live), the people picker finds someone by display name, and a new display
name shows in other people's pages without a reload."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ops(make_person, in_thread):
    """`Ops`, a private room: olga owns it, mona moderates, bob and carol are members."""
    from chat.models import Membership
    from chat.services import room_create, room_invite

    people = {name: make_person(name) for name in ("olga", "mona", "bob", "carol")}

    def make():
        room = room_create(creator=people["olga"], name="Ops", slug="ops", kind="private")
        for username in ("mona", "bob", "carol"):
            room_invite(by=people["olga"], room=room, username=username)
        Membership.objects.filter(room=room, user=people["mona"]).update(role="moderator")

    in_thread(make)
    return people


def delete_button(message, author: str):
    return message.get_by_role("button", name=re.compile(f"^Delete {author}'s message"))


def test_a_moderator_deletes_someone_elses_message_after_confirming(ops, start_replicas, open_chat):
    one, two = start_replicas(2)
    mona, bob, carol = open_chat("mona", one), open_chat("bob", two), open_chat("carol", one)
    for person in (mona, bob, carol):
        person.open_room("Ops")
    bob.send("buy cheap watches here")
    carol.send("a fair question")
    spam = mona.expect_message("buy cheap watches here", author="bob")

    # A plain member gets no delete on others' messages.
    carols = bob.expect_message("a fair question", author="carol")
    carols.hover()
    expect(carols.get_by_role("button", name=re.compile("^Delete "))).to_have_count(0)

    # The moderator is asked first; cancelling keeps the message.
    spam.hover()
    delete_button(spam, "bob").click()
    confirm = spam.get_by_role("group", name="Confirm delete")
    expect(confirm).to_contain_text("Delete this message by bob for everyone?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(bob.message("buy cheap watches here")).to_have_count(1)

    spam.hover()
    delete_button(spam, "bob").click()
    spam.get_by_role("group", name="Confirm delete").get_by_role(
        "button", name="Delete", exact=True
    ).click()
    for person in (mona, bob, carol):
        expect(person.message("buy cheap watches here")).to_have_count(0)
    expect(carol.message("a fair question")).to_have_count(1)


def test_the_owner_promotes_a_member_and_hands_the_room_over_live(ops, start_replicas, open_chat):
    one, two = start_replicas(2)
    olga, bob = open_chat("olga", one), open_chat("bob", two)
    for person in (olga, bob):
        person.open_room("Ops")
    olga.send("the deploy is at five")
    expect(bob.page.get_by_role("button", name="Room settings")).to_be_hidden()
    # Only the owner gets the role menu; a member gets none.
    expect(bob.page.get_by_role("button", name=re.compile("^Change the role of "))).to_have_count(0)

    olga.member("bob").hover()
    olga.member("bob").get_by_role("button", name="Change the role of bob").click()
    menu = olga.member("bob").get_by_role("menu", name="Role of bob")
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    olga.page.keyboard.press("Escape")  # the keyboard closes it and returns to the button
    expect(menu).to_be_hidden()
    expect(olga.member("bob").get_by_role("button", name="Change the role of bob")).to_be_focused()
    olga.page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="Make moderator").click()

    # bob's page follows without a reload: his badge, and what he may do now.
    expect(bob.member("bob").locator(".member-role")).to_have_text("moderator")
    expect(olga.member("bob").locator(".member-role")).to_have_text("moderator")
    expect(bob.page.get_by_role("button", name="Room settings")).to_be_visible()
    expect(
        bob.member("carol").get_by_role("button", name="Remove carol from the room")
    ).to_be_visible()
    olgas = bob.expect_message("the deploy is at five", author="olga")
    olgas.hover()
    expect(delete_button(olgas, "olga")).to_be_visible()

    # Handing the room over asks first; the old owner becomes a moderator.
    olga.member("bob").hover()
    olga.member("bob").get_by_role("button", name="Change the role of bob").click()
    olga.member("bob").get_by_role("menuitem", name="Make owner").click()
    olga.page.get_by_role("dialog", name="Make bob the owner of Ops?").get_by_role(
        "button", name="Make owner"
    ).click()
    expect(bob.member("bob").locator(".member-role")).to_have_text("owner")
    expect(bob.member("olga").locator(".member-role")).to_have_text("moderator")
    expect(olga.member("olga").locator(".member-role")).to_have_text("moderator")
    # Roles are now bob's to change, no longer olga's.
    expect(olga.page.get_by_role("button", name=re.compile("^Change the role of "))).to_have_count(
        0
    )
    expect(bob.member("olga").get_by_role("button", name="Change the role of olga")).to_have_count(
        1
    )


def test_the_people_picker_finds_someone_by_display_name(
    ops, make_person, in_thread, start_replicas, open_chat
):
    from accounts.services import profile_update

    ben = make_person("bokoro")
    in_thread(profile_update, user=ben, display_name="Ben Okoro")
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    page = olga.page

    # A direct conversation, with the keyboard only.
    page.get_by_role("button", name="Start a direct conversation").click()
    dialog = page.get_by_role("dialog", name="Direct conversation")
    field = dialog.get_by_role("combobox", name="Name or username")
    field.press_sequentially("ben ok")
    option = dialog.get_by_role("option", name=re.compile("Ben Okoro"))
    expect(option).to_contain_text("@bokoro")
    field.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(dialog).to_be_hidden()
    expect(olga.room_title).to_have_text("Ben Okoro")
    expect(olga.room_link("Ben Okoro")).to_have_count(1)

    # Inviting to a room: pick from the list with the mouse.
    olga.open_room("Ops")
    page.get_by_role("button", name="Invite").click()
    invite = page.get_by_role("dialog", name="Invite someone to Ops")
    invite.get_by_role("combobox", name="Name or username").press_sequentially("okoro")
    invite.get_by_role("option", name=re.compile("Ben Okoro")).click()
    expect(invite.locator("#invite-ok")).to_have_text("Invited Ben Okoro (@bokoro).")
    expect(olga.member("Ben Okoro")).to_be_visible()

    # Someone nobody is called: said so, nothing is suggested.
    invite.get_by_role("combobox", name="Name or username").press_sequentially("zzzz")
    expect(invite.get_by_text("No one matches “zzzz”.")).to_be_visible()
    expect(invite.get_by_role("option")).to_have_count(0)


def test_a_new_display_name_appears_live_in_other_peoples_pages(
    ops, in_thread, start_replicas, open_chat
):
    from chat.services import direct_room_open

    in_thread(direct_room_open, user=ops["olga"], username="bob")
    one, two = start_replicas(2)
    olga, bob = open_chat("olga", one), open_chat("bob", two)
    for person in (olga, bob):
        person.open_room("Ops")
    bob.send("reporting for duty")
    olga.expect_message("reporting for duty", author="bob")
    expect(olga.room_link("bob")).to_have_count(1)

    profile = bob.page.context.new_page()
    profile.goto("/accounts/profile/")
    profile.get_by_label("Display name").fill("Bobby Tables")
    profile.get_by_role("button", name="Save profile").click()

    # In olga's page, without a reload: the message's author, the member list, the DM.
    message = olga.message("reporting for duty")
    expect(message.locator(".msg-author")).to_have_text("Bobby Tables")
    expect(message.locator(".msg-username")).to_have_text("@bob")
    expect(olga.member("Bobby Tables")).to_be_visible()
    expect(olga.room_link("Bobby Tables")).to_have_count(1)
    avatar = olga.member("Bobby Tables").locator("img.avatar")
    expect(avatar).to_have_attribute("src", re.compile(r"/accounts/avatar/bob\.svg\?v="))
    # And in bob's own open page.
    expect(bob.page.locator("#me-name")).to_have_text("Bobby Tables")
