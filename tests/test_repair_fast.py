"""The fast paths of the certificate's fixed costs (issue 14): the repair solved on the answer's
active set, and the feasibility check settled by one LP flow before any max-flow."""

from __future__ import annotations

import numpy as np
import pytest
from test_newton import many  # the same many-endpoint instance as the Newton tests

import otmodel as om
import otmodel.certificates as cert_mod
from otmodel.certificates import _aggregate, _feasible_by_lp, find_infeasible_cut, verify_infeasibility_certificate
from otmodel.validation.certificate import repair_point


@pytest.fixture(scope="module")
def answered() -> tuple[om.SpatialFlowProblem, om.Solution]:
    p = many(20, 30)
    return p, om.solve(p, backend="dual-ascent", step_size="newton", max_iter=30, tol=1e-12)


def test_active_set_repair_matches_an_independent_solver(answered: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = answered
    fast = repair_point(p, s.flows, s.assignment, s.potentials)
    ref = repair_point(p, s.flows, s.assignment, s.potentials, exact_backend="cvxpy")
    assert fast.ok and "active set" in fast.message, fast.message
    assert ref.ok and "solved by cvxpy" in ref.message
    # the same sub-problem (same plan): Clarabel's optimum, independently
    assert fast.objective == pytest.approx(ref.objective, rel=1e-9)
    assert fast.residual <= 1e-8
    assert np.all(fast.flows >= p.lower) and np.all(fast.flows <= p.upper)


def test_a_wrong_active_set_falls_back_to_the_backend(answered: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    """Every arc claimed at its upper bound: the KKT point on that set is not feasible, so the
    backend solves the sub-problem and the bound is the same as from the right active set."""
    p, s = answered
    wrong = np.asarray(p.upper, dtype=float).copy()
    rep = repair_point(p, wrong, s.assignment, s.potentials)
    ref = repair_point(p, s.flows, s.assignment, s.potentials, exact_backend="cvxpy")
    assert rep.ok and "solved by cvxpy" in rep.message, rep.message
    assert rep.objective == pytest.approx(ref.objective, rel=1e-7)


def test_feasible_problem_needs_no_max_flow(
    answered: tuple[om.SpatialFlowProblem, om.Solution], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, _ = answered

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("the max-flow ran on a problem an LP flow proves feasible")

    monkeypatch.setattr(cert_mod, "_maximum_flow", refuse)
    assert find_infeasible_cut(p) is None


def _two_nodes(excess: float) -> om.FlowProblem:
    net = om.Network()
    net.add_node("A", supply=1.0 + excess)
    net.add_node("B", supply=-(1.0 + excess))
    net.add_arc("A", "B", om.Quadratic(1.0), 0.0, 1.0)
    return om.FlowProblem(net)


@pytest.mark.parametrize("excess", [1e-8, 1e-3, 1.0])
def test_an_infeasible_problem_still_gets_its_verified_cut(excess: float) -> None:
    """A violation above rtol * scale (2e-9 here), even one inside HiGHS's own feasibility tolerance
    (1e-8 < 1e-7): the LP flow's residual is measured exactly, so the max-flow decides and returns a
    certificate that verifies."""
    p = _two_nodes(excess)
    assert not _feasible_by_lp(_aggregate(p), 1e-9 * 2.0)
    cut = find_infeasible_cut(p)
    assert cut is not None and verify_infeasibility_certificate(p, cut)


def test_a_violation_under_the_tolerance_is_feasible_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _two_nodes(1e-13)
    assert find_infeasible_cut(p) is None
    monkeypatch.setattr(cert_mod, "_feasible_by_lp", lambda agg, allowed: False)
    assert find_infeasible_cut(p) is None  # the max-flow agrees
