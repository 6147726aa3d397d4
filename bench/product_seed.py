"""Seed the product's database for the benchmark (run under the product's settings).

Reads a plan on stdin: ``{"users": N, "rooms": [{"slug": s, "members": [user index, ...]}]}``
and prints ``{"tokens": [raw token of user 0, user 1, ...]}`` on stdout.

Users and memberships are bulk-created through the ORM (thousands of rows in a
second); rooms go through ``chat.services.room_create`` and tokens through
``accounts.services.token_create`` so their invariants (owner membership,
hashed storage) are the product's own.
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
    from chat import services
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
        _rooms(plan, ordered, services, Membership, Room)
        tokens = [token_create(user=user, name="bench")[1] for user in ordered]
    json.dump({"tokens": tokens}, sys.stdout)


def _rooms(plan, ordered, services, Membership, Room) -> None:
    for spec in plan["rooms"]:
        members = [ordered[i] for i in spec["members"]]
        room = Room.objects.filter(slug=spec["slug"]).first()
        if room is None:
            room = services.room_create(
                creator=members[0], name=spec["slug"], slug=spec["slug"], kind="public"
            )
        have = set(Membership.objects.filter(room=room).values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            [Membership(room=room, user=u, role="member") for u in members if u.pk not in have],
            batch_size=1000,
        )


if __name__ == "__main__":
    main()
