"""Signing up, in and out through the real pages, which look like the product."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_to_first_message(replicas, make_person, open_chat, new_page):
    make_person("bob")
    one, two = replicas
    bob = open_chat("bob", two)

    page = new_page(one.http_url, "newcomer")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_role("main").get_by_role("link", name="sign up").click()
    expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password", exact=True).fill("a long and unusual passphrase")
    page.get_by_label("Password (again)").fill("a long and unusual passphrase")
    page.get_by_role("button", name="Sign Up").click()

    newcomer = ChatPage(page, "newcomer")
    expect(page).to_have_url(re.compile(r"/#/r/general$"))
    newcomer.expect_online()
    expect(newcomer.room_title).to_have_text("General")
    expect(newcomer.member("newcomer")).to_contain_text("(you)")
    expect(bob.member("newcomer")).to_have_class(re.compile(r"\bis-online\b"))

    newcomer.send("Hello everyone, I just signed up!")
    mine = newcomer.expect_message("Hello everyone, I just signed up!", author="newcomer")
    expect(mine.locator(".msg-status")).to_have_count(0)  # settled, not "Sending…"
    bob.expect_message("Hello everyone, I just signed up!", author="newcomer")

    # Sign out, and back in: the message is still there.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    newcomer.sign_in(password="a long and unusual passphrase")
    newcomer.expect_online()
    newcomer.expect_message("Hello everyone, I just signed up!", author="newcomer")


def test_account_pages_share_the_products_look_and_password_reset_works(replicas, new_page):
    one, _ = replicas
    page = new_page(one.http_url, "visitor")
    for path, heading in [
        ("/accounts/login/", "Sign In"),
        ("/accounts/signup/", "Sign Up"),
        ("/accounts/password/reset/", "Password Reset"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("link", name="Chat")).to_be_visible()  # the product's header
        expect(page.locator(".card")).to_be_visible()
        # Every field has a visible label.
        for field in page.locator(".card input:not([type=hidden]):not([type=checkbox])").all():
            field_id = field.get_attribute("id")
            expect(page.locator(f"label[for='{field_id}']")).to_be_visible()

    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name="Reset My Password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password Reset")
    expect(page.locator(".card")).to_contain_text("sent you an email")

    # Wrong credentials say so, on the same styled page.
    page.goto("/accounts/login/")
    page.get_by_label("Login", exact=True).fill("nobody")
    page.get_by_label("Password", exact=True).fill("wrong")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("alert")).to_contain_text("not correct")


def test_signing_out_in_one_tab_tells_the_other(replicas, make_person, open_chat):
    make_person("alice")
    one, _ = replicas
    alice = open_chat("alice", one)
    second_tab = alice.page.context.new_page()
    second_tab.goto("/")
    expect(second_tab.locator("#app")).to_have_attribute("data-connection", "online")
    second_tab.get_by_role("button", name="Sign out").click()
    expect(second_tab).to_have_url(re.compile(r"/accounts/login/$"))

    expect(alice.banner).to_contain_text("Your session has ended.")
    expect(alice.page.locator("#app")).to_have_attribute("data-connection", "signed_out")
    alice.banner.get_by_role("link", name="Sign in again").click()
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Sign In")
