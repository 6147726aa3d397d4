"""The API fuzzed from its own OpenAPI schema by Schemathesis, against a real replica.

Every generated request, valid or not, must get an answer that the schema
describes: no 5xx, a documented status, JSON matching the documented shape
and content type, 405 with Allow for undocumented methods, and 401 without
credentials. Bounded: a few examples per operation and phase.
"""

from collections import Counter

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from chat import services

pytestmark = [pytest.mark.replicas, pytest.mark.django_db(transaction=True)]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "ignored_auth",
]
# Long enough to reach every documented status, short enough for the suite.
MAX_EXAMPLES = 10
# Generated polls may ask to wait up to 30 s; the fuzz run waits at most this.
POLL_WAIT_CAP_SECS = 0.2


@pytest.fixture
def api_schema(request, start_replicas, make_user, token_for):
    # Schemathesis 4 relabels the test through Node._nodeid, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    alice = make_user("alice")
    make_user("bob")
    services.room_create(creator=alice, name="Lab", slug="lab", kind="private")
    (replica,) = start_replicas(1)
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "request-timeout": 10,
        }
    )
    schema = schemathesis.openapi.from_url(f"{replica.http_url}/api/openapi.json", config=config)

    @schema.auth(refresh_interval=None)
    class FreshToken:
        """A new token of alice's for every request: fuzzed revocations never lock the run out."""

        def get(self, case, context) -> str:
            return token_for(alice)

        def set(self, case, token, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    statuses: Counter[int] = Counter()

    @schema.hook
    def after_call(context, case, response) -> None:
        statuses[response.status_code] += 1

    yield schema
    # Guard the guard: a run locked out by its own credentials would prove nothing.
    assert statuses[200] and statuses[401] < statuses.total() / 4, statuses


schema = schemathesis.pytest.from_fixture("api_schema")


def cap_poll_wait(case) -> None:
    """A valid poll may wait up to 30 s; keep it valid, but short. Invalid ones stay invalid."""
    if not case.operation.path.endswith("/poll"):
        return
    query = dict(case.query or {})
    timeout = query.get("timeout", POLL_WAIT_CAP_SECS)
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 0 <= timeout <= 30:
        query["timeout"] = min(timeout, POLL_WAIT_CAP_SECS)
    elif (
        isinstance(timeout, str) and timeout.replace(".", "", 1).isdigit() and float(timeout) <= 30
    ):
        query["timeout"] = str(min(float(timeout), POLL_WAIT_CAP_SECS))
    case.query = query


# Headers that frame the HTTP message itself. A generated "Content-Length: IAV" is
# answered by the HTTP server (Twisted) with a bare 400 before any application code
# runs, as RFC 9112 says it must (and nginx does in front of it): that tests the
# server's parser, not the API the schema describes.
FRAMING_HEADERS = {"content-length", "transfer-encoding", "host", "connection"}


def drop_framing_headers(case) -> None:
    if case.headers:
        case.headers = {
            name: value
            for name, value in case.headers.items()
            if name.lower() not in FRAMING_HEADERS
        }


@schema.parametrize()
def test_every_generated_request_gets_an_answer_the_schema_describes(case):
    cap_poll_wait(case)
    drop_framing_headers(case)
    case.call_and_validate()
