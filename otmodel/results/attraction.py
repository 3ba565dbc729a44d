r"""The results of a Wasserstein attraction flow (Arqué et al.): one step, and the whole flow.

``StepResult`` answers one instance of Problem 1 ((10a)-(10f), ``otmodel.model.attraction``);
``AttractionFlow`` is Algorithm 1's sequence of them. Both speak ``Solution``'s vocabulary: a status
on two axes (why the step solver stopped, ``status``; what the returned point is, ``point_status``),
``backend`` and ``solver``, ``timings`` in seconds, ``potentials``, ``iterations``, ``message``,
``trace`` and ``info``. The older names (``seconds``, ``info["potentials"]``, ``AttractionFlow.times``)
still read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.results.solution import PointStatus, Status, Trace

if TYPE_CHECKING:
    from otmodel.model.attraction import AttractionProblem, AttractionStep

__all__ = ["StepResult", "AttractionFlow", "abridged"]


@dataclass(frozen=True, repr=False)
class StepResult:
    r"""The answer of one step backend to Problem 1.

    Attributes
    ----------
    step : the ``AttractionStep`` solved
    rho_next : (n,) array -- `\rho_{t+1} = p = \pi_1^\top\mathbf 1` (zero where no mass can arrive)
    plan : (n, n) CSR -- `\pi_1`, ``plan[j, i]`` = mass moved j -> i; stored only on allowed pairs
    target_plan : (n, n) CSR or None -- `\pi_2`, ``target_plan[k, i]`` couples `\nu_k`, `p_i`
    objective : `\omega\langle C,\pi_1\rangle + (1-\omega)\langle C,\pi_2\rangle` (10a) without entropy
    transport_cost : `\langle C, \pi_1\rangle`, the cost of moving `\rho_t` to `\rho_{t+1}`
    status, point_status : why the step backend stopped (``OPTIMAL`` only from an exact step, whose
        `\gamma` is 0) and what the point is (``otmodel.results``)
    iterations : Dykstra cycles or LP solver iterations
    violation : constraint violation measured by the backend at the end (L1, see the backend)
    backend : the registry name of the step backend (``"dykstra"``, ``"attraction-lp"``, ...)
    solver : the engine that ran the step (``"dykstra"``, ``"highs"``, ``"cvxpy"``)
    timings : dict -- seconds, at least ``"total"``
    potentials : dict of (n,) arrays or None -- the step's dual potentials in cost units, keyed
        ``"F1"``, ``"F2"`` (rows of `\pi_1`, `\pi_2`: (10b)) and ``"G1"``, ``"G2"`` (their
        columns: (10c)), zero off the supports; what a backend passes on to warm-start the next step
    message : the backend's words
    trace : per-iteration records (Dykstra: ``violation``) or None
    info : anything else the backend reports (``info["potentials"]`` is ``potentials``)
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
    backend: str
    solver: str
    timings: dict[str, float] = field(default_factory=dict)
    potentials: dict[str, NDArray[np.float64]] | None = None
    message: str = ""
    trace: Trace | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the older spelling, kept so that code reading info["potentials"] sees the same arrays
        if self.potentials is not None:
            self.info.setdefault("potentials", self.potentials)

    @property
    def seconds(self) -> float:
        """Wall-clock time of the step (``timings["total"]``)."""
        return float(self.timings.get("total", 0.0))

    @property
    def ok(self) -> bool:
        """A usable step: solved, or stopped by its iteration limit at a nearly feasible point."""
        return self.status in (Status.OPTIMAL, Status.CONVERGED, Status.ITERATION_LIMIT) and self.point_status in (
            PointStatus.FEASIBLE,
            PointStatus.NEARLY_FEASIBLE,
        )

    @property
    def has_point(self) -> bool:
        return self.point_status in (PointStatus.FEASIBLE, PointStatus.NEARLY_FEASIBLE, PointStatus.INFEASIBLE_POINT)

    def __repr__(self) -> str:
        return (
            f"StepResult({self.status.value}, point {self.point_status.value}, objective {self.objective:.10g}, "
            f"backend {self.backend!r}, {self.iterations} iterations; {self.rho_next.size} nodes)"
        )

    def summary(self) -> str:
        """Status, objective, violation and time in a few lines."""
        s = self.step
        return "\n".join(
            [
                f"step {s.t} (omega {s.omega:.4g}, gamma {'exact' if self.status is Status.OPTIMAL else f'{s.gamma:.3g}'})",
                f"backend {self.backend} ({self.solver}): {self.status.value}, point {self.point_status.value}",
                f"objective (10a) {self.objective:.10g}   transport cost {self.transport_cost:.10g}",
                f"violation {self.violation:.3e}   iterations {self.iterations}   time {self.seconds:.3f} s",
                *([f"  {self.message}"] if self.message else []),
            ]
        )


@dataclass(frozen=True, repr=False)
class AttractionFlow:
    r"""The result of Algorithm 1.

    Attributes
    ----------
    problem : the ``AttractionProblem``
    rhos : (T+1, n) array -- `\rho_0, \dots, \rho_T`
    steps : list of ``StepResult`` (T of them), with the plans
    tv : (T+1,) array -- `\tfrac12\|\nu-\rho_t\|_1` for t = 0..T
    status : CONVERGED (tv <= eps), ITERATION_LIMIT (``max_steps``), INFEASIBLE (a step is
        infeasible, Lemma 1) or NUMERICAL_ERROR (a step backend failed)
    message : why it stopped, in words
    solver : the engine of the steps (``"dykstra"``, ``"highs"``, ``"cvxpy"``)
    backend : the registry name of the step backend
    point_status : what `\rho_T` is: FEASIBLE when every step's point is, NEARLY_FEASIBLE when
        some step's is only nearly so (an iterative step)
    timings : dict -- ``"steps"`` (the step backends' own time) and ``"total"`` seconds
    info : anything else (``info["seconds"]`` is ``timings["total"]``)
    """

    problem: AttractionProblem
    rhos: NDArray[np.float64]
    steps: list[StepResult]
    tv: NDArray[np.float64]
    status: Status
    message: str
    solver: str
    info: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    point_status: PointStatus = PointStatus.FEASIBLE
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "total" in self.timings:
            self.info.setdefault("seconds", self.timings["total"])

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def iterations(self) -> int:
        """Iterations of the step backends, all steps together."""
        return int(sum(s.iterations for s in self.steps))

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

    def __repr__(self) -> str:
        return (
            f"AttractionFlow({self.status.value}, {len(self.steps)} steps, final TV {float(self.tv[-1]):.3g}, "
            f"backend {self.backend!r}; {self.rhos.shape[1]} nodes)"
        )

    def summary(self) -> str:
        p = self.problem
        lines = [
            f"{p!r}",
            f"backend {self.backend or self.solver} ({self.solver}): {self.status.value}, point "
            f"{self.point_status.value}, after {self.n_steps} steps -- {self.message}",
            f"TV(rho_T, nu) {self.tv[-1]:.3e}   total transport cost {self.total_cost:.6g}   "
            f"time {self.times.sum():.3f} s",
            "",
            f"{'t':>4}  {'omega':>7}  {'gamma':>8}  {'TV':>10}  {'cost':>10}  {'iters':>6}  {'viol':>9}  {'time s':>8}",
        ]
        rows = []
        for k, s in enumerate(self.steps):
            # an exact step (gamma = 0) is the only one that may report OPTIMAL
            g = "exact" if s.status is Status.OPTIMAL else f"{s.step.gamma:.3g}"
            rows.append(
                f"{k:>4}  {s.step.omega:>7.4g}  {g:>8}  {self.tv[k + 1]:>10.3e}  {s.transport_cost:>10.5g}  "
                f"{s.iterations:>6}  {s.violation:>9.2e}  {s.seconds:>8.4f}"
            )
        return "\n".join(lines + abridged(rows, head=12, tail=4))


def abridged(rows: list[str], keep: list[bool] | None = None, head: int = 8, tail: int = 3) -> list[str]:
    """The first ``head`` and last ``tail`` rows, every row flagged in ``keep``, and a line saying how
    many were left out (long flows have hundreds of steps)."""
    n = len(rows)
    show = [k < head or k >= n - tail or (keep is not None and keep[k]) for k in range(n)]
    out: list[str] = []
    skipped = 0
    for k in range(n):
        if show[k]:
            if skipped:
                out.append(f"  ... {skipped} more step(s) like these ...")
                skipped = 0
            out.append(rows[k])
        else:
            skipped += 1
    return out
