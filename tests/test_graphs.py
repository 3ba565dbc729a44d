"""Graph families of section 4 (otmodel.model.graphs) and the GraphTransportProblem model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import otmodel as om
from otmodel.errors import InvalidBoundsError, InvalidDataError, UnbalancedError, UnknownNodeError
from otmodel.model import graphs as G
from otmodel.model.transport import GraphTransportProblem


@pytest.mark.parametrize(
    ("graph", "n", "m"),
    [
        (G.complete(5), 5, 20),
        (G.star(5), 5, 8),
        (G.ring(5), 5, 10),
        (G.ring(5, bidirectional=False), 5, 5),
        (G.line(5), 5, 8),
        (G.complete_bipartite(2, 3), 5, 12),
        (G.six_agents(), 6, 16),
    ],
)
def test_family_sizes_and_strong_connectivity(graph: object, n: int, m: int) -> None:
    assert graph.number_of_nodes() == n and graph.number_of_edges() == m  # type: ignore[attr-defined]
    assert G.is_strongly_connected(graph)
    assert sorted(graph.nodes) == list(range(1, n + 1))  # type: ignore[attr-defined]


def test_bidirectional_where_the_paper_says_so() -> None:
    for g in (G.complete(4), G.star(4), G.ring(4), G.line(4), G.complete_bipartite(2, 2), G.six_agents()):
        assert all(g.has_edge(v, u) for u, v in g.edges)
    one_way = G.complete_bipartite(2, 2, bidirectional=False)
    assert not G.is_strongly_connected(one_way)


@pytest.mark.parametrize("n", [2, 3, 10, 200])
def test_random_digraph_is_strongly_connected_and_seeded(n: int) -> None:
    g = G.random_strongly_connected(n, mean_degree=4, seed=7)
    assert G.is_strongly_connected(g)
    assert g.number_of_edges() == min(4 * n, n * (n - 1))
    assert all(u != v for u, v in g.edges)
    again = G.random_strongly_connected(n, mean_degree=4, seed=7)
    assert sorted(g.edges) == sorted(again.edges)
    if n >= 10:
        other = G.random_strongly_connected(n, mean_degree=4, seed=8)
        assert sorted(g.edges) != sorted(other.edges)


def test_family_errors_name_the_parameter() -> None:
    with pytest.raises(InvalidDataError, match="ring graph: n = 2"):
        G.ring(2)
    with pytest.raises(InvalidDataError, match="mean_degree"):
        G.random_strongly_connected(5, mean_degree=0.5)
    with pytest.raises(InvalidDataError, match="complete graph"):
        G.complete(1.5)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the model
def test_costs_are_quadratic_with_gamma_scaled_as_the_paper() -> None:
    g = G.ring(4)
    p = GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=0.5, cost=2.0)
    assert p.regularized_gamma == 0.5 and p.agent_gamma == pytest.approx(0.5 / 4)
    assert np.allclose(p.costs.a, 0.25) and np.allclose(p.costs.b, 2.0)
    q = GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=0.5, gamma_scaling="per_agent")
    assert q.regularized_gamma == pytest.approx(2.0) and q.agent_gamma == pytest.approx(0.5)
    assert np.allclose(q.costs.a, 1.0)
    lp = GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=0, capacity=1.0)
    assert lp.is_linear and np.all(lp.upper == 1.0)
    assert isinstance(lp, om.FlowProblem) and np.allclose(lp.rho, [1, 0, -1, 0])


def test_exact_backends_solve_the_lp_and_the_qp_unchanged() -> None:
    g = G.ring(6)
    r0 = {1: 0.5, 2: 0.5}
    r1 = {4: 0.7, 5: 0.3}
    lp = GraphTransportProblem(g, r0, r1, gamma=0, capacity=1.0)
    a, b = om.solve(lp, backend="highs"), om.solve(lp, backend="cvxpy")
    # W1 on a ring with unit costs: 0.5 -> 4 (3 hops) etc.; both solvers agree on the optimum
    assert a.objective == pytest.approx(b.objective, rel=1e-7)
    qp = lp.with_gamma(1.0)
    c, d = om.solve(qp, backend="cvxpy"), om.solve(qp, backend="highs")
    assert np.max(np.abs(c.flows - d.flows)) < 1e-5
    assert c.objective >= a.objective - 1e-9  # W1^gamma >= W1


def test_from_supply_and_edge_list() -> None:
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]
    p = GraphTransportProblem.from_supply(edges, {"a": 1, "c": -1}, gamma=1.0)
    assert p.node_names == ["a", "b", "c"] and np.allclose(p.rho, [1, 0, -1])
    s = om.solve(p)
    assert s.flow("a", "b") == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(UnbalancedError, match="rho sums to"):
        GraphTransportProblem.from_supply(edges, {"a": 1, "c": -0.5}, gamma=1.0)


def test_model_errors_name_the_item() -> None:
    g = G.ring(4)
    with pytest.raises(UnbalancedError, match="rho0 has total mass 1 but rho_inf has 0.9"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 0.9, 0], gamma=1)
    with pytest.raises(InvalidDataError, match="gamma = -0.1"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=-0.1)
    with pytest.raises(InvalidDataError, match="gamma = 0 needs finite capacities.*arc 1->2"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=0)
    with pytest.raises(InvalidDataError, match="rho0 at node '2' is -0.5"):
        GraphTransportProblem(g, [1.5, -0.5, 0, 0], [0, 0, 1, 0], gamma=1)
    with pytest.raises(InvalidDataError, match="arc 1->2: cost -1"):
        GraphTransportProblem(
            g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=1, cost={(u, v): (-1 if (u, v) == (1, 2) else 1) for u, v in g.edges}
        )
    with pytest.raises(InvalidBoundsError, match="capacity -1"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=1, capacity=-1)
    with pytest.raises(InvalidDataError, match="not strongly connected"):
        GraphTransportProblem(G.complete_bipartite(2, 2, bidirectional=False), [1, 0, 0, 0], [0, 0, 1, 0], gamma=1)
    with pytest.raises(UnknownNodeError, match="rho_inf: unknown node 9"):
        GraphTransportProblem(g, [1, 0, 0, 0], {9: 1.0}, gamma=1)
    with pytest.raises(UnknownNodeError, match="no arc 1->3"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=1, cost={(1, 3): 1.0})
    with pytest.raises(InvalidDataError, match="split"):
        GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=1, split="2.5")
    with pytest.raises(InvalidDataError, match="directed"):
        import networkx as nx

        GraphTransportProblem(nx.cycle_graph(4), [1, 0, 0, 0], [0, 0, 1, 0], gamma=1)
    with pytest.raises(InvalidDataError, match="edge list item 1"):
        GraphTransportProblem([(1, 2), (1, 2)], [1, 0], [0, 1], gamma=1)
    # infinite capacity is fine when gamma > 0
    assert math.isinf(GraphTransportProblem(g, [1, 0, 0, 0], [0, 0, 1, 0], gamma=1).upper[0])


def test_edge_attributes_are_read_when_asked() -> None:
    g = G.line(3)
    for k, (u, v) in enumerate(g.edges):
        g.edges[u, v]["cost"] = 1.0 + k
        g.edges[u, v]["capacity"] = 2.0
    p = GraphTransportProblem(g, [1, 0, 0], [0, 0, 1], gamma=0, cost=None, capacity=None)
    assert np.allclose(p.arc_cost, 1.0 + np.arange(4)) and np.all(p.capacity == 2.0)
    del g.edges[1, 2]["cost"]
    with pytest.raises(InvalidDataError, match="arc 1->2: no cost given"):
        GraphTransportProblem(g, [1, 0, 0], [0, 0, 1], gamma=0, cost=None, capacity=2.0)


def test_arc_components_strong_weak_and_restricted() -> None:
    # 0 <-> 1 -> 2 <-> 3: two strong components, one weak; without node 1, 0 is cut off
    tails, heads = [0, 1, 1, 2, 3], [1, 0, 2, 3, 2]
    n_strong, lab = G.arc_components(tails, heads, 4)
    assert n_strong == 2 and lab[0] == lab[1] and lab[2] == lab[3] and lab[0] != lab[2]
    assert G.arc_components(tails, heads, 4, strong=False)[0] == 1
    assert G.arc_components(tails, heads, 4, nodes=[0, 2, 3], strong=False)[0] == 2
