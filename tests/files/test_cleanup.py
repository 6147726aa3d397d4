"""Unused uploads are removed after a day, rows and bytes; attached ones stay."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from files.models import Upload
from tests.files.test_attachments import post_with
from tests.support.servers import notify_worker, replica_env

WORKER_TIMEOUT_SECS = 30


def age(upload, **delta) -> None:
    Upload.objects.filter(pk=upload.pk).update(created=timezone.now() - timedelta(**delta))


def stored(upload) -> list[bool]:
    """Whether its file (and thumbnail, for an image) are still in storage."""
    return [field.storage.exists(field.name) for field in (upload.file, upload.thumbnail) if field]


@pytest.mark.django_db
def test_the_command_removes_old_unused_uploads_and_their_bytes(people, secret, upload_of, capsys):
    from tests.files.conftest import image_bytes

    old = upload_of(people["bob"], name="old.png", data=image_bytes("PNG"))
    new = upload_of(people["bob"], name="new.txt")
    posted = upload_of(people["bob"], name="posted.txt")
    post_with(people["bob"], secret, [posted])
    for upload in (old, posted):
        age(upload, hours=25)
    assert stored(old) == [True, True]

    call_command("files_cleanup")

    assert "1 unused upload(s) removed." in capsys.readouterr().out
    assert set(Upload.objects.values_list("name", flat=True)) == {"new.txt", "posted.txt"}
    assert [
        old.file.storage.exists(old.file.name),
        old.file.storage.exists(old.thumbnail.name),
    ] == [
        False,
        False,
    ]
    assert stored(new) == [True]
    assert stored(posted) == [True]


@pytest.mark.django_db
def test_a_message_deleted_for_good_leaves_no_upload_behind(people, secret, upload_of):
    upload = upload_of(people["bob"])
    message = post_with(people["bob"], secret, [upload])
    message.delete()
    call_command("files_cleanup")
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not upload.file.storage.exists(upload.file.name)


@pytest.mark.django_db
def test_deleting_a_message_removes_its_files_from_storage_at_the_next_cleanup(
    people, secret, upload_of
):
    from chat import services
    from tests.files.conftest import image_bytes

    photo = upload_of(people["bob"], name="mistake.png", data=image_bytes("PNG"))
    kept = upload_of(people["bob"], name="kept.txt")
    message = post_with(people["bob"], secret, [photo])
    post_with(people["bob"], secret, [kept])
    services.message_delete(user=people["bob"], message_id=message.id)
    assert stored(photo) == [True, True]

    call_command("files_cleanup")

    assert not Upload.objects.filter(pk=photo.pk).exists()
    assert [
        photo.file.storage.exists(photo.file.name),
        photo.thumbnail.storage.exists(photo.thumbnail.name),
    ] == [False, False]
    assert stored(kept) == [True]


@pytest.mark.django_db
def test_the_age_follows_the_setting(people, upload_of, settings):
    upload = upload_of(people["bob"])
    age(upload, minutes=10)
    call_command("files_cleanup")
    assert Upload.objects.filter(pk=upload.pk).exists()
    settings.CHAT_UPLOAD_UNUSED_TTL = 300
    call_command("files_cleanup")
    assert not Upload.objects.filter(pk=upload.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_cleanup_by_itself(people, upload_of, media_root):
    from django.db import connection

    old, new = upload_of(people["bob"], name="old.txt"), upload_of(people["bob"], name="new.txt")
    age(old, days=2)
    env = replica_env(
        connection.settings_dict["NAME"],
        MEDIA_ROOT=str(media_root),
        CHAT_FILES_CLEANUP_INTERVAL_SECS="1",
    )
    with notify_worker(env) as worker:
        deadline = time.monotonic() + WORKER_TIMEOUT_SECS
        while Upload.objects.filter(pk=old.pk).exists() and time.monotonic() < deadline:
            assert worker.process.poll() is None, "the worker exited"
            time.sleep(0.3)
    assert not Upload.objects.filter(pk=old.pk).exists(), worker.output
    assert not old.file.storage.exists(old.file.name)
    assert Upload.objects.filter(pk=new.pk).exists()
