"""Probes for the load balancer: /healthz (process up) and /readyz (dependencies reachable)."""

import os

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_runs(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis(client: Client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def use_redis(settings, url: str) -> None:
    from project.redis_config import parse_redis_urls

    settings.REDIS_URL = url
    settings.REDIS_SERVERS = parse_redis_urls(url)
    settings.PRESENCE_REDIS = settings.CACHE_REDIS = settings.REDIS_SERVERS[0]


def test_readyz_is_unavailable_when_redis_is_unreachable(client: Client, settings):
    use_redis(settings, "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")


def test_readyz_is_unavailable_when_one_redis_shard_is_unreachable(client: Client, settings):
    use_redis(settings, f"{os.environ['REDIS_URL']},redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def test_readyz_is_unavailable_while_the_replica_drains(client: Client, monkeypatch):
    from project import health

    monkeypatch.setattr(health, "_draining", True)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["server"] == "draining"
    assert client.get("/healthz").status_code == 200


def test_probes_answer_on_any_host_name_other_pages_do_not(client: Client):
    """Probes address a replica by its container or loopback address, not a public host."""
    container = {"HTTP_HOST": "10.0.3.7:8000"}
    assert client.get("/healthz", **container).status_code == 200
    assert client.get("/readyz", **container).status_code == 200
    assert client.get("/accounts/login/", **container).status_code == 400


async def test_probes_answer_through_the_async_middleware_chain(async_client):
    """Under ASGI the chain runs async; the probes must answer there as well."""
    assert (await async_client.get("/healthz")).status_code == 200
    ready = await async_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
