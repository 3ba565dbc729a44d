"""The ``admm`` backend (Mokhtari et al., distributed ADMM (3.1a)-(3.1c)) and its events.

Reference answers come from exact solvers: the per-agent QP (3.1a) from cvxpy (Clarabel), the
centralized regularized QP (2.4) from the ``cvxpy`` backend, the LP (2.1) from ``highs``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.backends.admm import AdmmRun, Departure, SupplyChange, solve_local_scalar
from otmodel.errors import InvalidDataError, UnbalancedError, UnknownNodeError, UnsupportedError
from otmodel.model import graphs as G
from otmodel.model.transport import GraphTransportProblem
from otmodel.results import Status
from otmodel.validation import certify, cross_check
from otmodel.validation.crosscheck import regularization_path

BIPARTITE_RHO0 = [0.1969, 0.1606, 0.1834, 0.2928, 0.1663]  # section 4.2
BIPARTITE_RHOINF = [0.1089, 0.0158, 0.4298, 0.3727, 0.0728]


def _dist(rng: np.random.Generator, n: int) -> np.ndarray:
    r = rng.random(n) + 0.05
    return r / r.sum()


def _problem(graph: object, gamma: float, seed: int, **kw: object) -> GraphTransportProblem:
    rng = np.random.default_rng(seed)
    n = graph.number_of_nodes()  # type: ignore[attr-defined]
    m = graph.number_of_edges()  # type: ignore[attr-defined]
    kw.setdefault("cost", rng.uniform(0.5, 2.0, size=m))
    return GraphTransportProblem(graph, _dist(rng, n), _dist(rng, n), gamma=gamma, **kw)


# ----------------------------------------------------------------------------- the local step
def _reference_step(run: AdmmRun) -> np.ndarray:
    """(3.1a) for every agent, each solved by cvxpy as a QP: the straightforward implementation."""
    import cvxpy as cp

    P, S, alpha, delta = run.copies, run.s, run.alpha, run.delta
    n, m = run.n, run.m
    inc = np.zeros((n, m))
    inc[run.tails, np.arange(m)] = 1.0
    inc[run.heads, np.arange(m)] = -1.0
    W = run.W.toarray()
    out = np.empty_like(P)
    for i in range(n):
        x = cp.Variable(m)
        own_out = run.tails == i
        lin = np.where(own_out, run.lb, 0.0)
        if run.split == "2.4":
            quad = cp.sum(cp.multiply(run.qa / n, cp.square(x)))
        else:
            quad = cp.sum(cp.multiply(np.where(own_out, run.qa, 0.0), cp.square(x)))
        div = inc[i] @ x
        cons_terms = [W[i, j] * 0.5 * cp.sum_squares(x - 0.5 * (P[i] + P[j])) for j in np.flatnonzero(W[i])]
        obj = (lin @ x + quad) / delta + alpha[i] * div + 0.5 * cp.square(div - run.rho[i]) + S[i] @ x
        obj = obj + sum(cons_terms)
        cp.Problem(cp.Minimize(obj), [x >= run.lo, x <= run.up]).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10
        )
        out[i] = x.value
    return out


@pytest.mark.parametrize("split", ["2.4", "2.6"])
def test_closed_form_local_step_matches_a_qp_solver(split: str) -> None:
    g = G.random_strongly_connected(6, mean_degree=2.5, seed=3)
    p = _problem(g, 1.0, 0, capacity=0.15)
    run = AdmmRun(p, delta=2.0, split=split)
    rng = np.random.default_rng(1)
    run.copies = rng.uniform(-0.1, 0.3, size=run.copies.shape)
    run.s = rng.normal(scale=0.2, size=run.s.shape)
    run.alpha = rng.normal(scale=0.5, size=run.n)
    run.wp = np.asarray(run.W @ run.copies)
    expected = _reference_step(run)
    run.step()
    assert np.max(np.abs(run.copies - expected)) < 1e-6
    # some box constraints are active, so the clip matters
    assert np.any(np.isclose(run.copies, 0.15)) and np.any(run.copies == 0.0)


def test_scalar_equation_solver() -> None:
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 30, size=200)
    q, h = rng.normal(size=200), rng.uniform(0.5, 3, size=200)
    d = rng.choice([-1.0, 1.0], size=200)
    lo, up = np.zeros(200), np.where(rng.random(200) < 0.5, 0.3, np.inf)
    t, x, iters = solve_local_scalar(q, h, d, lo, up, rows, 30)
    resid = np.bincount(rows, weights=d * np.clip((q - d * t[rows]) / h, lo, up), minlength=30) - t
    assert np.max(np.abs(resid)) < 1e-12 and iters < 60
    assert np.allclose(x, np.clip((q - d * t[rows]) / h, lo, up))


# ----------------------------------------------------------------------------- exact agreement
FAMILIES = {
    "complete": G.complete(5),
    "star": G.star(6),
    "ring": G.ring(6),
    "line": G.line(5),
    "bipartite": G.complete_bipartite(3, 3),
}


@pytest.mark.parametrize("gamma", [0.1, 1.0])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_consensus_plan_matches_the_exact_regularized_qp(family: str, gamma: float) -> None:
    p = _problem(FAMILIES[family], gamma, seed=len(family))
    exact = om.solve(p, backend="cvxpy")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-8, max_iter=20000)
    assert sol.status is Status.CONVERGED
    assert np.max(np.abs(sol.flows - exact.flows)) < 1e-4
    assert sol.info["disagreement"] < 1e-5
    # Theorem 3.3: the agents' sum of local objectives tends to W1^gamma
    assert sol.trace["objective"][-1] == pytest.approx(exact.objective, rel=1e-5)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=3, max_value=7),
    seed=st.integers(min_value=0, max_value=10_000),
    gamma=st.sampled_from([0.1, 1.0]),
    degree=st.sampled_from([1.5, 2.5]),
)
def test_random_strongly_connected_digraphs_property(n: int, seed: int, gamma: float, degree: float) -> None:
    g = G.random_strongly_connected(n, mean_degree=degree, seed=seed)
    p = _problem(g, gamma, seed)
    exact = om.solve(p, backend="cvxpy")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-8, max_iter=30000)
    assert np.max(np.abs(sol.flows - exact.flows)) < 1e-4


@pytest.mark.parametrize("family", ["star", "ring", "line", "complete"])
def test_gamma_zero_with_finite_capacities_matches_the_lp(family: str) -> None:
    p = _problem(FAMILIES[family], 0.0, seed=11, capacity=0.6)
    lp = om.solve(p, backend="highs")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-9, max_iter=40000)
    assert abs(sol.objective - lp.objective) / lp.objective < 1e-4
    assert sol.info["plan_residual"] < 1e-4


def test_split_26_and_arc_neighbours_reach_the_same_optimum() -> None:
    with pytest.raises(UnsupportedError, match="split \\(2.6\\) leaves the local objectives not strictly convex"):
        om.solve(_problem(G.ring(5), 1.0, seed=5), backend="admm", split="2.6")
    p = _problem(G.ring(5), 1.0, seed=5, capacity=1.0)  # (2.6) needs finite capacities (Remark 3.4)
    exact = om.solve(p, backend="cvxpy")
    for kw in ({"split": "2.6"}, {"neighbours": "arcs"}):
        sol = om.solve(p, backend="admm", delta=1.0, tol=1e-8, max_iter=20000, **kw)
        assert np.max(np.abs(sol.flows - exact.flows)) < 1e-4, kw


def test_certify_and_cross_check_an_admm_answer() -> None:
    p = _problem(G.star(5), 1.0, seed=2)
    exact = om.solve(p, backend="cvxpy")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-9, max_iter=20000, keep_copies=True)
    cert = certify(p, sol, rtol=1e-6)
    assert cert.certified, cert.summary()
    assert cert.info["transport_cost"] + cert.info["regularization"] == pytest.approx(cert.objective)
    assert cert.info["consensus_disagreement"] < 1e-6
    assert "transport cost c.pi (2.1)" in cert.summary()
    assert cross_check(p, sol, exact, rtol=1e-6).agree
    # a stopped-early answer is not certified at a tight tolerance
    early = om.solve(p, backend="admm", max_iter=20)
    assert not certify(p, early, rtol=1e-6).certified


# ----------------------------------------------------------------------------- the paper's claims
def test_star_and_complete_need_fewer_iterations_than_line_and_ring() -> None:
    """Section 4.1 / Fig. 1: |V| = 20, delta = 10, eps = 1e-4, equal costs."""
    rng = np.random.default_rng(0)
    r0, r1 = _dist(rng, 20), _dist(rng, 20)
    for gamma in (0.1, 1.0):
        its = {}
        for name, fam in G.FAMILIES.items():
            p = GraphTransportProblem(fam(20), r0, r1, gamma=gamma, capacity=1.0)
            sol = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=30000)
            assert sol.status is Status.CONVERGED
            its[name] = sol.iterations
        assert max(its["star"], its["complete"]) < min(its["line"], its["ring"]), (gamma, its)


def _bipartite(gamma: float) -> GraphTransportProblem:
    r0 = np.r_[BIPARTITE_RHO0, np.zeros(5)]
    r1 = np.r_[np.zeros(5), BIPARTITE_RHOINF]
    return GraphTransportProblem(G.complete_bipartite(5, 5), r0, r1, gamma=gamma, capacity=1.0, balance_rtol=1e-3)


def test_larger_gamma_never_gives_fewer_zero_entries_in_the_bipartite_experiment() -> None:
    """Section 4.2 / Fig. 2, the paper's protocol: delta = 10, stop at eps = 1e-4."""
    zeros = []
    for gamma in (0.0, 0.001, 0.01, 0.1, 1.0):
        p = _bipartite(gamma)
        sol = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=20000)
        fwd = p.tails < 5
        zeros.append(int(np.sum(sol.flows[fwd] < 1e-4)))
    assert zeros == sorted(zeros), zeros
    assert zeros[0] == 0 and zeros[-1] > 0, zeros  # complete plan without regularization, sparse with


def _six(gamma: float) -> GraphTransportProblem:
    return GraphTransportProblem.from_supply(G.six_agents(), [1, -1, -1, 1, 1, -1], gamma=gamma, capacity=2.0)


@pytest.mark.parametrize("gamma", [0.0, 0.1, 1.0])
def test_after_the_departure_the_run_converges_to_a_feasible_plan(gamma: float) -> None:
    """Section 4.3: agent 6 leaves at iteration 100 and rho becomes (1, -1, -1, 1, 0, 0)."""
    p = _six(gamma)
    sol = om.solve(p, backend="admm", max_iter=20000, events=[Departure(k=100, node=6, supply={5: 0})])
    assert sol.status is Status.CONVERGED and sol.iterations > 100
    final = sol.info["final_problem"]
    assert np.allclose(final.supply, [1, -1, -1, 1, 0, 0])
    assert np.max(np.abs(final.supply - final.net_outflow(sol.flows))) < 1e-3
    gone = (p.tails == 5) | (p.heads == 5)
    assert np.all(sol.flows[gone] == 0.0)
    exact = om.solve(final, backend="highs" if gamma == 0 else "cvxpy")
    assert sol.objective == pytest.approx(exact.objective, rel=1e-2)
    assert sol.flow("1", "2") == pytest.approx(1.0, abs=1e-2) and sol.flow("4", "3") == pytest.approx(1.0, abs=1e-2)
    assert len(sol.trace["copy_norms"][-1]) == 6 and sol.trace["active"][-1] == 5


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_after_the_departure_the_run_reaches_the_new_optimum_exactly(gamma: float) -> None:
    """The departing agent hands its consensus multiplier to its neighbours: without that hand-off the
    remaining multipliers no longer sum to zero and the run settles on a biased plan (objective off by
    3e-4 relative at gamma = 1, whatever the tolerance)."""
    p = _six(gamma)
    sol = om.solve(p, backend="admm", tol=1e-9, max_iter=20000, events=[Departure(k=100, node=6, supply={5: 0})])
    final = sol.info["final_problem"]
    exact = om.solve(final, backend="cvxpy")
    assert np.max(np.abs(sol.flows - exact.flows)) < 1e-6
    assert sol.objective == pytest.approx(exact.objective, rel=1e-8)
    assert om.validation.certify(final, sol).certified


def test_supply_change_mid_run() -> None:
    p = _problem(G.ring(5), 1.0, seed=4)
    new = {nm: 0.0 for nm in p.node_names}
    new.update({"1": 0.6, "3": -0.6})
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-8, max_iter=20000, events=[SupplyChange(k=50, supply=new)])
    final = sol.info["final_problem"]
    exact = om.solve(final, backend="cvxpy")
    assert np.max(np.abs(sol.flows - exact.flows)) < 1e-4


def test_keeping_the_departed_agents_last_message_prevents_convergence() -> None:
    """The literal reading of section 4.3: the frozen copy is a fixed boundary value of the consensus."""
    sol = om.solve(
        _six(1.0),
        backend="admm",
        max_iter=3000,
        events=[Departure(k=100, node=6, supply={5: 0}, keep_last_message=True)],
    )
    assert sol.status is Status.ITERATION_LIMIT and sol.info["plan_residual"] > 0.1


# ----------------------------------------------------------------------------- errors
def test_typed_errors_name_the_item() -> None:
    p = _six(1.0)
    with pytest.raises(UnknownNodeError, match="unknown node 9"):
        om.solve(p, backend="admm", events=[Departure(k=5, node=9)])
    with pytest.raises(UnbalancedError, match="sum to 1"):
        om.solve(p, backend="admm", events=[Departure(k=5, node=6)])
    with pytest.raises(InvalidDataError, match="node '6' has left but keeps supply -1"):
        om.solve(p, backend="admm", events=[Departure(k=5, node=6, supply=[1, -1, -1, 1, 1, -1])])
    with pytest.raises(InvalidDataError, match="already left"):
        om.solve(p, backend="admm", events=[Departure(5, 6, {5: 0}), Departure(7, 6, {})])
    with pytest.raises(InvalidDataError, match="k = -1"):
        om.solve(p, backend="admm", events=[SupplyChange(k=-1, supply={})])
    with pytest.raises(UnknownNodeError, match="supply names unknown node 'x'"):
        om.solve(p, backend="admm", events=[SupplyChange(k=1, supply={"x": 1})])
    with pytest.raises(UnbalancedError, match="events\\[0\\]"):
        om.solve(p, backend="admm", events=[SupplyChange(k=1, supply={"1": 2})])
    star = GraphTransportProblem.from_supply(G.star(4), [0, 1, -1, 0], gamma=1.0)
    with pytest.raises(InvalidDataError, match="node '1' leaves, the remaining graph is not strongly connected"):
        om.solve(star, backend="admm", events=[Departure(k=3, node=1)])
    with pytest.raises(InvalidDataError, match="delta"):
        om.solve(p, backend="admm", delta=0.0)
    with pytest.raises(UnsupportedError, match="unknown option"):
        om.solve(p, backend="admm", eps=1e-3)
    # a plain LP with an infinite capacity: Theorem 3.3 does not apply
    net = om.Network()
    for v in "ab":
        net.add_node(v, supply=1 if v == "a" else -1)
    net.add_arc("a", "b", om.Linear(1.0))
    net.add_arc("b", "a", om.Linear(1.0), upper=5)
    with pytest.raises(UnsupportedError, match="arc a->b has an infinite bound and the costs are linear"):
        om.solve(om.FlowProblem(net), backend="admm")
    # a general flow problem needs a connected neighbour graph (weakly connected is enough)
    net2 = om.Network().add_node("a", 1).add_node("b", -1).add_node("c", 0).add_node("d", 0)
    net2.add_arc("a", "b", om.Quadratic(1.0)).add_arc("c", "d", om.Quadratic(1.0))
    with pytest.raises(UnsupportedError, match="not connected: agents in different components"):
        om.solve(om.FlowProblem(net2), backend="admm")
    net3 = om.Network().add_node("a", 1).add_node("b", -1).add_arc("a", "b", om.Quadratic(1.0))
    assert om.solve(om.FlowProblem(net3), backend="admm", tol=1e-9).flows[0] == pytest.approx(1.0, abs=1e-6)


def test_trace_and_solution_fields() -> None:
    p = _problem(G.line(4), 1.0, seed=1)
    stops = []
    sol = om.solve(p, backend="admm", max_iter=50, tol=0, callback=lambda k, st: stops.append(st.error) or k == 30)
    assert sol.iterations == 30 and sol.status is Status.ITERATION_LIMIT and "callback" in sol.message
    for col in ("error", "objective", "plan_objective", "disagreement", "div_residual", "plan_residual", "copy_norms"):
        assert len(sol.trace[col]) == 30, col
    assert np.allclose(sol.trace["error"], stops)
    assert sol.potentials.shape == (4,) and np.all(np.isfinite(sol.potentials))
    assert sol.objective == pytest.approx(p.objective(sol.flows))


def test_general_flow_problem_with_quadratic_costs_and_negative_lower_bounds() -> None:
    net = om.Network()
    for v, s in zip("abcd", [1.0, -0.5, 0.2, -0.7], strict=True):
        net.add_node(v, supply=s)
    for u, v, a in [("a", "b", 1.0), ("b", "c", 2.0), ("c", "d", 0.5), ("d", "a", 1.5), ("a", "c", 1.0)]:
        # signed: a p^2 + 0.3 p (the ADMM splits refuse the kink of an unsigned 0.3 |p| on a two-way arc)
        net.add_arc(u, v, om.Quadratic(a, 0.3, signed=True), lower=-1.0, upper=1.0)
    p = om.FlowProblem(net)
    exact = om.solve(p, backend="cvxpy")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-9, max_iter=30000)
    assert np.max(np.abs(sol.flows - exact.flows)) < 1e-4


# ----------------------------------------------------------------------------- Remark 2.4
def test_w1_gamma_tends_to_w1() -> None:
    g = G.random_strongly_connected(8, mean_degree=3, seed=2)
    rng = np.random.default_rng(3)
    p = _problem(g, 1.0, seed=3, cost=rng.integers(1, 4, g.number_of_edges()).astype(float))
    gammas = [1.0, 0.3, 0.1, 0.03, 0.01, 0.001]
    path = regularization_path(p, gammas)
    gaps = path.gaps
    assert np.all(gaps >= -1e-7) and np.all(np.diff(gaps) <= 1e-9)  # W1 <= W1^gamma, decreasing to W1
    bound = 0.5 * np.array(gammas) * float(path.least_norm_plan @ path.least_norm_plan)
    assert np.all(gaps <= bound + 1e-6)  # W1^gamma <= W1 + gamma/2 ||pi_LN||^2
    assert gaps[-1] < 1e-3 * path.w1
    assert path.plan_distances[-1] < 1e-4  # the limit is the least-norm LP solution
    assert "W1 of (2.1)" in path.summary() and math.isfinite(path.w1)


# ----------------------------------------------------------------------------- conformance, feasibility
# the conformance suite runs admm on the cases it declares in tests/test_conformance.py (one
# parametrized test over every registered backend)


def test_infeasible_capacities_are_reported_with_a_verified_cut() -> None:
    p = GraphTransportProblem.from_supply(G.line(3), [1, 0, -1], gamma=1.0, capacity=0.4)
    sol = om.solve(p, backend="admm")
    assert sol.status is Status.INFEASIBLE and sol.certificate is not None and sol.iterations == 0
    assert "Assumption 2.1" in sol.message


def test_gamma_zero_on_a_random_digraph_matches_the_lp() -> None:
    g = G.random_strongly_connected(7, mean_degree=2.5, seed=5)
    p = _problem(g, 0.0, seed=5, capacity=0.5)
    lp = om.solve(p, backend="highs")
    sol = om.solve(p, backend="admm", delta=1.0, tol=1e-9, max_iter=40000)
    assert abs(sol.objective - lp.objective) / lp.objective < 1e-4


@pytest.mark.slow
def test_star_and_complete_faster_than_line_and_ring_without_regularization() -> None:
    """Section 4.1 with gamma = 0 (the line graph needs about 34,000 iterations: slow)."""
    rng = np.random.default_rng(0)
    r0, r1 = _dist(rng, 20), _dist(rng, 20)
    its = {}
    for name, fam in G.FAMILIES.items():
        p = GraphTransportProblem(fam(20), r0, r1, gamma=0.0, capacity=1.0)
        its[name] = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=60000).iterations
    assert max(its["star"], its["complete"]) < min(its["line"], its["ring"]), its
