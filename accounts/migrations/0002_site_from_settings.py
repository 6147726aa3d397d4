"""Name the Site after SITE_NAME / SITE_DOMAIN instead of "example.com"."""

from django.db import migrations


def forwards(apps, schema_editor) -> None:
    from accounts.sites import sync_site

    sync_site(apps.get_model("sites", "Site"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("sites", "0002_alter_domain_unique"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
