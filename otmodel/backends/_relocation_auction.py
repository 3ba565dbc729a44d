r"""The auction stage of backend ``relocation``: bin prices and a feasible placement, certified.

A forward auction with `\varepsilon`-scaling (kernels and their mathematics in
``otmodel.model._relocation_auction``): bins are capacitated sinks with a price per slot, spare
capacity is taken by zero-cost dummy points, bids search only the nodes of a tree of bins whose
fitted price planes can still win (``otmodel.model._relocation_tree``). With ``warm_start``, started from the
prices of the coarse instance (``otmodel.backends._relocation_levels``: half the bins per side, a
quarter of the points), solved the same way first: the coarse level stops at ``eps`` of
``_COARSE_FLOOR`` fine bin-crossing costs, the fine one starts at ``_FINE_START`` (the interpolated
prices are off by about -20 to +15 of them at 100k points, of 1,300 at most, so the first fine
phase starts above that and costs 4 bids per point at 1M). The interpolated prices' own exact bound
is the best bound until the phases beat it: at 1M points it is 5e-4 below the optimum, where the
first fine phase's prices are 6e-3 below it (their bids `\varepsilon` apart), so the first certified gap
is that phase's placement against it (7.3e-4 instead of 6.1e-3).

Each phase ends with every point `\varepsilon`-satisfied, so its placement is feasible, and the
prices shifted to `\min p = 0` give the exact dual bound `D(\psi)` (one ring search per point):
a certified gap after every phase. A phase may stop early at ``deadline``; the best certified
placement of the earlier phases is what returns then.

The `\varepsilon` schedule: the first phase at a quarter of the grid's span (a bid or two per
point), the second at most 3 times the first placement's mean cost per point, then down by
``theta`` = 5. Measured at 100k points / 64 x 64, squared Euclidean, on the loaded 2-core machine:
from 20 bin-crossing costs at the start (as before) the first phase took 3.9M bids; from about 500,
1.3M bids to the same `\varepsilon`. ``theta`` = 3 and 10 took 4.8M and 5.8M bids to a 1e-5 gap,
against 4.6M for 5. The whole auction to a certified 4.1e-6 gap: 5.4M bids, 63 s of CPU (96 s
wall, load 3.5), against 240 s wall before; the middle phases (`\varepsilon` from about 200 to 2
bin-crossing costs: 6-9 bids per point each, nearly all searching) are what is left.
The exact bound after a phase and the check at the start of the next are one pass over the points
(the prices do not change between them, ``_Level.dual``): to 9.5e-7 in 47 s of CPU (52.5 s wall).
Then (session 5, ``otmodel.model._relocation_auction``): searches seeded with the point's listed
bins, the bin-price rule for bids and releases, and bids in parallel chunks: to 3.4e-6 in 19.2 s
wall on the idle machine, 3.6M bids (against 37.0 s and 5.9M bids for the code before, same
machine, same morning).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_auction as A
import otmodel.model._relocation_kernels as K
import otmodel.model._relocation_tree as T
from otmodel.backends._relocation_levels import coarse_problem, prolong

__all__ = ["AuctionResult", "auction"]

#: Bids per compiled call between two checks of the clock, at most; fewer where bids are slow, so
#: that a call lasts about ``_CALL_SECONDS`` and a ``time_limit`` is overrun by about that much (a
#: fixed 200k took about 1 s at 100k points: ``time_limit=2`` returned after 4.2 s).
_BIDS_PER_CALL = 200_000
_CALL_SECONDS = 0.2

#: Candidate bins per point (``otmodel.model._relocation_auction``).
_CANDIDATES = 4

#: Bins per side of the leaves of the search tree (``otmodel.model._relocation_tree``).
_LEAF = 4

#: Bids computed in parallel between two applications (``run_parallel``); serial with one thread.
_CHUNK = 1024


#: A coarse level's last phase and a fine level's first, in the fine level's bin-crossing costs.
#: Measured at 1M points (the coarse floor 3 and start 30 against 1 and 10: 8.1e-6 at 134 s against
#: 1.3e-5 at 228 s; a floor of 6 dropped the 250k level's last phase but the fine first phase then
#: took 6.2M bids instead of 4.1M).
_COARSE_FLOOR = 3.0
_FINE_START = 30.0


@dataclass
class AuctionResult:
    """The best certified placement (``flat`` None when no phase ended) and the prices of the best bound."""

    flat: NDArray[np.int64] | None
    primal: float
    psi: NDArray[np.float64]
    dual: float
    eps: float
    bids: int


def _cost_unit(P: Any) -> float:
    """The cost of crossing one bin: the scale of prices (and of ``eps``)."""
    return float(max(P.bin_width, P.bin_height) ** P.power)


def _shifted(price: NDArray[np.float64], slots: NDArray[np.int64]) -> NDArray[np.float64]:
    """Prices with the cheapest bin at 0 (``psi >= 0``; 0 on bins without slots)."""
    use = slots > 0
    return np.where(use, price - price[use].min(), 0.0)


class _Level:
    """The auction state of one instance: ``pts`` into bins with ``slots`` places, from prices ``p0``."""

    def __init__(
        self, P: Any, pts: NDArray[np.float64], slots: NDArray[np.int64], p0: NDArray[np.float64], seed: int = 0
    ) -> None:
        self.P = P
        self.pts = np.ascontiguousarray(pts)
        self.slots = np.ascontiguousarray(slots, dtype=np.int64)
        self.geom = K.geometry(*P.kernel_args())
        self.bd = T.new_bounds(self.geom, _LEAF)
        self.persons = int(self.slots.sum())  # the points, then the dummies
        self.st = A.new_state(self.slots, p0, self.persons)
        self.cl = A.new_cands(self.pts.shape[0], _CANDIDATES)
        self.best = np.empty(self.pts.shape[0])
        self.known = False  # ``best`` holds the point's least c + psi at the current prices
        # a random order: points sorted in space would put a chunk's bids on the same few bins, and
        # each bid that a bin's rise makes stale is made again serially (``run_parallel``)
        self.queue = np.random.default_rng(seed).permutation(self.persons).astype(np.int64)
        self.qlen = self.persons
        self.bids = 0
        self.per_call = _CHUNK * 20  # under a time limit, the first call's; then from the measured rate

    def phase(self, eps: float, first: bool, deadline: float) -> bool:
        """Bid until every person is ``eps``-satisfied; False when ``deadline`` came first."""
        if not first:
            self.qlen = A.release_unsatisfied(self.pts, self.st, self.bd, self.queue, eps, self.geom, self.cl, self.best, self.known)
        self.known = False
        limited = math.isfinite(deadline)
        run = A.run_parallel if nb.get_num_threads() > 1 else A.run_serial
        while self.qlen > 0:
            t = time.perf_counter()
            if t > deadline:
                return False
            per = self.per_call if limited else _BIDS_PER_CALL
            self.qlen, b = run(self.pts, self.st, self.bd, self.queue, self.qlen, eps, per, self.geom, self.cl, _CHUNK)
            self.bids += b
            if limited and b >= per:
                rate = b / max(time.perf_counter() - t, 1e-6)
                self.per_call = int(min(_BIDS_PER_CALL, max(_CHUNK, rate * _CALL_SECONDS)))
        return True

    def psi(self) -> NDArray[np.float64]:
        return _shifted(self.st[5], self.slots)

    def dual(self, psi: NDArray[np.float64]) -> float:
        r"""`D(\psi)` per unit mass for ``psi = self.psi()`` (the same sum of the same per-point minima as
        ``P.dual_value(psi) / P.mass``); the same pass refreshes every candidate list and serves the
        next phase's check, which then needs no search of its own."""
        price = self.st[5]
        use = self.slots > 0
        shift = float(price[use].min())
        pz = np.where(use, psi, np.inf)
        A.evaluate(self.pts, pz, shift, self.bd, self.geom, self.cl, self.best)
        self.known = True
        return float(np.sum(self.best)) - float(psi @ self.slots)

    def flat(self) -> NDArray[np.int64]:
        return self.st[4][: self.pts.shape[0]].copy()


def auction(
    P: Any,
    *,
    stop_gap: float,
    deadline: float,
    warm_start: bool,
    seed: int,
    log: Callable[..., Any],
    theta: float = 5.0,
    eps_floor: float = 0.0,
    handover_eps: float = math.inf,
    final_gap: float = 0.0,
) -> AuctionResult:
    """Run the auction on ``P`` until the certified relative gap is at most ``stop_gap`` (or ``deadline``).

    ``theta``: the factor by which ``eps`` falls from one phase to the next. ``warm_start``: start
    from the prices of the coarse instance (``_relocation_levels``), solved the same way first, where
    there is one. ``eps_floor``: no phase below this ``eps``. ``handover_eps``: at ``stop_gap``, go on
    until ``eps`` is at most this, or the gap at most ``final_gap``.
    """
    N, cu = P.n_points, _cost_unit(P)
    slots = np.ascontiguousarray(P.slots.reshape(-1), dtype=np.int64)
    p0 = np.zeros(P.n_bins)
    # the first phase at a quarter of the grid's span: cheap (a bid or two per point), and its
    # placement's mean cost sets the scale of the next one (see the loop)
    eps = cu * max(P.bins) ** P.power / 4.0
    Pc = coarse_problem(P, seed) if warm_start else None
    warm = False  # started from the coarse level's prices
    if Pc is not None:
        rc = auction(Pc, stop_gap=0.0, deadline=deadline, warm_start=True, seed=seed + 1, log=log, theta=theta,
                     eps_floor=_COARSE_FLOOR * cu)
        if rc.flat is not None:
            p0 = prolong(Pc, rc.psi, P)
            eps = _FINE_START * cu
            warm = True
    # the points in a random order: an order in space (rows of cells, say) puts the bids computed
    # together on the same few bins (``run_parallel`` then makes most of them again, serially)
    perm = np.random.default_rng(seed).permutation(N)
    lv = _Level(P, P.points[perm], slots, p0, seed)
    # before any phase ends, the best prices are the start's (the coarse ones, interpolated): their
    # exact bound is what a solve stopped by its time limit returns with a heuristic placement
    best = AuctionResult(None, math.inf, p0.copy(), -math.inf, eps, 0)
    if warm and time.perf_counter() < deadline:
        # the exact bound at the coarse prices, interpolated: at 1M points / 256 x 256, 5.0e-4 below
        # the optimum, where the first fine phase's prices (eps = 30 bin-crossing costs) are 6e-3
        # below it and its placement 2.4e-4 above: the certified gap after the first phase is
        # 7e-4 with this bound, 6.1e-3 without (one pass over the points, 2 s)
        best.psi = lv.psi()
        best.dual = lv.dual(best.psi)
    first, r = True, 0
    while lv.phase(eps, first, deadline):
        first = False
        flat, psi = np.empty(N, dtype=np.int64), lv.psi()
        flat[perm] = lv.flat()
        primal = P.objective(flat) / P.mass
        dual = lv.dual(psi)
        if primal <= 0.0 < -dual:
            # costs are >= 0, so a placement of cost 0 is optimal and D(0) = sum_i min_j c_ij = 0 proves
            # it; without this the relative gap stays infinite and eps falls until it underflows
            psi, dual = np.zeros(P.n_bins), 0.0
        if primal < best.primal:
            best.flat, best.primal = flat, primal
        if dual > best.dual:
            best.psi, best.dual = psi, dual
        best.eps, best.bids = eps, lv.bids
        gap = (best.primal - best.dual) / max(abs(best.primal), 1e-300)
        # the line a user reads: the best placement, the best bound and their certified gap (the first
        # fine phase's own prices bound less than the coarse ones, interpolated)
        log(level=N, round=r, primal=best.primal, dual=best.dual, gap=gap, eps=eps, bids=lv.bids)
        r += 1
        if gap <= final_gap or (gap <= stop_gap and eps <= handover_eps) or time.perf_counter() > deadline:
            break
        # the gap is at most (persons * eps) / cost: no need to go far below what is asked
        new = max(eps / theta, 0.2 * stop_gap * best.primal / lv.persons, 1e-13 * cu)
        if gap > 0.0:
            # the gap after a phase is about proportional to eps (measured at 1M points: 2.0e-4 to
            # 2.4e-5 per bin-crossing cost from eps = 30 down to 0.01, the ratio falling): when the
            # nearest way to stop is within theta^2, one phase there instead of two (1M, to 1e-6:
            # from eps = 0.24 at 8.5e-6, one phase at 0.023 instead of 0.048 and 0.0096)
            reach = 0.8 * eps / gap
            goal = max(final_gap * reach, min(handover_eps, stop_gap * reach))
            if eps / theta**2 <= goal < new:
                new = goal
        if r == 1:
            # after the first phase: at most 3 times its mean cost per point. Measured at 100k points
            # (64 x 64, squared Euclidean): from 500 bin-crossing costs (about 3.6 times the optimum's
            # mean), 1.3M bids to eps = 20; from 20 at the start, 3.9M
            new = min(new, 3.0 * primal / N)
        if new >= eps or new < eps_floor:
            break
        eps = new
    return best
