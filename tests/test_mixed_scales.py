"""Mixed scales, self-loops and empty or extreme models on every exact backend (issues 18 and 10).

The exact answers come from networkx's network simplex on integer data (the float problem is the
integer one times 1e-3), or by hand.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.backends import exact_backends
from otmodel.backends._checked import (
    CHECK_RTOL,
    check_point,
    network_flow_point,
    solve_checked,
)
from otmodel.backends._standard import choose_scales
from otmodel.errors import InvalidDataError
from otmodel.results import PointStatus, Solution, Status

BACKENDS = exact_backends()
UNIT = 1e-3  # the float problem is the integer problem times UNIT


def conservation_ok(problem: om.FlowProblem, flows: np.ndarray, rtol: float = 1e-9) -> bool:
    """Net outflow = supply at every node within rtol of the node's supply or throughput."""
    out = np.zeros(problem.n_nodes)
    thr = np.zeros(problem.n_nodes)
    for j, (t, h) in enumerate(zip(problem.tails, problem.heads, strict=True)):
        if t != h:
            out[t] += flows[j]
            out[h] -= flows[j]
            thr[t] += abs(flows[j])
            thr[h] += abs(flows[j])
    scale = np.maximum(np.abs(problem.supply), thr)
    return bool(np.all(np.abs(out - problem.supply) <= rtol * scale))


# ------------------------------------------------------------------------------ property test
@st.composite
def mixed_scale_network(draw: st.DrawFn) -> tuple[om.FlowProblem, int]:
    """A feasible, bounded network whose supplies span 1e-3 to 1e9, and its integer optimum.

    Supplies are integers times UNIT: ``m * 10**e`` units with ``e`` in 0..12, so that one network
    holds supplies of 1e-3 and 1e9 side by side. Every shipment also has a direct, uncapacitated,
    expensive arc (feasibility); other arcs have non-negative costs (boundedness) and capacities of
    mixed scales too.
    """
    n = draw(st.integers(3, 7))
    amount = st.builds(lambda m, e: m * 10**e, st.integers(1, 9), st.integers(0, 12))
    supply = [0] * n
    arcs: list[tuple[int, int, int, int | None]] = []  # tail, head, cost, capacity (units)
    for _ in range(draw(st.integers(1, 4))):
        src, dst = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        k = draw(amount)
        supply[src] += k
        supply[dst] -= k
        arcs.append((src, dst, 1000, None))
    for _ in range(draw(st.integers(0, 10))):
        t, h = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        cap = draw(st.none() | amount)
        arcs.append((t, h, draw(st.integers(0, 50)), cap))
    G = nx.MultiDiGraph()
    for i, s in enumerate(supply):
        G.add_node(i, demand=-s)
    for t, h, c, u in arcs:
        attrs = {"weight": c} if u is None else {"weight": c, "capacity": u}
        G.add_edge(t, h, **attrs)
    optimum = nx.network_simplex(G)[0]  # exact, in integers
    net = om.Network()
    for i, s in enumerate(supply):
        net.add_node(f"n{i}", supply=s * UNIT)
    for t, h, c, u in arcs:
        net.add_arc(f"n{t}", f"n{h}", float(c), 0.0, math.inf if u is None else u * UNIT)
    return om.FlowProblem(net), optimum


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_scale_network())
def test_mixed_scale_supplies_solve_to_the_integer_optimum(case: tuple[om.FlowProblem, int]) -> None:
    problem, optimum = case
    expected = optimum * UNIT
    # relative to the optimum, or to the problem's cost scale (largest cost x mass shipped) when
    # the optimum is 0
    floor = float(np.abs(problem.costs.b).max() * np.abs(problem.supply).sum() / 2)
    for backend in BACKENDS:
        sol = om.solve(problem, backend=backend)
        assert sol.status is om.Status.OPTIMAL, (backend, sol.status, sol.message)
        assert abs(sol.objective - expected) <= 1e-9 * max(abs(expected), floor), (backend, sol.objective, expected)
        assert conservation_ok(problem, np.asarray(sol.flows)), (backend, sol.info)


# ------------------------------------------------------------------------------ the verification
def faux_infinity() -> om.FlowProblem:
    """networkx's faux_infinity graph (issue 18): supplies 1e9 and 4 in one network."""
    net = om.Network()
    for name, s in [("s0", 1e9), ("s1", 4.0), ("ns", 0.0), ("nc", 0.0), ("c0", -4.0), ("c1", -1e9)]:
        net.add_node(name, supply=s)
    for t, h, c in [("s0", "ns", 1.0), ("s1", "ns", 1e9), ("ns", "nc", 1.0), ("nc", "c0", 1.0), ("nc", "c1", 1.0)]:
        net.add_arc(t, h, c)
    return om.FlowProblem(net)


def test_the_point_that_drops_a_small_supply_fails_the_check_at_that_node() -> None:
    p = faux_infinity()
    # the answer HiGHS gave on the old scaling: s1 ships nothing, c0 receives nothing
    wrong = np.array([1e9, 0.0, 1e9, 0.0, 1e9])
    verdict = check_point(p, wrong)
    assert not verdict.ok and verdict.worst in ("s1", "c0") and verdict.residual == 4.0
    right = np.array([1e9, 4.0, 1e9 + 4, 4.0, 1e9])
    assert check_point(p, right).ok


def test_the_scales_keep_the_smallest_supply_above_the_tolerance() -> None:
    kappa, sigma = choose_scales(faux_infinity())
    assert 4 * kappa >= 1e-2 and 1e9 * kappa <= 2.0**23
    assert math.log2(kappa).is_integer() and math.log2(sigma).is_integer()  # exact scaling


def _wrong_optimal(problem: om.FlowProblem, flows: np.ndarray) -> Solution:
    return Solution(
        problem=problem, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE,
        objective=problem.objective(flows), flows=flows, potentials=np.zeros(problem.n_nodes),
        backend="test", solver="planted",
    )


@pytest.mark.parametrize(
    ("backend", "fallback"), [("test", "HiGHS simplex vertex (fallback)"), ("highs", "network flow")]
)
def test_a_refused_point_falls_back_to_a_verified_one(backend: str, fallback: str) -> None:
    p = faux_infinity()
    wrong = np.array([1e9, 0.0, 1e9, 0.0, 1e9])
    sol = solve_checked(p, [("planted", lambda: _wrong_optimal(p, wrong))], backend)
    assert sol.status is Status.OPTIMAL and sol.info["attempt"] == fallback
    assert "s1" in sol.info["failed_attempts"][0] or "c0" in sol.info["failed_attempts"][0]
    assert sol.objective == 7_000_000_008.0  # by hand: 1e9 * 3 + 4 * (1e9 + 2)
    assert sol.flows.tolist() == [1e9, 4.0, 1e9 + 4, 4.0, 1e9]


def test_nothing_verified_is_a_numerical_error_naming_the_node() -> None:
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0)
    net.add_arc("a", "b", om.Quadratic(1.0))  # not linear: no network-flow fallback
    p = om.FlowProblem(net)
    sol = solve_checked(p, [("planted", lambda: _wrong_optimal(p, np.array([0.5])))], "test")
    assert sol.status is Status.NUMERICAL_ERROR
    assert sol.info["failing_node"] in ("a", "b") and "planted" in sol.info["failed_attempts"][0]
    assert sol.point_status is PointStatus.INFEASIBLE_POINT


def test_network_flow_point_is_exact_on_dyadic_data() -> None:
    net = om.Network().add_node("a", supply=0.75).add_node("m").add_node("b", supply=-0.75)
    net.add_arc("a", "m", 1.0, lower=0.25, upper=0.5).add_arc("a", "b", 3.0).add_arc("m", "b", 1.0, lower=-math.inf)
    flows, psi = network_flow_point(om.FlowProblem(net))  # type: ignore[misc]
    assert flows.tolist() == [0.5, 0.25, 0.5]  # by hand: the cheap path a-m-b saturates at 0.5
    # potentials: reduced costs >= 0 where flow can still move
    assert psi[0] - psi[2] <= 3.0 + 1e-12 and psi[0] - psi[1] >= 1.0 - 1e-12


# ------------------------------------------------------------------------------ from_networkx
def test_from_networkx_defaults_follow_networkx() -> None:
    G = nx.DiGraph()
    G.add_node("s", demand=-3)
    G.add_node("t", demand=3)
    G.add_edge("s", "t", weight=2, capacity=5)
    G.add_edge("t", "s")
    p = om.FlowProblem(om.Network.from_networkx(G))
    assert p.supply.tolist() == [3.0, -3.0]
    assert p.costs.b.tolist() == [2.0, 0.0] and p.upper.tolist() == [5.0, math.inf]


def test_from_networkx_undirected_edges_are_two_way_links() -> None:
    G = nx.Graph()
    G.add_node("a", demand=-1)
    G.add_node("b", demand=1)
    G.add_edge("a", "b", weight=3, capacity=2)
    G.add_edge("b", "b", weight=1)
    p = om.FlowProblem(om.Network.from_networkx(G))
    assert sorted(p.arc_names) == ["a->b", "b->a", "b->b"]
    assert om.solve(p, backend="highs").objective == 3.0


def test_from_networkx_keywords_read_otmodel_names_and_refuse_missing_ones() -> None:
    G = nx.DiGraph()
    G.add_node("s", supply=1.0)
    G.add_node("t", supply=-1.0)
    G.add_edge("s", "t", cost=om.Quadratic(2.0), lower=-1.0, upper=4.0)
    p = om.FlowProblem(om.Network.from_networkx(G, supply="supply", cost="cost", lower="lower", upper="upper"))
    assert p.supply.tolist() == [1.0, -1.0] and p.costs.a.tolist() == [2.0]
    assert p.lower.tolist() == [-1.0] and p.upper.tolist() == [4.0]
    with pytest.raises(InvalidDataError, match="capacity='cap'.*no edge"):
        om.Network.from_networkx(G, capacity="cap")
    with pytest.raises(InvalidDataError, match="demand='dem'.*no node"):
        om.Network.from_networkx(G, demand="dem")
    with pytest.raises(InvalidDataError, match="expects a networkx graph"):
        om.Network.from_networkx({"s": {"t": {}}})
    with pytest.raises(InvalidDataError, match="node 's': demand"):
        om.Network.from_networkx(_graph_with_demand("abc"))


def _graph_with_demand(value: object) -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_node("s", demand=value)
    return G


def test_every_exact_backend_reports_its_check() -> None:
    for backend in BACKENDS:
        sol = om.solve(faux_infinity(), backend=backend)
        assert sol.status is om.Status.OPTIMAL and "holds" in sol.info["check"]
        assert abs(sol.objective - 7_000_000_008.0) <= 7_000_000_008.0 * CHECK_RTOL
