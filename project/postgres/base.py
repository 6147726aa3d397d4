"""Django's PostgreSQL backend, with a check of pooled connections that costs no round trip.

Channels hands the connection back after every ``database_sync_to_async`` hop,
so a handshake takes one from the pool three times. psycopg's own check
(Django's, with CONN_HEALTH_CHECKS) is a round trip each time: on the one
database thread every handshake queues for, that was a quarter of its wall
time (issue 18). A connection at rest has nothing to read, so this check asks
the kernel instead: if the socket is readable, the server has closed it (a
restart, a proxy cut: tests/faults/test_postgres_outage.py) or sent something
unasked, and only then is the round trip made, which raises for a dead one.
"""

import select

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from psycopg.pq import ConnStatus
from psycopg_pool import ConnectionPool


def check_pooled_connection(conn: psycopg.Connection) -> None:
    """Raise if the connection is no longer usable; no round trip while it is quiet."""
    if conn.closed or conn.pgconn.status != ConnStatus.OK:
        raise psycopg.OperationalError("the pooled connection is closed")
    poller = select.poll()  # not select(): a replica's descriptors go past FD_SETSIZE
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    """ENGINE ``project.postgres``: Django's wrapper whose pool checks with the above.

    Django passes the pool ``check`` itself (psycopg's round trip with
    CONN_HEALTH_CHECKS, none without), so it cannot come from OPTIONS; it is set
    on the pool Django built, and a psycopg_pool that no longer has the attribute
    stops the replica at its first query instead of running unchecked.
    """

    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        if pool is not None and pool._check is not check_pooled_connection:
            if not hasattr(pool, "_check"):
                raise ImproperlyConfigured("psycopg_pool.ConnectionPool has no _check any more")
            pool._check = check_pooled_connection
        return pool
