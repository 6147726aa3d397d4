"""Settings, read from the environment.

With nothing set the product runs embedded: SQLite, the in-memory channel
layer and local-memory cache and presence. ``DATABASE_URL`` and ``REDIS_URL``
switch to PostgreSQL and Redis, which is what several daphne replicas share.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from project.redis_config import parse_redis_urls, single_server

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", True)
if DEBUG:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-insecure-key-do-not-use-in-production")
else:
    try:
        SECRET_KEY = env("DJANGO_SECRET_KEY")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0 (production)."
        ) from exc
    if not SECRET_KEY.strip():
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must not be empty.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS",
    default=[f"{scheme}://{host}" for host in ALLOWED_HOSTS for scheme in ("http", "https")],
)
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
SITE_ID = 1
ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request runs in a thread of its own, so persistent
    # connections (CONN_MAX_AGE) would never be reused and pile up; Channels
    # closes connections after every database_sync_to_async hop. A psycopg pool
    # per replica makes both cheap: closing hands the connection back.
    if env.bool("DATABASE_POOL", True):
        # Each pooled connection is checked on checkout, without a round trip
        # (project/postgres/base.py): psycopg's check (CONN_HEALTH_CHECKS) is one.
        DATABASES["default"]["ENGINE"] = "project.postgres"
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": env.int("DATABASE_POOL_MIN_SIZE", 1),
                "max_size": env.int("DATABASE_POOL_MAX_SIZE", 10),
                "timeout": env.float("DATABASE_POOL_TIMEOUT", 10.0),
            }
        }
    else:
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.str("TEST_DATABASE_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
]
THIRD_PARTY_APPS = [
    "channels",
    "allauth",
    "allauth.account",
    "ninja",
]
LOCAL_APPS = [
    "accounts",
    "chat",
    "files",
    "search",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# AUTHENTICATION (django-allauth)
# ------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_SESSION_REMEMBER = True
# Sign-up, password reset and change all check these (allauth calls Django's
# validate_password, which reports every failed rule at once). A form sent
# back with errors keeps the passwords typed, so they need not be retyped.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_PASSWORD_INPUT_RENDER_VALUE = True
# allauth's limits are kept in the cache; with REDIS_URL that cache is shared,
# so moving between replicas does not reset them.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("ACCOUNT_LOGIN_FAILED_LIMIT", "10/m/ip,5/5m/key"),
    "signup": env.str("ACCOUNT_SIGNUP_LIMIT", "20/m/ip"),
}

# MIDDLEWARE
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First: probes are answered before host validation and the HTTPS redirect.
    "project.health.ProbeMiddleware",
    # Django's own, with their I/O-free hooks run on the event loop instead of a
    # thread hop each (project/inline_middleware.py). Django's deploy checks look
    # for the stock dotted paths (security.W001-W003, silenced below);
    # tests/unit/test_inline_middleware.py checks these subclasses stand in for them.
    "project.inline_middleware.InlineSecurityMiddleware",
    "project.middleware.ContentSecurityPolicyMiddleware",
    "project.middleware.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "project.inline_middleware.InlineCommonMiddleware",
    "project.inline_middleware.InlineCsrfViewMiddleware",
    "project.inline_middleware.InlineAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "project.inline_middleware.InlineXFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
# The security, clickjacking and CSRF middleware are in MIDDLEWARE as the
# subclasses above, which these three checks cannot recognise.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)

# TEMPLATES AND STATIC FILES
# ------------------------------------------------------------------------------
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# REDIS: CHANNEL LAYER AND CACHE
# ------------------------------------------------------------------------------
# One server, several (comma-separated: the channel layer shards its groups over
# them), or Sentinel-managed masters (redis+sentinel://host:26379,host:26380/name);
# forms and placement in project/redis_config.py and docs/operations.md.
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SERVERS = parse_redis_urls(REDIS_URL, "REDIS_URL")
# Presence and rate limits (chat.redis_client.get_redis) and the cache each live
# on one server: the first of REDIS_URL unless these name another.
PRESENCE_REDIS = single_server(
    env.str("PRESENCE_REDIS_URL", default=""),
    "PRESENCE_REDIS_URL",
    REDIS_SERVERS[0] if REDIS_SERVERS else None,
)
CACHE_REDIS = single_server(
    env.str("CACHE_REDIS_URL", default=""),
    "CACHE_REDIS_URL",
    REDIS_SERVERS[0] if REDIS_SERVERS else None,
)
if (PRESENCE_REDIS or CACHE_REDIS) and not REDIS_SERVERS:
    raise ImproperlyConfigured(
        "PRESENCE_REDIS_URL and CACHE_REDIS_URL need REDIS_URL (the channel layer) set too."
    )
CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="pubsub")
if CHANNEL_LAYER not in ("pubsub", "core"):
    raise ImproperlyConfigured(f"CHANNEL_LAYER must be pubsub or core, not {CHANNEL_LAYER!r}.")
KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="chat")
# Events a channel may hold unread. Sockets have no channel of their own: each
# process' relay (realtime/relay.py) receives every room and user event of its
# sockets on one channel, so the layers' defaults (100, or 1,000 here before)
# would silently drop a burst such as a few hundred members connecting at once.
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", 100_000)
# How long the channel-layer watchdog waits on its path before a probe counts as
# lost (realtime/watchdog.py); tests lower it to overload a replica quickly.
CHAT_WATCHDOG_PROBE_TIMEOUT_SECS = env.float("CHAT_WATCHDOG_PROBE_TIMEOUT", 5.0)
# Above the core layer's 5 s blocking pop: redis-py 8 defaults reads to 5 s,
# which fails every idle pop (django/channels_redis#422). A URL's own wins.
_LIST_LAYER_HOST = {"socket_timeout": 15}
if REDIS_SERVERS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": (
                "channels_redis.pubsub.RedisPubSubChannelLayer"
                if CHANNEL_LAYER == "pubsub"
                else "channels_redis.core.RedisChannelLayer"
            ),
            "CONFIG": (
                {
                    "hosts": [server.layer_host() for server in REDIS_SERVERS],
                    "prefix": f"{KEY_PREFIX}:asgi",
                }
                if CHANNEL_LAYER == "pubsub"
                else {
                    "hosts": [server.layer_host(**_LIST_LAYER_HOST) for server in REDIS_SERVERS],
                    "prefix": f"{KEY_PREFIX}:asgi",
                    "capacity": CHANNEL_CAPACITY,
                }
            ),
        },
        # Background jobs (chat/workers.py) need a queue that waits for the
        # worker: pub/sub forgets a message nobody listens to, so this alias is
        # always the list-based layer. Jobs wait up to WORKER_QUEUE_EXPIRY_SECS.
        # With several servers, jobs go round them and the worker pops each in turn.
        "worker": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [server.layer_host(**_LIST_LAYER_HOST) for server in REDIS_SERVERS],
                "prefix": f"{KEY_PREFIX}:worker",
                "expiry": env.int("WORKER_QUEUE_EXPIRY_SECS", 60 * 60),
                "capacity": env.int("WORKER_QUEUE_CAPACITY", 10_000),
            },
        },
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # A list: RedisCache would split a string at commas (several servers
            # there mean one primary and read replicas, not shards).
            "LOCATION": [CACHE_REDIS.url],
            "KEY_PREFIX": KEY_PREFIX,
            # A Sentinel master: a connection pool that asks Sentinel (chat/redis_client.py).
            "OPTIONS": (
                {"pool_class": "chat.redis_client.SentinelCachePool"}
                if CACHE_REDIS.is_sentinel
                else {}
            ),
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# EMAIL
# ------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "chat@localhost")

# SECURITY (behind a TLS-terminating proxy in production)
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a one-way commitment for the whole domain: opt in only.
        SILENCED_SYSTEM_CHECKS.append("security.W021")

# OPERATIONS: metrics, background worker
# ------------------------------------------------------------------------------
# /metrics answers these addresses (CIDRs allowed), or anyone with the token.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Email offline users who were @mentioned (runworker chat-notify, chat/workers.py).
CHAT_MENTION_EMAILS = env.bool("CHAT_MENTION_EMAILS", True)
# The public address of the app, for links in emails.
CHAT_SITE_URL = env.str("CHAT_SITE_URL", default="http://localhost:8000")
# What mail calls the product ("[Chat] Password reset") and its host (accounts/sites.py).
SITE_NAME = env.str("SITE_NAME", default="Chat")
SITE_DOMAIN = env.str("SITE_DOMAIN", default=urlsplit(CHAT_SITE_URL).netloc or "localhost:8000")

# CHAT
# ------------------------------------------------------------------------------
CHAT_MESSAGE_MAX_LENGTH = env.int("CHAT_MESSAGE_MAX_LENGTH", 4000)
CHAT_MAX_FRAME_BYTES = env.int("CHAT_MAX_FRAME_BYTES", 64 * 1024)
CHAT_HISTORY_PAGE_SIZE = env.int("CHAT_HISTORY_PAGE_SIZE", 50)
CHAT_HISTORY_MAX_PAGE_SIZE = env.int("CHAT_HISTORY_MAX_PAGE_SIZE", 100)
# Different emoji one message may carry (Slack allows 23); users listed per emoji.
CHAT_MAX_REACTIONS_PER_MESSAGE = env.int("CHAT_MAX_REACTIONS_PER_MESSAGE", 20)
CHAT_REACTION_USERS_SHOWN = env.int("CHAT_REACTION_USERS_SHOWN", 20)
# Presence frames go to rooms of at most this many members (see realtime/sockets.py).
CHAT_PRESENCE_ROOM_MAX_MEMBERS = env.int("CHAT_PRESENCE_ROOM_MAX_MEMBERS", 100)
# Threads a replica runs WebSocket posts on, besides the one database thread (PostgreSQL
# only; realtime/post_threads.py). Each holds a pooled connection while it posts.
CHAT_POST_THREADS = env.int("CHAT_POST_THREADS", 2)
CHAT_RATE_LIMIT_ENABLED = env.bool("CHAT_RATE_LIMIT_ENABLED", True)
CHAT_RATE_LIMIT_PER_SECOND = env.float("CHAT_RATE_LIMIT_PER_SECOND", 3.0)
CHAT_RATE_LIMIT_BURST = env.int("CHAT_RATE_LIMIT_BURST", 10)
# Open sockets per user across every replica (one per tab); more are refused with
# `rate_limited` and close code 4029. A killed replica's sockets count until
# they expire (CHAT_PRESENCE_TTL_SECS). 0 turns the cap off.
CHAT_MAX_SOCKETS_PER_USER = env.int("CHAT_MAX_SOCKETS_PER_USER", 20)
# Long polls waiting at once per user across every replica (GET /api/events and
# GET /api/rooms/{slug}/poll together);
# more are answered 429 `rate_limited`. A killed replica's polls count until their
# timeout plus 30 s has passed. 0 turns the cap off.
CHAT_MAX_LONG_POLLS_PER_USER = env.int("CHAT_MAX_LONG_POLLS_PER_USER", 10)
# Each user's own events (room_added, room_removed, read, room_notify) kept for
# GET /api/events (chat/user_events.py): a cursor further behind than this many of
# them is answered 410 `cursor_expired` and the client resyncs.
CHAT_USER_EVENTS_KEPT = env.int("CHAT_USER_EVENTS_KEPT", 1000)
# A socket whose client leaves 64 KiB of frames untaken for this long is dropped
# (it stopped reading) and catches up when it reconnects; a link of 300 kbit/s
# still takes a full page of the longest messages (1 MB) in time. 0: never.
CHAT_SLOW_CLIENT_GRACE_SECS = env.float("CHAT_SLOW_CLIENT_GRACE_SECS", 30.0)
# Presence: a socket counts as open for TTL seconds after its replica last
# vouched for it; replicas vouch every HEARTBEAT seconds and sweep expired users
# every SWEEP seconds, so a killed replica's users go offline within TTL + SWEEP
# (50 s by default; the promise is 60 s). See chat/presence.py.
CHAT_PRESENCE_TTL_SECS = env.float("CHAT_PRESENCE_TTL_SECS", 40.0)
CHAT_PRESENCE_HEARTBEAT_SECS = env.float("CHAT_PRESENCE_HEARTBEAT_SECS", 15.0)
CHAT_PRESENCE_SWEEP_SECS = env.float("CHAT_PRESENCE_SWEEP_SECS", 10.0)
# Spam and amplification (chat/ratelimit.py buckets, per user, shared by every replica):
# new rooms, people added to rooms (staff exempt) and new direct rooms.
CHAT_RATE_LIMIT_ROOMS_PER_HOUR = env.float("CHAT_RATE_LIMIT_ROOMS_PER_HOUR", 10.0)
CHAT_RATE_LIMIT_ROOMS_BURST = env.int("CHAT_RATE_LIMIT_ROOMS_BURST", 5)
CHAT_RATE_LIMIT_INVITES_PER_MINUTE = env.float("CHAT_RATE_LIMIT_INVITES_PER_MINUTE", 30.0)
CHAT_RATE_LIMIT_INVITES_BURST = env.int("CHAT_RATE_LIMIT_INVITES_BURST", 10)
CHAT_RATE_LIMIT_DMS_PER_MINUTE = env.float("CHAT_RATE_LIMIT_DMS_PER_MINUTE", 20.0)
CHAT_RATE_LIMIT_DMS_BURST = env.int("CHAT_RATE_LIMIT_DMS_BURST", 10)
# The people picker's searches (GET /api/users): a bucket per user, and its pages.
CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE = env.float(
    "CHAT_RATE_LIMIT_PEOPLE_SEARCH_PER_MINUTE", 60.0
)
CHAT_RATE_LIMIT_PEOPLE_SEARCH_BURST = env.int("CHAT_RATE_LIMIT_PEOPLE_SEARCH_BURST", 20)
CHAT_PEOPLE_SEARCH_PAGE_SIZE = env.int("CHAT_PEOPLE_SEARCH_PAGE_SIZE", 10)
CHAT_PEOPLE_SEARCH_MAX_PAGE_SIZE = env.int("CHAT_PEOPLE_SEARCH_MAX_PAGE_SIZE", 50)
# Message search (GET /api/search): the PostgreSQL text-search configuration of the
# stored vector (`simple`: every language, no stemming; `english`: stems and drops
# English stop words; run `manage.py search_reindex` after changing it), pages, a bucket.
CHAT_SEARCH_CONFIG = env.str("CHAT_SEARCH_CONFIG", "simple")
CHAT_SEARCH_PAGE_SIZE = env.int("CHAT_SEARCH_PAGE_SIZE", 20)
CHAT_SEARCH_MAX_PAGE_SIZE = env.int("CHAT_SEARCH_MAX_PAGE_SIZE", 50)
# Search looks at the newest this-many messages first (a fast walk newest first),
# then, if the page is not full, at the older ones from the index's matches.
CHAT_SEARCH_RECENT_WINDOW = env.int("CHAT_SEARCH_RECENT_WINDOW", 50_000)
CHAT_RATE_LIMIT_SEARCH_PER_MINUTE = env.float("CHAT_RATE_LIMIT_SEARCH_PER_MINUTE", 30.0)
CHAT_RATE_LIMIT_SEARCH_BURST = env.int("CHAT_RATE_LIMIT_SEARCH_BURST", 15)
# Rooms one user may belong to (bounds `hello` and a socket's groups); 0: no cap.
CHAT_MAX_ROOMS_PER_USER = env.int("CHAT_MAX_ROOMS_PER_USER", 500)
# GET /api/rooms pages (`limit`, `after`).
CHAT_ROOM_LIST_PAGE_SIZE = env.int("CHAT_ROOM_LIST_PAGE_SIZE", 100)
CHAT_ROOM_LIST_MAX_PAGE_SIZE = env.int("CHAT_ROOM_LIST_MAX_PAGE_SIZE", 200)
# @mention emails: recipients per message, one per recipient and room per interval,
# and a bucket per recipient across rooms (chat/notifications.py).
CHAT_MENTION_EMAILS_PER_MESSAGE = env.int("CHAT_MENTION_EMAILS_PER_MESSAGE", 20)
CHAT_MENTION_EMAIL_INTERVAL_SECS = env.int("CHAT_MENTION_EMAIL_INTERVAL_SECS", 600)
CHAT_MENTION_EMAILS_PER_HOUR = env.float("CHAT_MENTION_EMAILS_PER_HOUR", 20.0)
CHAT_MENTION_EMAILS_BURST = env.int("CHAT_MENTION_EMAILS_BURST", 10)

# FILES (files/, docs/files.md)
# ------------------------------------------------------------------------------
# One upload's bytes (413 beyond); API bodies of POST /api/uploads may exceed it by
# a little (the multipart framing), so the app, not a proxy, answers the 413.
CHAT_UPLOAD_MAX_BYTES = env.int("CHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Pixels of one image, read from its header before decoding (422 beyond): 16 M keeps
# a 12-megapixel phone photo (4032×3024) and refuses a 4096×4096 image (16.8 M),
# whose decoding alone would take 64 MiB of RGBA.
CHAT_UPLOAD_MAX_PIXELS = env.int("CHAT_UPLOAD_MAX_PIXELS", 16_000_000)
# Uploads never attached to a message are removed after this (files_cleanup), which
# the worker runs every CHAT_FILES_CLEANUP_INTERVAL_SECS (chat/workers.py).
CHAT_UPLOAD_UNUSED_TTL = env.int("CHAT_UPLOAD_UNUSED_TTL", 24 * 60 * 60)
CHAT_FILES_CLEANUP_INTERVAL_SECS = env.float("CHAT_FILES_CLEANUP_INTERVAL_SECS", 15 * 60)
CHAT_RATE_LIMIT_UPLOADS_PER_MINUTE = env.float("CHAT_RATE_LIMIT_UPLOADS_PER_MINUTE", 20.0)
CHAT_RATE_LIMIT_UPLOADS_BURST = env.int("CHAT_RATE_LIMIT_UPLOADS_BURST", 10)
# Set (e.g. /_protected/) where nginx has an `internal` location aliasing MEDIA_ROOT:
# the app checks access and answers X-Accel-Redirect, nginx sends the bytes.
CHAT_FILES_ACCEL_REDIRECT = env.str("CHAT_FILES_ACCEL_REDIRECT", default="")
# Uploads larger than this are spooled to a temporary file while parsed, not kept in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)
# Any S3-compatible store (AWS, MinIO, moto) instead of MEDIA_ROOT when a bucket is
# named; credentials come from boto3's usual places (AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, a profile, an instance role). Without X-Accel the app
# redirects a reader to a presigned URL valid CHAT_S3_URL_EXPIRY_SECS.
CHAT_S3_BUCKET = env.str("CHAT_S3_BUCKET", default="")
CHAT_S3_URL_EXPIRY_SECS = env.int("CHAT_S3_URL_EXPIRY_SECS", 300)
if CHAT_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": CHAT_S3_BUCKET,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "location": env.str("CHAT_S3_PREFIX", default=""),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": CHAT_S3_URL_EXPIRY_SECS,
            "file_overwrite": False,
            "signature_version": "s3v4",
        },
    }

# LOGGING: one line per event
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "()": "project.logging.LineFormatter",
            "style_name": env.str("LOG_FORMAT", "text" if DEBUG else "json"),
        },
    },
    # No credential is ever written (project.logging.RedactCredentials): every
    # line goes through the filter, and the loggers that write credentials
    # themselves are cleaned at the source. Configuring "django" also drops
    # Django's default handlers, which printed its records a second time.
    "filters": {"redact_credentials": {"()": "project.logging.RedactCredentials"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["redact_credentials"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django": {"filters": ["redact_credentials"]},
        "django.db.backends": {"filters": ["redact_credentials"]},
    },
}
