r"""The heuristics people use today for ``RelocationProblem``, certified by the same dual bound.

``relocation-greedy``: points in order, each to its cheapest bin with room left (own bin first).
``relocation-bisection``: recursive bisection of the bins, alternating x and y, cutting the point set
at the capacity-weighted median (the geometric heuristic of the seed ``001``).

Both report prices 0 (a trivial bound) unless given ``prices=`` (e.g. the certified optimum's): the
bound `D(\psi)` of ``otmodel.model.relocation`` then measures how far the heuristic is from the
optimum; ``certify(problem, result, potentials=psi)`` recomputes it from the problem data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as RK
from otmodel.backends._options import refuse_unknown
from otmodel.backends.base import Conformance, Timer
from otmodel.backends.relocation import _result
from otmodel.model._relocation_bisect import bisection as _bisection
from otmodel.model._relocation_bisect import greedy as _greedy
from otmodel.results import Status
from otmodel.results.relocation import RelocationResult

__all__ = ["GreedyRelocationBackend", "BisectionRelocationBackend", "HEURISTIC_OPTIONS"]

#: The options of the one-pass heuristics: ``prices`` (for a bound), ``spread`` (positions spread
#: inside the bins) and the common ones they accept (with nothing to limit or report, they are
#: accepted so that a script can switch backends).
HEURISTIC_OPTIONS = ("prices", "spread", "verbose", "time_limit", "gap_tol", "callback", "progress", "seed")


def _kind_check(problem: Any) -> str | None:
    return None if getattr(problem, "kind", None) == "relocation" else "it solves RelocationProblem only"


def _zero_price_bound(P: Any) -> float:
    r"""`D(0) / m = \sum_i \min_j c_{ij}`, searching only for the points not free in their own bin.

    A point whose own bin has room and is free at its position has `\min_j c_{ij} = 0`; at 1M points
    the full search cost 3-4 s (as long as the greedy placement itself) for a bound that is then 0.
    """
    own = P.flat_bins(P.bin_index(P.points))
    c = P.cost(np.arange(P.n_points), own)
    need = np.flatnonzero(~((P.slots.reshape(-1)[own] > 0) & (c == 0.0)))
    if need.size == 0:
        return 0.0
    pts = np.ascontiguousarray(P.points[need])
    best, _ = RK.best_bins(pts, P.bin_index(pts), np.zeros(P.n_bins), np.ascontiguousarray(P.slots.reshape(-1)), *P.kernel_args())
    return float(np.sum(best))


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
        """Place the points; prices are 0 and the bound trivial (``prices=`` gives a bound from given prices).

        ``spread=True`` spreads the points inside their bins (``otmodel.model._relocation_spread``);
        the objective stays the assignment's cost.
        """
        refuse_unknown(self.name, options, HEURISTIC_OPTIONS)
        # one pass, no iterations: the common options are accepted and have nothing to limit
        prices = options.pop("prices", None)
        spread = bool(options.pop("spread", False))
        timer = Timer()
        with timer("solve"):
            flat = self._assign(problem)
        primal = problem.objective(flat) / problem.mass
        psi = np.zeros(problem.n_bins) if prices is None else np.maximum(np.asarray(prices, dtype=float).reshape(-1), 0)
        with timer("bound"):
            dual = problem.dual_value(psi) / problem.mass if prices is not None else _zero_price_bound(problem)
        return _result(problem, flat, psi, primal, dual, Status.CONVERGED, "heuristic: no optimality claim", self.name,
                       self.solver, timer, None, 1, spread)


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
