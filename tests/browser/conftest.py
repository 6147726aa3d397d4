"""Browser fixtures: Debian's Chromium driven by Playwright against real daphne replicas.

Every page any test opens is watched: a JavaScript dialog (alert/confirm/
prompt) or an uncaught page error fails the test at teardown, so no test can
pass while the client executes something a user typed or throws.
On failure each open page is screenshotted into tests/browser/artifacts/.
"""

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.browser.chat import ChatPage, WebSocketGate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Assertions wait up to this long: replicas, Redis and catch-up are real.
EXPECT_TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API keeps an event loop running in this thread, and
    Django refuses ORM calls from a thread with a running loop. The tests'
    ORM calls are plain synchronous setup, so lift that guard, for browser
    tests only (set up before, and torn down after, the database fixtures)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator:
    """A headless Chromium for one test (function-scoped on purpose: sync
    Playwright's loop must not outlive the browser tests, or the asyncio
    tests that run after them could not start theirs)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install Debian's package with:\n"
            "  apt-get install -y chromium   (or: make system-deps)",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """Dialogs and page errors seen on every page of a test."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.pages: dict[str, object] = {}

    def watch(self, page, name: str) -> None:
        self.pages[name] = page

        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{name}: {dialog.type} {dialog.message!r}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(f"{name}: {error}"))


@pytest.fixture
def page_watch(request) -> Iterator[PageWatch]:
    watch = PageWatch()
    yield watch
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in watch.pages.items():
            if page.is_closed():
                continue
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{name}")
            page.screenshot(path=str(ARTIFACTS / f"failed-{safe}.png"), full_page=True)
    assert not watch.dialogs, f"a JavaScript dialog opened: {watch.dialogs}"
    assert not watch.errors, f"uncaught errors in the page: {watch.errors}"


@pytest.fixture
def replicas(start_replicas, default_room, request) -> Iterator[list]:
    """Two daphne replicas on the test database and Redis."""
    started = start_replicas(2)
    yield started
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        for index, replica in enumerate(started):
            print(f"--- replica {index} log (tail) ---\n{replica.log_text()}")


@pytest.fixture
def in_thread() -> Callable:
    """Run server-side code (services that emit events, ORM seeding) in a worker
    thread: async_to_sync, which events use, refuses a thread with a running
    event loop, and this one has Playwright's."""
    from django.db import connections

    def run(func: Callable, *args, **kwargs):
        def call():
            try:
                return func(*args, **kwargs)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(call).result()

    return run


@pytest.fixture
def make_person(make_user, in_thread) -> Callable:
    """A user who can sign in on the replicas with the password "pw-<username>".

    tests/settings.py stores passwords with the fast MD5 hasher, which the
    replicas (project.settings) do not accept, so the hash is rewritten
    with the replicas' default hasher. Made in a worker thread: onboarding
    sends `member_joined`, which cannot be sent from Playwright's thread.
    """
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    def create(username: str, **extra):
        user = make_user(username, **extra)
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(f"pw-{username}", hasher.salt())
        # A queryset update: not a password *change* (which closes the user's sockets).
        type(user).objects.filter(pk=user.pk).update(password=user.password)
        return user

    def make(username: str, **extra):
        return in_thread(create, username, **extra)

    return make


@pytest.fixture
def new_page(browser, page_watch) -> Callable:
    """A fresh browser context and page on a replica; `name` labels it in failures."""

    def open_page(base_url: str, name: str, *, viewport=DESKTOP, color_scheme="light", **options):
        context = browser.new_context(
            base_url=base_url, viewport=viewport, color_scheme=color_scheme, **options
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        page = context.new_page()
        page_watch.watch(page, name)
        return page

    return open_page


@pytest.fixture
def open_chat(new_page) -> Callable[..., ChatPage]:
    """Sign a user in through the real login page of a replica; returns the chat page."""

    def sign_in(user, replica, **options) -> ChatPage:
        username = user if isinstance(user, str) else user.get_username()
        page = new_page(replica.http_url, username, **options)
        chat = ChatPage(page, username)
        chat.sign_in(password=f"pw-{username}")
        chat.expect_online()
        return chat

    return sign_in


@pytest.fixture
def open_chat_without_websockets(new_page) -> Callable[..., tuple[ChatPage, WebSocketGate]]:
    """Like open_chat, for a browser whose WebSockets are refused from the first page on;
    returns the chat page and its gate (gate.allow() lets sockets through again)."""

    def sign_in(user, base_url: str, **options) -> tuple[ChatPage, WebSocketGate]:
        username = user if isinstance(user, str) else user.get_username()
        page = new_page(base_url, username, **options)
        gate = WebSocketGate(page.context)
        chat = ChatPage(page, username)
        chat.sign_in(password=f"pw-{username}")
        chat.expect_online()
        return chat, gate

    return sign_in
