"""The database from async tests."""

from channels.db import database_sync_to_async


async def call(func, *args, **kwargs):
    """Run an ORM call (or any sync function) in the database thread and await it."""
    return await database_sync_to_async(func)(*args, **kwargs)
