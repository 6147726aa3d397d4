"""Socket bookkeeping: presence as the sockets of this replica open and close.

``session_open``/``session_close`` run when a socket opens and closes; two
background tasks per replica keep presence true when ``disconnect()`` cannot:
the heartbeat vouches for this replica's sockets, and the sweep turns offline
the users of replicas that stopped vouching (killed, frozen, cut off). Every
live replica sweeps; the presence scripts make sure each user is announced
offline once.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import close_old_connections
from django.db.models import Count
from prometheus_client import Gauge

from chat import events, presence
from chat.models import Membership, Room
from chat.selectors import member_rooms, rooms_payload
from project.errors import ClientError

log = logging.getLogger(__name__)

# conn id (the consumer's channel name) -> user id, for every socket open in
# this process right now: what the heartbeat vouches for, and what a graceful
# shutdown has to close.
local_connections: dict[str, int] = {}
_maintenance: list[asyncio.Task] = []

OPEN_SOCKETS = Gauge("chat_open_sockets", "WebSocket connections open on this replica.")
OPEN_SOCKETS.set_function(lambda: len(local_connections))


def _rooms_of(user_id: int) -> list[Room]:
    """The user's rooms that hear their presence changes.

    Rooms above CHAT_PRESENCE_ROOM_MAX_MEMBERS are left out: a presence frame
    goes to every member, so announcing each connect in a room of N costs N
    frames, and N connects cost N squared (500 members: 250,000 frames). Their
    member lists still carry `online` when fetched.
    """
    rooms = Room.objects.filter(pk__in=Membership.objects.filter(user_id=user_id).values("room_id"))
    return list(
        rooms.annotate(member_count=Count("memberships")).filter(
            member_count__lte=settings.CHAT_PRESENCE_ROOM_MAX_MEMBERS
        )
    )


def _announce(user_ids: list[int], *, online: bool) -> None:
    users = get_user_model().objects.select_related("profile").filter(pk__in=user_ids)
    for user in users:
        events.presence_changed(user, online, _rooms_of(user.pk))


def session_open(*, user: AbstractBaseUser, conn_id: str) -> dict:
    """Register the socket; announce the user online if it is their first. Returns `hello`."""
    local_connections[conn_id] = user.pk
    limit = settings.CHAT_MAX_SOCKETS_PER_USER
    try:
        first = presence.backend().connect(user.pk, conn_id, limit=limit)
    except presence.SocketLimitReached:
        local_connections.pop(conn_id, None)
        raise ClientError(
            "rate_limited", f"You already have {limit} connections open; close a tab first."
        ) from None
    rooms = member_rooms(user_id=user.pk)  # one statement for both uses
    if first:
        events.presence_changed(user, True, [room for room in rooms if room.hears_presence])
    return {
        "type": "hello",
        "user": {**events.user_payload(user), "is_staff": user.is_staff},
        "rooms": rooms_payload(rooms=rooms, viewer=user),
    }


def poller_seen(*, user: AbstractBaseUser, client: str, wait_secs: float) -> None:
    """A client without a WebSocket (GET /api/events) keeps its user online while it polls.

    Each poll registers or refreshes one connection per client (``client``: its
    session or token, hashed: presence keys never hold a credential) for the poll's
    wait plus the presence TTL. It is never dropped: when the polls stop it expires
    and the sweeper turns the user offline, so the gap between two polls never
    flickers them offline. Announced only when it is the user's first connection.
    """
    conn_id = "poll:" + hashlib.blake2b(client.encode(), digest_size=12).hexdigest()
    ttl = max(wait_secs, 0.0) + presence.timings().ttl
    if presence.backend().connect(user.pk, conn_id, ttl=ttl):
        events.presence_changed(user, True, _rooms_of(user.pk))


def session_close(*, user: AbstractBaseUser, conn_id: str) -> None:
    """Forget the socket; announce the user offline if it was their last, on any replica."""
    local_connections.pop(conn_id, None)
    if presence.backend().disconnect(user.pk, conn_id):
        events.presence_changed(user, False, _rooms_of(user.pk))


def presence_heartbeat() -> None:
    """Vouch for this replica's sockets; users who had expired meanwhile come back online."""
    backend = presence.backend()
    vouched = dict(local_connections)
    revived = set(backend.heartbeat(vouched))
    came_back: list[int] = []
    gone: list[int] = []
    for conn_id, user_id in vouched.items():
        if conn_id in local_connections:
            if conn_id in revived:
                came_back.append(user_id)
            continue
        # The socket closed while its heartbeat was in flight, which may have
        # re-registered it after session_close removed it. Remove the ghost;
        # unless it was all that kept an already-offline user online, it may
        # have hidden the user's real last disconnect.
        if backend.disconnect(user_id, conn_id) and conn_id not in revived:
            gone.append(user_id)
    if came_back:
        _announce(came_back, online=True)
    if gone:
        _announce(gone, online=False)


def presence_sweep() -> list[int]:
    """Announce offline the users whose sockets all expired (their replica died)."""
    gone = presence.backend().sweep()
    if gone:
        _announce(gone, online=False)
    return gone


def _in_worker_thread(work: Callable[[], object]) -> Callable[[], object]:
    """Run off the consumers' database thread, closing this thread's connections after."""

    def run() -> object:
        try:
            return work()
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


async def _every(interval: Callable[[], float], work: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(interval())
        try:
            await _in_worker_thread(work)()
        except Exception:
            log.exception("presence %s failed; retrying", work.__name__)


def ensure_maintenance_running() -> None:
    """Start this replica's heartbeat and sweep tasks (once per event loop)."""
    loop = asyncio.get_running_loop()
    if _maintenance and all(not t.done() and t.get_loop() is loop for t in _maintenance):
        return
    for task in _maintenance:
        if task.get_loop() is loop:
            task.cancel()
    presence.timings()  # refuse nonsensical settings now, not in a background task
    _maintenance[:] = [
        loop.create_task(_every(lambda: presence.timings().heartbeat, presence_heartbeat)),
        loop.create_task(_every(lambda: presence.timings().sweep, presence_sweep)),
    ]
