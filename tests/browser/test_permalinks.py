"""Permalinks in the browser: every message's time links to it; opening a link (on a
fresh page, from another room, far back in the history, to a reply) shows the message
in its room, highlighted; copying one is one click; a link to a message you may not
read says so, like a missing one."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(make_person, default_room, in_thread):
    """Bob wrote 260 messages in General (the first far beyond the first page), a
    thread, and carol a private room alice is not in."""
    from chat import services
    from chat.models import Message, Room

    bob = make_person("bob")
    carol = make_person("carol")

    def write() -> dict:
        old = Message.objects.create(
            room=default_room, author=bob, body="the old decision", html="<p>the old decision</p>"
        )
        Message.objects.bulk_create(
            Message(room=default_room, author=bob, body=f"filler {n}", html=f"<p>filler {n}</p>")
            for n in range(260)
        )
        Room.objects.filter(pk=default_room.pk).update(
            last_message_id=Message.objects.filter(room=default_room).latest("id").id
        )
        root, _ = services.message_post(user=bob, room=default_room, body="a thread root")
        reply, _ = services.message_post(
            user=bob, room=default_room, body="the reply", thread=root.id
        )
        secret = services.room_create(creator=carol, name="Secret", slug="secret", kind="private")
        hidden, _ = services.message_post(user=carol, room=secret, body="carol only")
        return {"old": old.id, "root": root.id, "reply": reply.id, "hidden": hidden.id}

    return in_thread(write)


def test_a_permalink_on_a_fresh_page_opens_the_message_far_back_highlighted(
    replicas, make_person, open_chat, history
):
    make_person("alice")
    page = open_chat("alice", replicas[0])
    page.page.goto(f"/#/r/general/m/{history['old']}")
    page.page.reload()  # a fresh load of the link, as from another tab or an email
    page.expect_online()
    target = page.page.locator(f"#msg-{history['old']}")
    expect(target).to_be_visible()
    expect(target).to_have_class(has_class("msg-found"))
    expect(target.locator(".msg-body")).to_have_text("the old decision")
    expect(page.message("filler 0")).to_be_visible()  # its neighbours are there too
    expect(page.page).to_have_url(f"{replicas[0].http_url}/#/r/general/m/{history['old']}")


def test_the_time_links_to_the_message_and_copy_link_puts_it_on_the_clipboard(
    replicas, make_person, open_chat, history
):
    make_person("alice")
    page = open_chat("alice", replicas[0], permissions=["clipboard-read", "clipboard-write"])
    root = page.page.locator(f"#msg-{history['root']}")
    link = root.locator("a.msg-permalink")
    expect(link).to_have_attribute("href", f"#/r/general/m/{history['root']}")
    root.hover()
    root.get_by_role("button", name="Copy a link to bob's message").click()
    copied = page.page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{replicas[0].http_url}/#/r/general/m/{history['root']}"


def test_a_link_to_a_reply_opens_its_thread_with_the_reply_highlighted(
    replicas, make_person, open_chat, history
):
    make_person("alice")
    page = open_chat("alice", replicas[0])
    page.page.goto(f"/#/r/general/m/{history['reply']}")
    page.expect_online()
    reply = page.page.locator(f"#thread-msg-{history['reply']}")
    expect(reply).to_be_visible()
    expect(reply).to_have_class(has_class("msg-found"))


def test_a_link_to_a_message_you_may_not_read_says_not_found_like_a_missing_one(
    replicas, make_person, open_chat, history
):
    make_person("alice")
    page = open_chat("alice", replicas[0])
    for message_id in (history["hidden"], 987654):
        for slug in ("secret", "general"):
            # A fresh load of the link. (A hash change then reload() raced: the old
            # page answered the link first and put #/r/general in the address bar,
            # which reload() then loaded, without the message id.)
            page.page.goto("about:blank")
            page.page.goto(f"/#/r/{slug}/m/{message_id}")
            page.expect_online()
            expect(page.composer_error).to_have_text(
                "That message does not exist, or you cannot see it."
            )
            expect(page.page.get_by_text("carol only")).to_have_count(0)


class HeldJoins:
    """A context's sockets, with the server's `joined` replies held back until release()."""

    def __init__(self, context) -> None:
        self.held: list = []
        context.route_web_socket(re.compile(r"/ws/$"), self._route)

    def _route(self, ws) -> None:
        server = ws.connect_to_server()

        def to_page(message) -> None:
            if isinstance(message, str) and '"type":"joined"' in message.replace(" ", ""):
                self.held.append((ws, message))
            else:
                ws.send(message)

        server.on_message(to_page)

    def release(self) -> None:
        for ws, message in self.held:
            ws.send(message)
        self.held.clear()


def test_not_found_is_said_at_once_while_the_room_it_falls_back_to_is_still_loading(
    replicas, make_person, open_chat, history
):
    make_person("alice")
    page = open_chat("alice", replicas[0])
    joins = HeldJoins(page.page.context)
    page.page.goto("about:blank")
    page.page.goto(f"/#/r/secret/m/{history['hidden']}")
    page.expect_online()
    # General's messages are not in yet (its join is held): the answer must not wait for them.
    expect(page.composer_error).to_have_text(
        "That message does not exist, or you cannot see it.", timeout=5_000
    )
    wait_until(page.page, lambda: bool(joins.held), what="General's join to be answered (held)")
    expect(page.message("a thread root")).to_have_count(0)
    joins.release()
    expect(page.message("a thread root")).to_be_visible()
    expect(page.composer_error).to_have_text("That message does not exist, or you cannot see it.")


def has_class(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")
