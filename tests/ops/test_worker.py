"""The background worker: @mentions are emailed to members who are offline."""

import subprocess
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from chat import presence
from chat.notifications import mention_notify, mentioned_usernames
from chat.services import direct_room_open, message_post, notify_set
from tests.support.servers import notify_worker, replica_env

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_TIMEOUT_SECS = 30


def test_mentions_are_usernames_after_an_at_sign_not_email_addresses():
    names = mentioned_usernames("hi @bob, ask @carol. or write to dave@example.com (@erin)")
    assert {"bob", "carol", "erin"} <= names
    assert not names & {"dave", "example.com", "dave@example.com"}


def test_only_offline_members_with_an_address_are_emailed(make_user, default_room, mailoutbox):
    alice, bob, carol, erin = (make_user(name) for name in ("alice", "bob", "carol", "erin"))
    make_user("dave").memberships.all().delete()  # not in the room
    erin.email = ""
    erin.save()
    presence.backend().connect(carol.pk, "carols-tab")  # carol is online
    message, _ = message_post(
        user=alice, room=default_room, body="@bob @carol @dave @erin @alice see this", client_id=""
    )
    mailoutbox.clear()  # embedded mode may already have sent; count one run only

    assert mention_notify(message_id=message.id) == ["bob"]
    (email,) = mailoutbox
    assert email.to == ["bob@example.com"]
    assert email.subject == "[Chat] alice mentioned you in #General"
    assert "see this" in email.body
    assert "/#/r/general" in email.body


def test_a_muted_room_emails_nobody_even_when_mentioned(make_user, default_room, mailoutbox):
    alice, bob = make_user("alice"), make_user("bob")
    notify_set(user=bob, room=default_room, notify="none")
    message, _ = message_post(user=alice, room=default_room, body="@bob ping", client_id="")
    assert mention_notify(message_id=message.id) == []


def test_a_group_room_emails_mentions_only_even_at_notify_all(make_user, default_room, mailoutbox):
    alice, bob = make_user("alice"), make_user("bob")
    notify_set(user=bob, room=default_room, notify="all")
    message, _ = message_post(user=alice, room=default_room, body="no names here", client_id="")
    assert mention_notify(message_id=message.id) == []


def test_a_direct_message_is_emailed_to_the_offline_peer_without_a_mention(make_user, mailoutbox):
    alice, bob = make_user("alice"), make_user("bob")
    room, _ = direct_room_open(user=alice, username="bob")
    message, _ = message_post(user=alice, room=room, body="lunch?", client_id="")
    mailoutbox.clear()
    assert mention_notify(message_id=message.id) == ["bob"]
    (email,) = mailoutbox
    assert email.subject == "[Chat] alice sent you a direct message"
    notify_set(user=bob, room=room, notify="mentions")
    cache.clear()  # the per-room interval would hold the next one back anyway
    second, _ = message_post(user=alice, room=room, body="still hungry?", client_id="")
    assert mention_notify(message_id=second.id) == [], "mentions only: a plain DM is not emailed"


def test_a_deleted_message_notifies_nobody(make_user, default_room, mailoutbox):
    alice, _ = make_user("alice"), make_user("bob")
    message, _ = message_post(user=alice, room=default_room, body="@bob gone", client_id="")
    message.deleted = True
    message.save()
    assert mention_notify(message_id=message.id) == []


def test_the_worker_process_emails_a_mention_queued_before_it_started(
    make_user, default_room, tmp_path
):
    """`runworker chat-notify`: a job waits in Redis until a worker takes it."""
    from django.db import connection

    alice, _ = make_user("alice"), make_user("bob")
    message_post(user=alice, room=default_room, body="@bob the build is green", client_id="")

    outbox = tmp_path / "outbox"
    # django-environ drops one slash of the path: four make it absolute.
    env = replica_env(connection.settings_dict["NAME"], EMAIL_URL=f"filemail:///{outbox}")
    with notify_worker(env) as worker:
        emails = wait_for_files(outbox, worker.process)
    assert len(emails) == 1, worker.output
    text = emails[0].read_text()
    assert "To: bob@example.com" in text
    assert "Subject: [Chat] alice mentioned you in #General" in text
    assert "the build is green" in text


def wait_for_files(directory: Path, process: subprocess.Popen) -> list[Path]:
    """The emails written, once there are some (none if the worker exits or times out)."""
    deadline = time.monotonic() + WORKER_TIMEOUT_SECS
    while time.monotonic() < deadline and process.poll() is None:
        if directory.exists() and any(directory.glob("*.log")):
            time.sleep(0.5)  # let a second, wrong email show up if there is one
            return sorted(directory.glob("*.log"))
        time.sleep(0.2)
    return []
