r"""Step-size rules of the iterative backends, and the loop state they read.

A rule is one of three kinds, told apart by the method it has (the loop in ``_loop.iterate``
checks which):

* ``StepSize``: one step for all nodes, `\gamma_k = ` ``rule(k)`` (``Diminishing``, ``Constant``);
* ``NodeStepSize``: one step per node, ``rule.node_steps(k, state)`` (``Curvature``);
* ``UpdateRule``: the whole increment, ``rule.update(k, state)`` (the damped Newton rule of
  ``otmodel.backends.newton``).

A rule that needs problem data is bound to a problem by ``rule.start(problem)``, which returns a
per-solve stepper; the rule object itself stays immutable and reusable. Step rules live here, below
both the loop and the backends, so that neither needs to import the other to name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = [
    "StepSize",
    "NodeStepSize",
    "UpdateRule",
    "Diminishing",
    "Constant",
    "Curvature",
    "as_step_size",
    "LoopState",
    "STEP_NAMES",
]


class StepSize(Protocol):
    """A step-size rule: ``gamma = rule(k)`` for iteration ``k = 0, 1, ...`` (one step for all nodes)."""

    def __call__(self, k: int) -> float: ...


class NodeStepSize(Protocol):
    r"""A per-node step-size rule: `\gamma^k_i` may differ from node to node.

    ``iterate`` recognizes it by its ``node_steps`` method and calls
    ``node_steps(k, state)`` with the ``LoopState`` of iteration ``k`` (the iterate ``x``, the
    direction ``d``, the oracle's record, whose keys starting with ``"_"`` carry per-node data that
    is not traced, e.g. ``"_cell_mass"``); it returns one positive step per component, and the
    update is `x_i \leftarrow x_i + \gamma_i d_i`. A rule that needs problem data (arc costs,
    bounds) is bound to the problem first by the backend (``rule.start(problem)`` returns such an
    object with per-solve state), so the user's rule object stays immutable and reusable.
    """

    def node_steps(self, k: int, state: LoopState) -> NDArray[np.float64]: ...


class UpdateRule(Protocol):
    r"""A rule that computes the whole increment itself (a Newton step, not a multiple of ``d``).

    ``iterate`` recognizes it by its ``update`` method and calls ``update(k, state)``, which
    returns ``(dx, gamma, info)``: the increment `x^{k+1} - x^k`, the step length along the rule's own
    direction (trace column ``step_size``) and a dict of numbers for the trace.
    """

    def update(self, k: int, state: LoopState) -> tuple[NDArray[np.float64], float, dict[str, float]]: ...


@dataclass(frozen=True)
class Diminishing:
    r"""Diminishing steps `\gamma_k = a / (1 + b k)`.

    With ``b > 0`` they satisfy `\sum_k \gamma_k = \infty`, `\sum_k \gamma_k^2 < \infty`
    (Laurentin et al., section IV-B), which guarantees convergence of the supergradient method.
    ``Diminishing(1, 0.01)`` is the schedule of the paper's experiment V-A.

    Parameters
    ----------
    a : float, default 1.0
        First step `\gamma_0`, in potential units per unit of supergradient (mass); finite and
        `> 0`, else ``InvalidDataError``.
    b : float, default 0.01
        Decay rate per iteration; finite and `\ge 0` (``b = 0`` is a constant step).
    """

    a: float = 1.0
    b: float = 0.01

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and self.a > 0):
            raise InvalidDataError(f"Diminishing step size: a={self.a!r} must be a positive finite number")
        if not (np.isfinite(self.b) and self.b >= 0):
            raise InvalidDataError(f"Diminishing step size: b={self.b!r} must be a finite number >= 0")

    def __call__(self, k: int) -> float:
        return self.a / (1.0 + self.b * k)


@dataclass(frozen=True)
class Constant:
    r"""Constant steps `\gamma_k = a` (converges only to a neighbourhood of the optimum).

    Parameters
    ----------
    a : float
        The step `\gamma`, in potential units per unit of supergradient; finite and `> 0`, else
        ``InvalidDataError``. The supergradient ascent of Laurentin et al., section IV-B, with a
        constant step ends within `O(a)` of the dual optimum.
    """

    a: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and self.a > 0):
            raise InvalidDataError(f"Constant step size: a={self.a!r} must be a positive finite number")

    def __call__(self, k: int) -> float:
        return self.a


STEP_NAMES = "'paper', 'diminishing[:a,b]', 'constant:a', 'curvature', 'newton'"


def as_step_size(rule: Any, default: Any = None) -> Any:
    """A number means ``Constant``; ``None`` means ``default`` (else ``Diminishing()``).

    Strings (for the command line, ``--option step_size=...``): ``"paper"`` = ``Diminishing(1, 0.01)``,
    ``"diminishing:a,b"``, ``"constant:a"``, ``"curvature"`` = the per-node rule
    ``Curvature`` with its defaults, ``"newton"`` = the damped
    Newton rule ``Newton`` with its defaults.
    """
    if rule is None:
        return default if default is not None else Diminishing()
    if isinstance(rule, (int, float, np.integer, np.floating)) and not isinstance(rule, bool):
        return Constant(float(rule))
    if isinstance(rule, str):
        return _named_step(rule)
    if callable(rule) or hasattr(rule, "node_steps") or hasattr(rule, "start") or hasattr(rule, "update"):
        return rule
    raise InvalidDataError(
        f"step_size {rule!r} is neither a number nor a step-size rule (Diminishing, Constant, Curvature) "
        f"nor one of {STEP_NAMES}"
    )


def _named_step(text: str) -> Any:
    name, _, args = text.strip().lower().partition(":")
    try:
        nums = [float(a) for a in args.split(",")] if args.strip() else []
    except ValueError:
        raise InvalidDataError(f"step_size {text!r}: the numbers after ':' do not parse; use a number or one of {STEP_NAMES}") from None
    if name == "paper" and not nums:
        return Diminishing(1.0, 0.01)
    if name == "diminishing" and len(nums) in (0, 2):
        return Diminishing(*nums) if nums else Diminishing(1.0, 0.01)
    if name == "constant" and len(nums) == 1:
        return Constant(nums[0])
    if name == "curvature" and not nums:
        return Curvature()
    if name == "newton" and not nums:
        from otmodel.backends.newton import Newton

        return Newton()
    raise InvalidDataError(f"step_size {text!r} is not understood; use a number or one of {STEP_NAMES}")


@dataclass
class LoopState:
    """What a callback sees at iteration ``k`` (before the update of ``x``).

    ``x`` is the current iterate, ``direction`` the oracle's direction at ``x``, ``step`` the step
    size about to be used (for a per-node rule its largest component; ``steps`` holds them all) and
    ``record`` the oracle's numbers. Treat the arrays as read-only.
    """

    k: int
    x: NDArray[np.float64]
    direction: NDArray[np.float64]
    step: float
    record: dict[str, Any] = field(default_factory=dict)
    steps: NDArray[np.float64] | None = None




@dataclass(frozen=True)
class Curvature:
    r"""Per-node Newton-like steps: each node divides its supergradient by its own curvature estimate.

    .. math:: \psi_i \leftarrow \psi_i + \omega\, g_i / h_i, \qquad
        h_i = \sum_{(i,j)\ \text{or}\ (j,i)\ \text{unclipped}} \frac{1}{2 a_{ij}} + [i\in\mathcal S]\,\sigma_i .

    The arc part is exact: along the coordinate `\psi_i` the arc term of (4) is a concave
    piecewise quadratic whose second derivative is `-1/(2a_{ij})` while the response (5) is
    strictly inside `[l_{ij}, u_{ij}]` and 0 once clipped. The cell part `\sigma_i`
    estimates `\partial \mu(\mathrm{Lag}_i)/\partial\psi_i` by a secant on the node's own
    last two iterates, `|m_i^k - m_i^{k-1}| / |\psi_i^k - \psi_i^{k-1}|`, safeguarded: it starts
    at ``mass_slope`` (default: the node's total arc curvature `\sum 1/(2a_{ij})` over all its
    arcs), is averaged with the previous estimate (weight ``damping`` on the new secant), kept within
    ``[lo, hi]`` times its starting value and never moves by more than a factor ``max_change`` per
    iteration; a secant is taken only when `\psi_i` moved.

    Locality. `h_i` reads the cost coefficients `a_{ij}` of node ``i``'s own arcs, whether
    each of its arc flows `p_{ij}` is clipped (the flows of lines 5-7, computed from
    `\psi_i, \psi_j` of its neighbours) and, at an endpoint, its own cell masses and potentials of
    the last two iterations (line 9). No node reads anything beyond its neighbours, so Algorithm 1 runs
    unchanged with line 14 replaced by `\psi_i \leftarrow \psi_i + \gamma_i^k g_i`.

    ``relax`` (`\omega`) damps the Jacobi-type update, whose diagonal scaling alone can
    overshoot on strongly coupled neighbours.

    Parameters
    ----------
    relax : float, default 0.8
        Relaxation `\omega` of the update, in `(0, 2]`.
    mass_slope : float, optional
        Starting value of the cell slope `\sigma_i` (mass per potential unit), `> 0`; ``None``
        uses the node's total arc curvature `\sum 1/(2a_{ij})`.
    damping : float, default 0.5
        Weight of the new secant in the running estimate of `\sigma_i`, in `(0, 1]`.
    lo, hi : float, default 1e-2 and 1e3
        `\sigma_i` is kept within ``[lo, hi]`` times its starting value; ``0 < lo <= 1 <= hi``.
    max_change : float, default 10.0
        Largest factor by which `\sigma_i` may change in one iteration, `> 1`.

    Any value outside these ranges raises ``InvalidDataError`` naming it.
    """

    relax: float = 0.8
    mass_slope: float | None = None
    damping: float = 0.5
    lo: float = 1e-2
    hi: float = 1e3
    max_change: float = 10.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.relax) and 0 < self.relax <= 2):
            raise InvalidDataError(f"Curvature: relax={self.relax!r} must lie in (0, 2]")
        if self.mass_slope is not None and not (np.isfinite(self.mass_slope) and self.mass_slope > 0):
            raise InvalidDataError(f"Curvature: mass_slope={self.mass_slope!r} must be positive")
        if not 0 < self.damping <= 1:
            raise InvalidDataError(f"Curvature: damping={self.damping!r} must lie in (0, 1]")
        if not (0 < self.lo <= 1 <= self.hi and self.max_change > 1):
            raise InvalidDataError("Curvature: need 0 < lo <= 1 <= hi and max_change > 1")

    def start(self, problem: FlowProblem) -> _CurvatureSteps:
        """The per-solve stepper (holds the secant state; this object stays immutable)."""
        return _CurvatureSteps(self, problem)


class _CurvatureSteps:
    def __init__(self, rule: Curvature, problem: FlowProblem) -> None:
        self.rule = rule
        self.n = problem.n_nodes
        self.tails, self.heads = np.asarray(problem.tails), np.asarray(problem.heads)
        self.lower, self.upper = np.asarray(problem.lower), np.asarray(problem.upper)
        self.inv2a = 1.0 / (2.0 * np.asarray(problem.costs.a, dtype=float))
        full = self._per_node(self.inv2a)
        self.is_end = np.zeros(self.n, dtype=bool)
        if isinstance(problem, SpatialFlowProblem):
            self.is_end[problem.endpoints] = True
        # a node with no arc at all still needs a finite step: use the smallest arc curvature
        floor = float(self.inv2a.min()) if self.inv2a.size else 1.0
        self.full = np.where(full > 0, full, floor)
        s0 = self.full if rule.mass_slope is None else np.full(self.n, float(rule.mass_slope))
        self.s0 = s0
        self.sigma = s0.copy()
        self.prev_psi: NDArray[np.float64] | None = None
        self.prev_m: NDArray[np.float64] | None = None

    def _per_node(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(self.tails, weights=v, minlength=self.n).astype(float) + np.bincount(
            self.heads, weights=v, minlength=self.n
        )

    def node_steps(self, k: int, state: LoopState) -> NDArray[np.float64]:
        r = self.rule
        psi = state.x
        flows = state.record.get("_flows")
        m = state.record.get("_cell_mass")
        if flows is None:
            arc = self.full
        else:
            # strictly inside the bounds: the response moves with psi_i (slope 1/(2a)); clipped: flat
            free = (flows > self.lower) & (flows < self.upper)
            arc = self._per_node(np.where(free, self.inv2a, 0.0))
        if m is not None and self.prev_psi is not None and self.prev_m is not None:
            dpsi = np.abs(psi - self.prev_psi)
            moved = self.is_end & (dpsi > 1e-12 * (1.0 + np.abs(psi)))
            secant = np.abs(m - self.prev_m) / np.where(moved, dpsi, 1.0)
            new = (1 - r.damping) * self.sigma + r.damping * secant
            new = np.clip(new, self.sigma / r.max_change, self.sigma * r.max_change)
            new = np.clip(new, r.lo * self.s0, r.hi * self.s0)
            self.sigma = np.where(moved, new, self.sigma)
        if m is not None:
            self.prev_psi = psi.copy()
            self.prev_m = np.asarray(m, dtype=float).copy()
        h = arc + np.where(self.is_end, self.sigma, 0.0)
        h = np.where(h > 0, h, self.full)
        return r.relax / h
