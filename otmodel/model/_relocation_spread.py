r"""Final positions of a relocation: the nearest free point of each bin, or spread over the bin.

An assignment `b(i)` of points to bins (the output of every relocation backend) fixes the cost
`m \sum_i c_{i,b(i)}` with `c_{ij} = d(x_i, F_j)^p` (module ``otmodel.model.relocation``), and
the positions that achieve it: each point at the nearest free point of its bin. Many points that
enter a bin from one side then sit on the same edge, on top of one another. Seed ``001``'s last
answer spreads them "independently on each coordinate within a region"; ``place_points(...,
spread=True)`` does that inside each bin's *free* part `F_j` (the bin minus the open exclusion
rectangles, as the disjoint rectangles of ``RelocationProblem.rects``):

1. The free part is a stack of *bands* (the rectangles with the same y-interval, left to right in
   their band; bands bottom to top). The `k` points of the bin, sorted by `y` (ties by index),
   go to the bands in that order, band `b` taking its share `k a_b / A` of the points (`a_b` its
   area, `A` the free area; the shares are rounded along their cumulative sum so they add up to
   `k`).
2. In a band of height `[y_0, y_1]` with `n` points, the point of rank `t` in `y` goes to
   `y' = y_0 + (t + 1/2)(y_1 - y_0)/n`: a monotone map of the `y` order onto evenly spaced levels.
3. The band's points, sorted by `x` (ties by their `y` rank), go to its rectangles left to right in
   proportion to their widths, and in a rectangle `[x_0, x_1]` with `n'` points the one of rank
   `s` goes to `x' = x_0 + (s + 1/2)(x_1 - x_0)/n'`.

What it keeps. Every position lies strictly inside a free rectangle of its own bin, hence inside
the bin and outside every (open) exclusion zone. In a bin: `y_a < y_b \Rightarrow y'_a < y'_b`
for every pair; `x_a < x_b \Rightarrow x'_a < x'_b` for every pair in the same band (for a
bin without zones, the whole bin: both orders are kept). Across bands of a partly covered bin the
`x` order is not kept (a point low in `y` may be pushed into a narrower band).

What it costs. Spreading moves points away from the nearest free point, so the positions'
total displacement `m \sum_i d(x_i, x'_i)^p` is at least the assignment's cost (points that
stayed in their own bin move too). The certified quantity is the assignment's cost (the
capacities are per bin, so spreading inside a bin keeps the assignment feasible and the dual bound
valid); ``RelocationResult.position_displacement`` reports the positions' actual total.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as RK
from otmodel.errors import InvalidDataError

__all__ = ["place_points", "spread_in_bins"]


def place_points(problem: Any, flat: NDArray[np.int64], spread: bool = False) -> NDArray[np.float64]:
    """Final positions of an assignment: nearest free point of the bin, or spread over it.

    Parameters
    ----------
    problem : RelocationProblem
    flat : (N,) int array
        Flat bin ``ix * my + iy`` of every point (every bin with a free part).
    spread : bool
        False: each point at the nearest free point of its bin (the positions whose total
        displacement is the assignment's cost). True: spread over the bin's free part, keeping the
        points' order (module docstring).

    Returns
    -------
    (N, 2) array of float
    """
    flat = np.ascontiguousarray(flat, dtype=np.int64)
    if not spread:
        return RK.final_positions(problem.points, flat, problem.rect_ptr, problem.rects, *problem.kernel_args()[8:])  # type: ignore[no-any-return]
    return spread_in_bins(problem.points, flat, problem.rect_ptr, problem.rects)


def spread_in_bins(
    points: NDArray[np.float64], flat: NDArray[np.int64], rect_ptr: NDArray[np.int64], rects: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Spread the points of every bin over its free rectangles (module docstring, steps 1-3).

    ``rect_ptr`` / ``rects`` as ``RelocationProblem``: the free part of flat bin ``j`` is
    ``rects[rect_ptr[j]:rect_ptr[j+1]]`` (rows ``x0, x1, y0, y1``), band by band, bottom to top.
    A bin with points must have a free part (``InvalidDataError`` naming the bin otherwise).
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    flat = np.ascontiguousarray(flat, dtype=np.int64)
    n_bins = rect_ptr.shape[0] - 1
    if flat.shape != (pts.shape[0],):
        raise InvalidDataError(f"flat bin indices have shape {flat.shape}; expected ({pts.shape[0]},)")
    bad = np.flatnonzero((flat < 0) | (flat >= n_bins))
    if bad.size:
        raise InvalidDataError(f"point {int(bad[0])} is assigned to bin {int(flat[bad[0]])}, outside [0, {n_bins})")
    # points grouped by bin, in index order inside a bin (a stable sort): O(N) memory
    order = np.argsort(flat, kind="stable").astype(np.int64)
    ptr = np.zeros(n_bins + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=n_bins), out=ptr[1:])
    empty = (ptr[1:] > ptr[:-1]) & (rect_ptr[1:] == rect_ptr[:-1])
    if empty.any():
        raise InvalidDataError(f"bin {int(np.flatnonzero(empty)[0])} (flat index) has points but no free part")
    return _spread(pts, order, ptr, np.ascontiguousarray(rect_ptr, dtype=np.int64), np.ascontiguousarray(rects, dtype=np.float64))  # type: ignore[no-any-return]


@nb.njit(cache=True, nogil=True)
def _shares(k: int, weight: NDArray[np.float64]) -> NDArray[np.int64]:
    """``k`` split in proportion to ``weight``, rounded along the cumulative sum (sums to ``k``)."""
    m = weight.shape[0]
    out = np.zeros(m, dtype=np.int64)
    total = 0.0
    for b in range(m):
        total += weight[b]
    acc = 0.0
    prev = 0
    for b in range(m):
        acc += weight[b]
        c = k if b == m - 1 else int(np.floor(k * acc / total + 0.5))
        c = min(max(c, prev), k)
        out[b] = c - prev
        prev = c
    return out


@nb.njit(parallel=True, cache=True, nogil=True)
def _spread(
    pts: NDArray[np.float64],
    order: NDArray[np.int64],
    ptr: NDArray[np.int64],
    rect_ptr: NDArray[np.int64],
    rects: NDArray[np.float64],
) -> NDArray[np.float64]:
    n_bins = ptr.shape[0] - 1
    out = np.empty_like(pts)
    for j in nb.prange(n_bins):
        k = ptr[j + 1] - ptr[j]
        if k == 0:
            continue
        mem = order[ptr[j] : ptr[j + 1]]
        r0, r1 = rect_ptr[j], rect_ptr[j + 1]
        # bands: runs of consecutive rectangles with the same y-interval
        nband = 0
        bstart = np.empty(r1 - r0 + 1, dtype=np.int64)
        for r in range(r0, r1):
            if r == r0 or rects[r, 2] != rects[r - 1, 2] or rects[r, 3] != rects[r - 1, 3]:
                bstart[nband] = r
                nband += 1
        bstart[nband] = r1
        area = np.zeros(nband)
        for b in range(nband):
            for r in range(bstart[b], bstart[b + 1]):
                area[b] += (rects[r, 1] - rects[r, 0]) * (rects[r, 3] - rects[r, 2])
        nb_pts = _shares(k, area)
        # the bin's points by y (a stable sort of points already in index order: ties by index)
        ys = np.empty(k)
        for t in range(k):
            ys[t] = pts[mem[t], 1]
        by_y = mem[np.argsort(ys, kind="mergesort")]
        first = 0
        for b in range(nband):
            n = nb_pts[b]
            if n == 0:
                continue
            ya, yb = rects[bstart[b], 2], rects[bstart[b], 3]
            band = by_y[first : first + n]
            first += n
            xs = np.empty(n)
            for t in range(n):
                out[band[t], 1] = ya + (t + 0.5) * (yb - ya) / n
                xs[t] = pts[band[t], 0]
            by_x = band[np.argsort(xs, kind="mergesort")]  # ties by y rank
            nr = bstart[b + 1] - bstart[b]
            width = np.empty(nr)
            for q in range(nr):
                width[q] = rects[bstart[b] + q, 1] - rects[bstart[b] + q, 0]
            nr_pts = _shares(n, width)
            s0 = 0
            for q in range(nr):
                m = nr_pts[q]
                xa, xb = rects[bstart[b] + q, 0], rects[bstart[b] + q, 1]
                for s in range(m):
                    out[by_x[s0 + s], 0] = xa + (s + 0.5) * (xb - xa) / m
                s0 += m
    return out
