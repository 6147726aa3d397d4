"""@mentions: who a message mentions, and the mention markup in its HTML.

``@username`` mentions a member of the room (anyone else is plain text);
``@room`` and ``@here`` mention every member and are for the room's owner,
moderators and staff only (anyone else is refused, so one member cannot ping a
room of thousands). Mentions are stored twice: the usernames on the message
(the message object's ``mentions``) and one Mention row per member mentioned,
from which unread mention counts are read.
"""

import re
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser

from chat.models import Membership, Room
from project.errors import ClientError

EVERYONE = frozenset({"room", "here"})
# Distinct names read from one message; the rest is plain text.
MENTIONS_MAX = 50
_TAG_RE = re.compile(r"(<[^>]*>)")
_TAG_NAME_RE = re.compile(r"</?([a-zA-Z0-9]+)")
# A mention is @ and Django's username characters, not preceded by a letter,
# digit or @ (so bob@example.com is an address, not a mention).
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")
# Inside these the text is code or already a link: no mention markup there.
_NO_MARKUP_TAGS = frozenset({"code", "pre", "a"})


@dataclass(frozen=True)
class Mentions:
    names: list[str] = field(default_factory=list)  # usernames, then "room"/"here"
    user_ids: list[int] = field(default_factory=list)  # members told, never the author


NONE = Mentions()


def mentioned_usernames(body: str, limit: int | None = None) -> set[str]:
    """Usernames @mentioned in a message body (a trailing full stop is punctuation).

    With `limit`, only the first `limit` distinct mentions count.
    """
    names: set[str] = set()
    seen: set[str] = set()
    for match in MENTION_RE.finditer(body):
        name = match.group(1)
        if name in seen:
            continue
        if limit is not None and len(seen) >= limit:
            break
        seen.add(name)
        names.add(name)
        names.add(name.rstrip(".-"))
    names.discard("")
    return names


def mentions_resolve(*, room: Room, author: AbstractBaseUser, body: str) -> Mentions:
    """Who ``body`` mentions in ``room``; refuses @room/@here from a plain member."""
    if "@" not in body:
        return NONE
    names = mentioned_usernames(body, limit=MENTIONS_MAX)
    everyone = sorted(EVERYONE & names)
    if everyone:
        role = Membership.objects.filter(room=room, user_id=author.pk).values_list(
            "role", flat=True
        )
        can_moderate = role.first() in (Membership.Role.OWNER, Membership.Role.MODERATOR)
        if not (can_moderate or getattr(author, "is_staff", False)):
            raise ClientError(
                "forbidden", "Only the room's owner or moderators may mention @room or @here."
            )
    members = Membership.objects.filter(room=room, user__is_active=True)
    if not everyone:
        members = members.filter(user__username__in=names - EVERYONE)
    named = dict(members.values_list("user__username", "user_id"))
    mentioned = sorted(names & named.keys())
    if everyone:
        user_ids = [uid for uid in named.values() if uid != author.pk]
    else:
        user_ids = [named[name] for name in mentioned if named[name] != author.pk]
    return Mentions(names=mentioned + everyone, user_ids=user_ids)


def mentions_markup(html: str, names: list[str]) -> str:
    """Wrap each @name of ``names`` in ``html``'s text in a span.mention.

    ``html`` is the sanitiser's output and the names are [\\w.+-] only, so the
    markup added here cannot carry anything a user typed beyond those characters.
    """
    if not names:
        return html
    wanted = set(names)

    def mark(match: re.Match) -> str:
        name = match.group(1)
        for candidate in (name, name.rstrip(".-")):
            if candidate in wanted:
                rest = name[len(candidate) :]
                return f'<span class="mention" data-user="{candidate}">@{candidate}</span>{rest}'
        return match.group(0)

    parts = _TAG_RE.split(html)
    inside = 0
    for index, part in enumerate(parts):
        if part.startswith("<"):
            tag = _TAG_NAME_RE.match(part)
            if tag and tag.group(1).lower() in _NO_MARKUP_TAGS:
                inside += -1 if part.startswith("</") else 1
            continue
        if inside <= 0 and "@" in part:
            parts[index] = MENTION_RE.sub(mark, part)
    return "".join(parts)
