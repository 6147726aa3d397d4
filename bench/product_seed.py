"""Seed the product's database for the benchmark (run under the product's settings).

Reads a plan on stdin: ``{"users": N, "rooms": [{"slug": s, "members": [user index, ...]}]}``
and prints ``{"tokens": [raw token of user 0, user 1, ...]}`` on stdout.

Users, profiles, rooms and memberships are bulk-created through the ORM
(thousands of rows in a second; the first member of each room is its owner, as
``chat.services.room_create`` would make it); tokens go through
``accounts.services.token_create`` so their storage is the product's own.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts.models import Profile
    from accounts.services import token_create
    from chat.models import Membership, Room

    plan = json.load(sys.stdin)
    User = get_user_model()
    n = int(plan["users"])
    names = [f"bench-u{i:05d}" for i in range(n)]
    with transaction.atomic():
        existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        new = []
        for name in names:
            if name not in existing:
                user = User(username=name, email=f"{name}@bench.invalid")
                user.set_unusable_password()
                new.append(user)
        User.objects.bulk_create(new, batch_size=1000)
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    ordered = [users[name] for name in names]
    with_profile = set(Profile.objects.filter(user__in=ordered).values_list("user_id", flat=True))
    Profile.objects.bulk_create(
        [Profile(user=u, display_name=u.username) for u in ordered if u.pk not in with_profile],
        batch_size=1000,
    )

    with transaction.atomic():  # one commit, not one per row
        _rooms(plan, ordered, Membership, Room)
        tokens = [token_create(user=user, name="bench")[1] for user in ordered]
    json.dump({"tokens": tokens}, sys.stdout)


def _rooms(plan, ordered, Membership, Room) -> None:
    """Rooms and memberships in bulk through the ORM.

    ``services.room_create`` would emit a ``room_added`` event per room, and from a plain
    script every ``async_to_sync(group_send)`` builds a new event loop and Redis pool
    (about 0.3 s each): minutes for the few hundred rooms of the idle phase.
    """
    specs = [spec for spec in plan["rooms"] if not Room.objects.filter(slug=spec["slug"]).exists()]
    Room.objects.bulk_create(
        [
            Room(
                slug=spec["slug"],
                name=spec["slug"],
                kind="public",
                creator=ordered[spec["members"][0]],
            )
            for spec in specs
        ],
        batch_size=500,
    )
    rooms = {
        r.slug: r for r in Room.objects.filter(slug__in=[spec["slug"] for spec in plan["rooms"]])
    }
    for spec in plan["rooms"]:
        room = rooms[spec["slug"]]
        have = set(Membership.objects.filter(room=room).values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            [
                Membership(room=room, user=u, role="owner" if n == 0 else "member")
                for n, u in enumerate(ordered[i] for i in spec["members"])
                if u.pk not in have
            ],
            batch_size=1000,
        )


if __name__ == "__main__":
    main()
