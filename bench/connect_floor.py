"""How fast daphne itself accepts WebSockets: the floor under any connect figure.

    python bench/connect_floor.py [--sockets 2000] [--runs 3]

Starts daphne (one process, as a replica) with an application that accepts
every socket and sends one frame, connects ``--sockets`` sockets 16 handshakes
at a time as ``make bench``'s idle phase does (after 20 warm-up sockets), and
prints the seconds per run and their median. What the product's handshake adds
on top of this is its own work (token, presence, rooms, ``hello``): compare it
with ``idle.<variant>.connects_per_s`` of the same machine (bench/README.md,
"Issue 18: why 2x the tutorial's connects is out of reach on daphne").
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import raise_nofile_limit, ws_connect  # noqa: E402

CONCURRENCY = 16
WARMUP = 20


async def accept_and_hello(scope, receive, send):
    """The ASGI application daphne serves here: accept, one frame, wait for the close."""
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": '{"type":"hello"}'})
        elif message["type"] == "websocket.disconnect":
            return


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connect_all(port: int, sockets: int) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    opened = []

    async def one() -> None:
        async with gate:
            opened.append(await ws_connect(port, "/ws/", {}, lambda client, text: None))

    for _ in range(WARMUP):
        await one()
    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(sockets)))
    seconds = time.monotonic() - started
    for client in opened:
        client.transport.close()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    raise_nofile_limit()
    port = free_port()
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "connect_floor:accept_and_hello"],
        cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        runs = []
        for run in range(args.runs):
            runs.append(asyncio.run(connect_all(port, args.sockets)))
            print(f"run {run + 1}: {args.sockets} sockets in {runs[-1]:.3f} s", flush=True)
            time.sleep(1.0)  # the closed sockets leave the server
        median = statistics.median(runs)
        print(f"median {median:.3f} s ({args.sockets / median:.0f} connects/s)")
    finally:
        os.killpg(daphne.pid, signal.SIGTERM)
        daphne.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
