"""The ASGI receive queue ``project.serve`` gives each WebSocket."""

import asyncio


class InputQueue:
    """A socket's ASGI receive queue: what daphne needs of one, in ~150 bytes.

    daphne gives every connection an ``asyncio.Queue`` (three deques and an
    Event: ~3 kB, a tenth of an idle socket's memory). One application reads
    it, one ``get()`` at a time, and daphne only calls ``put_nowait``.
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.waiter: asyncio.Future | None = None

    def put_nowait(self, item: dict) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> dict:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.pop(0)
