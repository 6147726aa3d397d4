"""The rough edges a new team tripped on (issue 17): the phone header, actions
shown only to those who may use them, confirmations, long messages, join
lines, drafts, shortcuts, the quick switcher and a dropped network."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Quarterly planning and roadmap"


def test_on_a_phone_the_room_actions_fold_into_one_menu_and_the_name_stays_readable(
    start_replicas, make_person, open_chat, in_thread
):
    from chat.services import room_create

    owner = make_person("olga")
    in_thread(room_create, creator=owner, name=LONG_NAME, slug="planning", kind="private")
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica, viewport=PHONE, is_mobile=True, has_touch=True)
    page = olga.page
    page.goto("/#/r/planning")
    expect(olga.room_title).to_have_text(LONG_NAME)

    menu = page.get_by_role("button", name="Room actions")
    expect(menu).to_be_visible()
    for action in ("Room settings", "Invite", "Leave"):
        expect(page.get_by_role("button", name=action, exact=True)).to_be_hidden()
    width = olga.room_title.locator(".room-title-text").bounding_box()["width"]
    assert width >= 120, f"the room name gets {width:.0f} px at {PHONE['width']} px"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"

    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for action in ("Room settings", "Invite", "Leave"):
        button = page.get_by_role("button", name=action, exact=True)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], action
    page.get_by_role("button", name="Room settings").tap()
    expect(page.get_by_role("dialog", name=f"Settings of {LONG_NAME}")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")


def test_invite_shows_only_to_those_who_may_invite(
    start_replicas, make_person, open_chat, in_thread
):
    from chat.services import room_archive, room_create, room_invite

    owner = make_person("olga")
    make_person("bob")

    def make_rooms():
        ops = room_create(creator=owner, name="Ops", slug="ops", kind="private")
        old = room_create(creator=owner, name="Old", slug="old", kind="private")
        for room in (ops, old):
            room_invite(by=owner, room=room, username="bob")
        room_archive(by=owner, room=old)

    in_thread(make_rooms)
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    bob = open_chat("bob", replica)
    invite = re.compile(r"^Invite$")

    olga.open_room("Ops")
    expect(olga.member("bob")).to_be_visible()
    expect(olga.page.get_by_role("button", name=invite)).to_be_visible()  # the owner may
    olga.open_room("Old")
    expect(olga.page.get_by_role("button", name="Room settings")).to_be_visible()
    expect(olga.page.get_by_role("button", name=invite)).to_be_hidden()  # archived: nobody

    for room in ("Ops", "Old", "General"):
        bob.open_room(room)
        expect(bob.member("bob")).to_be_visible()  # the member list (and so the role) is in
        expect(bob.page.get_by_role("button", name=invite)).to_be_hidden()
        expect(bob.page.get_by_role("button", name="Room settings")).to_be_hidden()
    expect(bob.page.get_by_role("button", name="Leave")).to_be_visible()


def test_leave_and_archive_ask_first(start_replicas, make_person, open_chat, in_thread):
    from chat.services import room_create, room_join

    owner = make_person("olga")
    bob_user = make_person("bob")

    def make_rooms():
        room_create(creator=owner, name="Ops", slug="ops")
        room_join(user=bob_user, room=room_create(creator=owner, name="Design", slug="design"))

    in_thread(make_rooms)
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    bob = open_chat("bob", replica)

    bob.open_room("Design")
    bob.page.get_by_role("button", name="Leave").click()
    question = bob.page.get_by_role("dialog", name="Leave Design?")
    expect(question).to_be_visible()
    expect(question.get_by_role("button", name="Cancel")).to_be_focused()
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    expect(bob.room_link("Design")).to_have_count(1)  # still a member
    bob.page.get_by_role("button", name="Leave").click()
    question.get_by_role("button", name="Leave room").click()
    expect(bob.room_link("Design")).to_have_count(0)
    expect(olga.page.locator("#app")).to_be_visible()

    olga.open_room("Ops")
    olga.room_settings().get_by_role("button", name="Archive room").click()
    question = olga.page.get_by_role("dialog", name="Archive Ops?")
    expect(question).to_contain_text("Nobody will be able to post")
    question.get_by_role("button", name="Cancel").click()
    expect(olga.composer).to_be_enabled()  # not archived
    olga.page.get_by_role("button", name="Archive room").click()
    question.get_by_role("button", name="Archive room").click()
    expect(olga.composer).to_be_disabled()


def test_long_messages_fold_and_drafts_survive_a_reload(start_replicas, make_person, open_chat):
    make_person("olga")
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    page = olga.page

    long_text = " ".join(f"word{n:03d}" for n in range(412))  # 3,295 characters
    olga.send(long_text)
    message = olga.expect_message("word000")
    body = message.locator(".msg-body")
    expect(message.get_by_role("button", name="Show more")).to_be_visible()
    assert body.bounding_box()["height"] <= 330
    message.get_by_role("button", name="Show more").click()
    expect(message.get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )
    assert body.bounding_box()["height"] > 400
    expect(body).to_contain_text("word411")

    olga.composer.fill("a half-written thought")
    page.reload()
    olga.expect_online()
    expect(olga.composer).to_have_value("a half-written thought")
    olga.composer.press("Enter")
    olga.expect_message("a half-written thought")
    page.reload()
    olga.expect_online()
    expect(olga.composer).to_have_value("")


def test_join_lines_shortcuts_help_and_the_quick_switcher(
    start_replicas, make_person, open_chat, in_thread
):
    from accounts.models import Profile
    from chat.models import Room
    from chat.services import room_create, room_join

    owner = make_person("olga")
    ana = make_person("ana")
    in_thread(room_create, creator=owner, name="Design", slug="design")
    in_thread(lambda: Profile.objects.filter(user=ana).update(display_name="Ana Lima"))
    (replica,) = start_replicas(1)
    olga = open_chat("olga", replica)
    page = olga.page

    olga.open_room("Design")
    olga.send("first")
    olga.expect_message("first")
    fresh = in_thread(type(ana).objects.get, pk=ana.pk)  # with the new display name
    in_thread(lambda: room_join(user=fresh, room=Room.objects.get(slug="design")))
    expect(page.locator("#message-list .system-line")).to_have_text("Ana Lima joined")

    # `?` outside the composer opens the shortcuts; inside it, it is just a character.
    olga.composer.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    expect(olga.composer).to_have_value("?")
    olga.composer.fill("")
    page.locator("#messages").focus()
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_contain_text("Jump to a room or person")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    olga.composer.press("Control+/")
    expect(shortcuts).to_be_visible()
    page.keyboard.press("Escape")

    olga.composer.press("Control+k")
    switcher = page.get_by_role("dialog", name="Jump to a room or person")
    expect(switcher).to_be_visible()
    switcher.get_by_role("combobox").fill("gen")
    expect(switcher.get_by_role("option")).to_have_text(["General"])
    page.keyboard.press("Enter")
    expect(switcher).to_be_hidden()
    expect(olga.room_title).to_have_text("General")
    expect(olga.composer).to_be_focused()


class Line:
    """alice's network, between her page and the replica: up, or dead without a
    word (frames vanish both ways and new sockets are refused), like Wi-Fi that
    is gone. Playwright's set_offline alone does not touch open WebSockets."""

    def __init__(self) -> None:
        self.up = True

    def route(self, ws) -> None:
        if not self.up:
            ws.close()
            return
        server = ws.connect_to_server()
        ws.on_message(lambda message: self.up and server.send(message))
        server.on_message(lambda message: self.up and ws.send(message))


def signed_in_behind(line: Line, new_page, replica, username: str):
    from tests.browser.chat import ChatPage

    page = new_page(replica.http_url, username)
    page.context.route_web_socket(re.compile(r"/ws/$"), line.route)
    chat = ChatPage(page, username)
    chat.sign_in(password=f"pw-{username}")
    chat.expect_online()
    return chat


def test_a_dead_network_shows_within_seconds_and_what_was_written_waits_then_goes_once(
    replicas, make_person, open_chat, new_page
):
    make_person("alice")
    make_person("bob")
    one, two = replicas
    line = Line()
    alice = signed_in_behind(line, new_page, one, "alice")
    bob = open_chat("bob", two)
    alice.send("before the cut")
    bob.expect_message("before the cut")

    # The network goes: the browser says so ("offline" event), the line is dead.
    line.up = False
    alice.page.context.set_offline(True)
    expect(alice.banner).to_contain_text("you are offline", timeout=5_000)
    alice.send("written while offline")
    pending = alice.message("written while offline")
    expect(pending.locator(".msg-status")).to_have_text(re.compile("^Waiting to send"))
    expect(pending).not_to_contain_text("Not sent")
    bob.send("bob meanwhile")

    line.up = True
    alice.page.context.set_offline(False)  # "online": it reconnects at once
    alice.expect_online(timeout=10_000)
    alice.expect_message("written while offline", author="alice")
    alice.expect_message("bob meanwhile", author="bob")
    bob.expect_message("written while offline", author="alice")
    for person in (alice, bob):
        shown = person.shown_messages()
        # bob's was stored while alice was away, hers once she was back.
        expected = ["before the cut", "bob meanwhile", "written while offline"]
        assert [m["text"] for m in shown] == expected, person.username
        assert len({m["id"] for m in shown}) == 3 and not any(m["pending"] for m in shown)

    # A line that dies silently (the browser still thinks it is online) is found
    # by the client's ping within seconds, not the 35 s it took before.
    line.up = False
    expect(alice.banner).to_contain_text("Connection lost", timeout=12_000)
    alice.send("sent into the void")
    expect(alice.message("sent into the void").locator(".msg-status")).to_have_text(
        re.compile("^Waiting to send")
    )
    line.up = True
    alice.page.get_by_role("button", name="Reconnect now").click()
    alice.expect_online()
    bob.expect_message("sent into the void", author="alice")
    assert bob.shown_texts().count("sent into the void") == 1


def test_weak_passwords_are_refused_with_every_reason_at_once(replicas, new_page):
    one, _ = replicas
    page = new_page(one.http_url, "newcomer")
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Email").fill("newcomer@example.com")
    for weak, reasons in [
        ("password", ["too short", "too common"]),
        ("12345678", ["too short", "too common", "entirely numeric"]),
    ]:
        page.get_by_label("Password", exact=True).fill(weak)
        page.get_by_label("Password (again)").fill(weak)
        page.get_by_role("button", name="Sign Up").click()
        expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
        form = page.locator(".card")
        for reason in reasons:
            expect(form).to_contain_text(re.compile(reason, re.IGNORECASE))
        # Kept, so fixing one character does not mean typing both again.
        expect(page.get_by_label("Password", exact=True)).to_have_value(weak)
        expect(page.get_by_label("Username")).to_have_value("newcomer")

    page.get_by_label("Password", exact=True).fill("Lantern-harbour-91")
    page.get_by_label("Password (again)").fill("Lantern-harbour-91")
    page.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(re.compile(r"/#/r/general$"))


def test_reloading_after_creating_a_token_makes_no_second_one(
    start_replicas, make_person, open_chat, in_thread
):
    user = make_person("olga")
    (replica,) = start_replicas(1)
    page = open_chat("olga", replica).page
    page.goto("/accounts/profile/")
    page.get_by_label("New token name").fill("deploy bot")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    expect(shown).to_have_value(re.compile(r"^chat_"))
    page.reload()
    expect(page.get_by_role("cell", name="deploy bot", exact=True)).to_have_count(1)
    expect(shown).to_have_count(0)  # shown once only
    assert in_thread(lambda: user.api_tokens.count()) == 1
