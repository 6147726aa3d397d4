"""Searching messages in the browser: `/` opens the search, hits show their room, author
and an escaped highlight, and choosing one opens the room at that message."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_slash_searches_my_rooms_and_a_hit_opens_its_message(
    replicas, make_person, open_chat, default_room, in_thread
):
    from chat import services
    from chat.models import Message

    make_person("alice")
    bob = make_person("bob")
    carol = make_person("carol")

    def write() -> Message:
        secret = services.room_create(creator=carol, name="Secret", slug="secret", kind="private")
        services.message_post(user=carol, room=secret, body="quarterly numbers, carol only")
        target, _ = services.message_post(
            user=bob, room=default_room, body="the <b>quarterly</b> report is due"
        )
        for n in range(10):  # the hit is not the newest message
            Message.objects.create(room=default_room, author=bob, body=f"filler {n}", html="")
        return target

    target = in_thread(write)
    (one, _) = replicas
    page = open_chat("alice", one)

    page.page.locator("#messages").click()
    page.page.keyboard.press("/")
    dialog = page.page.get_by_role("dialog", name="Search messages")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Search my rooms").fill("quarterly")
    dialog.get_by_label("Search my rooms").press("Enter")
    hits = dialog.locator(".search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first.locator(".search-hit-room")).to_have_text("General")
    expect(hits.first.locator(".search-hit-author")).to_have_text("bob")
    expect(hits.first.locator("mark")).to_have_text("quarterly")
    expect(hits.first.locator(".search-hit-text")).to_have_text(
        "the <b>quarterly</b> report is due"
    )
    expect(hits.first.locator("b")).to_have_count(0)
    expect(dialog.get_by_role("status")).to_have_text("1 message found.")

    hits.first.click()
    expect(dialog).to_be_hidden()
    expect(page.room_title).to_have_text("General")
    expect(page.page.locator(f"#msg-{target.id}")).to_be_visible()


def test_a_file_is_found_by_a_word_of_its_name_and_its_hit_names_it_as_text(
    replicas, make_person, open_chat, default_room, in_thread
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chat import services
    from files.services import upload_create

    make_person("alice")
    bob = make_person("bob")
    name = "<img src=x onerror=alert(1)>Q3-minutes.txt"

    def write():
        upload = upload_create(
            user=bob, uploaded_file=SimpleUploadedFile(name, b"notes", content_type="text/plain")
        )
        message, _ = services.message_post(
            user=bob, room=default_room, body="", attachments=[upload.id]
        )
        return message

    posted = in_thread(write)
    page = open_chat("alice", replicas[0])
    page.page.get_by_role("button", name="Search messages").click()
    dialog = page.page.get_by_role("dialog", name="Search messages")
    dialog.get_by_label("Search my rooms").fill("minutes")
    dialog.get_by_label("Search my rooms").press("Enter")
    hits = dialog.locator(".search-hit")
    expect(hits).to_have_count(1)
    expect(hits.first.locator(".search-hit-file")).to_have_text(name)
    expect(hits.first.locator("img")).to_have_count(0)
    expect(hits.first.locator(".search-hit-author")).to_have_text("bob")

    hits.first.click()
    expect(page.page.locator(f"#msg-{posted.id} .attachment-name")).to_have_text(name)
    # page_watch fails the test if an alert() ran or the page threw.


def test_from_and_in_narrow_a_search_to_an_author_and_a_room(
    replicas, make_person, open_chat, default_room, in_thread
):
    from chat import services

    alice = make_person("alice")
    bob = make_person("bob")

    def write() -> None:
        random = services.room_create(creator=alice, name="Random", slug="random")
        services.room_join(user=bob, room=random)
        services.message_post(user=bob, room=default_room, body="status report from bob")
        services.message_post(user=alice, room=default_room, body="status report from alice")
        services.message_post(user=bob, room=random, body="status report in random")

    in_thread(write)
    page = open_chat("alice", replicas[0])
    page.page.get_by_role("button", name="Search messages").click()
    dialog = page.page.get_by_role("dialog", name="Search messages")
    box = dialog.get_by_label("Search my rooms")
    hits = dialog.locator(".search-hit .search-hit-text")

    def search(query: str) -> None:
        box.fill(query)
        box.press("Enter")

    search("report from:bob")
    expect(hits).to_have_text(["status report in random", "status report from bob"])
    search("report from:@bob in:#general")
    expect(hits).to_have_text(["status report from bob"])
    search("in:Random report")
    expect(hits).to_have_text(["status report in random"])
    search("report in:nowhere")
    expect(dialog.get_by_role("status")).to_have_text("You are in no room called “nowhere”.")
    expect(hits).to_have_count(0)
    search("from:bob")
    expect(dialog.get_by_role("status")).to_contain_text("Add a word to search for")
