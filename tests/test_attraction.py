"""Wasserstein attraction flows (Arqué et al.): model, Dykstra step, exact LP step, Algorithm 1, certificates.

Exact answers come from HiGHS (the LP step of (10a)-(10f) at gamma = 0, and the min-cost-flow W1
on the graph); nothing is compared with numbers produced by the code under test. Measured values
(this graph, seed 3) are quoted next to the tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp

from otmodel.backends import get
from otmodel.backends.attraction_flow import attraction_flow, solve_step
from otmodel.backends.dykstra import dykstra_step
from otmodel.errors import (
    DuplicateNodeError,
    InvalidDataError,
    UnbalancedError,
    UnreachableError,
    UnsupportedError,
)
from otmodel.model.attraction import AttractionProblem, Schedule, StepInfeasibleWarning
from otmodel.results import Status
from otmodel.validation.attraction import certify_flow, certify_step, graph_w1


def ring_graph(n: int = 20, chords: int = 8, seed: int = 3, wmax: float = 2.0) -> sp.csr_matrix:
    """A ring with random chords, edge weights uniform in [1, wmax]."""
    rng = np.random.default_rng(seed)
    r = list(range(n))
    c = [(i + 1) % n for i in range(n)]
    for _ in range(chords):
        a, b = rng.choice(n, 2, replace=False)
        r.append(int(a))
        c.append(int(b))
    w = rng.uniform(1.0, wmax, len(r))
    return sp.csr_matrix((w, (r, c)), shape=(n, n))


def masses(n: int, nodes: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.zeros(n)
    v[nodes] = rng.uniform(0.5, 1.5, len(nodes))
    return v / v.sum()


N = 20
RHO0 = masses(N, [0, 1, 2, 3], 1)
NU = masses(N, [9, 10, 11, 12, 13], 2)


def problem(**kw: object) -> AttractionProblem:
    args: dict[str, object] = {"omega": 0.1, "gamma": 0.25, "eps": 0.05}
    args.update(kw)
    return AttractionProblem(ring_graph(), RHO0, NU, **args)  # type: ignore[arg-type]


def capacitated(**kw: object) -> AttractionProblem:
    W = ring_graph()
    cap = sp.csr_matrix((W + W.T) > 0, dtype=float) * 0.12  # edges; the diagonal (staying) is unbounded
    return problem(edge_capacity=cap, storage=np.full(N, 0.35), **kw)


# ------------------------------------------------------------------------------------------ model
def test_cost_is_the_shortest_path_metric() -> None:
    p = problem()
    W = p.weights.toarray()
    # Floyd-Warshall by hand, independent of scipy's Dijkstra
    D = np.where(W > 0, W, np.inf)
    np.fill_diagonal(D, 0.0)
    for k in range(N):
        D = np.minimum(D, D[:, [k]] + D[[k], :])
    np.testing.assert_allclose(p.cost, D)
    assert np.allclose(p.cost, p.cost.T)  # undirected
    A = p.adjacency.toarray()
    assert A.diagonal().all() and (A == ((W > 0) | np.eye(N, dtype=bool))).all()


def test_self_loops_are_allowed_and_ignored() -> None:
    W = ring_graph().tolil()
    W[4, 4] = 7.0
    p = AttractionProblem(W.tocsr(), RHO0, NU)
    assert p.cost[4, 4] == 0.0 and p.adjacency[4, 4]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rho0": RHO0 * 0.9}, UnbalancedError, "rho0 sums to"),
        ({"nu": np.r_[NU[:-1], np.nan]}, InvalidDataError, r"nu\['19'\]"),
        ({"rho0": np.r_[RHO0, 0.0]}, InvalidDataError, "rho0 has shape"),
        ({"nu": NU - 0.01 * (np.arange(N) == 5) + 0.01 * (np.arange(N) == 9)}, InvalidDataError, r"nu\['5'\]"),
        ({"edge_capacity": -np.ones((N, N))}, InvalidDataError, r"edge_capacity\['0', '0'\]"),
        ({"storage": np.full(N, 0.01)}, InvalidDataError, "exceeds the storage"),
        ({"omega": 1.5}, InvalidDataError, "omega at step 0"),
        ({"omega": "1/sqrt t"}, InvalidDataError, "unknown schedule"),
        ({"omega": "1/ln t", "schedule_start": 1.5}, InvalidDataError, "omega at step 0"),
        ({"gamma": 0.0}, InvalidDataError, "gamma at step 0"),
        ({"eps": -1.0}, InvalidDataError, "eps must be"),
        ({"names": ["a"] * N}, DuplicateNodeError, "'a' is used twice"),
    ],
)
def test_bad_input_raises_typed_errors(kwargs: dict[str, object], error: type, match: str) -> None:
    args: dict[str, object] = {"rho0": RHO0, "nu": NU}
    args.update(kwargs)
    rho0, nu = args.pop("rho0"), args.pop("nu")
    with pytest.raises(error, match=match):
        AttractionProblem(ring_graph(), rho0, nu, **args)  # type: ignore[arg-type]


def test_bad_weights_and_disconnected_graph() -> None:
    W = ring_graph().toarray()
    W[2, 3] = -1.0
    with pytest.raises(InvalidDataError, match=r"weights\['2', '3'\].*non-negative"):
        AttractionProblem(W, RHO0, NU)
    two = sp.block_diag([ring_graph(10, 2), ring_graph(10, 2)]).tocsr()
    with pytest.raises(UnreachableError, match="cannot be reached"):
        AttractionProblem(two, RHO0, NU)


def test_schedules() -> None:
    assert Schedule("1/t", start=1)(0) == 1.0 and Schedule("1/t", start=1)(3) == 0.25
    s = problem(omega="1/ln t", schedule_start=6, omega_first=0.75).omega
    assert s(0) == 0.75 and s(1) == pytest.approx(1 / math.log(7))
    assert problem(omega=lambda t: 0.5 / (t + 1)).omega_at(1) == 0.25
    assert problem(omega=0.1, omega_first=0.75).omega.label() == "0.75 then 0.1"


# ------------------------------------------------------------------------------------ one step
def test_dykstra_step_satisfies_10b_to_10f_with_zero_mass_on_forbidden_pairs() -> None:
    p = capacitated()
    step = p.step(p.rho0)
    res = dykstra_step(step)
    assert res.status == Status.CONVERGED
    cert = certify_step(res)
    assert cert.max_residual <= 1e-6, cert.summary()  # measured 1e-9
    assert cert.forbidden_mass == 0.0
    # every pair outside the pattern of the support rule (15) is absent or exactly zero
    P = res.plan.toarray()
    j, i, _ = step.allowed()
    mask = np.zeros((N, N), bool)
    mask[j, i] = True
    assert (P[~mask] == 0.0).all() and (P[mask] > 0).all()
    assert cert.relative_gap is not None and cert.relative_gap >= -1e-6
    # capacities bind in this instance: the largest move along an edge sits on its capacity
    moves = res.plan - sp.diags(res.plan.diagonal())
    assert moves.max() == pytest.approx(0.12, rel=1e-6)


@pytest.mark.parametrize("solver", ["highs", "cvxpy"])
def test_exact_step_is_feasible_and_solvers_agree(solver: str) -> None:
    p = capacitated()
    step = p.step(p.rho0)
    res = solve_step(step, solver)
    cert = certify_step(res)
    assert res.status == Status.OPTIMAL
    assert cert.max_residual <= 1e-7 and cert.forbidden_mass == 0.0, cert.summary()
    assert cert.relative_gap == pytest.approx(0.0, abs=1e-6)


def test_step_cost_approaches_the_exact_step_as_gamma_decreases() -> None:
    p = problem()
    step0 = p.step(p.rho0)
    exact = solve_step(step0, "highs").objective
    gaps = []
    for g in (1.0, 0.3, 0.1, 0.03):
        r = dykstra_step(p.step(p.rho0, gamma=g))
        assert r.status == Status.CONVERGED
        gaps.append((r.objective - exact) / exact)
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False)), gaps  # monotone, measured 13%, 2.1%, 0.46%, 0.051%
    assert 0 <= gaps[-1] < 0.01


def test_log_domain_does_not_underflow_at_small_gamma() -> None:
    p = problem()
    g = 1e-3 * float(p.cost.max())
    kernel = np.exp(-p.cost / g)[p.cost > 0]
    assert (kernel == 0).mean() > 0.1  # the plain kernel underflows (measured: 18% of the pairs)
    step = p.step(p.rho0, gamma=g)
    r = dykstra_step(step, max_iter=20000)
    assert np.isfinite(r.rho_next).all() and r.violation <= 1e-6
    exact = solve_step(step, "highs")
    assert r.objective == pytest.approx(exact.objective, rel=1e-3)  # measured 1.2e-4 (entropic bias)


def test_dense_path_matches_plain_log_domain_ibp() -> None:
    """Complete graph, no capacities: pi_1 takes the dense stabilized path; compare with textbook IBP."""
    rng = np.random.default_rng(0)
    n = 12
    X = rng.uniform(0, 1, (n, 2))
    W = np.hypot(*(X[:, None, :] - X[None, :, :]).transpose(2, 0, 1))
    a, b = rng.uniform(0.2, 1, n), rng.uniform(0.2, 1, n)
    p = AttractionProblem(W, a / a.sum(), b / b.sum(), omega=0.3, gamma=0.05)
    r = dykstra_step(p.step(p.rho0), tol=1e-12)
    L = -p.cost / 0.05
    L1, L2 = L.copy(), L.copy()
    for _ in range(3000):
        L1 += (np.log(p.rho0) - logsumexp(L1, axis=1))[:, None]
        L2 += (np.log(p.nu) - logsumexp(L2, axis=1))[:, None]
        c1, c2 = logsumexp(L1, axis=0), logsumexp(L2, axis=0)
        lp = 0.3 * c1 + 0.7 * c2
        L1 += (lp - c1)[None, :]
        L2 += (lp - c2)[None, :]
    np.testing.assert_allclose(r.rho_next, np.exp(lp), atol=1e-9)


def test_backend_registry_entry() -> None:
    b = get("dykstra")
    p = problem()
    assert b.supports(p.step(p.rho0)) is None
    with pytest.raises(UnsupportedError, match="one step"):
        b.solve(p)


# ----------------------------------------------------------------------------------- the flow
@pytest.mark.parametrize("omega", [0.1, "1/t"])
def test_flow_reaches_nu_and_costs_at_least_w1(omega: object) -> None:
    p = problem(omega=omega, schedule_start=3)
    flow = attraction_flow(p, "dykstra", max_steps=40)
    assert flow.status == Status.CONVERGED, flow.summary()
    assert flow.tv[-1] <= p.eps
    cert = certify_flow(flow)
    assert cert.ok, cert.summary()
    # W1 from the min-cost flow on the graph, not from the code under test
    assert flow.total_cost >= cert.w1_target - cert.w1_remaining - 1e-9
    assert flow.total_cost >= graph_w1(p, p.rho0, flow.final) - 1e-9


@pytest.mark.parametrize("solver", ["highs", "cvxpy"])
def test_exact_flow_reaches_nu_and_costs_at_least_w1(solver: str) -> None:
    p = capacitated(eps=1e-9)
    flow = attraction_flow(p, solver, max_steps=40)
    assert flow.status == Status.CONVERGED and flow.tv[-1] <= 1e-6
    w1 = graph_w1(p, p.rho0, p.nu)
    assert flow.total_cost >= w1 * (1 - 1e-7)
    cert = certify_flow(flow, tol=1e-6)
    assert cert.ok, cert.summary()


def test_infeasible_step_warns_and_stops() -> None:
    cap = np.full((N, N), np.inf)
    np.fill_diagonal(cap, 0.0)  # nobody may stay ...
    cap[0, :] = 0.01  # ... and node 0 can send only 0.01 along each edge
    p = problem(edge_capacity=cap)
    with pytest.warns(StepInfeasibleWarning, match=r"capacity out of a node.*node '0'"):
        flow = attraction_flow(p, "dykstra")
    assert flow.status == Status.INFEASIBLE and flow.n_steps == 0
    assert "node '0'" in flow.message


def test_infeasible_step_with_the_exact_solver_too() -> None:
    cap = np.full((N, N), np.inf)
    np.fill_diagonal(cap, 0.0)
    cap[2, :] = 0.02
    p = problem(edge_capacity=cap)
    with pytest.warns(StepInfeasibleWarning, match=r"node '2'"):
        flow = attraction_flow(p, "highs")
    assert flow.status == Status.INFEASIBLE and "infeasible" in flow.message


# ------------------------------------------------------------------------------ certificates
def test_certificate_rejects_wrong_plans() -> None:
    p = problem()
    flow = attraction_flow(p, "highs", max_steps=3)
    s = flow.steps[0]
    P = s.plan.tolil()
    j, i = 0, 10  # far apart: (15) forbids it
    assert not p.adjacency[j, i]
    P[j, i] = 1e-3
    P[j, j] -= 1e-3
    from dataclasses import replace

    bad = replace(s, plan=P.tocsr())
    cert = certify_step(bad, exact=False)
    assert cert.forbidden_mass > 0 and not cert.ok
    # a flow whose plans cost less than W1(rho0, rho_T) cannot be valid
    cheap = replace(s, plan=s.plan * 0.0)
    fl = replace(flow, steps=[cheap, *flow.steps[1:]])
    fc = certify_flow(fl, exact=False)
    assert not fc.ok and "REJECTED" in fc.verdict


def test_step_stopped_at_the_cycle_limit_is_repaired_to_a_feasible_point() -> None:
    p = problem(gamma=0.1)
    step = p.step(p.rho0)
    raw = dykstra_step(step, max_iter=30, repair=False)
    fixed = dykstra_step(step, max_iter=30)
    assert raw.status == fixed.status == Status.ITERATION_LIMIT
    assert certify_step(raw, exact=False).max_residual > 1e-4
    cert = certify_step(fixed)
    assert cert.max_residual <= 1e-6 and cert.forbidden_mass == 0.0, cert.summary()
    np.testing.assert_array_equal(raw.rho_next, fixed.rho_next)  # pi_1 is kept, only pi_2 moves
    assert cert.relative_gap is not None and cert.relative_gap >= -1e-6


def test_warm_start_gives_the_same_steps_as_a_cold_start() -> None:
    """Starting a step from the previous step's potentials does not change its minimizer (dykstra_step)."""
    p = problem(omega="1/t", schedule_start=3, gamma=lambda t: 0.3 / (1 + 0.5 * t))
    warm = attraction_flow(p, "dykstra", max_steps=4, tol=1e-11)
    cold = attraction_flow(p, "dykstra", max_steps=4, tol=1e-11, warm_start=False)
    assert warm.n_steps == cold.n_steps == 4
    np.testing.assert_allclose(warm.rhos, cold.rhos, atol=1e-8)
    assert sum(s.iterations for s in warm.steps[1:]) < sum(s.iterations for s in cold.steps[1:])
    assert [s.step.gamma for s in warm.steps] == pytest.approx([0.3, 0.2, 0.15, 0.12])


def test_certificate_has_no_ratio_against_a_free_exact_step_and_abridges_long_flows() -> None:
    """A step with omega = 1 stays put at exact cost 0: the certificate reports the difference, not a
    meaningless percentage; a long flow's summaries list the first and last steps and say how many
    were left out."""
    import otmodel as om
    from otmodel.results import abridged as _abridged
    from otmodel.validation.attraction import StepCertificate

    c = StepCertificate(0, {"r": 0.0}, 0.0, objective=5e-3, exact_objective=0.0, tol=1e-6, cost_scale=1.0)
    assert c.relative_gap is None and c.gap == pytest.approx(5e-3)
    assert "difference +0.005" in c.summary() and "%" not in c.summary()
    assert c.ok
    worse = StepCertificate(0, {"r": 0.0}, 0.0, objective=1.0, exact_objective=2.0, tol=1e-6)
    assert worse.relative_gap == pytest.approx(-0.5) and not worse.ok  # below the exact optimum: refused
    rows = [f"row {k}" for k in range(50)]
    out = _abridged(rows, keep=[k == 30 for k in range(50)], head=3, tail=2)
    assert out[:3] == ["row 0", "row 1", "row 2"] and "row 30" in out and out[-1] == "row 49"
    assert any("27 more step(s)" in r for r in out) and any("17 more" in r for r in out) and len(out) == 8
    W, _ = om.graph_family("grid", 9, seed=0)
    rho0 = np.zeros(9)
    rho0[0] = 1.0
    nu = np.zeros(9)
    nu[8] = 1.0
    flow = om.attraction_flow(om.AttractionProblem(W, rho0, nu, omega=0.9, gamma=0.2, eps=1e-9), max_steps=40)
    text = flow.summary()
    assert "more step(s) like these" in text and len(text.splitlines()) < 30


def test_solve_runs_the_attraction_flow_of_an_attraction_problem() -> None:
    """om.solve(AttractionProblem) refused it before issue 11; now it runs Algorithm 1 by the registry."""
    import otmodel as om

    W, _ = om.graph_family("grid", 9, seed=0)
    rho0 = np.zeros(9)
    rho0[0] = 1.0
    nu = np.zeros(9)
    nu[8] = 1.0
    p = om.AttractionProblem(W, rho0, nu, omega=0.2, eps=1e-9)
    flow = om.solve(p, backend="highs", max_steps=50)
    assert flow.status == Status.CONVERGED and flow.tv[-1] <= 1e-9
    # 4 unit edges separate the corners of the 3 x 3 grid: W1 = 4 (weights (1, 1) by default)
    assert flow.total_cost >= 4.0 - 1e-9


def test_graph_w1_equals_transport_on_the_shortest_path_metric() -> None:
    """W1 by min-cost flow on the edges (graph_w1) against the transport LP on the dense
    shortest-path cost matrix C, solved by scipy's linprog: two different formulations."""
    from scipy.optimize import linprog

    p = problem()
    n = N
    A_eq = sp.vstack([sp.kron(sp.eye(n), np.ones((1, n))), sp.kron(np.ones((1, n)), sp.eye(n))])
    res = linprog(p.cost.reshape(-1), A_eq=A_eq, b_eq=np.r_[RHO0, NU], bounds=(0, None), method="highs")
    assert res.status == 0
    assert graph_w1(p, RHO0, NU) == pytest.approx(res.fun, rel=1e-9)
    shifted = NU.copy()
    shifted[[9, 10]] += [2.8e-17, -2.8e-17]  # equal up to round-off: a zero transport, not an error
    assert graph_w1(p, NU, shifted) == pytest.approx(0.0, abs=1e-12)


def test_sparse_capacities_keep_explicit_zeros_and_infinite_entries() -> None:
    # a CSR with an explicit 0 (no flow on that edge) and an inf (unbounded): the 0 used to vanish
    # and the inf to become a zero capacity, through a copy that shared the user's arrays
    cap = sp.csr_matrix((np.array([0.5, 0.0, np.inf]), (np.array([0, 1, 2]), np.array([1, 2, 3]))), shape=(N, N))
    before = (cap.data.copy(), cap.indices.copy())
    p = problem(edge_capacity=cap)
    assert p.edge_capacity[0, 1] == 0.5
    assert p._cap_pattern[1, 2] and p.edge_capacity[1, 2] == 0.0  # an explicit zero capacity, kept
    assert not p._cap_pattern[2, 3]  # infinite: no bound on that edge
    np.testing.assert_array_equal(cap.data, before[0])  # the user's matrix is left as it was
    np.testing.assert_array_equal(cap.indices, before[1])
