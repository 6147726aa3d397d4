from django.core.management.base import BaseCommand, CommandParser

from files.services import uploads_cleanup


class Command(BaseCommand):
    help = (
        "Delete uploads never attached to a message and older than CHAT_UPLOAD_UNUSED_TTL "
        "(and those whose message was deleted for good), rows and stored bytes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Seconds; default CHAT_UPLOAD_UNUSED_TTL (86400).",
        )

    def handle(self, *args: object, older_than: float | None = None, **options: object) -> None:
        removed = uploads_cleanup(older_than_secs=older_than)
        self.stdout.write(f"{removed} unused upload(s) removed.")
