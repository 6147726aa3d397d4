"""A frame the relay hands to many sockets is framed once, and is byte for byte daphne's.

project/server/framing.py: GracefulServer.handle_reply encodes and frames a
text once for every open socket it goes to. These run daphne's real server
and autobahn protocols on in-memory transports.
"""

import dataclasses

import daphne.server  # noqa: F401  (installs Twisted's asyncio reactor first)
import pytest
from autobahn.websocket.protocol import PayloadExceededError, WebSocketProtocol
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from project import compat
from project.server import framing
from project.server.graceful import GracefulServer

TEXTS = [
    "héllo",
    "x" * 125,  # the longest length in the first header byte
    "x" * 126,  # a 16-bit length
    "y" * 70_000,  # a 64-bit length
    '{"type":"message","body":"😀 ünïcode"}' * 3,
]


def _server(**options) -> GracefulServer:
    server = GracefulServer(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.connections = {}
    server.ws_factory = WebSocketFactory(server, server="Daphne")
    server.ws_factory.setProtocolOptions(
        openHandshakeTimeout=0, autoPingInterval=0, maxMessagePayloadSize=1 << 20, **options
    )
    return server


def _open_socket(server: GracefulServer) -> tuple[WebSocketProtocol, StringTransport]:
    protocol = server.ws_factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state = WebSocketProtocol.STATE_OPEN  # as after the handshake (onConnect)
    protocol.client_addr = ["127.0.0.1", 50000]
    server.connections[protocol] = {}
    return protocol, transport


def _daphnes_frame(text: str) -> bytes:
    """What daphne's own path (serverSend, sendMessage) writes for the text."""
    protocol, transport = _open_socket(_server())
    protocol.serverSend(text, False)
    return transport.value()


@pytest.fixture
def prepared(monkeypatch) -> list[bytes]:
    """Every payload the factory frames."""
    framed: list[bytes] = []
    original = WebSocketFactory.prepareMessage

    def counting(self, payload, *args, **kwargs):
        framed.append(payload)
        return original(self, payload, *args, **kwargs)

    monkeypatch.setattr(WebSocketFactory, "prepareMessage", counting)
    return framed


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: f"{len(text)} chars")
async def test_a_text_goes_out_as_the_frame_daphnes_own_path_writes(text, prepared):
    server = _server()
    protocol, transport = _open_socket(server)
    await server.handle_reply(protocol, {"type": "websocket.send", "text": text})
    assert transport.value() == _daphnes_frame(text)
    assert prepared == [text.encode()]


async def test_one_text_sent_to_a_rooms_sockets_is_framed_once(prepared):
    server = _server()
    sockets = [_open_socket(server) for _ in range(5)]
    message = {"type": "websocket.send", "text": '{"type":"message","id":1}'}
    for protocol, _ in sockets:
        await server.handle_reply(protocol, message)
    assert len(prepared) == 1
    assert {transport.value() for _, transport in sockets} == {_daphnes_frame(message["text"])}

    following = {"type": "websocket.send", "text": '{"type":"message","id":2}'}
    for protocol, _ in sockets:
        await server.handle_reply(protocol, following)
    assert len(prepared) == 2
    for _, transport in sockets:
        assert transport.value().endswith(_daphnes_frame(following["text"]))


async def test_an_equal_text_that_is_another_object_is_framed_again(prepared):
    server = _server()
    protocol, transport = _open_socket(server)
    first = "".join(["same ", "text"])
    second = "".join(["same ", "text"])
    assert first == second and first is not second
    await server.handle_reply(protocol, {"type": "websocket.send", "text": first})
    await server.handle_reply(protocol, {"type": "websocket.send", "text": second})
    assert len(prepared) == 2
    assert transport.value() == _daphnes_frame(first) * 2


async def test_a_socket_daphne_no_longer_serves_gets_nothing(prepared):
    server = _server()
    gone, gone_transport = _open_socket(server)
    server.connections[gone]["disconnected"] = 1.0
    unknown, unknown_transport = _open_socket(server)
    del server.connections[unknown]
    for protocol in (gone, unknown):
        await server.handle_reply(protocol, {"type": "websocket.send", "text": "late"})
    assert gone_transport.value() == unknown_transport.value() == b""


async def test_a_closing_socket_gets_nothing():
    server = _server()
    protocol, transport = _open_socket(server)
    protocol.state = WebSocketProtocol.STATE_CLOSING
    await server.handle_reply(protocol, {"type": "websocket.send", "text": "late"})
    assert transport.value() == b""


async def test_an_empty_text_sends_nothing_as_in_daphne(prepared):
    server = _server()
    protocol, transport = _open_socket(server)
    await server.handle_reply(protocol, {"type": "websocket.send", "text": ""})
    assert transport.value() == b"" and prepared == []


async def test_a_text_over_the_payload_limit_is_refused_as_daphne_refuses_it():
    server = _server()
    server.ws_factory.setProtocolOptions(maxMessagePayloadSize=100)
    protocol, transport = _open_socket(server)
    with pytest.raises(PayloadExceededError):
        await server.handle_reply(protocol, {"type": "websocket.send", "text": "z" * 101})
    assert transport.value() == b""


async def test_a_text_autobahn_would_fragment_goes_through_daphnes_path(prepared):
    server = _server(autoFragmentSize=64)
    protocol, transport = _open_socket(server)
    text = "f" * 200
    await server.handle_reply(protocol, {"type": "websocket.send", "text": text})
    # Four frames of 64, 64, 64 and 8 bytes: the first is not final (FIN bit clear).
    assert transport.value()[0] == 0x01
    assert transport.value().count(b"f" * 64) == 3


async def test_bytes_go_through_daphnes_path():
    server = _server()
    protocol, transport = _open_socket(server)
    await server.handle_reply(protocol, {"type": "websocket.send", "bytes": b"\x00\x01"})
    assert transport.value() == b"\x82\x02\x00\x01"


async def test_with_the_contract_broken_daphnes_path_sends_the_same_frames(monkeypatch, prepared):
    def broken() -> None:
        raise compat.ContractBroken("Server.handle_reply changed")

    monkeypatch.setattr(
        "project.server.graceful.FRAME_ONCE", dataclasses.replace(framing.FRAME_ONCE, probe=broken)
    )
    server = _server()
    protocol, transport = _open_socket(server)
    await server.handle_reply(protocol, {"type": "websocket.send", "text": TEXTS[0]})
    assert prepared == []
    assert transport.value() == _daphnes_frame(TEXTS[0])


async def test_a_frame_waits_behind_what_autobahn_has_queued_for_the_socket():
    server = _server()
    protocol, transport = _open_socket(server)
    protocol.send_queue.append((b"queued first", True))  # a synced send in progress
    protocol._trigger = lambda: None  # the reactor would flush the queue later
    await server.handle_reply(protocol, {"type": "websocket.send", "text": "after it"})
    assert transport.value() == b""
    queued = [data for data, _ in protocol.send_queue]
    assert queued == [b"queued first", _daphnes_frame("after it")]


async def test_a_socket_that_negotiated_compression_gets_its_frame_compressed():
    from autobahn.websocket.compress import PerMessageDeflate

    server = _server()
    protocol, transport = _open_socket(server)
    protocol._perMessageCompress = PerMessageDeflate(
        is_server=True,
        server_no_context_takeover=False,
        client_no_context_takeover=False,
        server_max_window_bits=15,
        client_max_window_bits=15,
        mem_level=8,
    )
    text = "compress me " * 20
    await server.handle_reply(protocol, {"type": "websocket.send", "text": text})
    frame = transport.value()
    assert frame[0] == 0xC1  # FIN, RSV1 (compressed), text
    assert len(frame) < len(text)
