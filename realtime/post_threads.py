"""Posts run on a few threads of their own, not on the one database thread.

Every ``database_sync_to_async`` hop of a process runs on one thread
(asgiref's thread-sensitive executor). A post's time there is mostly waiting:
the store's round trip, the publish's, the lock's release. In rooms of 2 a
replica's posts queued on that thread long before its cores were busy (the
ladder saturated at 0.4 of a core per replica). On PostgreSQL posts may run side
by side: the room's ordering lock (chat.locks) orders the posts of a room across
threads as it does across replicas, and a socket's own frames are handled one
after the other (realtime.delivery.SocketDelivery.serially). Each thread takes
its own connection from the pool, and gives it back after each post.

SQLite (the embedded default) keeps the one thread: it has no such lock. So does
``CHAT_POST_THREADS=0``.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import connections


@cache
def _post_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.CHAT_POST_THREADS, thread_name_prefix="post")


def posts_have_threads() -> bool:
    """Whether posts leave the database thread: PostgreSQL and ``CHAT_POST_THREADS`` ≥ 1."""
    return settings.CHAT_POST_THREADS >= 1 and connections["default"].vendor == "postgresql"


def post_hop(func: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``database_sync_to_async``, on the post threads when ``posts_have_threads()``."""
    on_database_thread = DatabaseSyncToAsync(func)
    on_post_thread: DatabaseSyncToAsync | None = None

    async def hop(*args: Any, **kwargs: Any) -> Any:
        nonlocal on_post_thread
        if not posts_have_threads():
            return await on_database_thread(*args, **kwargs)
        if on_post_thread is None:
            on_post_thread = DatabaseSyncToAsync(
                func, thread_sensitive=False, executor=_post_executor()
            )
        return await on_post_thread(*args, **kwargs)

    return hop
