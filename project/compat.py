"""Where the product relies on asgiref, Channels and channels-redis internals, checked.

Each reliance is a ``Reliance``: the library, the versions it was written
against, the attribute, signature or log text it uses and why. ``check()``
verifies it against the installed library once per process; when it does not
hold, the piece turns itself off with one WARNING naming the library and its
version, or, where correctness depends on it, the process refuses to start
(``LibraryContractError``). ``check_libraries()`` runs them all at the ASGI
application's start-up (project/asgi.py); the daphne/Twisted/autobahn pieces
live in project/server/. tests/unit/test_library_contracts.py holds every
contract against the installed versions, so an upgrade fails in CI first.
"""

import contextvars
import hashlib
import inspect
import logging
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

log = logging.getLogger("project.compat")


class LibraryContractError(RuntimeError):
    """A library no longer has what a piece that correctness depends on relies on."""


class ContractBroken(Exception):
    """Raised by a probe: what the reliance needs is not there (the message says what)."""


def library_version(distribution: str) -> str:
    try:
        return installed_version(distribution)
    except PackageNotFoundError:
        return "not installed"


def _name(owner: object) -> str:
    return getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))


def source_digest(function: Callable) -> str:
    """A short hash of a function's source: a copied or emulated function changed upstream."""
    source = textwrap.dedent(inspect.getsource(function))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def require_digest(function: Callable, known: set[str]) -> None:
    digest = source_digest(function)
    if digest not in known:
        raise ContractBroken(f"{_name(function)} is not the source this was written against")


def require_attributes(owner: object, *names: str) -> None:
    missing = [name for name in names if not hasattr(owner, name)]
    if missing:
        raise ContractBroken(f"{_name(owner)} has no {', '.join(missing)}")


def require_source(code: object, *needles: str) -> None:
    """A function's (or module's) source still contains each needle (an assignment, a log call)."""
    source = inspect.getsource(code)
    missing = [needle for needle in needles if needle not in source]
    if missing:
        raise ContractBroken(f"{_name(code)} no longer has {missing}")


def require_parameters(function: Callable, *names: str) -> None:
    parameters = inspect.signature(function).parameters
    missing = [name for name in names if name not in parameters]
    if missing:
        raise ContractBroken(f"{_name(function)} takes no {', '.join(missing)}")


@dataclass
class Reliance:
    """One reliance on a library's internals and what becomes of it when it breaks.

    ``probe`` raises (ContractBroken, or anything) when the installed library
    lacks what is relied on. ``off`` says what happens then: the piece is turned
    off, or, with ``required``, the process refuses to start.
    """

    name: str
    library: str
    written_for: str
    relies_on: str
    probe: Callable[[], None]
    off: str
    required: bool = False
    problem: str | None = field(default=None, init=False)
    checked: bool = field(default=False, init=False)

    @property
    def enabled(self) -> bool:
        return self.check()

    def message(self) -> str:
        return (
            f"{self.library} {library_version(self.library)} (written for {self.written_for}): "
            f"{self.relies_on}: {self.problem}; {self.off}"
        )

    def check(self) -> bool:
        """True if the reliance holds; once per process (one WARNING at most)."""
        if not self.checked:
            self.checked = True
            try:
                self.probe()
            except Exception as error:  # any failure of a probe means the contract broke
                self.problem = str(error) or type(error).__name__
                if not self.required:
                    log.warning("library contract broken: %s", self.message())
        if self.problem is not None and self.required:
            raise LibraryContractError(f"refusing to start: {self.message()}")
        return self.problem is None


def verify(reliances: list[Reliance]) -> None:
    """Check each; the optional ones warn and turn off, a broken required one raises."""
    broken = []
    for reliance in reliances:
        try:
            reliance.check()
        except LibraryContractError as error:
            broken.append(str(error))
    if broken:
        raise LibraryContractError("\n".join(broken))


# asgiref: a waiting long poll gives its request thread back
# ------------------------------------------------------------------------------


def _probe_thread_sensitive() -> None:
    from asgiref.sync import SyncToAsync, ThreadSensitiveContext

    require_attributes(SyncToAsync, "thread_sensitive_context", "context_to_thread_executor")
    if not isinstance(SyncToAsync.thread_sensitive_context, contextvars.ContextVar):
        raise ContractBroken("SyncToAsync.thread_sensitive_context is not a ContextVar")
    require_attributes(SyncToAsync.context_to_thread_executor, "pop", "__setitem__")
    # A context without an executor gets a fresh one on its next call once its own is gone.
    require_source(
        SyncToAsync.__call__,
        "self.context_to_thread_executor[thread_sensitive_context] = executor",
    )
    if "executor" in inspect.signature(ThreadSensitiveContext).parameters:
        marker = object()
        if getattr(ThreadSensitiveContext(executor=marker), "_executor", None) is not marker:
            raise ContractBroken("ThreadSensitiveContext keeps a given executor elsewhere")


THREAD_RELEASE = Reliance(
    name="asgiref-thread-release",
    library="asgiref",
    written_for="3.13",
    relies_on=(
        "SyncToAsync.thread_sensitive_context / context_to_thread_executor and "
        "ThreadSensitiveContext._executor"
    ),
    probe=_probe_thread_sensitive,
    off="waiting long polls keep their request thread parked (one OS thread each)",
)


def _executor_given_by_caller(context: object) -> bool:
    """asgiref >= 3.13's ``ThreadSensitiveContext(executor=...)``: the caller owns that one.

    Django never passes one (its ASGI handler enters ``ThreadSensitiveContext()``),
    so for a request this is False; in asgiref versions without the parameter no
    context owns its executor (the attribute is absent).
    """
    return getattr(context, "_executor", None) is not None


def release_thread_sensitive_executor() -> None:
    """Let the current request's thread exit; the next thread-sensitive call starts a new one.

    Django runs each ASGI request in a ThreadSensitiveContext whose one-thread
    executor, started by the request_started signal, otherwise stays parked until
    the response is sent. Dropping it from asgiref's map makes the next
    thread-sensitive call in the context create a fresh one. An executor the
    context was given by its caller is the caller's to keep, and is left alone.
    """
    if not THREAD_RELEASE.enabled:
        return
    from asgiref.sync import SyncToAsync

    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None or _executor_given_by_caller(context):
        return
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is not None:
        executor.shutdown(wait=False)


# Channels: the consumer's dispatch without the per-event thread hop
# ------------------------------------------------------------------------------

# AsyncConsumer.dispatch of channels 4.3 (get_handler_name, aclose_old_connections, handler).
DISPATCH_DIGESTS = {"fb797181cb7cf340"}


def _probe_dispatch() -> None:
    from channels.consumer import AsyncConsumer, get_handler_name

    require_parameters(get_handler_name, "message")
    require_digest(AsyncConsumer.dispatch, DISPATCH_DIGESTS)


CONSUMER_DISPATCH = Reliance(
    name="channels-dispatch",
    library="channels",
    written_for="4.3",
    relies_on=(
        "AsyncConsumer.dispatch is get_handler_name + aclose_old_connections() + the handler "
        "(copied without the close_old_connections thread hop)"
    ),
    probe=_probe_dispatch,
    off="consumers use Channels' own dispatch (one thread hop per event)",
)


async def dispatch(consumer: object, message: dict) -> None:
    """Channels' ``AsyncConsumer.dispatch`` without ``close_old_connections()`` per event.

    Channels >= 4.2 runs close_old_connections() in a thread before every handler:
    one thread hop per recipient per event, even for events that never touch the
    database. A consumer whose every database access goes through
    database_sync_to_async (which closes stale connections itself) can skip it.
    If Channels' dispatch changed, its own runs instead.
    """
    from channels.consumer import AsyncConsumer, get_handler_name

    if not CONSUMER_DISPATCH.enabled:
        await AsyncConsumer.dispatch(consumer, message)
        return
    handler = getattr(consumer, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


# channels-redis: what it reports only in log lines
# ------------------------------------------------------------------------------

OVER_CAPACITY_LOGGER = "channels_redis.core"
OVER_CAPACITY_FORMAT = "%s of %s channels over capacity in group %s"
RECEIVE_FAILURE_LOGGER = "channels_redis.pubsub"
RECEIVE_FAILURE_TEXT = "Unexpected exception in receive task"


def _probe_over_capacity() -> None:
    from channels_redis import core

    if core.logger.name != OVER_CAPACITY_LOGGER:
        raise ContractBroken(f"channels_redis.core logs as {core.logger.name!r}")
    require_source(core.RedisChannelLayer.group_send, "logger.info(", f'"{OVER_CAPACITY_FORMAT}"')


OVER_CAPACITY = Reliance(
    name="channels-redis-over-capacity",
    library="channels-redis",
    written_for="4.3",
    relies_on=(
        f"RedisChannelLayer.group_send logs {OVER_CAPACITY_FORMAT!r} at INFO with the "
        "number of full channels first"
    ),
    probe=_probe_over_capacity,
    off="chat_channel_layer_drops_total{reason=over_capacity} stays at 0",
)


# The line as written, also once a handler's filter has formatted it in place
# (project.logging.RedactCredentials leaves msg formatted and args None).
_OVER_CAPACITY_LINE = re.compile(r"(\d+) of (\d+) channels over capacity in group \S+")


def over_capacity_count(record: logging.LogRecord) -> int | None:
    """The number of channels a group_send skipped because they were full, if that is the line."""
    if record.name != OVER_CAPACITY_LOGGER:
        return None
    try:
        line = _OVER_CAPACITY_LINE.fullmatch(record.getMessage())
    except (TypeError, ValueError):
        return None
    return int(line.group(1)) if line else None


def _probe_receive_failure() -> None:
    from channels_redis import pubsub

    if pubsub.logger.name != RECEIVE_FAILURE_LOGGER:
        raise ContractBroken(f"channels_redis.pubsub logs as {pubsub.logger.name!r}")
    connection = pubsub.RedisSingleShardConnection
    require_source(connection._do_receiving, f'logger.exception("{RECEIVE_FAILURE_TEXT}")')
    require_source(connection.__init__, "self.channel_layer = channel_layer")
    require_source(pubsub.RedisPubSubLoopLayer.__init__, "self._shards = [")


RECEIVE_FAILURE = Reliance(
    name="channels-redis-receive-failure",
    library="channels-redis",
    written_for="4.3",
    relies_on=(
        f"RedisSingleShardConnection._do_receiving logs {RECEIVE_FAILURE_TEXT!r} with the "
        "exception, in a frame whose self is the shard (channel_layer._shards)"
    ),
    probe=_probe_receive_failure,
    off=(
        "a broken pub/sub connection is noticed when the watchdog's probe path stalls "
        "(within about 5 s), or after 20 s while other events keep flowing"
    ),
)


def is_receive_failure(record: logging.LogRecord) -> bool:
    """channels-redis' pub/sub receiver lost its connection (it retries a second later)."""
    return record.name == RECEIVE_FAILURE_LOGGER and record.msg == RECEIVE_FAILURE_TEXT


def failed_shard(record: logging.LogRecord) -> int | None:
    """The index of the pub/sub shard whose receiver logged ``record`` (None: unknown)."""
    try:
        connection = record.exc_info[2].tb_frame.f_locals["self"]
        return connection.channel_layer._shards.index(connection)
    except Exception:  # any other shape: the caller treats every shard as failed
        return None


class _Watch(logging.Filter):
    def __init__(self, react: Callable[[logging.LogRecord], None]) -> None:
        super().__init__()
        self.react = react

    def filter(self, record: logging.LogRecord) -> bool:
        self.react(record)
        return True


def watch_over_capacity(count: Callable[[int], None]) -> None:
    """Call ``count(n)`` for each group_send that found n full channels (if the text holds)."""
    if not OVER_CAPACITY.enabled:
        return

    def react(record: logging.LogRecord) -> None:
        skipped = over_capacity_count(record)
        if skipped is not None:
            count(skipped)

    layer_log = logging.getLogger(OVER_CAPACITY_LOGGER)
    layer_log.addFilter(_Watch(react))
    if not layer_log.isEnabledFor(logging.INFO):
        layer_log.setLevel(logging.INFO)


def watch_receive_failures(lost: Callable[[int | None], None]) -> None:
    """Call ``lost(shard)`` when a pub/sub receiver's connection breaks (if the text holds)."""
    if not RECEIVE_FAILURE.enabled:
        return

    def react(record: logging.LogRecord) -> None:
        if is_receive_failure(record):
            lost(failed_shard(record))

    logging.getLogger(RECEIVE_FAILURE_LOGGER).addFilter(_Watch(react))


# channels-redis: the watchdog's shard mapping and probe channels (realtime/watchdog.py)
# ------------------------------------------------------------------------------


def _probe_layer_internals() -> None:
    from channels_redis import core, pubsub, utils

    require_parameters(utils._consistent_hash, "value", "ring_size")
    require_source(
        core.RedisChannelLayer.consistent_hash, "_consistent_hash(value, self.ring_size)"
    )
    require_source(pubsub.RedisPubSubLoopLayer._get_shard, "_consistent_hash(")
    require_source(pubsub.RedisPubSubLoopLayer._get_group_channel_name, "__group__")
    require_source(core.RedisChannelLayer.__init__, "self.client_prefix =")
    require_attributes(pubsub.RedisPubSubChannelLayer, "_get_layer")
    require_attributes(pubsub.RedisPubSubLoopLayer, "_subscribe_to_channel")
    require_source(pubsub.RedisPubSubLoopLayer.__init__, "self.prefix =", "self.channels =")


LAYER_INTERNALS = Reliance(
    name="channels-redis-shards",
    library="channels-redis",
    written_for="4.3",
    relies_on=(
        "utils._consistent_hash(value, ring_size) as core and pubsub shard with it, "
        "client_prefix, _get_layer(), _subscribe_to_channel(), prefix, channels"
    ),
    probe=_probe_layer_internals,
    off=(
        "without them the watchdog would quarantine and recycle the wrong sockets "
        "after a Redis outage, leaving others deaf to what they missed"
    ),
    required=True,
)


RELIANCES = [THREAD_RELEASE, CONSUMER_DISPATCH, OVER_CAPACITY, RECEIVE_FAILURE, LAYER_INTERNALS]


def check_libraries(more: list[Reliance] | None = None) -> None:
    """At start-up: warn for each piece that turns off, refuse to start for a required one
    (these, and ``more`` held by the modules that use them, such as chat/publish.py)."""
    verify([*RELIANCES, *(more or [])])
