"""Turn trials into the summary, the stdout table and the PNG plots.

python bench/report.py [bench/results/latest.json]   # re-print and re-plot
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGETS = {
    "ratio_vs_baseline": (">=", 3.0),
    "ratio_vs_floor": (">=", 0.5),
    "p99_ratio_vs_floor": ("<=", 2.0),
    "delivery_ratio": ("==", 1.0),
    "kb_per_idle_connection": ("<=", 30.0),
    "redis_shard_balance": (">=", 0.7),
    "longpoll_delivery_ratio": ("==", 1.0),
    # issue 18
    "connect_ratio_vs_baseline": (">=", 2.0),
    "reconnect_storm_s": ("<=", 10.0),
    "room2_ratio_vs_baseline": (">=", 2.0),
    "room2_saturation_ratio_vs_baseline": (">=", 2.0),
}
# The product variant the issue-18 ratios against the tutorial are taken on.
RATIO_PRODUCT = "product-pubsub"
STORM_KEYS = ("reconnect_storm_s", "reconnect_storm_lost", "reconnect_storm_duplicates")
COLORS = {
    "floor": "#555555",
    "baseline": "#d62728",
    "product-core": "#1f77b4",
    "product-pubsub": "#2ca02c",
}


def saturation(trials: list[dict], workload: str, variant: str) -> dict | None:
    """The highest-rate passing ladder/refine trial; else the lowest-rate one (nothing passed)."""
    runs = [
        t
        for t in trials
        if t["workload"] == workload
        and t["variant"] == variant
        and t["kind"] in ("ladder", "refine")
    ]
    if not runs:
        return None
    ok = [t for t in runs if t["passed"]]
    if ok:
        return max(ok, key=lambda t: t["offered_deliveries_per_s"])
    return min(runs, key=lambda t: t["offered_deliveries_per_s"])


def compare_trial(trials: list[dict], workload: str, variant: str) -> dict | None:
    runs = [
        t
        for t in trials
        if t["workload"] == workload and t["variant"] == variant and t["kind"] == "compare"
    ]
    return runs[-1] if runs else None


def _ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def build_results(
    *, trials: list[dict], idle: dict, variants: list[str], meta: dict, storm: dict | None = None
) -> dict:
    workloads = [
        w["name"] for w in meta["workloads"] if any(t["workload"] == w["name"] for t in trials)
    ]
    sat = {}
    for w in workloads:
        sat[w] = {}
        for v in variants:
            t = saturation(trials, w, v)
            if t is None:
                continue
            sat[w][v] = {
                "passed": t["passed"],
                "saturation_deliveries_per_s": t["delivered_deliveries_per_s"]
                if t["passed"]
                else None,
                "offered_deliveries_per_s": t["offered_deliveries_per_s"],
                "deliveries_per_cpu_s": t["deliveries_per_cpu_s"],
                "p99_ms": t["p99_ms"],
                "trial": t["trial"],
                "ceiling_reached": not any(
                    x["workload"] == w
                    and x["variant"] == v
                    and not x["passed"]
                    and x["kind"] == "ladder"
                    for x in trials
                ),
            }
    # The summary is taken on the biggest room (500 members in the full profile).
    big = max(meta["workloads"], key=lambda w: w["members"])["name"] if meta["workloads"] else None
    s = sat.get(big, {})
    # Experiment variants (name+change) never stand for the product in the summary.
    products = [v for v in variants if v.startswith("product") and "+" not in v and v in s]
    best = max(products, key=lambda v: s[v]["deliveries_per_cpu_s"] or 0) if products else None
    eff = {v: s[v]["deliveries_per_cpu_s"] for v in s}
    summary: dict = {
        "workload": big,
        "product_layer": best,
        "ratio_vs_baseline": _ratio(eff.get(best), eff.get("baseline")),
        "ratio_vs_floor": _ratio(eff.get(best), eff.get("floor")),
        "p99_ratio_vs_floor": None,
        "delivery_ratio": None,
        "kb_per_idle_connection": idle.get(best, {}).get("kb_per_connection") if best else None,
    }
    if best:
        pc, fc = compare_trial(trials, big, best), compare_trial(trials, big, "floor")
        if pc and fc:
            summary["p99_ratio_vs_floor"] = _ratio(pc["p99_ms"], fc["p99_ms"])
            summary["compare_rate_deliveries_per_s"] = fc["offered_deliveries_per_s"]
        prod = [t for t in trials if t["variant"].startswith("product") and "+" not in t["variant"]]
        expected = sum(t["expected"] for t in prod)
        if expected:
            # Delivered at all (late stragglers counted once they arrive): nothing lost.
            eventually = sum(t.get("delivered_eventually", t["delivered_unique"]) for t in prod)
            summary["delivery_ratio"] = round(eventually / expected, 6)
            within = sum(t["delivered_unique"] for t in prod)
            summary["delivery_ratio_within_drain"] = round(within / expected, 6)
    summary["deliveries_per_cpu_s"] = eff
    summary.update(baseline_ratios(sat, idle))
    summary.update(storm_summary(storm))
    summary.update(shard_summary(trials))
    summary.update(reaction_summary(trials, meta["workloads"], best))
    summary.update(longpoll_summary(trials, meta["workloads"], best))
    summary["targets_met"] = targets_met(summary)
    results = {"meta": meta, "summary": summary, "saturation": sat, "idle": idle}
    if storm is not None:
        results["storm"] = storm
    return {**results, "trials": trials}


def targets_met(summary: dict) -> dict:
    met = {k: _meets(summary.get(k), op, target) for k, (op, target) in TARGETS.items()}
    if summary.get("reconnect_storm_valid") is False:  # measured, but something was lost
        met["reconnect_storm_s"] = False
    return met


def baseline_ratios(sat: dict, idle: dict) -> dict:
    """Issue 18's ratios of the product (``RATIO_PRODUCT``) to the tutorial, each only if
    this run measured both sides: ``connect_ratio_vs_baseline`` (idle sockets connected
    per second to one replica), ``room2_ratio_vs_baseline`` (rooms of 2: deliveries per
    CPU-second at each one's saturation step) and ``room2_saturation_ratio_vs_baseline``
    (rooms of 2: saturation rates; absent when either passed no step)."""
    out = {}
    product, baseline = idle.get(RATIO_PRODUCT, {}), idle.get("baseline", {})
    pairs = {"connect_ratio_vs_baseline": (product, baseline, "connects_per_s")}
    room2 = sat.get("room2", {})
    product, baseline = room2.get(RATIO_PRODUCT, {}), room2.get("baseline", {})
    pairs["room2_ratio_vs_baseline"] = (product, baseline, "deliveries_per_cpu_s")
    pairs["room2_saturation_ratio_vs_baseline"] = (
        product,
        baseline,
        "saturation_deliveries_per_s",
    )
    for key, (a, b, field) in pairs.items():
        ratio = _ratio(a.get(field), b.get(field))
        if ratio is not None:
            out[key] = ratio
    return out


def storm_summary(storm: dict | None) -> dict:
    """``reconnect_storm_s`` (only when nothing was lost or repeated, and every dropped
    client caught up in time), with what was lost and repeated; nothing without a storm."""
    if not storm:
        return {}
    out = {
        "reconnect_storm_valid": storm["valid"],
        "reconnect_storm_lost": storm["lost"],
        "reconnect_storm_duplicates": storm["duplicates"],
        "reconnect_storm_sockets": storm["sockets"],
        "reconnect_storm_dropped": storm["dropped"],
    }
    if storm["valid"]:
        out["reconnect_storm_s"] = storm["reconnect_storm_s"]
    return out


def shard_summary(trials: list[dict]) -> dict:
    """The layer on several Redis shards against one, from the trials that measured their own
    Redis servers (``redis_shards``: INFO deltas per server), summed over every such trial.

    ``redis_shard_balance`` = the least loaded shard's publishes / the most loaded one's, on
    the variant with the most shards (RedisChannelLayer publishes nothing: its commands are
    counted instead). ``deliveries_per_cpu_s_by_shards`` = deliveries / (replicas + every
    Redis of the deployment, presence's included), per shard count, in the same run.
    """
    per: dict[str, dict] = {}
    for t in trials:
        if not t.get("redis_shards"):
            continue
        n = len(t["redis_shards"])
        v = per.setdefault(
            t["variant"],
            {
                "layer": t.get("layer"),
                "shards": n,
                "trials": 0,
                "publishes": [0] * n,
                "commands": [0] * n,
                "redis_cpu_s": [0.0] * n,
                "redis_idle_cpu_s": [0.0] * n,
                "aux_redis_cpu_s": 0.0,
                "replicas_cpu_s": 0.0,
                "server_cpu_s": 0.0,
                "deliveries": 0,
                "expected": 0,
                "messages": 0,
            },
        )
        v["trials"] += 1
        for i, d in enumerate(t["redis_shards"]):
            v["publishes"][i] += d["publishes"]
            v["commands"][i] += d["commands"]
            v["redis_cpu_s"][i] += d["cpu_s"]
            v["redis_idle_cpu_s"][i] += d.get("idle_cpu_s", 0.0)
        v["aux_redis_cpu_s"] += t["redis_aux"]["cpu_s"]
        v["replicas_cpu_s"] += t["cpu"]["replicas_s"]
        v["server_cpu_s"] += t["cpu"]["server_s"]
        v["deliveries"] += t.get("delivered_eventually", t["delivered_unique"])
        v["expected"] += t["expected"]
        v["messages"] += t["messages"]
    if not per:
        return {}
    for v in per.values():
        ops = v["publishes"] if any(v["publishes"]) else v["commands"]
        v["us_per_publish"] = [
            round(1e6 * cpu / n, 2) if n else None
            for cpu, n in zip(v["redis_cpu_s"], ops, strict=True)
        ]
        # Less what the server burns idle over the same seconds (measured before the trials).
        v["us_per_publish_net"] = [
            round(1e6 * max(0.0, cpu - idle) / n, 2) if n else None
            for cpu, idle, n in zip(v["redis_cpu_s"], v["redis_idle_cpu_s"], ops, strict=True)
        ]
        v["redis_cpu_s"] = [round(x, 4) for x in v["redis_cpu_s"]]
        v["redis_idle_cpu_s"] = [round(x, 4) for x in v["redis_idle_cpu_s"]]
        v["aux_redis_cpu_s"] = round(v["aux_redis_cpu_s"], 4)
        v["replicas_cpu_s"] = round(v["replicas_cpu_s"], 3)
        v["server_cpu_s"] = round(v["server_cpu_s"], 3)
        v["balance"] = round(min(ops) / max(ops), 3) if max(ops) else None
        v["delivery_ratio"] = round(v["deliveries"] / v["expected"], 6) if v["expected"] else None
        v["deliveries_per_cpu_s"] = (
            round(v["deliveries"] / v["server_cpu_s"], 1) if v["server_cpu_s"] else None
        )
    most = max(per, key=lambda name: per[name]["shards"])
    by_count: dict[str, float | None] = {}
    for v in sorted(per.values(), key=lambda v: v["shards"]):
        by_count.setdefault(str(v["shards"]), v["deliveries_per_cpu_s"])
    one, many = by_count.get("1"), by_count.get(str(per[most]["shards"]))
    return {
        "redis_shard_balance": per[most]["balance"] if per[most]["shards"] > 1 else None,
        "deliveries_per_cpu_s_by_shards": by_count,
        "shards_vs_one_shard": _ratio(many, one) if per[most]["shards"] > 1 else None,
        "redis_shards": per,
    }


def reaction_summary(trials: list[dict], workloads: list[dict], layer: str | None) -> dict:
    """``<workload>_*`` keys of each reactions workload (``react_senders``), at its highest
    fixed rate, on ``layer`` (the summary's product layer) if it ran, else on the variant
    with the most deliveries per CPU-second there: ``deliveries_per_cpu_s`` = deliveries /
    server CPU summed over the repeats, ``p99_ms`` = their mean p99 (as the table's
    fixed-rate lines), ``lost`` = expected - delivered ever, over every trial of the
    workload (all rates, all variants), and ``by_rate`` per variant and rate."""
    out: dict = {}
    for w in workloads:
        if not w.get("react_senders"):
            continue
        name = w["name"]
        ts = [t for t in trials if t["workload"] == name and t["kind"] == "fixed"]
        if not ts:
            continue
        by_rate: dict[str, dict] = {}
        for v in sorted({t["variant"] for t in ts}):
            for rate in sorted({t["offered_deliveries_per_s"] for t in ts}):
                group = [
                    t for t in ts if t["variant"] == v and t["offered_deliveries_per_s"] == rate
                ]
                if not group:
                    continue
                cpu = sum(t["cpu"]["server_s"] for t in group)
                delivered = sum(t["delivered_unique"] for t in group)
                by_rate.setdefault(v, {})[f"{rate:g}"] = {
                    "trials": len(group),
                    "deliveries_per_cpu_s": round(delivered / cpu, 1) if cpu else None,
                    "p50_ms": round(_mean(group, "p50_ms"), 3),
                    "p99_ms": round(_mean(group, "p99_ms"), 3),
                }
        top = f"{max(t['offered_deliveries_per_s'] for t in ts):g}"
        at_top = {v: r[top] for v, r in by_rate.items() if top in r}
        if layer not in at_top:
            layer = max(at_top, key=lambda v: at_top[v]["deliveries_per_cpu_s"] or 0)
        expected = sum(t["expected"] for t in ts)
        eventually = sum(t.get("delivered_eventually", t["delivered_unique"]) for t in ts)
        out.update(
            {
                f"{name}_variant": layer,
                f"{name}_rate_deliveries_per_s": float(top),
                f"{name}_deliveries_per_cpu_s": at_top[layer]["deliveries_per_cpu_s"],
                f"{name}_p99_ms": at_top[layer]["p99_ms"],
                f"{name}_lost": expected - eventually,
                f"{name}_by_rate": by_rate,
            }
        )
    return out


def _transport_figures(group: list[dict]) -> dict:
    """One transport set at one rate, over its repeats: delivered ever / expected, server
    (replicas + Redis), replica and PostgreSQL CPU per delivery, mean p50/p99, polls per
    message; the mixed set's latency per transport."""
    delivered = sum(t["delivered_unique"] for t in group)
    expected = sum(t["expected"] for t in group)
    eventually = sum(t.get("delivered_eventually", t["delivered_unique"]) for t in group)

    def us(key: str) -> float | None:
        return round(1e6 * sum(t["cpu"][key] for t in group) / delivered, 1) if delivered else None

    out = {
        "trials": len(group),
        "delivery_ratio": round(eventually / expected, 6) if expected else None,
        "delivery_ratio_within_drain": round(delivered / expected, 6) if expected else None,
        "us_server_cpu_per_delivery": us("server_s"),
        "us_replica_cpu_per_delivery": us("replicas_s"),
        "us_postgres_cpu_per_delivery": us("postgres_s"),
        "p50_ms": round(_mean(group, "p50_ms"), 3),
        "p99_ms": round(_mean(group, "p99_ms"), 3),
    }
    messages = sum(t["messages"] for t in group)
    if any(t.get("polls") for t in group) and messages:
        out["polls_per_message"] = round(sum(t.get("polls", 0) for t in group) / messages, 2)
    kinds = sorted({k for t in group for k in t.get("by_transport", {})})
    if len(kinds) > 1:
        out["by_transport"] = {
            k: {
                "p50_ms": round(_mean([t["by_transport"][k] for t in group], "p50_ms"), 3),
                "p99_ms": round(_mean([t["by_transport"][k] for t in group], "p99_ms"), 3),
                "delivered": sum(t["by_transport"][k]["delivered"] for t in group),
                "expected": sum(t["by_transport"][k]["expected"] for t in group),
            }
            for k in kinds
        }
    return out


def longpoll_summary(trials: list[dict], workloads: list[dict], layer: str | None) -> dict:
    """Long polling against WebSocket (workloads with ``transports``), on ``layer`` if it
    ran, else the first variant that did: per workload ``<name>_by_msgs_per_s`` (transport
    -> messages/s -> ``_transport_figures``), and from the first workload with both
    transports, at its lowest rate (below saturation: each delivery its own poll):
    ``longpoll_p99_ratio_vs_socket`` (long-poll p99 /
    socket p99 in the mixed set, same messages, same seconds; without it the two
    single-transport sets), ``longpoll_cpu_ratio_vs_socket`` (server CPU per delivery, all
    long polling / all sockets; ``_with_postgres`` adding PostgreSQL's CPU to both), and
    ``longpoll_delivery_ratio`` over every trial of every such workload and variant."""
    names = [w["name"] for w in workloads if w.get("transports")]
    ts = [t for t in trials if t["workload"] in names and t["kind"] == "fixed"]
    if not ts:
        return {}
    variants = sorted({t["variant"] for t in ts})
    v = layer if layer in variants else variants[0]
    expected = sum(t["expected"] for t in ts)
    eventually = sum(t.get("delivered_eventually", t["delivered_unique"]) for t in ts)
    within = sum(t["delivered_unique"] for t in ts)
    out: dict = {
        "longpoll_variant": v,
        "longpoll_delivery_ratio": round(eventually / expected, 6) if expected else None,
        "longpoll_delivery_ratio_within_drain": round(within / expected, 6) if expected else None,
        "longpoll_lost": expected - eventually,
        "longpoll_p99_ratio_vs_socket": None,
        "longpoll_cpu_ratio_vs_socket": None,
    }
    compared = False
    for name in names:
        by: dict[str, dict] = {}
        mine = [t for t in ts if t["workload"] == name and t["variant"] == v]
        for mode in sorted({t.get("transport") for t in mine}):
            for rate in sorted({t["offered_msgs_per_s"] for t in mine}):
                group = [
                    t
                    for t in mine
                    if t.get("transport") == mode and t["offered_msgs_per_s"] == rate
                ]
                if group:
                    by.setdefault(mode, {})[f"{rate:g}"] = _transport_figures(group)
        out[f"{name.replace('-', '_')}_by_msgs_per_s"] = by
        if compared or not {"ws", "lp"} <= set(by):
            continue
        compared = True
        low = min(by["lp"], key=float)
        ws, lp = by["ws"].get(low, {}), by["lp"][low]
        mixed = by.get("mixed", {}).get(low, {}).get("by_transport", {})
        if {"ws", "lp"} <= set(mixed):
            p99 = (mixed["lp"]["p99_ms"], mixed["ws"]["p99_ms"])
        else:
            p99 = (lp["p99_ms"], ws.get("p99_ms"))
        pg = (
            (lp["us_server_cpu_per_delivery"] or 0) + (lp["us_postgres_cpu_per_delivery"] or 0),
            (ws.get("us_server_cpu_per_delivery") or 0)
            + (ws.get("us_postgres_cpu_per_delivery") or 0),
        )
        out.update(
            {
                "longpoll_workload": name,
                "longpoll_msgs_per_s": float(low),
                "longpoll_p99_ms": p99[0],
                "longpoll_socket_p99_ms": p99[1],
                "longpoll_p99_ratio_vs_socket": _ratio(*p99),
                "longpoll_cpu_ratio_vs_socket": _ratio(
                    lp["us_server_cpu_per_delivery"], ws.get("us_server_cpu_per_delivery")
                ),
                "longpoll_cpu_ratio_vs_socket_with_postgres": _ratio(*pg),
            }
        )
    return out


def merge_results(old: dict, new: dict) -> dict:
    """A partial run (``--profile shards``, ``reactions``) written into a full run's results:
    its workloads' trials replace those of the same name (renumbered after the old ones), its
    summary keys are added, and ``meta.merged`` records where they came from. Everything else
    stays."""
    names = {w["name"] for w in new["meta"]["workloads"]}
    replaced = names | ({"storm"} if new.get("storm") else set())
    kept = [t for t in old["trials"] if t["workload"] not in names]
    offset = max((t["trial"] for t in old["trials"]), default=0)
    added = []
    for t in new["trials"]:
        t = dict(t, trial=t["trial"] + offset)
        if t.get("previous_trial"):
            t["previous_trial"] += offset
        added.append(t)
    meta = dict(old["meta"])
    meta["workloads"] = [w for w in meta["workloads"] if w["name"] not in names]
    meta["workloads"] += new["meta"]["workloads"]
    part = {k: new["meta"].get(k) for k in ("created", "profile", "git_commit", "product_commit")}
    part.update(
        workloads=sorted(replaced),
        wall_seconds=new["meta"]["wall_seconds"],
        notes=new["meta"]["notes"],
        connects=new["meta"]["connects"],
    )
    meta["merged"] = [m for m in meta.get("merged", []) if set(m["workloads"]) - replaced]
    meta["merged"].append(part)
    summary = dict(old["summary"])
    merged = dict(old)
    if new.get("storm"):
        for key in [k for k in summary if k.startswith("reconnect_storm_")]:
            del summary[key]
        summary.update(storm_summary(new["storm"]))
        merged["storm"] = new["storm"]
    summary.update(shard_summary(kept + added))
    summary.update(reaction_summary(kept + added, meta["workloads"], summary.get("product_layer")))
    summary.update(longpoll_summary(kept + added, meta["workloads"], summary.get("product_layer")))
    summary["targets_met"] = targets_met(summary)
    return {**merged, "meta": meta, "summary": summary, "trials": kept + added}


def _meets(value, op: str, target: float):
    if value is None:
        return None
    return {">=": value >= target, "<=": value <= target, "==": value == target}[op]


def _mean(ts: list[dict], key: str) -> float:
    vals = [t[key] for t in ts if t.get(key) is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def _f(x, d=1) -> str:
    return "-" if x is None else f"{x:,.{d}f}"


COLUMNS = [  # header, width, value
    ("workload", -9, lambda t: t["workload"]),
    ("variant", -15, lambda t: t["variant"] + (f"/{t['transport']}" if "transport" in t else "")),
    ("kind", -7, lambda t: t["kind"]),
    ("offered/s", 10, lambda t: _f(t["offered_deliveries_per_s"], 0)),
    ("delivered/s", 11, lambda t: _f(t["delivered_deliveries_per_s"], 0)),
    ("p50 ms", 8, lambda t: _f(t["p50_ms"])),
    ("p99 ms", 8, lambda t: _f(t["p99_ms"])),
    ("p99.9 ms", 9, lambda t: _f(t["p999_ms"])),
    ("deliv.", 8, lambda t: _f(100 * (t["delivery_ratio"] or 0), 2) + "%"),
    ("srv cpu s", 9, lambda t: _f(t["cpu"]["server_s"], 2)),
    ("deliv/cpu-s", 11, lambda t: _f(t["deliveries_per_cpu_s"], 0)),
    ("lg cpu s", 8, lambda t: _f(t["cpu"]["loadgen_s"], 2)),
    ("oth cpu s", 9, lambda t: _f(t["cpu"].get("others_s"), 2)),
    ("", -1, lambda t: "" if t["passed"] else "x"),
]


def _row(cells) -> str:
    out = []
    for (_, width, _), cell in zip(COLUMNS, cells, strict=True):
        out.append(f"{cell:<{-width}}" if width < 0 else f"{cell:>{width}}")
    return " ".join(out)


def table(results: dict) -> str:
    lines = []
    trials = results["trials"]
    head = _row(c[0] for c in COLUMNS)
    lines += [head, "-" * len(head)]
    order = sorted(
        trials, key=lambda t: (t["members"], t["variant"], t["offered_deliveries_per_s"])
    )
    for t in order:
        lines.append(_row(c[2](t) for c in COLUMNS))
    fixed = [t for t in trials if t["kind"] == "fixed"]
    if fixed:
        lines.append("")
        lines.append("fixed-rate trials, mean over repeats (server CPU = replicas + Redis)")
        groups: dict = {}
        for t in fixed:
            v = t["variant"] + (f"/{t['transport']}" if "transport" in t else "")
            groups.setdefault((t["workload"], t["offered_deliveries_per_s"], v), []).append(t)
        for (w, rate, v), ts in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            deliveries = sum(t["delivered_unique"] for t in ts)
            cpu = sum(t["cpu"]["server_s"] for t in ts)
            replicas = sum(t["cpu"]["replicas_s"] for t in ts)
            lines.append(
                f"  {w:8} {rate:7.0f}/s {v:28} {deliveries / cpu if cpu else 0:8,.0f} deliv/cpu-s"
                f"  {1e6 * replicas / max(1, deliveries):7.0f} us replica-CPU/delivery"
                f"  p50 {_mean(ts, 'p50_ms'):7.1f}  p99 {_mean(ts, 'p99_ms'):7.1f} ms"
            )
    bursts = [t for t in trials if t["kind"] == "burst"]
    if bursts:
        lines.append("")
        lines.append("bursts: every message written at once; delivered in the drain window / ever")
        for t in bursts:
            ever = t.get("delivered_eventually", t["delivered_unique"])
            lines.append(
                f"  {t['workload']:8} {t['variant']:28} {t['messages']:5d} msgs  "
                f"{t['delivered_unique']}/{t['expected']} in window, {ever} ever"
                f" ({100 * ever / t['expected']:.2f}%)  p99 {_f(t['p99_ms'])} ms"
            )
    shards = results["summary"].get("redis_shards")
    if shards:
        lines.append("")
        lines.append(
            "Redis shards (own servers; INFO deltas summed over the trials; presence, rate"
            " limits and cache on one more server)"
        )
        for v, d in shards.items():
            lines.append(
                f"  {v:28} {d['shards']} shard(s)  publishes {d['publishes']}"
                f"  Redis CPU {d['redis_cpu_s']} s (idle {d['redis_idle_cpu_s']})"
                f"  us/publish {d['us_per_publish']} (net {d['us_per_publish_net']})"
                f"  aux {d['aux_redis_cpu_s']} s  {_f(d['deliveries_per_cpu_s'], 0)} deliv/cpu-s"
                f"  delivered {_f(100 * (d['delivery_ratio'] or 0), 2)}%"
            )
    for w in results["meta"]["workloads"]:
        name = w["name"]
        if not w.get("react_senders") or f"{name}_lost" not in results["summary"]:
            continue
        s = results["summary"]
        lines.append("")
        lines.append(
            f"{name} ({w['react_senders']} members toggle a reaction; product only):"
            f" {s[f'{name}_variant']} at {_f(s[f'{name}_rate_deliveries_per_s'], 0)}/s"
            f" {_f(s[f'{name}_deliveries_per_cpu_s'], 0)} deliv/cpu-s"
            f"  p99 {_f(s[f'{name}_p99_ms'])} ms  lost {s[f'{name}_lost']}"
        )
    lines += longpoll_lines(results)
    lines += storm_lines(results)
    lines.append("")
    lines.append(
        "saturation: highest delivered rate with p99 <= 100 ms and nothing lost"
        " ('>=': the ladder's top step passed)"
    )
    for w, per in results["saturation"].items():
        for v, s in per.items():
            sat = s["saturation_deliveries_per_s"]
            shown = (">=" if s["ceiling_reached"] else "") + _f(sat, 0) if sat else "none passed"
            lines.append(
                f"  {w:9} {v:15} {shown:>14} deliveries/s  "
                f"{_f(s['deliveries_per_cpu_s'], 0):>8} deliveries/cpu-s  p99 {_f(s['p99_ms'])} ms"
            )
    lines.append("")
    lines.append("idle connections (one replica): USS delta / N")
    for v, i in results["idle"].items():
        lines.append(
            f"  {v:15} {i['sockets']:5d} sockets {_f(i['kb_per_connection'], 1):>6} kB/connection"
            f" (USS {i['uss_before_kb']} -> {i['uss_after_kb']} kB,"
            f" connected in {i['connect_seconds']} s)"
        )
    lines.append("")
    s = results["summary"]
    lines.append(f"summary ({s['workload']}, product layer: {s['product_layer']})")
    for k, (op, target) in TARGETS.items():
        met = s["targets_met"].get(k)
        verdict = "" if met is None else ("met" if met else "MISSED")
        lines.append(f"  {k:24} {_f(s.get(k), 3):>10}   target {op} {target}   {verdict}")
    if "delivery_ratio_within_drain" in s:
        lines.append(
            f"  {'(within drain window)':24} {_f(s['delivery_ratio_within_drain'], 6):>10}"
        )
    return "\n".join(lines)


def storm_lines(results: dict) -> list[str]:
    """The reconnect storm's section of the table."""
    st = results.get("storm")
    if not st:
        return []
    per = st.get("sockets_per_replica_before_kill") or []
    return [
        "",
        f"reconnect storm ({st['variant']}, 2 replicas behind nginx, one SIGKILLed):"
        f" {st['sockets']} sockets ({' + '.join(str(x) for x in per)}),"
        f" {st['dropped']} dropped",
        f"  all back and caught up {_f(st['reconnect_storm_s'], 2)} s after the kill"
        f"  (hello p50 {_f(st['reconnected_s']['p50'], 2)} p99 {_f(st['reconnected_s']['p99'], 2)}"
        f" s; caught up p50 {_f(st['caught_up_s']['p50'], 2)} p99 {_f(st['caught_up_s']['p99'], 2)}"
        f" s)  failed handshakes {sum(st['handshake_failures'].values())}"
        f"  heartbeat drops {st['heartbeat_drops']}",
        f"  {st['messages']} posts meanwhile: {st['expected_deliveries']} expected, lost"
        f" {st['lost']}, duplicates {st['duplicates']}, live+sync overlaps {st['overlaps']}"
        + ("" if st["valid"] else "   INVALID"),
    ]


def longpoll_lines(results: dict) -> list[str]:
    """The long-polling section of the table: per workload, transport and rate."""
    s = results["summary"]
    if "longpoll_delivery_ratio" not in s or "longpoll_variant" not in s:
        return []
    lines = ["", f"long polling (GET /api/events) against WebSocket, {s['longpoll_variant']}"]
    for w in results["meta"]["workloads"]:
        by = s.get(f"{w['name'].replace('-', '_')}_by_msgs_per_s")
        if not w.get("transports") or not by:
            continue
        for mode, rates in by.items():
            for rate, f in rates.items():
                split = "".join(
                    f"  {k} p50 {_f(b['p50_ms'])} p99 {_f(b['p99_ms'])} ms"
                    for k, b in f.get("by_transport", {}).items()
                )
                polls = f"  {f['polls_per_message']} polls/msg" if "polls_per_message" in f else ""
                lines.append(
                    f"  {w['name']:16} {mode:5} {rate:>4} msgs/s"
                    f"  delivered {_f(100 * (f['delivery_ratio'] or 0), 2)}%"
                    f" ({_f(100 * (f['delivery_ratio_within_drain'] or 0), 2)}% in drain)"
                    f"  {_f(f['us_server_cpu_per_delivery'], 0)} us srv-CPU/delivery"
                    f" (+{_f(f['us_postgres_cpu_per_delivery'], 0)} pg)"
                    f"  p50 {_f(f['p50_ms'])} p99 {_f(f['p99_ms'])} ms{split}{polls}"
                )
    lines.append(
        f"  p99 ratio vs socket {_f(s.get('longpoll_p99_ratio_vs_socket'), 2)}"
        f"  CPU/delivery ratio vs socket {_f(s.get('longpoll_cpu_ratio_vs_socket'), 2)}"
        f" (with PostgreSQL {_f(s.get('longpoll_cpu_ratio_vs_socket_with_postgres'), 2)})"
        f"  delivered {_f(s['longpoll_delivery_ratio'], 6)}  lost {s.get('longpoll_lost')}"
    )
    return lines


def plots(results: dict, outdir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = results["trials"]
    workloads = [w for w, per in results["saturation"].items() if per]  # ladder workloads
    if not workloads:
        return []
    variants = sorted(
        {t["variant"] for t in trials}, key=lambda v: list(COLORS).index(v) if v in COLORS else 99
    )
    paths = []

    # Latency CDF per variant, per workload, at 50% of the floor's saturation rate.
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.2 * len(workloads), 4.2), squeeze=False)
    for ax, w in zip(axes[0], workloads, strict=False):
        rate = None
        for v in variants:
            t = compare_trial(trials, w, v) or saturation(trials, w, v)
            if not t or not t["cdf_ms"]:
                continue
            rate = t["offered_deliveries_per_s"]
            ys = [i / 200 for i in range(200)] + [1.0]
            ax.plot(
                [max(x, 0.01) for x in t["cdf_ms"]],
                ys,
                label=f"{v} (p99 {_f(t['p99_ms'])} ms)",
                color=COLORS.get(v),
            )
        ax.set_xscale("log")
        ax.axvline(100, color="#999", ls=":", lw=1)
        ax.set_title(f"{w}: latency CDF at {_f(rate, 0)} deliveries/s")
        ax.set_xlabel("end-to-end latency (ms, log)")
        ax.set_ylabel("fraction of (message, receiver) pairs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    p = outdir / "latency_cdf.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    # Delivered vs offered, and p99 vs offered.
    fig, axes = plt.subplots(2, len(workloads), figsize=(5.2 * len(workloads), 7.5), squeeze=False)
    for col, w in enumerate(workloads):
        for v in variants:
            runs = sorted(
                (
                    t
                    for t in trials
                    if t["workload"] == w
                    and t["variant"] == v
                    and t["kind"] in ("ladder", "refine")
                ),
                key=lambda t: t["offered_deliveries_per_s"],
            )
            if not runs:
                continue
            xs = [t["offered_deliveries_per_s"] for t in runs]
            c = COLORS.get(v)
            axes[0][col].plot(
                xs, [t["delivered_deliveries_per_s"] for t in runs], "-", color=c, label=v
            )
            axes[1][col].plot(
                xs, [t["p99_ms"] or float("nan") for t in runs], "-", color=c, label=v
            )
            for t in runs:
                m = "o" if t["passed"] else "x"
                axes[0][col].plot(
                    t["offered_deliveries_per_s"], t["delivered_deliveries_per_s"], m, color=c
                )
                axes[1][col].plot(
                    t["offered_deliveries_per_s"], t["p99_ms"] or float("nan"), m, color=c
                )
        lim = max([t["offered_deliveries_per_s"] for t in trials if t["workload"] == w] or [1])
        axes[0][col].plot([0, lim], [0, lim], ":", color="#999", lw=1)
        axes[0][col].set_title(f"{w}: delivered vs offered (x = saturated)")
        axes[0][col].set_xlabel("offered deliveries/s")
        axes[0][col].set_ylabel("delivered deliveries/s")
        axes[1][col].axhline(100, color="#999", ls=":", lw=1)
        axes[1][col].set_yscale("log")
        axes[1][col].set_title(f"{w}: p99 latency vs offered")
        axes[1][col].set_xlabel("offered deliveries/s")
        axes[1][col].set_ylabel("p99 (ms, log)")
        axes[0][col].set_yscale("log")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    p = outdir / "delivered_vs_offered.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def main() -> None:
    path = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parent / "results" / "latest.json"
    )
    results = json.loads(path.read_text())
    print(table(results))
    for p in plots(results, path.parent):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
