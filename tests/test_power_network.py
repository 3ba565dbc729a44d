"""The power network of section V-B: the instance, and the paper's Laguerre-cell connectivity claim.

Claim (Laurentin et al. 2025, section V-B): with the geodesic assignment cost, if consumer x lies in
the Laguerre cell of substation i, every node y on a shortest path from x to i lies in that cell too,
since c(y,i) - psi_i = c(x,i) - c(x,y) - psi_i <= c(x,j) - c(x,y) - psi_j <= c(y,j) - psi_j.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

import otmodel as om
from otmodel.backends.steps import Diminishing
from otmodel.instances import SYNTHETIC_LINKS, SYNTHETIC_NODES, power_network

# exact duals satisfy complementary slackness only to the solver's tolerance
TOL = 1e-6


@pytest.fixture(scope="module")
def problem() -> om.SpatialFlowProblem:
    return power_network(1000, seed=0)


@pytest.fixture(scope="module")
def solutions(problem) -> dict[str, om.Solution]:
    return {
        "highs": om.solve(problem, backend="highs"),
        "dual-ascent": om.solve(problem, backend="dual-ascent", max_iter=300, step_size=Diminishing(1.0, 0.01)),
    }


def excess(problem: om.SpatialFlowProblem, psi: np.ndarray) -> np.ndarray:
    """(N, |S|): c(y,i) - psi_i - min_j (c(y,j) - psi_j); zero exactly on y's Laguerre cell(s)."""
    red = problem.cost_matrix() - np.asarray(psi)[problem.endpoints]
    return red - red.min(axis=1, keepdims=True)


def path_pairs(problem: om.SpatialFlowProblem, labels: np.ndarray):
    """(x, y, endpoint column) for every consumer y on Geodesic.path(x, assigned endpoint), x included."""
    cost = problem.assignment_cost
    node_to_point = {int(v): k for k, v in enumerate(cost.point_nodes)}
    for x, e in enumerate(labels):
        path = cost.path(x, problem.endpoint_names[e])
        assert path and path[0] == cost.point_nodes[x] and path[-1] == cost.endpoint_nodes[problem.endpoint_names[e]]
        for v in path:
            y = node_to_point.get(int(v))
            if y is not None:
                yield x, y, int(e)


# ------------------------------------------------------------------------------------- instance
def test_instance_shape_and_balance(problem):
    assert problem.n_points == 1000
    assert problem.demand.xy.min() >= 0 and problem.demand.xy.max() <= 100
    assert np.all(problem.demand.mass > 0)
    assert math.isclose(problem.demand.total, 1.0, rel_tol=1e-12)
    assert math.isclose(float(problem.supply.sum()), problem.demand.total, rel_tol=1e-12)
    # transmission network mirrors section V-A: same nodes, positions, links, r_ij = d_ij, [-1, 1]
    assert problem.node_names == list(SYNTHETIC_NODES)
    assert problem.endpoint_names == ["I1", "I2", "I3", "I4"]
    for name, (s, pos, _) in SYNTHETIC_NODES.items():
        i = problem.node_index(name)
        assert problem.supply[i] == s
        np.testing.assert_allclose(problem.network.positions()[i], pos)
    for k, (u, v) in enumerate(SYNTHETIC_LINKS):
        assert problem.arc_names[k] == f"{u}->{v}"
        d = math.dist(SYNTHETIC_NODES[u][1], SYNTHETIC_NODES[v][1])
        assert math.isclose(problem.costs.a[k], d) and problem.costs.b[k] == 0
        assert (problem.lower[k], problem.upper[k]) == (-1.0, 1.0)
    assert isinstance(problem.assignment_cost, om.Geodesic)


def test_distribution_graph_connected_undirected_nearest_neighbours(problem):
    cost = problem.assignment_cost
    g = cost.graph
    n = problem.n_points
    assert g.shape == (n + 4, n + 4)
    assert (abs(g - g.T)).max() == 0  # undirected
    assert connected_components(g, directed=False)[0] == 1
    xy = np.vstack([problem.demand.xy, problem.network.positions()[problem.endpoints]])
    coo = g.tocoo()
    np.testing.assert_allclose(coo.data, np.linalg.norm(xy[coo.row] - xy[coo.col], axis=1))  # length = resistance
    deg = np.diff(g.tocsr().indptr)
    assert deg[:n].min() >= 2  # every consumer has at least its 2 nearest neighbours
    assert np.all(deg[n:] >= 1)  # every substation is wired in
    # each consumer is linked to its nearest neighbour
    from scipy.spatial import cKDTree

    _, nn = cKDTree(problem.demand.xy).query(problem.demand.xy, k=2)
    assert all(g[k, nn[k, 1]] > 0 for k in range(n))
    assert np.all(np.isfinite(problem.cost_matrix()))
    assert cost.bridges >= 0


def test_instance_is_seeded():
    a, b, c = power_network(200, seed=5), power_network(200, seed=5), power_network(200, seed=6)
    np.testing.assert_array_equal(a.demand.xy, b.demand.xy)
    np.testing.assert_array_equal(a.cost_matrix(), b.cost_matrix())
    assert not np.array_equal(a.demand.xy, c.demand.xy)


# ------------------------------------------------------------------------------------- the claim
@pytest.mark.parametrize("backend", ["highs", "dual-ascent"])
def test_shortest_paths_stay_in_laguerre_cell(problem, solutions, backend):
    sol = solutions[backend]
    assert sol.has_point
    labels = sol.assigned_endpoint()
    ex = excess(problem, sol.potentials)
    pairs = np.array(list(path_pairs(problem, labels)))
    x, y, e = pairs.T
    # the claim is not vacuous: most paths run through other consumers
    assert np.sum(x != y) > 5 * problem.n_points
    # each consumer sits in the cell of its substation (Proposition 1 / complementary slackness) ...
    assert ex[np.arange(problem.n_points), labels].max() <= TOL
    # ... and so does every consumer on its shortest path to it
    worst = ex[y, e]
    assert worst.max() <= TOL, (
        f"{np.sum(worst > TOL)} path consumers outside the cell, largest excess {worst.max():.3g}"
    )
    # where the cell is strict (no tie within TOL), the solution assigns the intermediate consumer there too
    second = np.sort(ex[y], axis=1)[:, 1]
    strict = second > TOL
    assert np.all(labels[y[strict]] == e[strict])


def test_check_detects_a_mismatched_assignment(problem, solutions):
    """Negative control: the exact plan judged against the dual-ascent potentials breaks the property."""
    exact, da = solutions["highs"], solutions["dual-ascent"]
    labels = exact.assigned_endpoint()
    assert np.any(labels != da.assigned_endpoint())
    ex = excess(problem, da.potentials)
    x, y, e = np.array(list(path_pairs(problem, labels))).T
    assert ex[y, e].max() > TOL


def test_solutions_agree(problem, solutions):
    exact, da = solutions["highs"], solutions["dual-ascent"]
    assert exact.status is om.Status.OPTIMAL
    np.testing.assert_allclose(exact.cell_mass.sum(), 1.0, rtol=1e-9)
    # paper's schedule, 300 iterations: a lower bound close to the optimum, near-identical assignment
    gap = (exact.objective - da.info["dual_value"]) / exact.objective
    assert -1e-9 <= gap < 2e-2
    assert np.mean(exact.assigned_endpoint() == da.assigned_endpoint()) > 0.98
