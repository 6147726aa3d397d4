"""Pages of changes a replica read moments ago, handed out again while nothing changed.

When a replica dies, its clients reconnect to the others within seconds and
each asks for what it missed: a thousand ``sync`` requests for the same rooms
from the same cursors (the live messages they all got before the drop). A
room's ``seq`` moves with every change to it, so a page of (room, since,
size) read when the room was at ``seq`` is the same page for every request
that finds the room still at ``seq``: it is read once. Entries live a few
seconds at most, so what a page shows without a change of its own (an
author's new display name) is never older than that; clients get that live.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

CAPACITY = 128
TTL_SECS = 5.0


class RecentPages:
    """A small LRU of pages with a time to live; safe across threads."""

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        ttl: float = TTL_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self._pages: OrderedDict[Hashable, tuple[float, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> dict | None:
        with self._lock:
            entry = self._pages.get(key)
            if entry is None:
                return None
            if self.clock() - entry[0] > self.ttl:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, page: dict) -> None:
        with self._lock:
            self._pages[key] = (self.clock(), page)
            self._pages.move_to_end(key)
            while len(self._pages) > self.capacity:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
