"""Reading frames from a Channels WebsocketCommunicator in consumer tests."""


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
