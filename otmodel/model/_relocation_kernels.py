r"""Compiled geometry of ``RelocationProblem``: costs and ring searches.

Shared by the relocation backend (pricing, candidate bins) and the validation module (the exact dual
bound), so that both evaluate `c_{ij}` by one definition.

Geometry arguments (``geom``, from ``RelocationProblem.kernel_args``): ``xmin, ymin, w, h, mx, my,
rect_ptr, rects, euclid, power``; the free part of flat bin ``j`` is the union of rectangles
``rects[rect_ptr[j]:rect_ptr[j+1]]`` (rows ``x0, x1, y0, y1``).

Ring search. For a point in bin `(b_x, b_y)`, the bins at Chebyshev index distance `r`
lie outside the box of bins of radius `r-1` around it, so every one of them is at distance at
least `g_r` = the gap from the point to that box's boundary, in both metrics (a coordinate gap
never exceeds the Euclidean or the Manhattan distance). With prices `\psi \ge \psi_{\min}`,
no bin of ring `r` or beyond has `c_{ij} + \psi_j < g_r^p + \psi_{\min}`: the search stops at
the first ring whose bound reaches the `K`-th best value found, and the minimum is exact over
all bins.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

__all__ = ["pair_costs", "best_bins", "topk_bins", "pair_cost", "nearest_free_point"]



@nb.njit(inline="always", cache=True, nogil=True)
def _rect_cost(px: float, py: float, x0: float, x1: float, y0: float, y1: float, euclid: bool, power: int) -> float:
    dx = 0.0
    if px < x0:
        dx = x0 - px
    elif px > x1:
        dx = px - x1
    dy = 0.0
    if py < y0:
        dy = y0 - py
    elif py > y1:
        dy = py - y1
    if euclid:
        s = dx * dx + dy * dy
        return s if power == 2 else math.sqrt(s)
    d = dx + dy
    return d * d if power == 2 else d


@nb.njit(cache=True, nogil=True)
def pair_cost(
    px: float, py: float, j: int, rect_ptr: NDArray[np.int64], rects: NDArray[np.float64], euclid: bool, power: int
) -> float:
    """Cost from ``(px, py)`` to the nearest free point of flat bin ``j`` (``inf`` when none is free)."""
    best = np.inf
    for r in range(rect_ptr[j], rect_ptr[j + 1]):
        c = _rect_cost(px, py, rects[r, 0], rects[r, 1], rects[r, 2], rects[r, 3], euclid, power)
        if c < best:
            best = c
    return best


@nb.njit(parallel=True, cache=True, nogil=True)
def pair_costs(
    points: NDArray[np.float64],
    i: NDArray[np.int64],
    j: NDArray[np.int64],
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
) -> NDArray[np.float64]:
    out = np.empty(i.shape[0])
    for k in nb.prange(i.shape[0]):
        out[k] = pair_cost(points[i[k], 0], points[i[k], 1], j[k], rect_ptr, rects, euclid, power)
    return out


@nb.njit(cache=True, nogil=True)
def nearest_free_point(
    px: float, py: float, j: int, rect_ptr: NDArray[np.int64], rects: NDArray[np.float64], euclid: bool, power: int
) -> tuple[float, float]:
    """The nearest free point of bin ``j`` to ``(px, py)`` (clipped into its nearest free rectangle)."""
    best = np.inf
    qx, qy = px, py
    for r in range(rect_ptr[j], rect_ptr[j + 1]):
        x0, x1, y0, y1 = rects[r, 0], rects[r, 1], rects[r, 2], rects[r, 3]
        c = _rect_cost(px, py, x0, x1, y0, y1, euclid, power)
        if c < best:
            best = c
            qx = min(max(px, x0), x1)
            qy = min(max(py, y0), y1)
    return qx, qy


@nb.njit(cache=True, nogil=True)
def _search(
    px: float,
    py: float,
    bx: int,
    by: int,
    psi: NDArray[np.float64],
    slots: NDArray[np.int64],
    psimin: float,
    vals: NDArray[np.float64],
    idx: NDArray[np.int64],
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
) -> None:
    """The ``K = len(vals)`` smallest `c_{ij} + \\psi_j` over bins with slots, sorted (exact)."""
    K = vals.shape[0]
    for q in range(K):
        vals[q] = np.inf
        idx[q] = -1
    rmax = max(mx, my)
    for r in range(rmax + 1):
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
            if lb < 0.0:
                lb = 0.0
            bound = (lb * lb if power == 2 else lb) + psimin
            if bound >= vals[K - 1]:
                break
        if r == 0:
            _consider(px, py, bx * my + by, psi, slots, vals, idx, rect_ptr, rects, euclid, power)
            continue
        for iy in (by - r, by + r):
            if 0 <= iy < my:
                for ix in range(max(0, bx - r), min(mx - 1, bx + r) + 1):
                    _consider(px, py, ix * my + iy, psi, slots, vals, idx, rect_ptr, rects, euclid, power)
        for ix in (bx - r, bx + r):
            if 0 <= ix < mx:
                for iy in range(max(0, by - r + 1), min(my - 1, by + r - 1) + 1):
                    _consider(px, py, ix * my + iy, psi, slots, vals, idx, rect_ptr, rects, euclid, power)


@nb.njit(inline="always", cache=True, nogil=True)
def _consider(
    px: float,
    py: float,
    j: int,
    psi: NDArray[np.float64],
    slots: NDArray[np.int64],
    vals: NDArray[np.float64],
    idx: NDArray[np.int64],
    rect_ptr: NDArray[np.int64],
    rects: NDArray[np.float64],
    euclid: bool,
    power: int,
) -> None:
    if slots[j] <= 0:
        return
    K = vals.shape[0]
    v = pair_cost(px, py, j, rect_ptr, rects, euclid, power) + psi[j]
    if v < vals[K - 1]:
        q = K - 1
        while q > 0 and vals[q - 1] > v:
            vals[q] = vals[q - 1]
            idx[q] = idx[q - 1]
            q -= 1
        vals[q] = v
        idx[q] = j


@nb.njit(parallel=True, cache=True, nogil=True)
def topk_bins(
    points: NDArray[np.float64],
    bin_ij: NDArray[np.int64],
    psi: NDArray[np.float64],
    slots: NDArray[np.int64],
    K: int,
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
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """For every point, its ``K`` bins of smallest `c_{ij} + \\psi_j` (exact over all bins), sorted."""
    n = points.shape[0]
    vals = np.empty((n, K))
    idx = np.empty((n, K), dtype=np.int64)
    psimin = np.inf
    for j in range(psi.shape[0]):
        if slots[j] > 0 and psi[j] < psimin:
            psimin = psi[j]
    for i in nb.prange(n):
        _search(
            points[i, 0], points[i, 1], bin_ij[i, 0], bin_ij[i, 1], psi, slots, psimin, vals[i], idx[i],
            xmin, ymin, w, h, mx, my, rect_ptr, rects, euclid, power,
        )
    return vals, idx


def best_bins(
    points: NDArray[np.float64],
    bin_ij: NDArray[np.int64],
    psi: NDArray[np.float64],
    slots: NDArray[np.int64] | Any,
    *geom: Any,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    r"""`\min_j (c_{ij} + \psi_j)` over bins with slots and its argmin, for every point (exact)."""
    vals, idx = topk_bins(points, bin_ij, psi, slots, 1, *geom)
    return vals[:, 0], idx[:, 0]
