"""The server boundary: daphne, Twisted and autobahn internals, contained and checked.

``python -m project.serve`` (project/serve.py) starts daphne through this
package. Each module holds one reliance on a library's internals, with the
versions it was written against, the attribute it uses and why, and a
``Reliance`` (project/compat.py) that checks it when the server starts: a
piece whose library changed turns itself off with one WARNING, or the server
refuses to start where correctness depends on it.

- ``writes``: Twisted's TCP write sends at once (private buffer fields);
  autobahn's per-frame log arguments are not coloured (module attributes).
- ``framing``: a text sent to many sockets is encoded and framed once
  (autobahn's prepared messages, daphne's send path).
- ``handshake``: autobahn's and daphne's handshake leftovers are released.
- ``slow_client``: a socket whose client stopped reading is dropped (Twisted's
  transport ``producer``).
- ``forms``: Twisted does not parse form bodies too (Django does; uploads).
- ``graceful``: daphne's Server drains on SIGTERM (its ``create_application``
  copied, ``WebRequest._response_started``, autobahn's close frame).
- ``cli``: daphne's command line with ``--shutdown-timeout``; checks every
  reliance above before serving.

Importing this package imports no library: ``daphne.server`` must be the first
to import Twisted's reactor (project/serve.py does that).
"""
