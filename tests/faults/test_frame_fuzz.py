"""Hostile WebSocket frames: each gets an error (or is dropped), nothing is stored.

A property-based fuzzer (hypothesis) throws any JSON at a real replica: deep
nesting, huge numbers, wrong types, NUL bytes, binary frames, 1 MiB frames.
After every frame a ping must still be answered on the same socket, so a
frame that killed the socket or the replica fails at once, with hypothesis'
smallest example. The fuzzing user belongs only to an archived room, so the
checks deep inside a post run too, and still nothing can be stored.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMMANDS = ["join", "leave", "send", "edit", "delete", "history", "typing", "read", "dm", "ping"]
FIELDS = ["room", "body", "client_id", "id", "before", "after", "limit", "message_id", "username"]
MIB = 2**20
# Frames a client must never get for frames that store nothing.
STORED_SOMETHING = {"message", "message_edited", "message_deleted", "room_added", "member_joined"}

hostile_strings = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("\x00\x01\u202e\ufeff\U0001f600<>'\"&\\/ax"), max_size=20),
    st.sampled_from(["\x00", "a\x00b", "attic\x00", "\x00" * 64, "", " ", "attic", "dm-1-2"]),
    st.sampled_from(["x" * 51, "x" * 65, "x" * 4001, "mallory", "<script>alert(1)</script>"]),
)
hostile_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-(2**63) + 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_strings),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
command_frames = st.fixed_dictionaries(
    {"type": st.sampled_from(COMMANDS) | st.text(max_size=20)},
    optional={name: json_values for name in [*FIELDS, "ref"]},
)
raw_texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "[" * 100_000 + "]" * 100_000,
            '{"a":' * 50_000 + "1" + "}" * 50_000,
            "[" * 5000 + "]" * 5000,
            "1" * 5000,
            '{"type":"history","room":"attic","after":' + "9" * 5000 + "}",
            "1e99999",
            '{"type":"ping","ref":NaN}',
            # daphne takes messages up to 1 MiB; the consumer refuses what is over 64 KiB.
            '{"type": "send", "room": "attic", "body": "' + "x" * (MIB - 50) + '"}',
            "x" * MIB,
            "\x00" * 1024,
            "",
            "null",
        ]
    ),
)
frames = st.one_of(
    command_frames.map(json.dumps),
    json_values.map(json.dumps),
    raw_texts,
    st.binary(max_size=200),
)


def replies_until_pong(socket, ref: str) -> list[dict]:
    """Every frame the server sends until it answers our ping (so the socket is alive)."""
    socket.send(json.dumps({"type": "ping", "ref": ref}))
    replies = []
    while True:
        frame = json.loads(socket.recv(timeout=15))
        if frame["type"] == "pong" and frame.get("ref") == ref:
            return replies
        replies.append(frame)


@pytest.fixture
def mallory(django_user_model):
    """A user whose only room is archived: every post she tries is refused."""
    from chat.models import Membership, Room

    user = django_user_model.objects.create_user("mallory", password="pw")
    attic = Room.objects.create(slug="attic", name="Attic", archived=True)
    Membership.objects.create(room=attic, user=user)
    return user


def test_hostile_frames_get_errors_and_the_socket_and_replica_survive(
    start_replicas, mallory, token_for
):
    from chat.models import Membership, Message, Room

    rooms_before = set(Room.objects.values_list("slug", flat=True))
    (replica,) = start_replicas(1)
    headers = {"Authorization": f"Bearer {token_for(mallory)}"}
    sent: list = []
    with connect(replica.ws_url, additional_headers=headers, max_size=4 * MIB) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"

        @settings(
            max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(frame=frames)
        def one_frame(frame: str | bytes) -> None:
            sent.append(frame)
            socket.send(frame)
            for reply in replies_until_pong(socket, f"alive-{len(sent)}"):
                assert reply["type"] not in STORED_SOMETHING, reply
                if reply["type"] == "error":
                    assert reply["code"] and isinstance(reply["detail"], str), reply

        try:
            one_frame()
        except Exception as error:
            last = sent[-1][:200] if sent else None
            raise AssertionError(
                f"{error!r}\nlast frame: {last!r}\n--- replica log ---\n{replica.log_text()}"
            ) from error

    assert Message.objects.count() == 0
    assert set(Membership.objects.values_list("room__slug", flat=True)) <= {"attic"}
    assert set(Room.objects.values_list("slug", flat=True)) == rooms_before
    assert replica.process.poll() is None, "the replica died"


def test_a_frame_over_one_mebibyte_closes_the_socket_cleanly_and_the_replica_serves_on(
    start_replicas, mallory, token_for
):
    (replica,) = start_replicas(1)
    headers = {"Authorization": f"Bearer {token_for(mallory)}"}
    with connect(replica.ws_url, additional_headers=headers, max_size=4 * MIB) as socket:
        socket.recv(timeout=10)
        socket.send('{"type": "send", "room": "attic", "body": "' + "x" * MIB + '"}')
        with pytest.raises(ConnectionClosedError) as closed:
            while True:  # her own presence frame may come first
                socket.recv(timeout=15)
    # A close frame with 1009 "message too big", not a dropped connection.
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    with connect(replica.ws_url, additional_headers=headers) as again:
        assert json.loads(again.recv(timeout=10))["type"] == "hello"
        replies_until_pong(again, "still-serving")
