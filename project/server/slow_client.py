"""A WebSocket whose client stopped reading is dropped (its transport's streaming producer).

Twisted (written for 26.10) pauses a transport's producer while more than
64 KiB wait unsent. The guard takes the transport's producer slot: it reads the
transport's ``producer`` attribute (set by ``registerProducer``, cleared by
``unregisterProducer``) to keep telling the producer it replaces (the upgraded
HTTP channel) everything. Checked: ``registerProducer`` and ``unregisterProducer``
still keep the producer there. Broken: no guard, a client that stops reading is
buffered for without bound (the WARNING says so).
"""

import logging

from twisted.internet import abstract

from project.compat import Reliance, require_attributes, require_source

log = logging.getLogger("chat.serve")


def _probe_producer() -> None:
    require_attributes(abstract.FileDescriptor, "producer", "bufferSize")
    require_source(abstract._ConsumerMixin.registerProducer, "self.producer = producer")
    require_source(abstract._ConsumerMixin.unregisterProducer, "self.producer = None")


TRANSPORT_PRODUCER = Reliance(
    name="twisted-transport-producer",
    library="Twisted",
    written_for="26.10",
    relies_on="a transport's producer attribute, as registerProducer/unregisterProducer keep it",
    probe=_probe_producer,
    off="sockets whose client stopped reading are not dropped (buffered without bound)",
)


class SlowClientGuard:
    """Drops a WebSocket whose client stopped reading.

    A client that takes nothing for CHAT_SLOW_CLIENT_GRACE_SECS has stopped
    reading (a healthy one drains a full history page in far less): dropping it
    stops the replica buffering every frame for it without bound, and it catches
    up from its cursor when it reconnects (tests/faults/test_slow_client.py).
    """

    def __init__(self, protocol, grace: float) -> None:
        self.protocol = protocol
        self.grace = grace
        self.timer = None
        transport = protocol.transport
        self.inner = transport.producer
        if self.inner is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)

    @classmethod
    def attach(cls, protocol, grace: float) -> "SlowClientGuard | None":
        """A guard for the socket, unless the contract with Twisted broke (then None)."""
        return cls(protocol, grace) if TRANSPORT_PRODUCER.enabled else None

    def pauseProducing(self) -> None:
        if self.timer is None:
            from twisted.internet import reactor  # daphne.server installed it (project/serve.py)

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


RELIANCES = [TRANSPORT_PRODUCER]
