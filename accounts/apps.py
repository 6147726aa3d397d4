from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - connects the receivers
        from accounts.sites import sync_site_after_migrate

        post_migrate.connect(sync_site_after_migrate, sender=self, dispatch_uid="sync_site")
