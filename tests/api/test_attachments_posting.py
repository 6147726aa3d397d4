"""Posting files: a message carries the uploads named in `attachments` (the API's
`POST …/messages` and the socket's `send` alike), each at most once, only the
poster's own, at most ten; the message object lists them wherever it appears."""

import io

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from chat.models import Message
from files.models import Upload
from files.services import upload_create
from tests.support.frames import receive_type

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def upload(user, name: str = "notes.txt", data: bytes = b"plan: ship it\n") -> Upload:
    return upload_create(user=user, uploaded_file=SimpleUploadedFile(name, data))


def post(api, body: str = "", **fields):
    return api.post("/api/rooms/general/messages", {"body": body, **fields})


def test_a_message_carries_its_files_in_order_and_history_shows_them(make_user, bearer):
    alice = make_user("alice")
    picture, notes = upload(alice, "chart.png", png()), upload(alice)
    response = post(bearer(alice), "the numbers", attachments=[picture.id, notes.id])
    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [a["name"] for a in attachments] == ["chart.png", "notes.txt"]
    image, text = attachments
    assert (image["content_type"], image["width"], image["height"]) == ("image/png", 40, 30)
    assert image["url"].startswith(f"/files/{picture.id}/") and image["thumbnail_url"]
    assert text["size"] == len(b"plan: ship it\n") and text["url"].startswith("/files/")
    page = bearer(make_user("bob")).get("/api/rooms/general/messages").json()
    assert page["messages"][-1]["attachments"] == attachments


def test_files_alone_make_a_message_but_nothing_at_all_does_not(make_user, bearer):
    alice = make_user("alice")
    api = bearer(alice)
    assert post(api, "   ").status_code == 422
    response = post(api, attachments=[upload(alice).id])
    assert response.status_code == 201, response.content
    assert response.json()["body"] == ""


def test_an_upload_posts_once(make_user, bearer):
    alice = make_user("alice")
    api, notes = bearer(alice), upload(alice)
    assert post(api, "first", attachments=[notes.id]).status_code == 201
    again = post(api, "second", attachments=[notes.id])
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert list(Message.objects.values_list("body", flat=True)) == ["first"]


def test_someone_elses_upload_is_no_upload(make_user, bearer):
    alice, bob = make_user("alice"), make_user("bob")
    theirs = upload(alice)
    response = post(bearer(bob), "look", attachments=[theirs.id])
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    missing = post(bearer(bob), "look", attachments=[theirs.id + 1000]).json()
    # The same answer as for an id nobody has: nothing to learn by probing.
    assert (
        missing["detail"].replace(str(theirs.id + 1000), str(theirs.id))
        == (response.json()["detail"])
    )
    assert not Message.objects.exists()
    assert Upload.objects.get(pk=theirs.pk).attached_at is None


@pytest.mark.parametrize("attachments", [[1] * 2, ["1"], "1", [True]])
def test_malformed_attachment_lists_are_refused(make_user, bearer, attachments):
    response = post(bearer(make_user("alice")), "x", attachments=attachments)
    assert response.status_code == 422
    assert not Message.objects.exists()


def test_at_most_ten_files_per_message_and_a_refusal_leaves_them_unused(
    make_user, bearer, settings
):
    settings.CHAT_RATE_LIMIT_UPLOADS_BURST = 11
    alice = make_user("alice")
    uploads = [upload(alice, f"f{i}.txt") for i in range(11)]
    response = post(bearer(alice), "many", attachments=[u.id for u in uploads])
    assert response.status_code == 422 and "10" in response.json()["detail"]
    assert not Upload.objects.exclude(attached_at=None).exists()
    ten = post(bearer(alice), "ten", attachments=[u.id for u in uploads[:10]])
    assert ten.status_code == 201 and len(ten.json()["attachments"]) == 10


async def test_the_socket_sends_files_and_the_room_sees_them(make_user, connect):
    alice, bob = [await database_sync_to_async(make_user)(n) for n in ("alice", "bob")]
    notes = await database_sync_to_async(upload)(alice)
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await alice_socket.send_json_to(
        {"type": "send", "room": "general", "body": "", "attachments": [notes.id], "ref": "r1"}
    )
    own = await receive_type(alice_socket, "message")
    assert [a["id"] for a in own["message"]["attachments"]] == [notes.id]
    seen = await receive_type(bob_socket, "message")
    assert seen["message"]["attachments"] == own["message"]["attachments"]
    await alice_socket.send_json_to(
        {"type": "send", "room": "general", "body": "again", "attachments": [notes.id]}
    )
    error = await receive_type(alice_socket, "error")
    assert error["code"] == "conflict"
