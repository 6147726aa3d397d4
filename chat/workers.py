"""Background jobs, off the sockets' path: ``manage.py runworker chat-notify --layer worker``.

Services queue a job after commit (``events.mention_notify``); the worker
takes it from the ``worker`` channel layer, which is always channels-redis'
list-based layer (settings.CHANNEL_LAYERS): unlike pub/sub it keeps a job
until a worker takes it, for up to WORKER_QUEUE_EXPIRY_SECS, so jobs queued
while the worker restarts are not lost. A job is taken once (at most once):
if the worker dies while sending, that email is not sent. Run one worker or
several; each job goes to one of them.

The worker also runs periodic jobs in a thread of its own (``PERIODIC_JOBS``):
removing unused uploads every CHAT_FILES_CLEANUP_INTERVAL_SECS (files_cleanup).
Several workers each run them; every job is safe to run twice at once.
"""

import logging
import sys
import threading
import time
from collections.abc import Callable

from channels.consumer import SyncConsumer
from django.conf import settings
from django.db import close_old_connections

from chat.notifications import mention_notify

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "chat-notify"


class NotifyConsumer(SyncConsumer):
    """Email @mentions to members who are offline."""

    channel_layer_alias = "worker"

    def mention_notify(self, event: dict) -> None:
        try:
            mention_notify(message_id=event["message_id"])
        except Exception:
            # One bad job must not stop the worker's consumer.
            log.exception(
                "mention notification failed", extra={"message_id": event.get("message_id")}
            )


# Periodic jobs
# ------------------------------------------------------------------------------


def _files_cleanup() -> None:
    from files.services import uploads_cleanup  # files builds on chat: imported late

    uploads_cleanup()


# (name, seconds between runs, job); each job runs once soon after the worker starts.
PERIODIC_JOBS: list[tuple[str, Callable[[], float], Callable[[], None]]] = [
    ("files_cleanup", lambda: settings.CHAT_FILES_CLEANUP_INTERVAL_SECS, _files_cleanup),
]
FIRST_RUN_DELAY_SECS = 5.0


def _every(name: str, interval: Callable[[], float], job: Callable[[], None]) -> None:
    delay = FIRST_RUN_DELAY_SECS
    while True:
        time.sleep(delay)
        try:
            job()
        except Exception:
            log.exception("periodic job %s failed; retrying at the next interval", name)
        finally:
            close_old_connections()
        delay = interval()


def start_periodic_jobs() -> list[threading.Thread]:
    """Start each periodic job's thread (daemon: it ends with the worker)."""
    threads = [
        threading.Thread(target=_every, args=job, name=f"periodic-{job[0]}", daemon=True)
        for job in PERIODIC_JOBS
    ]
    for thread in threads:
        thread.start()
    return threads


# `runworker` has no start hook, and Channels starts a consumer instance only
# when its first job arrives, so the periodic jobs start when this module is
# loaded by the runworker command (project.asgi imports it before the worker
# runs). Replicas and tests import it too, and start nothing.
if sys.argv[1:2] == ["runworker"] and NOTIFY_CHANNEL in sys.argv[2:]:
    start_periodic_jobs()
