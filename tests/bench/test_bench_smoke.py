"""The benchmark harness runs end to end on a tiny configuration.

It starts every variant for real (floor, baseline, product on both channel
layers; the product only once its code is in the tree), drives a few messages
through each, and writes a latest.json with the summary. No performance claim
is asserted here: only that nothing is lost and the report has its shape.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUMMARY_KEYS = {
    "ratio_vs_baseline",
    "ratio_vs_floor",
    "p99_ratio_vs_floor",
    "delivery_ratio",
    "kb_per_idle_connection",
}

pytestmark = pytest.mark.replicas


def test_smoke_profile_delivers_everything_and_writes_the_summary(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--profile",
            "smoke",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())

    variants = {t["variant"] for t in results["trials"]}
    assert {"floor", "baseline"} <= variants
    if (REPO / "project" / "asgi.py").exists():
        assert {"product-core", "product-pubsub"} <= variants
    for trial in results["trials"]:
        assert trial["expected"] > 0
        assert trial["delivered_unique"] == trial["expected"], trial
        assert trial["duplicates"] == 0, trial
        assert trial["p50_ms"] is not None
    assert set(results["summary"]) >= SUMMARY_KEYS
    if "product-core" in variants:
        assert results["summary"]["delivery_ratio"] == 1.0
        assert results["summary"]["kb_per_idle_connection"] is not None
    for variant in variants:
        assert results["idle"][variant]["sockets"] > 0
    assert (tmp_path / "latency_cdf.png").stat().st_size > 0
    assert (tmp_path / "delivered_vs_offered.png").stat().st_size > 0
    assert "summary" in run.stdout
