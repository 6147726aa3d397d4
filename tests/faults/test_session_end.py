"""A password change closes the user's sockets on every replica; a stolen session stays out,
and so do the API tokens (whoever knew the old password could have minted them).

Logout and deactivation are proven in tests/replicas/test_social_replicas.py.
"""

import pytest
from asgiref.sync import sync_to_async

from tests.support.live import Socket, WebSession, bearer, handshake_status, password_for_replicas

pytestmark = [pytest.mark.replicas, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLOSE_SESSION_ENDED = 4001


async def test_a_password_change_closes_every_socket_and_old_sessions_and_tokens_stay_out(
    start_replicas, make_user, token_for
):
    alice = await sync_to_async(make_user)("alice")
    await sync_to_async(password_for_replicas)(alice, "old-secret-42")
    token = await sync_to_async(token_for)(alice)
    one, two = await sync_to_async(start_replicas)(2)
    stolen, own = WebSession(one.http_url), WebSession(two.http_url)
    for browser in (stolen, own):
        await sync_to_async(browser.sign_in)("alice", "old-secret-42")
    sockets = [
        await Socket.open(one.ws_url, stolen.socket_headers()),
        await Socket.open(two.ws_url, own.socket_headers()),
        await Socket.open(one.ws_url, bearer(token)),
    ]

    status, page = await sync_to_async(own.post)(
        "/accounts/password/change/",
        {
            "oldpassword": "old-secret-42",
            "password1": "new-Secret-77",
            "password2": "new-Secret-77",
        },
    )
    assert status == 302, page[:2000]

    for socket in sockets:
        assert await socket.close_code() == CLOSE_SESSION_ENDED
    assert await handshake_status(one.ws_url, stolen.socket_headers()) == 403
    assert await handshake_status(two.ws_url, own.socket_headers()) == 101
    assert await handshake_status(two.ws_url, bearer(token)) == 403  # revoked with the password
