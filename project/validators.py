"""The checks every input goes through, one of each, with one wording.

Frames and API bodies are JSON, so a value can be of any type: each check takes
``object`` and returns the value typed, or raises ``ClientError("invalid", …)``
naming the field. The predicates (``is_…``) are for callers that answer
something else, such as ``not_found`` for a lookup that can match nothing.

A leaf, like project/errors.py: accounts, chat, search and files all use it
(tests/unit/test_layering.py).
"""

import re
from typing import TypeGuard

from project.errors import ClientError

ID_MAX = 2**63 - 1  # PostgreSQL's bigint: every id and seq
# Room slugs (chat.models.slug_validator says the same to the admin's form).
SLUG_RE = re.compile(r"[a-z0-9-]{1,50}")


# Integers and booleans
# ------------------------------------------------------------------------------


def is_integer(value: object) -> TypeGuard[int]:
    """A JSON integer: an int, not a bool (``true`` is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value: object) -> TypeGuard[int]:
    """An integer a bigint primary key can be: 1 to ID_MAX."""
    return is_integer(value) and 0 < value <= ID_MAX


def integer(value: object, *, field: str) -> int:
    if not is_integer(value):
        raise ClientError("invalid", f"{field} must be an integer.")
    return value


def non_negative_integer(value: object, *, field: str) -> int:
    """A count or a cursor (a message id or a seq), where 0 means "none yet"."""
    if not is_integer(value) or value < 0:
        raise ClientError("invalid", f"{field} must be a non-negative integer.")
    return value


def positive_integer(value: object, *, field: str) -> int:
    """A page size; the caller caps it."""
    if not is_integer(value) or value < 1:
        raise ClientError("invalid", f"{field} must be a positive integer.")
    return value


def boolean(value: object, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ClientError("invalid", f"{field} must be true or false.")
    return value


# Text
# ------------------------------------------------------------------------------


def is_slug(value: object) -> TypeGuard[str]:
    """Whether ``value`` can be a room's slug: any other names no room."""
    return isinstance(value, str) and SLUG_RE.fullmatch(value) is not None


def slug(value: object) -> str:
    """A new room's slug."""
    if not is_slug(value):
        raise ClientError("invalid", "slug must be 1-50 lowercase letters, digits or dashes.")
    return value


def is_lookup_text(value: object) -> TypeGuard[str]:
    """A non-empty string without NUL: a value a lookup may send to PostgreSQL, which
    refuses NUL in text (tests/faults/test_frame_fuzz.py). Anything else matches no row."""
    return isinstance(value, str) and bool(value) and "\x00" not in value


def string(value: object, *, field: str) -> str:
    """A string PostgreSQL can store: no NUL character."""
    if not isinstance(value, str):
        raise ClientError("invalid", f"{field} must be a string.")
    if "\x00" in value:
        raise ClientError("invalid", f"{field} must not contain NUL characters.")
    return value


def text(
    value: object, *, field: str, max_length: int, required: bool = True, strip: bool = False
) -> str:
    """A string of at most ``max_length`` characters without NUL; not empty if ``required``.

    ``strip``: surrounding whitespace is dropped first (a name of spaces is blank).
    """
    value = string(value, field=field)
    if strip:
        value = value.strip()
    if (required and not value) or len(value) > max_length:
        bounds = f"1-{max_length}" if required else f"at most {max_length}"
        raise ClientError("invalid", f"{field} must be {bounds} characters.")
    return value
