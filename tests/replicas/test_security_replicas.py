"""Security review (issue 12) across real daphne replicas: a revoked token's sockets close
everywhere, and the long-poll cap is shared through Redis.

The exact Origin check on a replica and through nginx: tests/faults/test_origins_exact.py.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from accounts.services import token_create, token_find
from tests.support.live import Socket, bearer, handshake_status, json_request

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

CLOSE_SESSION_ENDED = 4001


async def call(method: str, url: str, headers: dict[str, str], body: dict | None = None):
    """(status, JSON answer) of one request, in a thread (urllib blocks); long polls fit."""
    return await asyncio.to_thread(json_request, method, url, headers, body, 40)


def new_token(user, name: str) -> tuple[str, int]:
    raw = token_create(user=user, name=name)[1]
    return raw, token_find(raw).pk


async def test_a_token_revoked_on_one_replica_closes_its_sockets_on_another(
    start_replicas, make_user
):
    alice = await sync_to_async(make_user)("alice")
    script, script_id = await sync_to_async(new_token)(alice, "script")
    other, _ = await sync_to_async(new_token)(alice, "other script")
    admin, _ = await sync_to_async(new_token)(alice, "the one that revokes")
    one, two = await sync_to_async(start_replicas)(2)
    revoked = await Socket.open(two.ws_url, bearer(script))
    kept = await Socket.open(two.ws_url, bearer(other))

    status, _ = await call("DELETE", f"{one.http_url}/api/tokens/{script_id}", bearer(admin))
    assert status == 204

    assert await revoked.close_code() == CLOSE_SESSION_ENDED
    assert await kept.is_open()
    assert await handshake_status(two.ws_url, bearer(script)) == 403
    status, _ = await call("GET", f"{two.http_url}/api/me", bearer(script))
    assert status == 401
    await kept.close()


async def test_the_long_poll_cap_holds_across_replicas(start_replicas, make_user):
    alice = await sync_to_async(make_user)("alice")
    raw, _ = await sync_to_async(new_token)(alice, "poller")
    one, two = await sync_to_async(start_replicas)(2, CHAT_MAX_LONG_POLLS_PER_USER="2")
    auth = bearer(raw)

    def poll_url(replica, timeout: int = 30) -> str:
        return f"{replica.http_url}/api/rooms/general/poll?timeout={timeout}"

    waiting = [asyncio.create_task(call("GET", poll_url(r), auth)) for r in (one, two)]
    await asyncio.sleep(1.5)
    assert not any(task.done() for task in waiting)
    for replica in (one, two):
        status, answer = await call("GET", poll_url(replica), auth)
        assert (status, answer["code"]) == (429, "rate_limited")

    status, _ = await call(
        "POST", f"{one.http_url}/api/rooms/general/messages", auth, {"body": "wake up"}
    )
    assert status == 201
    for task in waiting:
        status, answer = await asyncio.wait_for(task, 20)
        assert status == 200
        assert [m["body"] for m in answer["messages"]] == ["wake up"]
    status, _ = await call("GET", poll_url(two, timeout=0), auth)
    assert status == 200
