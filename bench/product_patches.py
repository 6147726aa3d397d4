"""ASGI entry point for product experiments: the product's application with one change.

Loaded instead of ``project.asgi:application`` when a benchmark variant name carries
a ``+change`` suffix (``product-pubsub+hop``); ``BENCH_PATCH`` names the changes
(comma-separated). The
product's own files are never edited. Changes:

* ``hop``: Channels' stock ``AsyncConsumer.dispatch`` (one
  ``sync_to_async(close_old_connections)`` thread hop per event) instead of the
  product's override without it: hypothesis (a).
* ``perrecipient``: room events carry the payload dict and every recipient's
  ``chat_frame`` serialises it, instead of one encoded frame per event: hypothesis (b).
* ``cap<N>``: RedisChannelLayer ``capacity`` N (channels-redis's default is 100):
  hypothesis (d).
* ``localfanout``: a prototype of per-replica fan-out. Sockets no longer join room
  groups; one listener channel per process joins each room group that has a local
  member, and hands every event straight to the local members' ``chat_frame``: one
  channel-layer delivery per replica per event instead of one per recipient (no
  per-recipient queue put, task wake-up or dispatch).
"""

import os

from project.asgi import application  # noqa: F401  (sets Django up; served by daphne)

PATCH = os.environ.get("BENCH_PATCH", "")


def _hop() -> None:
    from channels.consumer import AsyncConsumer

    from chat.consumers import ChatConsumer

    ChatConsumer.dispatch = AsyncConsumer.dispatch


def _per_recipient() -> None:
    import json

    from chat import events
    from chat.consumers import ChatConsumer

    send = events._send

    def _send_wrapper(group, event, *args, **kwargs):
        if event.get("type") == "chat.frame" and "frame" in event:
            payload = json.loads(event["frame"])
            event = {k: v for k, v in event.items() if k != "frame"}
            event["payload"] = payload
        return send(group, event, *args, **kwargs)

    forward = ChatConsumer.chat_frame

    async def chat_frame(self, event):
        if "payload" in event:  # serialised once per recipient
            event = {**event, "frame": events.encode(event["payload"])}
        await forward(self, event)

    events._send = _send_wrapper
    ChatConsumer.chat_frame = chat_frame


def _local_fanout() -> None:
    import asyncio
    import logging

    from chat.consumers import ChatConsumer
    from chat.groups import room_group

    log = logging.getLogger("bench.localfanout")
    members: dict[int, set] = {}  # room id -> this process's consumers in it
    listener: dict = {"channel": None, "task": None}

    async def pump(layer, channel: str) -> None:
        while True:
            event = await layer.receive(channel)
            for consumer in list(members.get(event.get("room_id"), ())):
                try:
                    await consumer.chat_frame(event)
                except Exception:
                    log.warning("local fan-out failed", exc_info=True)

    async def listener_channel(layer) -> str:
        if listener["channel"] is None:
            listener["channel"] = await layer.new_channel()
            listener["task"] = asyncio.get_running_loop().create_task(
                pump(layer, listener["channel"])
            )
        return listener["channel"]

    async def _subscribe(self, room_id: int) -> None:
        if room_id not in self.room_ids:
            self.room_ids.add(room_id)
            local = members.setdefault(room_id, set())
            local.add(self)
            if len(local) == 1:
                channel = await listener_channel(self.channel_layer)
                await self.channel_layer.group_add(room_group(room_id), channel)

    async def _leave_local(self, room_id: int) -> None:
        local = members.get(room_id)
        if local is not None:
            local.discard(self)
            if not local:
                del members[room_id]
                await self.channel_layer.group_discard(room_group(room_id), listener["channel"])

    async def _unsubscribe(self, room_id: int) -> None:
        if room_id in self.room_ids:
            self.room_ids.discard(room_id)
            self.sent_up_to.pop(room_id, None)
            await _leave_local(self, room_id)

    disconnect = ChatConsumer.disconnect

    async def _disconnect(self, code: int) -> None:
        for room_id in list(getattr(self, "room_ids", ())):
            try:
                await _leave_local(self, room_id)
            except Exception:
                log.warning("leaving room %s failed", room_id, exc_info=True)
        await disconnect(self, code)

    ChatConsumer._subscribe = _subscribe
    ChatConsumer._unsubscribe = _unsubscribe
    ChatConsumer.disconnect = _disconnect


def _capacity(n: int) -> None:
    from django.conf import settings

    settings.CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["capacity"] = n


for patch in filter(None, PATCH.split(",")):
    if patch == "hop":
        _hop()
    elif patch == "perrecipient":
        _per_recipient()
    elif patch == "localfanout":
        _local_fanout()
    elif patch.startswith("cap"):
        _capacity(int(patch[3:]))
    else:
        raise SystemExit(f"unknown BENCH_PATCH {patch!r}")
