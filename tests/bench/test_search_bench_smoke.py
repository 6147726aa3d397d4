"""The search benchmark (bench/search_bench.py, `make bench-search`) runs end to end on
2,000 messages.

It seeds a database of its own, measures both kinds of query and merges its keys
into a results file that already holds other results. No speed is asserted: only
that both kinds find exactly what they must (rooms the searcher cannot read and
deleted messages never count), that the product's query uses its GIN index, and
that the other results stay as they were.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUMMARY_KEYS = {
    "search_messages",
    "search_p50_ms",
    "search_p99_ms",
    "search_icontains_p50_ms",
    "search_icontains_p99_ms",
    "search_speedup_p50",
    "search_queries_per_cpu_s",
}


def test_tiny_run_finds_the_same_hits_both_ways_and_merges_only_its_keys(tmp_path):
    out = tmp_path / "latest.json"
    before = {
        "meta": {"profile": "full", "workloads": [{"name": "room500"}]},
        "summary": {"ratio_vs_floor": 0.328, "search_p50_ms": 999.0},
        "trials": [{"trial": 1, "variant": "floor"}],
    }
    out.write_text(json.dumps(before, indent=1) + "\n")
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "search_bench.py"),
            "--messages=2000",
            "--repeats=2",
            "--warmup=0",
            "--api-repeats=1",
            f"--db-name=chat_bench_search_smoke_{os.getpid()}",
            "--drop-db",
            "--product-src=worktree",
            f"--out={out}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())

    assert results["meta"] == before["meta"]
    assert results["trials"] == before["trials"]
    assert results["summary"]["ratio_vs_floor"] == 0.328
    assert set(results["summary"]) >= SUMMARY_KEYS
    assert results["summary"]["search_messages"] == 2000
    assert results["summary"]["search_p50_ms"] != 999.0

    terms = results["search"]["terms"]
    assert len(terms) == 9
    for name, term in terms.items():
        assert term["same_page"], name
        assert term["hits_total_fts"] == term["hits_total_icontains"] == term["hits_expected"], (
            name,
            term,
        )
    frequent = terms["frequent_1_in_100"]
    assert frequent["hits_expected"] < frequent["occurrences_all_rooms"]
    assert terms["very_rare_1_in_1000000"]["page_hits"] == 1
    assert terms["exclusion"]["hits_expected"] < frequent["hits_expected"]
    others = terms["others_rooms_frequent"]
    assert others["hits_expected"] == 0 < others["occurrences_all_rooms"]
    assert terms["very_rare_1_in_1000000"]["uses_gin_index"], results["search"]["plans"]
    pooled = [name for name, term in terms.items() if term["pooled"]]
    assert results["search"]["cpu"]["fts"]["queries"] == 2 * len(pooled)
