"""Pooled PostgreSQL connections: checked on checkout, without a round trip while quiet."""

import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from project.postgres import base

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.fail("these specs need PostgreSQL: set DATABASE_URL=postgres://...")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return {**params, "autocommit": True}


@pytest.fixture
def round_trip_checks(monkeypatch):
    """How many times the check fell back to psycopg's round trip."""
    calls = []
    real = ConnectionPool.check_connection

    def counted(conn):
        calls.append(conn)
        real(conn)

    monkeypatch.setattr(base.ConnectionPool, "check_connection", staticmethod(counted))
    return calls


def test_the_replicas_pool_checks_with_it():
    if connection.vendor != "postgresql":
        pytest.fail("these specs need PostgreSQL: set DATABASE_URL=postgres://...")
    assert connection.pool._check is base.check_pooled_connection


def test_a_quiet_connection_is_handed_out_without_a_round_trip(postgres, round_trip_checks):
    with psycopg.connect(**postgres) as conn:
        conn.execute("SELECT 1")
        for _ in range(3):
            base.check_pooled_connection(conn)
    assert round_trip_checks == []


def test_a_connection_the_server_ended_is_replaced(postgres, round_trip_checks):
    check = base.check_pooled_connection
    with ConnectionPool(kwargs=postgres, min_size=1, max_size=1, check=check, open=True) as pool:
        with pool.connection() as conn:
            first = conn.info.backend_pid
        with psycopg.connect(**postgres) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [first])
        time.sleep(0.2)  # the server's goodbye reaches the pooled socket
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != first
        assert len(round_trip_checks) == 1, "readable at rest: asked, found dead, dropped"


def test_a_closed_connection_fails_the_check(postgres):
    conn = psycopg.connect(**postgres)
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        base.check_pooled_connection(conn)
