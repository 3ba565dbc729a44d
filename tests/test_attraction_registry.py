"""Attraction flows in the registry (issue 11 item 1, issue 15 point 5): the step backend is chosen by
capability, ``otmodel.solve`` runs Algorithm 1 and single steps, and the results speak ``Solution``'s
vocabulary.

Exact answers come from scipy's ``linprog`` on a dense LP of Problem 1 written here from the paper's
(10a)-(10f), with the shortest-path metric computed by hand (Floyd-Warshall): nothing is compared with
numbers that the code under test produced.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import otmodel as om
from otmodel import backends
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.attraction import AttractionProblem, AttractionStep
from otmodel.results import AttractionFlow, PointStatus, Status, StepResult

N = 8
# a path 0-1-...-7 with one chord 2-6, weights by hand
EDGES = [(0, 1, 1.0), (1, 2, 1.5), (2, 3, 1.0), (3, 4, 2.0), (4, 5, 1.0), (5, 6, 1.0), (6, 7, 1.5), (2, 6, 2.5)]


def weights() -> np.ndarray:
    W = np.zeros((N, N))
    for a, b, w in EDGES:
        W[a, b] = W[b, a] = w
    return W


def metric() -> np.ndarray:
    """Shortest paths by Floyd-Warshall, independent of the code under test."""
    W = weights()
    D = np.where(W > 0, W, np.inf)
    np.fill_diagonal(D, 0.0)
    for k in range(N):
        D = np.minimum(D, D[:, [k]] + D[[k], :])
    return D


RHO0 = np.array([0.4, 0.35, 0.25, 0, 0, 0, 0, 0])
NU = np.array([0, 0, 0, 0, 0.2, 0.3, 0.2, 0.3])


def problem(**kw: Any) -> AttractionProblem:
    args: dict[str, Any] = {"omega": 0.3, "gamma": 0.2, "eps": 1e-6}
    args.update(kw)
    return AttractionProblem(weights(), RHO0, NU, **args)


def exact_step(rho: np.ndarray, omega: float, storage: np.ndarray | None = None) -> float:
    """min w<C,P> + (1-w)<C,Q>: P 1 = rho, Q 1 = nu, P^T 1 = Q^T 1 <= storage, P_ji = 0 unless j
    holds mass and i is j or a neighbour of j (support rule (15)); dense, by scipy's linprog."""
    C = metric()
    adj = (weights() > 0) | np.eye(N, dtype=bool)
    allowed = adj & (rho > 0)[:, None]
    n2 = N * N
    c = np.r_[omega * C.reshape(-1), (1 - omega) * C.reshape(-1)]
    rows = sp.kron(sp.eye(N), np.ones((1, N)))  # row sums of an (N, N) matrix flattened by rows
    cols = sp.kron(np.ones((1, N)), sp.eye(N))  # column sums
    Z = sp.csr_matrix((N, n2))
    A_eq = sp.vstack([sp.hstack([rows, Z]), sp.hstack([Z, rows]), sp.hstack([cols, -cols])])
    b_eq = np.r_[rho, NU, np.zeros(N)]
    bounds = [(0, None if a else 0) for a in allowed.reshape(-1)] + [(0, None)] * n2
    A_ub = b_ub = None
    if storage is not None:
        A_ub, b_ub = sp.hstack([cols, Z]), storage
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def w1(a: np.ndarray, b: np.ndarray) -> float:
    """W1 on the shortest-path metric, by linprog over all pairs."""
    C = metric()
    A_eq = sp.vstack([sp.kron(sp.eye(N), np.ones((1, N))), sp.kron(np.ones((1, N)), sp.eye(N))])
    res = linprog(C.reshape(-1), A_eq=A_eq, b_eq=np.r_[a, b], bounds=(0, None), method="highs")
    assert res.status == 0
    return float(res.fun)


# --------------------------------------------------------------------------------- one step
@pytest.mark.parametrize("backend", ["attraction-lp", "highs", "cvxpy"])
def test_solve_one_exact_step_matches_an_independent_lp(backend: str) -> None:
    p = problem(storage=np.full(N, 0.45))
    step = p.step(p.rho0)
    res = om.solve(step, backend=backend)
    assert isinstance(res, StepResult)
    assert res.backend == "attraction-lp" and res.solver == ("cvxpy" if backend == "cvxpy" else "highs")
    assert res.status is Status.OPTIMAL and res.point_status is PointStatus.FEASIBLE
    assert res.objective == pytest.approx(exact_step(RHO0, 0.3, np.full(N, 0.45)), rel=1e-6)


def test_solve_one_entropic_step_is_at_least_the_exact_step() -> None:
    p = problem()
    res = om.solve(p.step(p.rho0), backend="dykstra", tol=1e-10)
    exact = exact_step(RHO0, 0.3)
    assert res.backend == res.solver == "dykstra" and res.status is Status.CONVERGED
    # the entropic plan is feasible for the exact LP, so it costs at least its optimum; gamma = 0.2
    # of edge weights 1-2.5 keeps it close (measured +1.7%)
    assert exact - 1e-9 <= res.objective <= 1.05 * exact


def test_default_backend_of_an_attraction_problem_and_step_is_dykstra() -> None:
    p = problem()
    assert backends.default_backend(p) == backends.default_backend(p.step(p.rho0)) == "dykstra"
    assert om.solve(p.step(p.rho0)).backend == "dykstra"


# ------------------------------------------------------------------------------------ the flow
@pytest.mark.parametrize("backend", ["highs", "dykstra"])
def test_solve_runs_algorithm_1_over_the_named_step_backend(backend: str) -> None:
    # Dykstra's entropic steps reach the target under a decreasing weight (measured: 4 steps)
    p = problem(omega="1/t", schedule_start=3, eps=0.05) if backend == "dykstra" else problem(eps=1e-9)
    flow = om.solve(p, backend=backend, max_steps=60)
    assert isinstance(flow, AttractionFlow)
    assert flow.status is Status.CONVERGED and flow.tv[-1] <= p.eps
    # every valid sequence of couplings costs at least W1(rho0, rho_T) (triangle inequality)
    assert flow.total_cost >= w1(RHO0, flow.final) * (1 - 1e-7)
    assert om.certify_flow(flow).ok
    same = om.attraction_flow(p, solver=backend, max_steps=60)
    np.testing.assert_allclose(flow.rhos, same.rhos, atol=1e-9)


def test_the_first_exact_step_of_the_flow_is_the_independent_lp() -> None:
    flow = om.attraction_flow(problem(), backend="cvxpy", max_steps=1)
    assert flow.steps[0].objective == pytest.approx(exact_step(RHO0, 0.3), rel=1e-6)


def test_attraction_flow_takes_verbose_and_max_iter(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15 point 5: ``attraction_flow(p, verbose=True)`` raised a TypeError naming dykstra_step."""
    p = problem(eps=1e-2)
    flow = om.attraction_flow(p, verbose=True, max_steps=3)
    lines = capsys.readouterr().out.splitlines()  # logger "otmodel", shown on stdout when unconfigured
    assert sum(line.startswith("step ") for line in lines) == flow.n_steps == 3
    assert lines[-1] == "stopped after 3 steps: step limit 3 reached"
    seen: list[tuple[int, int, float]] = []
    om.attraction_flow(p, max_steps=2, progress=lambda k, total, numbers: seen.append((k, total, numbers["tv"])))
    assert [(k, total) for k, total, _ in seen] == [(1, 2), (2, 2)] and seen[0][2] < 1
    # max_iter is the step backend's iteration limit (Dykstra cycles per step)
    short = om.attraction_flow(p, max_iter=2, max_steps=2, repair=False, accept=10.0)
    assert [s.iterations for s in short.steps] == [2, 2]
    assert all(s.status is Status.ITERATION_LIMIT for s in short.steps)


def test_unknown_step_option_is_refused_with_the_list_of_those_taken() -> None:
    p = problem()
    with pytest.raises(UnsupportedError, match=r"unknown option 'tolerance'; it takes: .*max_iter"):
        om.attraction_flow(p, tolerance=1e-3)
    with pytest.raises(UnsupportedError, match=r"attraction-lp backend: unknown option 'accept'; it takes: cvxpy_solver, engine"):
        om.attraction_flow(p, "highs", accept=1e-3)
    with pytest.raises(InvalidDataError, match="max_iter"):
        om.solve(p.step(p.rho0), backend="dykstra", max_iter="many")


def test_a_backend_that_does_not_solve_steps_is_refused_with_those_that_do() -> None:
    p = problem()
    with pytest.raises(UnsupportedError, match=r"'network' does not solve an attraction step.*dykstra.*attraction-lp"):
        om.attraction_flow(p, solver="network")
    with pytest.raises(UnsupportedError, match="unknown backend 'nope'"):
        om.solve(p, backend="nope")


def test_results_speak_the_vocabulary_of_solution() -> None:
    p = problem(eps=1e-2)
    flow = om.attraction_flow(p, max_steps=2)
    s = flow.steps[0]
    assert s.seconds == s.timings["total"] > 0
    assert s.info["potentials"] is s.potentials and set(s.potentials) == {"F1", "F2", "G1", "G2"}
    assert flow.timings["total"] >= flow.timings["steps"] == pytest.approx(flow.times.sum())
    assert flow.info["seconds"] == flow.timings["total"]
    assert flow.backend == "dykstra" and flow.point_status is PointStatus.NEARLY_FEASIBLE
    assert flow.iterations == sum(x.iterations for x in flow.steps)
    exact = om.attraction_flow(p, "highs", max_steps=2)
    assert exact.backend == "attraction-lp" and exact.solver == "highs"
    assert exact.point_status is PointStatus.FEASIBLE and "exact" in exact.summary()


# ------------------------------------------------------------------ a step backend from outside
CALLS: list[dict[str, Any]] = []


class LinprogStep:
    """A step backend registered from outside: the exact step by scipy's linprog (dense), which
    asks to be warm-started with the previous step's end point (to prove the hook is called)."""

    name = "test-linprog-step"
    capabilities = frozenset({"attraction-step", "exact"})

    def supports(self, problem: Any) -> str | None:
        return None if isinstance(problem, AttractionStep) else "steps only"

    def warm_start(self, previous: StepResult) -> dict[str, Any]:
        return {"previous_end": previous.rho_next}

    def solve(self, problem: Any, **options: Any) -> StepResult:
        t0 = time.perf_counter()
        CALLS.append(options)
        step: AttractionStep = problem
        C, rho, w = metric(), step.rho, step.omega
        adj = (weights() > 0) | np.eye(N, dtype=bool)
        allowed = (adj & (rho > 0)[:, None]).reshape(-1)
        n2 = N * N
        rows = sp.kron(sp.eye(N), np.ones((1, N)))
        cols = sp.kron(np.ones((1, N)), sp.eye(N))
        Z = sp.csr_matrix((N, n2))
        A_eq = sp.vstack([sp.hstack([rows, Z]), sp.hstack([Z, rows]), sp.hstack([cols, -cols])])
        res = linprog(
            np.r_[w * C.reshape(-1), (1 - w) * C.reshape(-1)],
            A_eq=A_eq,
            b_eq=np.r_[rho, NU, np.zeros(N)],
            bounds=[(0, None if a else 0) for a in allowed] + [(0, None)] * n2,
            method="highs",
        )
        P = sp.csr_matrix(np.maximum(res.x[:n2], 0).reshape(N, N))
        Q = sp.csr_matrix(np.maximum(res.x[n2:], 0).reshape(N, N))
        return StepResult(
            step=step,
            rho_next=np.asarray(P.sum(axis=0)).reshape(-1),
            plan=P,
            target_plan=Q,
            objective=float(res.fun),
            transport_cost=float(P.multiply(C).sum()),
            status=Status.OPTIMAL,
            point_status=PointStatus.FEASIBLE,
            iterations=int(res.nit),
            violation=0.0,
            backend=self.name,
            solver="linprog",
            timings={"total": time.perf_counter() - t0},
        )


@pytest.fixture
def outside_backend() -> Any:
    backends.register(LinprogStep.name, f"{__name__}:LinprogStep")
    CALLS.clear()
    try:
        yield LinprogStep.name
    finally:
        backends._REGISTRY.pop(LinprogStep.name, None)
        backends._INSTANCES.pop(LinprogStep.name, None)


def test_a_step_backend_registered_from_outside_runs_the_flow(outside_backend: str) -> None:
    p = problem(eps=1e-9)
    assert outside_backend in backends.attraction_flow.step_backends()
    flow = om.solve(p, backend=outside_backend, max_steps=40)
    assert flow.status is Status.CONVERGED and flow.backend == outside_backend
    assert om.certify_flow(flow).ok
    # its own warm-start hook carried each step's end to the next step, and nothing else was passed
    assert CALLS[0] == {}
    for prev, opts in zip(flow.steps, CALLS[1:], strict=False):
        assert set(opts) == {"previous_end"}
        np.testing.assert_array_equal(opts["previous_end"], prev.rho_next)
    cold = om.attraction_flow(p, backend=outside_backend, max_steps=2, warm_start=False)
    assert cold.n_steps == 2 and CALLS[-1] == {}
