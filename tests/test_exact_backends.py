"""Exact backends agree with each other and with strong duality, on the paper's instance and small ones."""

import numpy as np
import pytest

import otmodel as om
from otmodel.instances import synthetic

EXACT = om.backends.exact_backends()  # by declared capability: "exact" and "flow"


def dual_q(problem, psi):
    """Eq. (4) of Laurentin et al., written out here independently of the package."""
    val = float(psi @ problem.supply)
    t = psi[problem.tails] - psi[problem.heads]
    val += float(problem.costs.conjugate_term(t, problem.lower, problem.upper).sum())
    if problem.kind == "spatial":
        C = problem.cost_matrix()
        val += float(problem.demand.mass @ np.min(C - psi[problem.endpoints][None, :], axis=1))
    return val


def up_to_constant(a, b):
    d = a - b
    return float(np.max(d) - np.min(d))


@pytest.fixture(scope="module")
def solved_50():
    out = {}
    for lin in (False, True):
        p = synthetic(50, linear=lin)
        out[lin] = (p, {b: om.solve(p, backend=b) for b in EXACT})
    return out


@pytest.mark.parametrize("linear", [False, True], ids=["qp", "lp"])
def test_exact_backends_agree_on_synthetic_50(solved_50, linear):
    p, sols = solved_50[linear]
    ref = sols["highs"]
    assert ref.status is om.Status.OPTIMAL
    for name, s in sols.items():
        assert s.status is om.Status.OPTIMAL, name
        assert s.point_status is om.PointStatus.FEASIBLE
        assert abs(s.objective - ref.objective) <= 1e-6 * abs(ref.objective), name
        # strong duality at the returned potentials (sign convention of eq. (3)-(4))
        assert abs(dual_q(p, s.potentials) - s.objective) <= 1e-6 * abs(s.objective), name
        # primal feasibility of the returned point
        r = p.net_outflow(s.flows)
        r[p.endpoints] += s.cell_mass
        assert np.abs(r - p.supply).max() < 1e-7
        assert np.abs(np.asarray(s.assignment.sum(axis=1)).ravel() - p.demand.mass).max() < 1e-9
        assert np.all(s.flows >= p.lower - 1e-9) and np.all(s.flows <= p.upper + 1e-9)
        if not linear:  # strictly convex arc costs: flows and potentials are unique
            assert np.abs(s.flows - ref.flows).max() < 1e-5, name
            assert up_to_constant(s.potentials, ref.potentials) < 1e-4 * np.ptp(ref.potentials), name


@pytest.mark.slow
@pytest.mark.parametrize("linear", [False, True], ids=["qp", "lp"])
def test_exact_backends_agree_on_synthetic_200(linear):
    p = synthetic(200, linear=linear)
    sols = {b: om.solve(p, backend=b) for b in EXACT}
    ref = sols["highs"].objective
    for name, s in sols.items():
        assert s.status is om.Status.OPTIMAL, name
        assert abs(s.objective - ref) <= 1e-6 * abs(ref), name
        assert abs(dual_q(p, s.potentials) - s.objective) <= 1e-6 * abs(s.objective), name


@pytest.mark.parametrize("backend", ["highs", "cvxpy"])
def test_parallel_quadratic_arcs_closed_form(backend):
    # supply 3 split over two routes with costs a1 p^2 and a2 p^2: p1 = 3 a2 / (a1 + a2)
    net = om.Network().add_node("s", 3.0).add_node("m").add_node("t", -3.0)
    net.add_arc("s", "t", om.Quadratic(1.0)).add_arc("s", "m", om.Quadratic(2.0)).add_arc("m", "t", 0.0)
    sol = om.solve(om.FlowProblem(net), backend=backend)
    assert sol.flow("s", "t") == pytest.approx(2.0, abs=1e-6)
    assert sol.flow("s", "m") == pytest.approx(1.0, abs=1e-6)
    assert sol.objective == pytest.approx(1.0 * 4 + 2.0 * 1, rel=1e-8)
    # psi_s - psi_t is the marginal cost of a unit from s to t: 2 * a1 * p1 = 4
    assert sol.potential("s") - sol.potential("t") == pytest.approx(4.0, abs=1e-5)


def test_default_backend_choice(spatial_lp, spatial_qp):
    # issue 12, by measurement (benchmarks/bench_network.py): the network-flow engine
    assert om.backends.default_backend(spatial_lp) == "network"
    assert om.backends.default_backend(spatial_qp) == "network"
    assert om.solve(spatial_lp).backend == "network"


@pytest.mark.parametrize("backend", ["highs", "cvxpy"])
def test_unknown_option_is_rejected(backend, spatial_qp):
    with pytest.raises(om.UnsupportedError, match="unknown option"):
        om.solve(spatial_qp, backend=backend, max_iterations=3)


def test_unknown_backend_is_rejected(spatial_qp):
    with pytest.raises(om.UnsupportedError, match="unknown backend 'gurobi'; available:"):
        om.solve(spatial_qp, backend="gurobi")


def test_to_cvxpy_user_constraint(spatial_qp):
    base = om.solve(spatial_qp, backend="cvxpy")
    k = spatial_qp.arc_index("S1", "E1")  # S1 has a second way out (S1->E2): capping stays feasible
    cap = 0.5 * abs(base.flows[k])
    assert cap > 1e-3
    model = spatial_qp.to_cvxpy()
    model.add_constraint(model.flows[k] <= cap)
    model.add_constraint(model.flows[k] >= -cap)
    capped = model.solve()
    assert capped.status is om.Status.OPTIMAL
    assert abs(capped.flows[k]) <= cap + 1e-7
    assert capped.objective > base.objective + 1e-6


def test_solution_views_and_summary(spatial_qp):
    s = om.solve(spatial_qp, backend="highs")
    assert s.flow("S1", "E1") == s.flows[0]
    assert s.mass("E1") + s.mass("E2") == pytest.approx(1.0, abs=1e-12)
    assert set(s.timings) >= {"build", "solve", "total"}
    text = s.summary()
    assert "S1->E1" in text and "optimal" in text and "potential" in text
    d = s.to_dict()
    assert d["status"] == "optimal" and set(d["cell_mass"]) == {"E1", "E2"}


@pytest.mark.parametrize("backend", ["highs", "cvxpy", "pyomo"])
def test_supplies_of_pure_round_off_are_a_zero_transport(backend):
    """A transport between two equal distributions leaves supplies of round-off size only
    (2.8e-17 here). The problem is balanced within its tolerance, and scaling the masses to O(1)
    must not turn the round-off into an infeasible model (HiGHS reported INFEASIBLE before)."""
    net = om.Network()
    for k, s in enumerate([0.0, 0.0, 2.77e-17, 0.0]):
        net.add_node(f"n{k}", supply=s)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        net.add_arc(f"n{a}", f"n{b}", om.Linear(1.0))
    sol = om.solve(om.FlowProblem(net), backend=backend)
    assert sol.status is om.Status.OPTIMAL
    assert abs(sol.objective) < 1e-12 and np.max(np.abs(sol.flows)) < 1e-12


def test_accepted_imbalance_is_taken_off_in_proportion():
    from otmodel.backends._standard import balanced_supply

    net = om.Network()
    for name, s in [("a", 1.0), ("b", 0.5), ("c", -1.5 + 3e-10)]:
        net.add_node(name, supply=s)
    net.add_arc("a", "c", om.Linear(1.0)).add_arc("b", "c", om.Linear(2.0))
    p = om.FlowProblem(net)
    s = balanced_supply(p)
    assert abs(s.sum()) < 1e-15
    assert np.max(np.abs(s - p.supply)) <= 3e-10
    change = (p.supply - s) / np.abs(p.supply)  # the same share of every supply's size
    np.testing.assert_allclose(change, change[0], rtol=1e-6)
    assert change[0] > 0
