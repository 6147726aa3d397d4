"""A stored tsvector of every message body with a GIN index, on PostgreSQL only.

A no-op on SQLite. The configuration is CHAT_SEARCH_CONFIG at migrate time;
`manage.py search_reindex` rebuilds the column after it changes.
"""

from django.db import migrations

from search import index


def forwards(apps, schema_editor) -> None:
    index.create(schema_editor.connection)


def backwards(apps, schema_editor) -> None:
    index.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_default_room")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
