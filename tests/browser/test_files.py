"""Files and images in the browser: a file goes in by the attach button, by drag and
drop or by pasting an image; its chip shows the upload's progress, can cancel it, and
shows the server's error; the other member sees the image inline (a viewer that the
keyboard opens and Escape closes) or the file as a chip that downloads it. Names are
hostile input and render as text. The same works without WebSockets.

Files are built in the page (a canvas for the PNG), as the user's clipboard or file
manager would hand them over.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.chat import ChatPage, ConversationPage, expect_long_polling, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Small enough that the over-limit test need not push 10 MiB through the browser.
UPLOAD_LIMIT = 200_000
UPLOADS = re.compile(r"/api/uploads$")

# Page-side helpers: a PNG File drawn on a canvas, a text File, and the events a
# clipboard paste or a file manager's drop deliver (DataTransfer holding Files).
FILE_HELPERS = """() => {
window.testFiles = {
  async png(name, width, height) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext("2d");
    g.fillStyle = "#2452b8";
    g.fillRect(0, 0, width, height);
    g.fillStyle = "#ffd400";
    g.fillRect(width / 4, height / 4, width / 2, height / 2);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    return new File([blob], name, { type: "image/png" });
  },
  text(name, size) {
    return new File(["x".repeat(size)], name, { type: "text/plain" });
  },
  transfer(files) {
    const data = new DataTransfer();
    for (const file of files) data.items.add(file);
    return data;
  },
  fire(target, Kind, types, init) {
    for (const type of types) {
      target.dispatchEvent(new Kind(type, { ...init, bubbles: true, cancelable: true }));
    }
  },
  paste(files) {
    const composer = document.getElementById("composer-input");
    this.fire(composer, ClipboardEvent, ["paste"], { clipboardData: this.transfer(files) });
  },
  drop(files, types = ["dragenter", "dragover", "drop"]) {
    const room = document.getElementById("main");
    this.fire(room, DragEvent, types, { dataTransfer: this.transfer(files) });
  },
  dragOver(files) {
    this.drop(files, ["dragenter", "dragover"]);
  },
};
}"""


@pytest.fixture
def file_replicas(start_replicas, default_room, request):
    """Two replicas with a small upload limit, and a burst of uploads that the
    ten-files test does not exhaust."""
    started = start_replicas(
        2, CHAT_UPLOAD_MAX_BYTES=str(UPLOAD_LIMIT), CHAT_RATE_LIMIT_UPLOADS_BURST="50"
    )
    yield started
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        for index, replica in enumerate(started):
            print(f"--- replica {index} log (tail) ---\n{replica.log_text()}")


@pytest.fixture
def pair(file_replicas, make_person, open_chat) -> tuple[ChatPage, ChatPage]:
    """alice on one replica and bob on the other, both in General."""
    make_person("alice")
    make_person("bob")
    one, two = file_replicas
    alice = open_chat("alice", one)
    bob = open_chat("bob", two)
    for person in (alice, bob):
        person.page.evaluate(FILE_HELPERS)
    return alice, bob


def chip(person: ChatPage, name: str) -> Locator:
    """A file waiting above the composer."""
    return person.page.locator("#composer-uploads li.upload").filter(
        has=person.page.locator(".upload-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def paste_png(page: Page, name: str, width: int, height: int) -> None:
    page.evaluate(
        """async ([name, width, height]) => {
            const file = await testFiles.png(name, width, height);
            testFiles.paste([file]);
        }""",
        [name, width, height],
    )


def drop_text(page: Page, name: str, size: int) -> None:
    page.evaluate(
        """([name, size]) => testFiles.drop([testFiles.text(name, size)])""",
        [name, size],
    )


def hold_uploads(page: Page) -> list:
    """Hold every upload request at the browser until released: the chip stays in flight."""
    held: list = []
    page.route(UPLOADS, lambda route: held.append(route))
    return held


def release(page: Page, held: list) -> None:
    """Let the held uploads through to the server (Playwright drops them if unrouted first)."""
    for route in held:
        route.continue_()
    held.clear()
    page.unroute(UPLOADS)


def message_with(person: ChatPage, attachment: Locator) -> Locator:
    return person.messages.filter(has=attachment).and_(person.page.locator("[data-id]"))


def expect_image_loaded(image: Locator) -> None:
    """Shown and decoded: the browser fetched real image bytes (naturalWidth > 0)."""
    expect(image).to_be_visible()
    wait_until(
        image.page,
        lambda: image.evaluate("(img) => img.complete && img.naturalWidth > 0"),
        what="the image to load",
    )


def test_a_pasted_image_uploads_with_progress_and_shows_inline_for_the_other_member(pair):
    alice, bob = pair
    held = hold_uploads(alice.page)
    alice.composer.fill("the chart from today")
    paste_png(alice.page, "chart.png", 640, 400)

    pending = chip(alice, "chart.png")
    expect(pending.get_by_role("progressbar", name="Uploading chart.png")).to_be_visible()
    expect(alice.page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    expect(alice.composer).to_have_value("the chart from today")  # the paste left the text alone
    release(alice.page, held)
    expect(pending.locator(".upload-ready")).to_have_text("Ready to send")
    expect(pending.get_by_role("progressbar")).to_have_count(0)
    expect(alice.page.get_by_role("button", name="Send", exact=True)).to_be_enabled()

    alice.composer.press("Enter")
    expect(alice.page.locator("#composer-uploads li.upload")).to_have_count(0)
    expect(alice.composer).to_have_value("")

    thumb = bob.page.get_by_role("img", name="chart.png")
    message = message_with(bob, thumb)
    expect(message.locator(".msg-body")).to_have_text("the chart from today")
    expect(message.locator(".msg-author")).to_have_text("alice")
    expect_image_loaded(thumb)
    # Sized from the attachment's width and height before it loads (no jump): 640x400 in 360x240.
    assert (thumb.get_attribute("width"), thumb.get_attribute("height")) == ("360", "225")
    expect(thumb).to_have_attribute("loading", "lazy")
    expect_image_loaded(alice.page.get_by_role("img", name="chart.png"))

    # The viewer: by the keyboard, focus inside, the full image, its name and a download link.
    opener = message.locator("button.attachment-image")
    opener.focus()
    bob.page.keyboard.press("Enter")
    viewer = bob.page.get_by_role("dialog", name="chart.png")
    expect(viewer).to_be_visible()
    expect(viewer.get_by_role("button", name="Close")).to_be_focused()
    full = viewer.get_by_role("img", name="chart.png")
    expect_image_loaded(full)
    assert full.evaluate("(img) => img.naturalWidth") == 640
    download = viewer.get_by_role("link", name="Download")
    expect(download).to_have_attribute("download", "chart.png")
    answer = bob.page.request.get(download.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"] == "image/png"
    bob.page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(opener).to_be_focused()

    # And by the mouse, closed with its button.
    opener.click()
    expect(viewer).to_be_visible()
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()


def test_a_dropped_file_reaches_the_other_member_as_a_chip_that_downloads_it(pair):
    alice, bob = pair
    alice.page.evaluate("""() => testFiles.dragOver([testFiles.text("notes.txt", 3000)])""")
    expect(alice.page.locator("#main")).to_have_class(re.compile(r"\bdrop-active\b"))
    expect(alice.page.locator("#composer-drop")).to_be_visible()
    drop_text(alice.page, "notes.txt", 3000)
    expect(alice.page.locator("#main")).not_to_have_class(re.compile(r"\bdrop-active\b"))
    expect(alice.page.locator("#composer-drop")).to_be_hidden()

    pending = chip(alice, "notes.txt")
    expect(pending.locator(".upload-ready")).to_have_text("Ready to send")
    expect(pending.locator(".upload-size")).to_have_text("2.9 KB")
    alice.page.get_by_role("button", name="Send", exact=True).click()  # no text: the file alone
    expect(pending).to_have_count(0)

    link = bob.page.locator("#message-list a.attachment-file")
    expect(link).to_have_count(1)
    expect(link.locator(".attachment-name")).to_have_text("notes.txt")
    expect(link.locator(".attachment-size")).to_have_text("2.9 KB")
    expect(link).to_have_attribute("download", "notes.txt")
    sent = message_with(bob, bob.page.locator("a.attachment-file"))
    expect(sent.locator(".msg-author")).to_have_text("alice")
    answer = bob.page.request.get(link.get_attribute("href"))
    assert answer.ok
    assert answer.body() == b"x" * 3000
    assert answer.headers["content-disposition"].startswith("attachment")
    assert not bob.page.get_by_role("img", name="notes.txt").count()  # not an image
    # Notifications and previews name the file of a message without text.
    previews = bob.page.evaluate(
        """async () => {
          const app = document.querySelector('script[type="module"]').src;
          const { messagePreview } = await import(new URL("./format.js", app));
          const file = { name: "notes.txt" };
          return [
            messagePreview({ body: "", attachments: [file] }),
            messagePreview({ body: "", attachments: [file, file] }),
            messagePreview({ body: "see this", attachments: [file] }),
          ];
        }"""
    )
    assert previews == ["📎 notes.txt", "📎 2 files", "see this"]


def test_cancelling_an_upload_in_flight_sends_nothing_and_removes_its_chip(pair):
    alice, bob = pair
    held = hold_uploads(alice.page)
    drop_text(alice.page, "draft.txt", 5000)
    pending = chip(alice, "draft.txt")
    expect(pending.get_by_role("progressbar", name="Uploading draft.txt")).to_be_visible()
    pending.get_by_role("button", name="Cancel the upload of draft.txt").click()
    expect(pending).to_have_count(0)
    expect(alice.page.locator("#composer-uploads")).to_be_hidden()
    expect(alice.composer).to_be_focused()
    expect(alice.page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    release(alice.page, held)

    alice.send("sent after cancelling")
    for person in (alice, bob):
        message = person.expect_message("sent after cancelling")
        expect(message.locator(".attachments")).to_have_count(0)
    expect(bob.page.locator("#message-list .attachment")).to_have_count(0)


def test_a_file_over_the_limit_shows_the_servers_error_on_its_chip(pair):
    alice, bob = pair
    with alice.page.expect_response(UPLOADS) as answered:
        drop_text(alice.page, "huge.log", UPLOAD_LIMIT + 1)
    response = answered.value
    assert response.status == 413
    detail = response.json()["detail"]
    assert detail

    refused = chip(alice, "huge.log")
    expect(refused.get_by_role("alert")).to_have_text(detail)
    expect(refused).to_have_class(re.compile(r"\bupload-failed\b"))
    # The refused file does not hold the message back, and does not go with it.
    alice.send("without the log")
    expect(refused).to_have_count(0)
    message = bob.expect_message("without the log")
    expect(message.locator(".attachments")).to_have_count(0)


def test_at_most_ten_files_go_with_one_message(pair):
    alice, _ = pair
    alice.page.evaluate(
        """() => testFiles.drop(
            Array.from({ length: 11 }, (_, n) => testFiles.text(`part-${n + 1}.txt`, 10)))"""
    )
    expect(alice.page.locator("#composer-uploads li.upload")).to_have_count(10)
    expect(chip(alice, "part-11.txt")).to_have_count(0)
    expect(alice.composer_error).to_have_text("At most 10 files per message: 1 file was not added.")


def test_a_hostile_file_name_is_shown_as_text(pair):
    alice, bob = pair
    name = "<img src=x onerror=alert(1)>.txt"
    drop_text(alice.page, name, 20)
    pending = chip(alice, name)
    expect(pending.locator(".upload-ready")).to_have_text("Ready to send")
    alice.send("look at this name")

    for person in (bob, alice):
        message = person.expect_message("look at this name")
        chip_link = message.locator("a.attachment-file")
        expect(chip_link.locator(".attachment-name")).to_have_text(name)
        expect(chip_link).to_have_attribute("download", name)
        expect(message.locator(".attachments img")).to_have_count(0)
    # page_watch fails the test if an alert() ran or the page threw.


def test_a_reply_in_a_thread_carries_files_dropped_on_the_thread_panel(pair):
    alice, bob = pair
    alice_talks, bob_talks = (ConversationPage(p.page, p.username) for p in pair)
    alice.send("the minutes, anyone?")
    alice_talks.open_thread(alice.expect_message("the minutes, anyone?"))
    bob_talks.open_thread(bob.expect_message("the minutes, anyone?"))

    # Dropped on the thread, the file goes with the reply, not with the room's composer.
    alice.page.evaluate(
        """() => testFiles.fire(document.getElementById("thread-panel"), DragEvent,
            ["dragenter", "dragover", "drop"],
            { dataTransfer: testFiles.transfer([testFiles.text("minutes.txt", 1500)]) })"""
    )
    thread_chip = alice.page.locator("#thread-composer-uploads li.upload")
    expect(thread_chip.locator(".upload-name")).to_have_text("minutes.txt")
    expect(thread_chip.locator(".upload-ready")).to_have_text("Ready to send")
    expect(alice.page.locator("#composer-uploads li.upload")).to_have_count(0)
    alice_talks.reply("here they are")
    expect(thread_chip).to_have_count(0)

    for person in (bob_talks, alice_talks):
        reply = person.thread_message("here they are")
        link = reply.locator("a.attachment-file")
        expect(link.locator(".attachment-name")).to_have_text("minutes.txt")
        answer = person.page.request.get(link.get_attribute("href"))
        assert answer.ok and answer.body() == b"x" * 1500
    # The reply stays in its thread: the room's timeline shows only the root.
    expect(bob.message("here they are")).to_have_count(0)

    # The attach button of the thread's composer works too.
    with bob.page.expect_file_chooser() as chooser:
        bob.page.get_by_role("button", name="Attach files to the reply").click()
    chooser.value.set_files(
        files=[{"name": "agenda.txt", "mimeType": "text/plain", "buffer": b"1. minutes"}]
    )
    expect(bob.page.locator("#thread-composer-uploads .upload-ready")).to_have_text("Ready to send")
    bob.page.locator("#thread-composer-send").click()
    link = alice_talks.thread_messages.locator("a.attachment-file", has_text="agenda.txt")
    expect(link).to_have_count(1)


def test_an_image_stored_in_s3_shows_inline_for_the_other_member(
    start_replicas, default_room, make_person, open_chat, s3_endpoint
):
    """With the files in a bucket, the thumbnail's 302 goes to a presigned URL on the
    store; the page's CSP lets the browser follow it, so the image shows."""
    import boto3

    bucket = "chat-files-browser"
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    one, two = start_replicas(
        2,
        CHAT_S3_BUCKET=bucket,
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        **credentials,
    )
    make_person("alice")
    make_person("bob")
    alice, bob = open_chat("alice", one), open_chat("bob", two)
    alice.page.evaluate(FILE_HELPERS)
    paste_png(alice.page, "from-the-bucket.png", 320, 200)
    expect(chip(alice, "from-the-bucket.png").locator(".upload-ready")).to_have_text(
        "Ready to send"
    )
    alice.send("stored in S3")

    thumb = bob.page.get_by_role("img", name="from-the-bucket.png")
    expect_image_loaded(thumb)
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 2  # the image, its thumbnail
    for item in client.list_objects_v2(Bucket=bucket)["Contents"]:
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def test_without_websockets_the_attach_button_sends_an_image_over_http(
    file_replicas, make_person, open_chat, open_chat_without_websockets
):
    make_person("alice")
    make_person("bob")
    one, two = file_replicas
    alice, _gate = open_chat_without_websockets("alice", one.http_url)
    expect_long_polling(alice)
    bob = open_chat("bob", two)
    alice.page.evaluate(FILE_HELPERS)

    png = alice.page.evaluate(
        """async () => {
            const file = await testFiles.png("diagram.png", 120, 80);
            return Array.from(new Uint8Array(await file.arrayBuffer()));
        }"""
    )
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach files").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(
        [{"name": "diagram.png", "mimeType": "image/png", "buffer": bytes(png)}]
    )
    expect(chip(alice, "diagram.png").locator(".upload-ready")).to_have_text("Ready to send")
    alice.send("drawn without a socket")

    for person in (bob, alice):
        message = person.expect_message("drawn without a socket")
        expect_image_loaded(message.get_by_role("img", name="diagram.png"))
    assert bob.page.get_by_role("img", name="diagram.png").get_attribute("width") == "120"
