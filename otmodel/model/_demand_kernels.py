r"""One pruned, compiled pass over the demand points: best and second-best endpoint of every point.

For potentials `\psi` on the endpoints `\mathcal S` and a planar assignment cost (Euclidean,
squared Euclidean, Manhattan), ``best_two`` returns per demand point `x_k`

.. math::
    v^{(1)}_k = \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\},\qquad
    \ell_k = \arg\min_i\{c(x_k,i) - \psi_i\}\ (\text{lowest index on ties}),\qquad
    v^{(2)}_k = \min_{i\ne \ell_k}\{c(x_k,i) - \psi_i\},

the quantities that the dual function (4) of Laurentin et al. (2025) (its assignment term
`\sum_k\mu_k v^{(1)}_k`), the Laguerre cells of Proposition 1 (`\ell_k`) and the cell boundaries
(`v^{(2)}_k - v^{(1)}_k`, 0 on a tie) need, in memory `O(N + |\mathcal S|\cdot N/\text{tile})`
instead of the `N\times|\mathcal S|` cost matrix.

Pruning, and why it is exact. The points are grouped once in spatial tiles of about ``tile`` points
(``DemandTiles``, cached per problem). For a tile with bounding box `B`, let `lo_{i}` and `hi_{i}`
be the cost from endpoint ``i`` to the nearest and the farthest point of `B`, computed with the same
floating-point operations as the cost itself: every operation (subtraction, product, sum, square
root) is correctly rounded, hence monotone, so for every point of the tile the *computed*
`c(x,i) - \psi_i` lies in `[lo_i - \psi_i, hi_i - \psi_i]` (computed as well). With `U` the
second smallest `hi_i - \psi_i` over the endpoints, two endpoints have a value `\le U` at every
point of the tile, so an endpoint with `lo_i - \psi_i > U` is neither the best nor the second best
at any of them and is left out (a relative margin of `10^{-12}` keeps a few more). The kept
candidates are sorted by `lo_i - \psi_i`, and a point's scan stops at the first candidate whose
bound exceeds the second-best value found: the result equals, bit for bit, the brute force over all
endpoints with the arithmetic ``dx * dx + dy * dy`` (and its square root).

The tiles are scanned in parallel (numba ``prange``, compiled on first use and cached on disk), or on
one thread when the pass is small (``SERIAL_WORK``).
Costs other than the planar three have no such bound: ``planar_kind`` returns -1 and the callers keep
their block-by-block passes.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.model.demand import Euclidean, Manhattan, SquaredEuclidean

__all__ = ["planar_kind", "DemandTiles", "best_two", "best_two_xy", "pair_costs", "max_cost", "max_cost_xy"]

_KINDS: dict[type, int] = {Euclidean: 0, SquaredEuclidean: 1, Manhattan: 2}
#: Largest number of (tile, endpoint) bounds kept (2**23: 64 MB per array), whatever N and |S|.
TILE_ENTRIES = 2**23
#: Relative margin of the candidate test (the test is exact without it; it only keeps more candidates).
MARGIN = 1e-12


def planar_kind(cost: Any) -> int:
    """0 Euclidean, 1 squared Euclidean, 2 Manhattan (exact types), -1 any other cost."""
    return _KINDS.get(type(cost), -1)


def _combine(kind: int, dx: NDArray[np.float64], dy: NDArray[np.float64]) -> NDArray[np.float64]:
    """The cost from coordinate differences, with the kernel's arithmetic (``dx*dx + dy*dy``, its root)."""
    if kind == 2:
        return np.abs(dx) + np.abs(dy)
    sq = dx * dx + dy * dy
    return sq if kind == 1 else np.sqrt(sq)


def pair_costs(problem: Any, rows: NDArray[np.intp], cols: NDArray[np.intp]) -> NDArray[np.float64]:
    """``c(x_rows[t], endpoint cols[t])`` for a planar cost, pair by pair (memory O(len(rows)))."""
    kind = planar_kind(problem.assignment_cost)
    if kind < 0:
        raise TypeError(f"pair_costs needs a planar assignment cost, not {problem.assignment_cost!r}")
    xy = np.asarray(problem.demand.xy, dtype=float)
    yxy = np.asarray(problem.endpoint_xy, dtype=float)
    return _combine(kind, xy[rows, 0] - yxy[cols, 0], xy[rows, 1] - yxy[cols, 1])


_MAX_COST: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def max_cost(problem: Any) -> float:
    r"""`\max_{k:\mu_k>0,\ i} c(x_k, i)` for a planar cost (computed once per problem; see ``_max_cost``)."""
    try:
        value = _MAX_COST.get(problem)
    except TypeError:  # not weakly referenceable or not hashable
        return _max_cost(problem)
    if value is None:
        value = _MAX_COST[problem] = _max_cost(problem)
    return value


def _max_cost(problem: Any) -> float:
    r"""`\max_{k:\mu_k>0,\ i} c(x_k, i)` for a planar cost, from the convex hull of the points of positive mass.

    All three planar costs are convex in `x`, so their maximum over a finite set is attained at a
    vertex of its convex hull; the vertices, with the extremes of `x`, `y`, `x+y` and `x-y` (which
    hold the two ends of a collinear set, where Qhull has no hull), are evaluated against every
    endpoint. Returns 0 when no point has mass.
    """
    kind = planar_kind(problem.assignment_cost)
    if kind < 0:
        raise TypeError(f"max_cost needs a planar assignment cost, not {problem.assignment_cost!r}")
    xy = np.asarray(problem.demand.xy, dtype=float)[np.asarray(problem.demand.mass) > 0]
    return max_cost_xy(xy, np.asarray(problem.endpoint_xy, dtype=float), kind)


def max_cost_xy(xy: NDArray[np.float64], yxy: NDArray[np.float64], kind: int) -> float:
    """``_max_cost`` for points ``xy`` (the ones of positive mass) and endpoints ``yxy``, cost ``kind``."""
    if xy.shape[0] == 0:
        return 0.0
    keys = [xy[:, 0], xy[:, 1], xy[:, 0] + xy[:, 1], xy[:, 0] - xy[:, 1]]
    idx = [int(np.argmin(k)) for k in keys] + [int(np.argmax(k)) for k in keys]
    if xy.shape[0] > 8:
        from scipy.spatial import ConvexHull, QhullError

        # Akl-Toussaint: points strictly inside the polygon of those extremes are no hull vertices
        # (a grid keeps only its border); the margin keeps points within rounding of an edge
        ext = xy[np.unique(idx)]
        c = ext.mean(axis=0)
        ring = ext[np.argsort(np.arctan2(ext[:, 1] - c[1], ext[:, 0] - c[0]))]
        inside = np.ones(xy.shape[0], dtype=bool)
        size = float(np.max(np.abs(xy))) + 1.0
        for a, b in zip(ring, np.roll(ring, -1, axis=0), strict=True):
            edge = b - a
            if not np.any(edge):
                continue
            cross = edge[0] * (xy[:, 1] - a[1]) - edge[1] * (xy[:, 0] - a[0])
            inside &= cross > 1e-9 * size * float(np.abs(edge).sum())
        if ring.shape[0] < 3:
            inside[:] = False
        rest = np.flatnonzero(~inside)
        try:
            idx += rest[ConvexHull(xy[rest]).vertices].tolist()
        except (QhullError, ValueError):  # collinear or too few points: the extremes above hold the ends
            pass
    pts = xy[np.unique(idx)]
    c = _combine(kind, pts[:, 0:1] - yxy[None, :, 0], pts[:, 1:2] - yxy[None, :, 1])
    return float(np.max(c))


class DemandTiles:
    """The demand points grouped in spatial tiles, with each tile's bounding box costs to every endpoint."""

    def __init__(self, xy: NDArray[np.float64], yxy: NDArray[np.float64], kind: int, tile: int = 256) -> None:
        if kind not in (0, 1, 2):
            raise TypeError(f"DemandTiles needs a planar cost kind (0, 1 or 2), not {kind!r}")
        self.kind = kind
        xy = np.asarray(xy, dtype=float)
        self.n = xy.shape[0]
        yxy = np.asarray(yxy, dtype=float)
        self.ex = np.ascontiguousarray(yxy[:, 0])
        self.ey = np.ascontiguousarray(yxy[:, 1])
        x, y = xy[:, 0], xy[:, 1]
        # the per-tile bounds hold tiles x |S| entries: at most TILE_ENTRIES (larger tiles beyond that)
        tile = max(16, int(tile), -(-self.n * self.ex.size // TILE_ENTRIES))
        side = max(1, int(math.ceil(math.sqrt(self.n / tile))))
        x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
        bx = np.minimum(((x - x0) / max(x1 - x0, 1e-300) * side).astype(np.int64), side - 1)
        by = np.minimum(((y - y0) / max(y1 - y0, 1e-300) * side).astype(np.int64), side - 1)
        key = by * side + bx
        self.order = np.argsort(key, kind="stable").astype(np.int64)
        ks = key[self.order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        self.tile_ptr = np.r_[starts, self.n].astype(np.int64)
        self.px = np.ascontiguousarray(x[self.order])
        self.py = np.ascontiguousarray(y[self.order])
        lox, hix = np.minimum.reduceat(self.px, starts), np.maximum.reduceat(self.px, starts)
        loy, hiy = np.minimum.reduceat(self.py, starts), np.maximum.reduceat(self.py, starts)
        ex, ey = self.ex, self.ey
        # nearest and farthest box coordinates, differences as the kernel computes them (monotone rounding)
        dxn = np.maximum(np.maximum(lox[:, None] - ex, ex - hix[:, None]), 0.0)
        dyn = np.maximum(np.maximum(loy[:, None] - ey, ey - hiy[:, None]), 0.0)
        dxf = np.maximum(np.abs(lox[:, None] - ex), np.abs(hix[:, None] - ex))
        dyf = np.maximum(np.abs(loy[:, None] - ey), np.abs(hiy[:, None] - ey))
        self.lo = _combine(self.kind, dxn, dyn)
        self.hi = _combine(self.kind, dxf, dyf)

    def candidates(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """``(cand_ptr, cand, cand_lo)``: per tile, the endpoints that can be best or second best, by increasing bound."""
        ns = psi_s.size
        hi = self.hi - psi_s
        lo = self.lo - psi_s
        if ns >= 2:
            u = np.partition(hi, 1, axis=1)[:, 1]
        else:
            u = hi[:, 0]
        limit = u + MARGIN * (np.abs(u) + float(np.max(np.abs(psi_s))) + 1.0)
        tt, cand = np.nonzero(lo <= limit[:, None])
        lo_c = lo[tt, cand]
        order = np.lexsort((cand, lo_c, tt))
        counts = np.bincount(tt, minlength=self.tile_ptr.size - 1)
        cand_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        return cand_ptr, np.ascontiguousarray(cand[order], dtype=np.int64), np.ascontiguousarray(lo_c[order])


_TILES: weakref.WeakKeyDictionary[Any, DemandTiles] = weakref.WeakKeyDictionary()


def _problem_tiles(problem: Any) -> DemandTiles:
    kind = planar_kind(problem.assignment_cost)
    if kind < 0:
        raise TypeError(f"DemandTiles needs a planar assignment cost, not {problem.assignment_cost!r}")
    return DemandTiles(problem.demand.xy, problem.endpoint_xy, kind)


def tiles_of(problem: Any) -> DemandTiles:
    """The problem's ``DemandTiles``, built once per (immutable) problem."""
    try:
        t = _TILES.get(problem)
    except TypeError:  # not weakly referenceable or not hashable: build afresh
        return _problem_tiles(problem)
    if t is None:
        t = _problem_tiles(problem)
        try:
            _TILES[problem] = t
        except TypeError:
            pass
    return t


def best_two(problem: Any, psi_s: Any) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    r"""``(v1, label, v2)`` per demand point (point order) at endpoint potentials ``psi_s``; see the module docstring.

    ``v2`` is `+\infty` when there is a single endpoint. Planar costs only (``planar_kind >= 0``).
    """
    return _best_two(tiles_of(problem), psi_s)


def best_two_xy(
    xy: NDArray[np.float64], yxy: NDArray[np.float64], kind: int, psi_s: Any
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """``best_two`` for points ``xy`` and endpoints ``yxy`` given as arrays (a block of a distributed demand)."""
    return _best_two(DemandTiles(xy, yxy, kind), psi_s)


def _best_two(t: DemandTiles, psi_s: Any) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    psi = np.ascontiguousarray(psi_s, dtype=float)
    cand_ptr, cand, cand_lo = t.candidates(psi)
    v1 = np.empty(t.n)
    v2 = np.empty(t.n)
    lab = np.empty(t.n, dtype=np.int64)
    # a small pass is faster on one thread: starting the parallel region cost 1-8 ms at 2,500 points
    # (measured on a loaded 2-core machine) for work of about 0.1 ms
    _kernel(parallel=cand.size * max(1, t.n // max(1, t.tile_ptr.size - 1)) > SERIAL_WORK)(
        t.px, t.py, t.order, t.tile_ptr, cand_ptr, cand, cand_lo, t.ex, t.ey, psi, t.kind, v1, lab, v2
    )
    return v1, lab, v2


#: below about this many (point, candidate) pairs the pass runs on one thread
SERIAL_WORK = 2_000_000
_KERNEL: dict[bool, Any] = {}


def _kernel(parallel: bool = True) -> Any:
    """The compiled pass (compiled on first use, cached on disk by numba), on all cores or on one."""
    if parallel not in _KERNEL:
        import numba as nb

        def best_two_pass(
            px: Any, py: Any, order: Any, tile_ptr: Any, cand_ptr: Any, cand: Any, cand_lo: Any,
            ex: Any, ey: Any, psi: Any, kind: int, v1: Any, lab: Any, v2: Any,
        ) -> None:  # pragma: no cover - compiled
            n_tiles = tile_ptr.size - 1
            for t in nb.prange(n_tiles):
                c0, c1 = cand_ptr[t], cand_ptr[t + 1]
                for k in range(tile_ptr[t], tile_ptr[t + 1]):
                    x, y = px[k], py[k]
                    b1 = np.inf
                    b2 = np.inf
                    i1 = -1
                    for a in range(c0, c1):
                        # candidates come by increasing lower bound: past the second-best value, none can enter
                        if cand_lo[a] > b2:
                            break
                        i = cand[a]
                        dx = x - ex[i]
                        dy = y - ey[i]
                        if kind == 0:
                            v = np.sqrt(dx * dx + dy * dy)
                        elif kind == 1:
                            v = dx * dx + dy * dy
                        else:
                            v = abs(dx) + abs(dy)
                        v -= psi[i]
                        if v < b1 or (v == b1 and i < i1):
                            b2 = b1
                            b1 = v
                            i1 = i
                        elif v < b2:
                            b2 = v
                    o = order[k]
                    v1[o] = b1
                    v2[o] = b2
                    lab[o] = i1

        # one on-disk cache entry per variant (numba names the cache after the function's qualname)
        best_two_pass.__qualname__ += "_parallel" if parallel else "_serial"
        _KERNEL[parallel] = nb.njit(parallel=parallel, cache=True, nogil=True)(best_two_pass)
    return _KERNEL[parallel]
