"""ASGI entry point for product experiments: the product's application with one change.

Loaded instead of ``project.asgi:application`` when a benchmark variant name carries
a ``+change`` suffix (``product-pubsub+hop``); ``BENCH_PATCH`` names the changes
(comma-separated). The
product's own files are never edited. Changes:

* ``hop``: Channels' stock ``AsyncConsumer.dispatch`` (one
  ``sync_to_async(close_old_connections)`` thread hop per event) instead of the
  product's override without it: hypothesis (a). The product's relay calls
  handlers without ``dispatch``, so this only reaches client frames, unless
  combined with ``persocket``.
* ``perrecipient``: room events carry the payload dict and every recipient's
  ``chat_frame`` serialises it, instead of one encoded frame per event: hypothesis (b).
* ``bufferedwrites``: Twisted's TCP write (buffer, then send on the next loop turn)
  and autobahn's per-frame log formatting, instead of ``project.serve``'s
  ``install_fast_writes``.
* ``cap<N>``: RedisChannelLayer ``capacity`` N (channels-redis's default is 100):
  hypothesis (d).
* ``persocket``: the product as it was before per-replica fan-out (realtime/relay.py):
  every socket has a channel of its own, added to each room and user group, and
  Channels dispatches every event to it: one channel-layer delivery per recipient.
  With ``hop`` as well, that dispatch makes Channels' thread hop per event.
"""

import os

from project.asgi import application  # noqa: F401  (sets Django up; served by daphne)

PATCH = os.environ.get("BENCH_PATCH", "")


def _consumers():
    """The consumer module of the product under test (--product-src may be older)."""
    try:
        from realtime import consumers
    except ImportError:  # before the transport moved out of chat/
        from chat import consumers
    return consumers


def _hop() -> None:
    from channels.consumer import AsyncConsumer

    _consumers().ChatConsumer.dispatch = AsyncConsumer.dispatch


def _per_recipient() -> None:
    import json

    from chat import events

    ChatConsumer = _consumers().ChatConsumer

    send = events._send

    def _send_wrapper(group, event, *args, **kwargs):
        if event.get("type") == "chat.frame" and "frame" in event:
            payload = json.loads(event["frame"])
            event = {k: v for k, v in event.items() if k != "frame"}
            event["payload"] = payload
        return send(group, event, *args, **kwargs)

    try:  # the relay hands frames to the socket's delivery object (realtime/delivery.py)
        from realtime.delivery import SocketDelivery as target

        name = "forward"
    except ImportError:  # before it: to the consumer
        target, name = ChatConsumer, "chat_frame"
    forward = getattr(target, name)

    async def chat_frame(self, event):
        if "payload" in event:  # serialised once per recipient
            event = {**event, "frame": events.encode(event["payload"])}
        await forward(self, event)

    events._send = _send_wrapper
    setattr(target, name, chat_frame)


def _per_socket() -> None:
    """The product before realtime/relay.py: a channel per socket, added to each of its groups."""
    consumers = _consumers()

    class PerSocket:
        """What a consumer asks of its relay, done with the socket's own channel."""

        async def listen(self, group: str, socket) -> None:
            await socket.channel_layer.group_add(group, socket.channel_name)

        async def unlisten(self, group: str, socket) -> None:
            await socket.channel_layer.group_discard(group, socket.channel_name)

    # Channels then dispatches each event to the handler (chat_frame, ...) itself.
    consumers.ChatConsumer.channel_layer_alias = "default"
    consumers.relay = PerSocket


def _buffered_writes() -> None:
    """Twisted's own TCP writes and autobahn's log formatting, without project.serve's fast path."""
    from autobahn import util
    from autobahn.websocket import protocol
    from twisted.internet import tcp

    from project import serve

    tcp.Connection.write = serve._buffered_write
    protocol.hltype, protocol.hlval = util.hltype, util.hlval


def _capacity(n: int) -> None:
    from django.conf import settings

    settings.CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["capacity"] = n


for patch in filter(None, PATCH.split(",")):
    if patch == "hop":
        _hop()
    elif patch == "perrecipient":
        _per_recipient()
    elif patch == "persocket":
        _per_socket()
    elif patch == "bufferedwrites":
        _buffered_writes()
    elif patch.startswith("cap"):
        _capacity(int(patch[3:]))
    else:
        raise SystemExit(f"unknown BENCH_PATCH {patch!r}")
