r"""Algorithm 1 of Arqué, Uribe, Ocampo-Martinez: the Wasserstein attraction flow on a network.

Starting from `\rho_0`, each step solves Problem 1 ((10a)-(10f), see
``otmodel.model.attraction``) at `\rho_t` with weight `\omega(t)` and regularization
`\gamma(t)`, and sets `\rho_{t+1} = p`, until
`\tfrac12\|\nu-\rho_t\|_1 \le \varepsilon` or a step limit. The step solver is

* ``"dykstra"`` -- Dykstra's algorithm with the KL proximal operators (11)-(15), in the log domain
  (``otmodel.backends.dykstra.DykstraBackend``);
* ``"highs"`` / ``"cvxpy"`` -- the exact step (`\gamma = 0`): the LP of (10a)-(10f) with the KL
  terms replaced by transport costs (``otmodel.backends.attraction_lp``).

>>> flow = attraction_flow(problem, solver="dykstra")          # doctest: +SKIP
>>> flow.tv[-1] <= problem.eps, flow.total_cost                 # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.model.attraction import AttractionProblem, AttractionStep, StepInfeasibleWarning, total_variation
from otmodel.results import PointStatus, Status, Trace

__all__ = ["StepResult", "AttractionFlow", "attraction_flow", "solve_step", "STEP_SOLVERS"]

STEP_SOLVERS = ("dykstra", "highs", "cvxpy")


@dataclass(frozen=True)
class StepResult:
    r"""The answer of one step solver to Problem 1.

    Attributes
    ----------
    step : the ``AttractionStep`` solved
    rho_next : (n,) array -- `\rho_{t+1} = p = \pi_1^\top\mathbf 1` (zero where no mass can arrive)
    plan : (n, n) CSR -- `\pi_1`, ``plan[j, i]`` = mass moved j -> i; stored only on allowed pairs
    target_plan : (n, n) CSR or None -- `\pi_2`, ``target_plan[k, i]`` couples `\nu_k`, `p_i`
    objective : `\omega\langle C,\pi_1\rangle + (1-\omega)\langle C,\pi_2\rangle` (10a) without entropy
    transport_cost : `\langle C, \pi_1\rangle`, the cost of moving `\rho_t` to `\rho_{t+1}`
    status, point_status : why the solver stopped and what the point is (``otmodel.results``)
    iterations : Dykstra cycles or solver iterations
    violation : constraint violation measured by the solver at the end (L1, see the backend)
    seconds : wall-clock time of the step
    solver : name of the step solver
    message : the solver's words
    trace : per-iteration records (Dykstra: ``violation``) or None
    """

    step: AttractionStep
    rho_next: NDArray[np.float64]
    plan: sp.csr_matrix
    target_plan: sp.csr_matrix | None
    objective: float
    transport_cost: float
    status: Status
    point_status: PointStatus
    iterations: int
    violation: float
    seconds: float
    solver: str
    message: str = ""
    trace: Trace | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """A usable step: solved, or stopped by its iteration limit at a nearly feasible point."""
        return self.status in (Status.OPTIMAL, Status.CONVERGED, Status.ITERATION_LIMIT) and self.point_status in (
            PointStatus.FEASIBLE,
            PointStatus.NEARLY_FEASIBLE,
        )


@dataclass(frozen=True)
class AttractionFlow:
    r"""The result of Algorithm 1.

    Attributes
    ----------
    problem : the ``AttractionProblem``
    rhos : (T+1, n) array -- `\rho_0, \dots, \rho_T`
    steps : list of ``StepResult`` (T of them), with the plans
    tv : (T+1,) array -- `\tfrac12\|\nu-\rho_t\|_1` for t = 0..T
    status : CONVERGED (tv <= eps), ITERATION_LIMIT (max_steps), INFEASIBLE (a step is infeasible,
        Lemma 1) or NUMERICAL_ERROR (a step solver failed)
    message : why it stopped, in words
    solver : the step solver
    """

    problem: AttractionProblem
    rhos: NDArray[np.float64]
    steps: list[StepResult]
    tv: NDArray[np.float64]
    status: Status
    message: str
    solver: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def plans(self) -> list[sp.csr_matrix]:
        """The transport plans `\\pi_1` of the steps (sparse, ``plan[j, i]`` mass j -> i)."""
        return [s.plan for s in self.steps]

    @property
    def costs(self) -> NDArray[np.float64]:
        """Transport cost `\\langle C, \\pi_1\\rangle` of each step (the paper's Fig. 3 right)."""
        return np.array([s.transport_cost for s in self.steps])

    @property
    def objectives(self) -> NDArray[np.float64]:
        return np.array([s.objective for s in self.steps])

    @property
    def times(self) -> NDArray[np.float64]:
        """Seconds per step."""
        return np.array([s.seconds for s in self.steps])

    @property
    def omegas(self) -> NDArray[np.float64]:
        return np.array([s.step.omega for s in self.steps])

    @property
    def total_cost(self) -> float:
        return float(self.costs.sum())

    @property
    def final(self) -> NDArray[np.float64]:
        return self.rhos[-1]

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED

    def summary(self) -> str:
        p = self.problem
        lines = [
            f"{p!r}",
            f"solver {self.solver}: {self.status.value} after {self.n_steps} steps -- {self.message}",
            f"TV(rho_T, nu) {self.tv[-1]:.3e}   total transport cost {self.total_cost:.6g}   "
            f"time {self.times.sum():.3f} s",
            "",
            f"{'t':>4}  {'omega':>7}  {'gamma':>8}  {'TV':>10}  {'cost':>10}  {'iters':>6}  {'viol':>9}  {'time s':>8}",
        ]
        rows = []
        for k, s in enumerate(self.steps):
            g = "exact" if s.solver != "dykstra" else f"{s.step.gamma:.3g}"
            rows.append(
                f"{k:>4}  {s.step.omega:>7.4g}  {g:>8}  {self.tv[k + 1]:>10.3e}  {s.transport_cost:>10.5g}  "
                f"{s.iterations:>6}  {s.violation:>9.2e}  {s.seconds:>8.4f}"
            )
        from otmodel.validation.attraction import _abridged

        return "\n".join(lines + _abridged(rows, head=12, tail=4))


def solve_step(step: AttractionStep, solver: str = "dykstra", **options: Any) -> StepResult:
    """Solve one instance of Problem 1 with ``solver`` ("dykstra", "highs" or "cvxpy")."""
    if solver == "dykstra":
        from otmodel.backends import get

        return get("dykstra").solve(step, **options)  # type: ignore[arg-type,return-value]
    if solver in ("highs", "cvxpy"):
        from otmodel.backends.attraction_lp import solve_step_lp

        return solve_step_lp(step, solver=solver, **options)
    from otmodel.errors import UnsupportedError

    raise UnsupportedError(f"unknown step solver {solver!r}; use one of {', '.join(STEP_SOLVERS)}")


def attraction_flow(
    problem: AttractionProblem,
    solver: str = "dykstra",
    max_steps: int = 100,
    progress: bool = False,
    callback: Callable[[int, StepResult], Any] | None = None,
    keep_target_plans: bool = True,
    warm_start: bool = True,
    **options: Any,
) -> AttractionFlow:
    r"""Run Algorithm 1 on ``problem``.

    While `\tfrac12\|\nu-\rho_t\|_1 > \varepsilon` and ``t < max_steps``: build Problem 1 at
    `\rho_t` (support rule (15) applied), check the necessary conditions and Lemma 1, solve it
    with ``solver`` and set `\rho_{t+1} = p`.

    A step that is proven infeasible (a necessary condition of Lemma 1 fails: a node holds more mass
    than its edges, staying included, can carry; or the nodes reachable in one step cannot store
    the mass) or that the step solver cannot solve raises a ``StepInfeasibleWarning`` naming
    the condition and the node, and the flow stops there with status INFEASIBLE (or
    NUMERICAL_ERROR); the steps done so far are returned.

    With ``warm_start`` (default) each Dykstra step starts from the potentials of the previous step
    (same minimizer, see ``otmodel.backends.dykstra.dykstra_step``); ``warm_start=False`` starts
    every step from `\xi = e^{-C/\gamma}` as Algorithm 1 states.

    ``options`` go to the step solver (Dykstra: ``tol``, ``max_iter``; LP: ``method``, ``time_limit``).
    ``progress`` prints one line per step; ``callback(t, step_result)`` is called after each step.
    """
    if solver not in STEP_SOLVERS:
        from otmodel.errors import UnsupportedError

        raise UnsupportedError(f"unknown step solver {solver!r}; use one of {', '.join(STEP_SOLVERS)}")
    rho = np.array(problem.rho0, dtype=float)
    rhos = [rho.copy()]
    tvs = [total_variation(rho, problem.nu)]
    steps: list[StepResult] = []
    status, message = Status.ITERATION_LIMIT, f"step limit {max_steps} reached"
    t0 = time.perf_counter()
    for t in range(max_steps + 1):
        if tvs[-1] <= problem.eps:
            status, message = Status.CONVERGED, f"TV {tvs[-1]:.3e} <= eps {problem.eps:g}"
            break
        if t == max_steps:
            break
        step = problem.step(rho, t)
        infeasible = step.warn_if_infeasible()
        if infeasible is not None:
            status, message = Status.INFEASIBLE, f"step {t} is infeasible: {infeasible}"
            break
        opts = dict(options)
        if solver == "dykstra" and warm_start and steps and "potentials" in steps[-1].info:
            opts["warm_start"] = steps[-1].info["potentials"]
        res = solve_step(step, solver, **opts)
        if not res.ok:
            lemma = step.check()
            why = f"; Lemma 1: {'; '.join(lemma)}" if lemma else ""
            message = f"step {t} failed ({res.status.value}, {res.message}){why}"
            status = Status.INFEASIBLE if res.status == Status.INFEASIBLE else Status.NUMERICAL_ERROR
            warnings.warn(message, StepInfeasibleWarning, stacklevel=2)
            break
        if not keep_target_plans:
            res = StepResult(**{**res.__dict__, "target_plan": None})
        steps.append(res)
        rho = res.rho_next
        rhos.append(rho.copy())
        tvs.append(total_variation(rho, problem.nu))
        if progress:
            print(
                f"step {t:4d}  omega {step.omega:.4g}  TV {tvs[-1]:.3e}  cost {res.transport_cost:.5g}  "
                f"iters {res.iterations}  {res.seconds:.3f} s",
                flush=True,
            )
        if callback is not None:
            callback(t, res)
    limited = sum(s.status == Status.ITERATION_LIMIT for s in steps)
    if limited:
        message += f"; {limited} step(s) stopped at their iteration limit (violation <= accept)"
    return AttractionFlow(
        problem=problem,
        rhos=np.array(rhos),
        steps=steps,
        tv=np.array(tvs),
        status=status,
        message=message,
        solver=solver,
        info={"seconds": time.perf_counter() - t0},
    )
