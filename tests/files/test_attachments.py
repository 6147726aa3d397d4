"""Claiming uploads for a new message, binding them, and who may read them then."""

import pytest
from django.db import transaction

from chat import services as chat_services
from files.selectors import attachment_payload, upload_readable
from files.services import attachments_claim
from project.errors import ClientError

pytestmark = pytest.mark.django_db


def post_with(user, room, uploads):
    """A message carrying the uploads, posted as the socket and the API post it."""
    message, _ = chat_services.message_post(
        user=user, room=room, body="see attached", attachments=[u.id for u in uploads]
    )
    return message


def test_claim_returns_the_uploads_in_the_order_given(people, secret, upload_of):
    first, second = upload_of(people["bob"]), upload_of(people["bob"])
    with transaction.atomic():
        claimed = attachments_claim(user=people["bob"], ids=[second.id, first.id], room=secret)
    assert [u.id for u in claimed] == [second.id, first.id]


@pytest.mark.parametrize("ids", [None, []])
def test_no_attachments_claims_nothing(people, secret, ids):
    assert attachments_claim(user=people["bob"], ids=ids, room=secret) == []


@pytest.mark.parametrize(
    ("ids", "words"),
    [
        ("1", "list"),
        ({"id": 1}, "list"),
        ([1.5], "integers"),
        (["1"], "integers"),
        ([True], "integers"),
        ([0], "integers"),
        ([-3], "integers"),
        ([2**63], "integers"),
        ([1, 1], "more than once"),
        (list(range(1, 12)), "at most 10"),
    ],
)
def test_malformed_ids_are_invalid(people, secret, ids, words):
    with pytest.raises(ClientError) as refused:
        attachments_claim(user=people["bob"], ids=ids, room=secret)
    assert refused.value.code == "invalid"
    assert words in refused.value.detail


def test_someone_elses_upload_answers_like_a_missing_one(people, secret, upload_of):
    mine = upload_of(people["bob"])
    theirs = upload_of(people["mona"])
    answers = []
    for ids in ([mine.id, theirs.id], [mine.id, theirs.id + 1000]):
        with pytest.raises(ClientError) as refused, transaction.atomic():
            attachments_claim(user=people["bob"], ids=ids, room=secret)
        answers.append(refused.value.code)
    assert answers == ["not_found", "not_found"]


def test_an_upload_attaches_to_one_message_only(people, secret, upload_of):
    upload = upload_of(people["bob"])
    post_with(people["bob"], secret, [upload])
    with pytest.raises(ClientError) as refused, transaction.atomic():
        attachments_claim(user=people["bob"], ids=[upload.id], room=secret)
    assert refused.value.code == "conflict"


def test_bind_points_the_uploads_at_the_message_and_its_room(people, secret, upload_of):
    upload = upload_of(people["bob"])
    message = post_with(people["bob"], secret, [upload])
    upload.refresh_from_db()
    assert (upload.message_id, upload.room_id) == (message.id, secret.id)
    assert upload.attached_at is not None
    assert list(message.attachments.all()) == [upload]


def test_only_the_uploader_reads_an_unattached_upload(people, upload_of):
    upload = upload_of(people["bob"])
    assert upload_readable(user=people["bob"], upload_id=upload.id) == upload
    for user in (people["olga"], None):
        with pytest.raises(ClientError) as refused:
            upload_readable(user=user, upload_id=upload.id)
        assert refused.value.code == "not_found"


def test_members_read_an_attached_upload_and_others_do_not(people, secret, upload_of):
    upload = upload_of(people["bob"])
    post_with(people["bob"], secret, [upload])
    for name in ("olga", "mona", "bob"):
        assert upload_readable(user=people[name], upload_id=upload.id).id == upload.id
    with pytest.raises(ClientError) as refused:
        upload_readable(user=people["eve"], upload_id=upload.id)
    assert refused.value.code == "not_found"


def test_leaving_the_room_takes_its_files_out_of_view(people, secret, upload_of):
    upload = upload_of(people["olga"])
    post_with(people["olga"], secret, [upload])
    chat_services.room_leave(user=people["bob"], room=secret)
    with pytest.raises(ClientError):
        upload_readable(user=people["bob"], upload_id=upload.id)


def test_deleting_the_message_takes_its_files_out_of_view(people, secret, upload_of):
    upload = upload_of(people["bob"])
    message = post_with(people["bob"], secret, [upload])
    chat_services.message_soft_delete(message=message)
    for name in ("olga", "bob"):
        with pytest.raises(ClientError) as refused:
            upload_readable(user=people[name], upload_id=upload.id)
        assert refused.value.code == "not_found"


@pytest.mark.parametrize("upload_id", ["x", None, -1, 0, 2**64, "1; drop"])
def test_nonsense_ids_are_not_found(people, upload_id):
    with pytest.raises(ClientError) as refused:
        upload_readable(user=people["bob"], upload_id=upload_id)
    assert refused.value.code == "not_found"


def test_the_payload_of_a_download(people, upload_of):
    upload = upload_of(people["bob"], name="notes & plans.txt")
    assert attachment_payload(upload) == {
        "id": upload.id,
        "name": "notes & plans.txt",
        "size": 5,
        "content_type": "text/plain",
        "url": f"/files/{upload.id}/notes%20%26%20plans.txt",
    }
