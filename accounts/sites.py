"""The Site object (django.contrib.sites) follows SITE_NAME and SITE_DOMAIN.

allauth names the site in every mail it sends ("[Chat] Password reset") and
builds some links from the Site's domain; left alone, both say "example.com".
A data migration sets the row once, and a post_migrate receiver sets it again
after every `migrate` (which the deployment runs at start-up), so a changed
setting shows up without a new migration.
"""

from django.conf import settings


def sync_site(site_model=None) -> None:
    """Create or update the current Site from the settings."""
    if site_model is None:
        from django.contrib.sites.models import Site as site_model
    site_model.objects.update_or_create(
        pk=settings.SITE_ID,
        defaults={"name": settings.SITE_NAME, "domain": settings.SITE_DOMAIN},
    )
    clear = getattr(site_model.objects, "clear_cache", None)
    if clear is not None:
        clear()


def sync_site_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver (connected in accounts/apps.py)."""
    sync_site()
