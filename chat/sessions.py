"""Socket sessions: presence bookkeeping for the sockets of this replica.

``session_open``/``session_close`` run when a socket opens and closes; a
background task per replica refreshes its sockets' presence (heartbeat) and
turns the users of dead replicas offline (sweep). ``disconnect()`` alone is not
enough: it never runs when a replica is killed.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from chat import events, presence
from chat.models import Room
from chat.selectors import rooms_for_user

log = logging.getLogger(__name__)

# conn id (the consumer's channel name) -> user id, for the sockets of this process.
local_connections: dict[str, int] = {}
_maintenance: asyncio.Task | None = None


def _rooms_of(user_id: int) -> list[Room]:
    return list(Room.objects.filter(memberships__user_id=user_id))


def session_open(*, user: AbstractBaseUser, conn_id: str) -> dict:
    """Register the socket; announce the user online if it is their first. Returns `hello`."""
    local_connections[conn_id] = user.pk
    if presence.backend().connect(user.pk, conn_id):
        events.presence_changed(user, True, _rooms_of(user.pk))
    return {
        "type": "hello",
        "user": {**events.user_payload(user), "is_staff": user.is_staff},
        "rooms": rooms_for_user(user=user),
    }


def session_close(*, user: AbstractBaseUser, conn_id: str) -> None:
    local_connections.pop(conn_id, None)
    if presence.backend().disconnect(user.pk, conn_id):
        events.presence_changed(user, False, _rooms_of(user.pk))


def presence_maintain() -> list[int]:
    """Refresh this replica's sockets and clear users whose sockets all expired."""
    backend = presence.backend()
    backend.heartbeat(dict(local_connections))
    gone = backend.sweep()
    users = get_user_model().objects.select_related("profile").filter(pk__in=gone)
    for user in users:
        events.presence_changed(user, False, _rooms_of(user.pk))
    return gone


async def _maintain_forever() -> None:
    while True:
        await asyncio.sleep(presence.SWEEP_INTERVAL_SECS)
        try:
            await sync_to_async(presence_maintain, thread_sensitive=False)()
        except Exception:
            log.exception("presence maintenance failed; retrying")


def ensure_maintenance_running() -> None:
    global _maintenance
    if _maintenance is None or _maintenance.done():
        _maintenance = asyncio.get_running_loop().create_task(_maintain_forever())
