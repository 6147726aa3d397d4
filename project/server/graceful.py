"""daphne's Server with a graceful shutdown (``python -m project.serve``, project/server/cli.py).

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

What it relies on (checked when the server starts, project/server/cli.py):

- daphne (written for 4.2): ``Server.__init__`` takes ``signal_handlers`` and
  ``ready_callable``; the server keeps ``connections`` (protocol -> details with
  ``application_instance`` and ``disconnected``), ``ws_factory``,
  ``listen_success``, ``handle_reply``, ``stop``. Draining cannot work without
  them: the server refuses to start.
- daphne: ``create_application`` is copied to give each WebSocket an
  ``InputQueue`` instead of an ``asyncio.Queue`` (idle memory per socket).
  Checked by the source digest of daphne's version. Broken: daphne's own (an
  ``asyncio.Queue`` per socket). ``kill_all_applications`` is replaced (not
  copied) by one that tolerates connections that never got an application.
- daphne: ``WebRequest._response_started`` tells a long poll still waiting
  for its answer. Broken: waiting reads are not cut (they end at the shutdown
  timeout, and their clients poll again).
- autobahn (written for 26.11): ``sendCloseFrame(code, reasonUtf8)`` (not
  ``sendClose``, which refuses 1012), ``setProtocolOptions(failByDrop,
  allowNullOrigin)``, the ``STATE_*`` constants. Without them sockets are not
  closed with 1012 nor protocol errors with a close frame: refuses to start.
"""

# daphne.server installs Twisted's asyncio reactor; it must be imported first.
# isort: off
import daphne.server

# isort: on

import asyncio
import logging
import signal
import time
from functools import partial

from autobahn.websocket.protocol import WebSocketProtocol
from daphne.http_protocol import WebRequest
from twisted.internet import defer, reactor

from project.compat import (
    Reliance,
    require_attributes,
    require_digest,
    require_parameters,
    require_source,
)
from project.done import DONE
from project.input_queue import InputQueue
from project.server.framing import FRAME_ONCE, FrameOnce
from project.server.handshake import release_handshake
from project.server.slow_client import SlowClientGuard

log = logging.getLogger("chat.serve")

# 1012 "Service Restart": the server is restarting, reconnect (RFC 6455 registry).
CLOSE_SERVICE_RESTART = 1012
CLOSE_REASON = b"server restarting"
DEFAULT_SHUTDOWN_TIMEOUT_SECS = 10.0
DRAIN_POLL_SECS = 0.05
# How long a GET may still run after the sockets closed before it is cut (a
# long poll waits up to 30 s; a page or an API read takes milliseconds).
IDEMPOTENT_GRACE_SECS = 1.0


def _probe_daphne_server() -> None:
    server = daphne.server.Server
    require_parameters(server.__init__, "signal_handlers", "ready_callable", "application")
    require_attributes(
        server, "listen_success", "handle_reply", "stop", "create_application", "protocol_connected"
    )
    require_source(server.run, "self.connections = {}", "self.ws_factory =")
    require_source(server.create_application, "self.connections[protocol]")
    require_source(server.protocol_disconnected, '["disconnected"]')


DAPHNE_SERVER = Reliance(
    name="daphne-server",
    library="daphne",
    written_for="4.2",
    relies_on=(
        "Server(signal_handlers, ready_callable), its connections dict, ws_factory, "
        "listen_success, handle_reply, stop"
    ),
    probe=_probe_daphne_server,
    off="without them SIGTERM could not drain the replica (sockets would be dropped)",
    required=True,
)

# daphne 4.2's Server.create_application.
CREATE_APPLICATION_DIGESTS = {"6d6da219bd73c133"}


def _probe_create_application() -> None:
    require_digest(daphne.server.Server.create_application, CREATE_APPLICATION_DIGESTS)


DAPHNE_CREATE_APPLICATION = Reliance(
    name="daphne-create-application",
    library="daphne",
    written_for="4.2",
    relies_on="Server.create_application (copied)",
    probe=_probe_create_application,
    off="WebSockets get daphne's own asyncio.Queue (more idle memory per socket)",
)


def _probe_response_started() -> None:
    require_source(WebRequest.__init__, "self._response_started = False")
    require_source(WebRequest.handle_reply, "self._response_started = True")


RESPONSE_STARTED = Reliance(
    name="daphne-response-started",
    library="daphne",
    written_for="4.2",
    relies_on="WebRequest._response_started (a GET still waiting for its answer)",
    probe=_probe_response_started,
    off=(
        "a drain does not cut waiting long polls: they run to the shutdown timeout "
        "and their clients poll again"
    ),
)


def _probe_autobahn_close() -> None:
    require_parameters(WebSocketProtocol.sendCloseFrame, "code", "reasonUtf8")
    require_attributes(WebSocketProtocol, "STATE_OPEN", "STATE_CLOSING", "STATE_CLOSED")
    from autobahn.websocket.protocol import WebSocketServerFactory

    require_parameters(WebSocketServerFactory.setProtocolOptions, "failByDrop", "allowNullOrigin")


AUTOBAHN_CLOSE = Reliance(
    name="autobahn-close",
    library="autobahn",
    written_for="26.11",
    relies_on=(
        "WebSocketProtocol.sendCloseFrame(code, reasonUtf8), STATE_*, "
        "setProtocolOptions(failByDrop, allowNullOrigin)"
    ),
    probe=_probe_autobahn_close,
    off=(
        "without them sockets could not be closed with 1012 on SIGTERM, nor "
        "protocol errors with a close frame"
    ),
    required=True,
)

RELIANCES = [DAPHNE_SERVER, DAPHNE_CREATE_APPLICATION, RESPONSE_STARTED, AUTOBAHN_CLOSE]


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
        self.frames = FrameOnce()
        self.frame_once = FRAME_ONCE.enabled  # checked once (project/server/cli.py)

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
        if not isinstance(protocol, WebSocketProtocol) or not DAPHNE_CREATE_APPLICATION.enabled:
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
        if message["type"] == "websocket.send":
            state = protocol.state
            if state in (WebSocketProtocol.STATE_CLOSING, WebSocketProtocol.STATE_CLOSED):
                return DONE  # dropped
            # The hot path of fan-out: a room's frame is framed once for all its
            # local sockets (project/server/framing.py).
            text = message.get("text")
            if (
                state == WebSocketProtocol.STATE_OPEN
                and text
                and not message.get("bytes")
                and self.frame_once
            ):
                details = self.connections.get(protocol)
                if details is None or details.get("disconnected"):
                    return DONE
                if self.frames.send(self.ws_factory, protocol, text):
                    return DONE
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
            SlowClientGuard.attach(protocol, grace)

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
        if not RESPONSE_STARTED.enabled:
            return
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
        """daphne's, tolerant of connections that never got an application."""
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
