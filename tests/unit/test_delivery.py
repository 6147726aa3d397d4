"""Per-socket delivery (realtime/delivery.py): in order behind commands, at most once, held."""

import asyncio

import pytest

from project.done import DONE
from realtime import watchdog
from realtime.delivery import BACKLOG_MAX, CLOSE_TRY_AGAIN, SocketDelivery

CONN_ID = "socket.me"
ROOM = 1


class Socket:
    """What a delivery needs of a consumer; records what it sends and how it closes.

    ``gates`` holds sends back: sending the text ``key`` waits until its event is set.
    """

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: int | None = None
        self.gates: dict[str, asyncio.Event] = {}
        self.handled: list[dict] = []

    async def base_send(self, message: dict) -> None:
        gate = self.gates.get(message["text"])
        if gate is not None:
            await gate.wait()
        self.sent.append(message["text"])

    async def close(self, code: int | None = None) -> None:
        self.closed = code

    async def chat_close(self, event: dict) -> None:
        self.handled.append(event)


def frame(text: str, *, room_id: int | None = ROOM, message_id: int | None = None, **extra) -> dict:
    """A ready frame as chat.events publishes it (the frame's text stands for its JSON)."""
    event = {"type": "chat.frame", "frame": text, **extra}
    if room_id is not None:
        event["room_id"] = room_id
    if message_id is not None:
        event["message_id"] = message_id
    return event


@pytest.fixture
def socket() -> Socket:
    return Socket()


@pytest.fixture
def delivery(socket: Socket) -> SocketDelivery:
    delivery = SocketDelivery(socket, conn_id=CONN_ID)
    delivery.add_room(ROOM)
    return delivery


class Command:
    """A command that waits (as on PostgreSQL) until released, then sends its reply."""

    def __init__(self, socket: Socket, reply: str = "reply") -> None:
        self.socket = socket
        self.reply = reply
        self.released = asyncio.Event()

    async def run(self) -> None:
        await self.released.wait()
        await self.socket.base_send({"type": "websocket.send", "text": self.reply})


async def start(delivery: SocketDelivery, command: Command) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(delivery.serially(command.run()))
    await asyncio.sleep(0)  # the command is running
    return task


# Ordering
# ------------------------------------------------------------------------------


async def test_events_arriving_while_a_command_runs_follow_its_reply_in_arrival_order(
    delivery, socket
):
    command = Command(socket)
    running = await start(delivery, command)
    for n in range(1, 4):
        await delivery.relay_event(frame(f"event {n}"))
    assert socket.sent == []

    command.released.set()
    await running
    assert socket.sent == ["reply", "event 1", "event 2", "event 3"]


async def test_events_arriving_while_the_held_ones_are_delivered_wait_their_turn(delivery, socket):
    command = Command(socket)
    running = await start(delivery, command)
    await delivery.relay_event(frame("held 1"))
    await delivery.relay_event(frame("held 2"))
    socket.gates["held 1"] = asyncio.Event()  # the socket's send of "held 1" is slow

    command.released.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["reply"]  # "held 1" is on its way out
    await delivery.relay_event(frame("arrived meanwhile"))
    socket.gates["held 1"].set()
    await running
    assert socket.sent == ["reply", "held 1", "held 2", "arrived meanwhile"]


async def test_other_events_run_behind_the_running_command(delivery, socket):
    """A user event (here a close) may wait on Redis: it runs in a task, still in order."""
    command = Command(socket)
    running = await start(delivery, command)
    close = {"type": "chat.close", "code": 4003}
    await delivery.relay_event(close)
    assert socket.handled == []

    command.released.set()
    await running
    assert socket.handled == [close]


async def test_a_backlog_overflowing_closes_the_socket_and_delivers_none_of_it(delivery, socket):
    command = Command(socket)
    running = await start(delivery, command)
    for n in range(BACKLOG_MAX):
        await delivery.relay_event(frame(f"event {n}"))
    assert socket.closed is None

    await delivery.relay_event(frame("one too many"))
    assert socket.closed == CLOSE_TRY_AGAIN
    await delivery.relay_event(frame("after the overflow"))
    command.released.set()
    await running
    assert socket.sent == ["reply"]


# At most once, and only the socket's own
# ------------------------------------------------------------------------------


async def test_the_room_copy_of_a_message_acknowledged_to_its_sender_is_dropped_once(
    delivery, socket
):
    delivery.note_acked(42)
    await delivery.relay_event(frame("room copy of 42", message_id=42))
    await delivery.relay_event(frame("43", message_id=43))
    await delivery.relay_event(frame("42 again", message_id=42))
    assert socket.sent == ["43", "42 again"]


async def test_live_copies_of_messages_up_to_a_pages_last_id_are_dropped(delivery, socket):
    other_room = 2
    delivery.add_room(other_room)
    delivery.note_page(ROOM, [{"id": 10}, {"id": 12}])
    for message_id in (11, 12, 13):
        await delivery.relay_event(frame(str(message_id), message_id=message_id))
    await delivery.relay_event(frame("other room's 5", room_id=other_room, message_id=5))
    await delivery.relay_event(frame("not a message"))  # e.g. a reaction: no message_id
    assert socket.sent == ["13", "other room's 5", "not a message"]


async def test_events_of_rooms_the_socket_is_not_in_are_dropped(delivery, socket):
    await delivery.relay_event(frame("another room's", room_id=2))
    await delivery.relay_event(frame("its room's"))
    await delivery.relay_event(frame("the user's own", room_id=None))  # e.g. read, room_added
    delivery.discard_room(ROOM)
    await delivery.relay_event(frame("a room it left"))
    assert socket.sent == ["its room's", "the user's own"]


async def test_an_event_excluding_this_socket_is_not_delivered_to_it(delivery, socket):
    await delivery.relay_event(frame("its own typing", exclude=CONN_ID))
    await delivery.relay_event(frame("someone's typing", exclude="socket.other"))
    assert socket.sent == ["someone's typing"]


# Held by the watchdog
# ------------------------------------------------------------------------------


async def test_nothing_is_delivered_while_the_watchdog_holds_the_socket(
    delivery, socket, monkeypatch
):
    command = Command(socket)
    running = await start(delivery, command)
    await delivery.relay_event(frame("held by the command"))
    monkeypatch.setattr(watchdog, "lost", {0})  # the channel layer lost messages
    assert delivery.holding()

    await delivery.relay_event(frame("live"))
    await delivery.relay_event(frame("the user's own", room_id=None))
    command.released.set()
    await running
    assert socket.sent == ["reply"]

    monkeypatch.setattr(watchdog, "lost", set())
    socket.layer_stale = True  # recycled: held until closed, even once the layer is back
    await delivery.relay_event(frame("after the layer came back"))
    assert socket.sent == ["reply"]


# The hot path
# ------------------------------------------------------------------------------


async def test_every_local_socket_sends_the_one_asgi_message_built_for_an_event():
    sent: list[dict] = []

    class Recording(Socket):
        async def base_send(self, message: dict) -> None:
            sent.append(message)

    deliveries = [SocketDelivery(Recording(), conn_id=f"socket.{n}") for n in range(3)]
    event = frame("shared")
    for delivery in deliveries:
        delivery.add_room(ROOM)
        await delivery.relay_event(event)
    assert sent == [{"type": "websocket.send", "text": "shared"}] * 3
    assert all(message is sent[0] for message in sent)


def test_a_delivery_has_no_per_instance_dict():
    """Every socket has one and most sockets are idle (bench: kb_per_idle_connection)."""
    delivery = SocketDelivery(Socket(), conn_id=CONN_ID)
    assert not hasattr(delivery, "__dict__")
    assert delivery.backlog is None and delivery.event_tasks is None  # built when needed


# The hot path: no coroutine per socket
# ------------------------------------------------------------------------------


class SendsAtOnce(Socket):
    """A consumer on daphne with project/server/framing.py: the send happens in the call."""

    def base_send(self, message: dict):
        self.sent.append(message["text"])
        return DONE


async def test_a_ready_frame_is_sent_before_relay_event_returns_and_makes_no_coroutine():
    socket = SendsAtOnce()
    delivery = SocketDelivery(socket, conn_id=CONN_ID)
    delivery.add_room(ROOM)
    sending = delivery.relay_event(frame("now"))
    assert socket.sent == ["now"]
    assert not asyncio.iscoroutine(sending)
    await sending


async def test_filtered_and_held_events_make_no_coroutine_either(delivery, socket):
    for event in (frame("another room's", room_id=2), frame("its own", exclude=CONN_ID)):
        result = delivery.relay_event(event)
        assert result is DONE
        await result
    command = Command(socket)
    running = await start(delivery, command)
    assert delivery.relay_event(frame("held")) is DONE
    command.released.set()
    await running
    assert socket.sent == ["reply", "held"]
