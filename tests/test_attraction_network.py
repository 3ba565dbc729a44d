"""The graph of an AttractionProblem is a ``Network`` (or a networkx graph), like the other problems'
(issue 11 item 1); weight matrices stay accepted. Answers by hand or by networkx's own shortest paths.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import otmodel as om
from otmodel.errors import InvalidDataError
from otmodel.results import Status


def path_network(**arc: float) -> om.Network:
    """a - b - c - d with lengths 1, 2, 0.5 (one-way arcs; the problem makes them two-way)."""
    net = om.Network()
    for name in "abcd":
        net.add_node(name)
    net.add_arc("a", "b", om.Linear(1.0), **arc)
    net.add_arc("b", "c", om.Linear(2.0))
    net.add_arc("c", "d", om.Linear(0.5))
    return net


RHO0 = [1.0, 0.0, 0.0, 0.0]
NU = [0.0, 0.0, 0.0, 1.0]


def test_a_network_is_read_as_edge_lengths() -> None:
    p = om.AttractionProblem(path_network(), RHO0, NU)
    assert p.node_names == ("a", "b", "c", "d")
    # shortest paths by hand on the path a-b-c-d (1, 2, 0.5), both ways
    by_hand = np.array([[0, 1, 3, 3.5], [1, 0, 2, 2.5], [3, 2, 0, 0.5], [3.5, 2.5, 0.5, 0]])
    np.testing.assert_allclose(p.cost, by_hand)
    assert p.network.n_arcs == 3  # the network given, as given
    with pytest.raises(om.UnreachableError, match="node 'a' cannot be reached from node 'b'"):
        om.AttractionProblem(path_network(), RHO0, NU, directed=True)  # one-way arcs: nothing reaches a


def test_a_networkx_graph_is_read_with_its_weights() -> None:
    g = nx.random_geometric_graph(12, 0.6, seed=4)
    for u, v in g.edges:
        g.edges[u, v]["weight"] = 0.5 + ((u * 7 + v * 3) % 5) / 4
    assert nx.is_connected(g)
    rho0, nu = np.eye(12)[0], np.eye(12)[11]
    p = om.AttractionProblem(g, rho0, nu)
    np.testing.assert_allclose(p.cost, nx.floyd_warshall_numpy(g, nodelist=sorted(g.nodes)), rtol=1e-12)


def test_capacities_come_from_the_arcs() -> None:
    # a one-way arc's capacity holds both ways on an undirected graph; lower < 0 gives the way back its own
    p = om.AttractionProblem(path_network(upper=0.3), [0.5, 0.5, 0, 0], NU)
    j, i, cap = p.step(p.rho0).allowed()
    caps = {(int(a), int(b)): float(c) for a, b, c in zip(j, i, cap, strict=True)}
    assert caps[(0, 1)] == caps[(1, 0)] == 0.3 and np.isinf(caps[(1, 2)]) and np.isinf(caps[(0, 0)])
    q = om.AttractionProblem(path_network(lower=-0.2, upper=0.3), [0.5, 0.5, 0, 0], NU)
    j, i, cap = q.step(q.rho0).allowed()
    caps = {(int(a), int(b)): float(c) for a, b, c in zip(j, i, cap, strict=True)}
    assert caps[(0, 1)] == 0.3 and caps[(1, 0)] == 0.2
    # a self-loop's upper bound caps the mass that stays
    net = path_network()
    net.add_arc("b", "b", upper=0.1)
    r = om.AttractionProblem(net, [0.5, 0.5, 0, 0], NU)
    j, i, cap = r.step(r.rho0).allowed()
    assert cap[(j == 1) & (i == 1)][0] == 0.1


def test_an_exact_flow_through_a_capacitated_edge_by_hand() -> None:
    """Two nodes, one edge of length 1 and capacity 0.3, omega = 0.1: the exact step
    min 0.1 x + 0.9 (1 - x) moves as much as it may, so rho_t[b] = 0.3, 0.6, 0.9, 1 and the total
    cost is W1 = 1."""
    net = om.Network().add_node("a").add_node("b").add_arc("a", "b", om.Linear(1.0), upper=0.3)
    p = om.AttractionProblem(net, [1.0, 0.0], [0.0, 1.0], omega=0.1, eps=1e-9)
    flow = om.solve(p, backend="highs")
    assert flow.status is Status.CONVERGED and flow.n_steps == 4
    np.testing.assert_allclose(flow.rhos[:, 1], [0.0, 0.3, 0.6, 0.9, 1.0], atol=1e-8)
    assert flow.total_cost == pytest.approx(1.0, abs=1e-8)


def test_the_matrix_form_gives_the_same_problem_as_its_network() -> None:
    W, _ = om.graph_family("small-world", 15, seed=2, weights=(0.5, 1.5))
    cap = (W > 0).astype(float) * 0.2
    cap = cap.tolil()
    cap[3, 3] = 0.05  # a capped stay: a self-loop in the network
    rho0, nu = np.eye(15)[0], np.eye(15)[9]
    p = om.AttractionProblem(W, rho0, nu, edge_capacity=cap.tocsr())
    q = om.AttractionProblem(p.network, rho0, nu)
    np.testing.assert_array_equal(q.cost, p.cost)
    np.testing.assert_array_equal(q.edge_capacity.toarray(), p.edge_capacity.toarray())
    assert (q._cap_pattern != p._cap_pattern).nnz == 0


@pytest.mark.parametrize(
    ("graph", "kwargs", "match"),
    [
        (path_network().add_node("e", supply=1.0), {}, r"node 'e': supply 1"),
        (om.Network().add_node("a").add_node("b").add_arc("a", "b", om.Quadratic(1.0)), {}, r"arc a->b: a quadratic"),
        (nx.path_graph(3), {}, r"arc 0->1: cost 0; .*'weight'"),
        (path_network(lower=0.1), {}, r"arc a->b: lower bound 0.1 > 0"),
        (path_network().add_arc("a", "b", om.Linear(3.0)), {}, r"two arcs join 'a' to 'b'"),
        (path_network(), {"names": list("wxyz")}, "a network names its own nodes"),
        (path_network(upper=1.0), {"edge_capacity": np.ones((4, 4))}, "give edge capacities once"),
    ],
)
def test_a_network_that_is_no_attraction_graph_is_refused_by_name(graph: object, kwargs: dict, match: str) -> None:
    n = 3 if isinstance(graph, nx.Graph) else (graph.n_nodes if isinstance(graph, om.Network) else 4)
    rho0, nu = np.eye(n)[0], np.eye(n)[n - 1]
    with pytest.raises(InvalidDataError, match=match):
        om.AttractionProblem(graph, rho0, nu, **kwargs)
