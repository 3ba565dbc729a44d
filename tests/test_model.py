"""The model: construction, views, and every bad input rejected with its typed error naming the item."""

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
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
)


def two_node(supply=1.0, demand=-1.0):
    net = om.Network()
    net.add_node("a", supply=supply).add_node("b", supply=demand)
    net.add_arc("a", "b", 2.0, 0, 5)
    return net


def test_incidence_and_views():
    net = om.Network()
    net.add_node("a", 1).add_node("b").add_node("c", -1)
    net.add_arc("a", "b", 1.0).add_arc("b", "c", om.Quadratic(2.0, 1.0), lower=-1, upper=3)
    E = net.incidence().toarray()
    assert E.tolist() == [[1, 0], [-1, 1], [0, -1]]
    p = om.FlowProblem(net)
    assert p.arc_names == ["a->b", "b->c"]
    assert p.costs.a.tolist() == [0.0, 2.0] and p.costs.b.tolist() == [1.0, 1.0]
    assert p.net_outflow([1.0, 1.0]).tolist() == [1.0, 0.0, -1.0]
    assert p.lower.tolist() == [0.0, -1.0] and math.isinf(p.upper[0])
    assert p.arc_index("b", "c") == 1


def test_problem_is_immutable_and_independent_of_builder():
    net = two_node()
    p = om.FlowProblem(net)
    net.add_node("z")
    assert p.n_nodes == 2
    with pytest.raises(ValueError):
        p.supply[0] = 3.0


def test_from_networkx_and_arrays_agree():
    g = nx.DiGraph()
    g.add_node("s", supply=2.0)
    g.add_node("m")
    g.add_node("t", supply=-2.0)
    g.add_edge("s", "m", cost=om.Quadratic(1.0), upper=3.0)
    g.add_edge("m", "t", cost=4.0, lower=-1.0)
    a = om.FlowProblem(om.Network.from_networkx(g, supply="supply", cost="cost", lower="lower", upper="upper"))
    b = om.FlowProblem(
        om.Network.from_arrays(
            ["s", "m", "t"], [2, 0, -2], ["s", "m"], [1, 2], quadratic=[1, 0], linear=[0, 4], lower=[0, -1], upper=[3, np.inf]
        )
    )
    for attr in ("supply", "tails", "heads", "lower", "upper"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr
    assert np.array_equal(a.costs.a, b.costs.a) and np.array_equal(a.costs.b, b.costs.b)


def test_local_response_matches_closed_form():
    costs = om.model.ArcCosts(np.array([2.0, 0.0, 0.0, 1.0]), np.array([1.0, 3.0, 3.0, 0.0]))
    lo, up = np.array([-1.0, 0.0, 0.0, -1.0]), np.array([1.0, 2.0, 2.0, 1.0])
    t = np.array([3.0, 5.0, 1.0, 10.0])
    p = costs.response(t, lo, up)
    # quadratic: (t - b) / 2a = 0.5; linear with t > b goes to upper, t < b to lower; clipped at 1
    assert p.tolist() == [0.5, 2.0, 0.0, 1.0]
    # brute force over a fine grid agrees
    for k in range(4):
        grid = np.linspace(lo[k], up[k], 20001)
        f = costs.a[k] * grid**2 + (costs.b[k] - t[k]) * grid
        assert abs(grid[np.argmin(f)] - p[k]) < 1e-3
        assert abs(f.min() - costs.conjugate_term(t, lo, up)[k]) < 1e-6


def test_grid_from_density_is_cell_centred_and_normalized():
    g = om.Grid.from_density(om.TruncatedGaussian((50, 75), 25), (0, 100, 0, 100), (4, 2))
    assert g.n == 8
    assert g.xy[0].tolist() == [12.5, 25.0] and g.xy[1].tolist() == [37.5, 25.0] and g.xy[4].tolist() == [12.5, 75.0]
    assert abs(g.total - 1.0) < 1e-15
    # truncated Gaussian is normalized on the box: its midpoint-rule integral is close to 1 unscaled
    raw = om.Grid.from_density(om.TruncatedGaussian((50, 75), 25), (0, 100, 0, 100), (200, 200), total=None)
    assert abs(raw.total - 1.0) < 1e-3
    assert raw.mass.argmax() == np.argmin(np.sum((raw.xy - [50, 75]) ** 2, axis=1))


def test_assignment_costs():
    pts = om.Points([[0.0, 0.0], [3.0, 4.0]], [0.5, 0.5])
    ends = np.array([[0.0, 0.0], [3.0, 0.0]])
    assert om.Euclidean().full(pts, ends).tolist() == [[0.0, 3.0], [5.0, 4.0]]
    assert om.SquaredEuclidean().full(pts, ends).tolist() == [[0.0, 9.0], [25.0, 16.0]]
    assert om.Manhattan().full(pts, ends).tolist() == [[0.0, 3.0], [7.0, 4.0]]
    assert om.Euclidean().block(pts, ends, 1, 2).tolist() == [[5.0, 4.0]]


def test_geodesic_is_shortest_path_through_graph():
    # path graph 0 - 1 - 2 - 3 with weights 1, 2, 3; endpoints at nodes 0 and 3; points at 1 and 2
    g = nx.Graph()
    g.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0)])
    cost = om.Geodesic(g, point_nodes=[1, 2], endpoint_nodes={"E0": 0, "E3": 3})
    net = om.Network()
    net.add_node("E0", supply=0.5, endpoint=True).add_node("E3", supply=0.5, endpoint=True)
    p = om.SpatialFlowProblem(net, om.Points([[0, 0], [1, 0]], [0.5, 0.5]), cost)
    assert p.cost_matrix().tolist() == [[1.0, 5.0], [3.0, 3.0]]
    assert cost.path(0, "E3") == [1, 2, 3]


def test_a_geodesic_cost_shared_by_two_problems_keeps_each_problems_columns():
    """One Geodesic object in two problems whose endpoints come in different orders: building the
    second must not change the first one's cost matrix (it once did, silently)."""
    g = nx.Graph()
    g.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0)])
    cost = om.Geodesic(g, point_nodes=[1, 2], endpoint_nodes={"E0": 0, "E3": 3})
    pts = om.Points([[0, 0], [1, 0]], [0.5, 0.5])
    a = om.Network()
    a.add_node("E0", supply=0.5, endpoint=True).add_node("E3", supply=0.5, endpoint=True)
    b = om.Network()
    b.add_node("E3", supply=1.0, endpoint=True)
    pa = om.SpatialFlowProblem(a, pts, cost)
    pb = om.SpatialFlowProblem(b, pts, cost)
    assert pa.cost_matrix().tolist() == [[1.0, 5.0], [3.0, 3.0]]
    assert pb.cost_matrix().tolist() == [[5.0], [3.0]]


# ------------------------------------------------------------------------------ bad input
def test_unbalanced_flow_problem():
    with pytest.raises(UnbalancedError, match=r"total supply 0.5 must equal zero"):
        om.FlowProblem(two_node(1.0, -0.5))


def test_unbalanced_spatial_problem_states_tolerance():
    net = om.Network()
    net.add_node("s", supply=0.7, position=(0, 0), endpoint=True)
    with pytest.raises(UnbalancedError, match=r"mu\(X\) = 1 within a relative tolerance of 1e-09"):
        om.SpatialFlowProblem(net, om.Points([[1, 1]], [1.0]), om.Euclidean())
    # within tolerance is accepted
    net2 = om.Network().add_node("s", supply=1.0 + 1e-12, position=(0, 0), endpoint=True)
    om.SpatialFlowProblem(net2, om.Points([[1, 1]], [1.0]), om.Euclidean())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_supply(bad):
    with pytest.raises(InvalidDataError, match=r"node 'x': supply"):
        om.Network().add_node("x", supply=bad)


def test_nan_cost_and_position():
    with pytest.raises(InvalidDataError, match=r"finite"):
        om.Quadratic(math.nan)
    with pytest.raises(InvalidDataError, match=r"node 'x': position"):
        om.Network().add_node("x", position=(0, math.inf))


def test_lower_above_upper_names_arc():
    net = om.Network().add_node("a").add_node("b")
    with pytest.raises(InvalidBoundsError, match=r"arc a->b: lower bound 2.0 exceeds upper bound 1.0"):
        net.add_arc("a", "b", 1.0, lower=2, upper=1)
    with pytest.raises(InvalidBoundsError, match=r"arc a->b: lower is NaN"):
        net.add_arc("a", "b", 1.0, lower=math.nan)


def test_unknown_and_duplicate_nodes():
    net = om.Network().add_node("a")
    with pytest.raises(DuplicateNodeError, match=r"'a'"):
        net.add_node("a")
    with pytest.raises(UnknownNodeError, match=r"arc a->zz: unknown node 'zz'"):
        net.add_arc("a", "zz", 1.0)
    with pytest.raises(UnknownNodeError, match=r"tails\[0\]: unknown node 'q'"):
        om.Network.from_arrays(["a", "b"], [0, 0], ["q"], ["b"])


def test_negative_mass_names_point():
    with pytest.raises(InvalidDataError, match=r"demand point 1: negative mass -0.1"):
        om.Points([[0, 0], [1, 1]], [1.0, -0.1])
    with pytest.raises(InvalidDataError, match=r"demand point 0: mass nan"):
        om.Points([[0, 0]], [math.nan])


def test_non_convex_cost():
    with pytest.raises(NonConvexError, match=r"not convex"):
        om.Quadratic(-1.0)
    with pytest.raises(NonConvexError, match=r"arc 0 \(a->b\)"):
        om.Network.from_arrays(["a", "b"], [0, 0], [0], [1], quadratic=[-2.0])


def test_spatial_problem_without_endpoints():
    net = om.Network().add_node("s", supply=1.0, position=(0, 0))
    with pytest.raises(UnreachableError, match=r"at least one endpoint"):
        om.SpatialFlowProblem(net, om.Points([[1, 1]], [1.0]), om.Euclidean())


def test_endpoint_without_position_for_planar_cost():
    net = om.Network().add_node("s", supply=1.0, endpoint=True)
    with pytest.raises(UnreachableError, match=r"endpoint 's' has none"):
        om.SpatialFlowProblem(net, om.Points([[1, 1]], [1.0]), om.Euclidean())


def test_endpoint_unreachable_by_matrix_or_geodesic():
    net = om.Network().add_node("e1", supply=0.5, endpoint=True).add_node("e2", supply=0.5, endpoint=True)
    pts = om.Points([[0, 0], [1, 1]], [0.5, 0.5])
    with pytest.raises(UnreachableError, match=r"endpoint 'e2' cannot be reached"):
        om.SpatialFlowProblem(net, pts, om.Matrix([[1.0, math.inf], [2.0, math.inf]]))
    with pytest.raises(UnreachableError, match=r"demand point 1 .* cannot be served"):
        om.SpatialFlowProblem(net, pts, om.Matrix([[1.0, 1.0], [math.inf, math.inf]]))
    g = nx.Graph()
    g.add_weighted_edges_from([(0, 1, 1.0), (2, 3, 1.0)])  # node 3 is cut off from the points
    with pytest.raises(UnreachableError, match=r"endpoint 'e2' cannot be reached"):
        om.SpatialFlowProblem(net, pts, om.Geodesic(g, [0, 1], {"e1": 0, "e2": 3}))
    with pytest.raises(InvalidDataError, match=r"shape \(2, 3\), expected \(2 points, 2 endpoints\)"):
        om.SpatialFlowProblem(net, pts, om.Matrix(np.ones((2, 3))))
    with pytest.raises(InvalidDataError, match=r"entry \[0, 1\] is nan"):
        om.Matrix([[1.0, math.nan]])


# ------------------------------------------------------------------ conveniences through the root
# The model layer imports no backend (issue 11): problem.save/to_cvxpy/to_pyomo call these public
# functions of the package root, which must behave as the backend modules' own functions.
def test_root_save_and_the_method_write_the_same_file(tmp_path):
    p = om.FlowProblem(two_node(), name="pair")
    p.save(tmp_path / "method.yaml")
    om.save(p, tmp_path / "root.json")
    for path in (tmp_path / "method.yaml", tmp_path / "root.json"):
        back = om.load(path)
        assert type(back) is om.FlowProblem and back.name == "pair"
        assert back.supply.tolist() == [1.0, -1.0] and back.costs.b.tolist() == [2.0]
        assert back.upper.tolist() == [5.0]
    assert p.to_dict() == om.model.io.problem_to_dict(p)


@pytest.mark.parametrize("build", [om.to_cvxpy, om.to_pyomo, lambda p: p.to_cvxpy(), lambda p: p.to_pyomo()])
def test_root_model_builders_solve_to_the_hand_optimum(build):
    # one unit from a to b on an arc of cost 2 per unit: the optimum is 2, the flow 1 (by hand)
    p = om.FlowProblem(two_node())
    sol = build(p).solve()
    assert sol.status is om.Status.OPTIMAL
    assert sol.objective == pytest.approx(2.0, rel=1e-7)
    assert sol.flows.tolist() == pytest.approx([1.0], rel=1e-7)
