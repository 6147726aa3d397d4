import os

from django.urls import re_path

from .variants import VARIANTS

# The tutorial's consumer unless a benchmark experiment picks a variant.
consumer = VARIANTS[os.environ.get("BASELINE_CONSUMER", "tutorial")]

websocket_urlpatterns = [
    re_path(r"ws/chat/(?P<room_name>[\w-]+)/$", consumer.as_asgi()),
]
