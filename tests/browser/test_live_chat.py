"""Two people on two different daphne replicas talk to each other live."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_users_on_different_replicas_chat_live_both_ways(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    assert alice.page.evaluate("location.port") != bob.page.evaluate("location.port")

    expect(alice.room_title).to_have_text("General")
    expect(bob.room_title).to_have_text("General")
    expect(alice.member("bob")).to_have_class(re.compile(r"\bis-online\b"))
    expect(bob.member("alice")).to_have_class(re.compile(r"\bis-online\b"))

    alice.send("Hello from replica one")
    alice.expect_message("Hello from replica one", author="alice")
    bob.expect_message("Hello from replica one", author="alice")

    # Shift+Enter adds a line; Enter sends. Markdown arrives rendered.
    bob.composer.fill("Hi back from **replica two**")
    bob.composer.press("Shift+Enter")
    bob.composer.press_sequentially("second line")
    expect(bob.composer).to_have_value("Hi back from **replica two**\nsecond line")
    bob.composer.press("Enter")
    expect(bob.composer).to_have_value("")
    reply = alice.expect_message("second line", author="bob")
    expect(reply.locator(".msg-body strong")).to_have_text("replica two")
    expect(reply.locator(".msg-body")).to_have_text(
        re.compile(r"Hi back from replica two\s+second line")
    )

    assert alice.shown_texts() == bob.shown_texts()
    assert [m["author"] for m in alice.shown_messages()] == ["alice", "bob"]


def test_typing_presence_edit_and_delete_cross_replicas(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)

    bob.composer.press_sequentially("thinking", delay=30)
    expect(alice.typing_line).to_have_text("bob is typing…")
    expect(alice.typing_line).to_have_text("", timeout=10_000)  # it fades when bob stops
    bob.composer.fill("")

    alice.send("a message with a typo")
    bob.expect_message("a message with a typo")
    # Up in the empty composer edits your last message; Enter saves.
    alice.composer.press("ArrowUp")
    editor = alice.page.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill("a message without a typo")
    editor.press("Enter")
    edited = bob.expect_message("a message without a typo")
    expect(edited.locator(".msg-edited")).to_have_text("(edited)")
    expect(alice.composer).to_be_focused()

    # Delete asks for confirmation inline (never a browser dialog).
    own = alice.expect_message("a message without a typo")
    own.hover()
    own.get_by_role("button", name=re.compile("^Delete your message")).click()
    own.get_by_role("button", name="Delete", exact=True).click()
    expect(bob.message("a message without a typo")).to_have_count(0)
    expect(alice.message("a message without a typo")).to_have_count(0)

    # Bob's tab closes: alice sees him go offline.
    bob.page.context.close()
    expect(alice.member("bob")).not_to_have_class(re.compile(r"\bis-online\b"))
