r"""Compiled loops of the relocation auction: bins as capacitated sinks with one price per slot.

The balanced problem. Bin `j` has `u_j` slots; `D = \sum_j u_j - N` zero-cost *dummy* points
(indices ``n .. n + D - 1``) fill the spare capacity, so that every slot is taken at the end.
Without them a bin left under-full keeps the positive price it had in an earlier
`\varepsilon`-phase, and the dual bound stalls (issue 13 measured a 39 % gap); with them,
`\varepsilon`-complementary slackness of the dummies puts every under-full bin within
`\varepsilon` of the cheapest price, and the prices shifted to `\min_j p_j = 0` are
feasible for the dual of the original problem (``otmodel.model.relocation``):
`D(\psi) = \sum_i \min_j (c_{ij} + \psi_j) - \sum_j \psi_j u_j` with `\psi = p - \min p \ge 0`.

Slots, one price per bin in the proof. Every slot has its own price; the slots of bin `j` sit in
a min-heap (``hp`` prices, ``hh`` holders, offsets ``off``), so that the price of the bin, `p_j`,
is the price of its cheapest slot, and a winning bid takes that slot. The certificate, though,
only asks for `\varepsilon`-complementary slackness at the *bin* prices,
`c_{ij} + p_j \le \min_k (c_{ik} + p_k) + \varepsilon` for every point `i` in bin `j`, since the
gap is the sum of these reduced costs over the persons. So:

* a point `i` bids for its bin `j_1` of least `c_{ij} + p_j` the price
  `b = w_2 - c_{ij_1} + \varepsilon`, with `w_2` the least value over the *other bins* only
  (not the second slot of `j_1`, as for similar objects as assignment); it raises the slot's price
  by at least `\varepsilon`, and keeps the holder's invariant `c_{ij} + b \le \min_{k \ne j}
  (c_{ik} + p_k) + \varepsilon` while other prices rise; with `p_j \le b` this is the bin-price
  condition. A dummy does the same with `c = 0`, its best and second best read off a segment tree
  over the bin prices (``tree``) in `O(\log B)`;
* before a bid displaces the holder of a bin's cheapest slot, that holder's bid is made again
  from below, from its candidate list, without a search (``_lift``): other prices have risen since
  it bid, so it would now pay more; when that is at least `\varepsilon` more, its slot takes the
  new price and the next cheapest slot is looked at. Without it, 64 % of all bids (100k points /
  64 x 64, from the coarse start) were displaced holders bidding again for the bin they had just
  lost. Same hour: the full level in 9.5 s and 1.72M bids against 12.8 s and 3.14M; at 1M points /
  256 x 256, 22.0M bids to a gap of 8.5e-6 against 27.8M (the displacement chains that remain
  there are long, not repeated);
* at the start of a phase (``release_unsatisfied``) a point is released only when the bin-price
  condition fails at the new `\varepsilon`; a kept point's slot is lowered to the price that leaves
  it `\varepsilon`-satisfied (never below the bin's price, so no one else's values change), and a
  released slot drops to the bin's price, so that the next bid for the bin takes it and the chain of
  displacements ends there.

Measured at 100k points / 64 x 64, squared Euclidean, to a gap of about 4e-6, serial bids, same
machine and hour (``/tmp``-style A/B, the numba cache cleared between): the slot-price rule (the
second slot in `w_2`, release at the slot price) released 75-85k of the 105k persons at every
phase and took 5.48M bids in 31.6 s; the bin-price rule releases 7-15k in the late phases, 3.76M
bids in 27.8 s.

Bids in parallel (``run_parallel``, with more than one numba thread): chunks of 1,024 bids computed
at once against the same prices, then applied in order; a bid whose bin has since become dearer
than it by less than `\varepsilon` is made again at the current prices (7 % of the bids), so every
applied bid is a valid Gauss-Seidel bid. Same A/B: 21.4 s against 27.8 s serial (2 cores, both
busy). An earlier attempt measured 64 s against 35 s serial, on this machine loaded by three
other jobs, where a second core was not free.
The search (``_relocation_tree.tree_search``) prunes with planes fitted under the bin prices every
1,024 bids: prices only rise, so a stale plane is still a valid bound. Against the block search
before it (distance to a block plus its cheapest price), same A/B to 3.6M bids: 12.8-16 s against
21.7 s (parallel), with the same bids.

Candidate lists. Each search keeps the point's `K` best bins, their costs, and the `K+1`-th value
`r_i`; since prices only rise, `r_i` stays a lower bound on `c_{ij} + p_j` for every bin not in
the list. At the next bid, when the best candidate (at current prices) is at most `r_i`, it is the
exact best, and `w_2' = \min(\text{second candidate}, r_i)` lies in `[w_1, w_2]`: a bid with
`w_2'` in place of `w_2` raises the price by at least `\varepsilon` and still leaves the bidder
`\varepsilon`-satisfied, so the auction's guarantees hold with a possibly smaller step. Otherwise
the list is refreshed by a search, *seeded* with the list's `K + 1` bins at the current prices
(``_seed``): their largest value bounds the search from its start, so that it scans only blocks
that can beat a bin already known. Measured at 100k points / 64 x 64 (``K = 4``): in the first
phases prices move so much between two bids of a point that 96 % of bids search anyway (``K = 12``
did not change that); from `\varepsilon` of about a bin-crossing cost down, 22-70 % do, and a
bid costs about 3 us instead of 11-13 us of CPU. Seeding took the whole auction (slot-price rule,
serial) from 37.0 s to 24.7 s to the same gap, with the same bids; ``K`` = 2 and 8 took 28.7 and
32.3 s.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

from otmodel.model._relocation_kernels import Geometry, insert_sorted, pair_cost
from otmodel.model._relocation_tree import Bounds, fit_bounds, stack_size, tree_search

__all__ = ["State", "Cands", "new_cands", "new_state", "evaluate", "run_serial", "run_parallel", "release_unsatisfied", "tree_build"]

#: (hp, hh, off, pos, owner, price, tree, targ) -- see ``new_state``.
State = tuple[
    NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
    NDArray[np.float64], NDArray[np.float64], NDArray[np.int64],
]

#: (cand, ccost, rest): every point's candidate bins, their costs, and the bound on all other bins.
Cands = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


def new_cands(n: int, k: int) -> Cands:
    """Empty candidate lists of ``k`` bins and the bin of the bound (``rest = -inf``: the first bid of
    every point searches)."""
    return np.full((n, k + 1), -1, dtype=np.int64), np.full((n, k + 1), np.inf), np.full(n, -np.inf)


@nb.njit(cache=True, nogil=True)
def tree_build(price: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A min segment tree over ``price``: node ``k`` holds the least price below it and its bin."""
    B = price.shape[0]
    T = 1
    while T < B:
        T *= 2
    tree = np.full(2 * T, np.inf)
    targ = np.full(2 * T, -1, dtype=np.int64)
    for j in range(B):
        tree[T + j] = price[j]
        targ[T + j] = j
    for k in range(T - 1, 0, -1):
        a, b = 2 * k, 2 * k + 1
        if tree[b] < tree[a]:
            tree[k], targ[k] = tree[b], targ[b]
        else:
            tree[k], targ[k] = tree[a], targ[a]
    return tree, targ


@nb.njit(cache=True, nogil=True)
def _tree_set(tree: NDArray[np.float64], targ: NDArray[np.int64], j: int, v: float) -> None:
    T = tree.shape[0] // 2
    k = T + j
    tree[k] = v
    k //= 2
    while k >= 1:
        a, b = 2 * k, 2 * k + 1
        if tree[b] < tree[a]:
            tree[k], targ[k] = tree[b], targ[b]
        else:
            tree[k], targ[k] = tree[a], targ[a]
        k //= 2


@nb.njit(cache=True, nogil=True)
def _tree_min_except(tree: NDArray[np.float64], j: int) -> float:
    """The least price over every bin but ``j``: the siblings on the path from its leaf to the root."""
    T = tree.shape[0] // 2
    k = T + j
    m = np.inf
    while k > 1:
        v = tree[k ^ 1]
        if v < m:
            m = v
        k //= 2
    return m


def new_state(slots: NDArray[np.int64], p0: NDArray[np.float64], n_persons: int) -> State:
    """Every slot of bin ``j`` free at price ``p0[j]``; every person (points, then dummies) unassigned.

    ``hp``/``hh``: slot prices and holders (-1: free), bin ``j``'s heap at ``off[j]:off[j+1]``;
    ``pos``/``owner``: each person's slot and bin (-1); ``price``: each bin's cheapest slot
    (``inf`` without slots), which only rises; ``tree``/``targ``: its segment tree.
    """
    off = np.zeros(slots.size + 1, dtype=np.int64)
    np.cumsum(slots, out=off[1:])
    hp = np.repeat(np.asarray(p0, dtype=np.float64), slots)
    hh = np.full(int(off[-1]), -1, dtype=np.int64)
    pos = np.full(n_persons, -1, dtype=np.int64)
    owner = np.full(n_persons, -1, dtype=np.int64)
    price = np.where(slots > 0, p0, np.inf).astype(np.float64)
    tree, targ = tree_build(price)
    return hp, hh, off, pos, owner, price, tree, targ


@nb.njit(cache=True, nogil=True)
def _sift_down(hp: NDArray[np.float64], hh: NDArray[np.int64], pos: NDArray[np.int64], base: int, size: int, k: int = 0) -> None:
    """Restore the heap of one bin below slot ``k`` after its price rose (holders' ``pos`` follow their slots)."""
    while True:
        a = 2 * k + 1
        if a >= size:
            break
        b = a + 1
        c = b if b < size and hp[base + b] < hp[base + a] else a
        if hp[base + c] >= hp[base + k]:
            break
        hp[base + c], hp[base + k] = hp[base + k], hp[base + c]
        hh[base + c], hh[base + k] = hh[base + k], hh[base + c]
        if hh[base + k] >= 0:
            pos[hh[base + k]] = base + k
        if hh[base + c] >= 0:
            pos[hh[base + c]] = base + c
        k = c


@nb.njit(inline="always", cache=True, nogil=True)
def _seed(
    i: int, cand: NDArray[np.int64], ccost: NDArray[np.float64], price: NDArray[np.float64], vals: NDArray[np.float64],
    idx: NDArray[np.int64],
) -> None:
    """``vals``/``idx``: point ``i``'s listed bins (its ``K`` candidates and the bin of its bound) at
    ``price``, sorted: the seed of ``tree_search``, whose largest value bounds the search from the
    start (module docstring)."""
    for q in range(vals.shape[0]):
        vals[q] = np.inf
        idx[q] = -1
    for q in range(vals.shape[0]):
        j = cand[i, q]
        if j < 0 or price[j] == np.inf:
            continue
        insert_sorted(vals, idx, ccost[i, q] + price[j], j)


@nb.njit(inline="always", cache=True, nogil=True)
def _keep(i: int, points: NDArray[np.float64], idx: NDArray[np.int64], geom: Geometry, cl: Cands) -> None:
    """Point ``i``'s candidate list set to the bins ``idx`` with their costs computed again, so that
    a seed (``_seed``) re-values them to the very floats a fresh search finds (a cost read back as
    value minus price, as the bids keep it, may be off by a rounding): the exact bound needs that."""
    cand, ccost = cl[0], cl[1]
    rect_ptr, rects, euclid, power = geom[6], geom[7], geom[8], geom[9]
    for q in range(idx.shape[0]):
        j = idx[q]
        cand[i, q] = j
        ccost[i, q] = pair_cost(points[i, 0], points[i, 1], j, rect_ptr, rects, euclid, power) if j >= 0 else np.inf


@nb.njit(cache=True, nogil=True)
def _refresh(
    i: int, points: NDArray[np.float64], price: NDArray[np.float64], bd: Bounds, vals: NDArray[np.float64],
    idx: NDArray[np.int64], geom: Geometry, cl: Cands, stk: NDArray[np.int64], stv: NDArray[np.float64],
) -> None:
    """Point ``i``'s candidate list from an exact search: its ``K`` best bins, their costs, and the
    ``K+1``-th value (a lower bound on every other bin's `c_{ij} + p_j` while prices rise)."""
    cand, ccost, rest = cl
    K = cand.shape[1] - 1
    _seed(i, cand, ccost, price, vals, idx)
    tree_search(points[i, 0], points[i, 1], price, bd, vals, idx, geom, True, stk, stv)
    for q in range(K + 1):
        j = idx[q]
        cand[i, q] = j
        ccost[i, q] = vals[q] - price[j] if j >= 0 else np.inf
    rest[i] = vals[K]


@nb.njit(cache=True, nogil=True)
def _bid(
    i: int, n: int, points: NDArray[np.float64], st: State, bd: Bounds, eps: float, vals: NDArray[np.float64],
    idx: NDArray[np.int64], geom: Geometry, cl: Cands, stk: NDArray[np.int64], stv: NDArray[np.float64],
) -> tuple[int, float]:
    r"""Person ``i``'s bid: its best bin and the slot price that leaves it ``eps`` from its best other bin.

    A point reads its candidate list (module docstring): when the best candidate is no worse than the
    bound ``rest`` on all other bins, it is the exact best, and `\min(\text{second candidate},
    \text{rest})` is a lower bound `w_2' \in [w_1, w_2]` on the second value; otherwise the list is
    refreshed by an exact search.
    """
    hp, hh, off, pos, owner, price, tree, targ = st
    if i < n:
        cand, ccost, rest = cl
        K = cand.shape[1] - 1
        w1 = np.inf
        w2 = np.inf
        j = -1
        c = 0.0
        for q in range(K):
            k = cand[i, q]
            if k < 0:
                continue
            v = ccost[i, q] + price[k]
            if v < w1:
                w2 = w1
                w1 = v
                j = k
                c = ccost[i, q]
            elif v < w2:
                w2 = v
        if w1 > rest[i]:
            _refresh(i, points, price, bd, vals, idx, geom, cl, stk, stv)
            j = idx[0]
            c = vals[0] - price[j]
            w2 = vals[1]
        elif rest[i] < w2:
            w2 = rest[i]
    else:
        j = targ[1]
        c = 0.0
        w2 = _tree_min_except(tree, j)
    return j, (w2 - c if w2 < np.inf else price[j]) + eps


@nb.njit(cache=True, nogil=True)
def _lift(j: int, n: int, points: NDArray[np.float64], st: State, eps: float, geom: Geometry, cl: Cands) -> None:
    r"""Raise the cheapest slots of bin ``j`` to what their holders would bid now.

    A slot's price is its holder's bid when it was made, `t_h = \min_{k \ne j} (c_{hk} + p_k) +
    \varepsilon - c_{hj}` at the prices of then; other bins' prices only rise since, so `t_h` only
    grows. Before a bid displaces the holder of the cheapest slot, that holder's `t_h` is computed
    again, from below (its candidate list and its bound ``rest``, no search): when it has risen by
    at least `\varepsilon` (as a bid would raise it: smaller rises could go on without end), the
    slot takes it and the heap is restored, and so on until the cheapest slot's price stands. The
    holder would otherwise be displaced and bid for the same bin again, at that price (measured at
    100k points: 64 % of all bids were such re-bids). Every holder stays `\varepsilon`-satisfied at
    the bin's price (``hp <= t_h``), and prices only rise."""
    hp, hh, off, pos, owner, price, tree, targ = st
    cand, ccost, rest = cl
    rect_ptr, rects, euclid, power = geom[6], geom[7], geom[8], geom[9]
    K = cand.shape[1] - 1
    base = off[j]
    size = off[j + 1] - base
    while True:
        d = hh[base]
        if d < 0:
            break
        if d < n:
            m = rest[d]
            for q in range(K):
                k = cand[d, q]
                if k >= 0 and k != j:
                    v = ccost[d, q] + price[k]
                    if v < m:
                        m = v
            t = m + eps - pair_cost(points[d, 0], points[d, 1], j, rect_ptr, rects, euclid, power)
        else:
            t = _tree_min_except(tree, j) + eps
        if not (t >= hp[base] + eps and t > hp[base]):
            break
        hp[base] = t
        _sift_down(hp, hh, pos, base, size)
    if hp[base] != price[j]:
        price[j] = hp[base]
        _tree_set(tree, targ, j, hp[base])


@nb.njit(cache=True, nogil=True)
def _take(i: int, j: int, b: float, st: State) -> int:
    """Person ``i`` takes the cheapest slot of bin ``j`` at price ``b``; returns whom it displaced (-1: nobody)."""
    hp, hh, off, pos, owner, price, tree, targ = st
    base = off[j]
    d = hh[base]
    old = hp[base]
    hp[base] = b
    hh[base] = i
    pos[i] = base
    owner[i] = j
    _sift_down(hp, hh, pos, base, off[j + 1] - base)
    if d >= 0:
        owner[d] = -1
        pos[d] = -1
    new = hp[base]
    if new != old:
        # the bin's price rises; the planes under the prices stay valid (``_relocation_tree``)
        price[j] = new
        _tree_set(tree, targ, j, new)
    return d


@nb.njit(inline="always", cache=True, nogil=True)
def _apply(i: int, j: int, b: float, st: State, queue: NDArray[np.int64], qlen: int) -> int:
    """Person ``i`` takes a slot of bin ``j`` at ``b``; whom it displaced joins the queue (its new length)."""
    d = _take(i, j, b, st)
    if d >= 0:
        queue[qlen] = d
        qlen += 1
    return qlen


@nb.njit(inline="always", cache=True, nogil=True)
def _settle(
    i: int, n: int, j: int, b: float, ok: bool, points: NDArray[np.float64], st: State, bd: Bounds, eps: float,
    vals: NDArray[np.float64], idx: NDArray[np.int64], geom: Geometry, cl: Cands, stk: NDArray[np.int64],
    stv: NDArray[np.float64],
) -> tuple[int, float]:
    """Person ``i``'s bid ``(j, b)`` made good: made again at the current prices unless ``ok``, and
    again whenever lifting the bin's cheapest slots (``_lift``) raised its price above what the bid
    clears by ``eps`` (a fresh bid clears its own price by ``eps`` up to a rounding, so it stands
    when the lift changed nothing)."""
    hp, off = st[0], st[2]
    while True:
        if not ok:
            j, b = _bid(i, n, points, st, bd, eps, vals, idx, geom, cl, stk, stv)
        before = hp[off[j]]
        _lift(j, n, points, st, eps, geom, cl)
        if hp[off[j]] == before or b >= hp[off[j]] + eps:
            return j, b
        ok = False


@nb.njit(inline="always", cache=True, nogil=True)
def refit_every(chunk: int, bins: int) -> int:
    """Bids between two fits of the planes: a fit reads every bin once per level of the tree, so on
    large grids it waits longer (every ``chunk`` bids up to 8,192 bins, ``bins / 8`` above)."""
    return max(chunk, bins // 8)


@nb.njit(cache=True, nogil=True)
def run_serial(
    points: NDArray[np.float64], st: State, bd: Bounds, queue: NDArray[np.int64], qlen: int, eps: float, max_bids: int,
    geom: Geometry, cl: Cands, chunk: int,
) -> tuple[int, int]:
    """Gauss-Seidel bidding: each bid against the current prices (the planes refitted every
    ``refit_every(chunk, bins)`` bids)."""
    n = points.shape[0]
    vals = np.empty(cl[0].shape[1])
    idx = np.empty(cl[0].shape[1], dtype=np.int64)
    ss = stack_size(bd)
    stk = np.empty(ss, dtype=np.int64)
    stv = np.empty(ss)
    every = refit_every(chunk, st[5].shape[0])
    bids = 0
    while qlen > 0 and bids < max_bids:
        if bids % every == 0:
            fit_bounds(st[5], geom, bd)
        qlen -= 1
        i = queue[qlen]
        j, b = _settle(i, n, -1, 0.0, False, points, st, bd, eps, vals, idx, geom, cl, stk, stv)
        qlen = _apply(i, j, b, st, queue, qlen)
        bids += 1
    return qlen, bids


@nb.njit(parallel=True, cache=True, nogil=True)
def run_parallel(
    points: NDArray[np.float64], st: State, bd: Bounds, queue: NDArray[np.int64], qlen: int, eps: float, max_bids: int,
    geom: Geometry, cl: Cands, chunk: int,
) -> tuple[int, int]:
    r"""Bids in chunks: the bids of ``chunk`` persons computed in parallel against the same prices,
    then applied one at a time. A bid computed against prices that have since risen is applied when
    it still clears the bin's cheapest slot by ``eps`` (its bidder is then still
    `\varepsilon`-satisfied: every other bin's price only rose, so its second value only rose), and
    made again against the current prices otherwise; dummies always bid at the current prices (they
    all want the cheapest bin). Every applied bid is thus a valid Gauss-Seidel bid. The planes are
    refitted every ``refit_every(chunk, bins)`` bids.
    """
    n = points.shape[0]
    k1 = cl[0].shape[1]
    hp, off = st[0], st[2]
    ss = stack_size(bd)
    who = np.empty(chunk, dtype=np.int64)
    jb = np.empty(chunk, dtype=np.int64)
    bb = np.empty(chunk)
    vv = np.empty((chunk, k1))
    ii = np.empty((chunk, k1), dtype=np.int64)
    sk = np.empty((chunk, ss), dtype=np.int64)
    sv = np.empty((chunk, ss))
    vals = np.empty(k1)
    idx = np.empty(k1, dtype=np.int64)
    bids = 0
    every = refit_every(chunk, st[5].shape[0])
    fitted = -every
    while qlen > 0 and bids < max_bids:
        if bids - fitted >= every:
            # not before every chunk: late in a phase a chunk may hold a single displaced person
            fit_bounds(st[5], geom, bd)
            fitted = bids
        m = min(chunk, qlen)
        for t in range(m):
            who[t] = queue[qlen - 1 - t]
        qlen -= m
        for t in nb.prange(m):
            i = who[t]
            if i < n:
                j, b = _bid(i, n, points, st, bd, eps, vv[t], ii[t], geom, cl, sk[t], sv[t])
                jb[t] = j
                bb[t] = b
            else:
                jb[t] = -1
        for t in range(m):
            i = who[t]
            j = jb[t]
            b = bb[t]
            j, b = _settle(i, n, j, b, j >= 0 and b >= hp[off[j]] + eps, points, st, bd, eps, vals, idx, geom, cl, sk[0], sv[0])
            qlen = _apply(i, j, b, st, queue, qlen)
            bids += 1
    return qlen, bids


@nb.njit(parallel=True, cache=True, nogil=True)
def release_unsatisfied(
    points: NDArray[np.float64], st: State, bd: Bounds, queue: NDArray[np.int64], eps: float, geom: Geometry, cl: Cands,
    best: NDArray[np.float64], known: bool,
) -> int:
    r"""Unassign every person not `\varepsilon`-satisfied (the start of a phase); returns the queue length.

    Point `i` in bin `j` is satisfied when `c_{ij} + p_j \le \min_k (c_{ik} + p_k) + \varepsilon` (the bin's
    price, module docstring), a dummy when `p_j \le \min_k p_k + \varepsilon`; a satisfied person's slot
    is lowered to `\min(b, \min_k (c_{ik} + p_k) + \varepsilon - c_{ij}) \ge p_j`, a released one's to
    `p_j`, and every bin's heap is rebuilt. With ``known``,
    ``best[i]`` is `\min_k (c_{ik} + \psi_k)` at the current prices (``evaluate``), so no search is made.
    """
    hp, hh, off, pos, owner, price, tree, targ = st
    n = points.shape[0]
    N = owner.shape[0]
    rect_ptr, rects, euclid, power = geom[6], geom[7], geom[8], geom[9]
    bad = np.zeros(N, dtype=np.bool_)
    psimin = tree[1]
    if not known:
        fit_bounds(price, geom, bd)
    ss = stack_size(bd)
    for i in nb.prange(N):
        if owner[i] < 0:
            bad[i] = True
            continue
        paid = hp[pos[i]]
        if i >= n:
            bad[i] = price[owner[i]] > psimin + eps
            if not bad[i]:
                hp[pos[i]] = min(paid, psimin + eps)
            continue
        if known:
            b0 = best[i] + psimin
        else:
            v = np.empty(cl[0].shape[1])
            k = np.empty(cl[0].shape[1], dtype=np.int64)
            _refresh(i, points, price, bd, v, k, geom, cl, np.empty(ss, dtype=np.int64), np.empty(ss))
            b0 = v[0]
        c = pair_cost(points[i, 0], points[i, 1], owner[i], rect_ptr, rects, euclid, power)
        # satisfied at the bin's price: kept, its slot lowered to what leaves it eps-satisfied (never
        # below the bin's price, so that no other person's values change)
        bad[i] = c + price[owner[i]] > b0 + eps
        if not bad[i]:
            hp[pos[i]] = min(paid, b0 + eps - c)
    qlen = 0
    for i in range(N):
        if bad[i]:
            if owner[i] >= 0:
                # the freed slot at the bin's price: the next bid for the bin takes it, ending a chain
                hp[pos[i]] = price[owner[i]]
                hh[pos[i]] = -1
                owner[i] = -1
                pos[i] = -1
            queue[qlen] = i
            qlen += 1
    # lowered slots: restore every bin's heap (its least price, the bin's, is unchanged)
    for j in nb.prange(off.shape[0] - 1):
        size = off[j + 1] - off[j]
        for top in range(size // 2 - 1, -1, -1):
            _sift_down(hp, hh, pos, off[j], size, top)
    return qlen


@nb.njit(parallel=True, cache=True, nogil=True)
def evaluate(
    points: NDArray[np.float64], psi: NDArray[np.float64], shift: float, bd: Bounds, geom: Geometry, cl: Cands,
    best: NDArray[np.float64],
) -> None:
    r"""One exact search per point at the shifted prices ``psi`` (``inf`` on bins without slots): ``best[i]``
    `= \min_j (c_{ij} + \psi_j)` (the terms of `D(\psi)`, the same floats as ``best_bins``), and
    fresh candidate lists in the auction's prices `p = \psi + ` ``shift``. The next phase's check
    (``release_unsatisfied(known=True)``) reads ``best`` instead of searching again. The planes of
    ``bd`` are refitted under ``psi`` first.
    """
    cand, ccost, rest = cl
    n = points.shape[0]
    K = cand.shape[1] - 1
    fit_bounds(psi, geom, bd)
    ss = stack_size(bd)
    for i in nb.prange(n):
        v = np.empty(K + 1)
        k = np.empty(K + 1, dtype=np.int64)
        _keep(i, points, cand[i], geom, cl)  # exact costs, so that the seed's values are a fresh search's
        _seed(i, cand, ccost, psi, v, k)
        tree_search(points[i, 0], points[i, 1], psi, bd, v, k, geom, True, np.empty(ss, dtype=np.int64), np.empty(ss))
        best[i] = v[0]
        _keep(i, points, k, geom, cl)
        rest[i] = v[K] + shift
