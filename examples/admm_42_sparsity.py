"""Section 4.2 of Mokhtari et al.: sparsity of the transport plan on a complete bipartite graph (Fig. 2).
======================================================================================================

Complete bipartite graph with 5 sources and 5 sinks (bidirectional, unit costs, capacities 1), the
paper's distributions rho0 (sources) and rho_inf (sinks), gamma in {0, 0.001, 0.01, 0.1, 1} (the
gamma of (2.4)), delta = 10, stopping rule (3.2) with eps = 1e-4, as in the paper. (The paper's
rho_inf sums to 1.0000 and rho0 to 0.99999...: balanced within 1e-3, accepted here with
``balance_rtol=1e-3``.)

Prints, per gamma, the number of zero entries (< 1e-4) of the 5 x 5 source -> sink plan returned by
ADMM at the paper's stopping rule, and the same count for the exact regularized optimum (cvxpy,
tight tolerance) and for ADMM run to eps = 1e-9 (at most 40000 iterations). Writes ``out/admm_42_sparsity.png`` (heat-maps of
the ADMM plans at eps = 1e-4, zero entries white, like Fig. 2) and ``out/admm_42_sparsity_exact.png``
(the exact optima).

Finding: with equal costs every plan that moves the mass directly costs the same, so for every
gamma > 0 the regularized optimum is the same least-norm plan (the gamma-dependence of the zero
count is a property of the iterate at the stopping rule, not of problem (2.4)).

Run from the repository root: ``.venv/bin/python examples/admm_42_sparsity.py`` (about 30 s).
"""

from __future__ import annotations

import numpy as np

import otmodel as om
from otmodel.model.graphs import complete_bipartite
from otmodel.model.transport import GraphTransportProblem
from otmodel.plot_admm import bipartite_plan, plot_plan_heatmaps

RHO0 = [0.1969, 0.1606, 0.1834, 0.2928, 0.1663]
RHOINF = [0.1089, 0.0158, 0.4298, 0.3727, 0.0728]
GAMMAS = (0.0, 0.001, 0.01, 0.1, 1.0)
ZERO = 1e-4
TIGHT_MAX_ITER = 40000
SOURCES = [str(i) for i in range(1, 6)]
SINKS = [str(i) for i in range(6, 11)]


def problem(gamma: float) -> GraphTransportProblem:
    r0 = np.r_[RHO0, np.zeros(5)]
    r1 = np.r_[np.zeros(5), RHOINF]
    return GraphTransportProblem(
        complete_bipartite(5, 5), r0, r1, gamma=gamma, capacity=1.0, balance_rtol=1e-3, name=f"bipartite-{gamma:g}"
    )


def main() -> None:
    admm_plans, exact_plans = {}, {}
    print(f"zero entries (< {ZERO:g}) of the 5 x 5 plan; ADMM with delta = 10")
    print(
        f"{'gamma':>7}{'ADMM eps=1e-4':>15}{'iters':>7}{'ADMM eps=1e-9':>15}{'iters':>7}{'exact':>7}{'max|ADMM-exact|':>17}"
    )
    for gamma in GAMMAS:
        p = problem(gamma)
        sol = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=50000)
        tight = om.solve(p, backend="admm", delta=10.0, tol=1e-9, max_iter=TIGHT_MAX_ITER)
        exact = om.solve(p, backend="highs" if gamma == 0 else "cvxpy")
        a = bipartite_plan(p, sol.flows, SOURCES, SINKS)
        t = bipartite_plan(p, tight.flows, SOURCES, SINKS)
        e = bipartite_plan(p, exact.flows, SOURCES, SINKS)
        admm_plans[gamma], exact_plans[gamma] = a, e
        back = float(np.max(np.abs(sol.flows[p.tails >= 5])))
        assert back < 1e-6, "no flow should go back from sinks to sources"
        print(
            f"{gamma:>7g}{int((a < ZERO).sum()):>15d}{sol.iterations:>7d}{int((t < ZERO).sum()):>15d}"
            f"{tight.iterations:>7d}{'*' if tight.status.value != 'converged' else ' '}"
            f"{int((e < ZERO).sum()):>6d}{float(np.max(np.abs(t - e))):>17.2e}"
            + ("   (gamma = 0: the LP optimum is not unique; HiGHS returns a vertex)" if gamma == 0 else "")
        )
    print(f"* eps = 1e-9 not reached in {TIGHT_MAX_ITER} iterations (the plan is that iterate)")
    plot_plan_heatmaps(
        admm_plans,
        ZERO,
        path="out/admm_42_sparsity.png",
        row_labels=SOURCES,
        col_labels=SINKS,
        title="ADMM plans at the paper's stopping rule eps = 1e-4 (white: < 1e-4), like Fig. 2",
    )
    plot_plan_heatmaps(
        exact_plans,
        ZERO,
        path="out/admm_42_sparsity_exact.png",
        row_labels=SOURCES,
        col_labels=SINKS,
        title="exact optima of (2.4) (gamma = 0: an LP vertex from HiGHS)",
    )
    print("wrote out/admm_42_sparsity.png and out/admm_42_sparsity_exact.png")


if __name__ == "__main__":
    main()
