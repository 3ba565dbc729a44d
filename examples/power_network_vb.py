"""Section V-B of Laurentin et al. (2025): the electric power network example, Fig. 3.
===================================================================================

Run from the repository root::

    python examples/power_network_vb.py [n_consumers] [seed]     # default 1000 consumers, seed 0

Builds :func:`otmodel.instances.power_network` (transmission network of section V-A with losses
r_ij p^2, r_ij = d_ij; consumers at random positions with random demands, each linked to its 2-3
nearest neighbours; assignment cost = shortest-path resistance through that distribution graph),
solves it exactly (HiGHS) and by dual ascent with the paper's parameters (300 iterations, step
1 / (1 + 0.01 k)), checks the section's claim -- every consumer on the shortest path from a consumer
to its substation lies in that substation's Laguerre cell -- and writes ``out/fig3_power.png``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

import otmodel
from otmodel.backends.steps import Diminishing
from otmodel.instances import power_network
from otmodel.plot import plot_power_network


def path_in_cell_violations(
    problem: otmodel.SpatialFlowProblem, solution: otmodel.Solution, tol: float = 1e-6
) -> tuple[int, int, float]:
    """Check the Laguerre-cell connectivity of section V-B for ``solution``.

    For every consumer x assigned to substation i and every consumer y on a shortest path from x to
    i, y must lie in Lag_i(psi): c(y, i) - psi_i <= min_j c(y, j) - psi_j + tol (the slack of x's
    own membership carries over to y, so a tolerance is needed only for exact solvers' duals).
    Returns (number of violating (x, y) pairs, number of pairs checked, largest excess).
    """
    cost = problem.assignment_cost
    psi = np.asarray(solution.potentials)[problem.endpoints]
    C = problem.cost_matrix()
    red = C - psi
    excess_of = red - red.min(axis=1, keepdims=True)  # >= 0; 0 on the cell(s) of the point
    node_to_point = {int(v): k for k, v in enumerate(cost.point_nodes)}
    labels = solution.assigned_endpoint()
    bad = checked = 0
    worst = 0.0
    for e, name in enumerate(problem.endpoint_names):
        src = cost.endpoint_nodes[name]
        _, pred = dijkstra(cost.graph, directed=False, indices=src, return_predecessors=True)
        for x in np.flatnonzero(labels == e):
            v = int(cost.point_nodes[x])
            while v != src:
                y = node_to_point.get(v)
                if y is not None:
                    checked += 1
                    worst = max(worst, float(excess_of[y, e]))
                    bad += excess_of[y, e] > tol
                v = int(pred[v])
    return bad, checked, worst


def main(n: int = 1000, seed: int = 0, out: str | Path = "out") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    problem = power_network(n, seed)
    print(
        f"{problem}\nbuilt in {time.perf_counter() - t:.2f} s; distribution graph: "
        f"{problem.assignment_cost.graph.nnz // 2} lines, {problem.assignment_cost.bridges} links added to connect it"
    )

    t = time.perf_counter()
    exact = otmodel.solve(problem, backend="highs")
    t_exact = time.perf_counter() - t
    t = time.perf_counter()
    da = otmodel.solve(problem, backend="dual-ascent", max_iter=300, step_size=Diminishing(1.0, 0.01))
    t_da = time.perf_counter() - t
    opt = exact.objective
    same = float(np.mean(exact.assigned_endpoint() == da.assigned_endpoint()))
    print(f"\n{'method':<22} {'objective':>12} {'rel. dual gap':>14} {'same substation':>16} {'time [s]':>9}")
    print(f"{'highs (exact)':<22} {opt:>12.6f} {0:>14.2e} {1:>16.1%} {t_exact:>9.3f}")
    gap = (opt - float(da.info["dual_value"])) / abs(opt)
    print(f"{'dual-ascent, 300 it.':<22} {da.objective:>12.6f} {gap:>14.2e} {same:>16.1%} {t_da:>9.3f}")

    print("\nLaguerre-cell connectivity (section V-B): consumers on shortest paths stay in the cell")
    for label, sol in (("highs", exact), ("dual-ascent", da)):
        bad, checked, worst = path_in_cell_violations(problem, sol)
        print(
            f"  {label:<12} {checked} (consumer, intermediate consumer) pairs checked, {bad} outside the cell "
            f"(largest excess {worst:.2e})"
        )

    fig = plot_power_network(
        problem,
        da,
        path=out / "fig3_power.png",
        title=f"Fig. 3: {n} consumers, dual ascent after {da.iterations} iterations (max |g_i| = {da.info['residual']:.2g})\n"
        "consumers and shortest-path trees coloured by substation; transmission flows in black",
    )
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"\nwrote {out / 'fig3_power.png'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
