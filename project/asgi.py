"""ASGI entry point: HTTP through Django, /ws/ through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.handshake import HandshakeAuthMiddleware  # noqa: E402
from chat import publish  # noqa: E402
from chat.workers import NOTIFY_CHANNEL, NotifyConsumer  # noqa: E402
from project.compat import check_libraries  # noqa: E402
from project.health import check_redis_at_startup  # noqa: E402
from project.logging import RequestContextMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

# A Sentinel that never answers or knows no such master: refuse to start, saying why.
check_redis_at_startup()
# asgiref/Channels/channels-redis internals: each checked (project/compat.py).
check_libraries(publish.RELIANCES)

application = RequestContextMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": HandshakeAuthMiddleware(URLRouter(websocket_urlpatterns)),
            # Background jobs: `manage.py runworker chat-notify --layer worker`.
            "channel": ChannelNameRouter({NOTIFY_CHANNEL: NotifyConsumer.as_asgi()}),
        }
    )
)
