"""bench/run.py's trials: a saturated trial's backlog is worked off before the next trial
starts, so that another variant's trial at the same rate is not measured on cores still
busy with it (the product's p99 at 16,000/s queued behind the tutorial's this way).
The harness with a hand-made load generator: no servers."""

import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_module():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_run"]


class ScriptedGenerator:
    """Answers every ``run`` with the next scripted p99 and everything delivered."""

    pid = os.getpid()

    def __init__(self, p99s: list[float]) -> None:
        self.p99s = list(p99s)

    def call(self, **msg) -> dict:
        assert msg["cmd"] == "run"
        return {
            "ok": True,
            "messages": 10,
            "expected": 20,
            "delivered_unique": 20,
            "duplicates": 0,
            "p50_ms": 1.0,
            "p99_ms": self.p99s.pop(0),
            "p999_ms": 1.0,
        }


def bench_with(run_module, p99s: list[float], tmp_path: Path):
    profile = run_module.PROFILES["smoke"]
    bench = run_module.Bench(SimpleNamespace(), profile)
    bench.gen = ScriptedGenerator(p99s)
    bench.redis_pid = os.getpid()
    deployment = SimpleNamespace(protocol="floor", pids=[os.getpid()], own_redis=lambda: [])
    bench.deps = {"floor": deployment, "baseline": deployment}
    bench.wv = ["floor", "baseline"]
    waits: list[str] = []
    bench.wait_quiet = lambda w, **kw: waits.append(w.name) or 0.5
    return bench, profile.workloads[0], waits


def test_a_saturated_trial_is_followed_by_quiet_servers(run_module, tmp_path):
    bench, workload, waits = bench_with(run_module, [run_module.P99_TARGET_MS * 3], tmp_path)

    trial = bench.trial(workload, "baseline", 100.0, "compare")

    assert trial["passed"] is False
    assert waits == [workload.name]
    assert trial["quiet_after_s"] == 0.5


def test_a_trial_that_kept_up_goes_straight_on(run_module, tmp_path):
    bench, workload, waits = bench_with(run_module, [run_module.P99_TARGET_MS / 10], tmp_path)

    trial = bench.trial(workload, "floor", 100.0, "compare")

    assert trial["passed"] is True
    assert waits == []
    assert "quiet_after_s" not in trial
