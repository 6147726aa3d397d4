"""The WebSocket endpoint: parse frames, call services; relay events go to realtime.delivery."""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import metrics, reactions, selectors, services
from chat.events import encode
from chat.groups import room_group, user_group
from chat.models import Room
from project import compat, validators
from project.errors import ClientError
from realtime import sockets, watchdog
from realtime.delivery import CLOSE_TRY_AGAIN, SocketDelivery
from realtime.post_threads import post_hop
from realtime.relay import relay

TYPING_MIN_INTERVAL_SECS = 2.0
# Rooms whose last typing frame a socket remembers; the memory stays bounded.
TYPING_TRACKED_MAX = 64
# Rooms a socket posted to that it keeps, to skip reading them at each post.
POST_ROOMS_MAX = 16
REF_MAX_LENGTH = 100
# Over CHAT_MAX_SOCKETS_PER_USER (4000 + HTTP 429): the error frame before it says why.
CLOSE_TOO_MANY_SOCKETS = 4029
log = logging.getLogger(__name__)


class ChatConsumer(AsyncWebsocketConsumer):
    """One socket per browser tab, multiplexing every room of the user."""

    # No channel per socket: this process' relay receives each room and user event
    # once and hands it to relay_event of its local sockets (realtime/relay.py).
    channel_layer_alias = None

    # WebSocket handlers
    # --------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.delivery.serially(self._open())

    async def _open(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.relay = relay()
        self.user = user
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None) or ""
        self.token_id = self.scope.get("token_id")  # a bearer socket closes with its token
        # last_typing: valid slugs of rooms the user could type in, at most
        # TYPING_TRACKED_MAX of them (the oldest is dropped when full).
        self.last_typing: dict[str, float] = {}
        # post_rooms: the rooms posted to lately, by slug (at most POST_ROOMS_MAX).
        self.post_rooms: dict[str, Room] = {}
        await self.accept()
        watchdog.register(self)
        watchdog.ensure_running()
        try:
            # Subscribe before reading state, so nothing committed meanwhile is missed.
            await self.relay.listen(user_group(user.pk), self)
            room_ids = await database_sync_to_async(selectors.room_ids_for_user)(user_id=user.pk)
            await asyncio.gather(*map(self._subscribe, room_ids))
            hello = await database_sync_to_async(sockets.session_open)(
                user=user, conn_id=self.conn_id
            )
        except ClientError as error:  # too many sockets already (sockets.session_open)
            await self.reply({"type": "error", "code": error.code, "detail": error.detail}, None)
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        except Exception:
            log.exception("socket setup failed (Redis or PostgreSQL); the client will retry")
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        sockets.ensure_maintenance_running()
        await self.send(text_data=encode(hello))
        log.info("socket opened", extra={"user_id": user.pk})

    async def __call__(self, scope, receive, send) -> None:
        # The socket's id across replicas: presence, and the typing frame's `exclude`.
        self.conn_id = f"socket.{uuid.uuid4().hex}"
        # Relay events, ordered behind this socket's commands and filtered (realtime/delivery.py).
        self.delivery = SocketDelivery(self, conn_id=self.conn_id)
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A consumer that failed dies without websocket.disconnect; release its
            # session anyway, or its presence would be heartbeated forever.
            if hasattr(self, "user") and not getattr(self, "released", False):
                await self.disconnect(1011)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user") or getattr(self, "released", False):
            return
        self.released = True
        watchdog.unregister(self)
        # Each step on its own: with Redis or PostgreSQL down, the rest must still
        # run, or this replica would heartbeat a closed socket's presence forever.
        for group in [*map(room_group, self.delivery.room_ids), user_group(self.user.pk)]:
            try:
                await self.relay.unlisten(group, self)
            except Exception:
                log.warning("leaving %s failed", group, exc_info=True)
        try:
            await database_sync_to_async(sockets.session_close)(
                user=self.user, conn_id=self.conn_id
            )
        except Exception:
            log.warning("closing the session failed; its presence expires", exc_info=True)
        log.info("socket closed", extra={"user_id": self.user.pk, "code": code})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        ref = None
        try:
            frame = self._parse(text_data)
            raw_ref = frame.get("ref")
            if isinstance(raw_ref, str) and len(raw_ref) <= REF_MAX_LENGTH:
                ref = raw_ref
            kind = frame.get("type")
            command = self.COMMANDS.get(kind) if isinstance(kind, str) else None
            if command is None:
                raise ClientError("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")
            await self.delivery.serially(command(self, frame, ref))
        except ClientError as error:
            metrics.client_error(error.code)
            await self.reply({"type": "error", "code": error.code, "detail": error.detail}, ref)
        except Exception:
            # Not the client's fault (Redis or PostgreSQL away, or a bug): close cleanly,
            # so disconnect() runs; the client reconnects, catches up and resends.
            log.exception("frame failed; closing the socket so the client retries")
            await self.close(code=CLOSE_TRY_AGAIN)

    async def dispatch(self, message: dict) -> None:
        # Without a thread hop per event: every database access here goes through
        # database_sync_to_async, which closes stale connections itself.
        await compat.dispatch(self, message)

    # Relay events (realtime/delivery.py: in order, behind commands, at most once)
    # --------------------------------------------------------------------------

    def relay_event(self, event: dict) -> Awaitable[None]:
        """Called by realtime.relay with each event of the socket's groups.

        Returns the delivery's awaitable rather than awaiting it: no coroutine per
        event on the hot path (a ready frame is already sent when it returns).
        """
        return self.delivery.relay_event(event)

    @property
    def room_ids(self) -> set[int]:
        """The rooms whose events this socket gets (realtime.watchdog reads them)."""
        return self.delivery.room_ids

    # Command helpers
    # --------------------------------------------------------------------------

    def _parse(self, text_data: str | None) -> dict:
        if text_data is None:
            raise ClientError("bad_frame", "Frames must be JSON text, not binary.")
        if len(text_data) > settings.CHAT_MAX_FRAME_BYTES:
            raise ClientError(
                "too_long", f"Frames are limited to {settings.CHAT_MAX_FRAME_BYTES} bytes."
            )
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            raise ClientError("bad_frame", "The frame is not valid JSON.") from None
        if not isinstance(frame, dict):
            raise ClientError("bad_frame", "A frame must be a JSON object with a 'type'.")
        return frame

    async def reply(self, payload: dict, ref: str | None) -> None:
        if ref is not None:
            payload["ref"] = ref
        await self.send(text_data=encode(payload))

    async def _subscribe(self, room_id: int) -> None:
        if self.delivery.add_room(room_id):
            await self.relay.listen(room_group(room_id), self)

    async def _unsubscribe(self, room_id: int) -> None:
        for slug in [slug for slug, room in self.post_rooms.items() if room.pk == room_id]:
            del self.post_rooms[slug]
        if self.delivery.discard_room(room_id):
            await self.relay.unlisten(room_group(room_id), self)

    async def close_after_fault(self) -> None:
        """End the socket after a server-side fault; the client reconnects and catches up."""
        await self.close(code=CLOSE_TRY_AGAIN)

    @database_sync_to_async
    def _visible_room(self, slug: object) -> Room:
        return selectors.room_for_user(user=self.user, slug=slug)

    @database_sync_to_async
    def _open_room(self, room: Room) -> dict:
        services.room_join(user=self.user, room=room)
        return selectors.joined_frame(user=self.user, room=room)

    @database_sync_to_async
    def _direct_room(self, username: object) -> Room:
        return services.direct_room_open(user=self.user, username=username)[0]

    @database_sync_to_async
    def _joined_frame(self, room: Room) -> dict:
        return selectors.joined_frame(user=self.user, room=room)

    async def _reply_joined(self, room_id: int, payload: dict, ref: str | None) -> None:
        await self._subscribe(room_id)
        self.delivery.note_page(room_id, payload["messages"])
        await self.reply(payload, ref)

    # Both subscribe before reading the page: a message committed in between is then
    # in the page or live, never in neither (tests/faults/test_history_race.py).
    async def cmd_join(self, frame: dict, ref: str | None) -> None:
        room = await self._visible_room(frame.get("room"))
        subscribed = room.pk in self.delivery.room_ids
        await self._subscribe(room.pk)
        try:
            payload = await self._open_room(room)
        except Exception:
            if not subscribed:  # not a member after all: room_ids holds memberships only
                await self._unsubscribe(room.pk)
            raise
        await self._reply_joined(room.pk, payload, ref)

    async def cmd_dm(self, frame: dict, ref: str | None) -> None:
        room = await self._direct_room(frame.get("username"))
        await self._subscribe(room.pk)
        await self._reply_joined(room.pk, await self._joined_frame(room), ref)

    @database_sync_to_async
    def _leave(self, slug: object) -> int:
        room = selectors.room_for_user(user=self.user, slug=slug)
        services.room_leave(user=self.user, room=room)
        return room.pk

    async def cmd_leave(self, frame: dict, ref: str | None) -> None:
        room_id = await self._leave(frame.get("room"))
        await self._unsubscribe(room_id)
        await self.reply({"type": "left", "room": frame["room"]}, ref)

    @post_hop
    def _post(self, frame: dict, known: Room | None) -> services.Posted:
        return services.message_post(
            user=self.user,
            room=known or selectors.room_for_user(user=self.user, slug=frame.get("room")),
            body=frame.get("body"),
            client_id=frame.get("client_id", ""),
            thread=frame.get("thread"),
            attachments=frame.get("attachments"),
            room_read_earlier=known is not None,
        )

    def _remember_post_room(self, slug: str, room: Room) -> None:
        """Keep the room a post went into: the next post to it skips reading it
        (services.message_post checks it again as it stores)."""
        self.post_rooms.pop(slug, None)
        if len(self.post_rooms) >= POST_ROOMS_MAX:
            del self.post_rooms[next(iter(self.post_rooms))]  # the oldest
        self.post_rooms[slug] = room

    async def cmd_send(self, frame: dict, ref: str | None) -> None:
        # The kept rooms are read and changed on the event loop only: posts run on
        # threads of their own (realtime/post_threads.py).
        slug = frame.get("room")
        known = self.post_rooms.get(slug) if isinstance(slug, str) else None
        posted = await self._post(frame, known)
        if posted.created:
            self._remember_post_room(slug, posted.message.room)
        message = posted.payload
        if self.delivery.holding():
            # Stored, but an id past messages this socket missed would make its client's
            # catch-up skip them: the client resends (same client_id) once recycled.
            return
        # The sender gets its copy now, with its ref; the room copy is then skipped.
        self.delivery.note_acked(message["id"])
        await self.reply({"type": "message", "message": message, "seq": message["seq"]}, ref)

    @database_sync_to_async
    def _edit(self, message_id: object, body: object) -> None:
        services.message_edit(user=self.user, message_id=message_id, body=body)

    async def cmd_edit(self, frame: dict, ref: str | None) -> None:
        await self._edit(frame.get("id"), frame.get("body"))

    @database_sync_to_async
    def _delete(self, message_id: object) -> None:
        services.message_delete(user=self.user, message_id=message_id)

    async def cmd_delete(self, frame: dict, ref: str | None) -> None:
        await self._delete(frame.get("id"))

    @database_sync_to_async
    def _history(self, frame: dict) -> tuple[int | None, dict]:
        """A page of the main timeline, or of a thread's replies (with its root).

        Returns the room id to note the page for (None for a thread page: its ids
        say nothing about which of the timeline's live messages were sent).
        """
        room = selectors.room_for_user(user=self.user, slug=frame.get("room"))
        payload = selectors.history_frame(
            room=room,
            before=frame.get("before"),
            after=frame.get("after"),
            around=frame.get("around"),
            limit=frame.get("limit"),
            thread=frame.get("thread"),
        )
        return (None if "thread" in payload else room.pk), payload

    async def cmd_history(self, frame: dict, ref: str | None) -> None:
        room_id, payload = await self._history(frame)
        if room_id in self.delivery.room_ids:
            self.delivery.note_page(room_id, payload["messages"])
        await self.reply(payload, ref)

    @database_sync_to_async
    def _changes(self, frame: dict) -> dict:
        room = selectors.room_for_user(user=self.user, slug=frame.get("room"))
        return selectors.synced_frame(room=room, since=frame.get("since"), limit=frame.get("limit"))

    async def cmd_sync(self, frame: dict, ref: str | None) -> None:
        await self.reply(await self._changes(frame), ref)

    @database_sync_to_async
    def _react(self, frame: dict) -> None:
        reactions.reaction_set(
            user=self.user, message_id=frame.get("id"), emoji=frame.get("emoji"), on=frame.get("on")
        )

    async def cmd_react(self, frame: dict, ref: str | None) -> None:
        await self._react(frame)  # the room, this socket included, gets `reaction`

    @database_sync_to_async
    def _pin(self, frame: dict) -> None:
        reactions.pin_set(user=self.user, message_id=frame.get("id"), on=frame.get("on"))

    async def cmd_pin(self, frame: dict, ref: str | None) -> None:
        await self._pin(frame)  # the room, this socket included, gets `message_pinned`

    @database_sync_to_async
    def _typing(self, slug: object) -> None:
        room = selectors.room_for_user(user=self.user, slug=slug)
        services.typing_announce(user=self.user, room=room, exclude=self.conn_id)

    async def cmd_typing(self, frame: dict, ref: str | None) -> None:
        slug = frame.get("room")
        if not validators.is_slug(slug):  # no room: refused before anything is stored
            raise ClientError("not_found", "No such room.")
        now = time.monotonic()
        if now - self.last_typing.get(slug, 0.0) < TYPING_MIN_INTERVAL_SECS:
            return  # throttled: typing is a hint, dropping repeats loses nothing
        await self._typing(slug)  # raises for rooms the user cannot type in: nothing is kept
        self.last_typing.pop(slug, None)
        if len(self.last_typing) >= TYPING_TRACKED_MAX:
            del self.last_typing[next(iter(self.last_typing))]  # the oldest
        self.last_typing[slug] = now

    @database_sync_to_async
    def _read(self, slug: object, message_id: object) -> None:
        room = selectors.room_for_user(user=self.user, slug=slug)
        services.read_mark(user=self.user, room=room, message_id=message_id)

    async def cmd_read(self, frame: dict, ref: str | None) -> None:
        await self._read(frame.get("room"), frame.get("message_id"))

    async def cmd_ping(self, frame: dict, ref: str | None) -> None:
        await self.reply({"type": "pong"}, ref)

    COMMANDS = {
        "join": cmd_join,
        "leave": cmd_leave,
        "send": cmd_send,
        "edit": cmd_edit,
        "delete": cmd_delete,
        "history": cmd_history,
        "typing": cmd_typing,
        "read": cmd_read,
        "dm": cmd_dm,
        "ping": cmd_ping,
        "sync": cmd_sync,
        "react": cmd_react,
        "pin": cmd_pin,
    }

    # Channel-layer event handlers (called by realtime.relay)
    # --------------------------------------------------------------------------

    def chat_frame(self, event: dict) -> Awaitable[None]:
        """Forward a frame serialised once by chat.events (what Channels' dispatch calls
        for a socket with a channel of its own: bench/product_patches.py ``persocket``)."""
        return self.delivery.forward(event)

    async def chat_room_added(self, event: dict) -> None:
        await self._subscribe(event["room_id"])
        await self.send(text_data=event["frame"])

    async def chat_room_removed(self, event: dict) -> None:
        await self._unsubscribe(event["room_id"])
        await self.send(text_data=event["frame"])

    async def chat_close(self, event: dict) -> None:
        """Close if the event is for every socket of the user, this session's, or this token's."""
        session_key, token_id = event.get("session_key"), event.get("token_id")
        if session_key and session_key != self.session_key:
            return
        if token_id and token_id != self.token_id:
            return
        await self.close(code=event["code"])
