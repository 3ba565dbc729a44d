"""The attraction-step conformance cases (issue 11 item 5): their answers confirmed by independent
means, and the checker shown to reject wrong steps.

Exact optima: scipy's ``linprog`` on a dense LP of (10a)-(10f) written here. Entropic closed forms:
scipy's ``minimize_scalar`` on the one-variable entropic objective. Neither touches otmodel's solvers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog, minimize_scalar

from otmodel.backends.dykstra import dykstra_step
from otmodel.model.attraction import AttractionStep
from otmodel.results import Status
from otmodel.validation.cases import ConformanceConfig, cases, check_answer
from otmodel.validation.cases_attraction import entropic_conditions

CASES = cases(["attraction-step"])
BY_NAME = {c.name: c for c in CASES}
DYKSTRA = ConformanceConfig(optimal_statuses=(Status.CONVERGED,))


def dense_step_lp(step: AttractionStep) -> float:
    """The exact step as a dense LP over all n x n pairs of both plans, bounds from the data."""
    prob = step.problem
    n, C, w = step.n, prob.cost, step.omega
    adj = prob.adjacency.toarray()
    cap = np.full((n, n), np.inf)
    if prob.edge_capacity is not None:
        pat = sp.coo_matrix(prob._cap_pattern)
        cap[pat.row, pat.col] = np.asarray(prob.edge_capacity[pat.row, pat.col]).reshape(-1)
    ok = adj & (step.rho > 0)[:, None]
    rows = sp.kron(sp.eye(n), np.ones((1, n)))
    cols = sp.kron(np.ones((1, n)), sp.eye(n))
    Z = sp.csr_matrix((n, n * n))
    A_eq = sp.vstack([sp.hstack([rows, Z]), sp.hstack([Z, rows]), sp.hstack([cols, -cols])])
    fin = np.isfinite(prob.storage)
    res = linprog(
        np.r_[w * C.reshape(-1), (1 - w) * C.reshape(-1)],
        A_ub=sp.hstack([cols, Z]).tocsr()[fin] if fin.any() else None,
        b_ub=prob.storage[fin] if fin.any() else None,
        A_eq=A_eq,
        b_eq=np.r_[step.rho, prob.nu, np.zeros(n)],
        bounds=[(0, (None if np.isinf(c) else c) if a else 0) for a, c in zip(ok.reshape(-1), cap.reshape(-1), strict=True)]
        + [(0, None)] * (n * n),
        method="highs",
    )
    assert res.status == 0, res.message
    return float(res.fun)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_exact_optimum_of_every_case_is_the_independent_lp(case) -> None:
    assert dense_step_lp(case.problem) == pytest.approx(case.expected_objective, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["attraction_two_nodes", "attraction_path_one_edge", "attraction_storage_binds",
                                  "attraction_capacity_binds"])
def test_the_entropic_closed_forms_are_the_minimizer_of_the_one_variable_problem(name: str) -> None:
    """On these paths the source a keeps 1 - x and sends x one edge on (toward the target, at the end
    of the path); every plan entry is then x or 1 - x, so (10a) with KL terms is a function of x."""
    case = BY_NAME[name]
    step = case.problem
    C, g, w = step.problem.cost, step.gamma, step.omega
    t = int(np.flatnonzero(step.problem.nu)[0])

    def kl(pairs: list[tuple[float, float]]) -> float:  # sum pi log(pi / xi) - pi + xi over the pairs
        return sum(p * math.log(p) + p * c / g - p + math.exp(-c / g) for p, c in pairs if p > 0)

    def objective(x: float) -> float:
        pi1 = [(1 - x, C[0, 0]), (x, C[0, 1])]
        pi2 = [(1 - x, C[t, 0]), (x, C[t, 1])]
        return w * kl(pi1) + (1 - w) * kl(pi2)

    cap = min(step.problem.storage[1], 0.3 if "capacity" in name else 1.0)
    best = minimize_scalar(objective, bounds=(1e-12, min(cap, 1 - 1e-12)), method="bounded", options={"xatol": 1e-12})
    stated = case.witness.entropic_plan.sum(axis=0)[1]
    assert best.x == pytest.approx(stated, abs=1e-7)


def test_dykstra_answers_pass_and_wrong_entropic_steps_are_rejected() -> None:
    for case in CASES:
        res = dykstra_step(case.problem, tol=1e-11)
        assert check_answer(case, res, DYKSTRA) == [], case.name
    case = BY_NAME["attraction_ring_split"]
    step = case.problem
    # the barycenter of the wrong weight: plans of a Gibbs form, feasible, but not this step's minimizer
    other = step.problem.step(step.rho, omega=0.4, gamma=step.gamma)
    wrong = dykstra_step(other, tol=1e-11)
    planted = dataclasses.replace(dykstra_step(step, tol=1e-11), plan=wrong.plan, target_plan=wrong.target_plan,
                                  rho_next=wrong.rho_next, objective=wrong.objective, transport_cost=wrong.transport_cost)
    errs = check_answer(case, planted, DYKSTRA)
    assert any("omega g1 + (1 - omega) g2 varies" in e for e in errs), errs
    # a step stopped after one cycle (of 52) but reported converged: its plan breaks the storage (10e)
    stor = BY_NAME["attraction_storage_binds"]
    early = dataclasses.replace(dykstra_step(stor.problem, max_iter=1, repair=False), status=Status.CONVERGED)
    assert any("violate (10b)-(10f)" in e for e in check_answer(stor, early, DYKSTRA))
    # the exact plan passed off as the entropic one: zero where the entropic plan charges every pair
    exact = BY_NAME["attraction_two_nodes"]
    lp = dataclasses.replace(_exact(exact), status=Status.CONVERGED)
    assert any("KL gradient" in e for e in check_answer(exact, lp, DYKSTRA))
    # the closed form catches a wrong entropic step where the conditions do not apply (storage binds)
    loose = stor.problem.problem.step(stor.problem.rho, omega=0.45, gamma=stor.problem.gamma)
    off = dykstra_step(loose, tol=1e-11)
    assert off.rho_next[1] < 0.6 - 1e-3  # the wrong weight keeps more at a
    planted = dataclasses.replace(dykstra_step(stor.problem, tol=1e-11), plan=off.plan, target_plan=off.target_plan,
                                  rho_next=off.rho_next, objective=off.objective, transport_cost=off.transport_cost)
    assert any("closed-form" in e for e in check_answer(stor, planted, DYKSTRA))


def _exact(case):
    from otmodel.validation.cases_attraction import right_answer

    return right_answer(case)


def test_the_conditions_hold_at_the_stated_closed_forms_and_fail_off_them() -> None:
    case = BY_NAME["attraction_path_one_edge"]
    w = case.witness
    assert entropic_conditions(case.problem, w.entropic_plan, w.entropic_target_plan, 1e-9) == []
    P, Q = w.entropic_plan.copy(), w.entropic_target_plan.copy()
    P[0, :] = [0.5, 0.5, 0.0]  # another feasible split: no longer the minimizer
    Q[2, :] = [0.5, 0.5, 0.0]
    assert entropic_conditions(case.problem, P, Q, 1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if "capacity" not in c.tags], ids=lambda c: c.name)
def test_the_exact_steps_potentials_prove_its_optimum(case) -> None:
    """The LP step's potentials (HiGHS duals, Dykstra's normalization) are dual feasible and their dual
    value, omega rho.F1 + (1 - omega) nu.F2 + storage.(omega G1 + (1 - omega) G2), is the proven optimum."""
    import otmodel as om

    step = case.problem
    res = om.solve(step, backend="highs")
    pot, C, w = res.potentials, step.problem.cost, step.omega
    assert pot is not None and res.info["potentials"] is pot
    j, i, _ = step.allowed()
    assert (pot["F1"][j] + pot["G1"][i] <= C[j, i] + 1e-9).all()
    k = np.flatnonzero(step.problem.nu > 0)
    R = np.unique(i)
    assert (pot["F2"][k][:, None] + pot["G2"][R][None, :] <= C[np.ix_(k, R)] + 1e-9).all()
    lam = w * pot["G1"] + (1 - w) * pot["G2"]
    assert (lam <= 1e-9).all()
    fin = np.isfinite(step.problem.storage)
    dual = w * step.rho @ pot["F1"] + (1 - w) * step.problem.nu @ pot["F2"] + step.problem.storage[fin] @ lam[fin]
    assert dual == pytest.approx(case.expected_objective, rel=1e-9, abs=1e-12)
