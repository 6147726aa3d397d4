"""Run daphne with a graceful shutdown: ``python -m project.serve [daphne options] app``.

Plain daphne stops on SIGTERM by cancelling every application: its sockets
are dropped without a close frame and ``disconnect()`` never runs. Here
SIGTERM (or SIGINT) drains the replica instead (project/server/graceful.py):
``/readyz`` answers 503 and the listening sockets close, every WebSocket gets a
close frame with 1012 (service restart), in-flight requests finish (a long poll
still waiting is cut so the load balancer retries it elsewhere), and the
process exits, or after ``--shutdown-timeout`` seconds. A second signal stops
at once. Every daphne option works as usual.

This module is only the entry point; what daphne, Twisted and autobahn
internals the server relies on, and how each is checked at start-up, is in
project/server/.
"""

# daphne.server installs Twisted's asyncio reactor; it must be imported first.
# isort: off
import daphne.server  # noqa: F401

# isort: on

from project.server.cli import main
from project.server.writes import buffered_write as _buffered_write  # noqa: F401  (bench)

if __name__ == "__main__":
    main()
