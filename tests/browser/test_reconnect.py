"""Losing the connection loses nothing: reconnect, catch up, no duplicates."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_replica_restart_while_the_other_user_sends(replicas, make_person, open_chat):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    alice.send("before the drop")
    bob.expect_message("before the drop")

    one.kill()  # alice's replica dies, and her socket with it
    expect(alice.banner).to_be_visible()
    expect(alice.banner).to_contain_text(re.compile("Connection lost|Reconnecting"))

    missed = [f"while you were away {n}" for n in range(1, 8)]
    for text in missed:
        bob.send(text)
        bob.expect_message(text)
    # Alice writes while offline: it is "waiting to send" (not failed) and is sent once she is back.
    alice.send("written while offline")
    pending = alice.message("written while offline")
    expect(pending).to_have_class(re.compile(r"\bmsg-waiting\b"))
    expect(pending.locator(".msg-status")).to_have_text(re.compile("^Waiting to send"))

    one.start()
    # Automatic: no click. The backoff may be at its 15 s cap by now.
    alice.expect_online(timeout=40_000)
    alice.expect_message(missed[-1], author="bob")
    alice.expect_message("written while offline", author="alice")
    bob.expect_message("written while offline", author="alice")

    expected = ["before the drop", *missed, "written while offline"]
    for person in (alice, bob):
        shown = person.shown_messages()
        assert [m["text"] for m in shown] == expected, person.username
        ids = [m["id"] for m in shown]
        assert ids == sorted(set(ids)), f"{person.username}: ids not unique and ascending: {ids}"
        assert not any(m["pending"] for m in shown)
    expect(alice.banner).to_be_hidden()


def test_a_server_side_close_reconnects_with_backoff_and_catches_up_every_room(
    replicas, make_person, open_chat, in_thread
):
    """The server closes alice's socket and her line stays down for a while:
    the page retries with backoff, then catches up every room it holds."""
    from chat import events
    from chat.services import room_create, room_join

    alice_user = make_person("alice")
    bob_user = make_person("bob")

    def make_random():
        room = room_create(creator=bob_user, name="Random", slug="random")
        room_join(user=alice_user, room=room)

    in_thread(make_random)
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    alice.open_room("Random")  # alice now holds messages of both rooms
    alice.open_room("General")

    # From now on alice's new sockets are refused until the line is restored.
    line = {"up": False}
    refused = []

    def route_socket(ws):
        if line["up"]:
            ws.connect_to_server()
        else:
            refused.append(ws.url)
            ws.close()

    alice.page.context.route_web_socket(re.compile(r"/ws/$"), route_socket)
    in_thread(events.sessions_close, alice_user.pk)  # the server ends her socket
    expect(alice.banner).to_contain_text(re.compile("Connection lost|Reconnecting"))

    bob.send("general while away")
    bob.expect_message("general while away")
    bob.open_room("Random")
    for n in range(1, 4):
        bob.send(f"random while away {n}")
        bob.expect_message(f"random while away {n}")
    wait_until(alice.page, lambda: len(refused) >= 2, what="the page to retry")  # it keeps trying

    line["up"] = True
    alice.page.get_by_role("button", name="Reconnect now").click()
    alice.expect_online()
    alice.expect_message("general while away", author="bob")
    assert alice.shown_texts() == ["general while away"]
    expect(alice.room_link("Random").locator(".unread-badge")).to_have_text("3")
    # The other room was caught up too: opening it shows every message once.
    alice.open_room("Random")
    alice.expect_message("random while away 3")
    assert alice.shown_texts() == [f"random while away {n}" for n in range(1, 4)]


def test_what_is_typed_while_the_page_catches_up_goes_out_after_what_waited(
    replicas, make_person, open_chat, in_thread
):
    """Sends keep the order they were typed in across a reconnect: a message
    written while the page is still catching up waits behind the ones written
    while it was offline, instead of overtaking them on the new socket."""
    from chat import events

    alice_user = make_person("alice")
    make_person("bob")
    one, two = replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    alice.send("before the drop")
    bob.expect_message("before the drop", author="alice")

    # Alice's new sockets are refused until the line is up; then her page's
    # catch-up (`sync`) is held back until the test lets it go.
    line = {"up": False, "hold_sync": True}
    held = []

    def route_socket(ws):
        if not line["up"]:
            ws.close()
            return
        server = ws.connect_to_server()

        def to_server(message):
            if line["hold_sync"] and json.loads(message).get("type") == "sync":
                held.append((server, message))
            else:
                server.send(message)

        ws.on_message(to_server)

    alice.page.context.route_web_socket(re.compile(r"/ws/$"), route_socket)
    in_thread(events.sessions_close, alice_user.pk)
    expect(alice.banner).to_contain_text(re.compile("Connection lost|Reconnecting"))
    alice.send("written while offline")
    expect(alice.message("written while offline")).to_have_class(re.compile(r"\bmsg-waiting\b"))

    line["up"] = True
    alice.page.get_by_role("button", name="Reconnect now").click()
    wait_until(alice.page, lambda: held, what="alice's page to ask for its catch-up")
    alice.send("written while catching up")
    # It waits its turn (it is not lost, and not failed)...
    expect(alice.message("written while catching up")).to_have_class(re.compile(r"\bmsg-waiting\b"))
    line["hold_sync"] = False
    for server, message in held:
        server.send(message)
    alice.expect_online()

    # ...and goes out after the one that waited before it.
    expected = ["before the drop", "written while offline", "written while catching up"]
    bob.expect_message("written while catching up", author="alice")
    alice.expect_message("written while catching up", author="alice")
    for person in (alice, bob):
        wait_until(
            person.page,
            lambda person=person: not any(m["pending"] for m in person.shown_messages()),
            what=f"{person.username}'s sends to be confirmed",
        )
        shown = person.shown_messages()
        assert [m["text"] for m in shown] == expected, person.username
        ids = [m["id"] for m in shown]
        assert ids == sorted(set(ids)), f"{person.username}: ids not unique and ascending: {ids}"
