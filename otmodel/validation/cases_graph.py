r"""Known-answer cases of kind ``graph``: transport on a strongly connected digraph (Mokhtari et al.).

A ``GraphTransportProblem`` is the flow problem (2.1) (`\gamma = 0`, finite capacities) or its
regularization (2.4), arc costs `c_{ij}\pi + \frac{\Gamma}{2}\pi^2`. Every answer below is derived
by hand and proven as in ``otmodel.validation.cases``: a witness flow and potentials `\psi` with
objective `= q(\psi)` (weak duality makes both optimal), checked when the case is built; the
infeasible case carries a cut that is verified from the problem data.
"""

from __future__ import annotations

import math

from otmodel.model.transport import GraphTransportProblem
from otmodel.results import InfeasibilityCertificate
from otmodel.validation.cases import ConformanceCase, _infeasible, _optimal, _point

__all__ = ["cases"]

INF = math.inf


def _ring_w1() -> ConformanceCase:
    p = GraphTransportProblem(
        [("A", "B"), ("B", "C"), ("C", "A")], [1, 0, 0], [0, 0, 1], cost=1.0, capacity=2.0, name="ring W1"
    )
    return _optimal(
        "graph_ring_w1",
        p,
        2.0,
        "Directed ring A->B->C->A, unit costs, capacity 2, gamma = 0 (problem (2.1)): the unit at A reaches "
        "C only along A->B->C, W1 = 2. Both used arcs are strictly inside [0, 2], so psi_A - psi_B = "
        "psi_B - psi_C = 1: psi = (2, 1, 0); C->A at its lower bound has c = 1 >= psi_C - psi_A = -2.",
        _point([1, 1, 0], [2, 1, 0]),
        flows=[1, 1, 0],
        potentials=[2, 1, 0],
    )


def _regularized_diamond() -> ConformanceCase:
    arcs = [("S", "A"), ("A", "T"), ("S", "B"), ("B", "T"), ("T", "S")]
    cost = {("S", "A"): 1.0, ("A", "T"): 1.0, ("S", "B"): 2.0, ("B", "T"): 2.0, ("T", "S"): 1.0}
    p = GraphTransportProblem(
        arcs, {"S": 2, "A": 0, "B": 0, "T": 0}, {"S": 0, "A": 0, "B": 0, "T": 2}, cost=cost, gamma=2.0,
        name="regularized diamond", nodes=["S", "A", "B", "T"],
    )
    return _optimal(
        "graph_regularized_split",
        p,
        9.75,
        "Problem (2.4) with gamma = 2 (arc costs c p + p^2): S sends 2 to T over S-A-T (x, cost 2x + 2x^2) "
        "and S-B-T (y, cost 4y + 2y^2). Equal marginal costs 2 + 4x = 4 + 4y with x + y = 2 give x = 1.25, "
        "y = 0.75, objective 5.625 + 4.125 = 9.75; the return arc T->S stays empty (c'(0) = 1 > psi_T - "
        "psi_S). Every used arc is interior: psi_S - psi_A = 1 + 2 * 1.25 = 3.5 = psi_A - psi_T, "
        "psi_S - psi_B = 2 + 2 * 0.75 = 3.5 = psi_B - psi_T: psi = (S 7, A 3.5, B 3.5, T 0).",
        _point([1.25, 1.25, 0.75, 0.75, 0], [7, 3.5, 3.5, 0]),
        flows=[1.25, 1.25, 0.75, 0.75, 0],
        potentials=[7, 3.5, 3.5, 0],
    )


def _capacity_detour() -> ConformanceCase:
    arcs = [("A", "B"), ("B", "A"), ("B", "C"), ("C", "B"), ("A", "C"), ("C", "A")]
    cost = {("A", "B"): 1.0, ("B", "A"): 1.0, ("B", "C"): 1.0, ("C", "B"): 1.0, ("A", "C"): 1.0, ("C", "A"): 1.0}
    cap = {("A", "B"): 3.0, ("B", "A"): 3.0, ("B", "C"): 3.0, ("C", "B"): 3.0, ("A", "C"): 1.0, ("C", "A"): 3.0}
    p = GraphTransportProblem(arcs, [2, 0, 0], [0, 0, 2], cost=cost, capacity=cap, name="capacity detour")
    return _optimal(
        "graph_capacity_detour",
        p,
        3.0,
        "Complete digraph on A, B, C, unit costs, gamma = 0: A sends 2 to C. The direct arc A->C (cost 1) "
        "carries at most 1; the second unit detours A->B->C (cost 2): W1 = 1 + 2 = 3. A->B and B->C are "
        "interior: psi = (A 2, B 1, C 0); A->C at its upper bound has c = 1 <= psi_A - psi_C = 2.",
        _point([1, 0, 1, 0, 1, 0], [2, 1, 0]),
        flows=[1, 0, 1, 0, 1, 0],
        potentials=[2, 1, 0],
    )


def _infeasible_line() -> ConformanceCase:
    p = GraphTransportProblem.from_supply(
        [("A", "B"), ("B", "A"), ("B", "C"), ("C", "B")], [1, 0, -1], gamma=1.0, capacity=0.4, name="thin line"
    )
    return _infeasible(
        "graph_infeasible_capacity",
        p,
        InfeasibilityCertificate(("A",), 1.0, 0.4, "out"),
        "A must send 1 unit but its only outgoing arc A->B carries at most 0.4 (Assumption 2.1 fails).",
    )


def cases() -> list[ConformanceCase]:
    """The graph transport cases, built fresh and checked (``otmodel.validation.cases.cases``)."""
    return [_ring_w1(), _regularized_diamond(), _capacity_detour(), _infeasible_line()]
