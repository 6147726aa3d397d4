"""A text frame handed to many sockets is encoded and framed once (autobahn's prepared messages).

The relay hands one ASGI ``websocket.send`` message, the same dict with the
same ``text``, to each local socket of a room (realtime/relay.py,
realtime/delivery.py). daphne's path for each socket is five calls deep:
``Server.handle_reply`` (a coroutine), ``WebSocketProtocol.handle_reply``,
``serverSend`` (which encodes the text to UTF-8 again) and autobahn's
``sendMessage`` and ``sendFrame`` (which build the frame header again). With
py-spy in the room of 500 at 16,000 deliveries/s, that was about a sixth of a
replica's samples, besides the ``send()`` system call itself
(bench/README.md, "Issue 18: the fan-out's frames").

Here ``GracefulServer.handle_reply`` sends the text of an open socket with
``FrameOnce.send``: it encodes and frames a text once
(``WebSocketServerFactory.prepareMessage``) and hands the frame to each socket
the way ``sendPreparedMessage`` (the API autobahn has for broadcasting) does:
its transport gets the frame's bytes, unless autobahn has a send queue waiting
or the socket negotiated compression (then ``sendPreparedMessage`` itself,
which compresses), without ``sendData``'s debug line (a no-op call with its
arguments built) and traffic counters (nothing reads them). The last
text framed is kept by reference, so ``is`` tells the next socket's text is the
same one (a kept object's identity cannot be reused). What daphne's path
would refuse or treat otherwise still goes through it: a socket not open, a
text over ``maxMessagePayloadSize`` (autobahn raises), one that
``autoFragmentSize`` would split, ``bytes``.

daphne (written for 4.2): ``Server.handle_reply`` skips a protocol that is not
in ``connections`` or is ``disconnected``; ``WebSocketProtocol.handle_reply``
sends a non-empty ``text`` with ``serverSend``, which sends
``text.encode("utf8")`` with ``sendMessage``. autobahn (26.11):
``prepareMessage``, ``sendPreparedMessage`` writing ``payloadHybi`` with
``sendData`` when ``_perMessageCompress`` is None, ``sendData`` writing to the
transport when its ``send_queue`` is empty, and the two limits ``sendMessage``
applies. Checked at start-up (their sources). Broken:
daphne's path for every socket (slower, the same frames).
"""

from project.compat import Reliance, require_attributes, require_source


def _probe_framing() -> None:
    from autobahn.websocket.protocol import WebSocketProtocol, WebSocketServerFactory
    from daphne import server, ws_protocol

    require_source(
        server.Server.handle_reply,
        "protocol not in self.connections",
        '"disconnected", None',
        "protocol.handle_reply(message)",
    )
    require_source(
        ws_protocol.WebSocketProtocol.handle_reply,
        'if message.get("text", None):',
        'self.serverSend(message["text"], False)',
    )
    require_source(
        ws_protocol.WebSocketProtocol.serverSend,
        'self.sendMessage(content.encode("utf8"), binary)',
    )
    require_attributes(WebSocketServerFactory, "prepareMessage")
    require_source(
        WebSocketProtocol.sendPreparedMessage,
        "self._perMessageCompress is None",
        "self.sendData(preparedMsg.payloadHybi)",
    )
    require_source(
        WebSocketProtocol.sendData,
        "if sync or len(self.send_queue) > 0:",
        "self.transport.write(data)",
    )
    require_source(
        WebSocketProtocol.sendMessage,
        "0 < self.maxMessagePayloadSize < payload_len",
        "self.autoFragmentSize > 0",
    )


FRAME_ONCE = Reliance(
    name="autobahn-prepared-frames",
    library="daphne",
    written_for="4.2",
    relies_on=(
        "daphne's handle_reply/serverSend path for a text, autobahn's prepareMessage, "
        "sendPreparedMessage, maxMessagePayloadSize and autoFragmentSize"
    ),
    probe=_probe_framing,
    off="every socket's frame is encoded and framed again (daphne's path, slower fan-out)",
)


class FrameOnce:
    """The last text framed, kept while the relay hands it to each local socket."""

    __slots__ = ("text", "prepared", "size")

    def __init__(self) -> None:
        self.text: str | None = None
        self.prepared = None
        self.size = 0

    def send(self, factory, protocol, text: str) -> bool:
        """Send ``text`` on an open socket; False if daphne's path must send it instead."""
        if text is not self.text:
            payload = text.encode("utf8")
            self.prepared = factory.prepareMessage(payload)
            self.size = len(payload)
            self.text = text
        size = self.size
        if 0 < protocol.maxMessagePayloadSize < size or 0 < protocol.autoFragmentSize < size:
            return False
        if protocol._perMessageCompress is None and not protocol.send_queue:
            # What sendPreparedMessage and sendData do for it, without their no-op debug
            # line and traffic counters (nothing reads them).
            protocol.transport.write(self.prepared.payloadHybi)
        else:
            protocol.sendPreparedMessage(self.prepared)
        return True


RELIANCES = [FRAME_ONCE]
