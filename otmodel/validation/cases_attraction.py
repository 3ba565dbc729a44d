r"""Known-answer cases of kind ``attraction-step``: single steps of an attraction flow (Arqué et al.).

Each case is one instance of Problem 1 ((10a)-(10f), ``otmodel.model.attraction``), small enough to
solve by hand. Two answers are known for it:

* **The exact step** (`\gamma = 0`, an LP). The witness states optimal plans `(P, Q)` and
  multipliers of the LP's dual,

  .. math:: \max\ \textstyle\sum_j \rho_j a_j + \sum_k \nu_k b_k + \sum_i \bar\rho_i \lambda_i
            + \sum_{ji} \tilde C_{ji} \mu_{ji}
            \quad\text{s.t.}\quad a_j + h_i + \lambda_i + \mu_{ji} \le \omega C_{ji}\ ((j,i)\ \text{allowed}),\
            b_k - h_i \le (1-\omega) C_{ki},\ \lambda, \mu \le 0,

  (`a`, `b` for (10b), `h` for (10c), `\lambda` for (10e), `\mu` for (10d)). ``check_case``
  recomputes from the problem data that `(P, Q)` is feasible, the multipliers are dual feasible and
  both objectives equal the expected one: by weak duality this proves the optimum.
* **The entropic step** (`\gamma > 0`, what Dykstra solves; strictly convex, so one minimizer).
  Where the inequalities (10d)-(10e) are inactive its optimality conditions are
  `\log P_{ji} + C_{ji}/\gamma = f^1_j + g^1_i` on the allowed pairs,
  `\log Q_{ki} + C_{ki}/\gamma = f^2_k + g^2_i`, and `\omega g^1 + (1-\omega) g^2` constant
  (stationarity of the Lagrangian of (10a) under (10b)-(10c); the constant is the freedom of
  `(f, g) \to (f + c, g - c)`), with (10b)-(10c) feasible. ``entropic_conditions`` checks them on
  any pair of plans. On a path whose source may move `x` one edge of length `w` toward the target,
  the step reduces to `\min_x x\log x + (1-x)\log(1-x) - (1-2\omega) x w/\gamma`, so
  `x = \sigma((1-2\omega) w/\gamma)` (`\sigma` the logistic function), or the bound that
  (10d)/(10e) puts on `x` when that is smaller: these closed forms are stated too, and the
  conditions are checked on them when the case is built.

Answers are ``StepResult``\ s, judged by ``check_answer``: feasibility of the returned plans
((10b)-(10f), the support rule (15), recomputed by ``otmodel.validation.attraction.certify_step``),
reported numbers against the plans, an objective (10a) never below the proven exact optimum; then an
answer that claims ``OPTIMAL`` (an exact step) must reach that optimum (and the unique `\rho_{t+1}`
where the case states it), any other (an entropic step) must satisfy the optimality conditions above
where they apply and match the closed form where one is stated.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.model.attraction import AttractionProblem, AttractionStep
from otmodel.model.costs import Linear
from otmodel.model.network import Network
from otmodel.results import PointStatus, Status, StepResult
from otmodel.validation.attraction import certify_step
from otmodel.validation.cases import ConformanceCase, ConformanceConfig, close

__all__ = ["KnownStep", "cases", "check_answer", "check_case", "entropic_conditions", "right_answer", "wrong_answers"]

INF = math.inf


@dataclass(frozen=True)
class KnownStep:
    """The answers of an attraction-step case (dense ``(n, n)`` arrays, ``plan[j, i]`` mass j -> i).

    ``plan``, ``target_plan``: an optimal exact step; ``a``, ``b``, ``h``, ``lam`` (per node) and
    ``mu`` (per pair) its dual multipliers (module docstring); ``unique``: the exact
    `\\rho_{t+1}` is unique (stated only where the derivation proves it). ``entropic_plan``,
    ``entropic_target_plan``: the entropic minimizer in closed form, or None; ``conditions``: the
    inequalities are inactive at the entropic minimizer, so ``entropic_conditions`` applies.
    """

    plan: NDArray[np.float64]
    target_plan: NDArray[np.float64]
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    h: NDArray[np.float64]
    lam: NDArray[np.float64]
    mu: NDArray[np.float64]
    unique: bool = True
    entropic_plan: NDArray[np.float64] | None = None
    entropic_target_plan: NDArray[np.float64] | None = None
    conditions: bool = True


def _sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _path(
    lengths: list[float], rho: list[float], nu: list[float], storage: list[float] | None = None, upper: float = INF
) -> AttractionProblem:
    """Nodes a, b, c, ... joined in a path with these edge lengths; ``upper`` caps the first edge."""
    names = "abcdefgh"[: len(lengths) + 1]
    net = Network()
    for v in names:
        net.add_node(v)
    for k, w in enumerate(lengths):
        net.add_arc(names[k], names[k + 1], Linear(w), upper=upper if k == 0 else INF)
    return AttractionProblem(net, rho, nu, storage=storage)


def _known(n: int, plan: dict[tuple[int, int], float], target: dict[tuple[int, int], float], a: ArrayLike,
           b: ArrayLike, h: ArrayLike, lam: ArrayLike | None = None, mu: dict[tuple[int, int], float] | None = None,
           entropic: tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]] | None = None,
           conditions: bool = True) -> KnownStep:
    def dense(entries: dict[tuple[int, int], float]) -> NDArray[np.float64]:
        m = np.zeros((n, n))
        for (j, i), v in entries.items():
            m[j, i] = v
        return m

    return KnownStep(
        dense(plan), dense(target), np.asarray(a, float), np.asarray(b, float), np.asarray(h, float),
        np.zeros(n) if lam is None else np.asarray(lam, float), dense(mu or {}),
        entropic_plan=None if entropic is None else dense(entropic[0]),
        entropic_target_plan=None if entropic is None else dense(entropic[1]),
        conditions=conditions,
    )


def _case(name: str, step: AttractionStep, objective: float, derivation: str, witness: KnownStep,
          tags: tuple[str, ...] = ()) -> ConformanceCase:
    case = ConformanceCase(
        name=name,
        problem=step,
        expected_status=Status.OPTIMAL,
        expected_objective=float(objective),
        derivation=derivation,
        witness=witness,
        tags=frozenset({"attraction-step", *tags}),
        kind="attraction-step",
    )
    check_case(case)
    return case


def _two_nodes() -> ConformanceCase:
    # a -(1)- b, all mass on a, target on b, omega 1/4, gamma 1/2
    step = _path([1.0], [1.0, 0.0], [0.0, 1.0]).step(np.array([1.0, 0.0]), omega=0.25, gamma=0.5)
    x = _sigma((1 - 2 * 0.25) * 1.0 / 0.5)
    return _case(
        "attraction_two_nodes", step, 0.25,
        "exact: moving x to b costs x/4 + 3(1-x)/4, least at x = 1 (objective 1/4); duals a = (1/4, 0), "
        "b = (0, 0), h = (-1/2, 0). Entropic: x = sigma((1 - 2 omega) w / gamma) = sigma(1)",
        _known(2, {(0, 1): 1.0}, {(1, 1): 1.0}, [0.25, 0], [0, 0], [-0.5, 0],
               entropic=({(0, 0): 1 - x, (0, 1): x}, {(1, 0): 1 - x, (1, 1): x})),
        ("entropic-closed-form",),
    )


def _path3(storage: float = INF, upper: float = INF) -> AttractionProblem:
    return _path([1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], storage=[INF, storage, INF], upper=upper)


def _path_one_edge_per_step() -> ConformanceCase:
    # a -(1)- b -(1)- c, mass on a, target on c: the support rule (15) lets a reach b only
    step = _path3().step(np.array([1.0, 0.0, 0.0]), omega=0.25, gamma=0.25)
    x = _sigma((1 - 2 * 0.25) * 1.0 / 0.25)
    return _case(
        "attraction_path_one_edge", step, 1.0,
        "exact: x moved a -> b costs x/4 + 3/4 (2(1-x) + x) = 3/2 - x/2, least at x = 1 (objective 1); "
        "duals a_a = 1/4, b_c = 3/4, h = (-1/2, 0, 1). Entropic: x = sigma(2)",
        _known(3, {(0, 1): 1.0}, {(2, 1): 1.0}, [0.25, 0, 0], [0, 0, 0.75], [-0.5, 0, 1.0],
               entropic=({(0, 0): 1 - x, (0, 1): x}, {(2, 0): 1 - x, (2, 1): x})),
        ("entropic-closed-form", "support-rule"),
    )


def _path_storage() -> ConformanceCase:
    step = _path3(storage=0.6).step(np.array([1.0, 0.0, 0.0]), omega=0.25, gamma=0.25)
    return _case(
        "attraction_storage_binds", step, 1.2,
        "as attraction_path_one_edge with storage 0.6 at b: x = 0.6, objective 3/2 - 0.3 = 1.2; duals "
        "a = 0, b_c = 3/2, h = (0, 3/4, 2), lambda_b = -1/2 (dual 3/2 - 0.6/2 = 1.2). Entropic: the "
        "one-variable convex problem is least at its bound x = 0.6 (sigma(2) > 0.6)",
        _known(3, {(0, 0): 0.4, (0, 1): 0.6}, {(2, 0): 0.4, (2, 1): 0.6}, [0, 0, 0], [0, 0, 1.5], [0, 0.75, 2.0],
               lam=[0, -0.5, 0], entropic=({(0, 0): 0.4, (0, 1): 0.6}, {(2, 0): 0.4, (2, 1): 0.6}), conditions=False),
        ("entropic-closed-form", "storage"),
    )


def _path_capacity() -> ConformanceCase:
    step = _path3(upper=0.3).step(np.array([1.0, 0.0, 0.0]), omega=0.25, gamma=0.25)
    return _case(
        "attraction_capacity_binds", step, 1.35,
        "as attraction_path_one_edge with capacity 0.3 on a -> b: x = 0.3, objective 3/2 - 0.15 = 1.35; "
        "duals a = 0, b_c = 3/2, h = (0, 3/4, 2), mu_ab = -1/2. Entropic: least at the bound x = 0.3",
        _known(3, {(0, 0): 0.7, (0, 1): 0.3}, {(2, 0): 0.7, (2, 1): 0.3}, [0, 0, 0], [0, 0, 1.5], [0, 0.75, 2.0],
               mu={(0, 1): -0.5}, entropic=({(0, 0): 0.7, (0, 1): 0.3}, {(2, 0): 0.7, (2, 1): 0.3}),
               conditions=False),
        ("entropic-closed-form", "capacity"),
    )


def _ring4() -> ConformanceCase:
    # ring a-b-c-d-a of unit edges, mass on a and b, target on c and d
    net = Network()
    for v in "abcd":
        net.add_node(v)
    for u, v in ("ab", "bc", "cd", "da"):
        net.add_arc(u, v, Linear(1.0))
    prob = AttractionProblem(net, [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5])
    step = prob.step(prob.rho0, omega=0.25, gamma=0.5)
    return _case(
        "attraction_ring_split", step, 0.25,
        "exact: omega W(rho, p) + (1 - omega) W(p, nu) >= omega W(rho, nu) = 1/4 (triangle inequality, "
        "omega <= 1/2) with equality only at p = nu, reached by a -> d and b -> c; duals a = (1/4, 1/4, 0, 0), "
        "b = 0, h = (-1/2, -1/2, 0, 0). Entropic: the optimality conditions (no closed form)",
        _known(4, {(0, 3): 0.5, (1, 2): 0.5}, {(2, 2): 0.5, (3, 3): 0.5}, [0.25, 0.25, 0, 0], [0, 0, 0, 0],
               [-0.5, -0.5, 0, 0]),
        ("entropic-conditions",),
    )


def cases() -> list[ConformanceCase]:
    """The attraction-step cases, built fresh and checked (``otmodel.validation.cases.cases``)."""
    return [_two_nodes(), _path_one_edge_per_step(), _path_storage(), _path_capacity(), _ring4()]


# ================================================================================== the checks
def _fail(case: ConformanceCase, msg: str) -> None:
    raise AssertionError(f"conformance case {case.name!r}: {msg}")


def _feasibility(step: AttractionStep, P: NDArray[np.float64], Q: NDArray[np.float64]) -> float:
    """Largest violation of (10b)-(10e), the support rule (15) and non-negativity by dense plans."""
    prob = step.problem
    j, i, cap = step.allowed()
    allowed = np.zeros(P.shape, bool)
    allowed[j, i] = True
    capm = np.full(P.shape, INF)
    capm[j, i] = cap
    p = P.sum(axis=0)
    with np.errstate(invalid="ignore"):
        over_storage = np.where(np.isfinite(prob.storage), p - prob.storage, 0.0)
    return float(max(
        np.abs(P.sum(axis=1) - step.rho).max(), np.abs(Q.sum(axis=1) - prob.nu).max(), np.abs(p - Q.sum(axis=0)).max(),
        np.abs(P[~allowed]).max(initial=0.0), np.maximum(P - capm, 0).max(), np.maximum(over_storage, 0).max(),
        np.maximum(-P, 0).max(), np.maximum(-Q, 0).max(),
    ))


def check_case(case: ConformanceCase, rtol: float = 1e-9) -> None:
    """Self-check: the exact witness is feasible and dual feasible with equal objectives (weak duality
    proves the optimum), and the stated entropic minimizer satisfies the optimality conditions."""
    step, w = case.problem, case.witness
    if not isinstance(step, AttractionStep) or not isinstance(w, KnownStep):
        _fail(case, "an attraction-step case needs an AttractionStep and a KnownStep witness")
    prob, om = step.problem, step.omega
    C, n = prob.cost, step.n
    if _feasibility(step, w.plan, w.target_plan) > rtol:
        _fail(case, "the exact witness is not feasible")
    primal = om * float((C * w.plan).sum()) + (1 - om) * float((C * w.target_plan).sum())
    j, i, cap = step.allowed()
    slack1 = om * C[j, i] - (w.a[j] + w.h[i] + w.lam[i] + w.mu[j, i])
    k = np.flatnonzero(prob.nu > 0)
    slack2 = (1 - om) * C[k][:, :] - (w.b[k][:, None] - w.h[None, :])
    fin_s, fin_c = np.isfinite(prob.storage), np.isfinite(cap)
    mu_off = np.ones((n, n), bool)
    mu_off[j[fin_c], i[fin_c]] = False
    if min(slack1.min(), slack2.min()) < -rtol or (w.lam > 0).any() or (w.mu > 0).any():
        _fail(case, "the dual multipliers are not dual feasible")
    if np.abs(w.lam[~fin_s]).max(initial=0.0) > 0 or np.abs(w.mu[mu_off]).max(initial=0.0) > 0:
        _fail(case, "a multiplier sits on a constraint that does not exist (infinite storage or capacity)")
    dual = float(step.rho @ w.a + prob.nu @ w.b + (prob.storage[fin_s] @ w.lam[fin_s]) + (cap[fin_c] @ w.mu[j[fin_c], i[fin_c]]))
    for what, value in (("primal", primal), ("dual", dual)):
        if not close(value, case.expected_objective, rtol, rtol):
            _fail(case, f"the {what} objective {value!r} != expected {case.expected_objective!r}")
    if w.entropic_plan is not None and w.entropic_target_plan is not None:
        if _feasibility(step, w.entropic_plan, w.entropic_target_plan) > rtol:
            _fail(case, "the stated entropic minimizer is not feasible")
        if w.conditions:
            bad = entropic_conditions(step, w.entropic_plan, w.entropic_target_plan, 1e-9)
            if bad:
                _fail(case, f"the stated entropic minimizer fails its optimality conditions: {bad}")


def _log_fit(L: NDArray[np.float64], rows: NDArray[np.intp], cols: NDArray[np.intp]) -> tuple[NDArray[np.float64], float]:
    """Least-squares ``L[r, c] ~ f[r] + g[c]`` over the given pairs: returns ``g`` (per column index
    of ``L``) and the largest residual."""
    ur, ri = np.unique(rows, return_inverse=True)
    uc, ci = np.unique(cols, return_inverse=True)
    A = np.zeros((rows.size, ur.size + uc.size))
    A[np.arange(rows.size), ri] = 1.0
    A[np.arange(rows.size), ur.size + ci] = 1.0
    y = L[rows, cols]
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    g = np.full(L.shape[1], np.nan)
    g[uc] = sol[ur.size :]
    return g, float(np.abs(A @ sol - y).max(initial=0.0))


def entropic_conditions(step: AttractionStep, P: ArrayLike, Q: ArrayLike, tol: float = 1e-6) -> list[str]:
    """What fails of the entropic step's optimality conditions (module docstring) at dense plans
    ``P`` (`\\pi_1`) and ``Q`` (`\\pi_2`), in log units against ``tol``; empty when they hold.

    Valid where (10d)-(10e) are inactive and the allowed pairs of `\\pi_1` form one connected
    bipartite graph (the cases here)."""
    P, Q = np.asarray(P, float), np.asarray(Q, float)
    C, g = step.problem.cost, step.gamma
    j, i, _ = step.allowed()
    R = np.unique(i)
    k = np.flatnonzero(step.problem.nu > 0)
    kk, ii = np.repeat(k, R.size), np.tile(R, k.size)
    out = []
    if not (P[j, i] > 0).all() or not (Q[kk, ii] > 0).all():
        out.append("a plan is zero on a pair the entropic minimizer charges (its KL gradient is -inf there)")
        return out
    with np.errstate(divide="ignore"):
        g1, r1 = _log_fit(np.log(P) + C / g, j, i)
        g2, r2 = _log_fit(np.log(Q) + C / g, kk, ii)
    if max(r1, r2) > tol:
        out.append(f"log pi + C/gamma is not f_j + g_i (residual {max(r1, r2):.3g})")
    bary = step.omega * g1[R] + (1 - step.omega) * g2[R]
    if float(bary.max() - bary.min()) > tol:
        out.append(f"omega g1 + (1 - omega) g2 varies by {float(bary.max() - bary.min()):.3g} over the nodes reached")
    return out


def check_answer(case: ConformanceCase, answer: Any, cfg: ConformanceConfig) -> list[str]:
    """What is wrong with a step backend's ``answer`` (module docstring); empty when nothing is."""
    if not isinstance(answer, StepResult):
        return [f"the answer is a {type(answer).__name__}, not a StepResult"]
    if answer.status not in cfg.optimal_statuses:
        return [f"status {answer.status.value}, expected {'/'.join(s.value for s in cfg.optimal_statuses)}"]
    if answer.target_plan is None:
        return ["no target plan pi_2 returned"]
    step, w, want = case.problem, case.witness, case.expected_objective
    if answer.step is not step:
        return ["the answer is for another step"]
    cert = certify_step(answer, exact=False, tol=cfg.feas_tol)
    errs = [] if cert.feasible else [f"the plans violate (10b)-(10f) or (15): {cert.summary()}"]
    obj = cert.objective
    C = step.problem.cost
    if not close(float(answer.objective), obj, cfg.rtol, cfg.atol):
        errs.append(f"reported objective {answer.objective:.10g} != the plans' {obj:.10g}")
    if not close(float(answer.transport_cost), float(answer.plan.multiply(C).sum()), cfg.rtol, cfg.atol):
        errs.append(f"reported transport cost {answer.transport_cost:.10g} != the plan's")
    if obj < want - cfg.atol - cfg.rtol * max(1.0, abs(want)):
        errs.append(f"objective (10a) {obj:.10g} below the proven exact optimum {want:.10g}")
    bound = cfg.point_atol + cfg.point_rtol
    P, Q = answer.plan.toarray(), answer.target_plan.toarray()
    if answer.status is Status.OPTIMAL:  # an exact step (gamma = 0): the only one that may say OPTIMAL
        if not close(obj, want, cfg.rtol, cfg.atol):
            errs.append(f"objective (10a) {obj:.10g} != exact optimum {want:.10g}")
        if w.unique and np.abs(answer.rho_next - w.plan.sum(axis=0)).max() > bound:
            errs.append("rho_next differs from the unique exact step")
        return errs
    if w.conditions:
        errs += entropic_conditions(step, P, Q, tol=max(1e-6, cfg.point_rtol))
    if w.entropic_plan is not None and np.abs(answer.rho_next - w.entropic_plan.sum(axis=0)).max() > bound:
        errs.append("rho_next differs from the closed-form entropic step")
    return errs


# ========================================================================= right and wrong answers
def _result(case: ConformanceCase, P: NDArray[np.float64], Q: NDArray[np.float64], status: Status) -> StepResult:
    import scipy.sparse as sp

    step = case.problem
    C, om = step.problem.cost, step.omega
    return StepResult(
        step=step, rho_next=P.sum(axis=0), plan=sp.csr_matrix(P), target_plan=sp.csr_matrix(Q),
        objective=om * float((C * P).sum()) + (1 - om) * float((C * Q).sum()), transport_cost=float((C * P).sum()),
        status=status, point_status=PointStatus.FEASIBLE, iterations=0, violation=0.0, backend="planted",
        solver="planted",
    )


def right_answer(case: ConformanceCase) -> StepResult:
    """The exact step of the witness, as an exact backend returns it."""
    return _result(case, case.witness.plan, case.witness.target_plan, Status.OPTIMAL)


def wrong_answers(case: ConformanceCase) -> list[tuple[str, Any]]:
    """``(what is wrong, answer)`` pairs, each of which ``check_answer`` must reject."""
    w = case.witness
    right = right_answer(case)
    stay = np.diag(case.problem.rho)  # nobody moves: feasible (pi_2 moved to match) but not optimal
    nu = case.problem.problem.nu
    lazy = np.outer(nu, stay.sum(axis=0)) / max(float(stay.sum()), 1e-300)
    out: list[tuple[str, Any]] = [
        ("nobody moves (a feasible, worse step)", _result(case, stay, lazy, Status.OPTIMAL)),
        ("the objective reported 1% above the plans'", dataclasses.replace(right, objective=right.objective * 1.01 + 0.01)),
        ("status ITERATION_LIMIT", dataclasses.replace(right, status=Status.ITERATION_LIMIT)),
        ("pi_1 scaled by 0.9 (rows (10b) broken)", _result(case, 0.9 * w.plan, w.target_plan, Status.OPTIMAL)),
    ]
    if w.entropic_plan is not None:
        ent = _result(case, w.entropic_plan, w.entropic_target_plan, Status.OPTIMAL)
        if not close(ent.objective, case.expected_objective, 1e-6, 1e-7):
            out.append(("the entropic step claimed exact (OPTIMAL)", ent))
    return out
