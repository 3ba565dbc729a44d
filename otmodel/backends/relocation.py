r"""Backends for ``RelocationProblem``: the certified optimum, and two heuristics.

``relocation`` (the default): a forward auction, then column generation with an exact network-flow master;
under Manhattan L1, one exact min-cost flow on a grid network instead
(``otmodel.backends._relocation_l1``, option ``method``).

1. *Auction* (``otmodel.backends._relocation_auction``, kernels in ``otmodel.model._relocation_auction``
   and ``_relocation_tree``): `\varepsilon`-scaling; bins as capacitated sinks with a price per
   slot, zero-cost dummy points filling the spare capacity, bids reading each point's candidate
   list or searching a tree of bins pruned by planes under the prices. Every phase ends with a
   feasible placement and prices `\psi \ge 0` whose exact `D(\psi)` certifies it; the auction
   stops at the certified gap ``auction_gap`` (or ``gap_tol`` when larger). On grids of even sides
   and from 80k points (``warm_start``), it starts from the prices of the coarse instance (half the
   bins per side, a quarter of the points, ``otmodel.backends._relocation_levels``), solved the same
   way first, recursively.
2-5. *Flow stage* (``otmodel.backends._relocation_flow``): each point restricted to its cheapest
   bins under the prices and its start bin, one min-cost flow (OR-Tools), prices from the flow,
   an exact pricing over all pairs; repeated until no column is violated (proven optimal) or the
   certified gap is below ``gap_tol``.

Why this method (100k points, 64 x 64, squared Euclidean): the multilevel column generation that
came before had a negative bound after 312 s (the flow's prices over a poor restriction diverge);
the auction's bound comes with every phase. The coarse start (session 7, same machine and hour):
100k / 64 x 64, the auction to about 4e-6 in 8.9 s and 2.49M bids against 12.2 s and 3.68M from
cold; 1M / 256 x 256, a certified 0.63 % at 61 s, 3.7e-4 at 90 s and 8.1e-6 at 134 s against
0.34 % at 185 s and 3.6e-5 at 290 s. (A random quarter of the points on the same bins, tried
before, was slower: its rounded capacities made its prices bumpy.)
End to end, figures in ``benchmarks/README.md`` (``benchmarks/bench_relocation.py``).
Manhattan L1 (``method="auto"``: the network when there is no ``time_limit`` or at least
``_L1_SECONDS_PER_POINT`` per point, up to ``_L1_NETWORK_POINTS`` points; OR-Tools' solve cannot be
interrupted): the exact optimum of the grid network, its residual prices, `D(\psi)` over all pairs.
When ``time_limit`` runs out, the cheaper of the best placement so far and the heuristics' is
returned. Memory: `O(N + \text{slots} + \text{bins})` in the auction, `O(N \cdot
\text{columns})` in the flow stage and the network. Heuristics: ``relocation_heuristics``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as K
from otmodel.backends._options import refuse_unknown
from otmodel.backends._progress import Progress
from otmodel.backends._relocation_auction import _cost_unit, auction
from otmodel.backends._relocation_flow import FlowOutcome, _Master, flow_stage  # noqa: F401 (tests and benchmarks)
from otmodel.backends._relocation_l1 import network_start
from otmodel.backends.base import Conformance, Timer
from otmodel.errors import InvalidDataError
from otmodel.model._relocation_bisect import bisection, greedy
from otmodel.model._relocation_spread import place_points
from otmodel.results import PointStatus, Status, Trace
from otmodel.results.relocation import RelocationResult

__all__ = ["RelocationBackend"]

logger = logging.getLogger("otmodel")

#: Default ``auction_gap``, and Manhattan L1's (tied costs; 100k / 64 x 64: auction to 6.2e-6 + 9 flow rounds 241 s,
#: auction alone to 4e-10 106 s; 20k / 32 x 32: 16.2 s against 15.0; Manhattan L2 19.7 s against 7.3, so not there).
_EUCLID_AUCTION_GAP = 1e-5
_TIED_AUCTION_GAP = 1e-10

#: The auction hands over to the flow stage only once its ``eps`` is at most this many bin-crossing
#: costs (or the gap meets ``gap_tol``): the flow stage fixes the points whose start bin wins by
#: ``4 eps``, and at 1M points / 256 x 256 the auction meets 1e-5 at ``eps`` = 0.24 of them (a
#: point's mean cost there is 2,300 of them, against 140 at 100k / 64 x 64, where it meets 1e-5 at
#: 0.016): 99 % of the points stayed free and the master took 169 s.
_HANDOVER = 0.02
_tied = lambda P: P.metric == "manhattan" and P.power == 1  # noqa: E731

#: ``method="auto"`` takes the Manhattan L1 network up to this many points (about 13 arcs per point),
#: and when ``time_limit`` allows this much per point (15.0 s at 100k / 64 x 64, the solve 14.1 s).
_L1_NETWORK_POINTS = 1_000_000
_L1_SECONDS_PER_POINT = 4e-4

#: Up to this many points, a time-limited solve also tries the greedy placement (about 1 s at 250k).
_GREEDY_FALLBACK_POINTS = 250_000


def _kind_check(problem: Any) -> str | None:
    return None if getattr(problem, "kind", None) == "relocation" else "it solves RelocationProblem only"


#: The options ``RelocationBackend.solve`` takes (docs/backend-options.md describes each); its
#: stopping rule is the certified gap, so it takes ``gap_tol`` and no ``tol``.
OPTIONS = (
    "gap_tol", "time_limit", "candidates", "warm_start", "auction_gap", "max_iter", "seed", "spread", "callback",
    "progress", "verbose", "method",
)


class RelocationBackend:
    """Certified optimum of a relocation problem (module docstring)."""

    name = "relocation"
    capabilities = frozenset({"relocation", "exact"})
    conformance = Conformance(kinds=frozenset({"relocation"}))

    def supports(self, problem: Any) -> str | None:
        return _kind_check(problem)

    def solve(
        self,
        problem: Any,
        *,
        gap_tol: float = 1e-10,
        time_limit: float | None = None,
        candidates: int = 4,
        warm_start: bool = True,
        auction_gap: float | None = None,
        max_iter: int = 200,
        seed: int = 0,
        spread: bool = False,
        callback: Callable[[dict[str, Any]], Any] | None = None,
        progress: bool | Any = False,
        verbose: bool = False,
        method: str = "auto",
        **unused: Any,
    ) -> RelocationResult:
        """Solve to a certified gap.

        Parameters
        ----------
        gap_tol : stop when the relative gap ``(cost - D(psi)) / cost`` is at most this (0: until the
            pricing proves the assignment optimal)
        time_limit : seconds; on expiry the best feasible assignment and the best bound so far return
            with status ``TIME_LIMIT``
        candidates : bins per point in the restriction (the ``K`` cheapest under the prices)
        warm_start : start the auction from the prices of the coarse instance, solved first (step 1;
            only on grids of even sides with at least 80k points; module docstring for the figures)
        auction_gap : the certified gap at which the auction hands over to the flow stage (default:
            1e-5; for Manhattan L1, where exact ties make the flow stage's proof slow,
            ``max(gap_tol, 1e-10)``: the auction alone then meets ``gap_tol``)
        max_iter : rounds of column generation at full size
        spread : spread the final positions over each bin's free part, keeping the points' order
            (``objective`` stays the certified assignment cost; ``result.position_displacement()``
            is what the points move)
        callback : called after each round with a dict (``level``, ``round``, ``primal``, ``dual``,
            ``gap``, ``violated``, ``columns``, ``time``; in the auction's rows ``primal`` and ``dual``
            are the best placement's cost and the best bound so far, ``gap`` theirs); a true return
            value stops the solve
        progress : True for a progress line per round on stderr (through the ``"otmodel"`` logger),
            or a tqdm-like object with ``set_postfix_str`` and ``update``
        verbose : log a line per round (logger ``"otmodel"``; shown on standard output when logging
            is not configured)
        method : ``"auction"`` (auction, then the flow stage), ``"network"`` (Manhattan L1 only: one
            min-cost flow on the grid network, ``otmodel.backends._relocation_l1``), or ``"auto"``
            (the network for Manhattan L1 when ``time_limit`` allows it, module docstring)
        """
        refuse_unknown(self.name, unused, OPTIONS)
        if method not in ("auto", "auction", "network"):
            raise InvalidDataError(f"relocation backend: method={method!r}: expected 'auto', 'auction' or 'network'")
        if method == "network" and not _tied(problem):
            raise InvalidDataError(
                "relocation backend: method='network' is for the Manhattan L1 displacement only, not "
                f"{problem.metric} {problem.displacement}"
            )
        if method == "auto":
            n = problem.n_points
            fits = time_limit is None or time_limit >= _L1_SECONDS_PER_POINT * n
            method = "network" if _tied(problem) and n <= _L1_NETWORK_POINTS and fits else "auction"
        if auction_gap is None:
            auction_gap = max(gap_tol, _TIED_AUCTION_GAP) if _tied(problem) else _EUCLID_AUCTION_GAP
        if not isinstance(spread, (bool, np.bool_)):
            raise InvalidDataError(f"relocation backend: option spread={spread!r}: expected True or False")
        # progress=True or verbose: the round lines go to the "otmodel" logger, shown on stderr when
        # logging is not configured (otmodel.backends._progress)
        shown = verbose or progress is True
        with Progress(1 if shown else 0, None, 1, sys.stderr if progress is True else None, "relocation"):
            return self._solve(
                problem, gap_tol, time_limit, candidates, warm_start, auction_gap, max_iter, seed, callback, progress,
                shown, bool(spread), method,
            )

    def _solve(
        self,
        problem: Any,
        gap_tol: float,
        time_limit: float | None,
        candidates: int,
        warm_start: bool,
        auction_gap: float,
        max_iter: int,
        seed: int,
        callback: Callable[[dict[str, Any]], Any] | None,
        progress: bool | Any,
        verbose: bool,
        spread: bool = False,
        method: str = "auction",
    ) -> RelocationResult:
        t0 = time.perf_counter()
        deadline = t0 + time_limit if time_limit is not None else math.inf
        timer = Timer()
        trace = Trace()
        P = problem
        stop_flag = [False]

        def log(**row: Any) -> None:
            # one set of columns for the auction's phases and the flow's rounds
            row = {"time": time.perf_counter() - t0, "violated": -1, "columns": 0, "overflow": 0, "added": 0,
                   "free": 0, "freed": 0, "eps": math.nan, "bids": 0, **row}
            trace.append(**row)
            # the auction's coarse levels (fewer points, warm_start) say so: their costs are theirs
            lvl = row.get("level")
            where = "" if lvl == P.n_points else f" coarse level ({lvl} points)"
            where += " flow" if row["columns"] else ""  # the flow stage's rounds (restricted columns)
            msg = (
                f"relocation{where} round {row.get('round')}: cost {row['primal']:.10g} "
                f"bound {row['dual']:.10g} gap {row['gap']:.3g} " + (f"eps {row['eps']:.3g} bids {row['bids']} " if row["bids"] else "")
                + f"violated {row['violated']} columns {row['columns']}"
            )
            (logger.info if verbose else logger.debug)(msg)
            if progress and progress is not True:
                progress.set_postfix_str(f"gap {row['gap']:.3g}")
                progress.update(1)
            if callback is not None and callback(dict(row)):
                stop_flag[0] = True

        if method == "network":
            auc = network_start(P, timer, log)
        else:
            with timer("auction"):
                auc = auction(P, stop_gap=max(gap_tol, auction_gap), deadline=deadline, warm_start=warm_start,
                              seed=seed, log=log, handover_eps=_HANDOVER * _cost_unit(P), final_gap=gap_tol)
        best_primal, best_flat = auc.primal, auc.flat
        best_dual, best_psi = auc.dual, auc.psi
        gap = (best_primal - best_dual) / max(abs(best_primal), 1e-300)
        status, msg, rounds = Status.ITERATION_LIMIT, "", 0
        if gap <= gap_tol:
            status, msg = Status.OPTIMAL, f"{'network' if method == 'network' else 'auction'}: relative gap {gap:.3g} <= gap_tol {gap_tol:g}"
            max_iter = 0
        elif time.perf_counter() > deadline or stop_flag[0]:
            status, msg = Status.TIME_LIMIT, f"time limit {time_limit:g} s reached in the auction"
            max_iter = 0
        else:
            fs = flow_stage(
                P, auc.flat, auc.psi, candidates=candidates, gap_tol=gap_tol, max_iter=max_iter, deadline=deadline,
                log=log, timer=timer, stopped=lambda: stop_flag[0], best=(best_primal, best_dual),
            )
            status, msg, rounds = fs.status, fs.message, fs.rounds
            if fs.status == Status.TIME_LIMIT:
                msg = f"time limit {time_limit:g} s reached"
            if fs.flat is not None and fs.primal < best_primal:
                best_primal, best_flat = fs.primal, fs.flat
            if fs.psi is not None and fs.dual > best_dual:
                best_dual, best_psi = fs.dual, fs.psi
        if best_flat is None or status == Status.TIME_LIMIT:
            # out of time (or no phase of the auction ended): keep the better of the best placement so
            # far and recursive bisection. At 1M points / 256 x 256 with 60 s, the auction's first phase
            # placement cost 56,433 and bisection's 53,320 (1.5 s)
            with timer("bisection"):
                bis = bisection(P)
                bis_primal = P.objective(bis) / P.mass
                if P.n_points <= _GREEDY_FALLBACK_POINTS:  # the greedy wins on Manhattan (10 % against 19 % at 100k)
                    gr = greedy(P)
                    gr_primal = P.objective(gr) / P.mass
                    if gr_primal < bis_primal:
                        bis, bis_primal = gr, gr_primal
            if best_flat is None or bis_primal < best_primal:
                best_flat, best_primal = bis, bis_primal
                if not math.isfinite(best_dual):
                    best_dual = P.dual_value(best_psi) / P.mass
                log(level=P.n_points, round=0, primal=best_primal, dual=best_dual,
                    gap=(best_primal - best_dual) / max(abs(best_primal), 1e-300))
                msg += "; a heuristic placement (recursive bisection or greedy) was cheaper and is returned"
        solver = "OR-Tools min-cost flow on the L1 grid network" if method == "network" else "auction + OR-Tools min-cost flow"
        return _result(P, best_flat, best_psi, best_primal, best_dual, status, msg, "relocation", solver, timer, trace,
                       rounds, spread)


def _result(
    P: Any, flat: NDArray[np.int64], psi: NDArray[np.float64], primal: float, dual: float, status: Status,
    msg: str, backend: str, solver: str, timer: Timer, trace: Trace | None, rounds: int, spread: bool = False,
) -> RelocationResult:
    """The result of every relocation backend (exact and heuristics): positions placed (or spread)
    in the assigned bins, the cost and bound scaled by the point mass, the gap between them."""
    mx, my = P.bins
    with timer("positions"):
        pos = place_points(P, flat, spread)
    obj = P.mass * primal
    dual_m = P.mass * dual
    gap = (obj - dual_m) / max(abs(obj), 1e-300) if math.isfinite(dual_m) else math.inf
    return RelocationResult(
        problem=P,
        status=status,
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
        trace=trace,
        iterations=rounds,
        message=msg,
        spread=spread,
    )


# ------------------------------------------------------------- greedy fallback (time limit)
def _greedy(P: Any, order: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    if order is None:
        order = np.arange(P.n_points, dtype=np.int64)
    return K.greedy_nearest(P.points, P.bin_index(P.points), order, np.ascontiguousarray(P.slots), *P.kernel_args())
