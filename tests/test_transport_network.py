"""Graph transport takes its graph as a ``Network``, like the other problems (issue 11: one graph type)."""

from __future__ import annotations

import networkx as nx
import pytest

import otmodel as om
from otmodel.model.transport import GraphTransportProblem

ARCS = [("a", "b", 1.0, 0.6), ("b", "c", 2.0, 2.0), ("c", "a", 1.5, 0.8), ("a", "c", 4.0, 0.5), ("c", "b", 1.0, 1.0)]
RHO0 = {"a": 0.7, "b": 0.2, "c": 0.1}
RHO1 = {"a": 0.1, "b": 0.3, "c": 0.6}


def _network() -> om.Network:
    net = om.Network()
    for name in "abc":
        net.add_node(name)
    for u, v, c, cap in ARCS:
        net.add_arc(u, v, om.Linear(c), 0.0, cap)
    return net


def _digraph() -> nx.DiGraph:
    g = nx.DiGraph()
    for u, v, c, cap in ARCS:
        g.add_edge(u, v, cost=c, capacity=cap)
    return g


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_a_network_reads_its_costs_and_capacities_like_the_edge_attributes(gamma: float) -> None:
    from_net = GraphTransportProblem(_network(), RHO0, RHO1, gamma=gamma)
    from_graph = GraphTransportProblem(_digraph(), RHO0, RHO1, cost=None, capacity=None, gamma=gamma)
    assert from_net.node_names == from_graph.node_names
    assert dict(zip(from_net.arc_names, from_net.upper, strict=True)) == dict(
        zip(from_graph.arc_names, from_graph.upper, strict=True)
    )
    a = om.solve(from_net, backend="highs")
    b = om.solve(from_graph, backend="cvxpy")
    assert a.objective == pytest.approx(b.objective, rel=1e-6, abs=1e-9)
    # and the network's costs were used, not the default unit cost
    unit = om.solve(GraphTransportProblem(_digraph(), RHO0, RHO1, capacity=None, gamma=gamma), backend="highs")
    assert abs(unit.objective - a.objective) > 1e-3


def test_costs_given_explicitly_override_the_networks() -> None:
    p = GraphTransportProblem(_network(), RHO0, RHO1, cost=1.0)
    assert set(p.costs.b) == {1.0}


def test_a_network_that_is_not_a_graph_transport_graph_is_refused() -> None:
    quad = _network()
    quad.add_arc("b", "a", om.Quadratic(1.0, 1.0), 0.0, 1.0)
    with pytest.raises(om.InvalidDataError, match="quadratic cost"):
        GraphTransportProblem(quad, RHO0, RHO1)
    low = _network()
    low.add_arc("b", "a", om.Linear(1.0), -1.0, 1.0)
    with pytest.raises(om.InvalidBoundsError, match="pi >= 0"):
        GraphTransportProblem(low, RHO0, RHO1)
    supplied = om.Network()
    supplied.add_node("a", supply=1.0)
    supplied.add_node("b", supply=-1.0)
    supplied.add_arc("a", "b", om.Linear(1.0), 0, 1)
    supplied.add_arc("b", "a", om.Linear(1.0), 0, 1)
    with pytest.raises(om.InvalidDataError, match="rho0 and rho_inf"):
        GraphTransportProblem(supplied, {"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0})
