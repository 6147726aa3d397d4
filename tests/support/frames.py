"""Reading frames from a Channels WebsocketCommunicator in consumer tests."""

import itertools

_refs = itertools.count(1)


async def receive_type(socket, wanted: str, timeout: float = 5) -> dict:
    """The next frame of the wanted type, skipping presence/member chatter."""
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == wanted:
            return frame


async def drain(socket, quiet: float = 0.3) -> list[dict]:
    """Every frame still arriving, until the socket has been quiet for a moment."""
    frames = []
    while not await socket.receive_nothing(timeout=quiet):
        frames.append(await socket.receive_json_from())
    return frames


def of_type(frames: list[dict], wanted: str) -> list[dict]:
    return [f for f in frames if f["type"] == wanted]


async def settled(socket, timeout: float = 10) -> list[dict]:
    """Everything the socket was sent before now: a ping's pong comes after it all."""
    ref = f"settle{next(_refs)}"
    await socket.send_json_to({"type": "ping", "ref": ref})
    frames = []
    while (frame := await socket.receive_json_from(timeout=timeout)).get("ref") != ref:
        frames.append(frame)
    return frames


async def still_open(socket) -> bool:
    """Whether the server still answers a ping on the socket (rather than closing it)."""
    await socket.send_json_to({"type": "ping", "ref": "alive"})
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return False
        if '"ref":"alive"' in output.get("text", ""):
            return True


async def close_code(socket) -> int | None:
    """Wait for the server to close the socket; its close code.

    The client then completes the closing handshake, as a browser does (daphne
    reports it to the consumer as `websocket.disconnect`).
    """
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            await socket.disconnect(code=output.get("code"))
            return output.get("code")


async def presence_of(socket, username: str, timeout: float = 5) -> dict:
    """The next presence change of that user (one's own sockets hear about oneself too)."""
    while (frame := await receive_type(socket, "presence", timeout))["user"] != username:
        pass
    return frame


async def send(socket, room: str, body: str, client_id: str) -> dict:
    """Post a message; the first `message` frame the socket then receives."""
    await socket.send_json_to({"type": "send", "room": room, "body": body, "client_id": client_id})
    return (await receive_type(socket, "message"))["message"]


async def error_for(socket, frame: dict) -> dict:
    """Send a frame; the next error frame the socket receives."""
    await socket.send_json_to(frame)
    return await receive_type(socket, "error")
