"""The array-first network model (issue 12, item 1): columns, vectorized checks, the same typed errors.

Answers are checked against networks built item by item (``add_node``/``add_arc``, the reference
rules) and against incidence matrices written out by hand, never against the code under test.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

import otmodel as om
from otmodel.errors import (
    DuplicateNodeError,
    InvalidBoundsError,
    InvalidDataError,
    NonConvexError,
    UnknownNodeError,
)
from otmodel.model.network import Network


def _columns(net: Network) -> dict[str, object]:
    return {
        "names": net.node_names,
        "arc_names": net.arc_names,
        "supply": net.supply.tolist(),
        "positions": np.nan_to_num(net.positions(), nan=-1234.5).tolist(),
        "endpoints": net.endpoint_mask.tolist(),
        "tails": net.tails.tolist(),
        "heads": net.heads.tolist(),
        "a": net.costs.a.tolist(),
        "b": net.costs.b.tolist(),
        "signed": net.signed.tolist(),
        "lower": net.lower.tolist(),
        "upper": net.upper.tolist(),
    }


def _random_arrays(seed: int, n: int = 40, m: int = 150) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    supply = rng.normal(size=n)
    supply -= supply.mean()
    lo = np.where(rng.random(m) < 0.3, -rng.random(m), 0.0)
    up = np.where(rng.random(m) < 0.3, np.inf, lo + rng.random(m))
    # b|p| on a two-way arc needs b >= 0 unless the cost is spelt signed (issue 15)
    signed = rng.random(m) < 0.3
    linear = rng.normal(size=m)
    linear = np.where((lo < 0) & ~signed, np.abs(linear), linear)
    return {
        "supply": supply,
        "tails": rng.integers(0, n, m),
        "heads": rng.integers(0, n, m),
        "quadratic": np.where(rng.random(m) < 0.5, rng.random(m), 0.0),
        "linear": linear,
        "signed": signed,
        "lower": lo,
        "upper": up,
        "positions": rng.random((n, 2)),
        "endpoints": rng.random(n) < 0.2,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_from_arrays_equals_the_network_built_item_by_item(seed: int) -> None:
    d = _random_arrays(seed)
    names = [f"n{i}" for i in range(d["supply"].size)]
    fast = Network.from_arrays(names, **d)
    ref = Network()
    for i, nm in enumerate(names):
        ref.add_node(nm, d["supply"][i], d["positions"][i], bool(d["endpoints"][i]))
    for k in range(d["tails"].size):
        sg = bool(d["signed"][k])
        cost = (
            om.Quadratic(d["quadratic"][k], d["linear"][k], signed=sg) if d["quadratic"][k] > 0
            else om.Linear(d["linear"][k], signed=sg)
        )
        ref.add_arc(names[d["tails"][k]], names[d["heads"][k]], cost, d["lower"][k], d["upper"][k])
    assert _columns(fast) == _columns(ref)
    assert fast.nodes == ref.nodes and fast.arcs == ref.arcs


def test_from_arrays_without_names_calls_node_i_by_i() -> None:
    net = Network.from_arrays(None, [1.0, 0.0, -1.0], np.array([0, 1, 0]), np.array([1, 2, 2]), linear=[1.0, 2.0, 5.0])
    assert net.node_names == ["0", "1", "2"]
    assert net.arc_names == ["0->1", "1->2", "0->2"]
    assert net.index("2") == 2 and net.index(2) == 2
    p = om.FlowProblem(net)
    assert p.arc_index("1", "2") == 1 and p.node_names == ["0", "1", "2"]
    # adding a named node later keeps the implicit names of the first three
    net.add_node("x").add_arc("x", 0)
    assert net.node_names == ["0", "1", "2", "x"] and net.arc_names[-1] == "x->0"
    assert p.n_nodes == 3 and p.n_arcs == 3  # the problem kept its own copy
    sol = om.solve(p, backend="highs")
    assert sol.objective == pytest.approx(3.0)  # 1 + 2 along 0->1->2, cheaper than 5 on 0->2


def test_incidence_matches_the_hand_written_matrix() -> None:
    # arcs a->b, b->c, c->a, a->a (self-loop: empty column), c->b; node order a, b, c
    net = Network.from_arrays(["a", "b", "c"], [0, 0, 0], ["a", "b", "c", "a", "c"], ["b", "c", "a", "a", "b"])
    expected = np.array(
        [
            [1, 0, -1, 0, 0],
            [-1, 1, 0, 0, -1],
            [0, -1, 1, 0, 1],
        ],
        dtype=float,
    )
    E = net.incidence()
    assert E.format == "csr"
    for i in range(3):  # each row's columns in increasing order (canonical CSR)
        cols = E.indices[E.indptr[i] : E.indptr[i + 1]]
        assert np.all(np.diff(cols) > 0)
    assert np.array_equal(E.toarray(), expected)
    assert E[:, 3].nnz == 0


def test_integer_labels_mean_a_node_named_so_first() -> None:
    # as add_arc(7, ...) does: the label 7 is the node called "7" (index 1), not node index 7
    names = ["a", "7", "b", "c", "d", "e", "f", "g"]
    net = Network.from_arrays(names, np.zeros(8), np.array([7, 0]), np.array([2, 7]))
    ref = Network()
    for nm in names:
        ref.add_node(nm)
    ref.add_arc(7, "b").add_arc("a", 7)
    assert net.tails.tolist() == [1, 0] and net.heads.tolist() == [2, 1]
    assert net.arc_names == ref.arc_names == ["7->b", "a->7"]


def test_from_arrays_names_the_first_offending_arc_among_many() -> None:
    n, m = 1000, 200_000
    rng = np.random.default_rng(5)
    tails, heads = rng.integers(0, n, m), rng.integers(0, n, m)
    k = 123_457
    bad_cost = np.zeros(m)
    bad_cost[k] = np.nan
    with pytest.raises(InvalidDataError, match=rf"arc {k} \({tails[k]}->{heads[k]}\): arc cost coefficient b"):
        Network.from_arrays(None, np.zeros(n), tails, heads, linear=bad_cost)
    quad = np.zeros(m)
    quad[k] = -1.0
    with pytest.raises(NonConvexError, match=rf"arc {k} "):
        Network.from_arrays(None, np.zeros(n), tails, heads, quadratic=quad)
    lo, up = np.zeros(m), np.ones(m)
    lo[k], lo[k + 1] = 2.0, np.nan
    with pytest.raises(InvalidBoundsError, match=rf"arc {tails[k]}->{heads[k]}: lower bound 2.0 exceeds upper bound 1.0"):
        Network.from_arrays(None, np.zeros(n), tails, heads, lower=lo, upper=up)
    lo[k] = 0.0
    with pytest.raises(InvalidBoundsError, match=rf"arc {tails[k + 1]}->{heads[k + 1]}: lower is NaN"):
        Network.from_arrays(None, np.zeros(n), tails, heads, lower=lo, upper=up)
    bad_tails = tails.copy()
    bad_tails[k] = n
    with pytest.raises(UnknownNodeError, match=rf"tails\[{k}\]: node index {n} out of range 0..{n - 1}"):
        Network.from_arrays(None, np.zeros(n), bad_tails, heads)
    with pytest.raises(UnknownNodeError, match=rf"heads\[{k}\]: node index -1 out of range"):
        Network.from_arrays(None, np.zeros(n), tails, np.where(np.arange(m) == k, -1, heads))


def test_from_arrays_names_the_offending_node() -> None:
    s = np.zeros(50_000)
    s[31_000] = np.inf
    with pytest.raises(InvalidDataError, match=r"node '31000': supply must be a finite number, got inf"):
        Network.from_arrays(None, s, [0], [1])
    names = [f"v{i}" for i in range(50_000)]
    names[40_000] = "v17"
    with pytest.raises(DuplicateNodeError, match=r"node 'v17' is defined twice"):
        Network.from_arrays(names, np.zeros(50_000), [0], [1])
    pos = np.zeros((3, 2))
    pos[2, 1] = np.nan
    with pytest.raises(InvalidDataError, match=r"node 'c': position y must be a finite number"):
        Network.from_arrays(["a", "b", "c"], [0, 0, 0], [0], [1], positions=pos)
    with pytest.raises(InvalidDataError, match=r"node name is empty"):
        Network.from_arrays(["a", ""], [0, 0], [0], [1])
    with pytest.raises(UnknownNodeError, match=r"tails\[1\]: unknown node 'z'"):
        Network.from_arrays(["a", "b"], [0, 0], ["a", "z"], ["b", "a"])


def test_problem_is_independent_of_later_additions() -> None:
    net = Network.from_arrays(["a", "b"], [1.0, -1.0], [0], [1], linear=[2.0])
    p = om.FlowProblem(net)
    net.add_node("c", supply=0.0).add_arc("b", "c", 1.0).add_arc("a", "c", 1.0)
    assert p.n_arcs == 1 and p.arc_names == ["a->b"] and p.node_names == ["a", "b"]
    assert p.incidence.shape == (2, 1)
    q = om.FlowProblem(net)
    assert q.arc_names == ["a->b", "b->c", "a->c"] and q.incidence.shape == (3, 3)


# ------------------------------------------------------------------------------------ networkx
def _graphs() -> list[object]:
    g = nx.DiGraph()
    g.add_node("s", demand=-3, pos=(0, 1), endpoint=True)
    g.add_node(2, demand=1.5)
    g.add_node("t", demand=1.5)
    g.add_edge("s", 2, weight=2, capacity=4)
    g.add_edge(2, "t", weight=1.5)
    g.add_edge("s", "t", weight=7, capacity=10)
    g.add_edge("t", "t", weight=-1, capacity=2)
    und = nx.Graph()
    und.add_nodes_from([(0, {"demand": -1}), (1, {}), (2, {"demand": 1})])
    und.add_edges_from([(2, 1, {"weight": 3}), (0, 1, {"weight": 1, "capacity": 5}), (1, 1, {"weight": 4})])
    multi = nx.MultiDiGraph()
    multi.add_edge("a", "b", weight=1, capacity=1)
    multi.add_edge("a", "b", weight=3)
    multi.add_edge("b", "a", weight=2)
    multi.nodes["a"]["demand"] = -2
    multi.nodes["b"]["demand"] = 2
    return [g, und, multi]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_from_networkx_columns_equal_the_item_by_item_reading(which: int) -> None:
    g = _graphs()[which]
    fast = Network.from_networkx(g)
    edges = list(g.edges(keys=True, data=True) if g.is_multigraph() else g.edges(data=True))
    keys = dict(demand=None, weight=None, capacity=None, supply=None, cost=None, lower=None, upper=None,
                position="pos", endpoint="endpoint")
    ref = Network._from_networkx_items(list(g.nodes(data=True)), edges, g.is_directed(), keys)
    assert _columns(fast) == _columns(ref)
    # and the answer is networkx's own
    assert om.solve(om.FlowProblem(fast), backend="highs").objective == pytest.approx(nx.min_cost_flow_cost(g if g.is_directed() else g.to_directed()))


def test_from_networkx_reads_arc_cost_objects_and_otmodel_attributes() -> None:
    g = nx.DiGraph()
    g.add_node("s", supply=2.0)
    g.add_node("t", supply=-2.0)
    g.add_edge("s", "t", cost=om.Quadratic(1.5, 0.5), lower=-1.0, upper=3.0)
    g.add_edge("t", "s", cost=4)
    net = Network.from_networkx(g, supply="supply", cost="cost", lower="lower", upper="upper")
    assert net.costs.a.tolist() == [1.5, 0.0] and net.costs.b.tolist() == [0.5, 4.0]
    assert net.lower.tolist() == [-1.0, 0.0] and net.upper.tolist() == [3.0, math.inf]


@pytest.mark.parametrize(
    ("attrs", "error", "message"),
    [
        ({"weight": "cheap"}, InvalidDataError, r"arc 1->2: arc cost 'cheap' is neither a number"),
        ({"weight": True}, InvalidDataError, r"arc 1->2: arc cost True"),
        ({"capacity": float("nan")}, InvalidBoundsError, r"arc 1->2: upper is NaN"),
        ({"capacity": -1.0}, InvalidBoundsError, r"arc 1->2: lower bound 0.0 exceeds upper bound -1.0"),
    ],
)
def test_from_networkx_bad_edge_value_names_the_edge(attrs: dict[str, object], error: type, message: str) -> None:
    g = nx.path_graph(4, create_using=nx.DiGraph)
    g.edges[1, 2].update(attrs)
    with pytest.raises(error, match=message):
        Network.from_networkx(g)


def test_from_networkx_bad_node_value_names_the_node() -> None:
    g = nx.path_graph(4, create_using=nx.DiGraph)
    g.nodes[2]["demand"] = "lots"
    with pytest.raises(InvalidDataError, match=r"node '2': demand = 'lots' is not a number"):
        Network.from_networkx(g)
    g.nodes[2]["demand"] = 0.0
    g.nodes[3]["pos"] = (1.0, float("inf"))
    with pytest.raises(InvalidDataError, match=r"node '3': position y must be a finite number"):
        Network.from_networkx(g)


@pytest.mark.parametrize("kind", [nx.DiGraph, nx.Graph, nx.MultiDiGraph, nx.MultiGraph])
def test_edge_arrays_follow_networkx_edge_order(kind: type) -> None:
    from otmodel.model._network_read import edge_arrays

    rng = np.random.default_rng(3)
    g = kind()
    g.add_nodes_from(["z", 4, "a"])
    for _ in range(60):
        u, v = (int(x) for x in rng.integers(0, 12, 2))
        g.add_edge(u if u % 5 else "z", v, weight=float(rng.random()))
    nodes = list(g.nodes(data=True))
    order = [nd for nd, _ in nodes]
    tails, heads, data = edge_arrays(g, nodes)
    expected = list(g.edges(keys=True, data=True) if g.is_multigraph() else g.edges(data=True))
    assert [(order[t], order[h]) for t, h in zip(tails.tolist(), heads.tolist(), strict=True)] == [e[:2] for e in expected]
    assert all(d is e[-1] for d, e in zip(data, expected, strict=True))


def test_network_and_problem_pickle_with_rows_not_yet_joined() -> None:
    import pickle

    net = Network.from_arrays(None, [1.0, -1.0], np.array([0]), np.array([1]), linear=[3.0])
    net.add_node("x", position=(1.0, 2.0)).add_arc(1, "x", om.Quadratic(2.0), -1.0, 1.0)  # pending rows
    back = pickle.loads(pickle.dumps(net))
    assert _columns(back) == _columns(net)
    assert back.arcs[1] == om.model.network.Arc("1", "x", om.Quadratic(2.0), -1.0, 1.0)
    p = om.FlowProblem(back)
    q = pickle.loads(pickle.dumps(p))
    assert q.arc_names == ["0->1", "1->x"] and np.array_equal(q.incidence.toarray(), p.incidence.toarray())


def test_numeric_names_are_exactly_how_python_writes_integers() -> None:
    from otmodel.model._network_read import numeric_names

    names = ["a", "12", "007", "-3", "x\n5", "5", "\u0661", "-0", "0", "1"]
    # "12" (index 1), "-3" (3), "5" (5), "0" (8); "1" names node 9, not node 1: kept too.
    # "007", "-0" and the Arabic-Indic one are no str(int); "x\n5" holds a newline, not a number
    assert numeric_names(names) == {12: 1, -3: 3, 0: 8, 1: 9}
    assert numeric_names([f"v{i}" for i in range(1000)]) == {}
    assert numeric_names([str(i) for i in range(1000)]) == {}  # every one names its own index
    net = Network.from_arrays(names, np.zeros(len(names)), [5, 1, 9], [12, -3, 0])
    # 5 -> node "5"; 1 -> node "1" (index 9); 9 names no node, so it is index 9
    assert net.tails.tolist() == [5, 9, 9] and net.heads.tolist() == [1, 3, 8]


def test_record_views_follow_additions() -> None:
    net = Network().add_node("a", supply=1.0).add_node("b", supply=-1.0).add_arc("a", "b", 2.0)
    first = net.arcs
    assert net.arcs is first  # kept between additions: a loop over net.nodes[i] is not quadratic
    net.add_arc("b", "a", om.Quadratic(1.0), -1.0, 1.0)
    assert [a.name for a in net.arcs] == ["a->b", "b->a"] and net.arcs[1].cost == om.Quadratic(1.0)
    net.add_node("c", position=(3.0, 4.0), endpoint=True)
    assert net.nodes[2] == om.model.network.Node("c", 0.0, (3.0, 4.0), True)
    assert len(first) == 1
