"""Section 4.1 of Mokhtari et al.: influence of gamma and of the graph on the ADMM iteration count (Fig. 1).
=========================================================================================================

Runs the distributed ADMM (3.1a)-(3.1c) on the complete, star, ring and line graphs with ``|V| = 20``
agents (bidirectional, unit costs), gamma in {0, 0.1, 1}, delta = 10, stopping rule (3.2) with
eps = 1e-4, as in the paper. The paper does not give its distributions; here rho0 and rho_inf are
seeded random probability vectors (seed 0). Capacities are 1 (= the total mass, which never binds;
gamma = 0 needs finite capacities, Theorem 3.3). gamma is the gamma of (2.4) (``gamma_scaling=
"total"``). Prints the table of iteration counts and, for each run, the largest difference from the
exact plan (cvxpy for gamma > 0; for gamma = 0 the relative objective gap to the HiGHS LP optimum, the
LP plan not being unique). Writes ``out/admm_41_families.png`` (log10 Error_k against k, like Fig. 1).

Run from the repository root: ``.venv/bin/python examples/admm_41_families.py`` (about 30 s).
"""

from __future__ import annotations

import numpy as np

import otmodel as om
from otmodel.model.graphs import FAMILIES
from otmodel.model.transport import GraphTransportProblem
from otmodel.plot_admm import plot_error_curves

N = 20
GAMMAS = (0.0, 0.1, 1.0)
DELTA, EPS = 10.0, 1e-4


def main() -> None:
    rng = np.random.default_rng(0)
    r0, r1 = rng.random(N), rng.random(N)
    r0, r1 = r0 / r0.sum(), r1 / r1.sum()
    runs: dict[str, dict[float, om.Solution]] = {}
    rows = []
    for name, family in FAMILIES.items():
        runs[name] = {}
        for gamma in GAMMAS:
            p = GraphTransportProblem(family(N), r0, r1, gamma=gamma, capacity=1.0, name=f"{name}-{gamma:g}")
            sol = om.solve(p, backend="admm", delta=DELTA, tol=EPS, max_iter=40000)
            runs[name][gamma] = sol
            exact = om.solve(p, backend="highs" if gamma == 0 else "cvxpy")
            rel = abs(sol.objective - exact.objective) / abs(exact.objective)
            dflow = float(np.max(np.abs(sol.flows - exact.flows)))
            rows.append((name, gamma, sol.iterations, sol.status.value, rel, dflow, sol.timings["solve"]))
    print(f"iterations to Error_k < {EPS:g} (|V| = {N}, delta = {DELTA:g}, unit costs)")
    print(f"{'graph':<10}" + "".join(f"{'gamma=' + format(g, 'g'):>12}" for g in GAMMAS))
    for name in FAMILIES:
        print(f"{name:<10}" + "".join(f"{runs[name][g].iterations:>12d}" for g in GAMMAS))
    print()
    print(f"{'graph':<10}{'gamma':>7}{'iters':>8}{'status':>12}{'rel. obj. gap':>15}{'max|dflow|':>12}{'time s':>8}")
    for name, gamma, it, st, rel, dflow, t in rows:
        note = "" if gamma > 0 else "  (LP: plan not unique)"
        print(f"{name:<10}{gamma:>7g}{it:>8d}{st:>12}{rel:>15.2e}{dflow:>12.2e}{t:>8.2f}{note}")
    plot_error_curves(
        runs,
        tol=EPS,
        path="out/admm_41_families.png",
        title=f"ADMM, |V| = {N}, delta = {DELTA:g}: log10 Error_k (3.2) against k (like Fig. 1)",
    )
    print("wrote out/admm_41_families.png")


if __name__ == "__main__":
    main()
