"""networkx's own min-cost-flow test suite, run against every exact backend (issue 18).

Every graph built in networkx's ``networkx/algorithms/flow/tests/test_mincost.py`` and
``test_networksimplex.py`` is written here as data (nodes with their attributes, edges with theirs),
citing the test function it comes from; the netgen instance is the file networkx ships, loaded from
the installed package at run time. networkx's answer is computed at run time
(``nx.network_simplex``, whose exceptions name the outcome), never copied.

Each graph is converted to otmodel twice: by hand, from networkx's conventions (node ``demand`` =
-supply, edge ``weight`` = linear cost, ``capacity`` = upper bound, missing = infinite, lower bound 0,
multigraph edges as parallel arcs), and through ``Network.from_networkx`` with the same attribute
names networkx was given (its defaults when networkx used its defaults). Every exact backend of the
registry must then agree with networkx: the same outcome (optimal / infeasible with a cut that the
test re-checks from the data / unbounded with a negative cycle the test re-checks / a typed error
for what networkx rejects as invalid), the objective within 1e-9 relative, and flow conservation at
every node within 1e-9 of that node's own scale (its supply, or the flow through it when larger).
"""

from __future__ import annotations

import bz2
import importlib.resources
import math
import pickle
import re
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pytest

import otmodel as om
from otmodel.backends import exact_backends
from otmodel.errors import InvalidBoundsError, OTModelError, UnbalancedError

INF = math.inf
LV = 1_000_000_000  # the large value of test_network_simplex_faux_infinity

MINCOST = "test_mincost.py::TestMinCostFlow"
SIMPLEX = "test_networksimplex.py"


@dataclass
class Case:
    name: str
    source: str  # the networkx test function(s) building the graph
    edges: list[tuple[Any, ...]]  # (u, v, attrs) or, for multigraphs, (u, v, key, attrs)
    nodes: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    kind: type = nx.DiGraph
    kw: dict[str, Any] = field(default_factory=dict)  # attribute names given to networkx
    netgen: bool = False

    def graph(self) -> Any:
        if self.netgen:
            path = importlib.resources.files("networkx.algorithms.flow.tests") / "netgen-2.gpickle.bz2"
            with bz2.BZ2File(str(path), "rb") as f:
                return pickle.load(f)
        G = self.kind()
        for n, attrs in self.nodes:
            G.add_node(n, **attrs)
        for e in self.edges:
            # attributes through update(): test_digraph3 names them 0 and 1, not keywords
            if G.is_multigraph():
                G.add_edge(e[0], e[1], key=e[2])
                G[e[0]][e[1]][e[2]].update(e[3])
            else:
                G.add_edge(e[0], e[1])
                G[e[0]][e[1]].update(e[2])
        return G


def _simple_flow_graph(node_changes: dict[str, float] | None = None, edge_changes: Any = None) -> Case:
    """The ``simple_flow_graph`` fixture of test_networksimplex.py, with a test's changes."""
    nodes = {"a": 0, "b": -5, "c": 50000000, "d": -49999995}
    nodes.update(node_changes or {})
    edges = {("a", "b"): {"weight": 3, "capacity": 4}, ("a", "c"): {"weight": 6, "capacity": 10},
             ("b", "d"): {"weight": 1, "capacity": 9}, ("c", "d"): {"weight": 2, "capacity": 5}}
    for k, v in (edge_changes or {}).items():
        edges[k] = {**edges[k], **v}
    return Case("", "", [(u, v, a) for (u, v), a in edges.items()], [(n, {"demand": d}) for n, d in nodes.items()])


def _no_flow_graph(t_demand: int = 5, ac_tail: str = "a", cd_tail: str = "c") -> Case:
    """The ``simple_no_flow_graph`` fixture (and its twins in test_mincost.py)."""
    return Case(
        "", "",
        [("s", "a", {"weight": 1, "capacity": 3}), ("a", "b", {"weight": 3}),
         (ac_tail, "a" if ac_tail == "c" else "c", {"weight": -6}), ("b", "d", {"weight": 1}),
         (cd_tail, "c" if cd_tail == "d" else "d", {"weight": -2}), ("d", "t", {"weight": 1, "capacity": 3})],
        [("s", {"demand": -5}), ("t", {"demand": t_demand})],
    )


def _named(case: Case, name: str, source: str, **changes: Any) -> Case:
    case.name, case.source = name, source
    for k, v in changes.items():
        setattr(case, k, v)
    return case


def _faux(large_capacity: bool, large_demand: bool, large_weight: bool) -> Case:
    """test_network_simplex_faux_infinity on the faux_inf_example fixture (gh-7562)."""
    demand = {"s0": -4, "s1": -4, "ns": 0, "nc": 0, "c0": 4, "c1": 4}
    if large_demand:
        demand["s0"], demand["c1"] = -LV, LV
    e: dict[tuple[str, str], dict[str, int]] = {
        (u, v): {"weight": 1} for u, v in [("s0", "ns"), ("s1", "ns"), ("ns", "nc"), ("nc", "c0"), ("nc", "c1")]
    }
    if large_capacity:
        e[("s0", "ns")]["capacity"] = LV
    if large_weight:
        e[("s1", "ns")]["weight"] = LV
    tag = "-".join(k for k, on in (("cap", large_capacity), ("dem", large_demand), ("wt", large_weight)) if on)
    return Case(
        f"faux_infinity[{tag or 'none'}]", f"{SIMPLEX}::test_network_simplex_faux_infinity",
        [(u, v, a) for (u, v), a in e.items()], [(n, {"demand": d}) for n, d in demand.items()],
    )


TRANSSHIPMENT = Case(
    "transshipment", f"{MINCOST}.test_transshipment, {SIMPLEX}::test_transshipment",
    [("a", "c", {"weight": 3}), ("r", "a", {"weight": 2}), ("b", "a", {"weight": 9}), ("r", "c", {"weight": 0}),
     ("b", "r", {"weight": -6}), ("c", "d", {"weight": 5}), ("e", "r", {"weight": 4}), ("e", "f", {"weight": 3}),
     ("h", "b", {"weight": 4}), ("f", "d", {"weight": 7}), ("f", "h", {"weight": 12}), ("g", "d", {"weight": 12}),
     ("f", "g", {"weight": -1}), ("h", "g", {"weight": -10})],
    [(n, {"demand": d}) for n, d in
     [("a", 1), ("b", -2), ("c", -2), ("d", 3), ("e", -4), ("f", -4), ("g", 3), ("h", 2), ("r", 3)]],
)

MAX_FLOW_MIN_COST = [("s", "a", {"bandwidth": 6}), ("s", "c", {"bandwidth": 10, "cost": 10}), ("a", "b", {"cost": 6}),
                     ("b", "d", {"bandwidth": 8, "cost": 7}), ("c", "d", {"cost": 10}), ("d", "t", {"bandwidth": 5, "cost": 5})]
DIGRAPH2 = [("s", 1, {"capacity": 12}), ("s", 2, {"capacity": 6}), ("s", 3, {"capacity": 14}),
            (1, 2, {"capacity": 11, "weight": 4}), (2, 3, {"capacity": 9, "weight": 6}),
            (1, 4, {"capacity": 5, "weight": 5}), (1, 5, {"capacity": 2, "weight": 12}),
            (2, 5, {"capacity": 4, "weight": 4}), (2, 6, {"capacity": 2, "weight": 6}),
            (3, 6, {"capacity": 31, "weight": 3}), (4, 5, {"capacity": 18, "weight": 4}),
            (5, 6, {"capacity": 9, "weight": 5}), (4, "t", {"capacity": 3}), (5, "t", {"capacity": 7}),
            (6, "t", {"capacity": 22})]
DIGRAPH3 = [("s", "a", {0: 2, 1: 4}), ("s", "b", {0: 2, 1: 1}), ("a", "b", {0: 5, 1: 2}), ("a", "t", {0: 1, 1: 5}),
            ("b", "a", {0: 1, 1: 3}), ("b", "t", {0: 3, 1: 2})]
DIGON = [(1, 2, {"capacity": 3, "weight": 600000}), (2, 1, {"capacity": 2, "weight": 0}),
         (2, 3, {"capacity": 5, "weight": 714285}), (3, 2, {"capacity": 2, "weight": 0})]
DIGON_NODES = [(1, {}), (2, {"demand": -4}), (3, {"demand": 4})]
OR_TOOLS = ([0, 0, 1, 1, 1, 2, 2, 3, 4], [1, 2, 2, 3, 4, 3, 4, 4, 2], [15, 8, 20, 4, 10, 15, 4, 20, 5],
            [4, 4, 2, 2, 6, 1, 3, 2, 3], [20, 0, 0, -5, -15])
OR_TOOLS2 = ([0, 0, 1, 1, 1, 2, 2, 3, 4, 3], [1, 2, 2, 3, 4, 3, 4, 4, 2, 5], [15, 8, 20, 4, 10, 15, 4, 20, 5, 10],
             [4, 4, 2, 2, 6, 1, 3, 2, 3, 4], [23, 0, 0, -5, -15, -3])


def _or_tools(name: str, data: tuple[list[int], ...]) -> Case:
    start, end, cap, cost, supply = data
    return Case(
        name, f"{SIMPLEX}::test_{name}",
        [(u, v, {"weight": w, "capacity": c}) for u, v, c, w in zip(start, end, cap, cost, strict=True)],
        [(i, {"demand": -s}) for i, s in enumerate(supply)],
    )


CASES: list[Case] = [
    Case("simple_digraph", f"{MINCOST}.test_simple_digraph, {SIMPLEX}::test_simple_digraph",
         [("a", "b", {"weight": 3, "capacity": 4}), ("a", "c", {"weight": 6, "capacity": 10}),
          ("b", "d", {"weight": 1, "capacity": 9}), ("c", "d", {"weight": 2, "capacity": 5})],
         [("a", {"demand": -5}), ("d", {"demand": 5})]),
    _named(_no_flow_graph(5, "c", "d"), "negcycle_infcap", f"{MINCOST}.test_negcycle_infcap, {SIMPLEX}::test_negcycle_infcap"),
    _named(_no_flow_graph(4), "sum_demands_not_zero", f"{MINCOST}.test_sum_demands_not_zero, {SIMPLEX}::test_sum_demands_not_zero"),
    _named(_no_flow_graph(5), "no_flow_satisfying_demands",
           f"{MINCOST}.test_no_flow_satisfying_demands, {SIMPLEX}::test_no_flow_satisfying_demands"),
    TRANSSHIPMENT,
    Case("max_flow_min_cost", f"{MINCOST}.test_max_flow_min_cost", MAX_FLOW_MIN_COST,
         kw={"capacity": "bandwidth", "weight": "cost"}),
    Case("max_flow_min_cost+ts", f"{MINCOST}.test_max_flow_min_cost (edge t->s of cost -100 added)",
         [*MAX_FLOW_MIN_COST, ("t", "s", {"cost": -100})], kw={"capacity": "bandwidth", "weight": "cost"}),
    Case("max_flow_min_cost/defaults", f"{MINCOST}.test_max_flow_min_cost, read with networkx's default names",
         [*MAX_FLOW_MIN_COST, ("t", "s", {"cost": -100})]),
    Case("digraph1", f"{MINCOST}.test_digraph1, {SIMPLEX}::test_digraph1",
         [(1, 2, {"capacity": 15, "weight": 4}), (1, 3, {"capacity": 8, "weight": 4}), (2, 3, {"weight": 2}),
          (2, 4, {"capacity": 4, "weight": 2}), (2, 5, {"capacity": 10, "weight": 6}),
          (3, 4, {"capacity": 15, "weight": 1}), (3, 5, {"capacity": 5, "weight": 3}), (4, 5, {"weight": 2}),
          (5, 3, {"capacity": 4, "weight": 1})],
         [(1, {"demand": -20}), (4, {"demand": 5}), (5, {"demand": 15})]),
    Case("digraph2", f"{MINCOST}.test_digraph2", DIGRAPH2),
    Case("digraph2+ts", f"{MINCOST}.test_digraph2 (edge t->s of weight -100 added)",
         [*DIGRAPH2, ("t", "s", {"weight": -100})]),
    Case("digraph3", f"{MINCOST}.test_digraph3", DIGRAPH3, kw={"capacity": 0, "weight": 1}),
    Case("digraph3+ts", f"{MINCOST}.test_digraph3 (edge t->s of weight -100 added)",
         [*DIGRAPH3, ("t", "s", {1: -100})], kw={"capacity": 0, "weight": 1}),
    Case("zero_capacity_edges", f"{MINCOST}.test_zero_capacity_edges, {SIMPLEX}::test_zero_capacity_edges",
         [(1, 2, {"capacity": 1, "weight": 1}), (1, 5, {"capacity": 1, "weight": 1}),
          (2, 3, {"capacity": 0, "weight": 1}), (2, 5, {"capacity": 1, "weight": 1}),
          (5, 3, {"capacity": 2, "weight": 1}), (5, 4, {"capacity": 0, "weight": 1}),
          (3, 4, {"capacity": 2, "weight": 1})],
         [(1, {"demand": -1}), (2, {"demand": -1}), (4, {"demand": 2})]),
    Case("digon", f"{MINCOST}.test_digon, {SIMPLEX}::test_digon", DIGON, DIGON_NODES),
    Case("deadend", f"{MINCOST}.test_deadend, {SIMPLEX}::test_deadend",
         [(u, v, {"capacity": 20, "weight": 0.1}) for u, v in [(0, 2), (0, 3), (2, 1)]],
         [(0, {"demand": 0}), (1, {"demand": 0}), (2, {"demand": 0}), (3, {"demand": 13}), (4, {"demand": -13})]),
    Case("infinite_capacity_neg_digon",
         f"{MINCOST}.test_infinite_capacity_neg_digon, {SIMPLEX}::test_infinite_capacity_neg_digon",
         [(1, 2, {"weight": -600}), (2, 1, {"weight": 0}), (2, 3, {"capacity": 5, "weight": 714285}),
          (3, 2, {"capacity": 2, "weight": 0})], DIGON_NODES),
    Case("finite_capacity_neg_digon", f"{MINCOST}.test_finite_capacity_neg_digon",
         [("a", "b", {"capacity": 1, "weight": -1}), ("b", "a", {"capacity": 1, "weight": -1})]),
    Case("multidigraph", f"{MINCOST}.test_multidigraph, {SIMPLEX}::test_multidigraph",
         [(1, 2, 0, {"capacity": 1}), (2, 3, 0, {"capacity": 2})], kind=nx.MultiDiGraph),
    Case("negative_selfloop", f"{MINCOST}.test_negative_selfloops, {SIMPLEX}::test_negative_selfloops",
         [(1, 1, {"weight": -1})]),
    Case("negative_selfloop/capacity", f"{MINCOST}.test_negative_selfloops (capacity 2)",
         [(1, 1, {"weight": -1, "capacity": 2})]),
    Case("negative_selfloop/multi", f"{MINCOST}.test_negative_selfloops (MultiDiGraph)",
         [(1, 1, "x", {"weight": -1}), (1, 1, "y", {"weight": 1})], kind=nx.MultiDiGraph),
    Case("negative_selfloop/multi_capacity", f"{MINCOST}.test_negative_selfloops (MultiDiGraph, capacity 2)",
         [(1, 1, "x", {"weight": -1, "capacity": 2}), (1, 1, "y", {"weight": 1})], kind=nx.MultiDiGraph),
    Case("bone_shaped", f"{MINCOST}.test_bone_shaped, {SIMPLEX}::test_bone_shaped",
         [(0, 1, {"capacity": 4}), (0, 2, {"capacity": 4}), (4, 3, {"capacity": 4}), (5, 3, {"capacity": 4}),
          (0, 3, {"capacity": 0})],
         [(0, {"demand": -4}), (1, {"demand": 2}), (2, {"demand": 2}), (3, {"demand": 4}), (4, {"demand": -2}),
          (5, {"demand": -2})]),
    Case("exceptions/empty", f"{MINCOST}.test_exceptions, {SIMPLEX}::test_graphs_type_exceptions", []),
    Case("exceptions/empty_graph", f"{MINCOST}.test_exceptions, {SIMPLEX}::test_graphs_type_exceptions", [],
         kind=nx.Graph),
    Case("exceptions/empty_multigraph", f"{MINCOST}.test_exceptions, {SIMPLEX}::test_graphs_type_exceptions", [],
         kind=nx.MultiGraph),
    Case("exceptions/infinite_demand", f"{MINCOST}.test_exceptions", [], [(0, {"demand": INF})]),
    Case("exceptions/infinite_negative_weight", f"{MINCOST}.test_exceptions",
         [(0, 1, {"weight": -INF})], [(0, {"demand": 0}), (1, {"demand": 0})]),
    Case("exceptions/infinite_selfloop_weight", f"{MINCOST}.test_exceptions",
         [(0, 1, {"weight": 0}), (0, 0, {"weight": INF})], [(0, {"demand": 0}), (1, {"demand": 0})]),
    Case("exceptions/negative_capacity", f"{MINCOST}.test_exceptions",
         [(0, 1, {"weight": 0, "capacity": -1}), (0, 0, {"weight": 0})], [(0, {"demand": 0}), (1, {"demand": 0})]),
    Case("exceptions/negative_selfloop_capacity", f"{MINCOST}.test_exceptions",
         [(0, 1, {"weight": 0, "capacity": 0}), (0, 0, {"weight": 0, "capacity": -1})],
         [(0, {"demand": 0}), (1, {"demand": 0})]),
    Case("large", f"{MINCOST}.test_large, {SIMPLEX}::test_large (netgen-2.gpickle.bz2)", [], netgen=True),
    _named(_simple_flow_graph(), "simple_flow_graph", f"{SIMPLEX}::simple_flow_graph (fixture)"),
    _named(_simple_flow_graph({"a": INF}), "infinite_demand", f"{SIMPLEX}::test_infinite_demand_raise"),
    _named(_simple_flow_graph({"a": -INF}), "neg_infinite_demand", f"{SIMPLEX}::test_neg_infinite_demand_raise"),
    _named(_simple_flow_graph(None, {("a", "b"): {"weight": INF}, ("b", "d"): {"weight": INF}}), "infinite_weight",
           f"{SIMPLEX}::test_infinite_weight_raise"),
    _named(_simple_flow_graph({"b": -4}), "nonzero_net_demand", f"{SIMPLEX}::test_nonzero_net_demand_raise"),
    _named(_simple_flow_graph(None, {("a", "b"): {"weight": 1}, ("b", "d"): {"capacity": -9}}), "negative_capacity",
           f"{SIMPLEX}::test_negative_capacity_raise"),
    _or_tools("google_or_tools_example", OR_TOOLS),
    _or_tools("google_or_tools_example2", OR_TOOLS2),
    *[_faux(c, d, w) for c in (True, False) for d in (True, False) for w in (True, False)],
    Case("unbounded_flow", f"{SIMPLEX}::test_network_simplex_unbounded_flow",
         [("A", "B", {"weight": -5}), ("B", "C", {"weight": -5}), ("C", "A", {"weight": -5})],
         [("A", {}), ("B", {}), ("C", {})]),
]


# ------------------------------------------------------------------------------ networkx's answer
def networkx_answer(G: Any, kw: dict[str, Any]) -> tuple[str, float]:
    """networkx's outcome: ("optimal", cost), ("infeasible" | "unbounded" | "invalid", nan)."""
    nx_kw = {"capacity": kw.get("capacity", "capacity"), "weight": kw.get("weight", "weight")}
    try:
        cost, _ = nx.network_simplex(G, **nx_kw)
    except nx.NetworkXUnfeasible:
        return "infeasible", math.nan
    except nx.NetworkXUnbounded:
        return "unbounded", math.nan
    except (nx.NetworkXError, nx.NetworkXNotImplemented):
        return "invalid", math.nan
    return "optimal", float(cost)


# ------------------------------------------------------------------------------ conversion by hand
@dataclass
class Data:
    """The graph's min-cost-flow data read by hand from networkx's conventions."""

    names: list[str]
    supply: np.ndarray
    tails: list[int]
    heads: list[int]
    cost: np.ndarray
    upper: np.ndarray


def by_hand(G: Any, kw: dict[str, Any]) -> Data:
    cap, wt = kw.get("capacity", "capacity"), kw.get("weight", "weight")
    names = [str(n) for n in G.nodes]
    index = {n: k for k, n in enumerate(G.nodes)}
    supply = np.array([-float(d.get("demand", 0)) for _, d in G.nodes(data=True)])
    edges = list(G.edges(keys=True, data=True)) if G.is_multigraph() else list(G.edges(data=True))
    tails = [index[e[0]] for e in edges]
    heads = [index[e[1]] for e in edges]
    cost = np.array([float(e[-1].get(wt, 0)) for e in edges])
    upper = np.array([float(e[-1].get(cap, INF)) for e in edges])
    return Data(names, supply, tails, heads, cost, upper)


def problem_by_hand(d: Data) -> om.FlowProblem:
    net = om.Network()
    for name, s in zip(d.names, d.supply, strict=True):
        net.add_node(name, supply=s)
    for t, h, c, u in zip(d.tails, d.heads, d.cost, d.upper, strict=True):
        net.add_arc(d.names[t], d.names[h], cost=c, lower=0.0, upper=u)
    return om.FlowProblem(net)


# ------------------------------------------------------------------------------ independent checks
def check_conservation(d: Data, flows: np.ndarray, rtol: float = 1e-9) -> None:
    """Every node's net outflow equals its supply within rtol of its own supply or throughput."""
    n = len(d.names)
    out, thr = np.zeros(n), np.zeros(n)
    for j, (t, h) in enumerate(zip(d.tails, d.heads, strict=True)):
        if t != h:
            out[t] += flows[j]
            out[h] -= flows[j]
            thr[t] += abs(flows[j])
            thr[h] += abs(flows[j])
    scale = np.maximum(np.abs(d.supply), thr)
    bad = np.abs(out - d.supply) > rtol * scale
    assert not bad.any(), [(d.names[i], out[i], d.supply[i]) for i in np.flatnonzero(bad)]
    assert np.all(flows >= -rtol * np.maximum(1.0, np.abs(flows))), "negative flow"
    fin = np.isfinite(d.upper)
    assert np.all(flows[fin] <= d.upper[fin] * (1 + rtol) + rtol), "flow above capacity"


def check_cut(d: Data, cert: Any) -> None:
    """The certificate's node set has more net supply (or demand) than its cut can carry."""
    inside = np.array([name in set(cert.nodes) for name in d.names])
    assert inside.any()
    cap = 0.0
    for t, h, u in zip(d.tails, d.heads, d.upper, strict=True):
        leaving = inside[t] and not inside[h]
        entering = inside[h] and not inside[t]
        if (cert.direction == "out" and leaving) or (cert.direction == "in" and entering):
            cap += u
    net = float(d.supply[inside].sum()) * (1 if cert.direction == "out" else -1)
    assert net > cap, (cert, net, cap)


def check_cycle(d: Data, cert: Any) -> None:
    """The certificate's cycle uses uncapacitated arcs forward and costs less than zero per unit."""
    nodes = [d.names.index(v) for v in cert.nodes]
    total = 0.0
    for pos, (arc_name, direction) in enumerate(cert.arcs):
        assert direction == 1  # every lower bound is 0: no arc can be used backwards without limit
        u, v = nodes[pos], nodes[(pos + 1) % len(nodes)]
        costs = [c for t, h, c, up in zip(d.tails, d.heads, d.cost, d.upper, strict=True)
                 if (t, h) == (u, v) and up == INF and arc_name == f"{d.names[t]}->{d.names[h]}"]
        assert costs, (arc_name, cert)
        total += min(costs)
    assert total < 0


def check_against_networkx(problem: om.FlowProblem, d: Data, expected: tuple[str, float], backend: str) -> None:
    outcome, cost = expected
    sol = om.solve(problem, backend=backend)
    if outcome == "optimal":
        assert sol.status is om.Status.OPTIMAL, (sol.status, sol.message)
        assert abs(sol.objective - cost) <= 1e-9 * max(1.0, abs(cost)), (sol.objective, cost)
        check_conservation(d, np.asarray(sol.flows))
        by_us = float(np.dot(d.cost, sol.flows))
        assert abs(by_us - cost) <= 1e-9 * max(1.0, abs(cost))
    elif outcome == "infeasible":
        assert sol.status is om.Status.INFEASIBLE, (sol.status, sol.message)
        check_cut(d, sol.certificate)
    else:
        assert outcome == "unbounded"
        assert sol.status is om.Status.UNBOUNDED, (sol.status, sol.message)
        check_cycle(d, sol.certificate)


def refused_alike(exc: OTModelError, expected: tuple[str, float]) -> None:
    """What otmodel refuses on input, networkx refuses too: as invalid (NetworkXError), or as
    unfeasible for an input rule (total demand not zero: UnbalancedError; negative capacity:
    InvalidBoundsError)."""
    if expected[0] == "infeasible":
        assert isinstance(exc, (UnbalancedError, InvalidBoundsError)), exc
    else:
        assert expected[0] == "invalid", (expected, exc)


def test_every_graph_is_here() -> None:
    """The catalogue cites every test function of networkx's two min-cost-flow test files."""
    tests = importlib.resources.files("networkx.algorithms.flow.tests")
    cited = " ".join(c.source for c in CASES)
    for fname in ("test_mincost.py", "test_networksimplex.py"):
        names = re.findall(r"^\s*def (test_\w+)", (tests / fname).read_text(), re.M)
        assert len(names) > 10
        missing = [n for n in names if n not in cited]
        assert not missing, f"{fname}: {missing} not in the catalogue"
    assert len(CASES) >= 49


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("backend", exact_backends())
def test_backend_agrees_with_networkx(case: Case, backend: str) -> None:
    G = case.graph()
    expected = networkx_answer(G, case.kw)
    d = by_hand(G, case.kw)
    try:
        problem = problem_by_hand(d)
    except OTModelError as exc:
        refused_alike(exc, expected)
        return
    assert expected[0] != "invalid", f"networkx rejects the graph, otmodel accepted it: {problem!r}"
    check_against_networkx(problem, d, expected, backend)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_from_networkx_reads_networkx_conventions(case: Case) -> None:
    """``from_networkx`` with networkx's attribute names gives the by-hand problem and networkx's answer."""
    G = case.graph()
    expected = networkx_answer(G, case.kw)
    d = by_hand(G, case.kw)
    kw = {k: v for k, v in case.kw.items()}
    try:
        problem = om.FlowProblem(om.Network.from_networkx(G, **kw))
    except OTModelError as exc:
        refused_alike(exc, expected)
        return
    assert expected[0] != "invalid"
    assert problem.node_names == d.names
    assert problem.supply.tolist() == d.supply.tolist()
    assert problem.tails.tolist() == d.tails and problem.heads.tolist() == d.heads
    assert problem.costs.b.tolist() == d.cost.tolist() and not problem.costs.a.any()
    assert problem.upper.tolist() == d.upper.tolist() and not problem.lower.any()
    check_against_networkx(problem, d, expected, "highs")
