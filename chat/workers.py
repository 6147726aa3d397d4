"""Background jobs, off the sockets' path: ``manage.py runworker chat-notify --layer worker``.

Services queue a job after commit (``events.mention_notify``); the worker
takes it from the ``worker`` channel layer, which is always channels-redis'
list-based layer (settings.CHANNEL_LAYERS): unlike pub/sub it keeps a job
until a worker takes it, for up to WORKER_QUEUE_EXPIRY_SECS, so jobs queued
while the worker restarts are not lost. A job is taken once (at most once):
if the worker dies while sending, that email is not sent. Run one worker or
several; each job goes to one of them.
"""

import logging

from channels.consumer import SyncConsumer

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
