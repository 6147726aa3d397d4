"""An awaitable that is already done, for hot paths that would otherwise make a coroutine
per call only to return at once (a frame already handed to the transport, an event filtered)."""


class Done:
    """Awaiting it returns None at once; one instance serves every caller."""

    __slots__ = ()

    def __await__(self):
        return iter(())


DONE = Done()
