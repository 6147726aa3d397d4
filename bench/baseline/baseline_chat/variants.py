"""Two one-change variants of the tutorial consumer, for measuring hypotheses.

Selected with ``BASELINE_CONSUMER`` (see routing.py); the default is the
tutorial's own ``ChatConsumer``:

* ``nohop``: ``dispatch`` without Channels' per-event
  ``sync_to_async(close_old_connections)`` thread hop (Channels >= 4.2), since
  no handler here touches the database: hypothesis (a).
* ``once``: the frame is serialised once by the sender, and ``chat_message``
  forwards the text, instead of ``json.dumps`` per recipient: hypothesis (b).
"""

import json

from channels.consumer import get_handler_name

from .consumers import ChatConsumer


class NoHopChatConsumer(ChatConsumer):
    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class EncodeOnceChatConsumer(ChatConsumer):
    async def receive(self, text_data):
        message = json.loads(text_data)["message"]
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.frame", "text": json.dumps({"message": message})}
        )

    async def chat_frame(self, event):
        await self.send(text_data=event["text"])


VARIANTS = {"tutorial": ChatConsumer, "nohop": NoHopChatConsumer, "once": EncodeOnceChatConsumer}
