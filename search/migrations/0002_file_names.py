"""The search vector also holds the names of each message's files (search/index.py).

Rewrites chat_message once (the generated column is dropped and added again), with
CHAT_SEARCH_CONFIG at migrate time, as 0001 did. A no-op on SQLite.
"""

from django.db import migrations

from search import index


def forwards(apps, schema_editor) -> None:
    if index.uses_index(schema_editor.connection):
        index.rebuild(schema_editor.connection, file_names=True)


def backwards(apps, schema_editor) -> None:
    if index.uses_index(schema_editor.connection):
        index.rebuild(schema_editor.connection, file_names=False)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_search_vector"), ("chat", "0005_message_attachment_summary")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
