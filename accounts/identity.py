"""How a user is shown to others: display name and avatar URL."""

import zlib

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse


def display_name(user: AbstractBaseUser) -> str:
    profile = getattr(user, "profile", None)
    return (profile.display_name if profile else "") or user.get_username()


def avatar_url(user: AbstractBaseUser) -> str:
    profile = getattr(user, "profile", None)
    if profile and profile.avatar:
        return profile.avatar.url
    url = reverse("avatar_svg", kwargs={"username": user.get_username()})
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
