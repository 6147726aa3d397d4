"""The test client's reducer follows the protocol's client rule (the state tests rely on it)."""

from tests.support.conversation_state import ConversationState, differences


def message(message_id: int, seq: int, *, thread: int | None = None, **extra) -> dict:
    return {
        "id": message_id,
        "room": "general",
        "body": f"m{message_id}",
        "seq": seq,
        "thread": thread,
        "reply_count": 0,
        "last_reply_at": None,
        "reactions": [],
        "pinned": False,
        **extra,
    }


def joined(*messages: dict, seq: int) -> dict:
    return {"type": "joined", "room": "general", "info": {"seq": seq}, "messages": list(messages)}


def test_a_frame_older_than_what_is_held_changes_nothing():
    state = ConversationState()
    state.apply(joined(message(1, 5, body="new"), seq=5))
    state.apply({"type": "message_edited", "message": message(1, 3, body="old"), "seq": 3})
    state.apply({"type": "message_pinned", "room": "general", "id": 1, "pinned": True, "seq": 4})
    assert state.view("general")["timeline"] == [message(1, 5, body="new")]
    assert state.seq("general") == 5


def test_deltas_about_messages_not_held_are_ignored_and_tombstones_stay_dead():
    state = ConversationState()
    state.apply(joined(seq=1))
    delta = {"type": "reaction", "room": "general", "id": 9, "emoji": "👍", "user": "bob"}
    state.apply({**delta, "on": True, "seq": 2})
    deleted = {"type": "message_deleted", "room": "general", "id": 1, "seq": 4, "thread": None}
    state.apply(deleted)
    state.page("general", [message(1, 3)])  # a page read before the delete
    assert state.view("general") == {"timeline": [], "threads": {}}
    assert state.seq("general") == 4


def test_reactions_threads_and_pins_are_applied_once_each():
    state = ConversationState()
    state.apply(joined(message(1, 1), seq=1))
    on = {"type": "reaction", "room": "general", "id": 1, "emoji": "👍", "on": True}
    state.apply({**on, "user": "bob", "seq": 2})
    state.apply({**on, "user": "bob", "seq": 2})  # the same frame again
    state.apply({**on, "user": "eve", "seq": 3})
    state.apply({"type": "message", "message": message(2, 4, thread=1), "seq": 4})
    updated = {"type": "thread_updated", "room": "general", "id": 1, "reply_count": 1}
    state.apply({**updated, "last_reply_at": "t", "seq": 5})
    state.apply({**on, "on": False, "user": "bob", "seq": 6})
    view = state.view("general")
    expected_root = message(
        1,
        6,
        reply_count=1,
        last_reply_at="t",
        reactions=[{"emoji": "👍", "count": 1, "users": ["eve"]}],
    )
    assert (
        differences(view, {"timeline": [expected_root], "threads": {1: [message(2, 4, thread=1)]}})
        == []
    )


def test_a_sync_reply_brings_changes_and_tombstones():
    state = ConversationState()
    state.apply(joined(message(1, 1), message(2, 2), seq=2))
    state.apply(
        {
            "type": "synced",
            "room": "general",
            "changes": [
                message(2, 3, body="edited"),
                {"id": 1, "room": "general", "deleted": True, "seq": 4, "thread": None},
            ],
            "seq": 4,
            "has_more": False,
        }
    )
    assert state.view("general")["timeline"] == [message(2, 3, body="edited")]
    assert state.seq("general") == 4
