r"""Known-answer cases of kind ``flow``: flow problems solved by hand, infeasible and unbounded ones, planted optima.

See ``otmodel.validation.cases`` for how each answer is proven (a witness with strong duality, or a
certificate verified from the problem data) and for the planting construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from otmodel.model.costs import ArcCost, Linear, Quadratic
from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem
from otmodel.results import InfeasibilityCertificate, UnboundedCertificate
from otmodel.validation.cases import (
    ConformanceCase,
    _infeasible,
    _network,
    _optimal,
    _point,
    _unbounded,
)

__all__ = ["cases"]

INF = math.inf


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


def _two_way_link() -> ConformanceCase:
    p = FlowProblem(
        _network(
            [("A", 1), ("B", -1)],
            [("A", "B", 2, 0, 1), ("B", "A", 1, -2, 2), ("B", "A", 0.5, 0, INF)],
        ),
        "two-way link",
    )
    return _optimal(
        "two_way_link_both_ways_charged",
        p,
        1.0,
        "A sends 1 to B: along A->B (cost 2) or against the two-way arc B->A (bounds [-2, 2], cost 1|p|: "
        "1 per unit either way), so p = (0, -1, 0), objective 1. Under the old signed reading (cost p) the "
        "cycle 'back on the two-way arc, forward on B->A (0.5)' earned 0.5 per unit: objective -1.5. "
        "psi_A - psi_B = -c'(-1) = 1 (the two-way arc is interior at slope -1); A->B at its lower bound "
        "(reduced cost 2 - 1 > 0), B->A one-way at 0 (0.5 + 1 > 0): q(psi) = psi_A = 1.",
        _point([0, -1, 0], [1, 0]),
        flows=[0, -1, 0],
        potentials=[1, 0],
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



# ------------------------------------------------------------------------------- infeasible cases
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



# ------------------------------------------------------------------------------- unbounded cases
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
            [("A", "B", 1, 0, INF), ("B", "C", 1, 0, INF), ("A", "C", Linear(3, signed=True), -INF, 0)],
        ),
        "negative cycle against an arc",
    )
    return _unbounded(
        "unbounded_backward_arc",
        p,
        UnboundedCertificate(("A", "B", "C"), (("A->B", 1), ("B->C", 1), ("A->C", -1)), -1.0),
        "Arc A->C has lower bound -inf and the signed cost 3 p (spelt signed=True: unsigned, 3|p| "
        "would charge backward flow too): pushing flow back from C to A earns 3 per unit, and "
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
        # the costs are planted as a p^2 + b p (complementary slackness with signed slopes): spelt
        # signed, since on a two-way arc the plain spelling means b|p|
        cost: ArcCost = Quadratic(pl.a[k], pl.b[k], signed=True) if pl.a[k] > 0 else Linear(pl.b[k], signed=True)
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



def cases() -> list[ConformanceCase]:
    """The flow cases, built fresh and checked (``otmodel.validation.cases.cases``)."""
    return [
        _path(),
        _parallel_routes(),
        _transshipment(),
        _negative_bounds(),
        _two_way_link(),
        _quadratic_split(),
        _tie_two_routes(),
        _zero_cost_arcs(),
        _planted_flow("planted_linear_12", 11, 12, 10, 0.0, False, True),
        _planted_flow("planted_quadratic_20", 12, 20, 20, 1.0, True, True),
        _planted_flow("planted_mixed_30", 13, 30, 35, 0.5, True, True),
        _planted_flow("planted_mixed_finite_25", 14, 25, 30, 0.4, True, False),
        _infeasible_cut(),
        _infeasible_negative(),
        _unbounded_cycle(),
        _unbounded_backward(),
    ]
