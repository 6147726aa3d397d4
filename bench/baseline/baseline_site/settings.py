"""Settings for the baseline: the Channels tutorial's chat, as most people deploy it.

Only what the tutorial needs: the ``baseline_chat`` app, daphne, and
channels-redis's RedisChannelLayer (defaults: capacity 100, expiry 60). No
database is used on the WebSocket path; SQLite in /tmp keeps Django happy.
"""

import os

SECRET_KEY = "bench-baseline-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "baseline_chat",
]

ROOT_URLCONF = "baseline_site.urls"
ASGI_APPLICATION = "baseline_site.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BASELINE_SQLITE", "/tmp/bench-baseline.sqlite3"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10")],
            "prefix": os.environ.get("BASELINE_PREFIX", "bench-baseline"),
        },
    }
}

USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
