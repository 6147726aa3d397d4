"""What an open socket keeps only for its handshake, released (about 2.5 kB a socket).

autobahn (written for 26.11) keeps the raw request and response and their
parsed headers and query on the protocol (``http_request_data``,
``http_response_data``, ``http_headers``, ``http_request_params``), set while
the handshake is processed and not read once the socket is open: they are set
to None. Checked: the handshake code still assigns each. Broken: kept.

daphne (written for 4.2) keeps the whole upgrade request as ``self.request``
and later reads only its ``path`` (for log lines): it is replaced by an object
with the path alone. Checked: every ``self.request.<name>`` read in
daphne.ws_protocol is ``path``. Broken: kept.
"""

import inspect
import re

from project.compat import ContractBroken, Reliance, require_source

AUTOBAHN_LEFTOVERS = (
    "http_request_data",
    "http_response_data",
    "http_headers",
    "http_request_params",
)


def _probe_autobahn() -> None:
    from autobahn.websocket import protocol

    require_source(protocol, *(f"self.{name}" for name in AUTOBAHN_LEFTOVERS))
    require_source(
        protocol.WebSocketServerProtocol.processHandshake,
        "self.http_request_data =",
        "self.http_headers",
        "self.http_request_params =",
    )


AUTOBAHN_HANDSHAKE = Reliance(
    name="autobahn-handshake-leftovers",
    library="autobahn",
    written_for="26.11",
    relies_on=f"WebSocketProtocol's handshake-only attributes {', '.join(AUTOBAHN_LEFTOVERS)}",
    probe=_probe_autobahn,
    off="open sockets keep their handshake's request and headers (idle memory)",
)


def _probe_daphne() -> None:
    from daphne import ws_protocol

    require_source(ws_protocol.WebSocketProtocol.onConnect, "self.request = request")
    reads = set(re.findall(r"self\.request\.(\w+)", inspect.getsource(ws_protocol)))
    if reads != {"path"}:
        raise ContractBroken(f"daphne.ws_protocol reads self.request.{sorted(reads)}")


DAPHNE_REQUEST = Reliance(
    name="daphne-upgrade-request",
    library="daphne",
    written_for="4.2",
    relies_on="WebSocketProtocol.request, of which only .path is read after the handshake",
    probe=_probe_daphne,
    off="open sockets keep their whole upgrade request (idle memory)",
)


class _RequestPath:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def release_handshake(protocol: object) -> None:
    """Drop what an open socket no longer needs from its handshake (idle memory)."""
    if AUTOBAHN_HANDSHAKE.enabled:
        for name in AUTOBAHN_LEFTOVERS:
            if hasattr(protocol, name):
                setattr(protocol, name, None)
    request = getattr(protocol, "request", None)
    if request is not None and DAPHNE_REQUEST.enabled:
        protocol.request = _RequestPath(request.path)


RELIANCES = [AUTOBAHN_HANDSHAKE, DAPHNE_REQUEST]
