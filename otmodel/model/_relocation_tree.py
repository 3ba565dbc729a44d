r"""The relocation auction's exact search over bins, pruned by planes fitted under the prices.

A point's search asks for the ``K`` smallest values `c_{ij} + p_j` over all bins, exactly. The bins
are grouped in a tree: leaves of ``leaf x leaf`` bins, each node the union of `F \times F`
children (`F` = ``FANOUT``), up to at most `F \times F` nodes at the top. Every node carries a
plane under the prices of its bins,

.. math::  p_j \ge a + g_x (i_x - i_{x0}) + g_y (i_y - i_{y0}) \qquad (j = (i_x, i_y) \text{ in the node}),

(``fit_bounds``: least-squares slopes, then `a` the least residual, less a rounding margin), and
every cost is bounded below by a sum over the axes of the gaps `d_x, d_y` from the point to the
bin's column and row: `d_x^2 + d_y^2` for the squared displacements (Euclidean, and Manhattan as
`(d_x + d_y)^2 \ge d_x^2 + d_y^2`), `s (d_x + d_y)` for the plain ones (`s = 1` Manhattan,
`1/\sqrt 2` Euclidean). The bound on a node is then a sum of two minima over one axis each, of a
convex function of the column (gap term plus linear term): each is at the floor or the ceiling of
the continuous minimiser, clamped to the node's columns, so a node's bound costs two evaluations per
axis whatever its size (``_axis_min``).

Why: with prices near the optimum, `c_{ij} + p_j` is nearly flat over an overloaded cluster while
the prices fall steeply away from it, so a bound made of the distance to a block plus its cheapest
price (``_relocation_kernels.block_search``) is loose by the price slope times the block's width.
Measured at 100k points / 64 x 64 at the optimal prices, each point's search seeded with its 5
best bins: the block search scanned 27 blocks of 4 x 4 (417 bins) per point for 5 bins, the plane
bounds 3.5 leaves (51 bins) after 42-73 node bounds.

Prices only rise during the auction (a bin's price is its cheapest slot's), so planes fitted at any
earlier moment stay valid lower bounds: the auction refits them between chunks of bids.

A bin whose free part is the whole bin (``full``) has its cost equal to the gap bound computed
here, float for float (the same formulas on the same edges), so its value needs no rectangle pass;
this matters under Manhattan L1, where hundreds of bins tie with the ``K``-th value at the optimum.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

from otmodel.model._relocation_kernels import Geometry, gap_cost, geometry, held, insert_sorted, pair_cost

__all__ = ["Bounds", "FANOUT", "new_bounds", "fit_bounds", "tree_search", "stack_size", "topk_bins"]

#: Children per axis of a node of the tree.
FANOUT = 2

#: (sizes, nxs, nys, off, A, GX, GY, full): bins per node side, nodes per axis and offsets of every
#: level (leaves first), the planes of every node, and which bins are whole.
Bounds = tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_],
]


def new_bounds(geom: Geometry, leaf: int = 4) -> Bounds:
    """The tree over the grid of ``geom`` (planes unset until ``fit_bounds``)."""
    xmin, ymin, w, h, mx, my, rect_ptr, rects = geom[:8]
    sizes = [int(leaf)]
    while max(-(-mx // sizes[-1]), -(-my // sizes[-1])) > FANOUT:
        sizes.append(sizes[-1] * FANOUT)
    nxs = [-(-mx // s) for s in sizes]
    nys = [-(-my // s) for s in sizes]
    off = np.zeros(len(sizes) + 1, dtype=np.int64)
    off[1:] = np.cumsum([a * b for a, b in zip(nxs, nys, strict=True)])
    n = int(off[-1])
    # a whole bin: one free rectangle, equal to the bin's edges as the search computes them
    ix, iy = np.divmod(np.arange(mx * my), my)
    one = np.diff(rect_ptr) == 1
    r = rects[np.minimum(rect_ptr[:-1], max(rects.shape[0] - 1, 0))] if rects.shape[0] else np.zeros((mx * my, 4))
    full = (
        one & (r[:, 0] == xmin + ix * w) & (r[:, 1] == xmin + (ix + 1) * w)
        & (r[:, 2] == ymin + iy * h) & (r[:, 3] == ymin + (iy + 1) * h)
    )
    return (
        np.array(sizes, dtype=np.int64), np.array(nxs, dtype=np.int64), np.array(nys, dtype=np.int64), off,
        np.full(n, -np.inf), np.zeros(n), np.zeros(n), np.ascontiguousarray(full),
    )


@nb.njit(cache=True, nogil=True)
def stack_size(bd: Bounds) -> int:
    """Entries a search's stack may need: the top level, then one node's children per level below."""
    return FANOUT * FANOUT * (bd[0].shape[0] + 1)


@nb.njit(cache=True, nogil=True)
def fit_bounds(price: NDArray[np.float64], geom: Geometry, bd: Bounds) -> None:
    """Fit every node's plane under ``price`` (``inf`` on bins that take nobody): least-squares
    slopes over its bins, then the least residual less a rounding margin (``a = inf`` for a node
    with no bin that takes anyone)."""
    w, h, mx, my, power = geom[2], geom[3], geom[4], geom[5], geom[9]
    sizes, nxs, nys, off, A, GX, GY, full = bd
    span = max(mx * w, my * h) * 2.0
    cscale = span * span if power == 2 else span
    for L in range(sizes.shape[0]):
        S = sizes[L]
        ny = nys[L]
        for a in range(nxs[L]):
            for b in range(ny):
                k = off[L] + a * ny + b
                ix0 = a * S
                ix1 = min(mx, ix0 + S)
                iy0 = b * S
                iy1 = min(my, iy0 + S)
                n = 0
                sx = 0.0
                sy = 0.0
                sp = 0.0
                for ix in range(ix0, ix1):
                    for iy in range(iy0, iy1):
                        p = price[ix * my + iy]
                        if p < np.inf:
                            n += 1
                            sx += ix - ix0
                            sy += iy - iy0
                            sp += p
                if n == 0:
                    A[k] = np.inf
                    GX[k] = 0.0
                    GY[k] = 0.0
                    continue
                ux = sx / n
                uy = sy / n
                up = sp / n
                cxx = 0.0
                cyy = 0.0
                cxy = 0.0
                cxp = 0.0
                cyp = 0.0
                for ix in range(ix0, ix1):
                    for iy in range(iy0, iy1):
                        p = price[ix * my + iy]
                        if p < np.inf:
                            dx = ix - ix0 - ux
                            dy = iy - iy0 - uy
                            dp = p - up
                            cxx += dx * dx
                            cyy += dy * dy
                            cxy += dx * dy
                            cxp += dx * dp
                            cyp += dy * dp
                det = cxx * cyy - cxy * cxy
                gx = 0.0
                gy = 0.0
                if det > 1e-9 * cxx * cyy and det > 0.0:
                    gx = (cyy * cxp - cxy * cyp) / det
                    gy = (cxx * cyp - cxy * cxp) / det
                elif cxx > 0.0:
                    gx = cxp / cxx
                elif cyy > 0.0:
                    gy = cyp / cyy
                amin = np.inf
                big = 0.0
                for ix in range(ix0, ix1):
                    for iy in range(iy0, iy1):
                        p = price[ix * my + iy]
                        if p < np.inf:
                            r = p - gx * (ix - ix0) - gy * (iy - iy0)
                            if r < amin:
                                amin = r
                            if abs(p) > big:
                                big = abs(p)
                # the margin covers the rounding of the plane and of the gap terms (all below the bound)
                A[k] = amin - 1e-12 * (abs(amin) + big + abs(gx) * S + abs(gy) * S + cscale)
                GX[k] = gx
                GY[k] = gy


@nb.njit(inline="always", cache=True, nogil=True)
def _axis_min(p: float, lo: int, hi: int, wd: float, org: float, g: float, power: int, slope: float) -> float:
    r"""`\min_{c = lo..hi} \phi(d_c) + g (c - lo)`, `d_c` the gap from ``p`` to column ``c`` (of width
    ``wd`` from ``org``), `\phi(d) = d^2` (``power`` 2) or ``slope`` `\cdot d`: a convex function of
    the column, least at the floor or the ceiling of its continuous minimiser (clamped)."""
    hw = 0.5 * wd
    gl = g / wd  # the slope per unit length
    if power == 2:
        if gl > 0.0:
            X = p - hw - 0.5 * gl
        elif gl < 0.0:
            X = p + hw - 0.5 * gl
        else:
            X = p
    else:
        if gl >= slope:
            X = -np.inf
        elif gl <= -slope:
            X = np.inf
        elif gl > 0.0:
            X = p - hw
        elif gl < 0.0:
            X = p + hw
        else:
            X = p
    t = (X - org) / wd - 0.5
    if t < lo:
        t = lo
    if t > hi:
        t = hi
    c0 = int(math.floor(t))
    c1 = c0 + 1 if c0 < hi else c0
    d0 = abs(p - (org + (c0 + 0.5) * wd)) - hw
    d1 = abs(p - (org + (c1 + 0.5) * wd)) - hw
    if d0 < 0.0:
        d0 = 0.0
    if d1 < 0.0:
        d1 = 0.0
    if power == 2:
        v0 = d0 * d0 + g * (c0 - lo)
        v1 = d1 * d1 + g * (c1 - lo)
    else:
        v0 = slope * d0 + g * (c0 - lo)
        v1 = slope * d1 + g * (c1 - lo)
    return v0 if v0 < v1 else v1


@nb.njit(inline="always", cache=True, nogil=True)
def _node_bound(px: float, py: float, k: int, L: int, a: int, b: int, bd: Bounds, geom: Geometry, slope: float) -> float:
    """A lower bound on `c_{ij} + p_j` over the bins of node ``k`` (level ``L``, position ``a, b``)."""
    xmin, ymin, w, h, mx, my = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5]
    power = geom[9]
    sizes, A, GX, GY = bd[0], bd[4], bd[5], bd[6]
    Ak = A[k]
    if Ak == np.inf:
        return np.inf
    S = sizes[L]
    ix0 = a * S
    iy0 = b * S
    return (Ak + _axis_min(px, ix0, min(mx, ix0 + S) - 1, w, xmin, GX[k], power, slope)
            + _axis_min(py, iy0, min(my, iy0 + S) - 1, h, ymin, GY[k], power, slope))


@nb.njit(inline="always", cache=True, nogil=True)
def _push_sorted(stk: NDArray[np.int64], stv: NDArray[np.float64], base: int, top: int, k: int, v: float) -> int:
    """Push node ``k`` of bound ``v`` onto the segment ``base:top``, kept in decreasing bound (the
    least is popped first); returns the new top."""
    q = top
    while q > base and stv[q - 1] < v:
        stk[q] = stk[q - 1]
        stv[q] = stv[q - 1]
        q -= 1
    stk[q] = k
    stv[q] = v
    return top + 1


@nb.njit(cache=True, nogil=True)
def tree_search(
    px: float, py: float, price: NDArray[np.float64], bd: Bounds, vals: NDArray[np.float64], idx: NDArray[np.int64],
    geom: Geometry, seeded: bool, stk: NDArray[np.int64], stv: NDArray[np.float64],
) -> None:
    r"""The ``K = len(vals)`` smallest `c_{ij} + p_j` over all bins, sorted, exactly, for the point
    ``(px, py)`` (``price`` is ``inf`` on bins that take nobody; the planes of ``bd`` lie under it).

    Depth first from the top level, children in increasing bound; a node is opened only while its
    bound is below the current ``K``-th value. ``seeded``: ``vals``/``idx`` already hold ``K``
    distinct bins and their values at ``price`` (as in ``block_search``). ``stk``/``stv``: scratch of
    ``stack_size(bd)`` entries.
    """
    xmin, ymin, w, h, mx, my, rect_ptr, rects, euclid, power = geom
    sizes, nxs, nys, off, full = bd[0], bd[1], bd[2], bd[3], bd[7]
    K = vals.shape[0]
    if not seeded:
        for q in range(K):
            vals[q] = np.inf
            idx[q] = -1
    slope = 1.0 if (power == 2 or not euclid) else 0.7071067811865475
    nL = sizes.shape[0]
    top = 0
    L = nL - 1
    for a in range(nxs[L]):
        for b in range(nys[L]):
            k = off[L] + a * nys[L] + b
            v = _node_bound(px, py, k, L, a, b, bd, geom, slope)
            if v < vals[K - 1]:
                top = _push_sorted(stk, stv, 0, top, k, v)
    while top > 0:
        top -= 1
        k = stk[top]
        if stv[top] >= vals[K - 1]:
            continue
        L = 0
        while k >= off[L + 1]:
            L += 1
        ny = nys[L]
        a = (k - off[L]) // ny
        b = (k - off[L]) % ny
        S = sizes[L]
        if L == 0:
            ix0 = a * S
            iy0 = b * S
            for ix in range(ix0, min(mx, ix0 + S)):
                x0 = xmin + ix * w
                x1 = xmin + (ix + 1) * w
                dx = x0 - px if px < x0 else (px - x1 if px > x1 else 0.0)
                for iy in range(iy0, min(my, iy0 + S)):
                    j = ix * my + iy
                    pj = price[j]
                    if pj == np.inf:
                        continue
                    y0 = ymin + iy * h
                    y1 = ymin + (iy + 1) * h
                    dy = y0 - py if py < y0 else (py - y1 if py > y1 else 0.0)
                    lb = gap_cost(dx, dy, euclid, power)
                    if full[j]:
                        v = lb + pj
                        if v >= vals[K - 1]:
                            continue
                    else:
                        # (1 - 1e-12): the bin's edges here and in ``rects`` may differ by a rounding
                        if lb * (1.0 - 1e-12) + pj >= vals[K - 1]:
                            continue
                        v = pair_cost(px, py, j, rect_ptr, rects, euclid, power) + pj
                        if v >= vals[K - 1]:
                            continue
                    if seeded and held(idx, j):
                        continue
                    insert_sorted(vals, idx, v, j)
            continue
        base = top
        Lc = L - 1
        nyc = nys[Lc]
        for da in range(FANOUT):
            ac = a * FANOUT + da
            if ac >= nxs[Lc]:
                break
            for db in range(FANOUT):
                bc = b * FANOUT + db
                if bc >= nyc:
                    break
                kc = off[Lc] + ac * nyc + bc
                v = _node_bound(px, py, kc, Lc, ac, bc, bd, geom, slope)
                if v < vals[K - 1]:
                    top = _push_sorted(stk, stv, base, top, kc, v)


def topk_bins(
    points: NDArray[np.float64], bin_ij: Any, psi: NDArray[np.float64], slots: NDArray[np.int64], K: int, *geom: Any,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    r"""For every point, its ``K`` bins of smallest `c_{ij} + \psi_j` over the bins with slots
    (exact), sorted: ``_relocation_kernels.topk_bins`` by the tree search (``bin_ij`` unused, kept
    for the same call). The validation module keeps the block search: two searches, one answer."""
    g = geometry(*geom)
    price = np.where(np.asarray(slots).reshape(-1) > 0, psi, np.inf)
    bd = new_bounds(g, 4)
    fit_bounds(price, g, bd)
    return _topk(np.ascontiguousarray(points, dtype=np.float64), price, bd, int(K), g)  # type: ignore[no-any-return]


@nb.njit(parallel=True, cache=True, nogil=True)
def _topk(points: NDArray[np.float64], price: NDArray[np.float64], bd: Bounds, K: int, geom: Geometry) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    n = points.shape[0]
    vals = np.empty((n, K))
    idx = np.empty((n, K), dtype=np.int64)
    ss = stack_size(bd)
    for i in nb.prange(n):
        tree_search(points[i, 0], points[i, 1], price, bd, vals[i], idx[i], geom, False, np.empty(ss, dtype=np.int64),
                    np.empty(ss))
    return vals, idx
