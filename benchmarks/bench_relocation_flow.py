"""The flow stage of backend ``relocation`` alone (restriction, master, prices, pricing, positions),
from saved auction outputs, so that it can be measured without re-running the auction.

    python benchmarks/bench_relocation_flow.py --save euclidean l2 --stop 1e-5   # auction once, to .npz
    python benchmarks/bench_relocation_flow.py START.npz [START.npz ...]         # the stage from each

With ``PYTHONPATH`` on a tree from before ``flow_stage`` existed (commit 0026c3f:
``git archive 0026c3f otmodel | tar -x -C OLD``), the same command times that code's stage (its
``_Master`` and round loop, copied here as they were), for a before/after in one run.

A start file holds ``flat`` (the auction's placement), ``psi`` (its prices) and the instance
(``n``, ``bins``, ``metric``, ``displacement``; ``gaussian_mixture_instance(..., seed=0)``). A small
instance is solved first so that compilation is not timed (compiling the kernels from an empty
numba cache is a one-off cost per install, reported apart). The answer is certified by
``certify_relocation`` from the problem data, not from what the stage reports.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from otmodel.backends.base import Timer
from otmodel.model._relocation_spread import place_points
from otmodel.model.relocation import gaussian_mixture_instance
from otmodel.validation import certify_relocation

try:
    from otmodel.backends.relocation import flow_stage
except ImportError:  # the code from before flow_stage (module docstring)
    flow_stage = None  # type: ignore[assignment]


def save(metric: str, disp: str, stop: float, n: int, bins: int, out: str) -> None:
    from otmodel.backends._relocation_auction import auction

    P = gaussian_mixture_instance(n, (bins, bins), metric=metric, displacement=disp, seed=0)
    t = time.perf_counter()
    r = auction(P, stop_gap=stop, deadline=math.inf, warm_start=False, seed=0, log=lambda **k: None)
    print(f"auction to {stop:g}: {time.perf_counter() - t:.1f} s, gap {(r.primal - r.dual) / r.primal:.3g}")
    np.savez(out, flat=r.flat, psi=r.psi, n=n, bins=bins, metric=metric, displacement=disp)


def _before(P, flat, psi, candidates, timer, log):  # noqa: ANN001, ANN202
    """The stage as it was at commit 0026c3f (the round loop of ``RelocationBackend._solve``)."""
    from types import SimpleNamespace

    from otmodel.backends.relocation import _Master

    with timer("restrict"):
        m = _Master(P, P.points, P.slots, psi, candidates, start=flat)
    for r in range(200):
        with timer("master"):
            m.solve_master()
        with timer("prices"):
            m.prices()
        with timer("pricing"):
            rd = m.pricing(1e-13)
        log(level=P.n_points, round=r, **rd.__dict__)
        if rd.overflow == 0 and (rd.violated == 0 or rd.gap <= 1e-10 or rd.added == 0):
            break
    out = np.empty(P.n_points, dtype=np.int64)
    out[m.pair_point] = m.pair_bin
    status = SimpleNamespace(value="optimal" if rd.violated == 0 or rd.gap <= 1e-10 else "stopped")
    return SimpleNamespace(flat=out, psi=m.psi, status=status, rounds=r + 1)


def run(path: str, fix: float | None, candidates: int) -> dict:
    z = np.load(path)
    n, bins, metric, disp = int(z["n"]), int(z["bins"]), str(z["metric"]), str(z["displacement"])
    P = gaussian_mixture_instance(n, (bins, bins), metric=metric, displacement=disp, seed=0)
    flat, psi = z["flat"].astype(np.int64), z["psi"].astype(float)
    start_cost, start_bound = P.objective(flat), P.dual_value(psi)
    kw = {} if fix is None else {"fix": fix}
    rows: list[dict] = []
    timer = Timer()
    t = time.perf_counter()

    def log(**r: float) -> None:
        rows.append({**r, "time": round(time.perf_counter() - t, 2)})

    if flow_stage is None:
        fs = _before(P, flat, psi, candidates, timer, log)
    else:
        fs = flow_stage(P, flat, psi, candidates=candidates, gap_tol=1e-10, timer=timer, log=log, **kw)
    flat2 = fs.flat if fs.flat is not None else flat
    with timer("positions"):
        pos = place_points(P, flat2)
    total = time.perf_counter() - t
    mx, my = P.bins
    c = certify_relocation(P, bin_of=np.stack(np.divmod(flat2, my), axis=1), positions=pos,
                           potentials=(fs.psi if fs.psi is not None else psi).reshape(mx, my), rtol=1e-9)
    return {
        "start": path, "instance": f"{n} points, {bins}x{bins} bins, {metric} {disp}",
        "start_gap": (start_cost - start_bound) / start_cost, "status": fs.status.value, "rounds": fs.rounds,
        "certified_1e-9": bool(c.certified), "relative_gap": float(c.relative_gap),
        "stage_s": round(total, 3), "timings": {k: round(v, 3) for k, v in timer.done().items()},
        "rounds_trace": [{k: r[k] for k in ("time", "gap", "violated", "columns", "added", "free", "freed") if k in r} for r in rows],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("starts", nargs="*")
    ap.add_argument("--save", nargs=2, metavar=("METRIC", "DISPLACEMENT"))
    ap.add_argument("--stop", type=float, default=1e-5)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--bins", type=int, default=64)
    ap.add_argument("--fix", type=float, default=None, help="the stage's fix threshold (default: the backend's)")
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.save:
        save(a.save[0], a.save[1], a.stop, a.n, a.bins, a.out or f"start_{a.save[0]}_{a.n}_{a.stop:g}.npz")
        return
    # compile every kernel of the stage on a small instance first
    Q = gaussian_mixture_instance(2000, (8, 8), seed=1)
    if flow_stage is None:
        _before(Q, None, np.zeros(Q.n_bins), 4, Timer(), lambda **r: None)
    else:
        flow_stage(Q, None, np.zeros(Q.n_bins))
    place_points(Q, Q.flat_bins(Q.bin_index(Q.points)))
    res = [run(p, a.fix, a.candidates) for p in a.starts]
    for r in res:
        print(json.dumps(r))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"rows": res}, f, indent=1)


if __name__ == "__main__":
    main()
