"""Reads about people: the people picker's search."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from accounts.identity import user_payload


def people_limit(limit: int | None) -> int:
    if limit is None:
        return settings.CHAT_PEOPLE_SEARCH_PAGE_SIZE
    return max(1, min(limit, settings.CHAT_PEOPLE_SEARCH_MAX_PAGE_SIZE))


def people_search(
    *, viewer: AbstractBaseUser, q: str, after: str | None = None, limit: int | None = None
) -> tuple[list[dict], str | None]:
    """Active users other than the viewer whose username or display name contains `q`
    (case-insensitive), a page at a time by username; and the next page's cursor
    (the last username), or None.

    Only what every signed-in user already sees of someone in a room is answered
    (username, display name, avatar URL): never an email address. Usernames are
    unique, so the cursor never repeats or skips anyone between pages.
    """
    size = people_limit(limit)
    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(pk=viewer.pk)
        .filter(Q(username__icontains=q) | Q(profile__display_name__icontains=q))
        .select_related("profile")
    )
    if after:
        people = people.filter(username__gt=after)
    page = list(people.order_by("username")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return [user_payload(user) for user in page], (page[-1].get_username() if more else None)
