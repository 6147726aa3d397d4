"""Rebuild the message search index after CHAT_SEARCH_CONFIG changed."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from search import index


class Command(BaseCommand):
    help = (
        "Recompute the stored search vector of every message with CHAT_SEARCH_CONFIG. "
        "Rewrites chat_message and locks it meanwhile; PostgreSQL only."
    )

    def handle(self, *args, **options) -> None:
        if not index.uses_index(connection):
            self.stdout.write("No search index on this database (it matches without one).")
            return
        try:
            config = index.search_config()
            with transaction.atomic():
                index.rebuild(connection, config)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Search index rebuilt with {config!r}.")
