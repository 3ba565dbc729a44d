r"""Problems with known answers, and the conformance suite every backend passes.

Every expected answer here is derived by hand or by construction -- never by running a solver.
Each optimal case carries a *witness*: a primal point `(p, \pi)` and node potentials
`\psi` (Laurentin et al. (2025), eq. (3)-(4)) with

.. math:: \text{objective}(p, \pi) \;=\; q(\psi) \;=\; \text{expected objective},

checked when the case is built (``check_case``). By weak duality `q(\psi) \le`
objective of every feasible point, so this equality *proves* that the witness is optimal and the
expected objective is the optimum. Expected flows, potentials and cell masses are only stated where
they are unique, and uniqueness is checked too:

* **flows / plan**: the optimal primal set is the set of feasible points that minimize every term
  of the Lagrangian at `\psi`. Quadratic arcs have one minimizer, linear arcs with
  `b \ne \psi_i - \psi_j` sit at a bound, points with one minimizer of
  `c(x_k, i) - \psi_i` go entirely to it. The remaining ("free") variables -- linear arcs
  with `b = \psi_i - \psi_j`, plan entries of tied points -- are then fixed by conservation
  when they form a forest (a forest's incidence matrix has full column rank).
* **potentials**: every dual optimum satisfies complementary slackness with every primal optimum,
  so an arc carrying flow strictly inside its bounds pins `\psi_i - \psi_j` (to `b`,
  or `2ap + b`), and a point split between endpoints pins their difference. If the pinned
  pairs connect all nodes, `\psi` is unique up to an additive constant (the constant does not
  change `q` because total supply equals `\mu(X)`).

Planted cases choose flows, potentials and the assignment first and derive costs so that
complementary slackness holds: a linear arc strictly inside its bounds gets
`b = \psi_i - \psi_j`, one at its lower bound `b > \psi_i - \psi_j`, at its upper bound
`b < \psi_i - \psi_j`; a quadratic arc gets `2ap + b = \psi_i - \psi_j` inside its
bounds (and the corresponding inequality at a bound); a demand point gets costs
`c(x_k, i) - \psi_i` smallest at its planted endpoint. Supplies then follow from
conservation, `s = E p + m` (`m` the cell masses at the endpoints).

``run_conformance`` solves every case with a backend and compares status, objective, flows,
potentials (up to a constant), cell masses, the feasibility of the returned point, the dual value
`q(\psi)` of the returned potentials, and the certificates of infeasible and unbounded cases
(verified from the problem data by ``otmodel.certificates``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.certificates import (
    find_infeasible_cut,
    is_connected,
    is_forest,
    primal_residual,
    verify_infeasibility_certificate,
    verify_unbounded_certificate,
)
from otmodel.errors import UnsupportedError
from otmodel.model.costs import ArcCost, Linear, Quadratic
from otmodel.model.demand import Euclidean, Matrix, Points
from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import InfeasibilityCertificate, Solution, Status, UnboundedCertificate
from otmodel.validation.certificate import dual_value

__all__ = [
    "ConformanceCase",
    "ConformanceConfig",
    "ConformanceReport",
    "ConformanceResult",
    "KnownPoint",
    "cases",
    "check_case",
    "dual_value",
    "primal_residual",
    "run_conformance",
    "select",
]

INF = math.inf


# =============================================================================== the cases
@dataclass(frozen=True)
class KnownPoint:
    """An optimal primal-dual point of a case (not necessarily the only one).

    ``flows`` per arc, ``potentials`` per node (`\\psi`), ``assignment`` the plan
    `\\pi` as an ``(N, |S|)`` sparse matrix for spatial problems.
    """

    flows: NDArray[np.float64]
    potentials: NDArray[np.float64]
    assignment: sp.csr_matrix | None = None

    @property
    def cell_mass(self) -> NDArray[np.float64] | None:
        if self.assignment is None:
            return None
        return np.asarray(self.assignment.sum(axis=0)).reshape(-1)


@dataclass(frozen=True)
class ConformanceCase:
    """A problem with a known answer.

    Attributes
    ----------
    name : short identifier
    problem : the problem
    expected_status : Status.OPTIMAL, INFEASIBLE or UNBOUNDED
    expected_objective : the optimal value (+inf for infeasible, -inf for unbounded cases)
    derivation : where the answer comes from (hand computation, construction)
    expected_flows : per arc, only where the optimal flows are unique
    expected_potentials : per node, only where psi is unique up to an additive constant
    expected_cell_mass : per endpoint, only where the cell masses are unique
    witness : an optimal ``KnownPoint``, or the certificate of an infeasible/unbounded case
    tags : words for selecting cases ("flow", "spatial", "linear", "quadratic", "mixed", "planted",
        "degenerate", "infeasible", "unbounded", ...)
    """

    name: str
    problem: FlowProblem
    expected_status: Status
    expected_objective: float
    derivation: str
    expected_flows: NDArray[np.float64] | None = None
    expected_potentials: NDArray[np.float64] | None = None
    expected_cell_mass: NDArray[np.float64] | None = None
    witness: KnownPoint | InfeasibilityCertificate | UnboundedCertificate | None = None
    tags: frozenset[str] = frozenset()


def _arr(x: ArrayLike | None) -> NDArray[np.float64] | None:
    if x is None:
        return None
    a = np.array(x, dtype=float)
    a.setflags(write=False)
    return a


def _network(
    nodes: Sequence[tuple[str, float] | tuple[str, float, bool] | tuple[str, float, bool, tuple[float, float]]],
    arcs: Sequence[tuple[str, str, ArcCost | float, float, float]],
) -> Network:
    net = Network()
    for spec in nodes:
        name, supply = spec[0], spec[1]
        endpoint = bool(spec[2]) if len(spec) > 2 else False
        position = spec[3] if len(spec) > 3 else None  # type: ignore[misc]
        net.add_node(name, supply, position=position, endpoint=endpoint)
    for t, h, c, lo, up in arcs:
        net.add_arc(t, h, c, lo, up)
    return net


def _dummy_points(mass: Sequence[float]) -> Points:
    """Points on a line (coordinates are irrelevant under a Matrix cost)."""
    n = len(mass)
    return Points(np.column_stack([np.arange(n, dtype=float), np.zeros(n)]), np.asarray(mass, dtype=float))


def _plan(rows: Sequence[Sequence[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, dtype=float))


def _tags(problem: FlowProblem, *extra: str) -> frozenset[str]:
    a = problem.costs.a
    cost = "linear" if np.all(a == 0) else "quadratic" if np.all(a > 0) else "mixed"
    return frozenset({problem.kind, cost, *extra})


def _optimal(
    name: str,
    problem: FlowProblem,
    objective: float,
    derivation: str,
    witness: KnownPoint,
    flows: ArrayLike | None = None,
    potentials: ArrayLike | None = None,
    cell_mass: ArrayLike | None = None,
    tags: Sequence[str] = (),
) -> ConformanceCase:
    case = ConformanceCase(
        name=name,
        problem=problem,
        expected_status=Status.OPTIMAL,
        expected_objective=float(objective),
        derivation=derivation,
        expected_flows=_arr(flows),
        expected_potentials=_arr(potentials),
        expected_cell_mass=_arr(cell_mass),
        witness=witness,
        tags=_tags(problem, *tags),
    )
    check_case(case)
    return case


def _point(flows: ArrayLike, potentials: ArrayLike, plan: sp.csr_matrix | None = None) -> KnownPoint:
    return KnownPoint(np.asarray(flows, dtype=float), np.asarray(potentials, dtype=float), plan)


# ------------------------------------------------------------------------------- hand-solved cases
def _path() -> ConformanceCase:
    p = FlowProblem(_network([("A", 2), ("B", 0), ("C", -2)], [("A", "B", 1, 0, INF), ("B", "C", 3, 0, INF)]), "path")
    return _optimal(
        "path",
        p,
        8.0,
        "A path A->B->C carries the supply 2 at unit cost 1 + 3: objective 2 * 4 = 8. Both arcs are "
        "strictly inside [0, inf), so psi_A - psi_B = 1 and psi_B - psi_C = 3: psi = (4, 3, 0).",
        _point([2, 2], [4, 3, 0]),
        flows=[2, 2],
        potentials=[4, 3, 0],
    )


def _parallel_routes() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("S", 3), ("A", 0), ("B", 0), ("T", -3)],
            [("S", "A", 1, 0, 2), ("A", "T", 1, 0, INF), ("S", "B", 2, 0, INF), ("B", "T", 3, 0, INF)],
        ),
        "parallel routes",
    )
    return _optimal(
        "parallel_routes_capacity",
        p,
        9.0,
        "Route S-A-T costs 2 per unit but S->A carries at most 2; route S-B-T costs 5. Fill the cheap "
        "route: 2 * 2 + 1 * 5 = 9. Interior arcs A->T, S->B, B->T pin psi = (S 5, A 1, B 3, T 0); "
        "S->A at its upper bound has b = 1 <= psi_S - psi_A = 4.",
        _point([2, 2, 1, 1], [5, 1, 3, 0]),
        flows=[2, 2, 1, 1],
        potentials=[5, 1, 3, 0],
    )


def _transshipment() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("S1", 2), ("S2", 1), ("H", 0), ("D1", -1), ("D2", -2)],
            [
                ("S1", "H", 1, 0, INF),
                ("S2", "H", 2, 0, INF),
                ("H", "D1", 3, 0, INF),
                ("H", "D2", 1, 0, INF),
                ("S2", "D2", 4, 0, INF),
            ],
        ),
        "transshipment",
    )
    return _optimal(
        "transshipment",
        p,
        9.0,
        "Everything passes through hub H: S1->H 2, S2->H 1, H->D1 1, H->D2 2 (cost 2 + 2 + 3 + 2 = 9); "
        "the direct arc S2->D2 (cost 4) is dearer than S2->H->D2 (cost 3) and stays empty. "
        "psi = (S1 1, S2 2, H 0, D1 -3, D2 -1); S2->D2 has b = 4 > psi_S2 - psi_D2 = 3.",
        _point([2, 1, 1, 2, 0], [1, 2, 0, -3, -1]),
        flows=[2, 1, 1, 2, 0],
        potentials=[1, 2, 0, -3, -1],
    )


def _negative_bounds() -> ConformanceCase:
    q = Quadratic(1.0)
    p = FlowProblem(
        _network(
            [("A", -1.8), ("B", 1.8), ("C", 0)],
            [("A", "B", q, -1, 1), ("B", "C", q, -1, 1), ("C", "A", q, -1, 1)],
        ),
        "negative lower bounds",
    )
    return _optimal(
        "negative_lower_bounds",
        p,
        2.28,
        "Bounds [-1, 1] as in the paper, costs p^2. B sends 1.8 to A either against arc A->B (cost x^2) "
        "or along B->C->A (cost 2 y^2), x + y = 1.8. Unconstrained x = 1.2 exceeds the bound, so "
        "x = 1 (flow -1 on A->B), y = 0.8: objective 1 + 2 * 0.64 = 2.28. psi_B - psi_C = psi_C - psi_A = "
        "2 * 0.8 = 1.6; A->B at its lower bound: c'(-1) = -2 >= psi_A - psi_B = -3.2.",
        _point([-1, 0.8, 0.8], [0, 3.2, 1.6]),
        flows=[-1, 0.8, 0.8],
        potentials=[0, 3.2, 1.6],
    )


def _quadratic_split() -> ConformanceCase:
    s, a1, a2 = 3.0, 1.0, 2.0
    p1, p2 = s * a2 / (a1 + a2), s * a1 / (a1 + a2)
    p = FlowProblem(
        _network([("S", s), ("T", -s)], [("S", "T", Quadratic(a1), 0, INF), ("S", "T", Quadratic(a2), 0, INF)]),
        "quadratic split",
    )
    return _optimal(
        "quadratic_split",
        p,
        s * s * a1 * a2 / (a1 + a2),
        "Two parallel arcs a1 p^2, a2 p^2 share the supply S: equal marginal costs 2 a1 p1 = 2 a2 p2 give "
        "p1 = S a2 / (a1 + a2) = 2, p2 = S a1 / (a1 + a2) = 1, objective S^2 a1 a2 / (a1 + a2) = 6 and "
        "psi_S - psi_T = 2 a1 p1 = 4.",
        _point([p1, p2], [2 * a1 * p1, 0]),
        flows=[p1, p2],
        potentials=[2 * a1 * p1, 0],
    )


def _tie_two_routes() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("S", 2), ("A", 0), ("B", 0), ("T", -2)],
            [("S", "A", 1, 0, INF), ("A", "T", 1, 0, INF), ("S", "B", 1, 0, INF), ("B", "T", 1, 0, INF)],
        ),
        "tie",
    )
    return _optimal(
        "tie_two_routes",
        p,
        4.0,
        "Two routes of equal cost 2: objective 4 whatever the split, so flows are not checked. The "
        "optimal split 1/1 puts every arc strictly inside its bounds, which pins psi = (S 2, A 1, B 1, T 0) "
        "for every dual optimum.",
        _point([1, 1, 1, 1], [2, 1, 1, 0]),
        potentials=[2, 1, 1, 0],
        tags=("degenerate",),
    )


def _zero_cost_arcs() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("S", 1), ("A", 0), ("B", 0), ("T", -1)],
            [("S", "A", 0, 0, INF), ("A", "T", 1, 0, INF), ("A", "B", 0, 0, 1), ("B", "A", 0, 0, 1)],
        ),
        "zero-cost arcs",
    )
    return _optimal(
        "zero_cost_arcs",
        p,
        1.0,
        "S->A is free, A->T costs 1: objective 1. The zero-cost cycle A->B->A may carry any circulation "
        "in [0, 1], so flows are not unique; the optimum with circulation 0.5 pins psi = (S 1, A 1, B 1, T 0).",
        _point([1, 1, 0.5, 0.5], [1, 1, 1, 0]),
        potentials=[1, 1, 1, 0],
        tags=("degenerate",),
    )


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


# ------------------------------------------------------------------------------- infeasible cases
def _infeasible(name: str, problem: FlowProblem, cert: InfeasibilityCertificate, derivation: str) -> ConformanceCase:
    case = ConformanceCase(
        name, problem, Status.INFEASIBLE, INF, derivation, witness=cert, tags=_tags(problem, "infeasible")
    )
    check_case(case)
    return case


def _infeasible_cut() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("S", 3), ("M", 0), ("T", -3)],
            [("S", "T", 1, 0, 1), ("S", "M", 1, 0, 1), ("M", "T", 1, 0, 5)],
        ),
        "too little capacity",
    )
    return _infeasible(
        "infeasible_capacity_cut",
        p,
        InfeasibilityCertificate(("S",), 3.0, 2.0, "out"),
        "S must send 3 but its two outgoing arcs carry at most 1 + 1 = 2.",
    )


def _infeasible_negative() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("A", 0), ("B", 0), ("C", 0)],
            [("A", "B", 1, -2, -1), ("A", "C", 1, 0, 0.5), ("C", "B", 1, 0, INF)],
        ),
        "negative bounds",
    )
    return _infeasible(
        "infeasible_negative_bounds",
        p,
        InfeasibilityCertificate(("A",), 0.0, -0.5, "out"),
        "Bounds [-2, -1] on A->B force at least 1 unit from B into A, which can leave A only through "
        "A->C (at most 0.5): for U = {A}, net supply 0 > u(A->B) + u(A->C) = -1 + 0.5 = -0.5.",
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


# ------------------------------------------------------------------------------- unbounded cases
def _unbounded(name: str, problem: FlowProblem, cert: UnboundedCertificate, derivation: str) -> ConformanceCase:
    case = ConformanceCase(
        name, problem, Status.UNBOUNDED, -INF, derivation, witness=cert, tags=_tags(problem, "unbounded")
    )
    check_case(case)
    return case


def _unbounded_cycle() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("A", 1), ("B", 0), ("C", -1)],
            [("A", "B", 1, 0, INF), ("B", "C", -3, 0, INF), ("C", "A", 1, 0, INF)],
        ),
        "negative cycle",
    )
    return _unbounded(
        "unbounded_negative_cycle",
        p,
        UnboundedCertificate(("A", "B", "C"), (("A->B", 1), ("B->C", 1), ("C->A", 1)), -1.0),
        "The cycle A->B->C->A has cost 1 - 3 + 1 = -1 per unit and no upper bounds; A->B->C is feasible.",
    )


def _unbounded_backward() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("A", 1), ("B", 0), ("C", -1)],
            [("A", "B", 1, 0, INF), ("B", "C", 1, 0, INF), ("A", "C", 3, -INF, 0)],
        ),
        "negative cycle against an arc",
    )
    return _unbounded(
        "unbounded_backward_arc",
        p,
        UnboundedCertificate(("A", "B", "C"), (("A->B", 1), ("B->C", 1), ("A->C", -1)), -1.0),
        "Arc A->C (cost 3) has lower bound -inf: pushing flow back from C to A earns 3 per unit, and "
        "A->B->C costs 2, so the cycle A->B->C->A has cost -1 and no limit.",
    )


# ------------------------------------------------------------------------------- planted cases
@dataclass
class _Planted:
    tails: list[int]
    heads: list[int]
    tree: NDArray[np.bool_]
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    flows: NDArray[np.float64]


def _random_graph(rng: np.random.Generator, n: int, extra: int) -> tuple[list[int], list[int], NDArray[np.bool_]]:
    """A random spanning tree (random orientations) plus ``extra`` arcs, no parallel pairs."""
    tails, heads = [], []
    used: set[frozenset[int]] = set()
    for v in range(1, n):
        u = int(rng.integers(v))
        t, h = (u, v) if rng.random() < 0.5 else (v, u)
        tails.append(t)
        heads.append(h)
        used.add(frozenset((u, v)))
    n_tree = len(tails)
    tries = 0
    while len(tails) - n_tree < extra and tries < 100 * (extra + 1):
        tries += 1
        i, j = (int(x) for x in rng.choice(n, size=2, replace=False))
        if frozenset((i, j)) in used:
            continue
        used.add(frozenset((i, j)))
        tails.append(i)
        heads.append(j)
    tree = np.zeros(len(tails), dtype=bool)
    tree[:n_tree] = True
    return tails, heads, tree


def _plant_arcs(
    rng: np.random.Generator,
    psi: NDArray[np.float64],
    tails: list[int],
    heads: list[int],
    tree: NDArray[np.bool_],
    p_quadratic: float,
    negative: bool,
    infinite: bool,
) -> _Planted:
    """Costs and bounds making chosen flows optimal for potentials ``psi`` (complementary slackness).

    Tree arcs carry flow strictly inside their bounds (they pin psi on a spanning tree, so psi is
    unique up to a constant, and the free linear arcs lie in the tree, so flows are unique); other
    arcs sit at a bound with a strictly positive reduced cost, or (quadratic) anywhere.
    """
    m = len(tails)
    a, b, lo, up, p = (np.zeros(m) for _ in range(5))
    for k in range(m):
        t = psi[tails[k]] - psi[heads[k]]
        quad = rng.random() < p_quadratic
        ak = float(rng.uniform(0.5, 3.0)) if quad else 0.0
        status = (
            "interior" if tree[k] else str(rng.choice(["lower", "upper", "interior"] if quad else ["lower", "upper"]))
        )
        margin = float(rng.uniform(0.2, 1.5))
        if status == "interior":
            pk = float(rng.uniform(-1.5, 2.5) if negative else rng.uniform(0.2, 2.5))
            lk = (-INF if infinite and rng.random() < 0.2 else pk - rng.uniform(0.3, 1.5)) if negative else 0.0
            uk = INF if infinite and rng.random() < 0.4 else pk + rng.uniform(0.3, 1.5)
            bk = t - 2 * ak * pk
        elif status == "lower":
            lk = float(rng.uniform(-1.5, 0.0)) if negative and rng.random() < 0.5 else 0.0
            pk = lk
            uk = INF if infinite and rng.random() < 0.4 else lk + rng.uniform(0.5, 2.0)
            bk = t - 2 * ak * lk + margin
        else:
            uk = float(rng.uniform(0.5, 2.5))
            pk = uk
            lk = (
                -INF
                if negative and infinite and rng.random() < 0.3
                else (uk - rng.uniform(0.5, 2.0) if negative else 0.0)
            )
            bk = t - 2 * ak * uk - margin
        a[k], b[k], lo[k], up[k], p[k] = ak, bk, lk, uk, pk
    return _Planted(tails, heads, tree, a, b, lo, up, p)


def _planted_network(
    names: Sequence[str], supply: NDArray[np.float64], pl: _Planted, endpoints: set[int] | None = None
) -> Network:
    net = Network()
    for i, name in enumerate(names):
        net.add_node(name, float(supply[i]), endpoint=endpoints is not None and i in endpoints)
    for k in range(len(pl.tails)):
        cost: ArcCost = Quadratic(pl.a[k], pl.b[k]) if pl.a[k] > 0 else Linear(pl.b[k])
        net.add_arc(names[pl.tails[k]], names[pl.heads[k]], cost, pl.lower[k], pl.upper[k])
    return net


def _net_outflow(n: int, pl: _Planted) -> NDArray[np.float64]:
    out = np.zeros(n)
    np.add.at(out, pl.tails, pl.flows)
    np.add.at(out, pl.heads, -pl.flows)
    return out


def _planted_flow(
    name: str, seed: int, n: int, extra: int, p_quadratic: float, negative: bool, infinite: bool
) -> ConformanceCase:
    rng = np.random.default_rng(seed)
    tails, heads, tree = _random_graph(rng, n, extra)
    psi = rng.uniform(-5.0, 5.0, n)
    pl = _plant_arcs(rng, psi, tails, heads, tree, p_quadratic, negative, infinite)
    supply = _net_outflow(n, pl)
    names = [f"N{i}" for i in range(n)]
    problem = FlowProblem(_planted_network(names, supply, pl), name)
    objective = float(np.sum(pl.a * pl.flows**2 + pl.b * pl.flows))
    return _optimal(
        name,
        problem,
        objective,
        f"Planted (seed {seed}): random connected network of {n} nodes and {len(tails)} arcs; flows and "
        "potentials chosen first, arc costs derived from complementary slackness, supplies s = E p. "
        "Objective = sum of arc costs of the planted flows = q(psi) (eq. (4)).",
        _point(pl.flows, psi),
        flows=pl.flows,
        potentials=psi,
        tags=("planted",),
    )


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
    """All conformance cases, built fresh (deterministic: planted cases use fixed seeds).

    Each case is checked on construction (``check_case``): the witness is feasible, its objective
    equals the expected objective and the dual function q of eq. (4) at its potentials equals it too;
    stated flows, potentials and cell masses are unique. Certificates of infeasible and unbounded
    cases verify.
    """
    return [
        _path(),
        _parallel_routes(),
        _transshipment(),
        _negative_bounds(),
        _quadratic_split(),
        _tie_two_routes(),
        _zero_cost_arcs(),
        _planted_flow("planted_linear_12", 11, 12, 10, 0.0, False, True),
        _planted_flow("planted_quadratic_20", 12, 20, 20, 1.0, True, True),
        _planted_flow("planted_mixed_30", 13, 30, 35, 0.5, True, True),
        _planted_flow("planted_mixed_finite_25", 14, 25, 30, 0.4, True, False),
        _spatial_one_endpoint(),
        _spatial_two_endpoints(),
        _spatial_euclidean(),
        _spatial_capacity(),
        _spatial_forbidden(),
        _spatial_zero_mass(),
        _spatial_tie(),
        _planted_spatial("planted_spatial_matrix", 21, 10, 8, 4, 60),
        _planted_paper(),
        _infeasible_cut(),
        _infeasible_negative(),
        _infeasible_spatial(),
        _unbounded_cycle(),
        _unbounded_backward(),
    ]


# =============================================================================== self-checks
def _uniqueness(problem: FlowProblem, point: KnownPoint, tol: float = 1e-9) -> tuple[bool, bool]:
    """(primal point unique, potentials unique up to a constant), given an optimal ``point``.

    See the module docstring for the argument.
    """
    psi, flows = point.potentials, point.flows
    n = problem.n_nodes
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    t = psi[tails] - psi[heads]
    a, b = problem.costs.a, problem.costs.b
    cscale = max(1.0, float(np.abs(b).max(initial=0.0)), float(np.abs(t).max(initial=0.0)))
    free = (a == 0) & (np.abs(b - t) <= tol * cscale)
    fscale = max(1.0, float(np.abs(flows).max(initial=0.0)))
    interior = (flows - problem.lower > tol * fscale) & (problem.upper - flows > tol * fscale)
    free_pairs = [(int(tails[k]), int(heads[k])) for k in np.flatnonzero(free)]
    pinned = [(int(tails[k]), int(heads[k])) for k in np.flatnonzero(interior)]
    extra = 0
    if isinstance(problem, SpatialFlowProblem):
        ends = np.asarray(problem.endpoints)
        C = problem.cost_matrix()
        pos = np.flatnonzero(problem.demand.mass > 0)
        adj = C[pos] - psi[ends][None, :]
        mn = adj.min(axis=1, keepdims=True)
        ascale = max(1.0, float(np.abs(mn).max(initial=0.0)))
        is_min = adj <= mn + tol * ascale
        tied = np.flatnonzero(is_min.sum(axis=1) > 1)
        for q, row in enumerate(tied):
            for c in np.flatnonzero(is_min[row]):
                free_pairs.append((n + q, int(ends[c])))
        extra = tied.size
        if point.assignment is not None:
            plan = sp.csr_matrix(point.assignment)
            mscale = max(1.0, float(problem.demand.mass.max(initial=0.0)))
            for k in range(plan.shape[0]):
                row = plan.getrow(k)
                used = row.indices[row.data > tol * mscale]
                pinned.extend((int(ends[used[0]]), int(ends[c])) for c in used[1:])
    return is_forest(n + extra, free_pairs), is_connected(n, pinned)


def _close(x: float, y: float, rtol: float, atol: float) -> bool:
    return abs(x - y) <= atol + rtol * max(1.0, abs(y))


def _fail(case: ConformanceCase, msg: str) -> None:
    raise AssertionError(f"conformance case {case.name!r}: {msg}")


def check_case(case: ConformanceCase, rtol: float = 1e-9) -> None:
    """Self-check of a case; raises ``AssertionError`` naming the case and the check that failed.

    Optimal cases: the witness is feasible, its objective and the dual value q(psi) (eq. (4)) at its
    potentials both equal the expected objective -- strong duality, which proves the expected
    objective optimal -- and the stated flows, potentials and cell masses agree with the witness and
    are unique. Infeasible and unbounded cases: the certificate verifies from the problem data.
    """
    p, w = case.problem, case.witness
    if case.expected_status is Status.INFEASIBLE:
        if not isinstance(w, InfeasibilityCertificate) or not verify_infeasibility_certificate(p, w):
            _fail(case, "the stated infeasibility certificate does not verify")
        if find_infeasible_cut(p) is None:
            _fail(case, "the max-flow test finds the problem feasible")
        return
    if case.expected_status is Status.UNBOUNDED:
        if not isinstance(w, UnboundedCertificate) or not verify_unbounded_certificate(p, w):
            _fail(case, "the stated unbounded cycle does not verify")
        return
    if not isinstance(w, KnownPoint):
        _fail(case, "an optimal case needs a witness KnownPoint")
        return
    res = primal_residual(p, w.flows, w.assignment)
    if not res <= rtol:
        _fail(case, f"the witness is not feasible (residual {res:.3g})")
    obj = p.objective(w.flows, w.assignment)
    if not _close(obj, case.expected_objective, rtol, rtol):
        _fail(case, f"witness objective {obj!r} != expected {case.expected_objective!r}")
    q = dual_value(p, w.potentials)
    if not _close(q, case.expected_objective, rtol, rtol):
        _fail(case, f"q(psi) = {q!r} != expected objective {case.expected_objective!r} (no strong duality)")
    unique_primal, unique_psi = _uniqueness(p, w)
    if case.expected_flows is not None:
        if not unique_primal:
            _fail(case, "expected flows are stated but the optimal flows are not provably unique")
        if not np.allclose(case.expected_flows, w.flows, rtol=rtol, atol=rtol):
            _fail(case, "expected flows differ from the witness")
    if case.expected_cell_mass is not None:
        if not unique_primal:
            _fail(case, "expected cell masses are stated but the optimal plan is not provably unique")
        if w.cell_mass is None or not np.allclose(case.expected_cell_mass, w.cell_mass, rtol=rtol, atol=rtol):
            _fail(case, "expected cell masses differ from the witness")
    if case.expected_potentials is not None:
        if not unique_psi:
            _fail(case, "expected potentials are stated but psi is not provably unique up to a constant")
        diff = case.expected_potentials - w.potentials
        if not np.allclose(diff, diff.mean(), rtol=0, atol=rtol * max(1.0, float(np.abs(w.potentials).max()))):
            _fail(case, "expected potentials differ from the witness by more than a constant")


# =============================================================================== running a backend
@dataclass(frozen=True)
class ConformanceConfig:
    """How ``run_conformance`` solves and compares.

    Attributes
    ----------
    options : passed to ``otmodel.solve`` (``tol``, ``max_iter``, ...)
    rtol, atol : objective tolerance, ``|f - f*| <= atol + rtol * max(1, |f*|)``; also used for the
        dual value q(psi) and for the reported objective against the objective of the returned point
    point_rtol, point_atol : tolerance on flows, potentials (up to a constant) and cell masses,
        relative to the largest expected magnitude (at least 1)
    feas_tol : largest primal residual of the returned point, relative to the supply scale
    price_tol : round-off forgiven on linear arcs with an infinite bound when evaluating q(psi),
        relative to the largest linear cost (see ``dual_value``)
    check_potentials, check_dual : whether to compare potentials and q(psi) (turn off for a backend
        that returns no duals)
    optimal_statuses : statuses accepted where the answer is OPTIMAL (an iterative backend reports
        e.g. CONVERGED)
    allow_unsupported : a case the backend declares unsupported is skipped (True) or failed (False)
    cases : the cases to run (default: ``cases``)
    names : run only these case names
    exclude_tags : skip cases with any of these tags (e.g. ``{"linear"}`` for a method that needs
        strictly convex arc costs)
    """

    options: dict[str, Any] = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-7
    point_rtol: float = 1e-5
    point_atol: float = 1e-6
    feas_tol: float = 1e-6
    price_tol: float = 1e-7
    check_potentials: bool = True
    check_dual: bool = True
    optimal_statuses: tuple[Status, ...] = (Status.OPTIMAL,)
    allow_unsupported: bool = True
    cases: Sequence[ConformanceCase] | None = None
    names: Sequence[str] | None = None
    exclude_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConformanceResult:
    """One row of a report: a case, whether the backend passed it, and why not."""

    case: str
    passed: bool
    reason: str
    expected_status: Status
    status: Status | None
    expected_objective: float
    objective: float
    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class ConformanceReport:
    """The result of ``run_conformance``: one ``ConformanceResult`` per case."""

    backend: str
    rows: tuple[ConformanceResult, ...]
    config: ConformanceConfig

    @property
    def executed(self) -> int:
        """How many cases ran (were not skipped)."""
        return sum(1 for r in self.rows if not r.skipped)

    @property
    def passed(self) -> bool:
        """True when at least one case ran and no case failed (skipped cases do not fail).

        A run in which nothing executed -- no case selected, or every case skipped as unsupported
        -- proves nothing about the backend and does not pass (DESIGN.md, Testing).
        """
        return self.executed > 0 and all(r.passed for r in self.rows)

    @property
    def failures(self) -> list[ConformanceResult]:
        return [r for r in self.rows if not r.passed]

    @property
    def skipped(self) -> list[ConformanceResult]:
        return [r for r in self.rows if r.skipped]

    def summary(self) -> str:
        """A readable table, one line per case, then the totals."""
        w = max([len("case")] + [len(r.case) for r in self.rows])
        head = f"{'case':<{w}}  {'expected':<10}  {'got':<16}  {'objective':>14}  {'expected':>14}  {'time':>8}  result"
        lines = [f"conformance of backend {self.backend!r}", head, "-" * len(head)]
        for r in self.rows:
            got = r.status.value if r.status is not None else "-"
            res = "skipped" if r.skipped else "ok" if r.passed else "FAIL"
            if r.reason and not (r.passed and r.reason == "ok"):
                res += f": {r.reason}"
            lines.append(
                f"{r.case:<{w}}  {r.expected_status.value:<10}  {got:<16}  {r.objective:>14.8g}  "
                f"{r.expected_objective:>14.8g}  {r.seconds:>7.3f}s  {res}"
            )
        n_fail, n_skip = len(self.failures), len(self.skipped)
        lines.append("-" * len(head))
        lines.append(
            f"{len(self.rows) - n_fail - n_skip} passed, {n_fail} failed, {n_skip} skipped "
            f"of {len(self.rows)} cases: {'PASSED' if self.passed else 'FAILED'}"
            + ("" if self.executed else " (no case ran)")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _check_optimal(case: ConformanceCase, sol: Solution, cfg: ConformanceConfig) -> list[str]:
    p = case.problem
    errs: list[str] = []
    obj = float(sol.objective)
    if not _close(obj, case.expected_objective, cfg.rtol, cfg.atol):
        errs.append(f"objective {obj:.10g} != {case.expected_objective:.10g}")
    flows = np.asarray(sol.flows, dtype=float).reshape(-1)
    if flows.shape != (p.n_arcs,) or not np.all(np.isfinite(flows)):
        errs.append("no finite flows returned")
        return errs
    plan = sol.assignment
    res = primal_residual(p, flows, plan)
    if not res <= cfg.feas_tol:
        errs.append(f"returned point infeasible (relative residual {res:.3g})")
    point_obj = p.objective(flows, plan) if plan is not None or p.kind != "spatial" else math.nan
    if not _close(obj, point_obj, cfg.rtol, cfg.atol):
        errs.append(f"reported objective {obj:.10g} != objective of the returned point {point_obj:.10g}")

    def compare(name: str, got: NDArray[np.float64] | None, want: NDArray[np.float64], shift: bool = False) -> None:
        if got is None:
            errs.append(f"no {name} returned")
            return
        g = np.asarray(got, dtype=float).reshape(-1)
        if g.shape != want.shape or not np.all(np.isfinite(g)):
            errs.append(f"{name}: shape {g.shape} or non-finite values")
            return
        d = g - want
        ref = want
        if shift:
            d = d - d.mean()
            ref = want - want.mean()
        err = float(np.abs(d).max(initial=0.0))
        bound = cfg.point_atol + cfg.point_rtol * max(1.0, float(np.abs(ref).max(initial=0.0)))
        if err > bound:
            errs.append(f"{name} off by {err:.3g} (allowed {bound:.3g})")

    if case.expected_flows is not None:
        compare("flows", flows, case.expected_flows)
    if case.expected_cell_mass is not None:
        cm = sol.cell_mass
        if cm is None and plan is not None:
            cm = np.asarray(sp.csr_matrix(plan).sum(axis=0)).reshape(-1)
        compare("cell masses", cm, case.expected_cell_mass)
    psi = np.asarray(sol.potentials, dtype=float).reshape(-1)
    if cfg.check_potentials and case.expected_potentials is not None:
        compare("potentials (up to a constant)", psi, case.expected_potentials, shift=True)
    if cfg.check_dual:
        if psi.shape != (p.n_nodes,) or not np.all(np.isfinite(psi)):
            errs.append("no finite potentials returned for the dual check")
        else:
            ptol = cfg.price_tol * max(1.0, float(np.abs(p.costs.b).max(initial=0.0)))
            q = dual_value(p, psi, price_tol=ptol)
            if not _close(q, case.expected_objective, cfg.rtol, cfg.atol):
                errs.append(f"q(potentials) = {q:.10g} != optimum {case.expected_objective:.10g} (eq. (4))")
    return errs


def _check_case_result(case: ConformanceCase, sol: Solution, cfg: ConformanceConfig) -> list[str]:
    want = case.expected_status
    if want is Status.OPTIMAL:
        if sol.status not in cfg.optimal_statuses:
            return [f"status {sol.status.value}, expected {'/'.join(s.value for s in cfg.optimal_statuses)}"]
        return _check_optimal(case, sol, cfg)
    if sol.status is not want:
        return [f"status {sol.status.value}, expected {want.value}"]
    cert = sol.certificate
    if want is Status.INFEASIBLE:
        if not isinstance(cert, InfeasibilityCertificate):
            return ["no infeasibility certificate"]
        if not verify_infeasibility_certificate(case.problem, cert):
            return [f"infeasibility certificate does not verify ({cert.describe()})"]
    else:
        if not isinstance(cert, UnboundedCertificate):
            return ["no unbounded-cycle certificate"]
        if not verify_unbounded_certificate(case.problem, cert):
            return [f"unbounded certificate does not verify ({cert.describe()})"]
    return []


def run_conformance(backend: str, config: ConformanceConfig | None = None) -> ConformanceReport:
    """Solve every conformance case with ``backend`` and compare with the known answers.

    For each case: ``otmodel.solve(case.problem, backend=backend, **config.options)``, then

    * OPTIMAL cases: status (one of ``config.optimal_statuses``), objective, feasibility of the
      returned point, reported objective = objective of the returned point, flows, potentials up to
      a constant and cell masses where the case states them, and the dual value q(potentials) of
      eq. (4) equal to the optimum;
    * INFEASIBLE cases: status and a certificate that verifies from the problem data;
    * UNBOUNDED cases: status and a negative-cost cycle that verifies.

    A case the backend declares unsupported (``UnsupportedError``) is skipped
    when ``config.allow_unsupported``; any other exception fails the case. Returns a
    ``ConformanceReport``; ``report.passed`` is the verdict (false when no case ran),
    ``report.summary()`` the table.

    Raises
    ------
    UnsupportedError
        ``backend`` is not a registered backend name.
    """
    from otmodel.backends import available, get, solve

    if backend not in available():
        get(backend)  # raises the UnsupportedError naming the backends there are (not a run of skipped cases)
    cfg = config or ConformanceConfig()
    selected: Sequence[ConformanceCase] = cfg.cases if cfg.cases is not None else cases()
    if cfg.names is not None:
        wanted = set(cfg.names)
        unknown = wanted - {c.name for c in selected}
        if unknown:
            raise ValueError(f"unknown conformance cases: {', '.join(sorted(unknown))}")
        selected = [c for c in selected if c.name in wanted]
    selected = [c for c in selected if not (c.tags & cfg.exclude_tags)]
    rows = []
    for case in selected:
        t0 = time.perf_counter()
        sol: Solution | None = None
        skipped = False
        try:
            sol = solve(case.problem, backend=backend, **cfg.options)
        except UnsupportedError as exc:
            errs = [f"unsupported: {exc}"]
            skipped = cfg.allow_unsupported
        except Exception as exc:  # noqa: BLE001 -- a conformance run reports every failure as a row
            errs = [f"raised {type(exc).__name__}: {exc}"]
        else:
            try:
                errs = _check_case_result(case, sol, cfg)
            except Exception as exc:  # noqa: BLE001
                errs = [f"checking the solution raised {type(exc).__name__}: {exc}"]
        seconds = time.perf_counter() - t0
        rows.append(
            ConformanceResult(
                case=case.name,
                passed=skipped or not errs,
                reason="; ".join(errs) if errs else "ok",
                expected_status=case.expected_status,
                status=None if sol is None else sol.status,
                expected_objective=case.expected_objective,
                objective=math.nan if sol is None else float(sol.objective),
                seconds=seconds,
                skipped=skipped,
            )
        )
    return ConformanceReport(backend, tuple(rows), cfg)


# a selection helper for callers building their own configs
def select(predicate: Callable[[ConformanceCase], bool]) -> list[ConformanceCase]:
    """The cases satisfying ``predicate`` (e.g. ``lambda c: "quadratic" in c.tags``)."""
    return [c for c in cases() if predicate(c)]
