r"""Compiled loops of ``RelocationProblem``: costs, ring searches, prices from a flow, greedy placement.

One module for every compiled loop over points and bins: the relocation backend (pricing, candidate
bins, prices, greedy start, final positions) and the validation module (the exact dual bound) both
import it, so that `c_{ij}` and the ring bound have one definition. It sits in the model layer,
which the backends may import (never the reverse).

Geometry arguments (``geom``, from ``RelocationProblem.kernel_args``): ``xmin, ymin, w, h, mx, my,
rect_ptr, rects, euclid, power``; the free part of flat bin ``j`` is the union of rectangles
``rects[rect_ptr[j]:rect_ptr[j+1]]`` (rows ``x0, x1, y0, y1``).

Ring search. For a point in bin `(b_x, b_y)`, the bins at Chebyshev index distance `r`
lie outside the box of bins of radius `r-1` around it, so every one of them is at distance at
least `g_r` = the gap from the point to that box's boundary, in both metrics (a coordinate gap
never exceeds the Euclidean or the Manhattan distance). With prices `\psi \ge \psi_{\min}`,
no bin of ring `r` or beyond has `c_{ij} + \psi_j < g_r^p + \psi_{\min}`: the search stops at
the first ring whose bound reaches the `K`-th best value found, and the minimum is exact over
all bins. The rings are of blocks of ``block_size`` x ``block_size`` bins (``block_search``), and a
block is skipped when its distance bound plus its cheapest price cannot beat the `K`-th value:
with optimal prices, `c_{ij} + \psi_j` is nearly flat over an overloaded cluster, so the ring
bound (which only knows the cheapest price anywhere) stops late and the block bound does the pruning.

Prices from an optimal restricted flow (``bin_graph``, ``bin_graph_prices``, ``bin_graph_exits``).
For the transportation problem with capacitated bins, `\psi \ge 0` certifies a flow optimal
over its columns when every column `(i,k)` of a point `i` that sends flow to bin `j` has
`c_{ij} + \psi_j \le c_{ik} + \psi_k`, and `\psi_j = 0` on bins that are not full. With
`\phi = -\psi` these are difference constraints `\phi_k - \phi_j \le c_{ik} - c_{ij}`
(an arc `j \to k`), `\phi_j \le 0` (an arc from a virtual node ``v`` with
`\phi_v = 0`), `\phi_j \ge 0` on bins not full (arc `j \to v`); the shortest
distances from ``v`` (Bellman-Ford with a queue) are the smallest such prices, and a start below
them gives the greatest solution below the start. An overflow arc (bin to sink, penalty `P`)
adds `\phi_j \ge -P`, and `\phi_j \le -P` where it carries flow. The network is over bins
only: the points are contracted into the arcs between their bins, and of parallel arcs only the
cheapest counts, so a pass costs `O(\text{bins} \times \text{neighbours})` whatever the number
of points (``bin_graph``).
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "pair_costs",
    "insert_sorted",
    "gap_cost",
    "held",
    "best_bins",
    "topk_bins",
    "pair_cost",
    "nearest_free_point",
    "bin_graph",
    "bin_graph_prices",
    "bin_graph_exits",
    "greedy_nearest",
    "final_positions",
    "bin_loads",
    "geometry",
]

#: The geometry the kernels read, in the order of ``RelocationProblem.kernel_args``.
Geometry = tuple[float, float, float, float, int, int, NDArray[np.int64], NDArray[np.float64], bool, int]


def geometry(
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
) -> Geometry:
    """The geometry as one tuple of fixed types (so that the compiled kernels are compiled once for it)."""
    return (
        float(xmin), float(ymin), float(w), float(h), int(mx), int(my),
        np.ascontiguousarray(rect_ptr, dtype=np.int64), np.ascontiguousarray(rects, dtype=np.float64),
        bool(euclid), int(power),
    )


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


def pair_costs(points: NDArray[np.float64], i: NDArray[np.int64], j: NDArray[np.int64], *geom: Any) -> NDArray[np.float64]:
    """`c_{ij}` for the pairs ``(i[k], j[k])`` of point and flat bin indices (``inf`` for a bin with no free part)."""
    return _pair_costs(points, i, j, geometry(*geom))  # type: ignore[no-any-return]


@nb.njit(parallel=True, cache=True, nogil=True)
def _pair_costs(points: NDArray[np.float64], i: NDArray[np.int64], j: NDArray[np.int64], geom: Geometry) -> NDArray[np.float64]:
    rect_ptr, rects, euclid, power = geom[6], geom[7], geom[8], geom[9]
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


@nb.njit(inline="always", cache=True, nogil=True)
def _ring_gap(
    px: float, py: float, bx: int, by: int, r: int, xmin: float, ymin: float, w: float, h: float, mx: int, my: int
) -> float:
    """`g_r`: the gap from ``(px, py)`` to the box of bins of radius ``r - 1`` around its bin ``(bx, by)``.

    Every bin of ring ``r`` (and beyond) is at least this far, in both metrics (module docstring);
    ``inf`` when the ring lies wholly outside the grid (the search is over).
    """
    gap = np.inf
    if bx - r >= 0:
        gap = min(gap, px - (xmin + (bx - r + 1) * w))
    if bx + r < mx:
        gap = min(gap, xmin + (bx + r) * w - px)
    if by - r >= 0:
        gap = min(gap, py - (ymin + (by - r + 1) * h))
    if by + r < my:
        gap = min(gap, ymin + (by + r) * h - py)
    return gap if gap == np.inf else max(gap, 0.0)


@nb.njit(inline="always", cache=True, nogil=True)
def _box_cost(px: float, py: float, x0: float, x1: float, y0: float, y1: float, euclid: bool, power: int) -> float:
    """The cost from ``(px, py)`` to the rectangle: a lower bound for every bin inside it."""
    return _rect_cost(px, py, x0, x1, y0, y1, euclid, power)


@nb.njit(cache=True, nogil=True)
def block_size(mx: int, my: int) -> int:
    """Bins per side of the pruning blocks: about the square root of the grid side, halved (4 at
    64 x 64, 8 at 256 x 256), so that a ring of blocks and a block's bins cost about the same."""
    return max(2, int(round(math.sqrt(max(mx, my)) / 2)))


@nb.njit(cache=True, nogil=True)
def block_minima(price: NDArray[np.float64], mx: int, my: int, bs: int) -> NDArray[np.float64]:
    """The cheapest ``price`` in every ``bs x bs`` block of bins (``inf`` for bins without slots)."""
    nbx = (mx + bs - 1) // bs
    nby = (my + bs - 1) // bs
    out = np.full(nbx * nby, np.inf)
    for ix in range(mx):
        for iy in range(my):
            b = (ix // bs) * nby + iy // bs
            v = price[ix * my + iy]
            if v < out[b]:
                out[b] = v
    return out


@nb.njit(inline="always", cache=True, nogil=True)
def insert_sorted(vals: NDArray[np.float64], idx: NDArray[np.int64], v: float, j: int) -> None:
    """Insert bin ``j`` of value ``v`` into ascending ``vals``/``idx``, dropping the last entry."""
    q = vals.shape[0] - 1
    while q > 0 and vals[q - 1] > v:
        vals[q] = vals[q - 1]
        idx[q] = idx[q - 1]
        q -= 1
    vals[q] = v
    idx[q] = j


@nb.njit(inline="always", cache=True, nogil=True)
def gap_cost(dx: float, dy: float, euclid: bool, power: int) -> float:
    """The cost of gaps ``dx, dy`` to a bin's edges: the cost to the whole bin (a bound on its free part's)."""
    if euclid:
        d2 = dx * dx + dy * dy
        return d2 if power == 2 else math.sqrt(d2)
    d1 = dx + dy
    return d1 * d1 if power == 2 else d1


@nb.njit(inline="always", cache=True, nogil=True)
def held(idx: NDArray[np.int64], j: int) -> bool:
    """Whether bin ``j`` is already among the search's ``idx`` (a seeded search skips it)."""
    for q in range(idx.shape[0]):
        if idx[q] == j:
            return True
    return False


@nb.njit(cache=True, nogil=True)
def block_search(
    px: float,
    py: float,
    bx: int,
    by: int,
    price: NDArray[np.float64],
    blockmin: NDArray[np.float64],
    psimin: float,
    bs: int,
    vals: NDArray[np.float64],
    idx: NDArray[np.int64],
    geom: Geometry,
    seeded: bool = False,
) -> None:
    r"""The ``K = len(vals)`` smallest `c_{ij} + p_j` over all bins, sorted, exactly (``price`` is
    ``inf`` on bins that take nobody).

    Rings of ``bs x bs`` blocks of bins outward from the point's block (module docstring: every
    block of ring `r` is at least the gap `g_r` away); a block is scanned only when its own bound
    `d(x, \text{block})^p + \min_{\text{block}} p` beats the current ``K``-th value, and the
    search stops at the first ring whose bound `g_r^p + \min p` does. ``blockmin`` may be
    stale from below (prices that only rise keep it a valid bound). A ring is walked along its four
    sides only (`8r` blocks), never over the square it encloses; inside a block, a bin is first
    bounded by the distance to the whole bin, and reads its free rectangles only when that bound
    can still enter.

    ``seeded``: ``vals``/``idx`` already hold ``K`` distinct bins with their values at ``price``
    (sorted; the auction's candidate list of the point, re-valued): their largest value bounds the
    ``K``-th from the start, so that far fewer blocks and bins pass the bounds, and a bin already
    held is skipped when met again.
    """
    xmin, ymin, w, h, mx, my, rect_ptr, rects, euclid, power = geom
    K = vals.shape[0]
    if not seeded:
        for q in range(K):
            vals[q] = np.inf
            idx[q] = -1
    nbx = (mx + bs - 1) // bs
    nby = (my + bs - 1) // bs
    kx = bx // bs
    ky = by // bs
    W = w * bs
    H = h * bs
    for r in range(max(nbx, nby) + 1):
        if r > 0:
            gap = _ring_gap(px, py, kx, ky, r, xmin, ymin, W, H, nbx, nby)
            if gap == np.inf:
                break
            if (gap * gap if power == 2 else gap) + psimin >= vals[K - 1]:
                break
        # the 8r blocks of ring r (1 for r = 0): two columns of 2r+1, then two rows of 2r-1
        for t in range(max(1, 8 * r)):
            if r == 0:
                a, b = kx, ky
            elif t < 4 * r + 2:
                a = kx - r if t < 2 * r + 1 else kx + r
                b = ky - r + (t if t < 2 * r + 1 else t - 2 * r - 1)
            else:
                u = t - 4 * r - 2
                b = ky - r if u < 2 * r - 1 else ky + r
                a = kx - r + 1 + (u if u < 2 * r - 1 else u - 2 * r + 1)
            if a < 0 or a >= nbx or b < 0 or b >= nby:
                continue
            bm = blockmin[a * nby + b]
            if bm == np.inf:
                continue
            ix0 = a * bs
            ix1 = min(mx, ix0 + bs)
            iy0 = b * bs
            iy1 = min(my, iy0 + bs)
            if _box_cost(px, py, xmin + ix0 * w, xmin + ix1 * w, ymin + iy0 * h, ymin + iy1 * h, euclid, power) + bm >= vals[K - 1]:
                continue
            for ix in range(ix0, ix1):
                x0 = xmin + ix * w
                x1 = xmin + (ix + 1) * w
                dx = x0 - px if px < x0 else (px - x1 if px > x1 else 0.0)
                for iy in range(iy0, iy1):
                    j = ix * my + iy
                    pj = price[j]
                    if pj == np.inf:
                        continue
                    y0 = ymin + iy * h
                    y1 = ymin + (iy + 1) * h
                    dy = y0 - py if py < y0 else (py - y1 if py > y1 else 0.0)
                    lb = gap_cost(dx, dy, euclid, power)
                    # (1 - 1e-12): the bin's edges here and in ``rects`` may differ by a rounding
                    if lb * (1.0 - 1e-12) + pj >= vals[K - 1]:
                        continue
                    if seeded and held(idx, j):
                        continue
                    v = pair_cost(px, py, j, rect_ptr, rects, euclid, power) + pj
                    if v < vals[K - 1]:
                        insert_sorted(vals, idx, v, j)


def topk_bins(
    points: NDArray[np.float64],
    bin_ij: NDArray[np.int64],
    psi: NDArray[np.float64],
    slots: NDArray[np.int64],
    K: int,
    *geom: Any,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """For every point, its ``K`` bins of smallest `c_{ij} + \\psi_j` (exact over all bins), sorted."""
    return _topk_bins(points, bin_ij, psi, slots, K, geometry(*geom))  # type: ignore[no-any-return]


@nb.njit(parallel=True, cache=True, nogil=True)
def _topk_bins(
    points: NDArray[np.float64],
    bin_ij: NDArray[np.int64],
    psi: NDArray[np.float64],
    slots: NDArray[np.int64],
    K: int,
    geom: Geometry,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    n = points.shape[0]
    mx, my = geom[4], geom[5]
    vals = np.empty((n, K))
    idx = np.empty((n, K), dtype=np.int64)
    price = np.where(slots > 0, psi, np.inf)
    psimin = price.min() if price.shape[0] else np.inf
    bs = block_size(mx, my)
    bmin = block_minima(price, mx, my, bs)
    for i in nb.prange(n):
        block_search(points[i, 0], points[i, 1], bin_ij[i, 0], bin_ij[i, 1], price, bmin, psimin, bs, vals[i], idx[i], geom)
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


# ---------------------------------------------------------------- the backend's loops
@nb.njit(cache=True, nogil=True)
def bin_graph_prices(
    n_bins: int,
    ptr: NDArray[np.int64],
    dst: NDArray[np.int64],
    weight: NDArray[np.float64],
    full: NDArray[np.bool_],
    overflow: NDArray[np.bool_],
    penalty: float,
    d: NDArray[np.float64],
    max_passes: int,
) -> bool:
    """Shortest distances `\\phi` over the contracted bin graph, in place in ``d``; False on a negative cycle.

    The difference constraints of the module docstring, with the points
    already contracted: arc ``j -> dst[q]`` for ``q`` in ``ptr[j]:ptr[j+1]`` has the weight
    ``weight[q]`` = the smallest `c_{ik} - c_{ij}` over the points `i` placed in bin `j` that have
    bin `k` among their columns (only the smallest matters for a shortest path). A bin graph has
    at most (bins x neighbours) arcs whatever the number of points, so a pass costs that, not
    `N \\times` columns. Start: ``d <= 0`` (zeros give the smallest prices, a lower start the
    greatest solution below it). A shortest path has fewer than ``n_bins`` arcs, so a longer one,
    or more than ``max_passes`` passes over the bins, means a negative cycle (or a search too long
    to be worth finishing): False.
    """
    queue = np.empty(n_bins, dtype=np.int64)
    inq = np.zeros(n_bins, dtype=np.bool_)
    hops = np.zeros(n_bins, dtype=np.int64)
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
        if ptr[j + 1] > ptr[j]:
            queue[tail] = j
            tail = (tail + 1) % n_bins
            inq[j] = True
            count += 1
    limit = max_passes * max(1, n_bins)
    pops = 0
    while count > 0:
        j = queue[head]
        head = (head + 1) % n_bins
        count -= 1
        inq[j] = False
        pops += 1
        if pops > limit:
            return False
        dj = d[j]
        for q in range(ptr[j], ptr[j + 1]):
            k = dst[q]
            nd = dj + weight[q]
            if nd < d[k]:
                if nd < -penalty or (not full[k] and nd < 0.0):
                    return False  # the edge to v closes a negative cycle
                d[k] = nd
                hops[k] = hops[j] + 1
                if hops[k] >= n_bins:
                    return False  # a shortest path has no more than n_bins - 1 arcs
                if not inq[k] and ptr[k + 1] > ptr[k]:
                    inq[k] = True
                    queue[tail] = k
                    tail = (tail + 1) % n_bins
                    count += 1
    return True


@nb.njit(cache=True, nogil=True)
def bin_graph_exits(
    n_bins: int,
    rptr: NDArray[np.int64],
    rsrc: NDArray[np.int64],
    rweight: NDArray[np.float64],
    full: NDArray[np.bool_],
    penalty: float,
    h: NDArray[np.float64],
    max_passes: int,
) -> bool:
    """`h_j`: the shortest distance from bin `j` to a bin that is not full (at most ``penalty``), in
    place in ``h``; False on a negative cycle.

    The graph is ``bin_graph_prices``'s, reversed: the arcs into bin ``k`` come from ``rsrc[q]``
    with weight ``rweight[q]`` for ``q`` in ``rptr[k]:rptr[k+1]``. `\\psi = h` are the largest
    prices that make the placement optimal over its columns (each constraint
    `\\psi_j \\le \\psi_k + w_{jk}` is the triangle inequality of `h`; `h \\ge 0` when the
    placement is optimal, as a path of negative weight to a bin with room would improve it).
    """
    queue = np.empty(n_bins, dtype=np.int64)
    inq = np.zeros(n_bins, dtype=np.bool_)
    hops = np.zeros(n_bins, dtype=np.int64)
    head = 0
    tail = 0
    count = 0
    for k in range(n_bins):
        h[k] = penalty if full[k] else 0.0
        queue[tail] = k
        tail = (tail + 1) % n_bins
        inq[k] = True
        count += 1
    limit = max_passes * max(1, n_bins)
    pops = 0
    while count > 0:
        k = queue[head]
        head = (head + 1) % n_bins
        count -= 1
        inq[k] = False
        pops += 1
        if pops > limit:
            return False
        hk = h[k]
        for q in range(rptr[k], rptr[k + 1]):
            j = rsrc[q]
            nh = hk + rweight[q]
            if nh < h[j]:
                if nh < 0.0:
                    return False  # v -> j -> ... -> k -> v would be a negative cycle
                h[j] = nh
                hops[j] = hops[k] + 1
                if hops[j] >= n_bins:
                    return False
                if not inq[j]:
                    inq[j] = True
                    queue[tail] = j
                    tail = (tail + 1) % n_bins
                    count += 1
    return True


def bin_graph(
    n_bins: int, src: NDArray[np.int64], dst: NDArray[np.int64], weight: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Contract the arcs ``src -> dst`` (one per point and column) to one per pair of bins, of the
    smallest weight: ``(ptr, dst, weight)`` grouped by source bin (``bin_graph_prices``'s input)."""
    key = src.astype(np.int64) * n_bins + dst.astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    ws = weight[order]
    if ks.size == 0:
        return np.zeros(n_bins + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    first = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))
    wmin = np.minimum.reduceat(ws, first)
    uk = ks[first]
    ptr = np.zeros(n_bins + 1, dtype=np.int64)
    np.cumsum(np.bincount(uk // n_bins, minlength=n_bins), out=ptr[1:])
    return ptr, (uk % n_bins).astype(np.int64), wmin.astype(np.float64)


def greedy_nearest(
    points: NDArray[np.float64], bin_ij: NDArray[np.int64], order: NDArray[np.int64], slots: NDArray[np.int64], *geom: Any
) -> NDArray[np.int64]:
    """Greedy nearest-free-bin: points in ``order``, each to its cheapest bin with room left.

    Points already in a free bin with room keep it first (a first pass), then the others search
    rings outward for the cheapest bin with room (exact within the remaining bins).
    """
    return _greedy_nearest(points, bin_ij, order, slots, geometry(*geom))  # type: ignore[no-any-return]


@nb.njit(cache=True, nogil=True)
def _greedy_nearest(
    points: NDArray[np.float64], bin_ij: NDArray[np.int64], order: NDArray[np.int64], slots: NDArray[np.int64], geom: Geometry
) -> NDArray[np.int64]:
    xmin, ymin, w, h, mx, my, rect_ptr, rects, euclid, power = geom
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
                gap = _ring_gap(px, py, bx, by, r, xmin, ymin, w, h, mx, my)
                if gap == np.inf or (gap * gap if power == 2 else gap) >= best:
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
