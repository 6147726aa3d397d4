"""Account actions: profiles, deactivation and personal API tokens."""

import hashlib
import secrets
import unicodedata
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.avatars import avatar_normalise
from accounts.events import announce_profile_changed, announce_sessions_ended
from accounts.models import ApiToken, Profile
from accounts.token_lookup import token_lookup, token_touch

TOKEN_PREFIX = "chat_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def profile_ensure(*, user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


# Display names
# ------------------------------------------------------------------------------

# Refused in display names: controls (Cc), format characters (Cf) and line or
# paragraph separators (Zl, Zp). The bidirectional overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) reverse the text after them, so "@alice" can
# read as someone else; invisible ones (U+200B, U+2060, U+FEFF, U+00AD) make a
# copy of a name that looks the same. One exception: the zero-width joiner
# U+200D between two symbols, which holds an emoji sequence together
# (U+1F469 U+200D U+1F4BB: a woman technologist).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ZWJ = "\u200d"
_EMOJI_LEFT = frozenset({"So", "Sk"})  # a symbol, or a skin-tone modifier before the joiner


def _joins_emoji(name: str, index: int) -> bool:
    before = name[index - 1] if index > 0 else ""
    after = name[index + 1] if index + 1 < len(name) else ""
    if before == "\ufe0f":  # emoji presentation selector: look at the symbol before it
        before = name[index - 2] if index > 1 else ""
    return bool(
        before
        and after
        and unicodedata.category(before) in _EMOJI_LEFT
        and unicodedata.category(after) == "So"
    )


def display_name_clean(name: str) -> str:
    """The display name to store (trimmed); ValidationError if it holds a character
    that hides or reorders text (see _REFUSED_CATEGORIES)."""
    name = name.strip()
    for index, char in enumerate(name):
        if unicodedata.category(char) not in _REFUSED_CATEGORIES:
            continue
        if char == _ZWJ and _joins_emoji(name, index):
            continue
        label = unicodedata.name(char, "a control character")
        raise ValidationError(
            f"Display names cannot contain invisible or text-direction characters "
            f"(U+{ord(char):04X} {label}).",
            code="invisible_character",
        )
    return name


@transaction.atomic
def profile_update(
    *,
    user: AbstractBaseUser,
    display_name: str,
    avatar: File | None = None,
    remove_avatar: bool = False,
) -> Profile:
    """Change how others see the user; an avatar must already be validated (ProfileForm).

    Raises ValidationError for a display name display_name_clean refuses.

    The picture is stored re-encoded under a fresh name, so caches never show
    the old one; the replaced file is deleted once the change is committed.
    """
    display_name = display_name_clean(display_name)
    profile = profile_ensure(user=user)
    shown_before = (profile.display_name, profile.avatar.name if profile.avatar else "")
    profile.display_name = display_name
    replaced = profile.avatar.name if profile.avatar else ""
    if avatar is not None:
        name = f"{user.pk}-{secrets.token_hex(8)}.png"
        profile.avatar.save(name, avatar_normalise(avatar), save=False)
    elif remove_avatar:
        profile.avatar = ""
    profile.save()
    if (profile.display_name, profile.avatar.name if profile.avatar else "") != shown_before:
        # Everyone who shares a room with the user sees the new name and picture live.
        transaction.on_commit(partial(announce_profile_changed, user.pk), robust=True)
    if replaced and replaced != profile.avatar.name:
        transaction.on_commit(partial(profile.avatar.storage.delete, replaced))
    return profile


@transaction.atomic
def user_deactivate(*, user: AbstractBaseUser) -> None:
    """Deactivate an account: it can no longer sign in or use its tokens, and every
    socket it has open closes on every replica (its presence turns offline with them).
    """
    # update(), not save(): accounts.signals would close the sockets a second time.
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    transaction.on_commit(partial(announce_sessions_ended, user.pk))


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored.

    The user is emailed about it (once it is committed): a token acts as them, so
    one they did not create means someone else is signed in as them.
    """
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:12], digest=_digest(raw))
    transaction.on_commit(partial(_token_created_email, user=user, token=token), robust=True)
    return token, raw


def _token_created_email(*, user: AbstractBaseUser, token: ApiToken) -> None:
    if not user.email:
        return
    profile_url = settings.CHAT_SITE_URL.rstrip("/") + reverse("account_profile")
    send_mail(
        subject="A new API token was created for your chat account",
        message=(
            f"Hello {user.get_username()},\n\n"
            f'an API token named "{token.name}" ({token.prefix}…) was just created for '
            "your account. It can read and post as you, from scripts and bots.\n\n"
            "If this was not you, revoke it on your profile page and change your "
            f"password (which revokes every token):\n{profile_url}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )


def token_revoke(*, user: AbstractBaseUser, token_id: int) -> bool:
    """Delete one of the user's tokens; True if it existed.

    Requests with it are refused from now on, and every socket opened with it
    closes (4001) on every replica: accounts.signals closes them for any deletion
    of a token (this, the admin, tokens_revoke_all).
    """
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0


def tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    """Delete every token of the user (a new password: a thief may have minted them)."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def token_find(raw: str) -> ApiToken | None:
    """The token (with its active user and profile) a raw value belongs to, or None.

    Every bearer handshake and API call asks this, so it is one hand-written
    statement (accounts/token_lookup.py) and, at most once a minute, one update.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = token_lookup(_digest(raw))
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token_touch(token.pk, now)
        token.last_used_at = now
    return token


def token_authenticate(raw: str) -> AbstractBaseUser | None:
    """The active user a raw token belongs to, or None."""
    token = token_find(raw)
    return None if token is None else token.user
