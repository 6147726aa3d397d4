"""What a post costs the database, and that its one-round-trip store keeps every rule.

In a room of 2 a post is all the server does (bench/README.md, "Issue 18: a post in
a room of 2"): on PostgreSQL the room's ordering lock, its seq, the message, its
mentions and the room's last_message_id go in one round trip
(chat.changes.message_insert), the room is read in hand-written SQL, and the
store must still be what the ORM path (threads, attachments, SQLite) stores.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from chat import changes, selectors, services
from chat.models import Mention, Message, Room
from project.errors import ClientError
from tests.support.embedded import run_embedded

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(make_user):
    """alice and bob in a room of their own; alice as a socket holds her (profile loaded)."""
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_create(creator=alice, name="Pair", slug="pair")
    services.room_join(user=bob, room=room)
    alice = get_user_model().objects.select_related("profile").get(pk=alice.pk)
    return alice, bob, room


def socket_post(user, body: str, client_id: str) -> services.Posted:
    """What ChatConsumer._post does."""
    room = selectors.room_for_user(user=user, slug="pair")
    return services.message_post(user=user, room=room, body=body, client_id=client_id)


def statements_of_a_post(user, body: str, client_id: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        socket_post(user, body, client_id)
    return [query["sql"] for query in queries.captured_queries]


def test_a_post_in_a_room_of_2_is_three_round_trips(pair):
    """Room and role; lock, seq, message and last_message_id; unlock after the publish
    (it was 8: the ORM's BEGIN, UPDATE seq, INSERT, UPDATE room, COMMIT apart)."""
    alice, _, _ = pair
    socket_post(alice, "warm up", "c0")
    sql = statements_of_a_post(alice, "hello there", "c1")
    assert len(sql) == 3, sql
    assert "chat_membership" in sql[0]
    assert sql[1].startswith("SELECT pg_advisory_lock(") and "INSERT INTO" in sql[1]
    assert sql[2] == "SELECT pg_advisory_unlock_all()"


def test_a_post_with_a_mention_stores_its_mention_rows_in_the_same_round_trip(pair):
    alice, bob, room = pair
    socket_post(alice, "warm up", "c0")
    sql = statements_of_a_post(alice, "@bob look", "c1")
    assert len(sql) == 4, sql  # the mention's lookup (chat.mentions) is the one more
    message = Message.objects.get(client_id="c1")
    assert message.mentions == ["bob"]
    assert list(Mention.objects.values_list("message_id", "room_id", "user_id")) == [
        (message.id, room.id, bob.id)
    ]


def stored(message: Message) -> dict:
    row = model_to_dict(Message.objects.get(pk=message.pk))
    return {k: v for k, v in row.items() if k not in ("id", "seq", "created", "client_id")}


@pytest.mark.parametrize("body", ["plain words", "**bold** and @bob, twice: @bob"])
def test_the_one_trip_store_writes_what_the_orm_path_writes(pair, monkeypatch, body):
    alice, bob, room = pair
    one_trip = socket_post(alice, body, "fast")
    with monkeypatch.context() as orm_only:
        orm_only.setattr(services, "one_trip_posts", lambda: False)
        orm = socket_post(alice, body, "orm")
    assert stored(one_trip.message) == stored(orm.message)
    assert (one_trip.message.seq, orm.message.seq) == (1, 2)
    assert one_trip.payload == selectors.message_payload(Message.objects.get(client_id="fast"))
    for posted in (one_trip, orm):
        mentions = Mention.objects.filter(message=posted.message)
        assert list(mentions.values_list("user_id", flat=True)) == (
            [bob.id] if "@bob" in body else []
        )
    room.refresh_from_db()
    assert (room.last_message_id, room.seq) == (orm.message.id, 2)


def advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_retry_stores_nothing_takes_no_seq_and_releases_the_lock(pair):
    alice, _, room = pair
    first = socket_post(alice, "once", "c1")
    again = socket_post(alice, "twice", "c1")
    assert (again.message, again.created, again.payload["body"]) == (first.message, False, "once")
    room.refresh_from_db()
    assert (room.seq, room.last_message_id, Message.objects.count()) == (1, first.message.id, 1)
    assert advisory_locks_held() == 0
    assert socket_post(alice, "next", "c2").message.seq == 2, "gap-free"


def test_a_post_to_a_room_deleted_meanwhile_stores_nothing(pair):
    alice, _, room = pair
    read = selectors.room_for_user(user=alice, slug="pair")
    Room.objects.filter(pk=room.pk).delete()
    with pytest.raises(ClientError) as refused:
        services.message_post(user=alice, room=read, body="into the void")
    assert refused.value.code == "not_found"
    assert not Message.objects.exists() and advisory_locks_held() == 0


def test_a_socket_posting_again_to_a_room_it_kept_makes_two_round_trips(pair):
    """ChatConsumer keeps the room of its last posts: the store checks it again itself."""
    alice, _, _ = pair
    kept = socket_post(alice, "first", "c1").message.room
    with CaptureQueriesContext(connection) as queries:
        again = services.message_post(
            user=alice, room=kept, body="second", client_id="c2", room_read_earlier=True
        )
    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == 2, sql
    assert (again.created, again.message.seq, again.payload["room"]) == (True, 2, "pair")


def archive(room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(archived=True)


def rename(room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(slug="renamed")


def leave(room: Room) -> None:
    room.memberships.filter(user__username="alice").delete()


def delete(room: Room) -> None:
    Room.objects.filter(pk=room.pk).delete()


@pytest.mark.parametrize(
    ("change", "code"),
    [(archive, "forbidden"), (rename, "not_found"), (leave, "forbidden"), (delete, "not_found")],
)
@pytest.mark.parametrize("thread", [False, True])
def test_a_kept_room_changed_since_is_refused_as_a_fresh_read_would_be(pair, change, code, thread):
    """Changed without the socket hearing of it (a row edited in the database): the
    post is refused with the answer a fresh read gives, stores nothing, takes no seq."""
    alice, _, room = pair
    root = socket_post(alice, "first", "c1").message
    kept = Room.objects.get(pk=room.pk)
    kept.viewer_role = "owner"
    change(room)
    with pytest.raises(ClientError) as refused:
        services.message_post(
            user=alice,
            room=kept,
            body="after the change",
            client_id="c2",
            thread=root.id if thread else None,
            room_read_earlier=True,
        )
    assert refused.value.code == code
    assert not Message.objects.filter(client_id="c2").exists()
    assert list(Room.objects.filter(pk=room.pk).values_list("seq", flat=True)) in ([], [1])
    assert advisory_locks_held() == 0


def test_a_room_that_changed_and_changed_back_takes_the_post(pair):
    """Archived and unarchived (or left and joined again) since the read: posted."""
    alice, _, room = pair
    kept = socket_post(alice, "first", "c1").message.room
    archive(room)
    Room.objects.filter(pk=room.pk).update(archived=False, slug="pair")
    posted = services.message_post(
        user=alice, room=kept, body="still here", client_id="c2", room_read_earlier=True
    )
    assert (posted.created, posted.message.seq) == (True, 2)


def test_a_post_whose_room_changes_between_its_read_and_its_store_is_refused(pair, monkeypatch):
    """Not only a socket's kept room: the store's own check closes the race for every caller."""
    alice, _, room = pair
    read = selectors.room_for_user(user=alice, slug="pair")
    real_insert = services.message_insert

    def archived_first(message, **kwargs):
        archive(room)
        real_insert(message, **kwargs)

    monkeypatch.setattr(services, "message_insert", archived_first)
    with pytest.raises(ClientError) as refused:
        services.message_post(user=alice, room=read, body="racing", client_id="c1")
    assert refused.value.code == "forbidden"
    assert not Message.objects.exists() and advisory_locks_held() == 0


def test_threads_and_attachments_take_the_orm_path_and_still_work(pair, monkeypatch):
    alice, _, room = pair
    root = socket_post(alice, "root", "c1").message
    reply, _ = services.message_post(user=alice, room=room, body="re", thread=root.id)
    root.refresh_from_db()
    assert (reply.thread_id, reply.seq, root.reply_count, root.seq) == (root.id, 2, 1, 3)
    with pytest.raises(ClientError) as refused:
        services.message_post(user=alice, room=room, body="file", attachments=[999])
    assert refused.value.code == "not_found"
    room.refresh_from_db()
    assert room.seq == 3, "the refused post's seq was rolled back"


def test_the_room_read_carries_the_role_and_hides_what_the_orm_query_hid(pair, make_user):
    alice, bob, room = pair
    carol = make_user("carol")
    assert selectors.room_for_user(user=bob, slug="pair").viewer_role == "member"
    found = selectors.room_for_user(user=alice, slug="pair")
    assert found.viewer_role == "owner"
    fields = [field.attname for field in Room._meta.concrete_fields]
    orm = Room.objects.get(pk=room.pk)
    assert [getattr(found, f) for f in fields] == [getattr(orm, f) for f in fields]
    assert selectors.room_for_user(user=carol, slug="pair").viewer_role is None
    services.room_create(creator=alice, name="Ops", slug="ops", kind="private")
    for slug in ("ops", "nope"):
        with pytest.raises(ClientError) as hidden:
            selectors.room_for_user(user=carol, slug=slug)
        assert hidden.value.code == "not_found"


def test_one_trip_posts_only_outside_a_transaction_on_postgresql(pair):
    from django.db import transaction

    assert changes.one_trip_posts()
    with transaction.atomic():
        assert not changes.one_trip_posts()


EMBEDDED_POSTS = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from chat import selectors, services
User = get_user_model()
alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
services.user_onboard(user=alice)
services.user_onboard(user=bob)
room = selectors.room_for_user(user=alice, slug="general")
first = services.message_post(user=alice, room=room, body="hello there", client_id="c1")
room = selectors.room_for_user(user=alice, slug="general")
mention = services.message_post(user=alice, room=room, body="@bob *hi*", client_id="c2")
retry = services.message_post(user=alice, room=room, body="again", client_id="c1")
print(json.dumps({
    "role": room.viewer_role, "created": room.created.isoformat(), "archived": room.archived,
    "first": first.payload, "mention": mention.payload, "retry": [retry.created, retry.payload],
}))
"""


def test_embedded_sqlite_still_posts(tmp_path):
    result = run_embedded(EMBEDDED_POSTS, DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.db'}")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["role"], seen["archived"]) == ("member", False)
    assert seen["first"]["html"] == "<p>hello there</p>" and seen["first"]["seq"] == 1
    assert seen["mention"]["mentions"] == ["bob"] and "<em>hi</em>" in seen["mention"]["html"]
    assert seen["retry"] == [False, seen["first"]]
