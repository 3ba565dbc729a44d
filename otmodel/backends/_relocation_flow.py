r"""The flow stage of backend ``relocation``: column generation with an exact network-flow master.

From a feasible placement and prices (the auction's, ``otmodel.backends.relocation`` step 1):

2. *Restriction* (``flow_stage``, from any feasible placement and prices: the auction's). Every
   point gets the ``candidates`` bins of smallest `c_{ij} + \psi_j` (exact, by the block search
   of ``otmodel.model._relocation_kernels``) and its start bin, so that the restriction is
   feasible; where its best bins tie within `\tau` (below), every bin within `\tau` of its best,
   up to 24. A point whose start bin is its cheapest by more than `\tau = 4 r_{\max}`
   (`r_{\max}` the largest reduced cost `c_{i,b(i)} + \psi_{b(i)} - \min_j (c_{ij} + \psi_j)`
   of the start, i.e. its own `\varepsilon`) is *fixed*: it keeps its bin and its place is taken
   from the bin's capacity.
3. *Master.* One min-cost flow of the free points over their columns into what the fixed points
   leave (OR-Tools' ``SimpleMinCostFlow``, costs scaled to integers; an overflow arc per bin with
   a penalty `P > \max_{ij} c_{ij}`).
4. *Prices from the flow.* Prices that make the placement (fixed and free points) optimal over
   every point's columns are the solutions of difference constraints on a graph over the bins,
   each point contracted into arcs between its bins and parallel arcs into the cheapest
   (``bin_graph``: about 20 arcs per bin whatever the number of points). They form a lattice;
   ``_Master.prices`` takes the smallest above `\min(\psi^0, h)`, with `\psi^0` the start's
   prices and `h` the largest such prices (shortest distances to a bin with room), on the float
   costs, or on the integer costs the master saw when a cycle below their rounding forbids it.
   A negative cycle through fixed points frees them all and the master runs again.
5. *Exact pricing over all pairs* gives `D(\psi)` and the violated columns; they join the
   restriction (a violated fixed point is freed) and 3-5 repeat until no column is violated (the
   assignment is then proven optimal) or the certified gap (best placement against best bound of
   either stage) is below ``gap_tol``. Fixing never weakens the proof: step 5 is over all points
   and all bins.

The flow stage, measured from saved auction outputs (``benchmarks/bench_relocation_flow.py``,
``benchmarks/results_relocation_flow.json``; 100k points, 64 x 64): squared Euclidean from a
certified 2.1e-6, 13.8 s before the choices below, 2.1 s after, one round, proven optimal; from a
poor start (4.1e-4) 22.6 s before, 17.3 s after. Manhattan from 7.6e-6: 748 s before (21 rounds),
229 s after (8 rounds: ties), hence the network for Manhattan L1.

- *Master size.* From an auction start, 15 % of the points are free at `\tau = 4 r_{\max}`
  (6.7 % at 1, 9.7 % at 2, 26 % at 8): the master fell from 10 s to 0.8 s and one round still
  proved the optimum. The restriction and the pricing (one exact search over all points each)
  are now half the stage. Manhattan distances tie exactly (the optimal `c_{ij} + \psi_j` is
  the same over 16 or more bins for the median point, and the auction's placement was already
  4e-10 above the optimum: only the proof is missing): 98 % of the points stay free.
- *Prices.* The smallest prices (the earlier choice) are far below the optimal ones where costs
  tie: on the Manhattan instance the first pricing found 99,191 of 100k points violated and a
  bound 134 % below the cost; the prices nearest the start's, 85k-92k violated at a 9e-6 gap. Both
  price computations on the contracted graph take 0.1 s, so both are kept (float, then integer).
- *Tied bins* in the first restriction (up to 24 within `\tau`, Manhattan): 5 rounds against 8
  without them in one pair of runs, 8 again in the final run; kept, as the cheaper measured, but
  not shown to pay (the round count follows the master's choice among tied optima).
- Tried and dropped: raising the prices until no point has a cheaper bin over all pairs (a
  Bellman-Ford whose relaxation is the pricing's search): on Manhattan the prices rose in cycles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as K
import otmodel.model._relocation_tree as T
from otmodel.backends.base import Timer
from otmodel.errors import SolverError
from otmodel.results import Status

__all__ = ["FlowOutcome", "flow_stage"]

#: Largest integer cost handed to OR-Tools (its cost scaling multiplies costs by about the node count).
_INT_COST_LIMIT = 4.0e11


def _domain_cost(problem: Any) -> float:
    """The largest cost of any pair: the diameter of the region in the metric, to the power p."""
    wx, wy = problem.bounds[1] - problem.bounds[0], problem.bounds[3] - problem.bounds[2]
    d = math.hypot(wx, wy) if problem.metric == "euclidean" else wx + wy
    return float(d**problem.power)


@dataclass
class _Round:
    primal: float
    dual: float
    gap: float
    violated: int
    columns: int
    overflow: int
    added: int = 0
    free: int = 0
    freed: int = 0


#: The most bins per point in the first restriction where costs tie (module docstring: figures,
#: which do not show it to pay beyond doubt).
_TIES = 24

#: Passes over the bins after which a shortest-path search on the bin graph is given up.
_PASSES = 200


def _passes(B: int) -> int:
    """``_PASSES``, or more on large grids: at 1M points / 256 x 256 bins the prices of a flow that
    was optimal took more than 200 passes (and fewer than 5,000: 2.1 s), so about 16 per bin of the
    grid's side (4,096 there; a pass over 65k bins costs a few milliseconds)."""
    return max(_PASSES, int(16 * math.sqrt(B)))


def _lattice_prices(
    B: int, src: NDArray[np.int64], dst: NDArray[np.int64], w: NDArray[np.float64], full: NDArray[np.bool_],
    over: NDArray[np.bool_], penalty: float, target: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    r"""`\phi = -\psi` for the smallest prices at least `\min(\text{target}, h)` that make a placement
    optimal over its columns (``_Master.prices``); None when a negative cycle forbids any."""
    ptr, kdst, wk = K.bin_graph(B, src, dst, w)
    d = np.zeros(B)
    if not over.any():
        ksrc = np.repeat(np.arange(B, dtype=np.int64), np.diff(ptr))
        order = np.argsort(kdst, kind="stable")
        rptr = np.zeros(B + 1, dtype=np.int64)
        np.cumsum(np.bincount(kdst, minlength=B), out=rptr[1:])
        h = np.empty(B)
        if not K.bin_graph_exits(B, rptr, ksrc[order], wk[order], full, penalty, h, _passes(B)):
            return None
        d = np.where(full, np.maximum(-target, -h), 0.0)
    return d if K.bin_graph_prices(B, ptr, kdst, wk, full, over, penalty, d, _passes(B)) else None


class _Master:
    r"""Column generation from a feasible placement ``start`` and prices ``psi`` (module docstring, 2-5).

    Every point's columns are its ``cands`` cheapest bins under ``psi`` and its ``start`` bin (so the
    first restriction is feasible). A point is *fixed* (kept in its start bin, out of the network
    solver's problem, its place taken from its bin's capacity) when its start bin is its cheapest
    under ``psi`` by more than ``fix`` times the largest reduced cost `r_{\max}` of any point's
    start bin (the start's own `\varepsilon`); ``fix = inf`` fixes nobody. Fixed points keep their
    columns: they take part in the prices (step 4) and in the pricing (step 5), and a fixed point
    that the pricing finds violated is freed, so the proof of optimality is over all points and
    all pairs as before.
    """

    def __init__(
        self, problem: Any, psi: NDArray[np.float64], cands: int, start: NDArray[np.int64] | None = None,
        fix: float = math.inf,
    ) -> None:
        self.P = problem
        self.pts = np.ascontiguousarray(problem.points)
        self.bij = problem.bin_index(self.pts)
        self.n = self.pts.shape[0]
        self.B = problem.n_bins
        self.slots = np.ascontiguousarray(problem.slots.reshape(-1), dtype=np.int64)
        self.geom = problem.kernel_args()
        self.cands = cands
        self.penalty = 1.25 * _domain_cost(problem) + 1e-300
        self.scale = _INT_COST_LIMIT / self.penalty
        vals, idx = T.topk_bins(self.pts, self.bij, psi, self.slots, max(cands, 2), *self.geom)
        if start is None:
            order = np.argsort(vals[:, 0] - vals[:, 1], kind="stable")  # most decided first
            g = K.greedy_nearest(self.pts, self.bij, order.astype(np.int64), self.slots, *self.geom)
        else:
            g = np.asarray(start, dtype=np.int64)
        top = idx[:, :cands]
        extra = np.where((top == g[:, None]).any(axis=1), -1, g)
        self.cols = np.concatenate([top, extra[:, None]], axis=1)
        self.col_cost = self._costs(self.cols)
        self.assign = g.copy()
        self.overflow = np.zeros(self.B, dtype=np.int64)
        self.psi = psi.copy()
        self.psi0 = np.where(self.slots > 0, psi, 0.0)
        self.free = np.ones(self.n, dtype=bool)
        self.margin = np.zeros(self.n)  # how far a fixed point's start bin beats its second bin
        self.tau = math.inf
        if math.isfinite(fix) and not (np.bincount(g, minlength=self.B) > self.slots).any():
            # reduced cost of each start bin under psi: 0 at the cheapest, at most the start's epsilon
            red = self._assigned_cost() + psi[g] - vals[:, 0]
            tau = fix * max(float(red.max()), 0.0)
            self.free = ~((idx[:, 0] == g) & (vals[:, 1] - vals[:, 0] > tau))
            self.margin = np.where(self.free, 0.0, vals[:, 1] - vals[:, 0])
            self.tau = tau
            # where costs tie (Manhattan: a point's cost plus price is the same over whole staircases
            # of bins), every bin within tau of the best joins, up to _TIES of them; only from a
            # close start: from a start at 4e-4 (tau about one bin-crossing cost) nearly every
            # point took 24 bins and the master 46 s instead of 40 s for two rounds of 5
            unit = max(problem.bin_width, problem.bin_height) ** problem.power
            crowd = np.flatnonzero(vals[:, -1] - vals[:, 0] <= tau) if tau <= 0.2 * unit else np.zeros(0, np.int64)
            if crowd.size and _TIES > vals.shape[1]:
                v2, i2 = T.topk_bins(self.pts[crowd], self.bij[crowd], psi, self.slots, _TIES, *self.geom)
                self._add(crowd, np.where(v2 - v2[:, :1] <= tau, i2, -1))

    def _costs(self, cols: NDArray[np.int64]) -> NDArray[np.float64]:
        out = np.full(cols.shape, np.inf)
        ok = cols >= 0
        rows = np.nonzero(ok)[0]
        out[ok] = K.pair_costs(self.pts, rows.astype(np.int64), cols[ok].astype(np.int64), *self.geom)
        return out

    def _assigned_w(self) -> NDArray[np.intp]:
        """The column position of every point's current bin."""
        return np.argmax(self.cols == self.assign[:, None], axis=1)

    def _assigned_cost(self) -> NDArray[np.float64]:
        return self.col_cost[np.arange(self.n), self._assigned_w()]  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------ master
    def solve_master(self) -> None:
        """Min-cost flow of the free points over their columns, into what the fixed points leave."""
        from ortools.graph.python import min_cost_flow

        B = self.B
        U = np.flatnonzero(self.free)
        n = U.size
        room = self.slots - np.bincount(self.assign[~self.free], minlength=B)
        cols = self.cols[U]
        ok = cols >= 0
        rows, wpos = np.nonzero(ok)
        heads = cols[rows, wpos]
        use_bins = np.flatnonzero(self.slots > 0)
        sink = n + B
        ccost = self.col_cost[U][rows, wpos]
        # every point has its current bin among its columns, so with a feasible placement the
        # restriction is feasible and needs no overflow arcs: the integer costs then resolve the
        # columns' own range (not the region's diameter, which the penalty must exceed), 10-1000x
        # finer (a 26-point instance stopped 9.4e-9 short of its proof on the coarser costs)
        overflow_arcs = bool((np.bincount(self.assign, minlength=B) > self.slots).any())
        room = np.maximum(room, 0)
        cmax = max(float(ccost.max(initial=0.0)), 1e-6 * self.penalty)  # all costs 0: any scale
        scale = self.scale if overflow_arcs else _INT_COST_LIMIT / cmax
        for _attempt in range(6):
            icost = np.rint(ccost * scale).astype(np.int64)
            ipen = int(round(self.penalty * scale))
            smcf = min_cost_flow.SimpleMinCostFlow()
            smcf.add_arcs_with_capacity_and_unit_cost(
                rows.astype(np.int64), (n + heads).astype(np.int64), np.ones(rows.size, dtype=np.int64), icost
            )
            smcf.add_arcs_with_capacity_and_unit_cost(
                (n + use_bins).astype(np.int64), np.full(use_bins.size, sink, dtype=np.int64),
                room[use_bins].astype(np.int64), np.zeros(use_bins.size, dtype=np.int64),
            )
            if overflow_arcs:
                smcf.add_arcs_with_capacity_and_unit_cost(
                    (n + use_bins).astype(np.int64), np.full(use_bins.size, sink, dtype=np.int64),
                    np.full(use_bins.size, n, dtype=np.int64), np.full(use_bins.size, ipen, dtype=np.int64),
                )
            sup = np.zeros(n + B + 1, dtype=np.int64)
            sup[:n] = 1
            sup[sink] = -n
            smcf.set_nodes_supplies(np.arange(n + B + 1, dtype=np.int64), sup)
            st = smcf.solve()
            if st == smcf.OPTIMAL:
                break
            if st == smcf.BAD_COST_RANGE:
                scale /= 8.0
                continue
            raise SolverError(f"OR-Tools min-cost flow returned {st} on the restricted relocation problem")
        else:
            raise SolverError("OR-Tools min-cost flow refused every cost scale (BAD_COST_RANGE)")
        self.scale = scale
        flows = np.asarray(smcf.flows(np.arange(smcf.num_arcs(), dtype=np.int64)))
        pos = flows[: rows.size] > 0
        self.assign[U[rows[pos]]] = heads[pos]
        self.overflow = np.zeros(B, dtype=np.int64)
        if overflow_arcs:
            self.overflow[use_bins] = flows[rows.size + use_bins.size :]

    # ------------------------------------------------------------------------------ prices
    def prices(self) -> bool:
        r"""Prices that make the placement optimal over every point's columns, near the start's.

        Of all such prices (a lattice: ``bin_graph_prices``), the smallest that are at least
        `\min(\psi^0_j, h_j)`, with `\psi^0` the start prices and `h_j` the largest price bin `j`
        can take (``bin_graph_exits``). The smallest prices outright (`\psi^0 = 0`) are far from
        the optimal ones where costs tie, as they do for Manhattan distances (module docstring:
        figures). False when there are none (a negative cycle through fixed points: the caller
        frees them).
        """
        B = self.B
        ar = np.arange(self.n)
        wa = self._assigned_w()
        other = (self.cols >= 0) & (self.cols != self.assign[:, None])
        src = np.broadcast_to(self.assign[:, None], self.cols.shape)[other]
        dst = self.cols[other]
        over = self.overflow > 0
        full = (np.bincount(self.assign, minlength=B) >= self.slots) | over
        # float costs first; where they fail (a cycle of weight below the integer costs' rounding,
        # or fixed points on a negative cycle), the integer costs for which the master's flow is
        # exactly optimal, then a polish on the float costs from there
        wf = (self.col_cost - self.col_cost[ar, wa][:, None])[other]
        d = _lattice_prices(B, src, dst, wf, full, over, self.penalty, self.psi0)
        self.polished = d is not None
        if d is None:
            icol = np.rint(np.where(self.cols >= 0, self.col_cost, 0.0) * self.scale)
            wint = (icol - icol[ar, wa][:, None])[other]
            ipen = float(round(self.penalty * self.scale))
            d = _lattice_prices(B, src, dst, wint, full, over, ipen, np.rint(self.psi0 * self.scale))
            if d is None:
                return False
            d2 = np.minimum(d / self.scale, 0.0)
            ptr, kdst, w = K.bin_graph(B, src, dst, wf)
            self.polished = bool(K.bin_graph_prices(B, ptr, kdst, w, full, over, self.penalty, d2, _passes(B)))
            d = d2 if self.polished else d / self.scale
        self.psi = np.maximum(-d, 0.0)
        return True

    # ------------------------------------------------------------------------------ pricing
    def pricing(self, rel_tol: float) -> _Round:
        r"""`D(\psi)` over all pairs, and the points with a cheaper bin outside their columns."""
        vals, _ = T.topk_bins(self.pts, self.bij, self.psi, self.slots, 1, *self.geom)
        best = vals[:, 0]
        ca = self._assigned_cost()
        cur = ca + self.psi[self.assign]
        primal = float(ca.sum())
        over = int(self.overflow.sum())
        dual = float(best.sum()) - float(self.psi @ self.slots)
        gap = (primal - dual) / max(abs(primal), 1e-300) if over == 0 else math.inf
        viol = best < cur - rel_tol * np.maximum(np.abs(cur), 1e-300)
        if over:
            viol |= self.overflow[self.assign] > 0
        rows = np.flatnonzero(viol)
        added = freed = 0
        if rows.size:
            _, new = T.topk_bins(self.pts[rows], self.bij[rows], self.psi, self.slots, self.cands, *self.geom)
            added = self._add(rows, new)
            freed = int((~self.free[rows]).sum())
            self.free[rows] = True
        return _Round(primal, dual, gap, int(rows.size), int((self.cols >= 0).sum()), over, added,
                      int(self.free.sum()), freed)

    def _add(self, rows: NDArray[np.intp], new: NDArray[np.int64]) -> int:
        """Add the columns ``new`` of points ``rows`` that are not yet there; returns how many."""
        old = self.cols[rows]
        dup = (new[:, :, None] == old[:, None, :]).any(axis=2) | (new < 0)
        new = np.where(dup, -1, new)
        keep = (new >= 0).any(axis=0)
        if not keep.any():
            return 0
        added = int((new >= 0).sum())
        new = new[:, keep]
        block = np.full((self.n, new.shape[1]), -1, dtype=np.int64)
        block[rows] = new
        bcost = self._costs(block)
        self.cols = np.concatenate([self.cols, block], axis=1)
        self.col_cost = np.concatenate([self.col_cost, bcost], axis=1)
        # drop columns that no point uses any more
        used = (self.cols >= 0).any(axis=0)
        if not used.all():
            self.cols, self.col_cost = self.cols[:, used], self.col_cost[:, used]
        return added


#: Points whose start bin beats their second-cheapest bin by more than this many times the start's
#: largest reduced cost stay fixed in the flow stage (module docstring: figures).
_FIX = 4.0


@dataclass
class FlowOutcome:
    """What the flow stage returns: its best placement and the prices of its best bound (both over
    all pairs), why it stopped, and how many rounds it took."""

    flat: NDArray[np.int64] | None
    primal: float
    psi: NDArray[np.float64] | None
    dual: float
    status: Status
    message: str
    rounds: int


def flow_stage(
    P: Any,
    flat: NDArray[np.int64] | None,
    psi: NDArray[np.float64],
    *,
    candidates: int = 4,
    fix: float = _FIX,
    gap_tol: float = 0.0,
    max_iter: int = 200,
    deadline: float = math.inf,
    log: Callable[..., Any] | None = None,
    timer: Timer | None = None,
    stopped: Callable[[], bool] | None = None,
    best: tuple[float, float] = (math.inf, -math.inf),
) -> FlowOutcome:
    r"""Steps 2-5 of the module docstring from a feasible placement ``flat`` and prices ``psi``.

    ``flat`` None starts from the greedy placement in order of decidedness under ``psi``. ``best``:
    the (cost, bound) already certified before (the auction's), so that the gap test uses the
    best of both stages. Returns the best feasible placement found here (``flat`` None when none
    beat ``best``'s cost) and the prices of the best bound found here (None likewise).
    """
    timer = timer if timer is not None else Timer()
    best_primal, best_dual = best
    out = FlowOutcome(None, math.inf, None, -math.inf, Status.ITERATION_LIMIT, "", 0)
    with timer("restrict"):
        m = _Master(P, psi, candidates, start=flat, fix=fix)
    for r in range(max_iter):
        out.rounds = r + 1
        with timer("master"):
            m.solve_master()
        with timer("prices"):
            ok = m.prices()
        while not ok and not m.free.all():
            # a fixed point closes a negative cycle: free the fixed points decided by less than twice
            # as much, and solve again. Measured at 100k / 64 x 64 from an auction start: 26.6k points
            # free (1.0 s), a cycle; 45k at twice tau, 2.0 s, prices found; 93k at 8 tau, 5.5 s;
            # every point (what was done before), 4.5 s
            fixed = m.margin[~m.free]
            m.tau = max(2.0 * m.tau, float(fixed.min()))  # tau = 0 (an exact start) would never grow
            m.free |= m.margin <= m.tau
            with timer("master"):
                m.solve_master()
            with timer("prices"):
                ok = m.prices()
        if not ok:
            # the flow is optimal for the integer costs, so prices exist; the searches for them gave
            # up (``_PASSES``) or met a cycle below the rounding: what was certified before stands
            out.status = Status.NUMERICAL_ERROR
            out.message = "the flow stage found no prices for its flow; the best certified answer before it returns"
            break
        with timer("pricing"):
            rd = m.pricing(1e-13)
        if log is not None:
            log(level=P.n_points, round=r, **rd.__dict__)
        if rd.overflow == 0 and rd.primal < min(best_primal, out.primal):
            out.primal, out.flat = rd.primal, m.assign.copy()
        if rd.dual > max(best_dual, out.dual):
            out.dual, out.psi = rd.dual, m.psi.copy()
        bp, bd = min(best_primal, out.primal), max(best_dual, out.dual)
        if bp <= 0.0 < -bd:  # costs are >= 0: a placement of cost 0 is optimal, D(0) = 0 proves it (not -1e-14)
            out.psi, out.dual, bd = np.zeros(P.n_bins), 0.0, 0.0
        gap = (bp - bd) / max(abs(bp), 1e-300)
        if rd.overflow == 0 and rd.violated == 0:
            out.status, out.message = Status.OPTIMAL, "no column has a negative reduced cost: the assignment is optimal"
            break
        if gap <= gap_tol:
            out.status, out.message = Status.OPTIMAL, f"relative gap {gap:.3g} <= gap_tol {gap_tol:g}"
            break
        if rd.overflow == 0 and rd.added == 0 and rd.freed == 0:
            # every violated column is already in the restriction: what is left is the rounding of
            # the costs to integers for the network solver, and the certified gap measures it
            out.status = Status.OPTIMAL if gap <= 1e-9 else Status.NUMERICAL_ERROR
            out.message = f"optimal for the integer-rounded costs; certified relative gap {gap:.3g}"
            break
        if stopped is not None and stopped():
            out.status, out.message = Status.INTERRUPTED if hasattr(Status, "INTERRUPTED") else Status.ITERATION_LIMIT, "stopped by callback"
            break
        if time.perf_counter() > deadline:
            out.status, out.message = Status.TIME_LIMIT, "time limit reached"
            break
    return out
