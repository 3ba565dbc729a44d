"""Time and memory per iteration of the ``admm`` backend against a straightforward cvxpy implementation.

The straightforward implementation is the one the paper describes (section 3.1: "(3.1a) represents
a convex quadratic programming problem, which can be efficiently solved using standard optimization
solvers"): a loop over agents, each solving its QP (3.1a) with cvxpy (Clarabel). To make the
baseline as fast as cvxpy allows, each agent's problem is built and compiled ONCE with cvxpy
Parameters (alpha_i, s_i and the neighbour averages change between iterations), and only re-solved
afterwards; the one-off compile time is reported separately and NOT counted per iteration.

Instances: random strongly connected digraphs (``otmodel.model.graphs.random_strongly_connected``)
with mean out-degree 4 (|A| = 4|V|), random distributions, unit costs, gamma = 1 (split (2.4)),
infinite capacities, delta = 10.

Measured per size:
* ``admm_step_s``: one vectorized update (3.1a)-(3.1c) of all agents (``AdmmRun.step``), median;
* ``admm_iter_s``: one iteration of the backend including its trace (``om.solve(..., tol=0)``);
* ``cvxpy_iter_s``: one iteration of the cvxpy baseline (|V| agent solves), measured on a few
  iterations where affordable (|V| = 20, 100), else EXTRAPOLATED from a sample of agents
  (``cvxpy_mode`` says which); the baseline's iterate is checked against the closed form;
* ``peak_bytes``: tracemalloc peak while building the run and making 3 updates;
  ``bytes_per_copy_element`` = peak / (|V| |A|), the per-agent copies being O(|V| |A|).

Run from the repository root: ``.venv/bin/python benchmarks/bench_admm.py`` (about 2-4 minutes on
2 cores); writes ``benchmarks/results_admm.json``.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

import otmodel as om
from otmodel.backends.admm import AdmmRun
from otmodel.model.graphs import random_strongly_connected
from otmodel.model.transport import GraphTransportProblem

SIZES = (20, 100, 500, 1000)
MEAN_DEGREE = 4.0
DELTA = 10.0
GAMMA = 1.0
MEMORY_BUDGET = 24 * 2**30
OUT = Path(__file__).with_name("results_admm.json")


def instance(n: int, seed: int = 0) -> GraphTransportProblem:
    g = random_strongly_connected(n, MEAN_DEGREE, seed=seed)
    rng = np.random.default_rng(seed)
    r0, r1 = rng.random(n), rng.random(n)
    return GraphTransportProblem(g, r0 / r0.sum(), r1 / r1.sum(), gamma=GAMMA, cost=1.0)


class CvxpyAgents:
    """(3.1a) for every agent, one cvxpy problem per agent with Parameters (compiled once)."""

    def __init__(self, run: AdmmRun, agents: list[int] | None = None) -> None:
        import cvxpy as cp

        self.cp = cp
        self.run = run
        n, m = run.n, run.m
        self.agents = list(range(n)) if agents is None else agents
        w = run.W.tocsr()
        self.problems = []
        t0 = time.perf_counter()
        for i in self.agents:
            x = cp.Variable(m)
            alpha = cp.Parameter()
            s = cp.Parameter(m)
            nb = w.indices[w.indptr[i] : w.indptr[i + 1]]
            wts = w.data[w.indptr[i] : w.indptr[i + 1]]
            z = [cp.Parameter(m) for _ in nb]
            d = np.zeros(m)
            d[run.tails == i] = 1.0
            d[run.heads == i] = -1.0
            lin = np.where(run.tails == i, run.lb, 0.0)
            div = d @ x
            obj = (lin @ x + cp.sum(cp.multiply(run.qa / n, cp.square(x)))) / run.delta
            obj = obj + alpha * div + 0.5 * cp.square(div - run.rho[i]) + s @ x
            obj = obj + sum(0.5 * wt * cp.sum_squares(x - zj) for wt, zj in zip(wts, z, strict=True))
            cons = [x >= run.lo]
            if np.all(np.isfinite(run.up)):
                cons.append(x <= run.up)
            prob = cp.Problem(cp.Minimize(obj), cons)
            self.problems.append((i, prob, x, alpha, s, nb, z))
        self.build_s = time.perf_counter() - t0
        self.compile_s = 0.0
        self.first = True

    def iterate(self) -> np.ndarray:
        """One iteration of (3.1a) for the sampled agents from the run's current state (no update)."""
        run = self.run
        P = run.copies
        out = np.empty((len(self.agents), run.m))
        t0 = time.perf_counter()
        for r, (i, prob, x, alpha, s, nb, z) in enumerate(self.problems):
            alpha.value = float(run.alpha[i])
            s.value = run.s[i]
            for j, zj in zip(nb, z, strict=True):
                zj.value = 0.5 * (P[i] + P[j])
            prob.solve(solver=self.cp.CLARABEL)
            out[r] = x.value
        if self.first:
            self.compile_s = time.perf_counter() - t0
            self.first = False
        return out


def time_admm(p: GraphTransportProblem, iters: int) -> dict[str, float]:
    run = AdmmRun(p, delta=DELTA)
    run.step()  # warm-up
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        run.step()
        times.append(time.perf_counter() - t)
    sol = om.solve(p, backend="admm", delta=DELTA, tol=0, max_iter=iters, trace_norms=False)
    return {
        "admm_step_s": statistics.median(times),
        "admm_iter_s": sol.timings["solve"] / iters,
    }


def peak_memory(p: GraphTransportProblem) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    run = AdmmRun(p, delta=DELTA)
    for _ in range(3):
        run.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del run
    return int(peak)


def time_cvxpy(p: GraphTransportProblem, n_iter: int, sample: int | None) -> dict[str, Any]:
    """Per-iteration time of the cvxpy baseline, checked against the closed form on the same state."""
    run = AdmmRun(p, delta=DELTA)
    for _ in range(3):  # a non-trivial state
        run.step()
    agents = None if sample is None else list(np.random.default_rng(0).choice(p.n_nodes, sample, replace=False))
    base = CvxpyAgents(run, agents)
    base.iterate()  # first solve compiles (DPP canonicalization): reported separately
    times, diffs = [], []
    for _ in range(n_iter):
        t = time.perf_counter()
        x = base.iterate()
        times.append(time.perf_counter() - t)
        ref = copy.deepcopy(run)
        ref.step()
        diffs.append(float(np.max(np.abs(ref.copies[base.agents] - x))))
        run.step()  # advance the shared state with the closed form, as the baseline would
    per = statistics.median(times)
    scale = p.n_nodes / len(base.agents)
    return {
        "cvxpy_iter_s": per * scale,
        "cvxpy_mode": "measured" if sample is None else f"extrapolated from {len(base.agents)} of {p.n_nodes} agents",
        "cvxpy_iterations_timed": n_iter,
        "cvxpy_build_s": base.build_s * scale,
        "cvxpy_first_solve_s": base.compile_s * scale,
        "cvxpy_vs_closed_form_max_diff": max(diffs),
    }


def main() -> None:
    t_start = time.perf_counter()
    rows = []
    plan = {20: (3, None, 40), 100: (2, None, 20), 500: (1, 10, 8), 1000: (1, 6, 5)}
    for n in SIZES:
        p = instance(n)
        cv_iters, sample, ad_iters = plan[n]
        row: dict[str, Any] = {"V": n, "A": p.n_arcs, "copy_elements": n * p.n_arcs}
        row.update(time_admm(p, ad_iters))
        row["admm_iterations_timed"] = ad_iters
        row["peak_bytes"] = peak_memory(p)
        row["bytes_per_copy_element"] = row["peak_bytes"] / row["copy_elements"]
        row.update(time_cvxpy(p, cv_iters, sample))
        row["speedup_step"] = row["cvxpy_iter_s"] / row["admm_step_s"]
        row["speedup_iter"] = row["cvxpy_iter_s"] / row["admm_iter_s"]
        rows.append(row)
        print(
            f"|V|={n:5d} |A|={p.n_arcs:5d}  admm step {row['admm_step_s'] * 1e3:9.3f} ms  "
            f"(with trace {row['admm_iter_s'] * 1e3:9.3f} ms)  cvxpy {row['cvxpy_iter_s']:9.3f} s "
            f"[{row['cvxpy_mode']}]  speed-up {row['speedup_iter']:9.0f}x  "
            f"peak {row['peak_bytes'] / 2**20:8.1f} MiB ({row['bytes_per_copy_element']:.1f} B/element)",
            flush=True,
        )
    # growth exponents between consecutive sizes (time ~ |V|^e)
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        r = math.log(b["V"] / a["V"])
        b["time_exponent_vs_previous"] = math.log(b["admm_step_s"] / a["admm_step_s"]) / r
        b["memory_exponent_vs_previous"] = math.log(b["peak_bytes"] / a["peak_bytes"]) / r
    beta = rows[-1]["bytes_per_copy_element"]
    vmax = int(math.sqrt(MEMORY_BUDGET / (beta * MEAN_DEGREE)))
    result = {
        "benchmark": "admm per-iteration time and memory vs a cvxpy per-agent QP loop",
        "instances": f"random strongly connected digraphs, mean out-degree {MEAN_DEGREE:g} (|A| = 4|V|), "
        f"unit costs, gamma = {GAMMA:g}, delta = {DELTA:g}",
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "numpy": np.__version__},
        "rows": rows,
        "largest_V_in_24GiB": {
            "value": vmax,
            "how": f"EXTRAPOLATED: peak bytes per copy element measured at |V| = {rows[-1]['V']} ({beta:.1f} B) "
            f"x |V| x |A| with |A| = {MEAN_DEGREE:g} |V|, solved for 24 GiB",
        },
        "goal_100x_at_V20": rows[0]["speedup_iter"] >= 100,
        "wall_s": time.perf_counter() - t_start,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"largest |V| in 24 GiB (extrapolated): {vmax}")
    print(f"wrote {OUT} in {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
