"""Run daphne with a graceful shutdown: ``python -m project.serve [daphne options] app``.

Plain daphne stops on SIGTERM by cancelling every application: its sockets
are dropped without a close frame and ``disconnect()`` never runs, so presence
lingers until the sweep and clients only notice when their next ping fails.
Here SIGTERM (or SIGINT) drains the replica instead:

1. ``/readyz`` answers 503 and the listening sockets close, so the load
   balancer sends new connections to the other replicas;
2. every WebSocket gets a close frame with 1012 (service restart), so clients
   reconnect through the load balancer at once and catch up from their cursor;
   when the close handshake completes, the consumer's ``disconnect()`` runs;
3. in-flight HTTP requests finish, and the process exits once nothing is left,
   or after ``--shutdown-timeout`` seconds (then what remains is cancelled).
   A GET still waiting for its response after a short grace is a long poll:
   its connection is closed before any header, so nginx retries it on another
   replica (it retries idempotent requests nothing was answered to) and the
   client never notices; a direct client sees the connection drop and polls
   again.

A second signal stops at once. Every daphne option works as usual.
"""

# daphne.server installs Twisted's asyncio reactor; it must be imported first.
# isort: off
import daphne.server

# isort: on

import asyncio
import logging
import signal
import sys
import time
from functools import partial

from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.protocol import WebSocketProtocol
from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from twisted.internet import defer, reactor, tcp

from project.input_queue import InputQueue

log = logging.getLogger("chat.serve")

# 1012 "Service Restart": the server is restarting, reconnect (RFC 6455 registry).
CLOSE_SERVICE_RESTART = 1012
CLOSE_REASON = b"server restarting"
DEFAULT_SHUTDOWN_TIMEOUT_SECS = 10.0
DRAIN_POLL_SECS = 0.05
# How long a GET may still run after the sockets closed before it is cut (a
# long poll waits up to 30 s; a page or an API read takes milliseconds).
IDEMPOTENT_GRACE_SECS = 1.0


async def _dropped() -> None:
    """What a send to a socket that is already closing turns into."""


class SlowClientGuard:
    """Drops a WebSocket whose client stopped reading (its transport's streaming producer).

    Twisted pauses a transport's producer while more than 64 KiB wait unsent.
    A client that takes nothing for CHAT_SLOW_CLIENT_GRACE_SECS has stopped
    reading (a healthy one drains a full history page in far less): dropping it
    stops the replica buffering every frame for it without bound, and it catches
    up from its cursor when it reconnects (tests/faults/test_slow_client.py).
    The producer it replaces (the upgraded HTTP channel) is still told everything.
    """

    def __init__(self, protocol: WebSocketProtocol, grace: float) -> None:
        self.protocol = protocol
        self.grace = grace
        self.timer = None
        transport = protocol.transport
        self.inner = transport.producer
        if self.inner is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    def pauseProducing(self) -> None:
        if self.timer is None:
            self.timer = reactor.callLater(self.grace, self.drop)
        if self.inner is not None:
            self.inner.pauseProducing()

    def resumeProducing(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.inner is not None:
            self.inner.resumeProducing()

    def stopProducing(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.inner is not None:
            self.inner.stopProducing()

    def drop(self) -> None:
        from chat.metrics import SLOW_CLIENTS_DROPPED

        self.timer = None
        SLOW_CLIENTS_DROPPED.inc()
        log.warning("dropping a socket whose client stopped reading", extra={"grace_s": self.grace})
        # Not a close frame: it would wait behind everything the client has not read.
        self.protocol.dropConnection(abort=True)


# The write path
# ------------------------------------------------------------------------------
# Fan-out writes one frame to each of a room's sockets in a row. Twisted's TCP
# transport only buffers a write and registers the socket with the event loop
# (an epoll_ctl), sends it on the next loop turn and unregisters it (another
# epoll_ctl): two system calls and a loop turn per frame, about a third of a
# replica's fan-out CPU (py-spy, bench/README.md), and no member gets a frame
# before every member's frame has been built. asyncio's transports send at once
# when nothing is queued; this gives Twisted's TCP connections the same.


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
    _buffered_write(self, data)


_buffered_write = tcp.Connection.write


def _plain(value: object) -> object:
    return value


def install_fast_writes() -> None:
    """Send-at-once TCP writes; no colour formatting of autobahn's per-frame debug-log args.

    autobahn calls ``hltype(self.sendData)`` and ``hlval(...)`` for a debug line on
    every frame sent, whatever the log level: ~5% of a replica's fan-out CPU.
    """
    tcp.Connection.write = _write_through
    autobahn_protocol.hltype = autobahn_protocol.hlval = _plain


# What an open socket keeps only for its handshake: the raw request and response,
# their parsed headers and query (autobahn), and the whole upgrade request
# (daphne, which later reads only its path, for log lines). About 2.5 kB a socket.
HANDSHAKE_LEFTOVERS = (
    "http_request_data",
    "http_response_data",
    "http_headers",
    "http_request_params",
)


class _RequestPath:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def release_handshake(protocol: WebSocketProtocol) -> None:
    """Drop what an open socket no longer needs from its handshake (idle memory)."""
    for name in HANDSHAKE_LEFTOVERS:
        if hasattr(protocol, name):
            setattr(protocol, name, None)
    request = getattr(protocol, "request", None)
    if request is not None:
        protocol.request = _RequestPath(request.path)


class GracefulServer(daphne.server.Server):
    """daphne's Server with SIGTERM/SIGINT handled by draining (see the module docstring)."""

    def __init__(
        self,
        *args,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_SECS,
        close_code: int = CLOSE_SERVICE_RESTART,
        **kwargs,
    ) -> None:
        kwargs["signal_handlers"] = False
        kwargs["ready_callable"] = self._install_signal_handlers
        super().__init__(*args, **kwargs)
        self.shutdown_timeout = shutdown_timeout
        self.close_code = close_code
        self.ports: list = []
        self.draining = False
        self.drain_deadline = 0.0
        self.drain_started = 0.0

    def listen_success(self, port) -> None:
        # A frame over --websocket_max_message_size (1 MiB) or a protocol error ends
        # the socket with a close frame (1009, 1002...), not a dropped TCP connection
        # that clients cannot tell from a crash (tests/faults/test_frame_fuzz.py).
        # allowNullOrigin is restated because autobahn resets it to False on every
        # setProtocolOptions call; Origin checks belong to the application (403).
        self.ws_factory.setProtocolOptions(failByDrop=False, allowNullOrigin=True)
        self.ports.append(port)
        super().listen_success(port)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.drain, signum)

    def create_application(self, protocol, scope: dict):
        """daphne's, with an InputQueue for WebSockets (idle memory per socket)."""
        if not isinstance(protocol, WebSocketProtocol):
            return super().create_application(protocol, scope)
        assert "application_instance" not in self.connections[protocol]
        queue = InputQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(
            scope=scope, receive=queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return queue

    def handle_reply(self, protocol, message: dict):
        # A frame for a socket whose close handshake has begun is dropped; daphne
        # would pass it to autobahn, which raises, and the consumer would crash
        # before its disconnect() runs.
        if message["type"] == "websocket.send" and protocol.state in (
            WebSocketProtocol.STATE_CLOSING,
            WebSocketProtocol.STATE_CLOSED,
        ):
            return _dropped()
        reply = super().handle_reply(protocol, message)
        if message["type"] == "websocket.accept":
            return self._guard_when_open(reply, protocol)
        return reply

    async def _guard_when_open(self, reply, protocol) -> None:
        await reply
        from django.conf import settings

        if protocol.state != WebSocketProtocol.STATE_OPEN:
            return
        release_handshake(protocol)
        grace = settings.CHAT_SLOW_CLIENT_GRACE_SECS
        if grace > 0:
            SlowClientGuard(protocol, grace)

    # Draining
    # --------------------------------------------------------------------------

    def drain(self, signum: int = signal.SIGTERM) -> None:
        """Stop accepting, close every socket with the restart code, wait, then stop."""
        if self.draining:
            log.warning("second signal: stopping now")
            self.stop()
            return
        from project.health import mark_draining

        self.draining = True
        self.drain_started = time.monotonic()
        self.drain_deadline = self.drain_started + self.shutdown_timeout
        mark_draining()
        open_now = [p for p, d in self.connections.items() if "disconnected" not in d]
        sockets = sum(isinstance(p, WebSocketProtocol) for p in open_now)
        log.info(
            "draining",
            extra={
                "signal": signal.Signals(signum).name,
                "sockets": sockets,
                "requests": len(open_now) - sockets,
                "timeout_s": self.shutdown_timeout,
            },
        )
        # Whatever happens while draining, the process stops by the deadline.
        reactor.callLater(self.shutdown_timeout + 1, self.stop)
        for port in self.ports:
            port.stopListening()
        self._drain_tick()

    def _close_open_sockets(self) -> None:
        for protocol in list(self.connections):
            if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
                # Not serverClose()/sendClose(): autobahn lets applications use only
                # 1000 and 3000-4999, while 1012 is the registered code for this.
                protocol.sendCloseFrame(code=self.close_code, reasonUtf8=CLOSE_REASON)

    def _cut_waiting_reads(self) -> None:
        cut = 0
        for protocol, details in list(self.connections.items()):
            if (
                isinstance(protocol, WebRequest)
                and "disconnected" not in details
                and protocol.method in (b"GET", b"HEAD")
                and not protocol._response_started
            ):
                protocol.loseConnection()
                cut += 1
        if cut:
            log.info("cut waiting reads; the load balancer retries them", extra={"requests": cut})

    def _busy(self) -> int:
        """Connections whose client is still attached or whose application still runs."""
        busy = 0
        for details in self.connections.values():
            application = details.get("application_instance")
            if "disconnected" not in details or (application and not application.done()):
                busy += 1
        return busy

    def _drain_tick(self) -> None:
        # Sockets still in their handshake are closed as soon as they open.
        try:
            self._close_open_sockets()
            if time.monotonic() - self.drain_started >= IDEMPOTENT_GRACE_SECS:
                self._cut_waiting_reads()
        except Exception:
            log.exception("could not close every connection")
        busy = self._busy()
        if busy and time.monotonic() < self.drain_deadline:
            reactor.callLater(DRAIN_POLL_SECS, self._drain_tick)
            return
        log.info(
            "drained" if not busy else "shutdown timeout: cancelling what is left",
            extra={
                "left": busy,
                "elapsed_s": round(time.monotonic() - self.drain_started, 2),
            },
        )
        self.stop()

    def kill_all_applications(self):
        """daphne's, tolerant of connections whose application already finished."""
        pending = []
        for details in self.connections.values():
            application = details.get("application_instance")
            if application is not None and not application.done():
                application.cancel()
                pending.append(application)
        if pending:
            log.info("cancelled %d application instances", len(pending))
        waiting = defer.Deferred.fromFuture(asyncio.gather(*pending))
        waiting.addErrback(lambda _: None)
        return waiting


class GracefulCommandLineInterface(CommandLineInterface):
    """daphne's command line, serving with GracefulServer; adds --shutdown-timeout."""

    server_class = GracefulServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            help="Seconds to drain sockets and requests on SIGTERM before exiting anyway.",
        )

    def run(self, args: list[str]) -> None:
        parsed, _ = self.parser.parse_known_args(args)
        server_class = self.server_class

        def make_server(**kwargs) -> GracefulServer:
            if not parsed.access_log:
                # project.logging writes the access log, with request ids.
                kwargs["action_logger"] = None
            return server_class(shutdown_timeout=parsed.shutdown_timeout, **kwargs)

        self.server_class = make_server
        try:
            super().run(args)
        finally:
            self.server_class = server_class


def main() -> None:
    install_fast_writes()
    GracefulCommandLineInterface().run(sys.argv[1:])


if __name__ == "__main__":
    main()
