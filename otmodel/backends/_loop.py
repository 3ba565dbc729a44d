r"""The iteration loop shared by iterative backends.

An iterative backend supplies an *oracle* ``oracle(x) -> (direction, record)``: the ascent (or
descent) direction at the iterate ``x`` and a dict of cheap per-iteration numbers for the trace.
``iterate`` runs

.. math:: x^{k+1} = x^k + \gamma_k\, d(x^k)

(Laurentin et al. (2025), eq. (8)) with the step-size rule ``step_size``, and stops

* when every component moved less than ``tol`` in the last update,
  `|x_i^{k+1} - x_i^k| < \varepsilon` for all `i` (Algorithm 1, line 15) -- reported as
  ``converged``;
* after ``max_iter`` updates -- reported as ``iteration limit``;
* when ``callback(k, state)`` returns a true value -- reported as ``stopped by callback``.

The trace (``Trace``) receives, per iteration, the step size, the oracle's
record, and (when ``keep_iterates``) a copy of the iterate -- cheap as long as the iterate is small,
which for node potentials it is (|N| numbers).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.results import Trace

__all__ = [
    "StepSize",
    "NodeStepSize",
    "UpdateRule",
    "Diminishing",
    "Constant",
    "as_step_size",
    "LoopState",
    "LoopResult",
    "iterate",
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
    r"""Constant steps `\gamma_k = a` (converges only to a neighbourhood of the optimum)."""

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
        from otmodel.backends.dual_ascent import Curvature

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


@dataclass
class LoopResult:
    """The last iterate, how many updates were made and why the loop stopped."""

    x: NDArray[np.float64]
    iterations: int
    converged: bool
    reason: str
    trace: Trace
    last_change: float


def _progress_every(verbose: bool | int, max_iter: int) -> int:
    if verbose is True:
        return max(1, max_iter // 10)
    if not verbose:
        return 0
    return max(1, int(verbose))


def iterate(
    oracle: Callable[[NDArray[np.float64]], tuple[NDArray[np.float64], dict[str, Any]]],
    x0: NDArray[np.float64],
    step_size: StepSize | NodeStepSize | UpdateRule,
    max_iter: int,
    tol: float,
    callback: Callable[[int, LoopState], Any] | None = None,
    verbose: bool | int = False,
    keep_iterates: str | None = "x",
    stream: TextIO | None = None,
) -> LoopResult:
    """Run ``x <- x + step_size(k) * oracle(x)[0]`` until a stopping rule fires.

    Parameters
    ----------
    oracle : callable
        ``oracle(x) -> (direction, record)``; ``record`` is a dict of numbers for the trace.
    x0 : array
        Starting point (copied).
    step_size : StepSize or NodeStepSize or UpdateRule
        ``gamma_k = step_size(k)``, or per node ``gamma^k = step_size.node_steps(k, state)`` (trace
        column ``step_size``: the largest node step; ``node_steps``: all of them), or the whole
        increment ``step_size.update(k, state)`` (``UpdateRule``).
    max_iter : int
        Maximum number of updates.
    tol : float
        Stop once every ``|x_i^{k+1} - x_i^k| < tol`` (Algorithm 1, line 15); ``tol <= 0`` disables it.
    callback : callable, optional
        ``callback(k, state)`` with a ``LoopState``; a true return value stops the loop.
    verbose : bool or int
        Print a progress line every ``verbose`` iterations (``True``: every ``max_iter // 10``).
    keep_iterates : str or None
        Trace column receiving a copy of each iterate (``None``: not kept).
    """
    if max_iter < 0:
        raise InvalidDataError(f"max_iter={max_iter} must be >= 0")
    x = np.array(x0, dtype=float, copy=True)
    trace = Trace()
    every = _progress_every(verbose, max_iter)
    out = stream if stream is not None else sys.stdout
    converged = False
    reason = "iteration limit"
    last_change = float("inf")
    k = 0
    per_node = hasattr(step_size, "node_steps")
    whole = hasattr(step_size, "update")
    while k < max_iter:
        d, record = oracle(x)
        public = {key: val for key, val in record.items() if not key.startswith("_")}
        steps: NDArray[np.float64] | None = None
        inc: NDArray[np.float64] | None = None
        if whole:
            # the rule computes its own direction and step (Newton): one call, before the trace
            inc, gamma, extra = step_size.update(k, LoopState(k, x, d, float("nan"), record))  # type: ignore[union-attr]
            inc = np.asarray(inc, dtype=float)
            public.update(extra)
        elif per_node:
            steps = np.asarray(step_size.node_steps(k, LoopState(k, x, d, float("nan"), record)), dtype=float)  # type: ignore[union-attr]
            gamma = float(np.max(steps)) if steps.size else 0.0
            public["node_steps"] = steps.copy()
        else:
            gamma = float(step_size(k))  # type: ignore[operator]
        if keep_iterates:
            trace.append(step_size=gamma, **public, **{keep_iterates: x.copy()})
        else:
            trace.append(step_size=gamma, **public)
        if every and k % every == 0:
            nums = "  ".join(
                f"{key} {float(val):.6g}" for key, val in public.items() if isinstance(val, (int, float, np.number))
            )
            print(f"iter {k:6d}  step {gamma:.3g}  {nums}", file=out)
        if callback is not None and callback(k, LoopState(k, x, d, gamma, public, steps)):
            reason = "stopped by callback"
            break
        dx = inc if inc is not None else (steps if steps is not None else gamma) * d
        x += dx
        k += 1
        last_change = float(np.max(np.abs(dx))) if dx.size else 0.0
        if not np.isfinite(last_change):
            reason = "non-finite iterate"
            break
        if tol > 0 and last_change < tol:  # Algorithm 1, line 15: every |psi_i - psi_i,old| < eps
            converged = True
            reason = "converged"
            break
    if every:
        print(f"stopped after {k} iterations: {reason} (last max |change| {last_change:.3g})", file=out)
    return LoopResult(x=x, iterations=k, converged=converged, reason=reason, trace=trace, last_change=last_change)
