"""Writing: failed sends retry without duplicates, server errors show by the composer,
history scrolls back, and the keyboard alone is enough."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rate_limited_sends_fail_visibly_and_retry_without_duplicates(
    start_replicas, default_room, make_person, open_chat
):
    from chat.models import Message

    make_person("alice")
    make_person("bob")
    # The real limiter, with tighter knobs so a test's typing speed is enough to hit it.
    one, two = start_replicas(2, CHAT_RATE_LIMIT_PER_SECOND="0.5", CHAT_RATE_LIMIT_BURST="4")
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)

    texts = [f"burst {n:02d}" for n in range(1, 11)]
    for text in texts:
        alice.composer.fill(text)
        alice.composer.press("Enter")
    failed = alice.page.locator("#message-list > li.msg-failed")
    expect(failed.first).to_be_visible()
    expect(alice.composer_error).to_have_text(re.compile("too fast"))
    expect(failed.first.locator(".msg-status")).to_contain_text("Not sent")

    # Retry each failed message (same client_id) until none is left.
    for _ in range(40):
        if failed.count() == 0:
            break
        failed.first.get_by_role("button", name="Retry").click()
        alice.page.wait_for_timeout(1000)
    expect(failed).to_have_count(0)
    expect(alice.page.locator("#message-list > li.msg-sending")).to_have_count(0)

    for person in (alice, bob):
        for text in texts:
            person.expect_message(text)  # exactly once each
        assert sorted(person.shown_texts()) == texts
    stored = list(Message.objects.filter(author__username="alice").values_list("body", flat=True))
    assert sorted(stored) == texts


def test_too_long_is_refused_by_the_composer_not_lost(replicas, make_person, open_chat):
    make_person("alice")
    (one, _) = replicas
    alice = open_chat("alice", one)
    alice.composer.fill("x" * 4001)
    alice.composer.press("Enter")
    expect(alice.composer_error).to_have_text(re.compile("Too long: 4001 of 4000"))
    expect(alice.composer).to_have_value("x" * 4001)  # nothing typed is thrown away
    expect(alice.messages).to_have_count(0)
    alice.composer.press("Backspace")
    alice.composer.press("Enter")
    expect(alice.composer_error).to_be_hidden()
    alice.expect_message("x" * 100)


def test_scrolling_up_loads_all_history_in_order(replicas, make_person, open_chat, in_thread):
    from chat.models import Membership, Message, Room
    from chat.rendering import render_markdown

    alice_user = make_person("alice")
    bob_user = make_person("bob")

    def seed():
        room = Room.objects.get(slug="general")
        for n in range(1, 131):
            body = f"history {n:03d}"
            author = bob_user if n % 3 else alice_user
            last = Message.objects.create(
                room=room, author=author, body=body, html=render_markdown(body)
            )
        Room.objects.filter(pk=room.pk).update(last_message_id=last.id)
        # All read: the room opens at the bottom (no "new messages" line to show first).
        Membership.objects.filter(room=room).update(last_read_id=last.id)

    in_thread(seed)
    (one, _) = replicas
    alice = open_chat("alice", one)
    alice.expect_message("history 130")
    assert len(alice.shown_texts()) < 130  # the latest page only

    scroller = alice.page.locator("#messages")
    status = alice.page.locator("#history-status")
    for _ in range(20):
        if "very beginning" in (status.text_content() or ""):
            break
        scroller.evaluate("el => { el.scrollTop = 0; }")
        alice.page.wait_for_timeout(300)
    expect(status).to_have_text("This is the very beginning of #General.")
    assert alice.shown_texts() == [f"history {n:03d}" for n in range(1, 131)]
    ids = [m["id"] for m in alice.shown_messages()]
    assert ids == sorted(set(ids))
    # Grouped: one day separator; consecutive messages by one author share a header.
    expect(alice.page.locator("#message-list > li.day-sep")).to_have_count(1)
    expect(alice.page.locator("#message-list > li.msg:not(.msg-continued)")).to_have_count(87)


def test_keyboard_alone(replicas, make_person, open_chat, in_thread):
    from chat.services import room_create

    alice_user = make_person("alice")
    in_thread(room_create, creator=alice_user, name="Zeta", slug="zeta")
    (one, _) = replicas
    alice = open_chat("alice", one)
    page = alice.page

    # The first Tab reaches the skip link; Tab order reaches the composer.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(40):
        if alice.composer.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(alice.composer).to_be_focused()
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Enter")
    alice.expect_message("typed with the keyboard")

    # Alt+ArrowDown moves to the next room and keeps the composer focused.
    page.keyboard.press("Alt+ArrowDown")
    expect(alice.room_title).to_have_text("Zeta")
    expect(alice.composer).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(alice.room_title).to_have_text("General")

    # Up edits the last message, Escape cancels; the edit controls are reachable by Tab.
    page.keyboard.press("ArrowUp")
    editor = page.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    page.keyboard.press("Escape")
    expect(editor).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("^Edit your message"))).to_be_focused()

    # Dialogs open from the keyboard and close with Escape, giving focus back.
    create = page.get_by_role("button", name="Create a room")
    create.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create a room")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(create).to_be_focused()

    # Focus is visible: the control focused by Tab draws an outline.
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
