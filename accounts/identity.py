"""How a user is shown to others: display name and avatar URL."""

import zlib
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.urls import get_script_prefix, get_urlconf, reverse


def display_name(user: AbstractBaseUser) -> str:
    profile = getattr(user, "profile", None)
    return (profile.display_name if profile else "") or user.get_username()


def avatar_url(user: AbstractBaseUser) -> str:
    profile = getattr(user, "profile", None)
    if profile and profile.avatar:
        return profile.avatar.url
    url = _avatar_path(
        settings.ROOT_URLCONF, get_urlconf(), get_script_prefix(), user.get_username()
    )
    # The picture is drawn from the display name and cached: a new name is a new URL.
    name = profile.display_name if profile else ""
    return f"{url}?v={zlib.crc32(name.encode()):08x}" if name else url


def user_payload(user: AbstractBaseUser) -> dict:
    """The `author`/`user` object of the protocol."""
    return {
        "username": user.get_username(),
        "display_name": display_name(user),
        "avatar_url": avatar_url(user),
    }


@lru_cache(maxsize=4096)
def _avatar_path(root_urlconf: str, urlconf: object, prefix: str, username: str) -> str:
    """The drawn avatar's path: reverse() costs ~70 µs, and every message object
    names its author's (a post, each message of a page). Keyed by what reverse() reads."""
    return reverse("avatar_svg", kwargs={"username": username})
