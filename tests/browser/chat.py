"""A page object for the chat client: what a person sees and does, in their words."""

import re
import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect


def wait_until(
    page: Page, predicate: Callable[[], bool], *, timeout: float = 15.0, what: str = ""
) -> None:
    """Poll a condition no locator expresses (e.g. a test-side counter). Waits with
    page.wait_for_timeout, not time.sleep, so Playwright keeps dispatching events
    (route handlers, dialogs) meanwhile."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        page.wait_for_timeout(100)


class ChatPage:
    def __init__(self, page: Page, username: str) -> None:
        self.page = page
        self.username = username

    # ### Places on the page ###

    @property
    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name=re.compile(r"^Message "))

    @property
    def composer_error(self) -> Locator:
        return self.page.locator("#composer-error")

    @property
    def banner(self) -> Locator:
        return self.page.locator("#conn-banner")

    @property
    def typing_line(self) -> Locator:
        return self.page.locator("#typing")

    @property
    def room_title(self) -> Locator:
        return self.page.locator("#room-title")

    @property
    def room_topic(self) -> Locator:
        return self.page.locator("#room-topic")

    @property
    def messages(self) -> Locator:
        return self.page.locator("#message-list > li.msg")

    def message(self, text: str) -> Locator:
        return self.messages.filter(has=self.page.locator(".msg-body", has_text=text))

    def room_link(self, name: str) -> Locator:
        return self.page.locator("#sidebar a.room-link").filter(
            has=self.page.locator(".room-name", has_text=re.compile(f"^{re.escape(name)}$"))
        )

    def member(self, name: str) -> Locator:
        return self.page.locator("#member-list li.member").filter(
            has=self.page.locator(".member-name", has_text=re.compile(f"^{re.escape(name)}$"))
        )

    # ### Doing things ###

    def sign_in(self, *, password: str) -> None:
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Login", exact=True).fill(self.username)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_role("button", name="Sign In").click()
        expect(self.page).to_have_url(re.compile(r"/#/r/[a-z0-9-]+$"))

    def expect_online(self, *, timeout: float | None = None) -> None:
        """The socket is up and caught up (the banner is gone or says "Back online")."""
        expect(self.page.locator("#app")).to_have_attribute(
            "data-connection", "online", timeout=timeout
        )

    def send(self, text: str) -> None:
        """Type into the composer and press Enter, as a person does."""
        self.composer.fill(text)
        self.composer.press("Enter")

    def open_room(self, name: str) -> None:
        self.room_link(name).click()
        expect(self.room_title).to_have_text(name)
        expect(self.page.locator("#history-status")).not_to_have_text("Loading messages…")

    def remove_member(self, name: str) -> None:
        """Remove from the open room through the member list, confirming inline."""
        member = self.member(name)
        member.get_by_role("button", name=f"Remove {name} from the room").click()
        confirm = member.get_by_role("group", name=f"Remove {name}?")
        confirm.get_by_role("button", name="Remove", exact=True).click()

    def room_settings(self) -> Locator:
        """Open the open room's settings; returns the dialog."""
        self.page.get_by_role("button", name="Room settings").click()
        dialog = self.page.get_by_role("dialog", name=re.compile("^Settings of "))
        expect(dialog).to_be_visible()
        return dialog

    def expect_message(self, text: str, *, author: str | None = None) -> Locator:
        """Wait until a sent (not pending) message with this text is shown; returns it."""
        message = self.message(text).and_(self.page.locator("[data-id]"))
        expect(message).to_have_count(1)
        if author is not None:
            expect(message.locator(".msg-author")).to_have_text(author)
        return message

    def shown_messages(self) -> list[dict]:
        """Every message row in screen order: id, author, text, and whether it is still pending."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#message-list > li.msg')].map((li) => ({
                id: li.dataset.id ? Number(li.dataset.id) : null,
                author: li.querySelector('.msg-author')?.textContent ?? '',
                text: li.querySelector('.msg-body')?.innerText.trim() ?? '',
                pending: li.matches('.msg-sending, .msg-waiting, .msg-failed'),
            }))"""
        )

    def shown_texts(self) -> list[str]:
        return [m["text"] for m in self.shown_messages()]


class ConversationPage(ChatPage):
    """The chat page with its conversation features: threads, reactions, pins, mentions."""

    @property
    def thread_panel(self) -> Locator:
        return self.page.locator("#thread-panel")

    @property
    def thread_composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Reply in thread")

    @property
    def thread_messages(self) -> Locator:
        return self.page.locator("#thread-list > li.msg")

    def thread_message(self, text: str) -> Locator:
        return self.thread_messages.filter(has=self.page.locator(".msg-body", has_text=text))

    def thread_texts(self) -> list[str]:
        """The thread panel's messages in screen order (the root first)."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#thread-list > li.msg')].map(
                (li) => li.querySelector('.msg-body')?.innerText.trim() ?? '')"""
        )

    def message_action(self, message: Locator, name: str) -> Locator:
        """A button of a message's toolbar (React, Reply in thread, Pin, ...), shown on hover."""
        message.hover()
        return message.locator(".msg-actions").get_by_role("button", name=re.compile(f"^{name} "))

    def chip(self, message: Locator, emoji: str) -> Locator:
        emoji_span = self.page.locator(".reaction-emoji", has_text=emoji)
        return message.locator("button.reaction", has=emoji_span)

    def react(self, message: Locator, emoji: str) -> None:
        """React through the picker: the built-in set, or the text field for anything else."""
        self.message_action(message, "React to").click()
        picker = self.page.get_by_role("dialog", name="Add a reaction")
        expect(picker).to_be_visible()
        option = picker.locator(".emoji-option", has_text=emoji)
        if option.count():
            option.first.click()
        else:
            picker.get_by_label("Any emoji or :short_name:").fill(emoji)
            picker.get_by_role("button", name="Add").click()
        expect(picker).to_be_hidden()

    def open_thread(self, message: Locator) -> None:
        self.message_action(message, "Reply in thread to").click()
        expect(self.thread_panel).to_be_visible()
        expect(self.page.locator("#thread-status")).not_to_have_text("Loading replies…")

    def reply(self, text: str) -> None:
        self.thread_composer.fill(text)
        self.thread_composer.press("Enter")

    def notify_setting(self, label: str) -> None:
        """Choose the open room's notification setting in its dialog, then close it."""
        self.page.get_by_role("button", name="Notifications").click()
        dialog = self.page.get_by_role("dialog", name=re.compile("^Notifications for "))
        expect(dialog).to_be_visible()
        dialog.get_by_label(label).check()
        expect(dialog.get_by_role("status")).to_have_text(re.compile("^Saved"))
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()

    def state(self) -> list[dict]:
        """What the timeline shows of each message: text, edited, reactions, pinned, replies."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#message-list > li.msg[data-id]')]
              .map((li) => ({
                id: Number(li.dataset.id),
                text: li.querySelector('.msg-body')?.innerText.trim() ?? '',
                edited: Boolean(li.querySelector('.msg-edited')),
                pinned: li.classList.contains('msg-pinned'),
                reactions: [...li.querySelectorAll('.reaction')].map(
                    (c) => c.querySelector('.reaction-emoji').textContent + ' '
                        + c.querySelector('.reaction-count').textContent),
                replies: li.querySelector('.thread-open')?.textContent ?? '',
            }))"""
        )


class WebSocketGate:
    """A browser context's WebSockets refused, as by a proxy that blocks them, until allow().

    Playwright's page.route() cannot see WebSockets; context.route_web_socket() can:
    a refused socket opens and closes at once without reaching the server, so the
    page never gets its `hello`.
    """

    def __init__(self, context) -> None:
        self.allowed = False
        self.refused = 0
        context.route_web_socket(re.compile(r"/ws/$"), self._route)

    def _route(self, ws) -> None:
        if self.allowed:
            ws.connect_to_server()
        else:
            self.refused += 1
            ws.close()

    def allow(self) -> None:
        self.allowed = True


def expect_long_polling(chat: ChatPage) -> None:
    """Connected without a WebSocket: the banner says so quietly, and the page works."""
    expect(chat.page.locator("#app")).to_have_attribute("data-transport", "longpoll")
    expect(chat.banner).to_have_attribute("data-state", "compat")
    expect(chat.page.locator("#conn-text")).to_have_text("Connected (compatibility mode)")
    chat.expect_online()


def expect_websocket(chat: ChatPage, *, timeout: float | None = None) -> None:
    """Back on the WebSocket: the compatibility banner is gone."""
    expect(chat.page.locator("#app")).to_have_attribute(
        "data-transport", "websocket", timeout=timeout
    )
    chat.expect_online(timeout=timeout)
    expect(chat.banner).to_be_hidden()
