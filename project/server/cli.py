"""daphne's command line serving GracefulServer, with ``--shutdown-timeout``.

Every reliance of project/server/ is checked when the server is made: after
daphne has set up logging and loaded the application (Django's LOGGING), before
it listens. A piece whose contract broke logs one WARNING and turns off (the
fast writes, installed before the application loads, are withdrawn); a
required one stops the process with the reason (``LibraryContractError``).

daphne (written for 4.2): ``CommandLineInterface`` keeps ``parser`` (argparse)
and makes its server with ``server_class(**kwargs)`` in ``run(args)``; checked
with the server's other contracts (a broken one refuses to start).
"""

import sys

from daphne.cli import CommandLineInterface

from project.compat import Reliance, require_attributes, require_source, verify
from project.server import forms, framing, graceful, handshake, slow_client, writes
from project.server.graceful import DEFAULT_SHUTDOWN_TIMEOUT_SECS, GracefulServer


def _probe_cli() -> None:
    require_attributes(CommandLineInterface, "server_class", "run")
    require_source(CommandLineInterface.__init__, "self.parser =")
    require_source(CommandLineInterface.run, "self.server = self.server_class(")


DAPHNE_CLI = Reliance(
    name="daphne-cli",
    library="daphne",
    written_for="4.2",
    relies_on="CommandLineInterface.parser and run() making server_class(**kwargs)",
    probe=_probe_cli,
    off="without it the server would not drain on SIGTERM",
    required=True,
)

RELIANCES = [
    DAPHNE_CLI,
    *graceful.RELIANCES,
    *writes.RELIANCES,
    *framing.RELIANCES,
    *handshake.RELIANCES,
    *slow_client.RELIANCES,
    *forms.RELIANCES,
]


# The kernel's accept queue per replica (Twisted's default is 50). When a replica
# dies, its clients reconnect to the survivors within a second; a queue of 50
# overflowed, nginx's connects timed out and it marked the survivor down too
# (bench/README.md, "The reconnect storm"). The kernel caps it at somaxconn.
LISTEN_BACKLOG = 1024
# Seconds a WebSocket handshake may wait for the application to accept it.
HANDSHAKE_TIMEOUT_SECS = 30


def with_listen_backlog(endpoints: list[str], backlog: int = LISTEN_BACKLOG) -> list[str]:
    """daphne's TCP endpoint strings with ``backlog``, unless one already sets it (``-e``)."""
    return [
        f"{endpoint}:backlog={backlog}"
        if endpoint.startswith("tcp:") and ":backlog=" not in endpoint
        else endpoint
        for endpoint in endpoints
    ]


def check_server() -> None:
    """Each server piece checked; the broken optional ones warn, a required one raises."""
    verify(RELIANCES)


class GracefulCommandLineInterface(CommandLineInterface):
    """daphne's command line, serving with GracefulServer; adds --shutdown-timeout."""

    server_class = GracefulServer

    def __init__(self) -> None:
        super().__init__()
        # daphne's 5 s drops a handshake still queued behind a reconnect storm (the
        # client then retries, and the work done for it is lost); a slow request line
        # is Twisted's to time out, not this.
        self.parser.set_defaults(websocket_connect_timeout=HANDSHAKE_TIMEOUT_SECS)
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
            check_server()
            writes.withdraw_broken()
            forms.skip_form_parsing()
            if not parsed.access_log:
                # project.logging writes the access log, with request ids.
                kwargs["action_logger"] = None
            kwargs["endpoints"] = with_listen_backlog(kwargs.get("endpoints", []))
            return server_class(shutdown_timeout=parsed.shutdown_timeout, **kwargs)

        self.server_class = make_server
        try:
            super().run(args)
        finally:
            self.server_class = server_class


def main(argv: list[str] | None = None) -> None:
    writes.install_fast_writes()
    GracefulCommandLineInterface().run(sys.argv[1:] if argv is None else argv)
