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


def run_merged_profile(profile: str, out: Path) -> tuple[dict, subprocess.CompletedProcess, dict]:
    """Run a profile that merges into a copy of the committed latest.json: (the
    committed results, the run, the merged results)."""
    committed = json.loads((REPO / "bench" / "results" / "latest.json").read_text())
    (out / "latest.json").write_text(json.dumps(committed))
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--profile", profile, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return committed, run, json.loads((out / "latest.json").read_text())


@pytest.mark.soak
def test_shards_profile_spreads_rooms_over_two_redis_and_keeps_the_full_run(tmp_path):
    """Two Redis shards against one in the same run, merged into an existing latest.json."""
    committed, run, results = run_merged_profile("shards-smoke", tmp_path)

    # The full run's figures are still there, untouched.
    for key in SUMMARY_KEYS:
        assert results["summary"][key] == committed["summary"][key]
    assert results["saturation"] == committed["saturation"]
    assert results["idle"] == committed["idle"]
    old = [t for t in results["trials"] if t["workload"] != "shards"]
    assert old == [t for t in committed["trials"] if t["workload"] != "shards"]
    assert results["meta"]["merged"][-1]["profile"] == "shards-smoke"

    shard_trials = [t for t in results["trials"] if t["workload"] == "shards"]
    assert {t["variant"] for t in shard_trials} == {
        "product-pubsub+shards1",
        "product-pubsub+shards2",
    }
    for trial in shard_trials:
        assert trial["delivered_unique"] == trial["expected"] > 0, trial
        assert trial["duplicates"] == 0, trial
    ids = [t["trial"] for t in results["trials"]]
    assert len(ids) == len(set(ids))

    summary = results["summary"]
    two = summary["redis_shards"]["product-pubsub+shards2"]
    assert len(two["publishes"]) == 2
    assert all(n > 0 for n in two["publishes"]), two  # rooms landed on both servers
    assert all(cpu > 0 for cpu in two["redis_cpu_s"]), two
    assert summary["redis_shard_balance"] == round(min(two["publishes"]) / max(two["publishes"]), 3)
    assert 0 < summary["redis_shard_balance"] <= 1
    assert set(summary["deliveries_per_cpu_s_by_shards"]) == {"1", "2"}
    assert all(v > 0 for v in summary["deliveries_per_cpu_s_by_shards"].values())
    assert "redis_shard_balance" in summary["targets_met"]
    assert "Redis shards" in run.stdout


@pytest.mark.soak
def test_reactions_profile_delivers_every_reaction_to_every_member_and_keeps_the_full_run(
    tmp_path,
):
    """Members toggle a reaction in one room (product only): every member gets every
    `reaction` frame, and the figures join an existing latest.json."""
    committed, run, results = run_merged_profile("reactions-smoke", tmp_path)

    for key in SUMMARY_KEYS:
        assert results["summary"][key] == committed["summary"][key]
    assert results["saturation"] == committed["saturation"]
    assert results["meta"]["merged"][-1]["profile"] == "reactions-smoke"

    trials = [t for t in results["trials"] if t["workload"] == "reactions20"]
    assert trials and {t["variant"] for t in trials} == {"product-pubsub"}
    for trial in trials:
        assert trial["expected"] == trial["messages"] * 20 > 0, trial
        assert trial["delivered_unique"] == trial["expected"], trial
        assert trial["duplicates"] == 0, trial
        assert trial["errors"] == {}, trial  # each reaction in its sender's order, seq growing
    summary = results["summary"]
    assert summary["reactions20_lost"] == 0
    assert summary["reactions20_deliveries_per_cpu_s"] > 0
    assert summary["reactions20_p99_ms"] > 0
    assert "reactions20" in run.stdout


@pytest.mark.soak
def test_longpoll_profile_delivers_every_message_over_events_polls_and_keeps_the_full_run(
    tmp_path,
):
    """Receivers long polling GET /api/events, beside WebSocket ones in the same room and
    alone with every poll on the other replica: each gets every message once, and the
    figures join an existing latest.json."""
    committed, run, results = run_merged_profile("longpoll-smoke", tmp_path)

    for key in SUMMARY_KEYS:
        assert results["summary"][key] == committed["summary"][key]
    assert results["saturation"] == committed["saturation"]
    assert results["meta"]["merged"][-1]["profile"] == "longpoll-smoke"

    room = [t for t in results["trials"] if t["workload"] == "room10-longpoll"]
    assert {t["transport"] for t in room} == {"mixed", "ws", "lp"}
    replicas = [t for t in results["trials"] if t["workload"] == "longpoll-4x2"]
    assert {t["transport"] for t in replicas} == {"lp"}
    assert {t["offered_msgs_per_s"] for t in replicas} == {10.0, 50.0}
    for trial in room + replicas:
        assert trial["variant"] == "product-pubsub"
        assert trial["expected"] > 0
        assert trial["delivered_unique"] == trial["expected"], trial
        assert trial["duplicates"] == 0, trial
        assert trial["errors"] == {}, trial  # no repeated message, no seq gap, no failed poll
        assert trial["errors_between_trials"] == {}, trial
    for trial in room:  # 2 senders, 8 receivers
        assert trial["expected"] == trial["messages"] * 8
        per = trial["by_transport"]
        if trial["transport"] == "mixed":
            assert set(per) == {"ws", "lp"}
            assert per["ws"]["delivered"] == per["lp"]["delivered"] == trial["messages"] * 4
        else:
            assert per[trial["transport"]]["delivered"] == trial["expected"]
    for trial in replicas:  # every poll on the other replica: both answered polls
        assert trial["expected"] == trial["messages"] * 4
        assert all(n > 0 for n in trial["polls_by_replica"]), trial

    summary = results["summary"]
    assert summary["longpoll_delivery_ratio"] == 1.0
    assert summary["longpoll_lost"] == 0
    assert summary["longpoll_p99_ratio_vs_socket"] > 0
    assert summary["longpoll_cpu_ratio_vs_socket"] > 0
    assert set(summary["longpoll_4x2_by_msgs_per_s"]["lp"]) == {"10", "50"}
    assert summary["targets_met"]["longpoll_delivery_ratio"] is True
    assert "long polling" in run.stdout


@pytest.mark.soak
def test_storm_profile_brings_every_dropped_client_back_with_every_message_once(tmp_path):
    """Two replicas behind nginx, one SIGKILLed under 50 sockets: every client that
    dropped reconnects to the survivor and catches up, no message lost or repeated, and
    the figure joins an existing latest.json."""
    committed, run, results = run_merged_profile("storm-smoke", tmp_path)

    for key in SUMMARY_KEYS:
        assert results["summary"][key] == committed["summary"][key]
    assert results["saturation"] == committed["saturation"]
    assert results["idle"] == committed["idle"]
    assert results["trials"] == committed["trials"]
    assert results["meta"]["merged"][-1]["profile"] == "storm-smoke"

    storm = results["storm"]
    assert storm["sockets"] == storm["connected"] == 50
    killed, survivor = storm["sockets_per_replica_before_kill"]
    assert killed > 0 and survivor > 0, storm  # nginx spread them over both replicas
    assert storm["dropped"] >= killed, storm
    assert storm["finished"] and storm["valid"], storm
    assert storm["messages"] > 0
    assert storm["expected_deliveries"] > 0
    assert storm["lost"] == storm["duplicates"] == storm["foreign"] == 0, storm
    summary = results["summary"]
    assert summary["reconnect_storm_s"] == storm["reconnect_storm_s"] > 0
    assert summary["reconnect_storm_lost"] == summary["reconnect_storm_duplicates"] == 0
    assert "reconnect_storm_s" in summary["targets_met"]
    assert "reconnect storm" in run.stdout
