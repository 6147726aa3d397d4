"""The PostgreSQL search index: a generated tsvector column on chat_message and its GIN index.

The column is not a Django model field (queries use raw SQL fragments), so
`Message.objects.create` and `save` never write it: PostgreSQL computes it from
`body` and the names of the message's files (``attachment_summary``) on every
insert and update, so an edit re-indexes itself. A file name is indexed whole
("q3-minutes.pdf") and in words ("q3 minutes pdf"): the parser keeps a name with
a dot as one token, which a search for one of its words would never match.
Other databases (SQLite in `make run`) get no column; search.selectors matches
there with icontains instead.
"""

import re

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

COLUMN = "search_vector"
INDEX = "chat_message_search_vector_gin"
_CONFIG_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def search_config() -> str:
    """The text-search configuration (CHAT_SEARCH_CONFIG), checked to be a plain name."""
    config = settings.CHAT_SEARCH_CONFIG
    if not _CONFIG_NAME.match(config):
        raise ValueError(f"CHAT_SEARCH_CONFIG must be a configuration name, not {config!r}")
    return config


def _known_config(connection: BaseDatabaseWrapper, config: str) -> str:
    if not _CONFIG_NAME.match(config):
        raise ValueError(f"CHAT_SEARCH_CONFIG must be a configuration name, not {config!r}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_ts_config WHERE cfgname = %s", [config])
        if cursor.fetchone() is None:
            raise ValueError(f"PostgreSQL has no text-search configuration {config!r}")
    return config


def uses_index(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


# The files' names as JSON text ('["a.pdf", "b.png"]'; the brackets and quotes parse as
# blanks), and again with the punctuation that joins words in names turned into spaces.
_FILE_NAMES = "coalesce(jsonb_path_query_array(attachment_summary, '$[*].name')::text, '')"
_INDEXED_TEXT = {
    True: f"body || ' ' || {_FILE_NAMES} || ' ' || translate({_FILE_NAMES}, '._-', '   ')",
    False: "body",
}


def create(
    connection: BaseDatabaseWrapper, config: str | None = None, *, file_names: bool = True
) -> None:
    """Add the generated column and its GIN index (PostgreSQL only; idempotent).

    ``file_names=False``: the body alone, as before file names were searched (the
    migration that added them, undone).
    """
    if not uses_index(connection):
        return
    config = _known_config(connection, config or search_config())
    text = _INDEXED_TEXT[file_names]
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE chat_message ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('{config}'::regconfig, {text})) STORED"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON chat_message USING GIN ({COLUMN})")


def drop(connection: BaseDatabaseWrapper) -> None:
    """Remove the column (its index goes with it)."""
    if not uses_index(connection):
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE chat_message DROP COLUMN IF EXISTS {COLUMN}")


def rebuild(
    connection: BaseDatabaseWrapper, config: str | None = None, *, file_names: bool = True
) -> None:
    """Recompute every message's vector with another configuration (rewrites the table)."""
    config = _known_config(connection, config or search_config())
    drop(connection)
    create(connection, config, file_names=file_names)
