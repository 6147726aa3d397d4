"""Who may do what over the WebSocket: every client frame, as every kind of caller.

The same world as tests/api/test_api_permissions.py: `secret`, a private
room (olga owns it, mona moderates, bob is a member, tina is a member whose
message is acted on); eve is signed in but not in it; stan is staff and not in
it. Anonymous and deactivated callers never get a socket (their handshake is
refused before the upgrade, tested at the end).

Each row is one frame and what each caller gets back first: a reply type, an
error code, or "-" for nothing (the frame is a hint, or its effect reaches
only other people). A command in ChatConsumer.COMMANDS without a row fails
`test_every_command_has_a_row`.
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import services
from chat.models import Membership, Message, Room
from realtime.consumers import ChatConsumer

pytestmark = [pytest.mark.django_db(transaction=True)]

ROLES = ("outsider", "member", "moderator", "owner", "staff")
ACTOR = {"outsider": "eve", "member": "bob", "moderator": "mona", "owner": "olga", "staff": "stan"}


def row(*, outsider: str, member: str, moderator: str, owner: str, staff: str) -> dict:
    return {
        "outsider": outsider,
        "member": member,
        "moderator": moderator,
        "owner": owner,
        "staff": staff,
    }


# command -> (frame, what each caller gets first). `{message_id}` is tina's
# message in `secret`. Errors are written "error:<code>".
HIDDEN = "error:not_found"  # a private room you are not in answers like a missing one
MATRIX: dict[str, tuple[dict, dict[str, str]]] = {
    "join": (
        {"room": "secret"},
        row(outsider=HIDDEN, member="joined", moderator="joined", owner="joined", staff=HIDDEN),
    ),
    "leave": (
        {"room": "secret"},
        row(outsider=HIDDEN, member="left", moderator="left", owner="left", staff=HIDDEN),
    ),
    "send": (
        {"room": "secret", "body": "hello", "client_id": "c1"},
        row(outsider=HIDDEN, member="message", moderator="message", owner="message", staff=HIDDEN),
    ),
    # Only the author edits; nobody here is tina.
    "edit": (
        {"id": "{message_id}", "body": "rewritten"},
        row(
            outsider=HIDDEN,
            member="error:forbidden",
            moderator="error:forbidden",
            owner="error:forbidden",
            staff=HIDDEN,
        ),
    ),
    "delete": (
        {"id": "{message_id}"},
        row(
            outsider=HIDDEN,
            member="error:forbidden",
            moderator="message_deleted",
            owner="message_deleted",
            staff=HIDDEN,
        ),
    ),
    "history": (
        {"room": "secret", "after": 0},
        row(outsider=HIDDEN, member="history", moderator="history", owner="history", staff=HIDDEN),
    ),
    # Typing is a hint: the sender hears nothing back, unless the room is hidden.
    "typing": (
        {"room": "secret"},
        row(outsider=HIDDEN, member="-", moderator="-", owner="-", staff=HIDDEN),
    ),
    "read": (
        {"room": "secret", "message_id": "{message_id}"},
        row(outsider=HIDDEN, member="read", moderator="read", owner="read", staff=HIDDEN),
    ),
    "dm": (
        {"username": "tina"},
        row(outsider="joined", member="joined", moderator="joined", owner="joined", staff="joined"),
    ),
    "ping": ({}, row(outsider="pong", member="pong", moderator="pong", owner="pong", staff="pong")),
    "sync": (
        {"room": "secret", "since": 0},
        row(outsider=HIDDEN, member="synced", moderator="synced", owner="synced", staff=HIDDEN),
    ),
    # Reactions and pins are for members; the room, the caller included, hears of them.
    "react": (
        {"id": "{message_id}", "emoji": "👍", "on": True},
        row(
            outsider=HIDDEN, member="reaction", moderator="reaction", owner="reaction", staff=HIDDEN
        ),
    ),
    "pin": (
        {"id": "{message_id}", "on": True},
        row(
            outsider=HIDDEN,
            member="message_pinned",
            moderator="message_pinned",
            owner="message_pinned",
            staff=HIDDEN,
        ),
    ),
}

CASES = [
    pytest.param(command, role, id=f"{command} as {role}") for command in MATRIX for role in ROLES
]

# Frames that are chatter about other people, not an answer to the command.
CHATTER = {"presence", "member_joined", "member_left", "room_added", "typing"}
# How long a caller waits for an answer before concluding there is none.
QUIET_SECS = 3


def _world(make_user, token_for) -> dict:
    people = {
        name: make_user(name) for name in ("olga", "mona", "bob", "tina", "eve", "stan", "dora")
    }
    people["stan"].is_staff = True
    people["stan"].save(update_fields=["is_staff"])
    room = services.room_create(
        creator=people["olga"], name="Secret", slug="secret", kind="private"
    )
    for username in ("mona", "bob", "tina"):
        services.room_invite(by=people["olga"], room=room, username=username)
    Membership.objects.filter(room=room, user=people["mona"]).update(role="moderator")
    room = Room.objects.get(pk=room.pk)
    message_id = services.message_post(user=people["tina"], room=room, body="hi")[0].id
    tokens = {name: token_for(user) for name, user in people.items()}
    people["dora"].is_active = False
    people["dora"].save(update_fields=["is_active"])
    return {"people": people, "tokens": tokens, "message_id": message_id}


@pytest.fixture
async def world(make_user, token_for) -> dict:
    return await database_sync_to_async(_world)(make_user, token_for)


async def _first_answer(socket) -> str:
    """The first frame that is not chatter; "-" if none comes within QUIET_SECS.

    Replies come straight back; live events (message_deleted, read) go round
    the channel layer first, so the answer is not simply the frame before a pong.
    """
    while True:
        # receive_nothing, not a receive that times out: that would cancel the consumer.
        if await socket.receive_nothing(timeout=QUIET_SECS):
            return "-"
        frame = await socket.receive_json_from()
        if frame["type"] in CHATTER:
            continue
        if frame["type"] == "error":
            return f"error:{frame['code']}"
        return frame["type"]


@pytest.mark.parametrize(("command", "role"), CASES)
async def test_each_caller_gets_the_documented_answer(world, connect, command, role):
    frame, expected = MATRIX[command]
    frame = {
        "type": command,
        **{
            key: world["message_id"] if value == "{message_id}" else value
            for key, value in frame.items()
        },
    }
    socket = await connect(world["people"][ACTOR[role]])
    await socket.send_json_to(frame)
    assert await _first_answer(socket) == expected[role], f"{command} as {role}"


async def test_refused_frames_change_nothing(world, connect):
    """bob's refused edit and delete of tina's message leave it as it was."""
    socket = await connect(world["people"]["bob"])
    for frame in (
        {"type": "edit", "id": world["message_id"], "body": "rewritten"},
        {"type": "delete", "id": world["message_id"]},
    ):
        await socket.send_json_to(frame)
        assert await _first_answer(socket) == "error:forbidden"
    message = await database_sync_to_async(Message.objects.get)(pk=world["message_id"])
    assert (message.body, message.deleted) == ("hi", False)


@pytest.mark.parametrize("who", ["anonymous", "deactivated"])
async def test_callers_without_a_live_account_get_no_socket(world, who):
    from project.asgi import application

    headers = []
    if who == "deactivated":
        headers = [(b"authorization", f"Bearer {world['tokens']['dora']}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert not connected, f"{who} got a socket"


def test_every_command_has_a_row():
    """A command added to the consumer without a row in MATRIX fails here."""
    assert set(ChatConsumer.COMMANDS) == set(MATRIX)
