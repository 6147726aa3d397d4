"""Rewrite docs/ws-schema.json from chat/frames.py (after changing a frame)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from chat.ws_schema import ws_schema_text

DOCUMENT = Path(settings.BASE_DIR) / "docs" / "ws-schema.json"


class Command(BaseCommand):
    help = "Write the WebSocket frames' JSON Schema to docs/ws-schema.json."

    def handle(self, *args, **options) -> None:
        DOCUMENT.write_text(ws_schema_text())
        self.stdout.write(f"wrote {DOCUMENT}")
