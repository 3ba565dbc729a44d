"""certify() and dual_value(): accept exact answers, refuse wrong ones, weak duality."""

from __future__ import annotations

import dataclasses
import math
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import small_spatial
from hypothesis import given, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.backends.base import no_point_solution
from otmodel.instances import synthetic
from otmodel.results import PointStatus, Status
from otmodel.validation import Certificate, certify, dual_value

SMALL_FLOW = "examples/models/small_flow.yaml"


@cache
def problem(name: str) -> om.FlowProblem:
    if name == "qp":
        return small_spatial(True)
    if name == "lp":
        return small_spatial(False)
    if name == "synthetic":
        return synthetic(30)
    if name == "synthetic10":
        return synthetic(10)
    return om.load(SMALL_FLOW)


@cache
def exact(name: str, backend: str = "highs") -> om.Solution:
    return om.solve(problem(name), backend=backend)


NAMES = ["qp", "lp", "synthetic", "flow"]


# ------------------------------------------------------------------------------ accepts exact answers
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("backend", ["highs", "cvxpy"])
def test_exact_answers_are_certified(name: str, backend: str) -> None:
    p = problem(name)
    sol = exact(name, backend)
    c = certify(p, sol)
    assert isinstance(c, Certificate)
    assert c.certified, c.summary()
    assert abs(c.relative_gap) <= 1e-8
    assert c.dual_bound == pytest.approx(sol.objective, rel=1e-8, abs=1e-8)
    # each node and point judged against its own scale: cvxpy's LP plan is 5.2e-9 off the mass of a
    # light demand point (2.6e-10 of the total mass)
    assert c.primal_residual <= c.feas_tol
    assert "CERTIFIED within rtol" in c.summary()
    assert c.conservation_residual.shape == (p.n_nodes,)
    assert c.bound_violation.shape == (p.n_arcs,)


def test_certificate_reports_spatial_residuals() -> None:
    p = problem("synthetic")
    c = certify(p, exact("synthetic"))
    assert c.marginal_residual_max is not None and c.marginal_residual_max <= 1e-12
    assert c.marginal_residual_l1 is not None and c.marginal_residual_l1 <= 1e-10
    assert c.upper_source in ("solution", "repair")
    assert c.repaired_flows is not None and c.repaired_assignment is not None
    assert c.repaired_objective == pytest.approx(exact("synthetic").objective, rel=1e-9)


# ------------------------------------------------------------------------------ refuses wrong answers
def _claim(sol: om.Solution, **changes: object) -> om.Solution:
    """The same solution with changed fields, still claiming optimality."""
    return dataclasses.replace(sol, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE, **changes)


@pytest.mark.parametrize("name", NAMES)
def test_refuses_perturbed_flows(name: str) -> None:
    sol = exact(name)
    flows = sol.flows.copy()
    flows[0] += 1e-3
    c = certify(problem(name), _claim(sol, flows=flows))
    assert not c.certified
    assert "NOT certified" in c.summary()
    assert c.max_conservation_residual == pytest.approx(1e-3, rel=1e-6)
    assert any("feasible point" in r for r in c.reasons)


def test_refuses_perturbed_flows_with_recomputed_objective() -> None:
    """Even when the reported objective is made consistent with the perturbed point."""
    p, sol = problem("qp"), exact("qp")
    flows = sol.flows + 1e-2
    wrong = _claim(sol, flows=flows, objective=p.objective(flows, sol.assignment))
    c = certify(p, wrong)
    assert not c.certified
    assert not dict((n, ok) for n, ok, _ in c.checks)["claimed feasible point"]


def _swap_block(p: om.SpatialFlowProblem, sol: om.Solution, frac: float = 0.2) -> sp.csr_matrix:
    """Move the points of the largest cell with the lowest indices (a block) to another endpoint."""
    lab = sol.assigned_endpoint()
    big = int(np.bincount(lab, weights=p.demand.mass, minlength=p.n_endpoints).argmax())
    rows = np.flatnonzero(lab == big)
    rows = rows[: max(1, int(frac * rows.size))]
    lab = lab.copy()
    lab[rows] = (big + 1) % p.n_endpoints
    n = p.n_points
    return sp.csr_matrix((p.demand.mass.copy(), lab, np.arange(n + 1)), shape=(n, p.n_endpoints))


@pytest.mark.parametrize("name", ["qp", "lp", "synthetic"])
@pytest.mark.parametrize("claim", [True, False])
def test_refuses_swapped_assignment(name: str, claim: bool) -> None:
    p, sol = problem(name), exact(name)
    plan = _swap_block(p, sol)
    wrong = (
        _claim(sol, assignment=plan)
        if claim
        else dataclasses.replace(
            sol,
            assignment=plan,
            status=Status.ITERATION_LIMIT,
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=p.objective(sol.flows, plan),
        )
    )
    c = certify(p, wrong)
    assert not c.certified, c.summary()
    # the repair keeps the swapped assignment, so even the repaired point is worse than the bound
    assert c.relative_gap > 1e-6
    assert any("certified gap" in r for r in c.reasons)


@pytest.mark.parametrize("name", NAMES)
def test_refuses_shifted_potentials(name: str) -> None:
    p, sol = problem(name), exact(name)
    rng = np.random.default_rng(0)
    psi = sol.potentials + 0.5 * rng.standard_normal(p.n_nodes)
    c = certify(p, _claim(sol, potentials=psi))
    assert not c.certified
    assert c.dual_bound < sol.objective - 1e-4
    # a constant shift is harmless: q is invariant
    c2 = certify(p, _claim(sol, potentials=sol.potentials + 7.25))
    assert c2.certified, c2.summary()


def test_refuses_solution_of_a_different_problem() -> None:
    p = problem("synthetic")
    other = om.solve(synthetic(30, linear=True), backend="highs")  # different arcs
    c = certify(p, other)
    assert not c.certified
    assert any("arcs" in r for r in c.reasons)
    assert "NOT certified" in c.summary()
    # same shapes, different data: the demand of a 30x30 grid with another density
    q = small_spatial(True)
    net = q.network.copy()
    g = om.Grid.from_density(om.Gaussian((8, 2), 2), (0, 10, 0, 10), (3, 3))
    other_problem = om.SpatialFlowProblem(net, g, om.Euclidean())
    other_sol = om.solve(other_problem, backend="highs")
    c = certify(q, other_sol)
    assert not c.certified, c.summary()


def test_refuses_no_point_and_nan_potentials() -> None:
    p = problem("qp")
    bad = no_point_solution(p, Status.INFEASIBLE, PointStatus.CERTIFICATE, "x", "x", {}, "claimed infeasible")
    c = certify(p, bad)
    assert not c.certified
    assert any("potentials are not finite" in r for r in c.reasons)
    assert "NOT certified" in c.summary()
    nanpsi = dataclasses.replace(exact("qp"), potentials=np.full(p.n_nodes, np.nan))
    assert not certify(p, nanpsi).certified


def test_missing_assignment_is_refused() -> None:
    p = problem("qp")
    c = certify(p, dataclasses.replace(exact("qp"), assignment=None))
    assert not c.certified
    assert any("assignment" in r for r in c.reasons)


def test_without_repair_an_iterate_has_no_upper_bound() -> None:
    p = problem("synthetic")
    s = om.solve(p, backend="dual-ascent", max_iter=20)
    c = certify(p, s, repair=False)
    assert not c.certified
    assert c.upper_source == "none" and c.upper_bound == math.inf


# ------------------------------------------------------------------------------ iterative answers
def test_dual_ascent_answer_certified_through_its_repair() -> None:
    from otmodel.backends.steps import Diminishing

    p = problem("synthetic")
    s = om.solve(p, backend="dual-ascent", step_size=Diminishing(10, 0.01), max_iter=300)
    c = certify(p, s, rtol=1e-4)
    assert c.certified, c.summary()
    assert c.upper_source == "repair"
    opt = exact("synthetic").objective
    assert c.dual_bound <= opt + 1e-9 <= c.upper_bound + 2e-9
    assert not certify(p, s, rtol=1e-12).certified
    # a few iterations: honest, not certified
    early = om.solve(p, backend="dual-ascent", max_iter=3)
    assert not certify(p, early).certified


# ------------------------------------------------------------------------------ dual_value
def test_dual_value_minus_inf_on_unbounded_linear_arc() -> None:
    p = problem("flow")
    psi = np.zeros(p.n_nodes)
    psi[p.node_index("A")] = 10.0  # psi_A - psi_C = 10 > 3 on A->C (upper = inf)
    assert dual_value(p, psi) == -math.inf
    assert math.isnan(dual_value(p, np.full(p.n_nodes, np.nan)))
    with pytest.raises(ValueError):
        dual_value(p, np.zeros(p.n_nodes + 1))


def test_dual_value_matches_conformance_export() -> None:
    from otmodel.validation import conformance

    assert conformance.dual_value is dual_value


@settings(max_examples=50, deadline=None)
@given(
    name=st.sampled_from(["qp", "lp", "synthetic10", "flow"]),
    seed=st.integers(0, 2**32 - 1),
    spread=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
)
def test_weak_duality(name: str, seed: int, spread: float) -> None:
    p = problem(name)
    opt = exact(name).objective
    rng = np.random.default_rng(seed)
    psi = exact(name).potentials + spread * rng.standard_normal(p.n_nodes)
    if rng.random() < 0.3:
        psi = spread * rng.standard_normal(p.n_nodes)
    q = dual_value(p, psi)
    assert q <= opt + 1e-9 * max(1.0, abs(opt))
    # invariant under psi + constant (supply and demand balance)
    c = float(rng.uniform(-50, 50))
    q2 = dual_value(p, psi + c)
    if math.isfinite(q):
        assert q2 == pytest.approx(q, rel=1e-9, abs=1e-9)
    else:
        assert q2 == q
    # chunked == unchunked
    if p.kind == "spatial":
        assert dual_value(p, psi, chunk=7) == pytest.approx(q, rel=1e-12, abs=1e-12)
        assert dual_value(p, psi, chunk=1) == pytest.approx(q, rel=1e-12, abs=1e-12)


def test_dual_value_chunk_sizes_on_synthetic() -> None:
    p = problem("synthetic")
    psi = exact("synthetic").potentials
    ref = dual_value(p, psi, chunk=p.n_points)
    for chunk in (1, 64, 100, 899, 65536):
        assert dual_value(p, psi, chunk=chunk) == pytest.approx(ref, rel=1e-13)
    assert ref == pytest.approx(exact("synthetic").objective, rel=1e-9)


def test_repair_of_a_flow_problem_whose_nodes_are_called_by_numbers() -> None:
    """Nodes named "1", "2", "3": the repair must not read arc indices as node names (it once built
    the arc "1" -> "1" here and reported no feasible point)."""
    net = om.Network()
    for name, s in (("1", 1.0), ("2", 0.0), ("3", -1.0)):
        net.add_node(name, supply=s)
    net.add_arc("1", "2", cost=om.Quadratic(1.0, 1.0), upper=2.0)
    net.add_arc("2", "3", cost=om.Quadratic(1.0, 1.0), upper=2.0)
    net.add_arc("1", "3", cost=om.Quadratic(1.0, 3.0), upper=2.0)
    p = om.FlowProblem(net)
    sol = om.solve(p, backend="cvxpy")
    near = _claim(sol, flows=sol.flows + np.array([1e-7, 0.0, 0.0]))
    c = certify(p, near, rtol=1e-5)
    assert c.upper_source == "repair", c.repair_message
    assert math.isfinite(c.upper_bound) and c.relative_gap < 1e-5
    assert not c.certified  # the claim "feasible" is false (residual 1e-7): refused, but with a finite gap
