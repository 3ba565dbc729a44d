r"""Algorithm 1 of Arqué, Uribe, Ocampo-Martinez: the Wasserstein attraction flow on a network.

Starting from `\rho_0`, each step solves Problem 1 ((10a)-(10f), see ``otmodel.model.attraction``)
at `\rho_t` with weight `\omega(t)` and regularization `\gamma(t)`, and sets
`\rho_{t+1} = p`, until `\tfrac12\|\nu-\rho_t\|_1 \le \varepsilon` or a step limit.

The step is solved by any registered backend that declares the capability ``"attraction-step"``
(``solve(step) -> StepResult``), chosen by name through the registry:

* ``"dykstra"`` -- Dykstra's algorithm with the KL proximal operators (11)-(15), in the log domain
  (``otmodel.backends.dykstra``);
* ``"attraction-lp"`` -- the exact step (`\gamma = 0`): the LP of (10a)-(10f) with the KL terms
  replaced by transport costs (``otmodel.backends.attraction_lp``). It declares the exact backends
  it runs on (``engines``: ``"highs"``, ``"cvxpy"``), so that ``solver="highs"`` reaches it.

A step backend starts a step from the previous one through its own ``warm_start(previous)``
(the options it wants), so this module knows no backend by name.

>>> flow = attraction_flow(problem, solver="dykstra")          # doctest: +SKIP
>>> flow.tv[-1] <= problem.eps, flow.total_cost                 # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from otmodel.backends import available, get
from otmodel.backends.base import Conformance
from otmodel.errors import UnsupportedError
from otmodel.model.attraction import AttractionProblem, AttractionStep, StepInfeasibleWarning, total_variation
from otmodel.results import AttractionFlow, PointStatus, Status, StepResult

__all__ = [
    "STEP",
    "StepBackend",
    "AttractionFlowBackend",
    "attraction_flow",
    "solve_step",
    "step_backend",
    "step_backends",
]

#: the capability of a backend that solves one ``AttractionStep`` and returns a ``StepResult``
STEP = "attraction-step"


@runtime_checkable
class StepBackend(Protocol):
    """What a step backend provides besides ``name``, ``capabilities`` and ``supports``.

    ``solve(step, **options)`` returns a ``StepResult``; ``warm_start(previous)`` returns the
    options that start the next step from the ``StepResult`` of the previous one (``{}`` if none).
    """

    name: str
    capabilities: frozenset[str]

    def supports(self, problem: Any) -> str | None: ...

    def solve(self, problem: Any, **options: Any) -> StepResult: ...

    def warm_start(self, previous: StepResult) -> dict[str, Any]: ...


def _as_step_backend(backend: object) -> StepBackend | None:
    if isinstance(backend, StepBackend) and STEP in backend.capabilities:
        return backend
    return None


def step_backends() -> list[str]:
    """Names of the registered backends that declare ``"attraction-step"``.

    A backend whose module cannot be imported here (a missing optional dependency) is left out.
    """
    out = []
    for name in available():
        try:
            b = get(name)
        except ImportError:
            continue
        if _as_step_backend(b) is not None:
            out.append(name)
    return out


def step_backend(name: str) -> tuple[StepBackend, dict[str, Any]]:
    """The step backend that ``name`` designates, and the options that name implies.

    ``name`` is a registered backend that declares ``"attraction-step"``, or an engine that one of
    them declares in its ``engines`` (``"highs"`` -> ``attraction-lp`` with ``engine="highs"``).

    Raises
    ------
    UnsupportedError
        ``name`` is not registered, or no step backend runs on it (the message lists those that do).
    """
    if not isinstance(name, str):
        raise UnsupportedError(f"the step backend must be named by a string, got {type(name).__name__}")
    if name not in available():
        get(name)  # the registry's own message, listing the backends
    own = _as_step_backend(get(name))
    if own is not None:
        return own, {}
    names = step_backends()
    for other in names:
        b = _as_step_backend(get(other))
        if b is not None and name in getattr(b, "engines", ()):
            return b, {"engine": name}
    engines = [f"{e} (through {o})" for o in names for e in getattr(get(o), "engines", ())]
    raise UnsupportedError(
        f"backend {name!r} does not solve an attraction step; use one of: {', '.join(names + engines)}"
    )


def solve_step(step: AttractionStep, solver: str = "dykstra", *, backend: str | None = None, **options: Any) -> StepResult:
    """Solve one instance of Problem 1 with the step backend ``backend`` (alias ``solver``).

    Parameters
    ----------
    step : AttractionStep
        Problem 1 at `\\rho_t` (``AttractionProblem.step``).
    solver, backend : str
        ``"dykstra"`` (entropic, `\\gamma` = ``step.gamma``), ``"attraction-lp"`` or the name of one
        of its engines, ``"highs"`` and ``"cvxpy"`` (the exact step, `\\gamma = 0`); any registered
        backend declaring ``"attraction-step"``.
    **options
        Go to the backend, which refuses those it does not take (listing those it does).

    Returns
    -------
    StepResult
    """
    b, implied = step_backend(backend or solver)
    reason = b.supports(step)
    if reason is not None:
        raise UnsupportedError(f"backend {b.name!r} cannot solve {step!r}: {reason}")
    return b.solve(step, **{**implied, **options})


def attraction_flow(
    problem: AttractionProblem,
    solver: str = "dykstra",
    max_steps: int = 100,
    progress: bool | Callable[[int, int, dict[str, Any]], Any] | None = False,
    callback: Callable[[int, StepResult], Any] | None = None,
    keep_target_plans: bool = True,
    warm_start: bool = True,
    *,
    backend: str | None = None,
    verbose: bool | int = False,
    **options: Any,
) -> AttractionFlow:
    r"""Run Algorithm 1 on ``problem``.

    While `\tfrac12\|\nu-\rho_t\|_1 > \varepsilon` and ``t < max_steps``: build Problem 1 at
    `\rho_t` (support rule (15) applied), check the necessary conditions and Lemma 1, solve it
    with the step backend and set `\rho_{t+1} = p`.

    Parameters
    ----------
    problem : AttractionProblem
    solver, backend : str
        The step backend (``backend`` is the name every other problem uses; ``solver`` the older
        one): ``"dykstra"`` (default), ``"attraction-lp"``, or an engine of it (``"highs"``, ``"cvxpy"``).
    max_steps : int
        Limit on the steps of Algorithm 1 (status ITERATION_LIMIT when reached).
    verbose : bool or int
        Log a line (logger ``"otmodel"``) every ``verbose`` steps (``True``: ten lines per run), shown
        on standard output when logging is not configured (``otmodel.backends._progress``); the step
        backend's own output stays off.
    progress : bool or callable
        ``True``: a tqdm bar over the steps; a callable: ``progress(t, max_steps, numbers)`` after
        each step, ``numbers`` holding ``tv``, ``cost``, ``iterations``.
    callback : callable ``(t, step_result)``, called after each step.
    keep_target_plans : bool
        Keep `\pi_2` of every step (memory: one plan per step).
    warm_start : bool
        Start each step from the previous one through the step backend's ``warm_start``
        (Dykstra: its potentials -- the same minimizer, see ``otmodel.backends.dykstra.dykstra_step``);
        ``False`` starts every step from `\xi = e^{-C/\gamma}` as Algorithm 1 states.
    **options
        Go to the step backend, which refuses those it does not take: Dykstra ``tol``, ``max_iter``
        (cycles per step), ``accept``, ``time_limit`` (per step)...; the LP ``engine``, ``method``,
        ``time_limit``.

    Returns
    -------
    AttractionFlow
        The distributions, the steps with their plans, the total variation per step and why it
        stopped. A step that is proven infeasible (a necessary condition of Lemma 1 fails: a node
        holds more mass than its edges, staying included, can carry; or the nodes reachable in one
        step cannot store the mass) or that the step backend cannot solve raises a
        ``StepInfeasibleWarning`` naming the condition and the node, and the flow stops there with
        status INFEASIBLE (or NUMERICAL_ERROR); the steps done so far are returned.

    Raises
    ------
    UnsupportedError
        An unknown step backend, or an option it does not take.
    InvalidDataError
        An option of the wrong type or out of range.
    """
    from otmodel.backends._options import check_common, flag, integer
    from otmodel.backends._progress import Progress

    name = backend or solver
    b, implied = step_backend(name)
    max_steps = integer("attraction-flow", "max_steps", max_steps, 0)
    check_common("attraction-flow", {"verbose": verbose})
    keep_target_plans = flag("attraction-flow", "keep_target_plans", keep_target_plans)
    warm_start = flag("attraction-flow", "warm_start", warm_start)
    if callback is not None and not callable(callback):
        check_common("attraction-flow", {"callback": callback})
    rho = np.array(problem.rho0, dtype=float)
    rhos = [rho.copy()]
    tvs = [total_variation(rho, problem.nu)]
    steps: list[StepResult] = []
    status, message = Status.ITERATION_LIMIT, f"step limit {max_steps} reached"
    point = PointStatus.FEASIBLE
    t0 = time.perf_counter()
    with Progress(verbose, None if progress is False else progress, max_steps, label="steps") as report:
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
            opts = {**implied, **options}
            if warm_start and steps:
                opts.update(b.warm_start(steps[-1]))
            res = b.solve(step, **opts)
            if not res.ok:
                lemma = step.check()
                why = f"; Lemma 1: {'; '.join(lemma)}" if lemma else ""
                message = f"step {t} failed ({res.status.value}, {res.message}){why}"
                status = Status.INFEASIBLE if res.status == Status.INFEASIBLE else Status.NUMERICAL_ERROR
                warnings.warn(message, StepInfeasibleWarning, stacklevel=2)
                break
            if not keep_target_plans:
                res = StepResult(**{**res.__dict__, "target_plan": None})
            if res.point_status is not PointStatus.FEASIBLE:
                point = PointStatus.NEARLY_FEASIBLE
            steps.append(res)
            rho = res.rho_next
            rhos.append(rho.copy())
            tvs.append(total_variation(rho, problem.nu))
            report.line(
                t + 1,
                f"step {t:4d}  omega {step.omega:.4g}  TV {tvs[-1]:.3e}  cost {res.transport_cost:.5g}  "
                f"iters {res.iterations}  {res.seconds:.3f} s",
                {"tv": tvs[-1], "cost": res.transport_cost, "iterations": res.iterations},
            )
            if callback is not None:
                callback(t, res)
        report.done(f"stopped after {len(steps)} steps: {message}")
    limited = sum(s.status == Status.ITERATION_LIMIT for s in steps)
    if limited:
        message += f"; {limited} step(s) stopped at their iteration limit (violation <= accept)"
    total = time.perf_counter() - t0
    return AttractionFlow(
        problem=problem,
        rhos=np.array(rhos),
        steps=steps,
        tv=np.array(tvs),
        status=status,
        message=message,
        solver=steps[0].solver if steps else str(implied.get("engine", b.name)),
        backend=b.name,
        point_status=point,
        timings={"steps": float(sum(s.seconds for s in steps)), "total": total},
    )


class AttractionFlowBackend:
    """Registry entry ``"attraction-flow"``: Algorithm 1 over a step backend, and single steps.

    ``otmodel.solve(problem, backend=...)`` hands it an ``AttractionProblem`` (it runs
    ``attraction_flow``) or an ``AttractionStep`` (it runs ``solve_step``); ``backend`` there
    names the step backend (default ``"dykstra"``).
    """

    name = "attraction-flow"
    capabilities = frozenset({"attraction"})
    #: single steps through the driver, on its exact step backend (the step backends run the cases too)
    conformance = Conformance(kinds=frozenset({"attraction-step"}), options={"solver": "attraction-lp"})

    def supports(self, problem: Any) -> str | None:
        if isinstance(problem, (AttractionProblem, AttractionStep)):
            return None
        return "attraction-flow runs Algorithm 1 on an AttractionProblem (or solves one AttractionStep)"

    def solve(self, problem: Any, **options: Any) -> AttractionFlow | StepResult:
        if isinstance(problem, AttractionStep):
            return solve_step(problem, **options)
        if isinstance(problem, AttractionProblem):
            return attraction_flow(problem, **options)
        raise UnsupportedError(f"backend {self.name!r} cannot solve {problem!r}: {self.supports(problem)}")
