"""The write path: Twisted's TCP writes send at once; autobahn's log arguments stay plain.

Fan-out writes one frame to each of a room's sockets in a row. Twisted's TCP
transport only buffers a write and registers the socket with the event loop
(an epoll_ctl), sends it on the next loop turn and unregisters it (another
epoll_ctl): two system calls and a loop turn per frame, about a third of a
replica's fan-out CPU (py-spy, bench/README.md), and no member gets a frame
before every member's frame has been built. asyncio's transports send at once
when nothing is queued; this gives Twisted's TCP connections the same.

Twisted (written for 26.10): ``tcp.Connection.write`` is replaced by one that
reads ``FileDescriptor``'s private buffer state (``dataBuffer``, ``offset``,
``_tempDataLen``, ``_writeDisconnected``) to know that nothing waits, and then
calls ``writeSomeData`` itself, as ``doWrite`` would. Checked: those attributes,
and the source of ``tcp.Connection.write``, ``FileDescriptor.write`` and
``doWrite`` (a change there may change what "nothing waits" means). Broken:
Twisted's own buffered writes (slower, still correct).

autobahn (written for 26.11): ``autobahn.websocket.protocol`` calls the module
globals ``hltype`` and ``hlval`` to colour a debug line's arguments on every frame
sent, whatever the log level (~5% of a replica's fan-out CPU); they are replaced
by the identity. Checked: both globals exist and ``sendData`` still calls them.
Broken: left as they are.
"""

from twisted.internet import abstract, tcp

from project.compat import (
    Reliance,
    require_attributes,
    require_digest,
    require_source,
)

# Twisted 26.10: ConnectionMixin.write, FileDescriptor.write, FileDescriptor.doWrite.
CONNECTION_WRITE_DIGESTS = {"9a1ac7496539526b"}
FD_WRITE_DIGESTS = {"b3410de7a82777bb"}
FD_DO_WRITE_DIGESTS = {"33b469b3af894e6a"}


def _probe_write_through() -> None:
    require_attributes(
        tcp.Connection,
        "TLS",
        "connected",
        "disconnecting",
        "_writeDisconnected",
        "dataBuffer",
        "offset",
        "writeSomeData",
    )
    require_source(abstract.FileDescriptor.__init__, "self._tempDataLen = 0")
    require_digest(buffered_write, CONNECTION_WRITE_DIGESTS)
    require_digest(abstract.FileDescriptor.write, FD_WRITE_DIGESTS)
    require_digest(abstract.FileDescriptor.doWrite, FD_DO_WRITE_DIGESTS)


WRITE_THROUGH = Reliance(
    name="twisted-write-through",
    library="Twisted",
    written_for="26.10",
    relies_on="tcp.Connection's buffer state (dataBuffer, offset, _tempDataLen) and write/doWrite",
    probe=_probe_write_through,
    off="TCP writes stay buffered until the next loop turn (slower fan-out)",
)


def _probe_log_args() -> None:
    from autobahn.websocket import protocol

    require_attributes(protocol, "hltype", "hlval")
    require_source(protocol.WebSocketProtocol.sendData, "hltype(", "hlval(")


AUTOBAHN_LOG_ARGS = Reliance(
    name="autobahn-log-args",
    library="autobahn",
    written_for="26.11",
    relies_on="autobahn.websocket.protocol's module globals hltype/hlval, called per frame sent",
    probe=_probe_log_args,
    off="autobahn keeps colouring its per-frame debug-log arguments",
)


def _write_through(self, data: bytes) -> None:
    """tcp.Connection.write, sending at once when nothing is waiting to be sent."""
    if (
        data
        and not self.TLS
        and self.connected
        and not self.disconnecting
        and not self._writeDisconnected
        and not self._tempDataLen
        and self.offset == len(self.dataBuffer)
    ):
        sent = self.writeSomeData(data)
        if isinstance(sent, int):
            if sent == len(data):
                return
            data = data[sent:]
        # Else the connection is lost: queued, the next doWrite meets the same error
        # and closes the connection the way Twisted always does.
    buffered_write(self, data)


# Twisted's own write, kept for what cannot be sent at once (and bench's +bufferedwrites).
buffered_write = tcp.Connection.write


def _plain(value: object) -> object:
    return value


def install_fast_writes() -> None:
    """Send-at-once TCP writes and plain log arguments (before the application loads).

    Installed first so that an application module may still put Twisted's own
    write back (bench/product_patches.py ``bufferedwrites``); checked by
    ``withdraw_broken()`` once logging is set up, before anything is served.
    """
    from autobahn.websocket import protocol

    tcp.Connection.write = _write_through
    protocol.hltype = protocol.hlval = _plain


def withdraw_broken() -> None:
    """Put the library's own code back for each piece whose contract does not hold."""
    from autobahn import util
    from autobahn.websocket import protocol

    if not WRITE_THROUGH.enabled and tcp.Connection.write is _write_through:
        tcp.Connection.write = buffered_write
    if not AUTOBAHN_LOG_ARGS.enabled and protocol.hltype is _plain:
        protocol.hltype, protocol.hlval = util.hltype, util.hlval


RELIANCES = [WRITE_THROUGH, AUTOBAHN_LOG_ARGS]
