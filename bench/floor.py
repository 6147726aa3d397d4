"""The floor: the least a Python WebSocket fan-out across processes can cost.

A minimal ``websockets`` broadcaster bridged by Redis pub/sub, no Django. It
speaks the product's wire protocol (``hello``; ``join`` -> ``joined``; ``send``
-> ``message`` to every member, the sender included) so the load generator
drives it exactly like the product. Each process:

* keeps ``room -> set of local sockets`` in memory;
* on ``send``, serialises the ``message`` frame once and PUBLISHes it on
  ``bench:floor:<room>`` (one Redis round trip per message, not per member);
* one pattern subscription (``bench:floor:*``) receives every room's frames
  and hands them to ``websockets.broadcast`` for the local members (the frame
  is written as-is: no per-recipient serialisation, no per-recipient task).

No storage, no auth, no ids beyond a per-process counter: that is the point.

    python bench/floor.py --port 18001 --redis redis://127.0.0.1:6379/10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal

import redis.asyncio as aioredis
from websockets.asyncio.server import broadcast, serve

CHANNEL_PREFIX = "bench:floor:"


class Floor:
    def __init__(self, redis_url: str) -> None:
        self.rooms: dict[str, set] = {}
        self.pub = aioredis.from_url(redis_url)
        self.sub = aioredis.from_url(redis_url)
        self.ids = itertools.count(1)

    async def relay(self) -> None:
        """Fan every published frame out to this process's members of its room."""
        pubsub = self.sub.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(CHANNEL_PREFIX + "*")
        prefix_len = len(CHANNEL_PREFIX)
        async for item in pubsub.listen():
            if item["type"] != "pmessage":
                continue
            members = self.rooms.get(item["channel"][prefix_len:].decode())
            if members:
                broadcast(members, item["data"].decode())

    async def handler(self, ws) -> None:
        joined: list[str] = []
        await ws.send('{"type":"hello"}')
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                    kind = frame["type"]
                except (ValueError, KeyError, TypeError):
                    await ws.send('{"type":"error","code":"bad_frame"}')
                    continue
                if kind == "send":
                    room = frame["room"]
                    out = json.dumps(
                        {
                            "type": "message",
                            "message": {
                                "id": next(self.ids),
                                "room": room,
                                "body": frame["body"],
                                "client_id": frame.get("client_id"),
                            },
                        }
                    )
                    await self.pub.publish(CHANNEL_PREFIX + room, out)
                elif kind == "join":
                    room = frame["room"]
                    self.rooms.setdefault(room, set()).add(ws)
                    joined.append(room)
                    await ws.send(json.dumps({"type": "joined", "room": room}))
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
        finally:
            for room in joined:
                members = self.rooms.get(room)
                if members is not None:
                    members.discard(ws)
                    if not members:
                        del self.rooms[room]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()
    floor = Floor(args.redis)
    relay = asyncio.create_task(floor.relay())
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(floor.handler, "127.0.0.1", args.port, compression=None, max_size=65536):
        with contextlib.suppress(asyncio.CancelledError):
            await stop
    relay.cancel()


if __name__ == "__main__":
    asyncio.run(main())
