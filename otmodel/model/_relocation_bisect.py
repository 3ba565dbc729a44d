r"""The two heuristic placements of a relocation problem, compiled: recursive bisection (the seed's
geometric heuristic) and greedy nearest free bin (a quadtree of the bins' free room).

In the model layer so that both the heuristic backends (``relocation-bisection``,
``relocation-greedy``) and the exact backend ``relocation`` (which keeps the better of its own
placement and these when its time runs out) use them.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as RK

__all__ = ["bisection", "greedy"]


def bisection(P: Any) -> NDArray[np.int64]:
    """Recursive bisection: split the bins of a block in two halves (alternating x and y, the longer
    side first when one is a single bin), and the block's points at the capacity-weighted median.

    The block's points go to the two halves in proportion to their capacities (``k`` of ``n`` to the
    first, rounded, and clipped so that neither half gets more than it holds); the ``k`` with the
    smallest coordinate along the cut go to the lower half (a selection, not a sort). Compiled: at 1M
    points / 256 x 256 bins the numpy version (one ``argpartition`` per block, 131k blocks) took 1.8 s.
    """
    mx, my = P.bins
    slots = np.asarray(P.slots, dtype=np.int64).reshape(mx, my)
    cum = np.zeros((mx + 1, my + 1), dtype=np.int64)
    cum[1:, 1:] = slots.cumsum(0).cumsum(1)
    return _bisect(np.ascontiguousarray(P.points, dtype=np.float64), cum, mx, my)  # type: ignore[no-any-return]


@nb.njit(cache=True, nogil=True)
def _select(perm: NDArray[np.int64], kx: NDArray[np.float64], ky: NDArray[np.float64], lo: int, hi: int, k: int, axis: int) -> None:
    """Reorder ``perm[lo:hi]`` (and the coordinates ``kx``, ``ky`` with it) so that its first ``k``
    entries have the ``k`` smallest coordinates along ``axis`` (Hoare's selection).

    The coordinates travel with the permutation so that the selection reads memory in order: reading
    ``xy[perm[i]]`` instead (random access over 1M points) was twice as slow as numpy's argpartition.
    """
    key = kx if axis == 0 else ky
    target = lo + k  # the boundary: key[lo:target] <= key[target:hi]
    while hi - lo > 1 and lo < target < hi:
        mid = (lo + hi) // 2
        a, b, c = key[lo], key[mid], key[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))  # median of three
        i, j = lo, hi - 1
        while i <= j:
            while key[i] < pivot:
                i += 1
            while key[j] > pivot:
                j -= 1
            if i <= j:
                perm[i], perm[j] = perm[j], perm[i]
                kx[i], kx[j] = kx[j], kx[i]
                ky[i], ky[j] = ky[j], ky[i]
                i += 1
                j -= 1
        # now key[lo:j+1] <= pivot <= key[i:hi], and j < i
        if target <= j:
            hi = j + 1
        elif target >= i:
            lo = i
        else:
            return


@nb.njit(inline="always", cache=True, nogil=True)
def _push(st: NDArray[np.int64], r: int, x0: int, x1: int, y0: int, y1: int, s: int, e: int, depth: int) -> None:
    st[r, 0] = x0
    st[r, 1] = x1
    st[r, 2] = y0
    st[r, 3] = y1
    st[r, 4] = s
    st[r, 5] = e
    st[r, 6] = depth


@nb.njit(cache=True, nogil=True)
def _bisect(xy: NDArray[np.float64], cum: NDArray[np.int64], mx: int, my: int) -> NDArray[np.int64]:
    n = xy.shape[0]
    perm = np.arange(n)
    out = np.empty(n, dtype=np.int64)
    kx = xy[:, 0].copy()
    ky = xy[:, 1].copy()
    # explicit stack of blocks: (x0, x1, y0, y1, start, end, depth); depth-first, at most 2 per level
    cap = 4 * (int(np.log2(max(mx, my) + 1)) + 2) * 2 + 8
    st = np.empty((cap, 7), dtype=np.int64)
    _push(st, 0, 0, mx, 0, my, 0, n, 0)
    top = 1
    while top > 0:
        top -= 1
        x0, x1, y0, y1, s, e, depth = st[top, 0], st[top, 1], st[top, 2], st[top, 3], st[top, 4], st[top, 5], st[top, 6]
        if x1 - x0 == 1 and y1 - y0 == 1:
            for t in range(s, e):
                out[perm[t]] = x0 * my + y0
            continue
        axis = depth % 2
        if x1 - x0 == 1:
            axis = 1
        elif y1 - y0 == 1:
            axis = 0
        if axis == 0:
            mid = (x0 + x1) // 2
            a0, a1, a2, a3 = x0, mid, y0, y1
            b0, b1, b2, b3 = mid, x1, y0, y1
        else:
            mid = (y0 + y1) // 2
            a0, a1, a2, a3 = x0, x1, y0, mid
            b0, b1, b2, b3 = x0, x1, mid, y1
        ca = cum[a1, a3] - cum[a0, a3] - cum[a1, a2] + cum[a0, a2]
        cb = cum[b1, b3] - cum[b0, b3] - cum[b1, b2] + cum[b0, b2]
        m = e - s
        k = int(np.floor(m * ca / max(ca + cb, 1) + 0.5))
        k = min(max(k, m - cb), ca)
        k = min(max(k, 0), m)
        if 0 < k < m:
            _select(perm, kx, ky, s, e, k, axis)
        _push(st, top, a0, a1, a2, a3, s, s + k, depth + 1)
        _push(st, top + 1, b0, b1, b2, b3, s + k, e, depth + 1)
        top += 2
    return out


def greedy(P: Any, order: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    """Greedy nearest free bin: points in ``order`` (default: index order), each to its cheapest bin
    with room left, its own bin first (``_greedy_tree``)."""
    if order is None:
        order = np.arange(P.n_points, dtype=np.int64)
    geom = RK.geometry(*P.kernel_args())
    return _greedy_tree(P.points, P.bin_index(P.points), np.ascontiguousarray(order, dtype=np.int64),
                        np.ascontiguousarray(P.slots, dtype=np.int64), geom)  # type: ignore[no-any-return]


@nb.njit(cache=True, nogil=True)
def _greedy_tree(
    points: NDArray[np.float64], bin_ij: NDArray[np.int64], order: NDArray[np.int64], slots: NDArray[np.int64],
    geom: RK.Geometry,
) -> NDArray[np.int64]:
    r"""Greedy nearest free bin, the search in a quadtree of the bins' free room.

    First pass: every point whose own bin is free at its position keeps it while the bin has room.
    Second pass, points in ``order``: the cheapest bin with room left, exact over all bins, by a
    branch-and-bound descent of a quadtree over the grid (padded to `2^L \times 2^L` bins) whose
    nodes count the room left below them: a node with no room is skipped, so is one whose rectangle
    is already as far as the best bin found (the free parts of its bins lie inside it, and the
    distance to a rectangle is a lower bound in both metrics); children are visited nearest first.
    Why a tree: the points that move are those of crowded regions whose bins are all full, and the
    nearest bin with room is far (at 1M points / 256 x 256 bins, 597k points moved, a median of 56
    bins away); a ring search over bins visited the whole full disc (86 s), rings of 8 x 8 blocks
    still 13 s.
    """
    xmin, ymin, w, h, mx, my, rect_ptr, rects, euclid, power = geom
    n = points.shape[0]
    L = 0
    while (1 << L) < max(mx, my):
        L += 1
    off = np.zeros(L + 2, dtype=np.int64)  # node (l, X, Y) is off[l] + X * 2^l + Y
    for lev in range(L + 1):
        off[lev + 1] = off[lev] + (1 << lev) * (1 << lev)
    left = slots.copy()
    out = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        i = order[t]
        j = bin_ij[i, 0] * my + bin_ij[i, 1]
        if left[j] > 0 and RK.pair_cost(points[i, 0], points[i, 1], j, rect_ptr, rects, euclid, power) == 0.0:
            out[i] = j
            left[j] -= 1
    room = np.zeros(off[L + 1], dtype=np.int64)
    for ix in range(mx):
        for iy in range(my):
            if left[ix * my + iy] > 0:
                for lev in range(L + 1):
                    sh = L - lev
                    room[off[lev] + (ix >> sh) * (1 << lev) + (iy >> sh)] += left[ix * my + iy]
    st_l = np.empty(4 * (L + 1) + 1, dtype=np.int64)
    st_x = np.empty_like(st_l)
    st_y = np.empty_like(st_l)
    ch_lb = np.empty(4)
    ch_k = np.empty(4, dtype=np.int64)
    for t in range(n):
        i = order[t]
        if out[i] >= 0:
            continue
        px, py = points[i, 0], points[i, 1]
        best = np.inf
        bj = -1
        top = 0
        st_l[0] = 0
        st_x[0] = 0
        st_y[0] = 0
        top = 1
        while top > 0:
            top -= 1
            lev, X, Y = st_l[top], st_x[top], st_y[top]
            if lev == L:
                j = X * my + Y
                c = RK.pair_cost(px, py, j, rect_ptr, rects, euclid, power)
                if c < best:
                    best = c
                    bj = j
                continue
            # the four children with room and a chance to beat ``best``, pushed farthest first
            sh = L - lev - 1
            nc = 0
            for k in range(4):
                cx, cy = 2 * X + (k >> 1), 2 * Y + (k & 1)
                if room[off[lev + 1] + cx * (1 << (lev + 1)) + cy] <= 0:
                    continue
                x0, y0 = cx << sh, cy << sh
                lb = RK._box_cost(px, py, xmin + x0 * w, xmin + min(x0 + (1 << sh), mx) * w,
                               ymin + y0 * h, ymin + min(y0 + (1 << sh), my) * h, euclid, power)
                if lb >= best:
                    continue
                q = nc
                while q > 0 and ch_lb[q - 1] < lb:
                    ch_lb[q] = ch_lb[q - 1]
                    ch_k[q] = ch_k[q - 1]
                    q -= 1
                ch_lb[q] = lb
                ch_k[q] = k
                nc += 1
            for q in range(nc):
                st_l[top] = lev + 1
                st_x[top] = 2 * X + (ch_k[q] >> 1)
                st_y[top] = 2 * Y + (ch_k[q] & 1)
                top += 1
        out[i] = bj
        left[bj] -= 1
        bx, by = bj // my, bj % my
        for lev in range(L + 1):
            sh = L - lev
            room[off[lev] + (bx >> sh) * (1 << lev) + (by >> sh)] -= 1
    return out
