"""bench/report.py's summary: issue 18's ratios against the tutorial and the reconnect
storm's figure, computed only from what a run measured, and merged without touching the
rest. Pure functions on hand-made results: no servers."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_report", REPO / "bench" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)

META = {"workloads": [{"name": "room2", "members": 2}]}


def ladder(variant: str, rate: float, per_cpu: float, trial: int, passed: bool = True) -> dict:
    return {
        "workload": "room2",
        "members": 2,
        "variant": variant,
        "kind": "ladder",
        "trial": trial,
        "passed": passed,
        "offered_deliveries_per_s": rate,
        "delivered_deliveries_per_s": rate,
        "deliveries_per_cpu_s": per_cpu,
        "p99_ms": 50.0,
        "expected": 100,
        "delivered_unique": 100,
    }


def storm(**changes) -> dict:
    figures = {
        "sockets": 2000,
        "dropped": 1000,
        "reconnect_storm_s": 7.5,
        "lost": 0,
        "duplicates": 0,
        "valid": True,
    }
    return {**figures, **changes}


def test_the_ratios_against_the_tutorial_come_from_idle_and_the_room_of_2():
    trials = [
        ladder("baseline", 1000.0, 700.0, 1),
        ladder("product-pubsub", 2400.0, 1500.0, 2),
        ladder("product-pubsub", 4800.0, 900.0, 3, passed=False),
    ]
    idle = {
        "baseline": {"connects_per_s": 200.0},
        "product-pubsub": {"connects_per_s": 500.0},
        "product-core": {"connects_per_s": 50.0},
    }
    variants = ["baseline", "product-pubsub"]
    summary = report.build_results(trials=trials, idle=idle, variants=variants, meta=META)[
        "summary"
    ]

    assert summary["connect_ratio_vs_baseline"] == 2.5
    assert summary["room2_ratio_vs_baseline"] == round(1500 / 700, 3)
    assert summary["room2_saturation_ratio_vs_baseline"] == 2.4
    met = summary["targets_met"]
    assert met["connect_ratio_vs_baseline"] is True
    assert met["room2_ratio_vs_baseline"] is True
    assert met["room2_saturation_ratio_vs_baseline"] is True
    assert met["reconnect_storm_s"] is None  # no storm in this run


def test_a_partial_run_leaves_out_the_ratios_it_has_no_inputs_for():
    idle = {"product-pubsub": {"connects_per_s": 500.0}}  # no baseline
    trials = [ladder("product-pubsub", 2400.0, 1500.0, 1)]
    summary = report.build_results(
        trials=trials, idle=idle, variants=["product-pubsub"], meta=META
    )["summary"]

    for key in (
        "connect_ratio_vs_baseline",
        "room2_ratio_vs_baseline",
        "room2_saturation_ratio_vs_baseline",
        "reconnect_storm_s",
    ):
        assert key not in summary
        assert summary["targets_met"][key] is None


def test_the_storm_figure_counts_only_when_nothing_was_lost_or_repeated():
    meta = {"workloads": []}
    ok = report.build_results(trials=[], idle={}, variants=[], meta=meta, storm=storm())
    assert ok["summary"]["reconnect_storm_s"] == 7.5
    assert ok["summary"]["targets_met"]["reconnect_storm_s"] is True
    assert ok["storm"]["dropped"] == 1000

    lossy = storm(lost=3, valid=False)
    bad = report.build_results(trials=[], idle={}, variants=[], meta=meta, storm=lossy)
    assert "reconnect_storm_s" not in bad["summary"]
    assert bad["summary"]["reconnect_storm_lost"] == 3
    assert bad["summary"]["targets_met"]["reconnect_storm_s"] is False


def test_merging_a_storm_replaces_the_old_storm_and_keeps_everything_else():
    full = report.build_results(
        trials=[ladder("baseline", 1000.0, 700.0, 1), ladder("product-pubsub", 2400.0, 1500.0, 2)],
        idle={"baseline": {"connects_per_s": 200.0}, "product-pubsub": {"connects_per_s": 500.0}},
        variants=["baseline", "product-pubsub"],
        meta={**META, "created": "before"},
        storm=storm(reconnect_storm_s=12.0),
    )
    part_meta = {"workloads": [], "created": "now", "wall_seconds": 60.0, "notes": []}
    part = report.build_results(
        trials=[], idle={}, variants=[], meta={**part_meta, "connects": []}, storm=storm()
    )
    merged = report.merge_results(full, part)

    assert merged["storm"]["reconnect_storm_s"] == 7.5
    assert merged["summary"]["reconnect_storm_s"] == 7.5
    assert merged["summary"]["targets_met"]["reconnect_storm_s"] is True
    assert merged["summary"]["connect_ratio_vs_baseline"] == 2.5
    assert merged["trials"] == full["trials"]
    assert merged["saturation"] == full["saturation"]
    assert merged["meta"]["merged"][-1]["workloads"] == ["storm"]
    again = report.merge_results(merged, part)
    assert len(again["meta"]["merged"]) == 1  # a later storm replaces the earlier one's entry
