"""Statuses with certificates on empty and extreme models (issue 10: D7, D8, D9) and self-loops.

Every exact backend of the registry; the answers are by hand. Each test here failed on main before
this change (statuses UNKNOWN / NUMERICAL_ERROR / an untyped error, or self-loops refused).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import otmodel as om
from otmodel.backends import exact_backends
from otmodel.certificates import verify_infeasibility_certificate, verify_unbounded_certificate

BACKENDS = exact_backends()


# ------------------------------------------------------------------------------ D7, D8, D9
@pytest.mark.parametrize("backend", BACKENDS)
def test_d7_one_node_without_arcs_is_optimal_zero(backend: str) -> None:
    p = om.FlowProblem(om.Network().add_node("a"))
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.OPTIMAL and sol.objective == 0.0 and sol.flows.size == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_d7_supplies_without_arcs_are_infeasible_with_a_certificate(backend: str) -> None:
    p = om.FlowProblem(om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0))
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.INFEASIBLE
    assert verify_infeasibility_certificate(p, sol.certificate)


@pytest.mark.parametrize("backend", BACKENDS)
def test_d8_subnormal_supplies_do_not_overflow_the_scale(backend: str) -> None:
    tiny = 5e-324
    net = om.Network().add_node("a", supply=tiny).add_node("b", supply=-tiny)
    net.add_arc("a", "b", 1.0).add_arc("a", "b", 2.0)
    p = om.FlowProblem(net)
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.OPTIMAL
    assert sol.flows.tolist() == [tiny, 0.0]  # by hand: all of it on the cheaper arc
    assert sol.objective == tiny


@pytest.mark.parametrize("backend", BACKENDS)
def test_d9_a_lower_bound_beyond_highs_infinity_is_infeasible_with_a_certificate(backend: str) -> None:
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0)
    net.add_arc("a", "b", 1.0, lower=1e25)
    p = om.FlowProblem(net)
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.INFEASIBLE
    assert verify_infeasibility_certificate(p, sol.certificate)


# ------------------------------------------------------------------------------ self-loops
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_negative_self_loop_without_bound_is_unbounded_and_named(backend: str) -> None:
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0)
    net.add_arc("a", "b", 1.0).add_arc("b", "b", -1.0)
    p = om.FlowProblem(net)
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.UNBOUNDED
    assert sol.certificate.nodes == ("b",) and sol.certificate.arcs == (("b->b", 1),)
    assert verify_unbounded_certificate(p, sol.certificate)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_self_loop_with_bounds_circulates_at_its_cost(backend: str) -> None:
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0)
    net.add_arc("a", "b", 1.0).add_arc("b", "b", -2.0, lower=0.5, upper=3.0).add_arc("a", "a", 4.0, lower=0.25)
    sol = om.solve(om.FlowProblem(net), backend=backend)
    assert sol.status is om.Status.OPTIMAL
    # by hand: 1 on a->b, the negative loop at its upper bound, the positive one at its lower
    assert np.allclose(sol.flows, [1.0, 3.0, 0.25], rtol=1e-9, atol=0)
    assert abs(sol.objective - (1.0 - 6.0 + 1.0)) <= 1e-9


def test_self_loops_in_the_model_and_the_file_format(tmp_path: Path) -> None:
    net = om.Network.from_arrays(["a", "b"], [1, -1], [0, 1], [1, 1], linear=[1.0, -1.0], upper=[np.inf, 2.0])
    p = om.FlowProblem(net)
    assert p.incidence[:, 1].nnz == 0  # a self-loop's column is empty
    path = tmp_path / "loop.yaml"
    p.save(path)
    q = om.load(path)
    assert q.tails.tolist() == [0, 1] and q.heads.tolist() == [1, 1] and q.upper.tolist() == [math.inf, 2.0]


def test_an_infeasible_problem_with_a_negative_self_loop_is_infeasible() -> None:
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0).add_arc("b", "b", -1.0)
    sol = om.solve(om.FlowProblem(net), backend="highs")
    assert sol.status is om.Status.INFEASIBLE  # unboundedness presupposes feasibility


def test_a_user_constraint_on_a_self_loop_is_kept() -> None:
    """The check settles a self-loop at its own optimum only on the problem as it is."""
    pyo = pytest.importorskip("pyomo.environ")
    net = om.Network().add_node("a", supply=1.0).add_node("b", supply=-1.0)
    net.add_arc("a", "b", 1.0).add_arc("b", "b", -2.0, upper=3.0)
    pm = om.FlowProblem(net).to_pyomo()
    pm.model.cap = pyo.Constraint(expr=pm.arc_flow("b", "b") <= 1.0)
    sol = pm.solve()
    assert sol.status is om.Status.OPTIMAL
    assert np.allclose(sol.flows, [1.0, 1.0], rtol=1e-9, atol=0)  # by hand: the loop at the user's cap
    assert abs(sol.objective - (1.0 - 2.0)) <= 1e-9
