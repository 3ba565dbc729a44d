"""Time per iteration and peak memory of the dual-ascent backend's cell-mass pass against a bare numpy floor.

One iteration of Algorithm 1 is dominated by line 9 (cell masses of all endpoints). For N uniform
random demand points and |S| uniform random endpoints in the unit square (Euclidean cost, masses
1/N, potentials uniform in [0, 0.5/sqrt(|S|)], i.e. about half an endpoint spacing), this measures

* ``floor pre``: bare numpy over a precomputed N x |S| cost matrix: ``np.bincount(np.argmin(C - psi,
  axis=1), mu)`` (only where the matrix fits in 1 GB);
* ``floor fly``: the same, Euclidean costs computed on the fly in chunks of 65,536 points;
* ``otmodel``: one dual-ascent iteration (``_Oracle``: flows, cell masses, SDOT term, q, g), with the
  matrix precomputed (``pre``), chunked (``fly``) and with spatial pruning (``prune``,
  :class:`otmodel.backends.dual_ascent.PrunedArgmin`).

Time: best of ``--repeat`` runs (one for the biggest cases), after one warm-up call. Peak memory:
``tracemalloc`` peak during one call (numpy reports its buffers to tracemalloc), precomputed matrix
excluded (it is built before). Usage::

    .venv/bin/python benchmarks/bench_dual_ascent.py            # full table, a few minutes
    .venv/bin/python benchmarks/bench_dual_ascent.py --quick    # N = 40k only
"""

# ruff: noqa: B023  (each lambda is called at once, inside measure(), with the loop variables of its turn)
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import otmodel as om
from otmodel.backends.oracle import DualOracle as _Oracle
from otmodel.model.demand import Euclidean, Points

CHUNK = 65_536


def problem(n: int, ns: int, seed: int = 0) -> om.SpatialFlowProblem:
    rng = np.random.default_rng(seed)
    net = om.Network()
    for i in range(ns):
        net.add_node(f"e{i}", supply=1.0 / ns, position=tuple(rng.random(2)), endpoint=True)
    net.add_arc("e0", "e1", om.Quadratic(1.0), -1, 1)
    dem = Points(rng.random((n, 2)), np.full(n, 1.0 / n))
    return om.SpatialFlowProblem(net, dem, Euclidean())


def floor_pre(C: np.ndarray, psi: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return np.bincount(np.argmin(C - psi, axis=1), mu, C.shape[1])


def floor_fly(x: np.ndarray, y: np.ndarray, psi: np.ndarray, mu: np.ndarray) -> np.ndarray:
    m = np.zeros(y.shape[0])
    for a in range(0, x.shape[0], CHUNK):
        xb = x[a : a + CHUNK]
        dx = xb[:, 0:1] - y[:, 0]
        dy = xb[:, 1:2] - y[:, 1]
        c = np.sqrt(dx * dx + dy * dy)
        m += np.bincount(np.argmin(c - psi, axis=1), mu[a : a + CHUNK], y.shape[0])
    return m


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    out = fn()  # warm-up (and the result)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    sizes = [40_000] if a.quick else [40_000, 1_000_000]
    rows = []
    for n in sizes:
        for ns in (4, 100, 1000):
            p = problem(n, ns)
            rng = np.random.default_rng(1)
            psi = np.zeros(p.n_nodes)
            psi[p.endpoints] = rng.random(ns) * 0.5 / np.sqrt(ns)
            psi_s = psi[p.endpoints]
            x, y, mu = p.demand.xy, np.asarray(p.endpoint_xy), p.demand.mass
            rep = 1 if n * ns > 50e6 else a.repeat
            row: dict[str, Any] = {"N": n, "S": ns}
            ref = None
            if n * ns * 8 <= 2**30:
                C = p.cost_matrix()
                row["floor_pre"], row["floor_pre_mb"], ref = measure(lambda: floor_pre(C, psi_s, mu), rep)
                o = _Oracle(p, CHUNK, True, prune=False)
                row["ours_pre"], row["ours_pre_mb"], got = measure(lambda: o(psi), rep)
                del C, o
            row["floor_fly"], row["floor_fly_mb"], ref2 = measure(lambda: floor_fly(x, y, psi_s, mu), rep)
            ref = ref2 if ref is None else ref
            o = _Oracle(p, CHUNK, False, prune=False)
            row["ours_fly"], row["ours_fly_mb"], _ = measure(lambda: o(psi), rep)
            if ns >= 100:
                o = _Oracle(p, CHUNK, False, prune=True)
                row["ours_prune"], row["ours_prune_mb"], _ = measure(lambda: o(psi), a.repeat)
                m = o.cells.exact(psi_s)[0]
                # cell masses of the pruned pass against the on-the-fly floor's (same chunking)
                row["prune_same_masses"] = bool(np.allclose(m, ref2, rtol=1e-12, atol=1e-15))
            rows.append(row)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    meta = {"python": sys.version.split()[0], "numpy": np.__version__, "machine": platform.machine()}
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
