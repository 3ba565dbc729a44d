"""The ``pyomo`` backend: its model, agreement with ``highs``, strong duality, user constraints, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small_spatial

import otmodel as om
from otmodel.backends.pyomo import PyomoBackend, PyomoModel, _status_table, to_pyomo
from otmodel.instances import synthetic

pyo = pytest.importorskip("pyomo.environ")

INF = math.inf


def dual_q(problem, psi):
    """Eq. (4) of Laurentin et al., written out independently of the package."""
    val = float(psi @ problem.supply)
    t = psi[problem.tails] - psi[problem.heads]
    val += float(problem.costs.conjugate_term(t, problem.lower, problem.upper).sum())
    if problem.kind == "spatial":
        C = problem.cost_matrix()
        val += float(problem.demand.mass @ np.min(C - psi[problem.endpoints][None, :], axis=1))
    return val


def spread(a, b):
    d = np.asarray(a) - np.asarray(b)
    return float(np.max(d) - np.min(d))


def flow_problem(quadratic: bool) -> om.FlowProblem:
    net = om.Network()
    for name, s in [("A", 2.0), ("B", 0.0), ("C", -0.5), ("D", -1.5)]:
        net.add_node(name, s)
    for t, h, c in [
        ("A", "B", 1.0),
        ("A", "C", 2.0),
        ("B", "C", 0.5),
        ("B", "D", 1.5),
        ("C", "D", 0.7),
        ("A", "D", 4.0),
    ]:
        net.add_arc(t, h, om.Quadratic(c, 0.3) if quadratic else om.Linear(c), -2.0 if quadratic else 0.0, 1.2)
    return om.FlowProblem(net)


PROBLEMS = {
    "small_qp": lambda: small_spatial(True),
    "small_lp": lambda: small_spatial(False),
    "flow_qp": lambda: flow_problem(True),
    "flow_lp": lambda: flow_problem(False),
    "synthetic30_qp": lambda: synthetic(30),
    "synthetic30_lp": lambda: synthetic(30, linear=True),
}


@pytest.fixture(scope="module")
def solved():
    out = {}
    for name, make in PROBLEMS.items():
        p = make()
        out[name] = (p, om.solve(p, backend="highs"), om.solve(p, backend="pyomo"))
    return out


# ------------------------------------------------------------------------------ agreement with highs
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_agrees_with_highs(solved, name):
    p, ref, s = solved[name]
    assert ref.status is om.Status.OPTIMAL
    assert s.status is om.Status.OPTIMAL, s.message
    assert s.point_status is om.PointStatus.FEASIBLE
    assert s.backend == "pyomo" and "Pyomo" in s.solver
    assert s.objective == pytest.approx(ref.objective, rel=1e-6)
    # the returned point is feasible and its objective is the reported one
    r = p.net_outflow(s.flows)
    if p.kind == "spatial":
        r[p.endpoints] += s.cell_mass
        assert np.abs(np.asarray(s.assignment.sum(axis=1)).ravel() - p.demand.mass).max() < 1e-9
    assert np.abs(r - p.supply).max() < 1e-7
    assert np.all(s.flows >= p.lower - 1e-9) and np.all(s.flows <= p.upper + 1e-9)
    assert p.objective(s.flows, s.assignment) == pytest.approx(s.objective, rel=1e-12)
    if not p.is_linear:  # strictly convex arc costs: flows and potentials are unique
        assert np.abs(s.flows - ref.flows).max() < 1e-6
        assert spread(s.potentials, ref.potentials) < 1e-5 * max(1.0, np.ptp(ref.potentials))
        assert s.info["oa_rounds"] >= 1 and s.info["oa_relative_gap"] >= 0
    assert set(s.timings) >= {"build", "solve", "total"}


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_strong_duality(solved, name):
    """q(psi) of eq. (4) at the returned potentials equals the optimum (the sign convention)."""
    p, _, s = solved[name]
    assert dual_q(p, s.potentials) == pytest.approx(s.objective, rel=1e-8, abs=1e-10)
    # and weak duality holds for a perturbed psi
    rng = np.random.default_rng(0)
    assert dual_q(p, s.potentials + rng.normal(0, 0.1, p.n_nodes)) <= s.objective + 1e-9


def test_linear_potentials_agree_where_unique(solved):
    # at 30 x 30 the LP's optimal potentials are those of the same basic solution as highs'
    p, ref, s = solved["synthetic30_lp"]
    assert dual_q(p, ref.potentials) == pytest.approx(dual_q(p, s.potentials), rel=1e-9)


# ------------------------------------------------------------------------------ the model
def test_model_components_and_accessors():
    p = synthetic(10)
    pm = p.to_pyomo()
    assert isinstance(pm, PyomoModel)
    m = pm.model
    assert isinstance(m, pyo.ConcreteModel)
    assert len(m.flow) == p.n_arcs
    assert len(m.plan) == p.n_points * p.n_endpoints  # every pair has a finite Euclidean cost
    assert len(m.marginal) == p.n_points
    assert len(m.conservation) == p.n_nodes - len(pm.dropped_rows)
    assert m.cost.active and not m.cost_outer.active
    assert len(m.loss) == p.n_arcs and len(m.loss_cuts) > 0
    assert isinstance(m.dual, pyo.Suffix) and m.dual.import_enabled()
    # bounds are the problem's, scaled
    a = 0
    assert m.flow[a].lb == pytest.approx(p.lower[a] * pm.kappa)
    assert m.flow[a].ub == pytest.approx(p.upper[a] * pm.kappa)
    assert all(v.lb == 0 for v in m.plan.values())
    assert np.all(np.isnan(pm.flows))  # nothing solved yet

    s = pm.solve()
    assert s.status is om.Status.OPTIMAL
    ref = om.solve(p, backend="highs")
    assert s.objective == pytest.approx(ref.objective, rel=1e-6)
    # accessors are in problem units and match the solution
    np.testing.assert_allclose(pm.flows, s.flows, atol=1e-9)
    np.testing.assert_allclose(pm.plan.toarray(), s.assignment.toarray(), atol=1e-9)
    np.testing.assert_allclose(pm.potentials, s.potentials, atol=1e-9)
    # the exact objective of the model is the problem's, scaled by kappa / sigma
    assert pyo.value(m.cost) == pytest.approx(s.objective * pm.kappa / pm.sigma, rel=1e-9)
    assert m.cost.active and not m.cost_outer.active  # restored after the solve
    assert len(m.dual) >= len(m.conservation) + len(m.marginal)


def test_flow_problem_has_no_plan():
    p = flow_problem(False)
    pm = to_pyomo(p)
    assert len(pm.model.plan) == 0 and len(pm.model.marginal) == 0
    assert pm.plan is None
    s = pm.solve()
    assert s.assignment is None and s.status is om.Status.OPTIMAL


def test_user_constraint_changes_the_answer():
    p = synthetic(20)
    free = om.solve(p, backend="pyomo")
    f = free.flow("S1", "I1")  # S1 can route the rest through S1 -> I2
    assert f > 0.1
    cap = 0.5 * f
    pm = p.to_pyomo()
    pm.model.cap = pyo.Constraint(expr=pm.arc_flow("S1", "I1") <= cap)
    s = pm.solve()
    assert s.status is om.Status.OPTIMAL
    assert s.flow("S1", "I1") <= cap + 1e-9
    assert s.flow("S1", "I1") == pytest.approx(cap, rel=1e-6)  # the cap binds
    assert s.objective > free.objective + 1e-6
    # the capped answer is still feasible for the original constraints
    r = p.net_outflow(s.flows)
    r[p.endpoints] += s.cell_mass
    assert np.abs(r - p.supply).max() < 1e-7
    assert abs(pm.model.dual[pm.model.cap]) > 0  # it binds: its dual is in the suffix
    assert pm.user_constraints() == ["cap"]


def test_user_constraint_making_the_model_infeasible_is_not_certified():
    # S2's whole supply leaves by S2 -> I2: capping that arc leaves no feasible point, but the
    # problem itself is feasible, so otmodel has no certificate and does not claim INFEASIBLE
    p = synthetic(8)
    pm = p.to_pyomo()
    pm.model.cap = pyo.Constraint(expr=pm.arc_flow("S2", "I2") <= 0.25)
    s = pm.solve()
    assert s.status is om.Status.NUMERICAL_ERROR
    assert s.certificate is None and not s.has_point
    assert "cap" in s.message


@pytest.mark.parametrize("quadratic", [False, True], ids=["lp", "qp"])
def test_repeated_solve_picks_up_new_constraints(quadratic):
    p = small_spatial(quadratic)
    pm = p.to_pyomo()
    s1 = pm.solve()
    # S1 has two ways out (S1 -> E1, S1 -> E2): halving the larger one leaves a feasible model
    j = max((p.arc_index("S1", "E1"), p.arc_index("S1", "E2")), key=lambda a: s1.flows[a])
    assert s1.flows[j] > 0.1
    pm.model.cap = pyo.Constraint(expr=pm.model.flow[j] <= 0.5 * pyo.value(pm.model.flow[j]))
    s2 = pm.solve()
    assert s2.status is om.Status.OPTIMAL
    assert s2.flows[j] <= 0.5 * s1.flows[j] + 1e-9
    assert s2.objective > s1.objective
    if quadratic:
        assert s2.info["oa_relative_gap"] <= 1e-9 and not s2.info["polished"]  # polish knows no caps
    pm.model.cap.deactivate()
    s3 = pm.solve()
    assert s3.status is om.Status.OPTIMAL
    assert s3.objective == pytest.approx(s1.objective, rel=1e-9)
    assert pm.model.cost.active  # the exact objective is the active one between solves


def test_time_limit():
    s = om.solve(synthetic(60), backend="pyomo", time_limit=1e-4)
    assert s.status is om.Status.TIME_LIMIT
    assert not s.has_point and np.all(np.isnan(s.flows))


# ------------------------------------------------------------------------------ options and statuses
def test_unknown_option_raises():
    p = small_spatial(False)
    with pytest.raises(om.UnsupportedError, match="unknown option"):
        om.solve(p, backend="pyomo", max_iter=3)
    with pytest.raises(om.UnsupportedError, match="method"):
        om.solve(p, backend="pyomo", method="barrier")
    with pytest.raises(om.UnsupportedError):
        p.to_pyomo().solve(nonsense=True)


@pytest.mark.parametrize("method", ["ipm", "simplex"])
def test_methods(method):
    p = synthetic(12)
    s = om.solve(p, backend="pyomo", method=method, tol=1e-10)
    ref = om.solve(p, backend="highs")
    assert s.status is om.Status.OPTIMAL
    assert s.objective == pytest.approx(ref.objective, rel=1e-8)
    assert s.info["oa_relative_gap"] <= 1e-10 or s.info["polished"]


def test_round_limit_is_not_optimal():
    p = synthetic(12)
    s = om.solve(p, backend="pyomo", max_rounds=1)
    assert s.status is om.Status.ITERATION_LIMIT or s.info["polished"]
    assert s.has_point


def test_status_table_only_convergence_is_optimal():
    from pyomo.contrib.solver.common.results import TerminationCondition

    table = _status_table()
    assert set(table) == set(TerminationCondition)
    assert [k for k, v in table.items() if v is om.Status.OPTIMAL] == [
        TerminationCondition.convergenceCriteriaSatisfied
    ]
    assert table[TerminationCondition.unknown] is om.Status.UNKNOWN


def test_backend_protocol():
    b = om.backends.get("pyomo")
    assert isinstance(b, PyomoBackend)
    assert b.supports(synthetic(5)) is None
    assert b.supports("not a problem") is not None
    assert {"spatial", "flow", "linear", "quadratic", "exact"} <= b.capabilities


# ------------------------------------------------------------------------------ failures
def test_infeasible_flow_problem_has_a_certificate():
    from otmodel.certificates import verify_infeasibility_certificate

    net = om.Network()
    for name, s in [("S", 3.0), ("M", 0.0), ("T", -3.0)]:
        net.add_node(name, s)
    net.add_arc("S", "T", 1.0, 0, 1)
    net.add_arc("S", "M", 1.0, 0, 1)
    net.add_arc("M", "T", 1.0, 0, 5)
    p = om.FlowProblem(net)
    s = om.solve(p, backend="pyomo")
    assert s.status is om.Status.INFEASIBLE
    assert s.point_status is om.PointStatus.CERTIFICATE
    assert isinstance(s.certificate, om.InfeasibilityCertificate)
    assert verify_infeasibility_certificate(p, s.certificate)
    assert s.certificate.excess == pytest.approx(1.0)


def test_infeasible_spatial_problem_has_a_certificate():
    from otmodel.certificates import verify_infeasibility_certificate

    net = om.Network()
    net.add_node("S", 1.0, position=(0, 0))
    net.add_node("E1", endpoint=True, position=(0, 1))
    net.add_node("E2", endpoint=True, position=(1, 1))
    net.add_arc("S", "E1", om.Quadratic(1.0), -1, 0.3)
    net.add_arc("S", "E2", om.Quadratic(1.0), -1, 0.3)
    pts = om.Points([[0, 2], [1, 2]], [0.5, 0.5])
    p = om.SpatialFlowProblem(net, pts, om.Euclidean())
    s = om.solve(p, backend="pyomo")
    assert s.status is om.Status.INFEASIBLE
    assert verify_infeasibility_certificate(p, s.certificate)
    assert np.all(np.isnan(s.flows))


def test_unbounded_problem_has_a_cycle():
    from otmodel.certificates import verify_unbounded_certificate

    net = om.Network()
    for name, s in [("A", 1.0), ("B", 0.0), ("C", -1.0)]:
        net.add_node(name, s)
    net.add_arc("A", "B", 1.0, 0, INF)
    net.add_arc("B", "C", -2.0, 0, INF)
    net.add_arc("C", "A", 0.5, 0, INF)
    p = om.FlowProblem(net)
    s = om.solve(p, backend="pyomo")
    assert s.status is om.Status.UNBOUNDED
    assert isinstance(s.certificate, om.UnboundedCertificate)
    assert verify_unbounded_certificate(p, s.certificate)
