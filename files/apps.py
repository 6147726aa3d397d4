from django.apps import AppConfig


class FilesConfig(AppConfig):
    """Uploaded files and images, attached to messages and served after an access check."""

    name = "files"
    default_auto_field = "django.db.models.BigAutoField"
