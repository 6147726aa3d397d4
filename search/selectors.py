"""Message search: what the caller may read now, matching a web-search style query.

PostgreSQL matches the stored tsvector (search/index.py) with
`websearch_to_tsquery`, so `q` takes words, "quoted phrases" and -excluded
words, and the GIN index finds the hits; the index holds the names of the
message's files too. Other databases (SQLite in `make run`) match each word and
phrase with icontains, in the body or a file's name, and exclude the -words.

Only rooms the caller is a member of at the moment of the query are searched
(public rooms included only once joined): a room they left or were removed
from, or a private room they were never in, yields nothing. Deleted messages
never match.
"""

import html
import re

import nh3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import BooleanField, Max, Q, QuerySet
from django.db.models.expressions import RawSQL

from chat.models import Membership, Message, Room
from chat.selectors import message_payload
from project import validators
from project.errors import ClientError
from search import index

Q_MAX_LENGTH = 200
# Private-use characters mark the hits in ts_headline's output. The body is
# escaped before ts_headline sees it (its parser would drop anything that looks
# like a tag), then the markers become <mark> tags and nh3 keeps no other tag.
_START, _STOP = "\ue000", "\ue001"
# A short body is shown whole; a long one as up to three passages around the hits.
SHORT_BODY = 300
_MARKERS = f"StartSel={_START}, StopSel={_STOP}"
_WHOLE = f"{_MARKERS}, HighlightAll=true"
_PASSAGES = f'{_MARKERS}, MaxFragments=3, MaxWords=20, MinWords=8, FragmentDelimiter=" … "'
_TERMS = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


def search_limit(limit: object) -> int:
    if limit is None:
        return settings.CHAT_SEARCH_PAGE_SIZE
    return min(
        validators.positive_integer(limit, field="limit"), settings.CHAT_SEARCH_MAX_PAGE_SIZE
    )


def clean_query(q: object) -> str:
    return validators.text(q, field="q", max_length=Q_MAX_LENGTH, strip=True)


def parse_terms(q: str) -> tuple[list[str], list[str]]:
    """(wanted, excluded) words and phrases of a web-search query, for the simple match."""
    wanted: list[str] = []
    excluded: list[str] = []
    for match in _TERMS.finditer(q):
        minus, text = (match[1], match[2]) if match[2] is not None else (match[3], match[4])
        text = " ".join(text.split())
        if text:
            (excluded if minus else wanted).append(text)
    return wanted, excluded


def _sanitised(escaped_and_marked: str) -> str:
    tagged = escaped_and_marked.replace(_START, "<mark>").replace(_STOP, "</mark>")
    return nh3.clean(tagged, tags={"mark"}, attributes={})


def _marked_in_python(body: str, wanted: list[str]) -> str:
    """The body HTML-escaped, each wanted term wrapped in the markers (any case)."""
    body = body.replace(_START, "").replace(_STOP, "")
    if not wanted:
        return html.escape(body, quote=False)
    pattern = re.compile("|".join(re.escape(term) for term in wanted), re.IGNORECASE)
    pieces = pattern.split(body)
    hits = pattern.findall(body)
    out = [html.escape(pieces[0], quote=False)]
    for hit, after in zip(hits, pieces[1:], strict=True):
        out.append(
            f"{_START}{html.escape(hit, quote=False)}{_STOP}{html.escape(after, quote=False)}"
        )
    return "".join(out)


def _a_file_name_contains(term: str) -> RawSQL:
    """Whether one of the message's files has ``term`` in its name, any ASCII case
    (SQLite's json_each, as icontains is there; PostgreSQL indexes the names)."""
    table = Message._meta.db_table
    return RawSQL(  # noqa: S611 - constant SQL, the term is a bound parameter
        f"EXISTS (SELECT 1 FROM json_each({table}.attachment_summary) AS file"  # noqa: S608
        " WHERE instr(lower(json_extract(file.value, '$.name')), lower(%s)) > 0)",
        (term,),
        output_field=BooleanField(),
    )


def search_queryset(
    *,
    user: AbstractBaseUser,
    q: str,
    room: Room | None = None,
    author: AbstractBaseUser | None = None,
    before: int | None = None,
) -> QuerySet[Message]:
    """Matching live messages of the user's rooms, newest first (the query EXPLAIN checks)."""
    mine = Membership.objects.filter(user_id=user.pk).values("room_id")
    found = Message.objects.filter(deleted=False, room_id__in=mine)
    if room is not None:
        found = found.filter(room_id=room.pk)
    if author is not None:
        found = found.filter(author_id=author.pk)
    if before is not None:
        found = found.filter(id__lt=before)
    if index.uses_index(connection):
        # Constant SQL with bound parameters: the table, column and options are ours.
        config = index.search_config()
        table = Message._meta.db_table
        query = "websearch_to_tsquery(%s::regconfig, %s)"
        matches = RawSQL(  # noqa: S611
            f"{table}.{index.COLUMN} @@ {query}", (config, q), output_field=BooleanField()
        )
        escaped_body = (
            f"replace(replace(replace(translate({table}.body, %s, ''), "
            "'&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
        )
        headline = RawSQL(  # noqa: S611
            f"ts_headline(%s::regconfig, {escaped_body}, {query}, "
            f"CASE WHEN length({table}.body) <= %s THEN %s ELSE %s END)",
            (config, _START + _STOP, config, q, SHORT_BODY, _WHOLE, _PASSAGES),
        )
        found = found.filter(matches).annotate(marked=headline)
    else:
        wanted, excluded = parse_terms(q)
        if not wanted:
            return found.none()
        for term in wanted:
            found = found.filter(Q(body__icontains=term) | Q(_a_file_name_contains(term)))
        for term in excluded:
            found = found.exclude(Q(body__icontains=term) | Q(_a_file_name_contains(term)))
    return found.select_related("room", "author__profile").order_by("-id")


def search(
    *,
    user: AbstractBaseUser,
    q: object,
    room_slug: str | None = None,
    author: str | None = None,
    before: int | None = None,
    limit: object = None,
) -> dict:
    """A page of hits `{messages: [message + highlight], has_more}`, newest first."""
    q = clean_query(q)
    size = search_limit(limit)
    room = None
    if room_slug is not None:
        room = _my_room(user=user, slug=room_slug)
    writer = None
    if author is not None:
        writer = _author(author)
        if writer is None:
            return {"messages": [], "has_more": False}
    found = search_queryset(user=user, q=q, room=room, author=writer, before=before)
    if index.uses_index(connection):
        rows = _newest_first(found, size + 1)
        wanted = None
    else:
        rows = list(found[: size + 1])
        wanted = parse_terms(q)[0]
    hits = []
    for message in rows[:size]:
        marked = message.marked if wanted is None else _marked_in_python(message.body, wanted)
        hits.append({**message_payload(message), "highlight": _sanitised(marked)})
    return {"messages": hits, "has_more": len(rows) > size}


def _newest_first(found: QuerySet[Message], count: int) -> list[Message]:
    """Up to ``count`` hits, newest first, in two steps that each keep a fast plan.

    For a word it thinks frequent, PostgreSQL walks the primary key newest first
    and stops after a page; when the matches are all old, or in rooms the caller
    is not in, that walk reads most of the table (750 ms over a million messages,
    bench/README.md "Search over 1,000,000 messages"). So the newest
    CHAT_SEARCH_RECENT_WINDOW messages are searched that way first, and only if
    they do not fill the page is the rest searched from the GIN index's matches
    (index scans off: a bitmap scan of the matches, sorted).
    """
    newest = Message.objects.aggregate(newest=Max("id"))["newest"] or 0
    start = newest - settings.CHAT_SEARCH_RECENT_WINDOW
    rows = list(found.filter(id__gt=start)[:count])
    if len(rows) == count or start <= 0:
        return rows
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        try:
            rows += list(found.filter(id__lte=start)[: count - len(rows)])
        finally:  # inside a caller's transaction, the setting must not outlive this query
            cursor.execute("SET LOCAL enable_indexscan = on")
    return rows


def _my_room(*, user: AbstractBaseUser, slug: object) -> Room:
    """A room the user is a member of; any other answers like a missing one."""
    if not validators.is_slug(slug):
        raise ClientError("not_found", "No such room.")
    room = Room.objects.filter(slug=slug, memberships__user_id=user.pk).first()
    if room is None:
        raise ClientError("not_found", "No such room.")
    return room


def _author(username: object) -> AbstractBaseUser | None:
    if not validators.is_lookup_text(username):
        return None
    return get_user_model().objects.filter(username=username).first()
