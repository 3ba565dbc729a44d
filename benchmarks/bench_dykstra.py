"""One step of a Wasserstein attraction flow (Arqué et al., Problem 1): Dykstra against the exact LP and POT.

Two comparisons, for n = 100, 300, 1000 nodes, all ratios measured in the same run (the machine is
shared and noisy: absolute times move, ratios much less):

1. **Constrained step vs the exact LP step.** A random geometric graph (:func:`graph_family`,
   edge weights 0.25-1.5), rho0 on a random 30% of the nodes and nu on another 30%, edge capacities
   (uniform in [0.5, 1.5] x 1/n per edge, staying unbounded) and node storage (3/n on half of the
   nodes), omega = 0.1, gamma = 0.25. Dykstra (:func:`otmodel.backends.dykstra.dykstra_step`,
   default options: tol 1e-9 on the L1 violation, no gamma-continuation) against the LP of
   (10a)-(10f) at gamma = 0 solved by HiGHS through highspy (interior point, the package default;
   :func:`otmodel.backends.attraction_lp.solve_step_lp`). Reported: time of each, speed-up, the
   step objective of both (the Dykstra/LP gap is the entropic bias at this gamma, not an error)
   and the largest residual of (10b)-(10f) recomputed by :func:`certify_step`.

2. **Unconstrained step vs POT.** No capacities and full support (complete graph on n uniform
   points in the unit square, Euclidean weights, so C is the Euclidean distance matrix; rho0, nu
   with full support), gamma = 0.05, omega = 0.5. This is a plain entropic barycenter of two
   histograms, which POT computes with ``ot.bregman.barycenter(A, M, reg, weights)``: POT's kernel is
   ``exp(-M / reg)``, ours :math:`\\xi = e^{-C/\\gamma}`, so ``reg = gamma``. POT stops when
   ``sum_i std_k(UKv[i, k]) = 1/2 ||c_1 - c_2||_1 < stopThr`` (checked every 10 iterations, after
   its row scaling); ours stops when ``||c_1 - c_2||_1 <= tol`` (checked every cycle, after the row
   projection), so ``tol = 2 stopThr`` with ``stopThr = 1e-6``. Dykstra runs without
   gamma-continuation here either (POT has none). Reported: both times, the ratio (goal: ours within 2x
   of POT) and the L1 distance between the two barycenters.

   POT's default ``method="sinkhorn"`` initializes its column scalings with the *unweighted*
   geometric mean, which is consistent with the barycenter optimality condition
   sum_k w_k log u_k = 0 only for equal weights; for omega != 1/2 it converges to a different point.
   The benchmark therefore times omega = 1/2 and, separately, records for omega = 0.3 the distance of
   both POT methods (``sinkhorn``, ``sinkhorn_log``) to ours.

Usage (about 2-4 minutes on the 2-core machine)::

    .venv/bin/python benchmarks/bench_dykstra.py            # writes benchmarks/results_dykstra.json
    .venv/bin/python benchmarks/bench_dykstra.py --quick    # n = 100, 300 only
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.backends.attraction_lp import solve_step_lp
from otmodel.backends.dykstra import dykstra_step
from otmodel.model.attraction import AttractionProblem, AttractionStep, graph_family
from otmodel.validation.attraction import certify_step

OUT = Path(__file__).with_name("results_dykstra.json")


def best(f: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall-clock time of ``repeat`` calls, and the last result."""
    t_best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t)
    return float(t_best), out


def constrained_step(n: int, seed: int = 0) -> AttractionStep:
    rng = np.random.default_rng(seed)
    W, _ = graph_family("geometric", n, seed)
    perm = rng.permutation(n)
    k = int(0.3 * n)
    rho0, nu = np.zeros(n), np.zeros(n)
    rho0[perm[:k]] = rng.uniform(0.5, 1.5, k)
    nu[perm[k : 2 * k]] = rng.uniform(0.5, 1.5, k)
    rho0, nu = rho0 / rho0.sum(), nu / nu.sum()
    coo = sp.coo_matrix(W)
    cap = sp.csr_matrix((rng.uniform(0.5, 1.5, coo.nnz) / n, (coo.row, coo.col)), shape=(n, n))
    storage = np.full(n, np.inf)
    half = rng.permutation(n)[: n // 2]
    storage[half] = np.maximum(3.0 / n, 1.01 * np.maximum(rho0, nu)[half])
    p = AttractionProblem(W, rho0, nu, edge_capacity=cap, storage=storage, omega=0.1, gamma=0.25)
    return p.step(p.rho0)


def unconstrained(n: int, omega: float, gamma: float, seed: int = 0) -> AttractionProblem:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    D = np.hypot(X[:, None, 0] - X[None, :, 0], X[:, None, 1] - X[None, :, 1])
    a, b = rng.uniform(0.2, 1.0, n), rng.uniform(0.2, 1.0, n)
    return AttractionProblem(D, a / a.sum(), b / b.sum(), omega=omega, gamma=gamma)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import ot  # the bench extra; imported here only

    sizes = [100, 300] if args.quick else [100, 300, 1000]
    rows: list[dict[str, Any]] = []
    stop_thr, gamma_u = 1e-6, 0.05
    for n in sizes:
        rep = 3 if n < 1000 else 2
        row: dict[str, Any] = {"n": n}
        # ---------------------------------------------------------------- 1. constrained vs LP
        step = constrained_step(n)
        dykstra_step(step, max_iter=50)  # warm-up (imports, caches)
        t_d, rd = best(lambda: dykstra_step(step), rep)  # noqa: B023
        t_l, rl = best(lambda: solve_step_lp(step, solver="highs"), rep)  # noqa: B023
        cert = certify_step(rd, exact=False)
        row["constrained"] = {
            "nnz_pi1": int(rd.plan.nnz),
            "pi2_shape": [int(step.targets.size), int(step.reachable().size)],
            "lp_variables": int(rd.plan.nnz + step.targets.size * step.reachable().size),
            "dykstra_s": t_d,
            "dykstra_cycles": rd.iterations,
            "dykstra_status": rd.status.value,
            "dykstra_violation": rd.violation,
            "dykstra_max_residual": cert.max_residual,
            "dykstra_forbidden_mass": cert.forbidden_mass,
            "lp_s": t_l,
            "lp_status": rl.status.value,
            "speedup_vs_lp": t_l / t_d,
            "objective_dykstra": rd.objective,
            "objective_lp": rl.objective,
            "entropic_bias_rel": (rd.objective - rl.objective) / rl.objective,
        }
        print(
            f"n={n:5d} constrained: dykstra {t_d:.3f} s ({rd.iterations} cycles, {rd.status.value}), "
            f"LP {t_l:.3f} s -> speed-up {t_l / t_d:.1f}x; objective {rd.objective:.5g} vs {rl.objective:.5g}",
            flush=True,
        )
        # ---------------------------------------------------------------- 2. unconstrained vs POT
        p = unconstrained(n, 0.5, gamma_u)
        st = p.step(p.rho0)
        A = np.c_[p.rho0, p.nu]
        M = p.cost
        wts = np.array([0.5, 0.5])
        dykstra_step(st, max_iter=5, scaling=False)
        ot.bregman.barycenter(A, M, gamma_u, weights=wts, numItermax=5, warn=False)
        ours_t, pots_t = [], []
        for _ in range(rep):  # interleaved, so that both see the same machine load
            t0 = time.perf_counter()
            ro = dykstra_step(st, tol=2 * stop_thr, scaling=False, keep_target_plan=False)
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bar, log = ot.bregman.barycenter(A, M, gamma_u, weights=wts, stopThr=stop_thr, numItermax=100000, log=True)
            pots_t.append(time.perf_counter() - t0)
        t_o, t_p = min(ours_t), min(pots_t)
        row["unconstrained"] = {
            "gamma": gamma_u,
            "omega": 0.5,
            "stopThr": stop_thr,
            "ours_s": t_o,
            "ours_cycles": ro.iterations,
            "pot_s": t_p,
            "pot_iterations_about": 10 * len(log["err"]),
            "ratio_ours_over_pot": t_o / t_p,
            "barycenter_l1_distance": float(np.abs(ro.rho_next - bar).sum()),
        }
        print(
            f"n={n:5d} unconstrained: ours {t_o:.3f} s ({ro.iterations} cycles), POT {t_p:.3f} s "
            f"-> ratio {t_o / t_p:.2f}; |p_ours - p_POT|_1 = {row['unconstrained']['barycenter_l1_distance']:.2e}",
            flush=True,
        )
        if n == sizes[0]:
            # omega = 0.3: POT's default method and its log-domain method against ours
            p3 = unconstrained(n, 0.3, gamma_u)
            r3 = dykstra_step(p3.step(p3.rho0), tol=1e-12, scaling=False)
            w3 = np.array([0.3, 0.7])
            A3 = np.c_[p3.rho0, p3.nu]
            b_s = ot.bregman.barycenter(A3, p3.cost, gamma_u, weights=w3, stopThr=1e-12, numItermax=100000)
            b_l = ot.bregman.barycenter(
                A3, p3.cost, gamma_u, weights=w3, method="sinkhorn_log", stopThr=1e-12, numItermax=100000
            )
            row["omega_0.3_check"] = {
                "l1_ours_vs_pot_sinkhorn": float(np.abs(r3.rho_next - b_s).sum()),
                "l1_ours_vs_pot_sinkhorn_log": float(np.abs(r3.rho_next - b_l).sum()),
            }
            print(
                f"         omega=0.3: |ours - POT sinkhorn|_1 {row['omega_0.3_check']['l1_ours_vs_pot_sinkhorn']:.2e}, "
                f"|ours - POT sinkhorn_log|_1 {row['omega_0.3_check']['l1_ours_vs_pot_sinkhorn_log']:.2e}",
                flush=True,
            )
        rows.append(row)
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pot": ot.__version__,
        "machine": platform.machine(),
        "argv": sys.argv[1:],
    }
    if not args.quick:
        OUT.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
