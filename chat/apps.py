from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import (
            account_receivers,  # noqa: F401 - connects the receivers
            metrics,
        )
        from project import compat

        compat.watch_over_capacity(metrics.over_capacity)
