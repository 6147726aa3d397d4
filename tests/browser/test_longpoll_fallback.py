"""Without WebSockets the browser client keeps working over the long poll, losing nothing.

Sockets are refused in the browser itself (WebSocketGate, Playwright's
route_web_socket), as a proxy that blocks them would: the page falls back to
GET /api/events and the HTTP routes, says so quietly in the banner, keeps
trying the socket in the background and moves back to it when it can.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import (
    ChatPage,
    WebSocketGate,
    expect_long_polling,
    expect_websocket,
    wait_until,
)
from tests.support.metrics import scrape

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The socket's retries back off to 15 s (static/chat/socket.js): moving between the
# socket and the long poll takes up to a few of them.
SWITCH_BACK_TIMEOUT_MS = 40_000


def assert_each_message_once_in_order(person, expected: list[str]) -> None:
    shown = person.shown_messages()
    assert [m["text"] for m in shown] == expected, person.username
    ids = [m["id"] for m in shown]
    assert ids == sorted(set(ids)), f"{person.username}: ids not unique and ascending: {ids}"
    assert not any(m["pending"] for m in shown), person.username


def test_two_people_without_websockets_chat_edit_type_and_invite(
    replicas, make_person, open_chat_without_websockets
):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice, alice_gate = open_chat_without_websockets("alice", one.http_url)
    bob, bob_gate = open_chat_without_websockets("bob", two.http_url)
    for person in (alice, bob):
        expect_long_polling(person)
    assert alice_gate.refused and bob_gate.refused, "each page tried the WebSocket first"
    # Polling, not on a socket, each is online to the other.
    expect(alice.member("bob")).to_have_class(re.compile(r"\bis-online\b"))
    expect(bob.member("alice")).to_have_class(re.compile(r"\bis-online\b"))

    alice.send("Hello over plain HTTP")
    bob.expect_message("Hello over plain HTTP", author="alice")
    bob.send("Hi back, no socket here either")
    alice.expect_message("Hi back, no socket here either", author="bob")

    # Typing is best effort over the long poll: bob keeps typing until alice sees it.
    def alice_sees_bob_typing() -> bool:
        bob.composer.press_sequentially("x", delay=50)
        return alice.typing_line.text_content() == "bob is typing…"

    wait_until(alice.page, alice_sees_bob_typing, what="alice to see bob typing")
    bob.composer.fill("")

    alice.send("a message with a typo")
    bob.expect_message("a message with a typo")
    alice.composer.press("ArrowUp")
    editor = alice.page.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill("a message without a typo")
    editor.press("Enter")
    edited = bob.expect_message("a message without a typo")
    expect(edited.locator(".msg-edited")).to_have_text("(edited)")
    expect(alice.expect_message("a message without a typo").locator(".msg-edited")).to_have_text(
        "(edited)"
    )

    # A private room and an invitation: it appears in bob's sidebar without a reload.
    alice.page.get_by_role("button", name="Create a room").click()
    dialog = alice.page.get_by_role("dialog", name="Create a room")
    dialog.get_by_label("Name").fill("Back Room")
    dialog.get_by_role("radio", name=re.compile("^Private")).check()
    dialog.get_by_role("button", name="Create room").click()
    expect(alice.room_title).to_have_text("Back Room")
    alice.page.get_by_role("button", name="Invite").click()
    invite = alice.page.get_by_role("dialog", name=re.compile("^Invite someone"))
    invite.get_by_label("Username").fill("bob")
    invite.get_by_role("button", name="Invite").click()
    expect(invite.get_by_role("status")).to_have_text("Invited bob.")
    alice.page.keyboard.press("Escape")
    expect(bob.room_link("Back Room")).to_be_visible()
    bob.open_room("Back Room")
    bob.send("Count me in")
    alice.expect_message("Count me in", author="bob")
    alice.send("Welcome")
    bob.expect_message("Welcome", author="alice")

    for person in (alice, bob):
        assert_each_message_once_in_order(person, ["Count me in", "Welcome"])
        person.open_room("General")
        assert_each_message_once_in_order(
            person,
            ["Hello over plain HTTP", "Hi back, no socket here either", "a message without a typo"],
        )
        expect_long_polling(person)  # never a reconnect banner

    # The tab remembers that WebSockets failed: a reload starts on the long poll.
    alice.page.reload()
    expect_long_polling(alice)
    alice.expect_message("a message without a typo")


def test_websockets_allowed_mid_conversation_move_the_page_back_to_the_socket(
    replicas, make_person, open_chat, open_chat_without_websockets
):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice, gate = open_chat_without_websockets("alice", one.http_url)
    bob = open_chat("bob", two)
    expect_long_polling(alice)

    expected = []
    for n in range(1, 4):
        bob.send(f"over the long poll {n}")
        expected.append(f"over the long poll {n}")
    alice.send("alice over HTTP")
    expected.append("alice over HTTP")
    alice.expect_message("alice over HTTP")
    alice.expect_message("over the long poll 3", author="bob")

    # The proxy lets sockets through again while bob keeps talking: the page moves
    # back to the socket on its next background try, with nothing lost or doubled.
    gate.allow()
    n = 0
    while alice.page.locator("#app").get_attribute("data-transport") != "websocket":
        n += 1
        assert n <= 100, "the page never moved back to the WebSocket"
        bob.send(f"during the switch {n}")
        expected.append(f"during the switch {n}")
        bob.expect_message(f"during the switch {n}")
        alice.page.wait_for_timeout(300)
    for extra in ("after the switch", "and one more"):
        bob.send(extra)
        expected.append(extra)
    alice.send("alice on the socket")
    expected.append("alice on the socket")

    expect_websocket(alice, timeout=SWITCH_BACK_TIMEOUT_MS)
    alice.expect_message("and one more", author="bob")
    bob.expect_message("alice on the socket", author="alice")
    for person in (alice, bob):
        assert_each_message_once_in_order(person, expected)

    # Moved back for good: a reload starts on the socket.
    alice.page.reload()
    expect_websocket(alice)


def test_websockets_blocked_mid_session_move_the_page_to_the_long_poll(
    replicas, make_person, open_chat, in_thread
):
    """A socket that worked and now keeps failing while HTTP answers: the network
    blocks it now (a proxy, another Wi-Fi), and the page goes on over HTTP."""
    from chat import events

    alice_user = make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    bob.send("on the socket")
    alice.expect_message("on the socket", author="bob")

    WebSocketGate(alice.page.context)  # from now on her sockets are refused
    in_thread(events.sessions_close, alice_user.pk)  # and the one she has ends
    expect(alice.banner).to_contain_text(re.compile("Connection lost|Reconnecting"))
    bob.send("while her sockets are refused")
    bob.expect_message("while her sockets are refused")
    # A few failed tries (15 s or more) with HTTP answering: the long poll takes over.
    expect(alice.page.locator("#app")).to_have_attribute(
        "data-transport", "longpoll", timeout=SWITCH_BACK_TIMEOUT_MS
    )
    expect_long_polling(alice)
    alice.expect_message("while her sockets are refused", author="bob")
    bob.send("over the long poll")
    alice.expect_message("over the long poll", author="bob")
    alice.send("alice over HTTP")
    bob.expect_message("alice over HTTP", author="alice")
    expected = [
        "on the socket",
        "while her sockets are refused",
        "over the long poll",
        "alice over HTTP",
    ]
    for person in (alice, bob):
        assert_each_message_once_in_order(person, expected)


def test_a_replica_killed_under_a_waiting_long_poll_loses_nothing(
    replicas, make_person, open_chat_without_websockets, new_page, load_balancer
):
    make_person("alice")
    make_person("bob")
    nginx = load_balancer(replicas)
    alice, _gate = open_chat_without_websockets("alice", nginx.url)
    bob = ChatPage(new_page(nginx.url, "bob"), "bob")  # on the socket, through nginx too
    bob.sign_in(password="pw-bob")
    bob.expect_online()
    expect_long_polling(alice)
    bob.send("before the kill")
    alice.expect_message("before the kill", author="bob")
    alice.page.wait_for_timeout(1_500)  # her read mark goes out and answers a poll

    def waiting_on() -> list:
        return [r for r in replicas if scrape(r.http_url).get("chat_event_polls_waiting")]

    wait_until(alice.page, lambda: len(waiting_on()) == 1, what="alice's poll to wait")
    (doomed,) = waiting_on()
    doomed.kill()  # under alice's waiting poll (and maybe bob's socket: he reconnects)

    missed = [f"after the kill {n}" for n in range(1, 6)]
    for text in missed:
        bob.send(text)
    alice.expect_message(missed[-1], author="bob")
    alice.send("alice still here")
    bob.expect_message("alice still here", author="alice")

    expected = ["before the kill", *missed, "alice still here"]
    for person in (alice, bob):
        assert_each_message_once_in_order(person, expected)
    expect_long_polling(alice)
    survivor = next(r for r in replicas if r is not doomed)
    wait_until(
        alice.page,
        lambda: scrape(survivor.http_url).get("chat_event_polls_waiting") == 1,
        what="alice's poll to wait on the surviving replica",
    )
