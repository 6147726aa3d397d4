"""Redis addresses: several servers (sharding) and Sentinel-managed masters, from one URL list.

``REDIS_URL`` (and ``PRESENCE_REDIS_URL``, ``CACHE_REDIS_URL``) hold one or
more comma-separated servers. Each is either

* ``redis://[[user]:password@]host[:port][/db][?option=value]`` (or ``rediss://``,
  ``unix://``): one server, as redis-py reads it; or
* ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master_name[/db]
  [?option=value]``: the master Sentinel knows as ``master_name``, asked of any
  of the listed Sentinels (port 26379 by default). The password is the
  master's; ``sentinel_password`` (and ``sentinel_username``) in the query are
  the Sentinels' own, if they need one. ``socket_timeout`` and
  ``socket_connect_timeout`` apply to the master's connections.

A piece after a comma that does not start with a scheme continues the Sentinel
list of the URL before it, so ``redis+sentinel://a:26379,b:26379/shard1,
redis+sentinel://a:26379,b:26379/shard2`` is two Sentinel-managed shards.

The channel layer shards its groups over every server in ``REDIS_URL``
(channels-redis' consistent hashing, one ``hosts`` entry each). Presence, rate
limits and the cache each need a single server: the first one of
``REDIS_URL`` unless ``PRESENCE_REDIS_URL`` or ``CACHE_REDIS_URL`` names another.

Nothing here connects: parsing happens at settings load (a malformed URL is an
``ImproperlyConfigured`` naming the variable), connecting when first used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
# Asking a Sentinel must be quick: it only names the master.
SENTINEL_TIMEOUT_SECS = 2.0
SENTINEL_OPTIONS = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "sentinel_password": str,
    "sentinel_username": str,
}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_MASTER_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclass(frozen=True)
class RedisServer:
    """One Redis the product talks to: a plain address, or a master found through Sentinel."""

    url: str = ""  # as given: redis-py reads a plain one, chat.redis_client a Sentinel one
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    options: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_sentinel(self) -> bool:
        return bool(self.master_name)

    def describe(self) -> str:
        """Where this is, without credentials (for logs and error messages)."""
        if self.is_sentinel:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"master {self.master_name!r} of Sentinel {hosts} (db {self.db})"
        parts = urlsplit(self.url)
        netloc = parts.hostname or parts.path or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return f"{parts.scheme}://{netloc}{parts.path if parts.hostname else ''}"

    # What each client library wants
    # --------------------------------------------------------------------------

    def connection_kwargs(self) -> dict:
        """Keyword arguments of the master's connections (Sentinel form only)."""
        kwargs: dict = {"db": self.db}
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password
        for name in ("socket_timeout", "socket_connect_timeout"):
            if name in self.options:
                kwargs[name] = self.options[name]
        return kwargs

    def sentinel_kwargs(self) -> dict:
        """Keyword arguments of the connections to the Sentinels themselves."""
        kwargs: dict = {
            "socket_timeout": SENTINEL_TIMEOUT_SECS,
            "socket_connect_timeout": SENTINEL_TIMEOUT_SECS,
        }
        if "sentinel_password" in self.options:
            kwargs["password"] = self.options["sentinel_password"]
        if "sentinel_username" in self.options:
            kwargs["username"] = self.options["sentinel_username"]
        return kwargs

    def layer_host(self, **defaults: object) -> dict:
        """One entry of a channels-redis ``hosts`` list (both layer flavours).

        ``defaults`` (such as a socket timeout) yield to what the URL says.
        """
        if not self.is_sentinel:
            return {"address": self.url, **defaults}
        return {
            "sentinels": [list(pair) for pair in self.sentinels],
            "master_name": self.master_name,
            "sentinel_kwargs": self.sentinel_kwargs(),
            **defaults,
            **self.connection_kwargs(),
        }

    def sync_client(self, **defaults: object):
        """A redis-py client; through Sentinel it follows the master after a failover."""
        import redis
        from redis.sentinel import Sentinel

        if not self.is_sentinel:
            return redis.Redis.from_url(self.url, **defaults)
        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=self.sentinel_kwargs())
        return sentinel.master_for(self.master_name, **{**defaults, **self.connection_kwargs()})

    def async_client(self, **defaults: object):
        """The asyncio twin of ``sync_client``."""
        from redis import asyncio as aioredis
        from redis.asyncio.sentinel import Sentinel

        if not self.is_sentinel:
            return aioredis.Redis.from_url(self.url, **defaults)
        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=self.sentinel_kwargs())
        return sentinel.master_for(self.master_name, **{**defaults, **self.connection_kwargs()})


def _fail(variable: str, piece: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{variable} is malformed: {problem} (in {_redact(piece)!r}). Expected "
        "redis://host:port/db or redis+sentinel://host:26379,host:26380/master_name[/db], "
        "several separated by commas."
    )


def _redact(piece: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", piece)


def _split(value: str) -> list[str]:
    """Comma-separated URLs, where a piece with no scheme continues a Sentinel host list."""
    urls: list[str] = []
    for piece in value.split(","):
        piece = piece.strip()
        if urls and not _SCHEME.match(piece) and urls[-1].lower().startswith(SENTINEL_SCHEME):
            urls[-1] = f"{urls[-1]},{piece}"
        else:
            urls.append(piece)
    return urls


def _parse_plain(variable: str, url: str) -> RedisServer:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise _fail(variable, url, "a unix:// URL needs a socket path")
        return RedisServer(url=url)
    try:
        port = parts.port
    except ValueError:
        raise _fail(variable, url, "the port is not a number") from None
    if not parts.hostname:
        raise _fail(variable, url, "no host")
    if port == 0:
        raise _fail(variable, url, "port 0")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise _fail(variable, url, f"the database {db!r} is not a number")
    try:
        import redis

        redis.connection.parse_url(url)  # the query options, as redis-py will read them
    except ValueError as error:
        raise _fail(variable, url, str(error)) from None
    return RedisServer(url=url)


def _parse_sentinel(variable: str, url: str) -> RedisServer:
    rest = url[len(SENTINEL_SCHEME) + 3 :]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    sentinels = []
    for address in netloc.split(","):
        host, colon, port = address.strip().rpartition(":") if ":" in address else (address, "", "")
        host = host.strip().strip("[]")
        if not host:
            raise _fail(variable, url, f"a Sentinel address {address!r} has no host")
        if colon and not port.isdigit():
            raise _fail(variable, url, f"the Sentinel port in {address!r} is not a number")
        sentinels.append((host, int(port) if colon else DEFAULT_SENTINEL_PORT))
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise _fail(variable, url, "no master name after the Sentinel addresses")
    if len(segments) > 2:
        raise _fail(variable, url, "expected /master_name or /master_name/db")
    master_name = unquote(segments[0])
    if not _MASTER_NAME.match(master_name):
        raise _fail(variable, url, f"the master name {master_name!r} has unexpected characters")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise _fail(variable, url, f"the database {segments[1]!r} is not a number")
        db = int(segments[1])
    options: dict = {}
    for name, raw in parse_qsl(query, keep_blank_values=True):
        if name not in SENTINEL_OPTIONS:
            known = ", ".join(sorted(SENTINEL_OPTIONS))
            raise _fail(variable, url, f"unknown option {name!r} (known: {known})")
        try:
            options[name] = SENTINEL_OPTIONS[name](raw)
        except ValueError:
            raise _fail(variable, url, f"the option {name}={raw!r} is not valid") from None
    return RedisServer(
        url=url,
        sentinels=tuple(sentinels),
        master_name=master_name,
        db=db,
        username=username,
        password=password,
        options=options,
    )


def parse_redis_urls(value: str, variable: str = "REDIS_URL") -> list[RedisServer]:
    """Every server the variable names, in order (empty if it is empty).

    Raises ImproperlyConfigured naming ``variable`` and what is wrong.
    """
    if not value.strip():
        return []
    servers = []
    for url in _split(value):
        if not url:
            raise _fail(variable, value, "an empty entry between commas")
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme == SENTINEL_SCHEME:
            servers.append(_parse_sentinel(variable, url))
        elif scheme in PLAIN_SCHEMES:
            servers.append(_parse_plain(variable, url))
        else:
            raise _fail(variable, url, f"unknown scheme {scheme or '(none)'!r}")
    if len(set(servers)) != len(servers):
        raise _fail(variable, value, "the same server is named twice")
    return servers


def single_server(value: str, variable: str, default: RedisServer | None) -> RedisServer | None:
    """The one server of PRESENCE_REDIS_URL or CACHE_REDIS_URL, else ``default``."""
    servers = parse_redis_urls(value, variable)
    if len(servers) > 1:
        raise ImproperlyConfigured(
            f"{variable} names {len(servers)} servers; it takes one (only the channel "
            "layer shards over several)."
        )
    return servers[0] if servers else default
