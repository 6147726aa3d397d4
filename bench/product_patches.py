"""ASGI entry point for product experiments: the product's application with one change.

Loaded instead of ``project.asgi:application`` when a benchmark variant name carries
a ``+change`` suffix (``product-pubsub+hop``); ``BENCH_PATCH`` names the change. The
product's own files are never edited. Changes:

* ``hop``: Channels' stock ``AsyncConsumer.dispatch`` (one
  ``sync_to_async(close_old_connections)`` thread hop per event) instead of the
  product's override without it: hypothesis (a).
* ``perrecipient``: room events carry the payload dict and every recipient's
  ``chat_frame`` serialises it, instead of one encoded frame per event: hypothesis (b).
* ``cap<N>``: RedisChannelLayer ``capacity`` N (channels-redis's default is 100):
  hypothesis (d).
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


def _capacity(n: int) -> None:
    from django.conf import settings

    settings.CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["capacity"] = n


if PATCH == "hop":
    _hop()
elif PATCH == "perrecipient":
    _per_recipient()
elif PATCH.startswith("cap"):
    _capacity(int(PATCH[3:]))
elif PATCH:
    raise SystemExit(f"unknown BENCH_PATCH {PATCH!r}")
