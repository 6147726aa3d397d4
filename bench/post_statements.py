"""Count the SQL statements of one post, as a socket's ``send`` makes it.

    DJANGO_SETTINGS_MODULE=project.settings PYTHONPATH=<product tree> DATABASE_URL=... \\
        REDIS_URL=... python bench/post_statements.py   # a migrated, otherwise unused database

The socket path (``ChatConsumer._post``): ``selectors.room_for_user``,
``services.message_post``, ``selectors.message_payload``, and the on-commit hooks
that run when the post's transaction commits. A first post warms caches and is
not counted; the second (a root in a room of 2, the other member offline) is.
Prints ``{"statements": N, "sql": [...]}``. Run it against two product trees
for a before/after of a change (bench/README.md).
"""

from __future__ import annotations

import json

from room_of_two import seed_room_of_two  # bench/: the script's own directory


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat import selectors, services

    User = get_user_model()
    alice, bob, room = seed_room_of_two("bench-stmt")

    def post(n: int) -> None:
        found = selectors.room_for_user(user=alice, slug=room.slug)
        message, _ = services.message_post(
            user=alice, room=found, body=f"post {n}", client_id=f"bench-stmt-{n}"
        )
        selectors.message_payload(message)

    post(0)
    alice = User.objects.get(pk=alice.pk)  # a socket's user: loaded once, at connect
    with CaptureQueriesContext(connection) as ctx:
        post(1)
    sql = [q["sql"] for q in ctx.captured_queries]
    print(json.dumps({"statements": len(sql), "sql": sql}, indent=1))


if __name__ == "__main__":
    main()
