"""Domain rules that hold whichever door (WebSocket, API, admin) a request comes through."""

import sys

import pytest
from django.db import transaction

from chat import selectors, services
from chat.models import Membership, Message, Room
from project.errors import ClientError

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_users_join_the_default_rooms(make_user):
    alice = make_user("alice")
    assert list(Membership.objects.filter(user=alice).values_list("room__slug", flat=True)) == [
        "general"
    ]


def test_posting_needs_membership_and_a_live_room(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_create(creator=alice, name="Ops", slug="ops")
    with pytest.raises(ClientError) as refused:
        services.message_post(user=bob, room=room, body="hi")
    assert refused.value.code == "forbidden"
    services.room_archive(by=alice, room=room)
    with pytest.raises(ClientError) as archived:
        services.message_post(user=alice, room=room, body="hi")
    assert "archived" in archived.value.detail
    assert Message.objects.count() == 0


def test_posting_refuses_to_run_inside_an_outer_transaction(make_user, default_room):
    """Its order depends on publishing before the room's lock is released: an outer
    transaction would commit (and publish) after that."""
    alice = make_user("alice")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.message_post(user=alice, room=default_room, body="inside")
    assert not Message.objects.exists()
    services.message_post(user=alice, room=default_room, body="alone")
    assert list(Message.objects.values_list("body", flat=True)) == ["alone"]


def test_message_ids_are_the_room_cursor(make_user, default_room):
    alice = make_user("alice")
    first, _ = services.message_post(user=alice, room=default_room, body="1")
    second, _ = services.message_post(user=alice, room=default_room, body="2")
    assert first.id < second.id
    default_room.refresh_from_db()
    assert default_room.last_message_id == second.id
    page, has_more = selectors.messages_page(room=default_room, after=first.id)
    assert [m.id for m in page] == [second.id] and not has_more


def count_message_payloads(monkeypatch) -> list[int]:
    """The ids of the messages whose object is built, wherever it is built from."""
    original = selectors.message_payload
    built: list[int] = []

    def counting(message: Message) -> dict:
        built.append(message.id)
        return original(message)

    for name, module in list(sys.modules.items()):
        ours = name.split(".")[0] in {"chat", "files", "search"}
        if ours and getattr(module, "message_payload", None) is original:
            monkeypatch.setattr(module, "message_payload", counting)
    return built


def test_a_post_builds_its_message_object_once_and_answers_with_it(
    make_user, default_room, monkeypatch
):
    """The frame the room gets and the poster's answer are one object, built once."""
    alice = make_user("alice")
    built = count_message_payloads(monkeypatch)
    posted = services.message_post(user=alice, room=default_room, body="hi", client_id="c1")
    message, created = posted
    assert created and built == [message.id]
    assert posted.payload == selectors.message_payload(Message.objects.get(pk=message.id))


def test_a_retry_answers_with_the_stored_message_object(make_user, default_room, monkeypatch):
    alice = make_user("alice")
    first = services.message_post(user=alice, room=default_room, body="hi", client_id="c1")
    built = count_message_payloads(monkeypatch)
    retry = services.message_post(user=alice, room=default_room, body="again", client_id="c1")
    assert (retry.message, retry.created) == (first.message, False)
    assert retry.payload == first.payload and retry.payload["body"] == "hi"
    assert built == [first.message.id]


def test_unread_counts_other_peoples_messages_after_the_read_mark(make_user, default_room):
    alice, bob = make_user("alice"), make_user("bob")
    for n in range(3):
        services.message_post(user=alice, room=default_room, body=f"m{n}")
    rooms = {r["slug"]: r for r in selectors.rooms_for_user(user=bob)}
    assert rooms["general"]["unread"] == 3
    assert {r["slug"]: r for r in selectors.rooms_for_user(user=alice)}["general"]["unread"] == 0
    last = Message.objects.last()
    assert services.read_mark(user=bob, room=default_room, message_id=last.id) == 0


def test_room_slugs_are_validated_and_unique(make_user):
    alice = make_user("alice")
    for slug in ("Has Caps", "", "x" * 51, "dm-1-2", "slash/no"):
        with pytest.raises(ClientError):
            services.room_create(creator=alice, name="x", slug=slug)
    services.room_create(creator=alice, name="Ops", slug="ops")
    with pytest.raises(ClientError) as duplicate:
        services.room_create(creator=alice, name="Ops", slug="ops")
    assert duplicate.value.code == "conflict"


def test_one_direct_room_per_pair(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    room, created = services.direct_room_open(user=alice, username="bob")
    again, created_again = services.direct_room_open(user=bob, username="alice")
    assert created and not created_again and room == again
    assert room.kind == Room.Kind.DIRECT
    assert set(room.members.values_list("username", flat=True)) == {"alice", "bob"}
