"""Channel-layer group names: the one place they are built."""


def room_group(room_id: int) -> str:
    """Every socket of every member of the room, on every replica."""
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    """Every socket of one user, on every replica."""
    return f"user.{user_id}"
