"""Forms of the Django admin, posted as its pages post them."""

from collections.abc import Iterable


def room_change_form(
    room,
    *,
    name: str,
    creator,
    topic: str = "",
    memberships: Iterable = (),
    roles: dict[int, str] | None = None,
    remove: Iterable[int] = (),
) -> dict:
    """The room's change page with its membership inline, one row per membership given.

    `roles` changes the role of a row (user id -> role); `remove` ticks the
    rows of those user ids for deletion. Without memberships the inline is empty,
    so only the room's own fields change.
    """
    memberships = list(memberships)
    roles = roles or {}
    remove = set(remove)
    form = {
        "name": name,
        "slug": room.slug,
        "topic": topic,
        "kind": room.kind,
        "creator": creator.pk,
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, membership in enumerate(memberships):
        prefix = f"memberships-{index}-"
        form |= {
            f"{prefix}id": membership.pk,
            f"{prefix}room": room.pk,
            f"{prefix}user": membership.user_id,
            f"{prefix}role": roles.get(membership.user_id, membership.role),
        }
        if membership.user_id in remove:
            form[f"{prefix}DELETE"] = "on"
    return form
