"""Conversations in the browser: threads, reactions, pins, mentions, notification
settings, and changes made while a page was offline showing once it is back."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage, ConversationPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def talk(chat: ChatPage) -> ConversationPage:
    return ConversationPage(chat.page, chat.username)


@pytest.fixture
def random_room(in_thread):
    """A second room, "Random", with the people given as members."""
    from chat.services import room_create, room_join

    def make(owner, *others):
        def create():
            room = room_create(creator=owner, name="Random", slug="random")
            for user in others:
                room_join(user=user, room=room)
            return room

        return in_thread(create)

    return make


def test_a_thread_opens_beside_the_room_and_its_replies_arrive_live(
    replicas, make_person, open_chat
):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    alice.send("Where do we meet?")
    root_for_bob = bob.expect_message("Where do we meet?")

    root = alice.expect_message("Where do we meet?")
    alice.open_thread(root)
    expect(alice.thread_composer).to_be_focused()
    alice.reply("In the kitchen")
    expect(alice.thread_message("In the kitchen")).to_have_count(1)
    assert alice.thread_texts() == ["Where do we meet?", "In the kitchen"]
    # The main timeline shows roots only, with their reply count.
    assert alice.shown_texts() == ["Where do we meet?"]
    expect(root.locator(".thread-open")).to_have_text("1 reply")

    # Bob, thread closed: the count and "1 new reply" on the root, not the reply itself.
    expect(root_for_bob.locator(".thread-open")).to_have_text("1 reply")
    expect(root_for_bob.locator(".thread-new")).to_have_text("1 new reply")
    assert bob.shown_texts() == ["Where do we meet?"]
    root_for_bob.locator(".thread-open").click()
    expect(bob.thread_panel).to_be_visible()
    expect(bob.thread_message("In the kitchen")).to_have_count(1)
    expect(root_for_bob.locator(".thread-new")).to_have_count(0)

    # Bob replies from his panel; alice's open panel gets it live, and both counts move.
    bob.reply("On my way")
    expect(alice.thread_message("On my way")).to_have_count(1)
    assert alice.thread_texts() == ["Where do we meet?", "In the kitchen", "On my way"]
    expect(root.locator(".thread-open")).to_have_text("2 replies")
    expect(root_for_bob.locator(".thread-open")).to_have_text("2 replies")

    # Escape closes the panel; the close button too.
    bob.thread_composer.press("Escape")
    expect(bob.thread_panel).to_be_hidden()
    alice.page.get_by_role("button", name="Close thread").click()
    expect(alice.thread_panel).to_be_hidden()


def test_on_a_phone_the_thread_covers_the_timeline(replicas, make_person, open_chat):
    from tests.browser.conftest import PHONE

    make_person("alice")
    one, _ = replicas
    alice = talk(open_chat("alice", one, viewport=PHONE))
    alice.send("phone root")
    alice.open_thread(alice.expect_message("phone root"))
    box = alice.thread_panel.bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 1
    alice.page.get_by_role("button", name="Close thread").click()
    expect(alice.thread_panel).to_be_hidden()


def test_reactions_by_picker_and_by_chip_show_to_everyone(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    alice.send("Ship it on Friday?")
    for_bob = bob.expect_message("Ship it on Friday?")
    for_alice = alice.expect_message("Ship it on Friday?")

    bob.react(for_bob, "🎉")
    bob_chip = bob.chip(for_bob, "🎉")
    expect(bob_chip.locator(".reaction-count")).to_have_text("1")
    expect(bob_chip).to_have_attribute("aria-pressed", "true")  # mine: highlighted
    alice_chip = alice.chip(for_alice, "🎉")
    expect(alice_chip.locator(".reaction-count")).to_have_text("1")
    expect(alice_chip).to_have_attribute("aria-pressed", "false")
    expect(alice_chip).to_have_attribute("title", "bob reacted with 🎉")

    # Clicking a chip adds mine; clicking it again takes it back.
    alice_chip.click()
    expect(alice_chip.locator(".reaction-count")).to_have_text("2")
    expect(alice_chip).to_have_attribute("aria-pressed", "true")
    expect(bob_chip.locator(".reaction-count")).to_have_text("2")
    expect(bob_chip).to_have_attribute("title", "you, alice reacted with 🎉")
    bob_chip.click()
    expect(alice_chip.locator(".reaction-count")).to_have_text("1")
    expect(bob_chip).to_have_attribute("aria-pressed", "false")

    # Any emoji through the picker's field, and a short name.
    alice.react(for_alice, "🦄")
    alice.react(for_alice, ":shipit:")
    expect(bob.chip(for_bob, "🦄").locator(".reaction-count")).to_have_text("1")
    expect(bob.chip(for_bob, ":shipit:").locator(".reaction-count")).to_have_text("1")
    # Something that is not an emoji is refused in the picker itself.
    alice.message_action(for_alice, "React to").click()
    picker = alice.page.get_by_role("dialog", name="Add a reaction")
    picker.get_by_label("Any emoji or :short_name:").fill("<b>hi</b>")
    picker.get_by_role("button", name="Add").click()
    expect(picker.get_by_role("alert")).to_contain_text("one emoji")
    picker.press("Escape")
    expect(picker).to_be_hidden()


def test_a_pinned_message_is_marked_and_listed(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    alice.send("The wifi password is on the <b>fridge</b>")
    alice.send("Unrelated chatter")
    message = alice.expect_message("wifi password")
    for_bob = bob.expect_message("wifi password")

    alice.message_action(message, "Pin").click()
    expect(message.locator(".msg-pinned-mark")).to_have_text("Pinned")
    expect(for_bob.locator(".msg-pinned-mark")).to_have_text("Pinned")
    expect(bob.message("Unrelated chatter").locator(".msg-pinned-mark")).to_have_count(0)

    bob.page.get_by_role("button", name="Pinned messages").click()
    pins = bob.page.get_by_role("dialog", name="Pinned in #General")
    expect(pins.locator(".pin-item")).to_have_count(1)
    # What was typed is shown as text, never parsed as HTML.
    expect(pins.locator(".pin-item-text")).to_have_text("The wifi password is on the <b>fridge</b>")
    expect(pins.locator(".pin-item-text b")).to_have_count(0)
    pins.locator(".pin-item").click()
    expect(pins).to_be_hidden()
    expect(for_bob).to_have_class(re.compile(r"\bmsg-found\b"))

    # Unpinned by alice: the mark goes, and bob's open list follows live.
    bob.page.get_by_role("button", name="Pinned messages").click()
    expect(pins.locator(".pin-item")).to_have_count(1)
    alice.message_action(message, "Unpin").click()
    expect(for_bob.locator(".msg-pinned-mark")).to_have_count(0)
    expect(pins.locator(".pin-item")).to_have_count(0)
    expect(pins.get_by_role("status")).to_contain_text("Nothing is pinned")


def test_mention_autocomplete_highlight_and_badge(replicas, make_person, open_chat, random_room):
    alice_user = make_person("alice")
    bob_user = make_person("bob")
    make_person("bobby")
    random_room(alice_user, bob_user)
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    bob.open_room("Random")

    alice.composer.press_sequentially("lunch, @bo")
    options = alice.page.get_by_role("listbox", name="People to mention").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("@bob")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    alice.composer.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    alice.composer.press("ArrowUp")
    alice.composer.press("Enter")  # picks bob: nothing is sent
    expect(alice.composer).to_have_value("lunch, @bob ")
    alice.composer.press_sequentially("?")
    alice.composer.press("Enter")
    alice.expect_message("lunch, @bob ?")

    # Bob, in another room: a mention badge apart from the unread count.
    general = bob.room_link("General")
    expect(general.locator(".mention-badge")).to_have_text("@1")
    expect(general.locator(".unread-badge")).to_have_text("1")
    bob.open_room("General")
    mention = bob.expect_message("lunch, @bob")
    expect(mention).to_have_class(re.compile(r"\bmsg-mentions-me\b"))
    expect(mention.locator('span.mention[data-user="bob"]')).to_have_class(
        re.compile(r"\bmention-me\b")
    )
    expect(general.locator(".mention-badge")).to_be_hidden()
    # Alice's own message mentions bob, not her.
    expect(alice.message("lunch, @bob")).not_to_have_class(re.compile(r"\bmsg-mentions-me\b"))

    # The thread composer completes too; Escape closes the list, not the panel.
    alice.open_thread(alice.expect_message("lunch, @bob"))
    alice.thread_composer.press_sequentially("@bobb")
    thread_options = alice.thread_panel.get_by_role("option")
    expect(thread_options).to_have_count(1)
    alice.thread_composer.press("Escape")
    expect(thread_options).to_have_count(0)
    expect(alice.thread_panel).to_be_visible()
    alice.thread_composer.press_sequentially("y")
    alice.thread_composer.press("Tab")
    expect(alice.thread_composer).to_have_value("@bobby ")


def test_muting_a_room_leaves_only_a_dot_in_every_tab(
    replicas, make_person, open_chat, random_room
):
    alice_user = make_person("alice")
    bob_user = make_person("bob")
    random_room(alice_user, bob_user)
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    other_tab = talk(open_chat("bob", one))
    bob.open_room("Random")
    other_tab.open_room("Random")

    alice.send("@bob first, before the mute")
    general = bob.room_link("General")
    expect(general.locator(".unread-badge")).to_have_text("1")
    expect(general.locator(".mention-badge")).to_have_text("@1")

    bob.open_room("General")
    bob.notify_setting("Nothing (muted: a dot, no count)")
    bob.open_room("Random")
    alice.send("second, while muted")
    expect(general.locator(".unread-dot")).to_be_visible()
    expect(general.locator(".unread-badge")).to_be_hidden()
    expect(general.locator(".mention-badge")).to_be_hidden()
    # The other tab learnt the setting (room_notify) and shows the dot too.
    other_general = other_tab.room_link("General")
    expect(other_general.locator(".unread-dot")).to_be_visible()
    expect(other_general.locator(".unread-badge")).to_be_hidden()

    bob.open_room("General")
    bob.notify_setting("Every message")
    bob.open_room("Random")
    alice.send("third, unmuted")
    expect(general.locator(".unread-badge")).to_be_visible()
    expect(general.locator(".unread-dot")).to_be_hidden()


FAKE_NOTIFICATIONS = """
window.__shown = [];
window.__hidden = false;
Object.defineProperty(document, "visibilityState", {
  get: () => (window.__hidden ? "hidden" : "visible"),
});
window.Notification = class {
  static permission = "default";
  static requestPermission() {
    window.Notification.permission = "granted";
    return Promise.resolve("granted");
  }
  constructor(title, options) { window.__shown.push({ title, body: options.body }); }
  addEventListener() {}
  close() {}
};
"""


def test_desktop_notifications_follow_the_setting_and_need_a_click(
    replicas, make_person, open_chat
):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob_page = talk(open_chat("bob", two))
    bob_page.page.add_init_script(FAKE_NOTIFICATIONS)
    bob_page.page.reload()
    bob_page.expect_online()
    page = bob_page.page
    assert page.evaluate("Notification.permission") == "default"  # never asked on load

    page.get_by_role("button", name="Notifications").click()
    dialog = page.get_by_role("dialog", name=re.compile("^Notifications for "))
    expect(dialog.get_by_label("Mentions only (@me, @room, @here)")).to_be_checked()
    dialog.get_by_role("button", name="Enable desktop notifications").click()
    expect(dialog.get_by_role("button", name="Enable desktop notifications")).to_be_hidden()
    dialog.get_by_role("button", name="Close").click()

    page.evaluate("window.__hidden = true")
    alice.send("plain chatter")
    alice.send("@bob can you look?")
    bob_page.expect_message("can you look?")
    shown = page.evaluate("window.__shown")
    assert [n["body"] for n in shown] == ["@bob can you look?"]
    assert shown[0]["title"] == "alice in #General"


def test_changes_made_while_offline_appear_after_reconnecting(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = talk(open_chat("alice", one))
    bob = talk(open_chat("bob", two))
    for text in ("keep me", "edit me", "delete me", "thread root"):
        bob.send(text)
        alice.expect_message(text)
    alice.open_thread(alice.expect_message("thread root"))

    alice.page.context.set_offline(True)
    expect(alice.banner).to_contain_text(re.compile("Connection lost|offline"))

    bob.react(bob.expect_message("keep me"), "👍")
    expect(bob.chip(bob.expect_message("keep me"), "👍")).to_be_visible()
    edited = bob.expect_message("edit me")
    bob.message_action(edited, "Edit").click()
    editor = bob.page.get_by_role("textbox", name="Edit message")
    editor.fill("edited while alice was away")
    editor.press("Enter")
    bob.expect_message("edited while alice was away")
    bob.message_action(bob.expect_message("keep me"), "Pin").click()
    expect(bob.message("keep me").locator(".msg-pinned-mark")).to_be_visible()
    gone = bob.expect_message("delete me")
    bob.message_action(gone, "Delete your").click()
    gone.get_by_role("button", name="Delete", exact=True).click()
    expect(bob.message("delete me")).to_have_count(0)
    bob.open_thread(bob.expect_message("thread root"))
    bob.reply("a reply while away")
    expect(bob.thread_message("a reply while away")).to_have_count(1)

    expect(alice.banner).to_contain_text("Connection lost")  # still away: nothing came live
    alice.page.context.set_offline(False)
    alice.expect_online(timeout=40_000)
    kept = alice.expect_message("keep me")
    expect(alice.chip(kept, "👍").locator(".reaction-count")).to_have_text("1")
    expect(kept.locator(".msg-pinned-mark")).to_be_visible()
    expect(
        alice.expect_message("edited while alice was away").locator(".msg-edited")
    ).to_be_visible()
    expect(alice.message("delete me")).to_have_count(0)
    expect(alice.thread_message("a reply while away")).to_have_count(1)
    expect(alice.expect_message("thread root").locator(".thread-open")).to_have_text("1 reply")

    # What alice holds now equals what a fresh page shows.
    fresh = talk(open_chat("alice", one))
    fresh.expect_message("edited while alice was away")
    expect(fresh.chip(fresh.expect_message("keep me"), "👍")).to_be_visible()
    assert alice.state() == fresh.state()
