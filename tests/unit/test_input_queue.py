"""The light ASGI input queue project.serve gives each WebSocket instead of asyncio.Queue."""

import asyncio

import pytest

from project.input_queue import InputQueue


async def test_messages_come_out_in_the_order_daphne_put_them_in():
    queue = InputQueue()
    for n in range(3):
        queue.put_nowait({"n": n})
    assert [(await queue.get())["n"] for _ in range(3)] == [0, 1, 2]


async def test_a_waiting_get_wakes_on_the_next_put():
    queue = InputQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait({"type": "websocket.connect"})
    assert await asyncio.wait_for(waiting, 1) == {"type": "websocket.connect"}


async def test_a_cancelled_get_loses_nothing():
    queue = InputQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    queue.put_nowait({"type": "websocket.receive"})
    assert await asyncio.wait_for(queue.get(), 1) == {"type": "websocket.receive"}
