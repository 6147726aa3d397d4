"""Rooms: create, invite, browse and join, direct conversations, unread counts."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_private_room_and_invite_someone(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)

    alice.page.get_by_role("button", name="Create a room").click()
    dialog = alice.page.get_by_role("dialog", name="Create a room")
    dialog.get_by_label("Name").fill("Secret Plans")
    expect(dialog.get_by_label("Address")).to_have_value("secret-plans")
    dialog.get_by_label("Topic (optional)").fill("Do not tell carol")
    dialog.get_by_role("radio", name=re.compile("^Private")).check()
    dialog.get_by_role("button", name="Create room").click()
    expect(dialog).to_be_hidden()
    expect(alice.room_title).to_have_text("Secret Plans")
    expect(alice.page.locator("#room-topic")).to_have_text("Do not tell carol")
    expect(bob.room_link("Secret Plans")).to_have_count(0)

    alice.page.get_by_role("button", name="Invite").click()
    invite = alice.page.get_by_role("dialog", name=re.compile("^Invite someone"))
    invite.get_by_label("Username").fill("nobody-by-that-name")
    invite.get_by_role("button", name="Invite").click()
    expect(invite.get_by_role("alert")).to_contain_text("nobody-by-that-name")
    invite.get_by_label("Username").fill("bob")
    invite.get_by_role("button", name="Invite").click()
    expect(invite.get_by_role("status")).to_have_text("Invited bob.")
    alice.page.keyboard.press("Escape")
    expect(invite).to_be_hidden()

    expect(bob.room_link("Secret Plans")).to_be_visible()  # appears without a reload
    bob.open_room("Secret Plans")
    bob.send("Count me in")
    alice.expect_message("Count me in", author="bob")
    expect(alice.member("bob")).to_be_visible()


def test_browse_and_join_a_public_room_then_start_a_direct_conversation(
    replicas, make_person, open_chat, in_thread
):
    from chat.services import message_post, room_create

    alice_user = make_person("alice")
    make_person("bob")

    def make_design():
        room = room_create(creator=alice_user, name="Design", slug="design", topic="Pixels")
        message_post(user=alice_user, room=room, body="Welcome to design")

    in_thread(make_design)
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    expect(bob.room_link("Design")).to_have_count(0)

    bob.page.get_by_role("button", name="Browse public rooms").click()
    browse = bob.page.get_by_role("dialog", name="Public rooms")
    expect(browse.get_by_text("Pixels")).to_be_visible()
    browse.get_by_role("button", name="Join Design").click()
    expect(browse).to_be_hidden()
    expect(bob.room_title).to_have_text("Design")
    bob.expect_message("Welcome to design", author="alice")
    alice.open_room("Design")
    expect(alice.page.locator("#member-list li.member")).to_have_count(2)
    expect(alice.member("bob")).to_be_visible()

    # A direct conversation starts from a member's name.
    bob.page.get_by_role("button", name=re.compile(r"^alice\b.*, online")).click()
    expect(bob.room_title).to_have_text("alice")
    expect(
        bob.page.locator("#dm-list").get_by_role("link", name=re.compile("alice"))
    ).to_be_visible()
    bob.send("psst, just between us")
    dm_link = alice.page.locator("#dm-list a.room-link")
    expect(dm_link).to_contain_text("bob")
    expect(dm_link.locator(".unread-badge")).to_have_text("1")
    dm_link.click()
    alice.expect_message("psst, just between us", author="bob")
    expect(dm_link.locator(".unread-badge")).to_be_hidden()


def test_unread_counts_and_the_new_messages_line(replicas, make_person, open_chat, in_thread):
    from chat.services import message_post, room_create, room_join

    alice_user = make_person("alice")
    bob_user = make_person("bob")

    def make_random():
        room = room_create(creator=bob_user, name="Random", slug="random")
        room_join(user=alice_user, room=room)
        message_post(user=bob_user, room=room, body="old news")

    in_thread(make_random)
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    alice.open_room("Random")
    alice.expect_message("old news")  # seen, so read
    alice.open_room("General")

    bob.open_room("Random")
    for n in range(1, 4):
        bob.send(f"fresh {n}")
    badge = alice.room_link("Random").locator(".unread-badge")
    expect(badge).to_have_text("3")
    expect(alice.room_link("Random")).to_have_attribute("aria-label", re.compile("3 unread"))
    expect(alice.page).to_have_title(re.compile(r"^\(3\) "))

    alice.open_room("Random")
    expect(badge).to_be_hidden()
    line = alice.page.locator("#message-list > li.unread-marker")
    expect(line).to_be_visible()
    after_line = alice.page.locator("#message-list > li.unread-marker + li.msg .msg-body")
    expect(after_line).to_have_text("fresh 1")

    # The read mark is stored: back in General, a reload shows no unread count for Random.
    alice.open_room("General")
    alice.page.reload()
    alice.expect_online()
    expect(alice.room_link("Random")).to_be_visible()
    expect(alice.room_link("Random").locator(".unread-badge")).to_be_hidden()


def test_a_group_conversation_starts_from_the_people_picker_and_reaches_everyone(
    replicas, make_person, open_chat
):
    make_person("alice")
    make_person("bob")
    make_person("carol")
    one, two = replicas
    alice, bob, carol = open_chat("alice", one), open_chat("bob", two), open_chat("carol", one)
    page = alice.page

    page.get_by_role("button", name="Start a direct conversation").click()
    expect(page.get_by_role("dialog", name="Direct conversation")).to_be_visible()
    dialog = page.locator("#dm-dialog")
    dialog.get_by_role("button", name="Add more people").click()
    expect(page.get_by_role("dialog", name="Group conversation")).to_be_visible()
    field = dialog.get_by_role("combobox", name="Name or username")
    for name in ("bob", "carol", "bob"):  # picking someone twice adds them once
        field.press_sequentially(name)
        dialog.get_by_role("option", name=re.compile(f"@{name}")).click()
    chips = dialog.locator("#dm-people li")
    expect(chips).to_have_text(["bob", "carol"])
    dialog.get_by_role("button", name="Open conversation").click()
    expect(dialog).to_be_hidden()
    expect(alice.room_title).to_have_text("alice, bob & carol")

    alice.send("the three of us")
    for person in (bob, carol):  # in their sidebars live, on either replica
        person.open_room("alice, bob & carol")
        person.expect_message("the three of us", author="alice")
    carol.send("hello both")
    bob.expect_message("hello both", author="carol")

    # The same people again: the same room, not a new one.
    page.get_by_role("button", name="Start a direct conversation").click()
    dialog.get_by_role("button", name="Add more people").click()
    for name in ("carol", "bob"):
        field.press_sequentially(name)
        dialog.get_by_role("option", name=re.compile(f"@{name}")).click()
    dialog.get_by_role("button", name="Remove carol").click()
    expect(chips).to_have_text(["bob"])
    field.press_sequentially("carol")
    dialog.get_by_role("option", name=re.compile("@carol")).click()
    dialog.get_by_role("button", name="Open conversation").click()
    expect(alice.room_title).to_have_text("alice, bob & carol")
    expect(alice.room_link("alice, bob & carol")).to_have_count(1)
    alice.expect_message("hello both", author="carol")
