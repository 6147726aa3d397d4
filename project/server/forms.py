"""Request bodies reach Django unparsed by Twisted (about 130 MiB less per 10 MiB upload).

Twisted (written for 26.10) parses every POST body that is
``multipart/form-data`` or urlencoded into ``request.args`` before daphne sees
the request (``http.Request(parsePOSTFormSubmission=True)``, the default): it
reads the whole body into memory and hands it to the email parser, which copies
it several times over, so one 10 MiB upload (POST /api/uploads) raised a
replica's peak memory by 136 MiB; a body it cannot parse gets a bare 400 before
Django answers. daphne (written for 4.2) never reads ``request.args``: Django
parses the body itself, from a temporary file. So the flag is pinned off: a
property on daphne's ``WebRequest`` that reads False and ignores Twisted's
assignment. Checked: Twisted still assigns and reads the flag, daphne reads no
``self.args``. Broken: Twisted parses the bodies as before.
"""

import inspect

from project.compat import ContractBroken, Reliance, require_source


def _probe() -> None:
    from daphne import http_protocol
    from twisted.web import http

    require_source(http.Request.__init__, "self._parsePOSTFormSubmission = parsePOSTFormSubmission")
    require_source(http.Request.requestReceived, "self._parsePOSTFormSubmission")
    if "self.args" in inspect.getsource(http_protocol):
        raise ContractBroken("daphne.http_protocol reads self.args")


TWISTED_FORMS = Reliance(
    name="twisted-form-parsing",
    library="twisted",
    written_for="26.10",
    relies_on="http.Request._parsePOSTFormSubmission, which daphne never needs",
    probe=_probe,
    off="Twisted parses every form body in memory too (10 MiB uploads cost 130 MiB more)",
)


def skip_form_parsing() -> None:
    """Pin Twisted's body parsing off for daphne's requests."""
    if not TWISTED_FORMS.enabled:
        return
    from daphne.http_protocol import WebRequest

    WebRequest._parsePOSTFormSubmission = property(lambda self: False, lambda self, value: None)


RELIANCES = [TWISTED_FORMS]
