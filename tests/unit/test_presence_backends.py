"""Presence rules, the same in Redis (replicas) and in local memory (embedded)."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat import presence
from realtime import sockets


@pytest.fixture(params=["redis", "local"])
def backend(request, settings):
    """Each backend, with timings short enough to watch sockets expire."""
    settings.CHAT_PRESENCE_TTL_SECS = 0.5
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 0.2
    settings.CHAT_PRESENCE_SWEEP_SECS = 0.2
    if request.param == "local":
        settings.REDIS_URL = ""
        return presence.LocalPresence()
    return presence.RedisPresence()


def expire() -> None:
    time.sleep(0.7)


def test_online_from_the_first_socket_until_the_last_closes(backend):
    assert backend.connect(1, "tab-a") is True
    assert backend.connect(1, "tab-b") is False
    assert backend.online([1, 2]) == {1}
    assert backend.disconnect(1, "tab-a") is False
    assert backend.online([1]) == {1}
    assert backend.disconnect(1, "tab-b") is True
    assert backend.online([1]) == set()
    assert backend.disconnect(1, "tab-b") is False, "offline is announced once"


def test_sockets_nobody_vouches_for_expire_and_are_swept_once(backend):
    backend.connect(1, "on-a-killed-replica")
    backend.connect(2, "alive")
    expire()
    backend.heartbeat({"alive": 2})
    assert backend.online([1, 2]) == {2}
    assert backend.sweep() == [1]
    assert backend.sweep() == []


def test_a_heartbeat_keeps_sockets_alive(backend):
    backend.connect(1, "tab")
    for _ in range(4):
        time.sleep(0.2)
        assert backend.heartbeat({"tab": 1}) == []
    assert backend.online([1]) == {1}
    assert backend.sweep() == []


def test_a_socket_that_outlived_its_expiry_comes_back_with_the_next_heartbeat(backend):
    backend.connect(1, "stalled")
    expire()
    assert backend.sweep() == [1]
    assert backend.heartbeat({"stalled": 1}) == ["stalled"]
    assert backend.online([1]) == {1}


def test_a_user_still_connected_elsewhere_is_not_swept(backend):
    backend.connect(1, "dead-replica")
    time.sleep(0.3)
    backend.connect(1, "live-replica")
    time.sleep(0.3)
    backend.heartbeat({"live-replica": 1})
    assert backend.sweep() == []
    assert backend.online([1]) == {1}
    assert backend.disconnect(1, "live-replica") is True


def test_reconnecting_after_expiry_counts_as_coming_online(backend):
    backend.connect(1, "old")
    expire()
    assert backend.connect(1, "new") is True
    assert backend.sweep() == []


def test_timings_that_would_expire_open_sockets_are_refused(settings):
    settings.CHAT_PRESENCE_TTL_SECS = 10
    settings.CHAT_PRESENCE_HEARTBEAT_SECS = 10
    with pytest.raises(ImproperlyConfigured):
        presence.timings()


def test_the_defaults_keep_the_one_minute_promise():
    from django.conf import settings

    defaults = presence.Timings(
        ttl=settings.CHAT_PRESENCE_TTL_SECS,
        heartbeat=settings.CHAT_PRESENCE_HEARTBEAT_SECS,
        sweep=settings.CHAT_PRESENCE_SWEEP_SECS,
    )
    assert defaults == presence.Timings(ttl=40, heartbeat=15, sweep=10)
    assert defaults.offline_within <= 60


@pytest.mark.django_db
def test_a_socket_closing_during_a_heartbeat_leaves_no_ghost(backend, monkeypatch, make_user):
    """The heartbeat may re-register a socket closed while it was in flight; it cleans up."""
    alice = make_user("alice")
    sockets.session_open(user=alice, conn_id="tab")
    real_heartbeat = backend.heartbeat

    def heartbeat_racing_a_close(connections):
        sockets.session_close(user=alice, conn_id="tab")
        return real_heartbeat(connections)

    monkeypatch.setattr(presence, "backend", lambda: backend)
    monkeypatch.setattr(backend, "heartbeat", heartbeat_racing_a_close)
    sockets.presence_heartbeat()
    assert backend.online([alice.pk]) == set()
    assert "tab" not in sockets.local_connections
