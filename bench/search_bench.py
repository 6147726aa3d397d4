"""``make bench-search``: the product's message search over 1,000,000 stored messages,
against a plain ``icontains`` query on the same data, measured in the same run.

    python bench/search_bench.py                      # seed once (reused later), measure, merge
    python bench/search_bench.py --reseed             # drop the bench database and seed it again
    python bench/search_bench.py --messages 2000 --repeats 3 --out /tmp/x.json --drop-db  # tiny

Everything runs in one database of its own (``chat_bench_search`` unless
``--db-name``), created and migrated here with ``manage.py migrate``: the
caller's ``DATABASE_URL`` is ignored, so a dev or test database is never
touched. Seeding COPYs the messages in one stream (the stored tsvector is a
generated column, so PostgreSQL fills it exactly as it does for the product) and
rebuilds the GIN index with the product's own ``search.index.create``.

Each query runs in this process through Django: the product's kind is
``search.selectors.search`` (what ``GET /api/search`` calls, highlights and
payloads included), the other a plain ``Message.objects.filter(body__icontains=...)``
of the same readable rooms, newest first, the same page size. Kinds and terms are
interleaved, so noise hits both. See bench/README.md, "Search over 1,000,000 messages".
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
SEED_VERSION = 2
SEED_TABLE = "bench_search_seed"
COMMIT_ENV = "BENCH_SEARCH_COMMIT"
ROOMS = 50
UNREADABLE_ROOMS = 5  # the searcher is a member of the other 45
USERS = 5
DELETED_SHARE = 0.01

# A chat's everyday words, most frequent first; the long tail is made up below.
COMMON_WORDS = (  # split in vocabulary()
    "the i to you a and it is that for we on in this of be can have just so do not "
    "with but are was what me my ok will at if get know about all up now think like "
    "there out one time yes no how good going see when then need here they thanks go "
    "today should also would make let our some back work new want did right sure yeah "
    "still any more from got been tomorrow people week call team check look well meeting "
    "could why after by has much really again build release fix test issue deploy server "
    "lunch coffee morning later tonight review branch merge ticket update change "
    "please sorry great nice cool done thing last next day way first because something "
    "into only over before working problem question idea code data page client design "
    "user room chat message search index query error logs alert metrics docs plan sprint"
)
TAIL_WORDS = 20_000
ZIPF_EXPONENT = 1.05
# Planted terms: letters (q, x, z, j, y) the made-up tail never uses, and no real
# word above contains them, so a substring match and a word match find the same rows.
COMMON_TERM = "you"  # rank 4: in about a quarter of the messages
FREQUENT_TERM = "quokka"  # 1 message in 100
UNCOMMON_TERM = "mojito"  # 1 in 1,000
RARE_TERM = "zephyrix"  # 1 in 10,000
VERY_RARE_TERM = "xylojinx"  # 1 in 1,000,000
# Two hard cases for "newest first": as frequent as quokka, but all in the oldest
# tenth of the history (a word nobody uses any more), or all in rooms the searcher
# cannot read (another team's jargon): few or no hits among the newest messages.
OLD_TERM = "jukebox"
OTHERS_TERM = "zymurgy"
PHRASE = ("velvet", "thunder")  # both words everyday (rank ~300), adjacent in 1 in 10,000
# term: (share of all messages, where). "anywhere": its first message in a room the
# searcher cannot read and its second deleted (neither may be found).
PLANTED = {
    FREQUENT_TERM: (1 / 100, "anywhere"),
    UNCOMMON_TERM: (1 / 1000, "anywhere"),
    RARE_TERM: (1 / 10_000, "anywhere"),
    VERY_RARE_TERM: (1 / 1_000_000, "findable"),
    OLD_TERM: (1 / 100, "oldest_tenth"),
    OTHERS_TERM: (1 / 100, "unreadable"),
}
PHRASE_FREQUENCY = 1 / 10_000
PHRASE_RANK = 300
QUERY_WORDS = (COMMON_TERM, *PHRASE, *PLANTED)

# (name, the product's q, the icontains terms wanted, excluded)
QUERIES = (
    ("common", COMMON_TERM, [COMMON_TERM], []),
    ("frequent_1_in_100", FREQUENT_TERM, [FREQUENT_TERM], []),
    ("uncommon_1_in_1000", UNCOMMON_TERM, [UNCOMMON_TERM], []),
    ("rare_1_in_10000", RARE_TERM, [RARE_TERM], []),
    ("very_rare_1_in_1000000", VERY_RARE_TERM, [VERY_RARE_TERM], []),
    ("phrase", f'"{PHRASE[0]} {PHRASE[1]}"', [f"{PHRASE[0]} {PHRASE[1]}"], []),
    ("exclusion", f"{FREQUENT_TERM} -{COMMON_TERM}", [FREQUENT_TERM], [COMMON_TERM]),
    ("old_frequent", OLD_TERM, [OLD_TERM], []),
    ("others_rooms_frequent", OTHERS_TERM, [OTHERS_TERM], []),
)
# Kept out of the pooled summary figures (reported per term, and as the worst case).
HARD_CASES = ("old_frequent", "others_rooms_frequent")
KINDS = ("fts", "icontains")


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------


def vocabulary(rng: random.Random) -> list[str]:
    """Everyday words first, then made-up ones from syllables; the phrase words at ~300."""
    words = list(dict.fromkeys(COMMON_WORDS.split()))
    onsets, vowels, codas = "bcdfghklmnprstvw", "aeiou", ["", "n", "r", "s", "l", "t", "m"]
    seen = set(words) | set(PHRASE)
    while len(words) < TAIL_WORDS:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.randint(2, 4))
        )
        if word not in seen and not any(term in word for term in QUERY_WORDS):
            seen.add(word)
            words.append(word)
    for offset, word in enumerate(PHRASE):
        words.insert(PHRASE_RANK + offset, word)
    _check_terms(words)
    return words


def _check_terms(words: list[str]) -> None:
    """No word but the term itself contains a query term: both kinds must agree."""
    for term in QUERY_WORDS:
        clash = [w for w in words if term in w and w != term]
        if clash:
            raise SystemExit(f"vocabulary word {clash[0]!r} contains the query term {term!r}")


def planted_positions(n: int, frequency: float, rng: random.Random) -> list[int]:
    """round(n * frequency) message indexes (at least one), spread evenly with jitter."""
    count = max(1, round(n * frequency))
    stride = n // count
    return [k * stride + rng.randrange(stride) for k in range(count)]


class Corpus:
    """The messages of one seed, and what each query must find among them.

    ``expected[name]`` counts the messages matching that query in readable rooms, not
    deleted (what both kinds must count); ``occurrences[name]`` counts them in every room.
    Both are complete once ``rows`` has been consumed.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.expected = dict.fromkeys((q[0] for q in QUERIES), 0)
        self.occurrences = dict(self.expected)

    def _plants(self) -> tuple[dict[int, list[str]], dict[int, str]]:
        """Message index -> terms planted there, and -> the rule for its room / deletion."""
        plants: dict[int, list[str]] = {}
        forced: dict[int, str] = {}
        findable: list[int] = []
        for term, (share, where) in PLANTED.items():
            if where == "oldest_tenth":
                positions = planted_positions(self.n // 10, share * 10, self.rng)
            else:
                positions = planted_positions(self.n, share, self.rng)
            for pos in positions:
                plants.setdefault(pos, []).append(term)
            if where == "anywhere" and len(positions) >= 3:
                forced.setdefault(positions[0], "unreadable")
                forced.setdefault(positions[1], "deleted")
            elif where == "unreadable":
                forced.update(dict.fromkeys(positions, where))
            elif where == "findable":
                findable += positions
        forced.update(dict.fromkeys(findable, "findable"))  # last: nothing overrides it
        for pos in planted_positions(self.n, PHRASE_FREQUENCY, self.rng):
            plants.setdefault(pos, []).append(" ".join(PHRASE))
        return plants, forced

    def rows(self):
        """Yield (room index, author index, body, deleted), oldest first."""
        rng = self.rng
        words = vocabulary(rng)
        weights = list(
            itertools.accumulate(1 / (r + 1) ** ZIPF_EXPONENT for r in range(len(words)))
        )
        room_weights = list(itertools.accumulate(1 / (r + 1) ** 0.6 for r in range(ROOMS)))
        plants, forced = self._plants()
        readable = ROOMS - UNREADABLE_ROOMS
        for i in range(self.n):
            picks = rng.choices(words, cum_weights=weights, k=rng.randint(4, 20))
            for term in plants.get(i, ()):
                picks.insert(rng.randrange(len(picks) + 1), term)
            body = " ".join(picks)
            room = min(bisect.bisect(room_weights, rng.random() * room_weights[-1]), ROOMS - 1)
            deleted = rng.random() < DELETED_SHARE
            rule = forced.get(i)
            if rule == "unreadable":
                room = readable + rng.randrange(UNREADABLE_ROOMS)
            elif rule == "deleted":
                deleted = True
            elif rule == "findable":
                room, deleted = rng.randrange(readable), False
            self._count(body, room < readable and not deleted)
            ending = rng.choice((".", "", "", "?", "!"))
            yield room, rng.randrange(USERS), body[0].upper() + body[1:] + ending, deleted

    def _count(self, body: str, findable: bool) -> None:
        tokens = set(body.split())
        for name, _q, wanted, excluded in QUERIES:
            if all(_has(w, body, tokens) for w in wanted) and not any(
                _has(w, body, tokens) for w in excluded
            ):
                self.occurrences[name] += 1
                self.expected[name] += findable


def _has(term: str, body: str, tokens: set[str]) -> bool:
    return (" " in term and term in body) or term in tokens


# --------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def seeded_as(db_name: str) -> dict | None:
    """The seed record of an existing bench database, or None (missing, or not seeded)."""
    import psycopg

    try:
        with psycopg.connect(f"{PG_SERVER}/{db_name}") as conn:
            row = conn.execute(f"SELECT plan FROM {SEED_TABLE}").fetchone()  # noqa: S608
    except psycopg.Error:
        return None
    return row[0] if row else None


def prepare_database(args: argparse.Namespace) -> dict | None:
    """Reuse a database seeded with this plan, or drop and re-create it (None: seed it)."""
    plan = {"messages": args.messages, "seed": args.seed, "version": SEED_VERSION}
    found = None if args.reseed else seeded_as(args.db_name)
    if found and {k: found.get(k) for k in plan} == plan:
        say(
            f"reusing {args.db_name}: {args.messages:,} messages, seeded earlier in "
            f"{found['seconds']} s (--reseed to redo)"
        )
        return found
    say(f"creating the database {args.db_name}")
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    return None


def django_setup(db_name: str) -> None:
    os.environ.update(
        DATABASE_URL=f"{PG_SERVER}/{db_name}",
        DATABASE_POOL="0",  # one plain connection: one backend, whose CPU is read below
        DJANGO_SETTINGS_MODULE="project.settings",
        DJANGO_DEBUG="0",  # no query log
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY")
        or "bench-search-" + os.urandom(8).hex(),
        REDIS_KEY_PREFIX=os.environ.get("REDIS_KEY_PREFIX") or "benchsearch",
        DJANGO_ALLOWED_HOSTS="localhost",
        # The API requests below are a handful per term, all from one user, back to back.
        CHAT_RATE_LIMIT_SEARCH_PER_MINUTE="1000000",
        CHAT_RATE_LIMIT_SEARCH_BURST="1000000",
    )
    # This file is bench/search_bench.py: its directory, first on sys.path when run as a
    # script, must not hide the product's `search` app.
    sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic here
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    say("migrating (manage.py migrate)")
    call_command("migrate", interactive=False, verbosity=0)


def seed(args: argparse.Namespace) -> dict:
    """Users, rooms, memberships through the ORM; the messages in one COPY; then ANALYZE."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from accounts.models import Profile
    from chat.models import Membership, Room
    from search import index

    started = time.monotonic()
    User = get_user_model()
    with transaction.atomic():
        users = []
        for i in range(USERS):
            user = User(username="searcher" if i == 0 else f"writer{i}")
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users)
        users = list(User.objects.filter(username__in=[u.username for u in users]).order_by("id"))
        users.sort(key=lambda u: u.username != "searcher")
        Profile.objects.bulk_create([Profile(user=u, display_name=u.username) for u in users])
        rooms = [
            Room(
                slug=f"room-{r:02d}",
                name=f"Room {r:02d}",
                kind="private" if r >= ROOMS - 2 else "public",
            )
            for r in range(ROOMS)
        ]
        Room.objects.bulk_create(rooms)
        rooms = list(Room.objects.filter(slug__startswith="room-").order_by("slug"))
        memberships = [
            Membership(room=room, user=user, role="owner" if u == 1 else "member")
            for r, room in enumerate(rooms)
            for u, user in enumerate(users)
            if u > 0 or r < ROOMS - UNREADABLE_ROOMS
        ]
        Membership.objects.bulk_create(memberships)

    say(f"seeding {args.messages:,} messages (one COPY; the tsvector fills itself)")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {index.INDEX}")  # rebuilt once, below
    connection.ensure_connection()
    raw = connection.connection
    corpus = Corpus(args.messages, args.seed)
    start = datetime.now(UTC) - timedelta(seconds=3 * args.messages)
    copy_sql = (
        "COPY chat_message (room_id, author_id, body, html, created, deleted, client_id) FROM STDIN"
    )
    with transaction.atomic(), raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for i, (room, author, body, deleted) in enumerate(corpus.rows()):
            copy.write_row(
                (
                    rooms[room].pk,
                    users[author].pk,
                    body,
                    f"<p>{body}</p>",
                    start + timedelta(seconds=3 * i),
                    deleted,
                    "",
                )
            )
            if i and i % 100_000 == 0:
                say(f"  {i:,} rows sent ({time.monotonic() - started:.0f} s)")
    copied = time.monotonic() - started
    say(f"building the GIN index (search.index.create) after {copied:.0f} s of COPY")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        index.create(connection)
        cursor.execute(
            "UPDATE chat_room SET last_message_id = m.last FROM "
            "(SELECT room_id, max(id) AS last FROM chat_message GROUP BY room_id) m "
            "WHERE m.room_id = chat_room.id"
        )
    say("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE chat_message")
        cursor.execute("ANALYZE")
    plan = {
        "messages": args.messages,
        "seed": args.seed,
        "version": SEED_VERSION,
        "seconds": round(time.monotonic() - started, 1),
        "copy_seconds": round(copied, 1),
        "expected": corpus.expected,
        "occurrences": corpus.occurrences,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {SEED_TABLE} (plan jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {SEED_TABLE} VALUES (%s::jsonb)", [json.dumps(plan)])  # noqa: S608
    say(f"seeded in {plan['seconds']} s")
    return plan


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def backend_cpu_ns(pid: int) -> int:
    """CPU time of the PostgreSQL backend serving us (schedstat: nanoseconds on a CPU)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def machine_busy_seconds() -> float:
    """CPU-seconds all cores spent not idle (/proc/stat), to see what else ran meanwhile."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def icontains_queryset(user, wanted: list[str], excluded: list[str]):
    from chat.models import Membership, Message

    mine = Membership.objects.filter(user_id=user.pk).values("room_id")
    found = Message.objects.filter(deleted=False, room_id__in=mine)
    for term in wanted:
        found = found.filter(body__icontains=term)
    for term in excluded:
        found = found.exclude(body__icontains=term)
    return found.order_by("-id")


def run_once(kind: str, user, query: tuple, size: int) -> list[int]:
    from search import selectors

    _name, q, wanted, excluded = query
    if kind == "fts":
        return [hit["id"] for hit in selectors.search(user=user, q=q)["messages"]]
    return [m.id for m in icontains_queryset(user, wanted, excluded)[: size + 1]][:size]


def api_latencies(user, repeats: int) -> dict[str, list[float]]:
    """A few requests per query through the whole HTTP stack (GET /api/search, a token),
    in this process with Django's test client: routing, auth, schema, JSON on top."""
    from django.test import Client

    from accounts.services import token_create

    _token, raw = token_create(user=user, name="bench-search")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="localhost")
    latencies: dict[str, list[float]] = {q[0]: [] for q in QUERIES}
    if repeats:
        say(f"{repeats} requests per query through GET /api/search")
    for _ in range(repeats):
        for name, q, _wanted, _excluded in QUERIES:
            t0 = time.perf_counter()
            response = client.get("/api/search", {"q": q}, secure=True)
            latencies[name].append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET /api/search?q={q} answered {response.status_code}")
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(args: argparse.Namespace, plan: dict) -> dict:
    """Time every query both ways, interleaved; then count, EXPLAIN and summarise."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from search import selectors

    user = get_user_model().objects.get(username="searcher")
    size = selectors.search_limit(None)
    with connection.cursor() as cursor:
        cursor.execute(f"SET max_parallel_workers_per_gather = {int(args.parallel_workers)}")
        cursor.execute("SELECT pg_backend_pid(), current_setting('jit')")
        pid, jit = cursor.fetchone()
    started, busy = time.monotonic(), machine_busy_seconds()
    runs = timed_rounds(args, user, size, pid)
    busy = machine_busy_seconds() - busy
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        if cursor.fetchone()[0] != pid:
            raise SystemExit("the PostgreSQL backend changed during the run: CPU not comparable")
    measured = time.monotonic() - started
    ours = sum(r["py"] + r["pg"] for r in runs.values())
    other_cores = max(0.0, busy - ours) / measured
    api = api_latencies(user, args.api_repeats)
    terms = term_table(runs, api, user, plan)
    plans = explain_all(args, user, size, terms)
    block = {
        "meta": {
            **_meta(args, plan, size, jit, measured),
            "other_busy_cores": round(other_cores, 2),
        },
        "terms": terms,
        "cpu": {kind: _cpu([runs[(q[0], kind)] for q in QUERIES if _pooled(q)]) for kind in KINDS},
        **plans,
    }
    return {"summary": _summary(runs, terms, plan), "search": block}


def _pooled(query: tuple) -> bool:
    return query[0] not in HARD_CASES


def timed_rounds(args: argparse.Namespace, user, size: int, pid: int) -> dict:
    """(query name, kind) -> {"ms": [...], "py": CPU s, "pg": CPU s, "ids": last page}."""
    runs = {(q[0], k): {"ms": [], "py": 0.0, "pg": 0.0, "ids": []} for q in QUERIES for k in KINDS}
    rng = random.Random(args.seed)
    rounds = args.warmup + args.repeats
    say(
        f"measuring {len(QUERIES)} queries x {len(KINDS)} kinds x {args.repeats} repeats "
        f"(+{args.warmup} warm-up), interleaved"
    )
    started = time.monotonic()
    for rnd in range(rounds):
        order = list(QUERIES)
        rng.shuffle(order)
        for position, query in enumerate(order):
            for kind in KINDS if (rnd + position) % 2 == 0 else KINDS[::-1]:
                py0, pg0, t0 = time.process_time(), backend_cpu_ns(pid), time.perf_counter()
                ids = run_once(kind, user, query, size)
                t1, py1, pg1 = time.perf_counter(), time.process_time(), backend_cpu_ns(pid)
                run = runs[(query[0], kind)]
                run["ids"] = ids
                if rnd >= args.warmup:
                    run["ms"].append((t1 - t0) * 1000)
                    run["py"] += py1 - py0
                    run["pg"] += (pg1 - pg0) / 1e9
        say(f"  round {rnd + 1}/{rounds} done ({time.monotonic() - started:.0f} s)")
    return runs


def _cpu(runs: list[dict]) -> dict:
    n = sum(len(r["ms"]) for r in runs)
    py, pg = sum(r["py"] for r in runs), sum(r["pg"] for r in runs)
    return {
        "queries": n,
        "python_cpu_ms_per_query": round(py / n * 1000, 3),
        "postgres_cpu_ms_per_query": round(pg / n * 1000, 3),
        "queries_per_cpu_s": round(n / (py + pg), 2) if py + pg else None,
    }


def term_table(runs: dict, api: dict, user, plan: dict) -> dict:
    from search import selectors

    say("counting every hit of each query both ways (not timed)")
    terms = {}
    for name, q, wanted, excluded in QUERIES:
        fts, ico = runs[(name, "fts")], runs[(name, "icontains")]
        terms[name] = {
            "q": q,
            "pooled": name not in HARD_CASES,
            "fts_p50_ms": round(statistics.median(fts["ms"]), 3),
            "fts_p99_ms": round(percentile(fts["ms"], 0.99), 3),
            "icontains_p50_ms": round(statistics.median(ico["ms"]), 3),
            "icontains_p99_ms": round(percentile(ico["ms"], 0.99), 3),
            "api_p50_ms": round(statistics.median(api[name]), 3) if api[name] else None,
            "speedup_p50": round(statistics.median(ico["ms"]) / statistics.median(fts["ms"]), 2),
            "fts_cpu": _cpu([fts]),
            "icontains_cpu": _cpu([ico]),
            "page_hits": len(fts["ids"]),
            "same_page": fts["ids"] == ico["ids"],
            "hits_total_fts": selectors.search_queryset(user=user, q=q).count(),
            "hits_total_icontains": icontains_queryset(user, wanted, excluded).count(),
            "hits_expected": plan["expected"][name],
            "occurrences_all_rooms": plan["occurrences"][name],
        }
    return terms


def explain_all(args: argparse.Namespace, user, size: int, terms: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the product's page query per term; icontains' for one."""
    from search import index, selectors

    say("EXPLAIN (ANALYZE, BUFFERS) of the product's query for each term")
    plans = {}
    for name, q, _wanted, _excluded in QUERIES:
        text = selectors.search_queryset(user=user, q=q)[: size + 1].explain(
            analyze=True, buffers=True
        )
        plans[name] = key_lines(text, args.plan_lines)
        terms[name]["uses_gin_index"] = f"Bitmap Index Scan on {index.INDEX}" in text
        terms[name]["plan_ms"] = _execution_ms(text)
    _name, _q, wanted, excluded = next(q for q in QUERIES if q[0] == "rare_1_in_10000")
    text = icontains_queryset(user, wanted, excluded)[: size + 1].explain(analyze=True)
    return {"plans": plans, "icontains_plan_rare": key_lines(text, args.plan_lines)}


def key_lines(plan: str, top: int) -> list[str]:
    """The plan's top lines, then each scan of chat_message with its condition lines."""
    lines = plan.splitlines()
    kept = lines[:top]
    for i, line in enumerate(lines[top:], start=top):
        if "Scan" in line and ("chat_message" in line or "search_vector" in line):
            kept.append(line)
            kept += [
                more
                for more in lines[i + 1 : i + 4]
                if more.strip().startswith(("Filter", "Recheck", "Index Cond", "Rows Removed"))
            ]
        elif line.startswith(("Planning Time", "Execution Time")):
            kept.append(line)
    return kept


def _execution_ms(plan: str) -> float | None:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return None


def _summary(runs: dict, terms: dict, plan: dict) -> dict:
    def pooled(kind: str) -> list[float]:
        return [v for q in QUERIES if _pooled(q) for v in runs[(q[0], kind)]["ms"]]

    fts, ico = pooled("fts"), pooled("icontains")
    worst = max(terms, key=lambda name: terms[name]["fts_p50_ms"])
    speedups = [t["speedup_p50"] for t in terms.values() if t["pooled"]]
    return {
        "search_messages": plan["messages"],
        "search_p50_ms": round(statistics.median(fts), 3),
        "search_p99_ms": round(percentile(fts, 0.99), 3),
        "search_icontains_p50_ms": round(statistics.median(ico), 3),
        "search_icontains_p99_ms": round(percentile(ico, 0.99), 3),
        "search_speedup_p50": round(statistics.median(ico) / statistics.median(fts), 2),
        "search_speedup_geomean": round(statistics.geometric_mean(speedups), 2),
        "search_queries_per_cpu_s": _cpu([runs[(q[0], "fts")] for q in QUERIES if _pooled(q)])[
            "queries_per_cpu_s"
        ],
        "search_icontains_queries_per_cpu_s": _cpu(
            [runs[(q[0], "icontains")] for q in QUERIES if _pooled(q)]
        )["queries_per_cpu_s"],
        "search_worst_term": worst,
        "search_worst_p50_ms": terms[worst]["fts_p50_ms"],
    }


def _meta(args: argparse.Namespace, plan: dict, size: int, jit: str, measured: float) -> dict:
    from django.conf import settings

    return {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": _git_commit(),
        "command": "make bench-search",
        "product_src": "git archive" if os.environ.get(COMMIT_ENV) else "worktree",
        "database": args.db_name,
        "messages": plan["messages"],
        "rooms": ROOMS,
        "readable_rooms": ROOMS - UNREADABLE_ROOMS,
        "users": USERS,
        "deleted_share": DELETED_SHARE,
        "vocabulary": TAIL_WORDS,
        "zipf_exponent": ZIPF_EXPONENT,
        "seed": plan["seed"],
        "seed_seconds": plan["seconds"],
        "seed_reused": plan.get("reused", False),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "page_size": size,
        "search_config": settings.CHAT_SEARCH_CONFIG,
        "max_parallel_workers_per_gather": int(args.parallel_workers),
        "jit": jit,
        "measure_seconds": round(measured, 1),
        "pooled": [q[0] for q in QUERIES if _pooled(q)],
        "cpu": "python = time.process_time() of this process (Django, psycopg, payloads); "
        "postgres = /proc/<backend pid>/schedstat of the one backend serving it; "
        "other_busy_cores = the machine's other CPU use while timing (cores, of "
        f"{os.cpu_count()})",
    }


def _git_commit() -> str | None:
    """The snapshot's commit, or HEAD of the checkout run as it is (edits included)."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    run = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return run.stdout.strip() + "+worktree" if run.stdout.strip() else None


def run_snapshot(rev: str, out: Path) -> int:
    """Run this benchmark from a ``git archive`` of ``rev``, so that edits in progress in a
    shared checkout (an unfinished migration, say) never change what is measured."""
    from run import snapshot_product  # bench/run.py: the snapshot `make bench` runs too

    with tempfile.TemporaryDirectory(prefix="bench-search-") as dest:
        _, commit = snapshot_product(rev, Path(dest))
        say(f"running the product at {commit[:12]} (a git archive of {rev} in {dest})")
        argv = [*sys.argv[1:], "--product-src=worktree", f"--out={out.resolve()}"]
        script = Path(dest) / "bench" / "search_bench.py"
        env = {**os.environ, COMMIT_ENV: commit}
        return subprocess.run([sys.executable, str(script), *argv], env=env, check=False).returncode


def merge(out: Path, result: dict) -> None:
    """Add the search_* summary keys and the ``search`` block; leave everything else."""
    data = json.loads(out.read_text()) if out.exists() else {}
    summary = {k: v for k, v in data.get("summary", {}).items() if not k.startswith("search_")}
    data["summary"] = {**summary, **result["summary"]}
    data["search"] = result["search"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")


def print_table(result: dict) -> None:
    print(f"\n{'query':<24} {'fts p50':>9} {'p99':>9} {'icontains p50':>14} {'p99':>9} {'x':>7}")
    for name, t in result["search"]["terms"].items():
        print(
            f"{name:<24} {t['fts_p50_ms']:>9.2f} {t['fts_p99_ms']:>9.2f} "
            f"{t['icontains_p50_ms']:>14.2f} {t['icontains_p99_ms']:>9.2f} {t['speedup_p50']:>7.1f}"
        )
    print(json.dumps(result["summary"], indent=1))
    for kind, c in result["search"]["cpu"].items():
        print(f"{kind}: {c}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--db-name", default="chat_bench_search")
    parser.add_argument("--reseed", action="store_true", help="drop and seed again")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per query and kind")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--api-repeats", type=int, default=5, help="requests per query")
    parser.add_argument("--parallel-workers", type=int, default=0)
    parser.add_argument("--plan-lines", type=int, default=16)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--drop-db", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--product-src",
        default="HEAD",
        help="git revision to run (snapshot via git archive), or 'worktree': the checkout as is",
    )
    args = parser.parse_args()
    if args.product_src != "worktree":
        sys.exit(run_snapshot(args.product_src, args.out))

    began = time.monotonic()
    plan = prepare_database(args)
    django_setup(args.db_name)
    try:
        if plan is None:
            migrate()
            plan = seed(args)
        else:
            plan["reused"] = True
        result = measure(args, plan)
    finally:
        if args.drop_db:
            from django.db import connection

            connection.close()
            admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    result["search"]["meta"]["wall_seconds"] = round(time.monotonic() - began, 1)
    merge(args.out, result)
    print_table(result)
    say(f"wrote the search_* keys and the search block into {args.out}")


if __name__ == "__main__":
    main()
