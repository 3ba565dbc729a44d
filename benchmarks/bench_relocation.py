"""Issue 13's done-means in one run: the certified relocation optimum against the tools people use.

Part A (``--n 100000 --bins 64``, the issue's instance scaled down): for squared Euclidean and for
Manhattan (L1), the exact backend end to end (certified by ``otmodel.validation.certify``), against
OR-Tools' min-cost flow on each point's 32 nearest bins (its solve time alone, its cost above the
optimum), and the two heuristics' certified gaps. The goal: the exact backend's end-to-end time below
the 32-nearest flow's solve time (Euclidean), within 2x of it (Manhattan).

Part B (``--large``: 1M points, 256 x 256 bins, in a child process so that its peak memory is its
own): time to a certified gap <= 0.5 % and <= 1e-6 (read from the backend's trace, every bound
in it an exact D(psi)), and the peak resident memory. Goals: 60 s, 180 s, 2 GB.

    python benchmarks/bench_relocation.py                 # part A
    python benchmarks/bench_relocation.py --large --time-limit 600   # part B
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

import otmodel as om
from otmodel.model import _relocation_kernels as K
from otmodel.model.relocation import gaussian_mixture_instance
from otmodel.validation import certify, certify_relocation


def nearest_flow(P, k: int = 32) -> tuple[float, float, float, bool]:
    """OR-Tools' min-cost flow on each point's ``k`` nearest bins: (build s, solve s, cost, overflow used)."""
    from ortools.graph.python import min_cost_flow

    t0 = time.perf_counter()
    slots = np.ascontiguousarray(P.slots)
    _, idx = K.topk_bins(P.points, P.bin_index(P.points), np.zeros(P.n_bins), slots, k, *P.kernel_args())
    n, B = P.n_points, P.n_bins
    rows = np.repeat(np.arange(n), k)
    cols = idx.reshape(-1)
    ok = cols >= 0
    rows, cols = rows[ok], cols[ok]
    c = P.cost(rows, cols)
    pen = 1.25 * float(np.hypot(1, 1) ** P.power if P.metric == "euclidean" else 2.0**P.power)
    scale = 4e11 / pen
    f = min_cost_flow.SimpleMinCostFlow()
    f.add_arcs_with_capacity_and_unit_cost(rows, n + cols, np.ones(rows.size, dtype=np.int64), np.rint(c * scale).astype(np.int64))
    bins = np.arange(B)
    f.add_arcs_with_capacity_and_unit_cost(n + bins, np.full(B, n + B), slots.astype(np.int64), np.zeros(B, dtype=np.int64))
    f.add_arcs_with_capacity_and_unit_cost(n + bins, np.full(B, n + B), np.full(B, n, dtype=np.int64), np.full(B, int(pen * scale), dtype=np.int64))
    sup = np.zeros(n + B + 1, dtype=np.int64)
    sup[:n] = 1
    sup[-1] = -n
    f.set_nodes_supplies(np.arange(n + B + 1), sup)
    t1 = time.perf_counter()
    st = f.solve()
    t2 = time.perf_counter()
    assert st == f.OPTIMAL, st
    flows = np.asarray(f.flows(np.arange(f.num_arcs())))
    used = flows[: rows.size] > 0
    over = bool(flows[rows.size + B :].sum() > 0)
    return t1 - t0, t2 - t1, float(c[used].sum()) * P.mass, over


def part_a(n: int, bins: int, time_limit: float, metrics: list[str]) -> list[dict]:
    out = []
    for metric, disp in [("euclidean", "l2"), ("manhattan", "l1")]:
        if metric not in metrics:
            continue
        # compile (or load from numba's cache) every kernel first, as OR-Tools comes compiled: 80k
        # points / 32 x 32 is the least instance with a coarse level (the coarse instance's arrays
        # are typed apart, and compiling them took about 20 s of the first 100k run of session 8)
        om.solve(gaussian_mixture_instance(80_000, (32, 32), metric=metric, displacement=disp, seed=1), gap_tol=1e-6)
        P = gaussian_mixture_instance(n, (bins, bins), metric=metric, displacement=disp, seed=0)
        t = time.perf_counter()
        R = om.solve(P, time_limit=time_limit)
        t_exact = time.perf_counter() - t
        c = certify(P, R, rtol=1e-9)
        build, solve32, cost32, over32 = nearest_flow(P, 32)
        row = {
            "instance": f"{n} points, {bins}x{bins} bins, {metric} {disp}",
            "exact_s": round(t_exact, 2), "exact_status": R.status.value, "certified_1e-9": c.certified,
            "relative_gap": c.relative_gap, "rounds": R.iterations,
            "gap_trace": [(round(float(a), 1), float(b)) for a, b in zip(R.trace["time"], R.trace["gap"], strict=True)], "timings": {k: round(v, 2) for k, v in R.timings.items()},
            "nearest32_build_s": round(build, 2), "nearest32_solve_s": round(solve32, 2),
            # an overflowing restriction leaves points unplaced: its cost is not comparable (None)
            "nearest32_above_optimum": None if over32 else (cost32 - c.objective) / c.objective,
            "nearest32_overflow": over32,
            "ratio_exact_over_nearest32_solve": round(t_exact / solve32, 2),
        }
        for h in ("relocation-bisection", "relocation-greedy"):
            t = time.perf_counter()
            H = om.solve(P, backend=h)
            th = time.perf_counter() - t
            ch = certify_relocation(P, H, potentials=R.potentials)
            row[h] = {"s": round(th, 2), "gap_to_bound": ch.relative_gap, "feasible": ch.overfull_bins == 0}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def part_b(time_limit: float) -> dict:
    P = gaussian_mixture_instance(1_000_000, (256, 256), metric="euclidean", displacement="l2", seed=0)
    t = time.perf_counter()
    R = om.solve(P, gap_tol=1e-6, time_limit=time_limit, progress=True)
    total = time.perf_counter() - t
    tr = R.trace
    times = np.asarray(tr["time"]) if tr is not None and "time" in tr else np.array([])
    lvl = np.asarray(tr["level"]) if tr is not None and "level" in tr else np.array([])
    # the certified gap of each row (the auction's: its best placement against its best bound so far,
    # the bound at the coarse level's prices among them), on the full instance only, the best so far
    full = lvl == P.n_points
    gap = np.fmin.accumulate(np.where(full, np.asarray(tr["gap"]), np.inf)) if tr is not None and full.any() else np.array([])

    def first(th: float) -> float | None:
        hit = np.flatnonzero(full & (gap <= th))
        return float(times[hit[0]]) if hit.size else None

    c = certify(P, R, rtol=1e-6)
    res = {
        "instance": "1M points, 256x256 bins, euclidean l2", "total_s": round(total, 1), "status": R.status.value,
        "certified_gap": c.relative_gap, "time_to_gap_0.5%": first(5e-3), "time_to_gap_1e-6": first(1e-6),
        "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    for h in ("relocation-bisection", "relocation-greedy"):
        H = om.solve(P, backend=h)
        res[h + "_gap"] = certify_relocation(P, H, potentials=R.potentials).relative_gap
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--bins", type=int, default=64)
    ap.add_argument("--large", action="store_true", help="part B (1M / 256x256) in a child process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--metrics", default="euclidean,manhattan", help="part A: which of the two instances")
    ap.add_argument("--out", default="", help="write the rows to this JSON file")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(part_b(a.time_limit)), flush=True)
        return
    if a.large:
        run = subprocess.run([sys.executable, __file__, "--child", "--time-limit", str(a.time_limit)], check=True,
                             stdout=subprocess.PIPE, text=True)
        print(run.stdout, end="")
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"command": " ".join(sys.argv), "row": json.loads(run.stdout.strip().splitlines()[-1])}, f, indent=1)
        return
    rows = part_a(a.n, a.bins, a.time_limit, a.metrics.split(","))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"command": " ".join(sys.argv), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
