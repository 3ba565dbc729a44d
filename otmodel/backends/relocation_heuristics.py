r"""The heuristics people use today for ``RelocationProblem``, certified by the same dual bound.

``relocation-greedy``: points in order, each to its cheapest bin with room left (own bin first).
``relocation-bisection``: recursive bisection of the bins, alternating x and y, cutting the point set
at the capacity-weighted median (the geometric heuristic of the seed ``001``).

Both report prices 0 (a trivial bound) unless given ``prices=`` (e.g. the certified optimum's): the
bound `D(\psi)` of ``otmodel.model.relocation`` then measures how far the heuristic is from the
optimum; ``certify(problem, result, potentials=psi)`` recomputes it from the problem data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as RK
from otmodel.backends._options import refuse_unknown
from otmodel.backends.base import Conformance, Timer
from otmodel.results import PointStatus, Status
from otmodel.results.relocation import RelocationResult

__all__ = ["GreedyRelocationBackend", "BisectionRelocationBackend", "HEURISTIC_OPTIONS"]

#: The options of the one-pass heuristics: ``prices`` (for a bound) and the common ones they accept
#: (with nothing to limit or report, they are accepted so that a script can switch backends).
HEURISTIC_OPTIONS = ("prices", "verbose", "time_limit", "gap_tol", "callback", "progress", "seed")


def _kind_check(problem: Any) -> str | None:
    return None if getattr(problem, "kind", None) == "relocation" else "it solves RelocationProblem only"


def _greedy(P: Any, order: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    if order is None:
        order = np.arange(P.n_points, dtype=np.int64)
    return RK.greedy_nearest(P.points, P.bin_index(P.points), order, np.ascontiguousarray(P.slots), *P.kernel_args())


def _bisection(P: Any) -> NDArray[np.int64]:
    """Recursive bisection: split the bins of a block in two halves (alternating x and y, the longer
    side first when one is a single bin), and the block's points at the capacity-weighted median."""
    mx, my = P.bins
    slots = P.slots.reshape(mx, my)
    cum = np.zeros((mx + 1, my + 1), dtype=np.int64)
    cum[1:, 1:] = slots.cumsum(0).cumsum(1)

    def cap(x0: int, x1: int, y0: int, y1: int) -> int:
        return int(cum[x1, y1] - cum[x0, y1] - cum[x1, y0] + cum[x0, y0])

    out = np.empty(P.n_points, dtype=np.int64)
    xy = P.points
    stack: list[tuple[int, int, int, int, NDArray[np.intp], int]] = [(0, mx, 0, my, np.arange(P.n_points), 0)]
    while stack:
        x0, x1, y0, y1, idx, depth = stack.pop()
        if x1 - x0 == 1 and y1 - y0 == 1:
            out[idx] = x0 * my + y0
            continue
        axis = depth % 2
        if x1 - x0 == 1:
            axis = 1
        elif y1 - y0 == 1:
            axis = 0
        if axis == 0:
            mid = (x0 + x1) // 2
            a, b = (x0, mid, y0, y1), (mid, x1, y0, y1)
        else:
            mid = (y0 + y1) // 2
            a, b = (x0, x1, y0, mid), (x0, x1, mid, y1)
        ca, cb = cap(*a), cap(*b)
        n = idx.size
        k = int(round(n * ca / max(ca + cb, 1)))
        k = min(max(k, n - cb), ca)
        if 0 < k < n:
            part = np.argpartition(xy[idx, axis], k - 1)
            ia, ib = idx[part[:k]], idx[part[k:]]
        elif k <= 0:
            ia, ib = idx[:0], idx
        else:
            ia, ib = idx, idx[:0]
        stack.append((*a, ia, depth + 1))
        stack.append((*b, ib, depth + 1))
    return out


def _result(
    P: Any, flat: NDArray[np.int64], psi: NDArray[np.float64], primal: float, dual: float, backend: str,
    solver: str, timer: Timer,
) -> RelocationResult:
    mx, my = P.bins
    with timer("positions"):
        pos = RK.final_positions(P.points, flat, P.rect_ptr, P.rects, *P.kernel_args()[8:])
    obj = P.mass * primal
    dual_m = P.mass * dual
    gap = (obj - dual_m) / max(abs(obj), 1e-300) if math.isfinite(dual_m) else math.inf
    return RelocationResult(
        problem=P,
        status=Status.CONVERGED,
        point_status=PointStatus.FEASIBLE,
        objective=obj,
        bin_of=np.stack(np.divmod(flat, my), axis=1).astype(np.int64),
        positions=pos,
        potentials=psi.reshape(mx, my).copy(),
        backend=backend,
        solver=solver,
        dual_bound=dual_m,
        relative_gap=max(gap, 0.0) if math.isfinite(gap) else gap,
        timings=timer.done(),
        trace=None,
        iterations=1,
        message="heuristic: no optimality claim",
    )


class _HeuristicBackend:
    name = ""
    capabilities = frozenset({"relocation", "heuristic"})
    # a heuristic claims a feasible placement, nothing about optimality: checked for exactly that
    conformance = Conformance(kinds=frozenset({"relocation"}), claims="feasible", optimal_statuses=(Status.CONVERGED,))
    solver = ""

    def supports(self, problem: Any) -> str | None:
        return _kind_check(problem)

    def _assign(self, P: Any, **options: Any) -> NDArray[np.int64]:
        raise NotImplementedError

    def solve(self, problem: Any, **options: Any) -> RelocationResult:
        """Place the points; prices are 0 and the bound trivial (``prices=`` gives a bound from given prices)."""
        refuse_unknown(self.name, options, HEURISTIC_OPTIONS)
        # one pass, no iterations: the common options are accepted and have nothing to limit
        prices = options.pop("prices", None)
        timer = Timer()
        with timer("solve"):
            flat = self._assign(problem)
        primal = problem.objective(flat) / problem.mass
        psi = np.zeros(problem.n_bins) if prices is None else np.maximum(np.asarray(prices, dtype=float).reshape(-1), 0)
        with timer("bound"):
            dual = problem.dual_value(psi) / problem.mass
        return _result(problem, flat, psi, primal, dual, self.name, self.solver, timer)


class GreedyRelocationBackend(_HeuristicBackend):
    """Greedy nearest-free-bin placement (points in index order; own bin first)."""

    name = "relocation-greedy"
    solver = "greedy nearest free bin"

    def _assign(self, P: Any, **options: Any) -> NDArray[np.int64]:
        return _greedy(P)


class BisectionRelocationBackend(_HeuristicBackend):
    """Recursive bisection at capacity-weighted medians, alternating x and y (the seed's heuristic)."""

    name = "relocation-bisection"
    solver = "recursive bisection"

    def _assign(self, P: Any, **options: Any) -> NDArray[np.int64]:
        return _bisection(P)
