from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Full-text search over the messages of the caller's rooms (no models of its own)."""

    name = "search"
    default_auto_field = "django.db.models.BigAutoField"
