"""cross_check(): identical answers agree; perturbed ones disagree with the right numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import small_spatial

import otmodel as om
from otmodel.instances import synthetic
from otmodel.validation import CrossCheck, cross_check


@pytest.fixture(scope="module")
def syn() -> tuple[om.SpatialFlowProblem, om.Solution]:
    p = synthetic(20)
    return p, om.solve(p, backend="highs")


def test_identical_solutions_agree(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    cc = cross_check(p, s, s)
    assert isinstance(cc, CrossCheck) and cc.agree and bool(cc)
    assert cc.objective_diff == 0.0 and cc.max_flow_diff == 0.0
    assert cc.same_endpoint_share == 1.0 and cc.potential_spread == 0.0
    assert "AGREE" in cc.summary()


def test_exact_backends_agree() -> None:
    p = small_spatial(True)
    a, b = om.solve(p, backend="highs"), om.solve(p, backend="cvxpy")
    cc = cross_check(p, a, b)
    assert cc.agree, cc.summary()
    assert cc.objective_rel_diff <= 1e-8


def test_perturbed_flows_disagree_with_the_right_numbers(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    flows = s.flows.copy()
    flows[2] += 0.1
    b = dataclasses.replace(s, flows=flows, backend="perturbed")
    cc = cross_check(p, s, b)
    assert not cc.agree
    assert cc.max_flow_diff == pytest.approx(0.1)
    expected = abs(p.objective(flows, s.assignment) - p.objective(s.flows, s.assignment))
    assert cc.objective_diff == pytest.approx(expected, rel=1e-12)
    assert cc.same_endpoint_share == 1.0
    assert "DISAGREE" in cc.summary() and "flows differ" in cc.summary()


def test_swapped_assignment_share(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    lab = s.assigned_endpoint().copy()
    rows = np.flatnonzero(lab == 0)[:10]
    lab[rows] = 1
    n = p.n_points
    plan = sp.csr_matrix((p.demand.mass.copy(), lab, np.arange(n + 1)), shape=(n, p.n_endpoints))
    b = dataclasses.replace(s, assignment=plan)
    cc = cross_check(p, s, b)
    moved = p.demand.mass[rows].sum() / p.demand.total
    assert cc.same_endpoint_share == pytest.approx(1.0 - moved, rel=1e-12)
    assert not cc.agree


def test_potentials_up_to_a_constant(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    cc = cross_check(p, s, dataclasses.replace(s, potentials=s.potentials + 3.0))
    assert cc.potential_spread == pytest.approx(0.0, abs=1e-12)
    assert cc.agree  # potentials are reported, not judged
    bump = np.zeros(p.n_nodes)
    bump[0], bump[-1] = 0.5, -0.25
    cc = cross_check(p, s, dataclasses.replace(s, potentials=s.potentials + bump))
    assert cc.potential_spread == pytest.approx(0.75)


def test_flow_problem_has_no_share() -> None:
    p = om.load("examples/models/small_flow.yaml")
    a, b = om.solve(p, backend="highs"), om.solve(p, backend="cvxpy")
    cc = cross_check(p, a, b)
    assert cc.same_endpoint_share is None and cc.agree
    assert "n/a" in cc.summary()


def test_tolerances_are_used(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    flows = s.flows + 1e-7
    # an iterate (it claims near feasibility only) is judged at max(feas_tol, rtol)
    b = dataclasses.replace(s, flows=flows, status=om.Status.CONVERGED, point_status=om.PointStatus.NEARLY_FEASIBLE)
    assert cross_check(p, s, b, rtol=1e-4).agree
    assert not cross_check(p, s, b, rtol=1e-15, atol=0.0, flow_tol=1e-9).agree
    # the same point claiming feasibility is judged at feas_tol, node by node (issue 10)
    claimed = dataclasses.replace(s, flows=flows)
    cc = cross_check(p, s, claimed, rtol=1e-4)
    assert not cc.agree and cc.feasibility_b > 1e-8 and cc.feasibility_a <= 1e-8
    assert any("point b" in r and "flow conservation (2b) at node" in r for r in cc.reasons), cc.reasons


def test_dual_ascent_against_exact(syn: tuple[om.SpatialFlowProblem, om.Solution]) -> None:
    p, s = syn
    early = om.solve(p, backend="dual-ascent", max_iter=5)
    cc = cross_check(p, early, s)
    assert not cc.agree
    assert cc.backend_a == "dual-ascent" and cc.backend_b == "highs"
