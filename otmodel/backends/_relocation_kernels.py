r"""Compiled loops of the relocation backend: dual prices from a flow, greedy placement, final positions.

Prices from an optimal restricted flow (``prices_from_flow``). For the transportation problem
with capacitated bins, `\psi \ge 0` certifies a flow optimal over its columns when every
column `(i,k)` of a point `i` that sends flow to bin `j` has
`c_{ij} + \psi_j \le c_{ik} + \psi_k`, and `\psi_j = 0` on bins that are not full. With
`\phi = -\psi` these are difference constraints `\phi_k - \phi_j \le c_{ik} - c_{ij}`
(an arc `j \to k`), `\phi_j \le 0` (an arc from a virtual node ``v`` with
`\phi_v = 0`), `\phi_j \ge 0` on bins not full (arc `j \to v`); the shortest
distances from ``v`` (Bellman-Ford with a queue) are the smallest such prices. An overflow arc
(bin to sink, penalty `P`) adds `\phi_j \ge -P`, and `\phi_j \le -P` where it
carries flow. The network is over bins only (points are contracted into the arcs between their
bins), so the search costs `O(\text{passes} \times \text{columns})`.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

from otmodel.model._relocation_kernels import nearest_free_point, pair_cost

__all__ = ["prices_from_flow", "greedy_nearest", "final_positions", "bin_loads"]



@nb.njit(cache=True, nogil=True)
def prices_from_flow(
    n_bins: int,
    pair_ptr: NDArray[np.int64],
    pair_point: NDArray[np.int64],
    pair_cost_: NDArray[np.float64],
    cols: NDArray[np.int64],
    col_cost: NDArray[np.float64],
    full: NDArray[np.bool_],
    overflow: NDArray[np.bool_],
    penalty: float,
    d: NDArray[np.float64],
    max_passes: int,
) -> bool:
    """Shortest distances `\\phi` in place in ``d`` (start: ``d <= 0``); False on a negative cycle.

    ``pair_ptr`` (n_bins + 1) groups the (point, bin) pairs that carry flow by bin: pair ``q`` in
    bin ``j`` is point ``pair_point[q]`` at cost ``pair_cost_[q]``. ``cols[i]`` (padded with -1)
    are the columns of point ``i`` with costs ``col_cost[i]``. A stop after ``max_passes`` passes
    over all nodes without settling also returns False.
    """
    queue = np.empty(n_bins, dtype=np.int64)
    inq = np.zeros(n_bins, dtype=np.bool_)
    head = 0
    tail = 0
    count = 0
    for j in range(n_bins):
        if d[j] > 0.0:
            d[j] = 0.0
        if overflow[j] and d[j] > -penalty:
            d[j] = -penalty
        if d[j] < -penalty:
            d[j] = -penalty
        if pair_ptr[j + 1] > pair_ptr[j]:
            queue[tail] = j
            tail = (tail + 1) % n_bins
            inq[j] = True
            count += 1
    limit = max_passes * max(1, n_bins)
    pops = 0
    W = cols.shape[1]
    while count > 0:
        j = queue[head]
        head = (head + 1) % n_bins
        count -= 1
        inq[j] = False
        pops += 1
        if pops > limit:
            return False
        dj = d[j]
        for q in range(pair_ptr[j], pair_ptr[j + 1]):
            i = pair_point[q]
            base = dj - pair_cost_[q]
            for w in range(W):
                k = cols[i, w]
                if k < 0 or k == j:
                    continue
                nd = base + col_cost[i, w]
                if nd < d[k]:
                    if nd < -penalty or (not full[k] and nd < 0.0):
                        return False  # the edge to v closes a negative cycle
                    d[k] = nd
                    if not inq[k] and pair_ptr[k + 1] > pair_ptr[k]:
                        inq[k] = True
                        queue[tail] = k
                        tail = (tail + 1) % n_bins
                        count += 1
    return True


@nb.njit(cache=True, nogil=True)
def greedy_nearest(
    points: NDArray[np.float64],
    bin_ij: NDArray[np.int64],
    order: NDArray[np.int64],
    slots: NDArray[np.int64],
    xmin: float,
    ymin: float,
    w: float,
    h: float,
    mx: int,
    my: int,
    rect_ptr: NDArray[np.int64],
    rects: NDArray[np.float64],
    euclid: bool,
    power: int,
) -> NDArray[np.int64]:
    """Greedy nearest-free-bin: points in ``order``, each to its cheapest bin with room left.

    Points already in a free bin with room keep it first (a first pass), then the others search
    rings outward for the cheapest bin with room (exact within the remaining bins).
    """
    n = points.shape[0]
    left = slots.copy()
    out = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        i = order[t]
        j = bin_ij[i, 0] * my + bin_ij[i, 1]
        if left[j] > 0 and pair_cost(points[i, 0], points[i, 1], j, rect_ptr, rects, euclid, power) == 0.0:
            out[i] = j
            left[j] -= 1
    for t in range(n):
        i = order[t]
        if out[i] >= 0:
            continue
        px, py = points[i, 0], points[i, 1]
        bx, by = bin_ij[i, 0], bin_ij[i, 1]
        best = np.inf
        bj = -1
        for r in range(max(mx, my) + 1):
            if r > 0:
                lb = np.inf
                if bx - r >= 0:
                    lb = min(lb, px - (xmin + (bx - r + 1) * w))
                if bx + r < mx:
                    lb = min(lb, xmin + (bx + r) * w - px)
                if by - r >= 0:
                    lb = min(lb, py - (ymin + (by - r + 1) * h))
                if by + r < my:
                    lb = min(lb, ymin + (by + r) * h - py)
                if lb == np.inf:
                    break
                lb = max(lb, 0.0)
                if (lb * lb if power == 2 else lb) >= best:
                    break
            # the ring of Chebyshev radius r: rows by - r and by + r, then columns bx - r and bx + r
            ix = 0
            iy = 0
            for side in range(4):
                if side < 2:
                    iy = by - r if side == 0 else by + r
                    if iy < 0 or iy >= my or (side == 1 and r == 0):
                        continue
                    lo, hi = max(0, bx - r), min(mx - 1, bx + r)
                else:
                    ix = bx - r if side == 2 else bx + r
                    if r == 0 or ix < 0 or ix >= mx:
                        continue
                    lo, hi = max(0, by - r + 1), min(my - 1, by + r - 1)
                for t2 in range(lo, hi + 1):
                    j = t2 * my + iy if side < 2 else ix * my + t2
                    if left[j] <= 0:
                        continue
                    c = pair_cost(px, py, j, rect_ptr, rects, euclid, power)
                    if c < best:
                        best = c
                        bj = j
        out[i] = bj
        left[bj] -= 1
    return out


@nb.njit(parallel=True, cache=True, nogil=True)
def final_positions(
    points: NDArray[np.float64],
    flat: NDArray[np.int64],
    rect_ptr: NDArray[np.int64],
    rects: NDArray[np.float64],
    euclid: bool,
    power: int,
) -> NDArray[np.float64]:
    """Each point moved to the nearest free point of its bin."""
    n = points.shape[0]
    out = np.empty((n, 2))
    for i in nb.prange(n):
        qx, qy = nearest_free_point(points[i, 0], points[i, 1], flat[i], rect_ptr, rects, euclid, power)
        out[i, 0] = qx
        out[i, 1] = qy
    return out


def bin_loads(flat: NDArray[np.int64], n_bins: int) -> NDArray[np.int64]:
    return np.bincount(flat, minlength=n_bins).astype(np.int64)
