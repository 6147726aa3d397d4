"""CPU per post in a room of 2, as a socket's ``send`` makes it, on PostgreSQL.

    DJANGO_SETTINGS_MODULE=project.settings PYTHONPATH=<product tree> DATABASE_URL=... \\
        REDIS_URL=... python bench/post_cpu.py [--posts 1000] [--runs 3]

Each run makes ``--posts`` posts by one user in a room of 2, each as the
socket's ``_post`` makes it: a ``database_sync_to_async`` hop from an event loop
to ``services.message_post`` in the room the socket kept from its last post
(``room_read_earlier``; a product tree from before issue 18's kept rooms reads
it with ``selectors.room_for_user`` every time). It prints the process' CPU
(``time.process_time``: the loop and the database thread) and the PostgreSQL backends' CPU
(``/proc/<pid>/schedstat``, when the server is on this machine) per post, in
microseconds, with the wall time; then the median of the runs. The first 50
posts warm caches and are not timed. Run it against two product trees on the
same database server for a before/after of a change (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import statistics
import time
from pathlib import Path

from room_of_two import seed_room_of_two  # bench/: the script's own directory


def _backends_cpu_ns(pids: list[int]) -> int | None:
    """The backends' CPU time so far (ns), or None when they are not on this machine."""
    try:
        return sum(int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) for pid in pids)
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # As the benchmark serves the product (bench/run.py): no query log, no rate limit.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("CHAT_RATE_LIMIT_ENABLED", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-post-cpu-not-secret")

    import django

    django.setup()
    from channels.db import database_sync_to_async
    from django.contrib.auth import get_user_model
    from django.db import connection

    from chat import selectors, services

    User = get_user_model()
    alice, bob, room = seed_room_of_two("bench-cpu")
    alice = User.objects.select_related("profile").get(pk=alice.pk)  # a socket's user
    stamp = time.time_ns()
    connection.close()

    keeps_rooms = "room_read_earlier" in inspect.signature(services.message_post).parameters
    kept = {}

    @database_sync_to_async
    def post(n: int) -> None:
        """ChatConsumer._post: a hop to the database thread, as the socket makes it."""
        known = kept.get(room.slug)
        found = known or selectors.room_for_user(user=alice, slug=room.slug)
        body, client_id = f"post number {n}", f"cpu-{stamp}-{n}"
        if not keeps_rooms:
            services.message_post(user=alice, room=found, body=body, client_id=client_id)
            return
        posted = services.message_post(
            user=alice, room=found, body=body, client_id=client_id, room_read_earlier=bool(known)
        )
        kept[room.slug] = posted.message.room

    @database_sync_to_async
    def backend_pids() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return [pid for (pid,) in cursor.fetchall()]

    async def measure() -> list[dict]:
        for n in range(50):
            await post(-1 - n)
        pids = await backend_pids()
        runs = []
        for run in range(args.runs):
            backend = _backends_cpu_ns(pids)
            wall, cpu = time.perf_counter(), time.process_time()
            for n in range(args.posts):
                await post(run * args.posts + n)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            backend_after = _backends_cpu_ns(pids)
            runs.append(
                {
                    "python_cpu_us": round(cpu * 1e6 / args.posts, 1),
                    "backend_cpu_us": None
                    if backend is None or backend_after is None
                    else round((backend_after - backend) / 1000 / args.posts, 1),
                    "wall_us": round(wall * 1e6 / args.posts, 1),
                }
            )
            print(json.dumps(runs[-1]), flush=True)
        return runs

    runs = asyncio.run(measure())
    median = {
        name: statistics.median(r[name] for r in runs if r[name] is not None)
        for name in runs[0]
        if runs[0][name] is not None
    }
    print(json.dumps({"posts": args.posts, "runs": len(runs), "median": median}))


if __name__ == "__main__":
    main()
