"""The room of 2 that bench/post_statements.py and bench/post_cpu.py post in."""


def seed_room_of_two(prefix: str):
    """Two users (``<prefix>-a`` owns the room, ``<prefix>-b``) and their public room
    ``<prefix>``, created once; call after ``django.setup()``. Returns (a, b, room)."""
    from django.contrib.auth import get_user_model

    from chat.models import Membership, Room

    user_model = get_user_model()
    alice, _ = user_model.objects.get_or_create(username=f"{prefix}-a")
    bob, _ = user_model.objects.get_or_create(username=f"{prefix}-b")
    room, _ = Room.objects.get_or_create(
        slug=prefix, defaults={"name": prefix, "kind": "public", "creator": alice}
    )
    for user, role in ((alice, "owner"), (bob, "member")):
        Membership.objects.get_or_create(room=room, user=user, defaults={"role": role})
    return alice, bob, room
