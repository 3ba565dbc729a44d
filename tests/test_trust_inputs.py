"""Regression tests for issue 10, items D3-D6, D10-D12, D17 and F2: no silent wrong answer and no
untyped error on bad input.

Each test is one reproducer of the issue (or one member of its class); each failed on main before
the fix: an options NaN accepted, an OverflowError, a plain ValueError/TypeError/IndexError/
ZeroDivisionError, a numpy RuntimeWarning, a silently truncated value, or a lost arc identity.
"""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import otmodel as om
from otmodel.errors import (
    AmbiguousArcError,
    InvalidDataError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnsupportedError,
)

NAN = float("nan")
HUGE = 10**400  # an integer no float can hold
W2 = [[0.0, 1.0], [1.0, 0.0]]  # two nodes, one edge each way
CYCLE = [("a", "b"), ("b", "a")]


def _typed(fn: Any, match: str | None = None, error: type[Exception] = OTModelError) -> str:
    """Call ``fn``; it must raise ``error`` (an otmodel error) and no warning; return the message."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # D17: a RuntimeWarning before the typed error fails the test
        with pytest.raises(error, match=match) as info:
            fn()
    assert isinstance(info.value, OTModelError)
    return str(info.value)


def _pair_network(supply: float = 1.0) -> om.Network:
    net = om.Network()
    net.add_node("a", supply=supply).add_node("b", supply=-supply)
    net.add_arc("a", "b", om.Linear(1.0))
    return net


# ------------------------------------------------------------------------------------------- D5
@pytest.mark.parametrize("bad", [NAN, math.inf, -1e-9, "1e-9", True, None, [1e-9], HUGE])
def test_flow_problem_balance_rtol_is_checked_like_data(bad: Any) -> None:
    """D5: balance_rtol=NaN made supplies [1, 0] a valid problem (NaN comparisons are false)."""
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=0.0)
    net.add_arc("a", "b", 1.0)
    assert "balance_rtol" in _typed(lambda: om.FlowProblem(net, balance_rtol=bad))


def test_spatial_problem_balance_rtol_nan_is_refused() -> None:
    net = om.Network().add_node("E", supply=5.0, position=(0, 0), endpoint=True)
    demand = om.Points([[0.0, 0.0]], [1.0])  # unbalanced: supply 5, demand 1
    assert "balance_rtol" in _typed(lambda: om.SpatialFlowProblem(net, demand, om.Euclidean(), balance_rtol=NAN))
    with pytest.raises(UnbalancedError):  # the default tolerance still sees the imbalance
        om.SpatialFlowProblem(net, demand, om.Euclidean())


def test_graph_transport_balance_rtol_nan_is_refused() -> None:
    """D5: masses 1 vs 5 solved OPTIMAL with balance_rtol=NaN."""
    _typed(lambda: om.GraphTransportProblem(CYCLE, [1.0, 0.0], [0.0, 5.0], gamma=1.0, balance_rtol=NAN), "balance_rtol")
    _typed(
        lambda: om.GraphTransportProblem.from_supply(CYCLE, [1.0, -5.0], gamma=1.0, balance_rtol=NAN), "balance_rtol"
    )


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("mass_tol", NAN),
        ("mass_tol", -1.0),
        ("eps", NAN),
        ("eps", HUGE),
        ("eps", True),
        ("schedule_start", NAN),
        ("omega_first", "x"),
        ("omega_first", NAN),
        ("omega", HUGE),
        ("gamma", HUGE),
        ("directed", "no"),
        ("name", 3),
    ],
)
def test_attraction_options_are_checked_like_data(option: str, bad: Any) -> None:
    """D5: AttractionProblem(mass_tol=nan) renormalised a rho0 summing to 2 silently."""
    kwargs: dict[str, Any] = {option: bad}
    msg = _typed(
        lambda: om.AttractionProblem(W2, [1.0, 1.0] if option == "mass_tol" else [1.0, 0.0], [0.0, 1.0], **kwargs)
    )
    assert option.split("_")[0] in msg


def test_attraction_one_over_t_schedule_starting_at_zero_is_typed() -> None:
    _typed(lambda: om.AttractionProblem(W2, [1.0, 0.0], [0.0, 1.0], omega="1/t", schedule_start=0.0), "omega")


# ------------------------------------------------------------------------------------------- D6
@pytest.mark.parametrize("cost", [om.Euclidean(), om.SquaredEuclidean()])
def test_overflowing_assignment_cost_is_an_input_error(cost: om.AssignmentCost) -> None:
    """D6: a point at (1e155, 0) made the cost inf, read as a forbidden pair, and the problem was
    reported INFEASIBLE with a "verified" certificate. It is an input error naming the point."""
    net = om.Network().add_node("E", supply=1.0, position=(0.0, 0.0), endpoint=True)
    demand = om.Points([[0.0, 0.0], [1e155, 0.0]], [0.5, 0.5])
    msg = _typed(lambda: om.SpatialFlowProblem(net, demand, cost), error=InvalidDataError)
    assert "demand point 1" in msg and "'E'" in msg and "overflow" in msg


def test_large_but_finite_planar_costs_are_accepted() -> None:
    net = om.Network().add_node("E", supply=1.0, position=(0.0, 0.0), endpoint=True)
    p = om.SpatialFlowProblem(net, om.Points([[0.0, 0.0], [1e150, 0.0]], [0.5, 0.5]), om.SquaredEuclidean())
    assert p.cost_matrix()[1, 0] == pytest.approx(1e300, rel=1e-15)  # (1e150)^2, by hand


def test_overflowing_geodesic_path_lengths_are_an_input_error() -> None:
    """A path through two edges of weight 1e308 would be inf, i.e. "unreachable": refuse it."""
    g = np.array([[0, 1e308, 0], [1e308, 0, 1e308], [0, 1e308, 0]])
    _typed(lambda: om.Geodesic(g, [0, 2], {"E": 0}), "overflow")


# ------------------------------------------------------------------------------------------- D3
@pytest.mark.parametrize(
    "build",
    [
        lambda: om.Network().add_node("a", supply=HUGE),
        lambda: om.Network().add_node("a", supply=10**5000),  # str() of it raises ValueError
        lambda: om.Network().add_node("a", position=(HUGE, 0)),
        lambda: _pair_network().add_arc("a", "b", 1.0, upper=HUGE),
        lambda: _pair_network().add_arc("a", "b", 1.0, lower=-HUGE),
        lambda: _pair_network().add_arc("a", "b", HUGE),
        lambda: om.Linear(HUGE),
        lambda: om.Quadratic(1.0, HUGE),
        lambda: om.Points([[HUGE, 0]], [1.0]),
        lambda: om.Points([[0, 0]], [HUGE]),
        lambda: om.Matrix([[HUGE]]),
        lambda: om.Grid.from_density(om.Uniform(), (0, HUGE, 0, 1), (2, 2)),
        lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (2, 2), total=HUGE),
        lambda: om.Gaussian((HUGE, 0), 1.0),
        lambda: om.Network.from_arrays(["a", "b"], [HUGE, -1], [0], [1]),
        lambda: om.Network.from_arrays(["a", "b"], [1, -1], [0], [1], upper=[HUGE]),
        lambda: om.GraphTransportProblem(CYCLE, [HUGE, 0], [0, HUGE], gamma=1.0),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=HUGE),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=1.0, cost={("a", "b"): HUGE, ("b", "a"): 1}),
        lambda: om.AttractionProblem([[0, HUGE], [HUGE, 0]], [1, 0], [0, 1]),
        lambda: om.AttractionProblem(W2, [1, 0], [0, 1], storage=[HUGE, 1]),
        lambda: om.Geodesic([[0, HUGE], [HUGE, 0]], [0], {"E": 0}),
    ],
)
def test_integers_too_large_for_a_float_are_typed_errors(build: Any) -> None:
    """D3: 10**400 raised OverflowError at every conversion site."""
    msg = _typed(build)
    assert "too large" in msg or "finite" in msg


# ------------------------------------------------------------------------------------ D4, D10, D11
@pytest.mark.parametrize(
    "build",
    [
        lambda: om.Points("abc", 1.0),
        lambda: om.Points([[0, 1], [2]], 1.0),
        lambda: om.Points({"a": 1}, 1.0),
        lambda: om.Points([[0, 1]], "x"),
        lambda: om.Points([[0, 1]], [1j]),
        lambda: om.Points(np.zeros((0, 2)), []),
        lambda: om.Matrix("abc"),
        lambda: om.Matrix([[1, 2], [3]]),
        lambda: om.Matrix({"a": 1}),
        lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (2, 2), total="x"),
        lambda: om.Grid.from_density(om.Uniform(), "abcd", (2, 2)),
        lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), "ab"),
        lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (2, 2), total=[1.0]),
        lambda: om.Gaussian("ab", 1.0),
        lambda: om.Gaussian((0, 0), [[1], [1, 2]]),
        lambda: om.GraphTransportProblem(CYCLE, "ab", [0, 1], gamma=1.0),
        lambda: om.GraphTransportProblem(CYCLE, [[1], [0, 1]], [0, 1], gamma=1.0),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=1.0, cost="ab"),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=1.0, capacity=[[1], [1, 2]]),
        lambda: om.GraphTransportProblem([(["a"], "b"), ("b", "a")], [1, 0], [0, 1], gamma=1.0),
        lambda: om.GraphTransportProblem([("a", "b", 5), ("b", "a")], [1, 0], [0, 1], gamma=1.0),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=1.0, nodes=5),
        lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=1.0, gamma_scaling=["total"]),
        lambda: om.AttractionProblem("abc", [1, 0], [0, 1]),
        lambda: om.AttractionProblem([[0, 1], [1]], [1, 0], [0, 1]),
        lambda: om.AttractionProblem({"a": 1}, [1, 0], [0, 1]),
        lambda: om.AttractionProblem(W2, [1, 0], [0, 1], edge_capacity="ab"),
        lambda: om.AttractionProblem(W2, [1, 0], [0, 1], names="ab"),
        lambda: om.AttractionProblem(W2, [0, 0], [0, 1], mass_tol=2.0),
        lambda: om.Geodesic("abc", [0], {"E": 0}),
        lambda: om.Geodesic([[0, 1], [1]], [0], {"E": 0}),
        lambda: om.Geodesic(W2, ["x"], {"E": 0}),
        lambda: om.Geodesic(W2, [0], [0]),
        lambda: om.Geodesic(W2, 0, {"E": 0}),
        lambda: om.Geodesic(np.zeros((0, 0)), [], {}),
        lambda: om.Network.from_arrays(["a", "b"], "xy", [0], [1]),
        lambda: om.Network.from_arrays(["a", "b"], [1, -1], [0], [1], positions=[[0, 1], [2]]),
        lambda: om.Network.from_arrays(5, [1, -1], [0], [1]),
        lambda: om.Network.from_arrays(["a", "b"], [1, -1], [0], [1], upper="x"),
        lambda: om.Network.from_arrays(["a", "b"], [1, -1], [[0], [1, 2]], [1]),
        lambda: om.Network.from_arrays(["a", "b"], [1, -1], "ab", "ba"),
        lambda: om.Network().add_node("a", position="xy"),
        lambda: om.Network().add_node("a", position=[[0], [1, 2]]),
        lambda: om.Network().add_node("a", endpoint="no"),
    ],
)
def test_array_constructors_refuse_text_ragged_dict_and_empty_input(build: Any) -> None:
    """D4: plain ValueError/TypeError/AttributeError on text, ragged or dict input (about 60 cases)."""
    _typed(build)


def test_one_node_attraction_problem_is_built() -> None:
    """D10: ``AttractionProblem([[0.0]], [1.0], [1.0])`` raised IndexError (a graph without edges)."""
    p = om.AttractionProblem([[0.0]], [1.0], [1.0])
    assert p.n_nodes == 1 and p.n_edges == 0 and p.cost.tolist() == [[0.0]]


def test_edgeless_attraction_graph_is_unreachable_not_index_error() -> None:
    _typed(lambda: om.AttractionProblem(np.zeros((2, 2)), [1, 0], [0, 1]), "cannot be reached")


def test_grid_with_a_cell_area_below_the_float_range_is_typed() -> None:
    """D11: bounds 1e-200 wide have a cell area of 1e-400 = 0.0: ZeroDivisionError before."""
    msg = _typed(lambda: om.Grid.from_density(om.Uniform(), (0, 1e-200, 0, 1e-200), (2, 2)), "area")
    assert "grid bounds" in msg


def test_grid_wider_than_the_float_range_is_typed() -> None:
    _typed(lambda: om.Grid.from_density(om.Uniform(), (-1e308, 1e308, 0, 1), (2, 2)), "overflow")


# ------------------------------------------------------------------------------------------- D17
@pytest.mark.parametrize(
    "build",
    [
        lambda: om.Points([[0, 0], [1, 1]], [1e308, 1e308]),
        lambda: om.Grid.from_density(om.Gaussian((0, 0), 1e-300), (0, 1, 0, 1), (2, 2)),
        lambda: om.Grid.from_density(lambda xy: np.full(len(xy), 1e308), (0, 10, 0, 10), (2, 2), total=None),
        lambda: om.FlowProblem(om.Network().add_node("a", supply=1e308).add_node("b", supply=1e308)),
        lambda: om.GraphTransportProblem(CYCLE, [1e308, 1e308], [1e308, 1e308], gamma=1.0),
        lambda: om.AttractionProblem(W2, [1e308, 1e308], [0, 1]),
        lambda: om.AttractionProblem([[0, 1e308], [1e308, 0]], [1, 0], [0, 1], directed=True),
    ],
)
def test_no_runtime_warning_before_the_typed_error(build: Any) -> None:
    """D17: numpy RuntimeWarnings (overflow in a sum, division by an underflowed constant) leaked."""
    _typed(build)


def test_far_gaussian_tails_give_zero_density_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # cell centres at x = 2.5e199 and 7.5e199: the second is 5e200 standard deviations away
        g = om.Grid.from_density(om.Gaussian((2.5e199, 0.25), 0.1), (0, 1e200, 0, 1), (2, 2))
    r = math.exp(-12.5)  # the row y = 0.75 is 5 standard deviations from the mean y = 0.25
    assert g.mass.tolist() == pytest.approx([1 / (1 + r), 0.0, r / (1 + r), 0.0], rel=1e-12)


# -------------------------------------------------------------------------------------------- F2
@pytest.mark.parametrize("name", ["", "\ud800", True])
def test_node_names_a_model_file_cannot_hold_are_refused(name: Any) -> None:
    """F2: an empty node name was accepted by the API but refused by the file schema."""
    _typed(lambda: om.Network().add_node(name), "name")


def test_every_accepted_name_saves_and_loads(tmp_path: Path) -> None:
    net = om.Network()
    names = ["a->b", " ", "no", "1", "é", "x\ny", "null", "[1]", "#"]
    for k, nm in enumerate(names):
        net.add_node(nm, supply=1.0 if k == 0 else (-1.0 if k == 1 else 0.0))
    net.add_arc("a->b", " ", 1.0)
    p = om.FlowProblem(net, name="names: all of them")
    for ext in ("yaml", "json"):
        p.save(tmp_path / f"p.{ext}")
        q = om.load(tmp_path / f"p.{ext}")
        assert q.node_names == names and q.name == p.name


def test_grid_shape_must_be_integral() -> None:
    """F2: shape (2.5, 2) was truncated to (2, 2) silently."""
    _typed(lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (2.5, 2)), r"shape\[0\]")
    _typed(lambda: om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (True, 2)), r"shape\[0\]")
    g = om.Grid.from_density(om.Uniform(), (0, 1, 0, 1), (np.int64(3), 2.0))
    assert g.shape == (3, 2) and g.n == 6


def test_numpy_scalars_and_fractions_are_numbers_bool_is_not() -> None:
    """F2: ``AttractionProblem(eps=np.int64(3))`` was refused; numpy scalars are numbers."""
    p = om.AttractionProblem(W2, [1, 0], [0, 1], eps=np.int64(3), mass_tol=np.float32(1e-6), omega=np.float64(0.5))
    assert p.eps == 3.0 and type(p.eps) is float and p.omega_at(0) == 0.5
    net = om.Network().add_node("a", supply=np.int64(2)).add_node("b", supply=Fraction(-2))
    net.add_arc("a", "b", np.float32(1.5), upper=np.int32(5))
    assert net.supply.tolist() == [2.0, -2.0] and net.upper.tolist() == [5.0]
    _typed(lambda: om.AttractionProblem(W2, [1, 0], [0, 1], eps=True), "eps")
    _typed(lambda: om.Network().add_node("a", supply=True), "supply")
    _typed(lambda: om.GraphTransportProblem(CYCLE, [1, 0], [0, 1], gamma=True), "gamma")
    _typed(lambda: om.Points([[0, 0]], [True]), "booleans")


# ------------------------------------------------------------------------------------------- D12
def _parallel_solution() -> om.Solution:
    net = om.Network()
    net.add_node("A", supply=2.0).add_node("B", supply=-2.0)
    net.add_arc("A", "B", om.Linear(1.0), upper=1.0)
    net.add_arc("A", "B", om.Linear(3.0), upper=5.0)
    return om.solve(om.FlowProblem(net), backend="highs")


def test_parallel_arcs_keep_their_identity_in_to_dict_and_json() -> None:
    """D12: flows were keyed "A->B", so the second parallel arc overwrote the first."""
    sol = _parallel_solution()
    # by hand: the cheap arc carries its capacity 1, the dear one the other unit (cost 1 + 3 = 4)
    assert sol.objective == pytest.approx(4.0)
    d = json.loads(sol.to_json())
    assert d["flows"] == [
        {"arc": 0, "tail": "A", "head": "B", "flow": pytest.approx(1.0)},
        {"arc": 1, "tail": "A", "head": "B", "flow": pytest.approx(1.0)},
    ]
    assert sum(r["flow"] for r in d["flows"]) == pytest.approx(2.0)


def test_flow_by_name_on_parallel_arcs_asks_for_the_index() -> None:
    sol = _parallel_solution()
    msg = _typed(lambda: sol.flow("A", "B"), "parallel", error=AmbiguousArcError)
    assert "[0, 1]" in msg
    assert sol.problem.network.arc_indices("A", "B") == [0, 1]
    with pytest.raises(UnknownNodeError):
        sol.flow("B", "A")


def test_names_containing_the_arrow_keep_their_identity() -> None:
    """Arcs (A, B->C) and (A->B, C) both print as "A->B->C"; records keep tail and head apart."""
    net = om.Network()
    for nm, s in (("A", 1.0), ("B->C", 0.0), ("A->B", 0.0), ("C", -1.0)):
        net.add_node(nm, supply=s)
    net.add_arc("A", "B->C", 1.0)
    net.add_arc("A->B", "C", 1.0)
    net.add_arc("B->C", "A->B", 1.0)
    sol = om.solve(om.FlowProblem(net), backend="highs")
    flows = sol.to_dict()["flows"]
    assert [(r["tail"], r["head"]) for r in flows] == [("A", "B->C"), ("A->B", "C"), ("B->C", "A->B")]
    assert [r["flow"] for r in flows] == pytest.approx([1.0, 1.0, 1.0])
    assert sol.flow("A->B", "C") == pytest.approx(1.0)


def test_solution_views_raise_typed_errors() -> None:
    sol = _parallel_solution()
    _typed(sol.assigned_endpoint, error=UnsupportedError)
    _typed(lambda: sol.mass("A"), error=UnsupportedError)
    net = om.Network().add_node("E", supply=1.0, position=(0, 0), endpoint=True)
    sp_sol = om.solve(om.SpatialFlowProblem(net, om.Points([[0, 0]], [1.0]), om.Euclidean()), backend="highs")
    assert sp_sol.mass("E") == pytest.approx(1.0)
    _typed(lambda: sp_sol.mass("nope"), error=UnknownNodeError)


def test_sparse_complex_weights_are_typed() -> None:
    m = sp.csr_matrix(np.array([[0, 1 + 1j], [1, 0]]))
    _typed(lambda: om.AttractionProblem(m, [1, 0], [0, 1]), "complex")
    _typed(lambda: om.Geodesic(m, [0], {"E": 0}), "complex")


@pytest.mark.parametrize(
    "kwargs", [{"law": "x"}, {"c": "x"}, {"c": HUGE}, {"first": NAN}, {"start": "1"}, {"law": "callable"}]
)
def test_schedule_fields_are_checked_on_construction(kwargs: dict[str, Any]) -> None:
    """A Schedule with a text constant failed with ValueError only when the flow evaluated it."""
    from otmodel.model.attraction import Schedule

    _typed(lambda: Schedule(**kwargs))


def test_grid_points_must_match_the_recipe_it_is_saved_as() -> None:
    """A Grid is written as (bounds, shape, density): other points would load back as another problem."""
    xy, mass = [[0.5, 0.5]], [1.0]
    _typed(lambda: om.Grid(xy, mass, (0, 1, 0, 1), (2, 2), om.Uniform(), 1.0), "2 x 2|4 cells")
    _typed(lambda: om.Grid(xy, mass, (0, 1, 0, 1), (1.5, 1), om.Uniform(), 1.0), "shape")
    assert om.Grid(xy, mass, (0, 1, 0, 1), (1, 1), om.Uniform(), 1.0).n == 1


@pytest.mark.parametrize("storage", [[1e308, 1e308], [1.7976931348623157e308] * 2])
def test_storage_near_the_float_limit_checks_a_step_without_warning(storage: list[float]) -> None:
    """D17: the step check summed the room of the nodes (2e308: overflow warning) and multiplied
    the storage by (1 + 1e-12) (overflow at the largest float)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = om.AttractionProblem(W2, [1, 0], [0, 1], storage=storage)
        assert p.step(p.rho0).check() == []  # room enough: nothing fails
