r"""Known-answer cases of kind ``spatial``: spatial flow problems (2) of Laurentin et al. (2025).

Hand-solved assignments, an infeasible demand group, planted optima on random networks and on the
network of the paper's synthetic example (section V-A). See ``otmodel.validation.cases`` for the proofs.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from otmodel.certificates import is_connected
from otmodel.model.costs import Quadratic
from otmodel.model.demand import Euclidean, Matrix, Points
from otmodel.model.network import Network
from otmodel.model.problems import SpatialFlowProblem
from otmodel.results import InfeasibilityCertificate
from otmodel.validation.cases import (
    ConformanceCase,
    _dummy_points,
    _infeasible,
    _network,
    _optimal,
    _plan,
    _point,
)
from otmodel.validation.cases_flow import _net_outflow, _plant_arcs, _planted_network, _random_graph

__all__ = ["cases"]

INF = math.inf


def _spatial_one_endpoint() -> ConformanceCase:
    net = _network([("S", 1), ("E", 0, True)], [("S", "E", 2, 0, INF)])
    p = SpatialFlowProblem(net, _dummy_points([0.2, 0.3, 0.5]), Matrix([[1.0], [2.0], [3.0]]), "one endpoint")
    return _optimal(
        "spatial_one_endpoint",
        p,
        4.3,
        "One endpoint serves everything: assignment 0.2*1 + 0.3*2 + 0.5*3 = 2.3 plus routing 1 * 2 = 4.3; "
        "psi_S - psi_E = 2.",
        _point([1], [2, 0], _plan([[0.2], [0.3], [0.5]])),
        flows=[1],
        potentials=[2, 0],
        cell_mass=[1],
    )


def _spatial_two_endpoints() -> ConformanceCase:
    net = _network([("S", 1), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 1, 0, INF), ("S", "E2", 3, 0, INF)])
    p = SpatialFlowProblem(net, _dummy_points([0.4, 0.6]), Matrix([[0.0, 1.0], [3.0, 0.0]]), "two endpoints")
    return _optimal(
        "spatial_two_endpoints",
        p,
        2.2,
        "Uncapacitated routes: each point picks its cheapest endpoint including routing. Point 1: via E1 "
        "1 + 0 = 1, via E2 3 + 1 = 4 -> E1; point 2: via E1 1 + 3 = 4, via E2 3 + 0 = 3 -> E2. "
        "Objective 0.4 * 1 + 0.6 * 3 = 2.2, cells (0.4, 0.6), psi = (S 0, E1 -1, E2 -3).",
        _point([0.4, 0.6], [0, -1, -3], _plan([[0.4, 0], [0, 0.6]])),
        flows=[0.4, 0.6],
        potentials=[0, -1, -3],
        cell_mass=[0.4, 0.6],
    )


def _spatial_euclidean() -> ConformanceCase:
    net = _network(
        [("S", 1, False, (5.0, 5.0)), ("E1", 0, True, (0.0, 0.0)), ("E2", 0, True, (10.0, 0.0))],
        [("S", "E1", 0, 0, INF), ("S", "E2", 0, 0, INF)],
    )
    pts = Points([[1, 0], [2, 0], [8, 0], [9, 0]], [0.25, 0.25, 0.25, 0.25])
    p = SpatialFlowProblem(net, pts, Euclidean(), "nearest endpoint")
    return _optimal(
        "spatial_euclidean_nearest",
        p,
        1.5,
        "Free routing, Euclidean cost: every point goes to its nearest endpoint (x = 1, 2 to E1 at 0; "
        "x = 8, 9 to E2 at 10): 0.25 * (1 + 2 + 2 + 1) = 1.5, cells (0.5, 0.5), psi = 0 at all nodes.",
        _point([0.5, 0.5], [0, 0, 0], _plan([[0.25, 0], [0.25, 0], [0, 0.25], [0, 0.25]])),
        flows=[0.5, 0.5],
        potentials=[0, 0, 0],
        cell_mass=[0.5, 0.5],
    )


def _spatial_capacity() -> ConformanceCase:
    net = _network([("S", 1), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 0, 0, 0.3), ("S", "E2", 0, 0, INF)])
    p = SpatialFlowProblem(net, _dummy_points([0.5, 0.5]), Matrix([[0.0, 4.0], [0.0, 1.0]]), "binding capacity")
    return _optimal(
        "spatial_capacity_binding",
        p,
        1.3,
        "Both points prefer E1 but S->E1 carries 0.3. Moving a unit to E2 costs 4 for point A and 1 for "
        "point B, so E1 keeps 0.3 of A: cost 0.2 * 4 + 0.5 * 1 = 1.3, cells (0.3, 0.7). A is split, which "
        "pins psi_E2 - psi_E1 = 4; S->E2 is interior: psi = (S 0, E1 -4, E2 0).",
        _point([0.3, 0.7], [0, -4, 0], _plan([[0.3, 0.2], [0, 0.5]])),
        flows=[0.3, 0.7],
        potentials=[0, -4, 0],
        cell_mass=[0.3, 0.7],
    )


def _spatial_forbidden() -> ConformanceCase:
    net = _network([("S", 1), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 1, 0, INF), ("S", "E2", 1, 0, INF)])
    p = SpatialFlowProblem(net, _dummy_points([0.5, 0.5]), Matrix([[INF, 5.0], [1.0, 2.0]]), "forbidden pairs")
    return _optimal(
        "spatial_forbidden_pairs",
        p,
        4.0,
        "Point 1 may only use E2 (cost +inf at E1): 1 + 5 = 6; point 2 prefers E1: 1 + 1 = 2 < 1 + 2. "
        "Objective 0.5 * 6 + 0.5 * 2 = 4, cells (0.5, 0.5), psi = (S 0, E1 -1, E2 -1).",
        _point([0.5, 0.5], [0, -1, -1], _plan([[0, 0.5], [0.5, 0]])),
        flows=[0.5, 0.5],
        potentials=[0, -1, -1],
        cell_mass=[0.5, 0.5],
    )


def _spatial_zero_mass() -> ConformanceCase:
    net = _network([("S", 1), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 1, 0, INF), ("S", "E2", 3, 0, INF)])
    C = Matrix([[0.0, 1.0], [3.0, 0.0], [INF, INF], [0.0, 0.0]])
    p = SpatialFlowProblem(net, _dummy_points([0.4, 0.6, 0.0, 0.0]), C, "zero-mass points")
    return _optimal(
        "spatial_zero_mass_point",
        p,
        2.2,
        "spatial_two_endpoints plus two points of mass 0 (one of them with +inf cost at every endpoint, "
        "which is allowed because it carries no mass): the answer is unchanged.",
        _point([0.4, 0.6], [0, -1, -3], _plan([[0.4, 0], [0, 0.6], [0, 0], [0, 0]])),
        flows=[0.4, 0.6],
        potentials=[0, -1, -3],
        cell_mass=[0.4, 0.6],
        tags=("degenerate",),
    )


def _spatial_tie() -> ConformanceCase:
    net = _network([("S", 2), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 0, 0, INF), ("S", "E2", 0, 0, INF)])
    p = SpatialFlowProblem(net, _dummy_points([1.0, 1.0]), Matrix([[1.0, 1.0], [0.0, 2.0]]), "assignment tie")
    return _optimal(
        "spatial_tie",
        p,
        1.0,
        "Point 1 costs 1 at either endpoint (a tie: its split, the flows and the cells are not unique); "
        "point 2 goes to E1 at cost 0. Objective 1. Splitting point 1 pins psi_E1 = psi_E2 and the free "
        "arcs pin psi_S: psi = 0.",
        _point([1.5, 0.5], [0, 0, 0], _plan([[0.5, 0.5], [1.0, 0]])),
        potentials=[0, 0, 0],
        tags=("degenerate",),
    )



def _infeasible_spatial() -> ConformanceCase:
    net = _network([("S", 1), ("E1", 0, True), ("E2", 0, True)], [("S", "E1", 1, 0, INF), ("S", "E2", 1, 0, 0.2)])
    p = SpatialFlowProblem(net, _dummy_points([0.6, 0.4]), Matrix([[INF, 1.0], [1.0, 1.0]]), "unreachable demand")
    return _infeasible(
        "infeasible_spatial_group",
        p,
        InfeasibilityCertificate(("E2", "demand[E2]"), 0.6, 0.2, "in"),
        "Point 1 (mass 0.6) can only be served by E2, but at most 0.2 can reach E2 (arc S->E2): the set "
        "{E2, demand[E2]} has net demand 0.6 and inflow capacity 0.2.",
    )



# ------------------------------------------------------------------------------- planted cases
def _planted_spatial(name: str, seed: int, n: int, extra: int, n_end: int, n_points: int) -> ConformanceCase:
    rng = np.random.default_rng(seed)
    tails, heads, tree = _random_graph(rng, n, extra)
    psi = rng.uniform(-5.0, 5.0, n)
    psi -= psi.min()  # a constant shift changes nothing; it keeps the planted costs c(x, i) >= 0
    pl = _plant_arcs(rng, psi, tails, heads, tree, 0.5, True, True)
    ends = np.sort(rng.choice(n, size=n_end, replace=False))
    mass = np.round(rng.uniform(0.1, 1.0, n_points), 3)
    best = np.concatenate([np.arange(n_end), rng.integers(n_end, size=n_points - n_end)])  # every endpoint used
    r = rng.uniform(0.0, 3.0, n_points)
    C = psi[ends][None, :] + r[:, None] + rng.uniform(0.3, 3.0, (n_points, n_end))
    C[rng.random((n_points, n_end)) < 0.25] = INF  # forbidden pairs
    C[np.arange(n_points), best] = psi[ends][best] + r  # c(x_k, i) - psi_i is smallest (= r_k) at the planted endpoint
    plan = sp.csr_matrix((mass, (np.arange(n_points), best)), shape=(n_points, n_end))
    cells = np.bincount(best, weights=mass, minlength=n_end)
    supply = _net_outflow(n, pl)
    supply[ends] += cells
    names = [f"N{i}" for i in range(n)]
    net = _planted_network(names, supply, pl, set(ends.tolist()))
    problem = SpatialFlowProblem(net, _dummy_points(mass.tolist()), Matrix(C), name)
    objective = float(np.sum(pl.a * pl.flows**2 + pl.b * pl.flows) + mass @ C[np.arange(n_points), best])
    return _optimal(
        name,
        problem,
        objective,
        f"Planted (seed {seed}): {n} nodes, {n_end} endpoints, {n_points} points with a Matrix cost. Each "
        "point's cost minus psi is smallest, by a margin >= 0.3, at its planted endpoint (+inf at a quarter of "
        "the other pairs); flows as in planted_* flow cases; supplies s = E p + m. Objective = q(psi).",
        _point(pl.flows, psi, plan),
        flows=pl.flows,
        potentials=psi,
        cell_mass=cells,
        tags=("planted",),
    )


def _planted_paper(seed: int = 2043, n_points: int = 400) -> ConformanceCase:
    """The layout of the synthetic example (section V-A) with a planted optimum."""
    from otmodel.instances import SYNTHETIC_LINKS, SYNTHETIC_NODES

    rng = np.random.default_rng(seed)
    names = list(SYNTHETIC_NODES)
    pos = np.array([SYNTHETIC_NODES[v][1] for v in names])
    is_end = np.array([SYNTHETIC_NODES[v][2] for v in names])
    tails = [names.index(u) for u, _ in SYNTHETIC_LINKS]
    heads = [names.index(v) for _, v in SYNTHETIC_LINKS]
    d = np.linalg.norm(pos[tails] - pos[heads], axis=1)
    # sources priced above the endpoints, so that flow runs from the sources towards the demand
    psi = np.round(np.where(is_end, rng.uniform(-15.0, 15.0, len(names)), rng.uniform(30.0, 70.0, len(names))), 2)
    t = psi[tails] - psi[heads]
    flows = np.clip(t / (2 * d), -1.0, 1.0)  # eq. (5) with c_ij(p) = d_ij p^2 on [-1, 1]
    xy = rng.uniform(0.0, 100.0, (n_points, 2))
    ends = np.flatnonzero(is_end)
    adj = np.linalg.norm(xy[:, None, :] - pos[ends][None, :, :], axis=2) - psi[ends][None, :]
    order = np.sort(adj, axis=1)
    keep = order[:, 1] - order[:, 0] > 0.05  # drop near-ties: the planted assignment must be unique
    xy, adj = xy[keep], adj[keep]
    z = (xy - np.array([50.0, 75.0])) / 25.0
    mass = np.exp(-0.5 * np.sum(z * z, axis=1))
    mass /= mass.sum()
    best = np.argmin(adj, axis=1)
    n_pts = xy.shape[0]
    plan = sp.csr_matrix((mass, (np.arange(n_pts), best)), shape=(n_pts, ends.size))
    cells = np.bincount(best, weights=mass, minlength=ends.size)
    supply = np.zeros(len(names))
    np.add.at(supply, tails, flows)
    np.add.at(supply, heads, -flows)
    supply[ends] += cells
    net = Network()
    for i, v in enumerate(names):
        net.add_node(v, float(supply[i]), position=tuple(pos[i]), endpoint=bool(is_end[i]))
    for k in range(len(tails)):
        net.add_arc(names[tails[k]], names[heads[k]], Quadratic(float(d[k])), -1.0, 1.0)
    problem = SpatialFlowProblem(net, Points(xy, mass), Euclidean(), "planted paper layout")
    dist = np.linalg.norm(xy - pos[ends][best], axis=1)
    objective = float(np.sum(d * flows**2) + mass @ dist)
    interior = np.abs(flows) < 1.0
    unique_psi = is_connected(len(names), [(tails[k], heads[k]) for k in np.flatnonzero(interior)])
    return _optimal(
        "planted_paper_layout",
        problem,
        objective,
        f"Planted (seed {seed}) on the network of section V-A: costs d_ij p^2, bounds [-1, 1], Euclidean "
        f"assignment of {n_pts} random points with a Gaussian mass. psi is drawn first; flows follow from "
        "eq. (5), p = clip((psi_i - psi_j) / (2 d_ij), -1, 1), points go to argmin c(x, i) - psi_i (near-ties "
        "dropped), supplies from conservation. Objective = q(psi).",
        _point(flows, psi, plan),
        flows=flows,
        potentials=psi if unique_psi else None,
        cell_mass=cells,
        tags=("planted",),
    )



def cases() -> list[ConformanceCase]:
    """The spatial cases, built fresh and checked (``otmodel.validation.cases.cases``)."""
    return [
        _spatial_one_endpoint(),
        _spatial_two_endpoints(),
        _spatial_euclidean(),
        _spatial_capacity(),
        _spatial_forbidden(),
        _spatial_zero_mass(),
        _spatial_tie(),
        _planted_spatial("planted_spatial_matrix", 21, 10, 8, 4, 60),
        _planted_paper(),
        _infeasible_spatial(),
    ]
