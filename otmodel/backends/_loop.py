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
* once ``time_limit`` seconds have passed, checked after every update -- reported as ``time limit``
  (status ``TIME_LIMIT``);
* when ``callback(k, state)`` returns a true value -- reported as ``stopped by callback``.

The trace (``Trace``) receives, per iteration, the step size, the oracle's
record, and (when ``keep_iterates``) a copy of the iterate -- cheap as long as the iterate is small,
which for node potentials it is (|N| numbers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from otmodel.backends._progress import Progress
from otmodel.backends.steps import LoopState, NodeStepSize, StepSize, UpdateRule
from otmodel.errors import InvalidDataError
from otmodel.results import Status, Trace

__all__ = ["LoopResult", "iterate", "stop_status"]


def _line(k: int, gamma: float, numbers: dict[str, Any]) -> str:
    nums = "  ".join(f"{key} {float(val):.6g}" for key, val in numbers.items() if isinstance(val, (int, float, np.number)))
    return f"iter {k:6d}  step {gamma:.3g}  {nums}"


@dataclass
class LoopResult:
    """The last iterate, how many updates were made and why the loop stopped."""

    x: NDArray[np.float64]
    iterations: int
    converged: bool
    reason: str
    trace: Trace
    last_change: float


def stop_status(reason: str, converged: bool) -> Status:
    """Why an iterative run stopped, as a status: the stopping rule fired (``CONVERGED``), the
    deadline passed (``TIME_LIMIT``), the iterate turned non-finite (``NUMERICAL_ERROR``), else
    ``ITERATION_LIMIT`` (the limit, or a callback's stop). Never ``OPTIMAL``: ``certify`` judges."""
    if converged:
        return Status.CONVERGED
    if reason == "time limit":
        return Status.TIME_LIMIT
    if reason == "non-finite iterate":
        return Status.NUMERICAL_ERROR
    return Status.ITERATION_LIMIT


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
    progress: Any = None,
    time_limit: float | None = None,
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
        Log a progress line (logger ``"otmodel"``) every ``verbose`` iterations (``True``: every
        ``max_iter // 10``), shown on standard output (or ``stream``) when logging is not configured.
    progress : bool or callable, optional
        ``True``: a tqdm bar; a callable: ``progress(k, max_iter, numbers)`` after every iteration
        (see ``otmodel.backends._progress``).
    keep_iterates : str or None
        Trace column receiving a copy of each iterate (``None``: not kept).
    time_limit : float, optional
        Seconds of wall-clock time from the call; checked after every update (one clock read), so
        the run overshoots by at most one iteration. Reason ``"time limit"``.
    """
    if max_iter < 0:
        raise InvalidDataError(f"max_iter={max_iter} must be >= 0")
    x = np.array(x0, dtype=float, copy=True)
    trace = Trace()
    converged = False
    reason = "iteration limit"
    last_change = float("inf")
    k = 0
    per_node = hasattr(step_size, "node_steps")
    whole = hasattr(step_size, "update")
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)
    with Progress(verbose, progress, max_iter, stream, "iterations") as report:
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
            report.line(k, partial(_line, k, gamma, public), public)
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
            if deadline is not None and time.perf_counter() >= deadline:
                reason = "time limit"
                break
        report.done(f"stopped after {k} iterations: {reason} (last max |change| {last_change:.3g})")
    return LoopResult(x=x, iterations=k, converged=converged, reason=reason, trace=trace, last_change=last_change)
