"""Settings from the environment: embedded by default, scaled with URLs, strict in production."""

import json
import subprocess

from tests.support.embedded import run_embedded

PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], "
    "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], "
    "'cache': settings.CACHES['default']['BACKEND'], 'hosts': settings.ALLOWED_HOSTS}))"
)


def run_settings(**env: str) -> subprocess.CompletedProcess:
    return run_embedded(PROBE, timeout=60, **env)


def test_nothing_set_runs_embedded():
    result = run_settings()
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["db"] == "django.db.backends.sqlite3"
    assert config["layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["cache"].endswith("LocMemCache")
    assert "*" not in config["hosts"]


def test_urls_switch_to_postgresql_and_redis():
    result = run_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    config = json.loads(result.stdout)
    # Django's PostgreSQL backend with a pool check of its own (project/postgres).
    assert config["db"] == "project.postgres"
    assert config["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert config["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_the_core_layer_can_be_chosen():
    result = run_settings(REDIS_URL="redis://127.0.0.1:6379/0", CHANNEL_LAYER="core")
    assert json.loads(result.stdout)["layer"] == "channels_redis.core.RedisChannelLayer"


def test_production_refuses_to_start_without_a_secret_key():
    result = run_settings(DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
