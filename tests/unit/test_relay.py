"""The per-process relay: one channel-layer membership per group, every local socket served."""

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from realtime.relay import Relay


class Socket:
    """What the relay needs of a consumer: relay_event and close_after_fault."""

    def __init__(self, *, fails: bool = False) -> None:
        self.events: list[dict] = []
        self.fails = fails
        self.closed = False

    async def relay_event(self, event: dict) -> None:
        if self.fails:
            raise RuntimeError("handler bug")
        self.events.append(event)

    async def close_after_fault(self) -> None:
        self.closed = True


class RecordingLayer(InMemoryChannelLayer):
    """The in-memory layer, counting group joins and leaves, optionally slow or failing."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, str]] = []
        self.fail_joins = 0
        self.discard_delay = 0.0

    async def group_add(self, group: str, channel: str) -> None:
        if self.fail_joins:
            self.fail_joins -= 1
            raise ConnectionError("Redis away")
        self.ops.append(("add", group))
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await asyncio.sleep(self.discard_delay)
        self.ops.append(("discard", group))
        await super().group_discard(group, channel)


async def until(condition, timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def layer() -> RecordingLayer:
    return RecordingLayer()


async def test_a_group_is_joined_once_however_many_local_sockets_listen(layer):
    relay = Relay(layer)
    sockets = [Socket() for _ in range(3)]
    for socket in sockets:
        await relay.listen("room.1", socket)
    assert layer.ops == [("add", "room.1")]
    assert len(layer.groups["room.1"]) == 1  # one channel for the process, not one per socket

    await layer.group_send("room.1", {"type": "chat.frame", "group": "room.1", "frame": "hi"})
    await until(lambda: all(s.events for s in sockets))
    assert [len(s.events) for s in sockets] == [1, 1, 1]


async def test_events_reach_only_the_sockets_of_their_group(layer):
    relay = Relay(layer)
    in_room, elsewhere = Socket(), Socket()
    await relay.listen("room.1", in_room)
    await relay.listen("room.2", elsewhere)
    for n in range(5):
        await layer.group_send("room.1", {"type": "chat.frame", "group": "room.1", "n": n})
    await until(lambda: len(in_room.events) == 5)
    assert [e["n"] for e in in_room.events] == [0, 1, 2, 3, 4]
    assert elsewhere.events == []


async def test_the_last_local_socket_leaving_leaves_the_group(layer):
    relay = Relay(layer)
    first, second = Socket(), Socket()
    await relay.listen("room.1", first)
    await relay.listen("room.1", second)
    await relay.unlisten("room.1", first)
    assert ("discard", "room.1") not in layer.ops
    await relay.unlisten("room.1", second)
    assert layer.ops[-1] == ("discard", "room.1")
    assert "room.1" not in layer.groups
    assert relay.listening("room.1") == 0


async def test_a_join_right_after_a_slow_leave_still_ends_joined(layer):
    relay = Relay(layer)
    layer.discard_delay = 0.2
    leaving, coming = Socket(), Socket()
    await relay.listen("room.1", leaving)
    leave = asyncio.ensure_future(relay.unlisten("room.1", leaving))
    await asyncio.sleep(0)
    await relay.listen("room.1", coming)  # waits for the leave, then joins
    await leave
    assert layer.ops == [("add", "room.1"), ("discard", "room.1"), ("add", "room.1")]
    await layer.group_send("room.1", {"type": "chat.frame", "group": "room.1"})
    await until(lambda: coming.events)


async def test_a_failed_join_fails_its_listeners_and_the_next_one_retries(layer):
    relay = Relay(layer)
    layer.fail_joins = 1
    with pytest.raises(ConnectionError):
        await relay.listen("room.1", Socket())
    assert relay.listening("room.1") == 0
    retry = Socket()
    await relay.listen("room.1", retry)
    await layer.group_send("room.1", {"type": "chat.frame", "group": "room.1"})
    await until(lambda: retry.events)


async def test_a_failing_socket_is_closed_and_the_others_still_get_the_event(layer):
    relay = Relay(layer)
    broken, healthy = Socket(fails=True), Socket()
    await relay.listen("room.1", broken)
    await relay.listen("room.1", healthy)
    await layer.group_send("room.1", {"type": "chat.frame", "group": "room.1"})
    await until(lambda: healthy.events)
    assert broken.closed


class SlowChannelLayer(RecordingLayer):
    """new_channel takes a moment, as it does on Redis: callers can overlap it."""

    def __init__(self) -> None:
        super().__init__()
        self.channels_made = 0

    async def new_channel(self, prefix: str = "specific.") -> str:
        self.channels_made += 1
        await asyncio.sleep(0.05)
        return await super().new_channel(prefix)


async def test_groups_first_joined_at_the_same_moment_share_the_one_channel_that_is_read():
    """A long poll joins its room and its user at once on a fresh replica: both groups
    must be bound to the channel the relay reads, or that room goes deaf."""
    layer = SlowChannelLayer()
    relay = Relay(layer)
    poll = Socket()
    await asyncio.gather(relay.listen("room-1", poll), relay.listen("user-1", poll))
    assert layer.channels_made == 1
    await layer.group_send("room-1", {"type": "chat.frame", "group": "room-1"})
    await layer.group_send("user-1", {"type": "chat.frame", "group": "user-1"})
    await until(lambda: len(poll.events) == 2)
    assert {event["group"] for event in poll.events} == {"room-1", "user-1"}


class CountingLayer(RecordingLayer):
    """Counts group changes in flight at once; Redis' connection pool has a size."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def _counted(self, change, group: str, channel: str) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            await change(group, channel)
        finally:
            self.in_flight -= 1

    async def group_add(self, group: str, channel: str) -> None:
        await self._counted(super().group_add, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self._counted(super().group_discard, group, channel)


async def test_thousands_of_sockets_closing_at_once_leave_their_groups_a_few_at_a_time():
    from realtime.relay import GROUP_CHANGES_AT_ONCE

    layer = CountingLayer()
    relay = Relay(layer)
    sockets = [Socket() for _ in range(500)]
    await asyncio.gather(*(relay.listen(f"user.{n}", s) for n, s in enumerate(sockets)))
    await asyncio.gather(*(relay.unlisten(f"user.{n}", s) for n, s in enumerate(sockets)))
    assert layer.most_in_flight <= GROUP_CHANGES_AT_ONCE
    assert sum(op == "discard" for op, _ in layer.ops) == 500
    assert not any(layer.groups.get(f"user.{n}") for n in range(500)), "every group left"
