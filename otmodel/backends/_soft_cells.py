r"""Soft and hard Laguerre cells in one pass over the demand points: the evaluation of the ``Newton`` rule.

Part of ``otmodel.backends.newton`` (split by size): ``SoftCells`` computes, at endpoint potentials
`\psi_S` and a temperature `\varepsilon`, the soft and hard cell masses, the smoothed and exact
SDOT terms of the dual (4), the cell-adjacency weights of the Hessian and, on request, the soft plan;
see the ``newton`` module docstring for the math.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._soft_kernel import kernel as _kernel
from otmodel.backends.cells import CellPass, combine_planar
from otmodel.model._demand_kernels import DemandTiles, best_two_xy
from otmodel.model.demand import Euclidean, Manhattan, SquaredEuclidean
from otmodel.model.problems import SpatialFlowProblem

__all__ = ["SoftEval", "SoftCells"]


# ------------------------------------------------------------------------------ soft cells
@dataclass
class SoftEval:
    """One pass over the points at ``(psi_S, eps)``: soft and hard cell data."""

    eps: float
    m_soft: NDArray[np.float64]
    sdot_soft: float
    m_hard: NDArray[np.float64]
    sdot_hard: float
    edges: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]  # cell adjacency (i, j, w_ij)
    excess: float  # sum_k mu_k sum_i P_ki (v_ki - min_j v_kj) >= 0: the soft plan's cost above q
    #: with the plan: per point (point order) the best and second endpoint and their weights at ``eps``
    top: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]] | None = None
    #: the pass's (cols, P, tiled): candidates and weights per point (tile order if tiled), for ``plan_of``
    raw: tuple[NDArray[np.int64], NDArray[np.float64], bool] | None = None


class SoftCells:
    r"""Soft and hard Laguerre cells in one pass over the demand points.

    Every point keeps the ``K`` endpoints of lowest `c(x_k,i) - \psi_i` among its candidates
    (the first exact, lowest index on ties: hard masses and the hard SDOT term of (4) equal those of
    ``CellPass``), and its soft weights over them.

    Candidates. For the planar costs (Euclidean, squared Euclidean, Manhattan) the points are grouped
    once in spatial tiles of about ``tile`` points; for a tile with bounding box `B`, endpoint
    ``i`` is a candidate when `\min_{x\in B} c(x,i) - \psi_i \le \min_j \max_{x\in B}(c(x,j) -
    \psi_j) + 30\varepsilon`: every endpoint left out is beaten by at least `30\varepsilon` at every
    point of the tile (weight below `e^{-30}`), and the best one is never left out. The scan of
    the candidates is a compiled loop (``otmodel.backends._soft_kernel``). Other costs scan every
    endpoint, block by block (``CellPass``).
    """

    plan_floor = 1e-12
    reach = 30.0

    def __init__(
        self, problem: SpatialFlowProblem, candidates: int = 8, chunk: int | None = None, tile: int | None = None
    ) -> None:
        self.problem = problem
        self.n, self.ns = problem.n_points, problem.n_endpoints
        self.K = int(min(candidates, self.ns))
        self.mass = np.asarray(problem.demand.mass, dtype=float)
        self.xy = np.asarray(problem.demand.xy, dtype=float)
        self.yxy = np.asarray(problem.endpoint_xy, dtype=float)
        self.cost = problem.assignment_cost
        self.ex = np.ascontiguousarray(self.yxy[:, 0])
        self.ey = np.ascontiguousarray(self.yxy[:, 1])
        kinds: dict[type, int] = {Euclidean: 0, SquaredEuclidean: 1, Manhattan: 2}
        self.kind = kinds.get(type(self.cost), -1)
        self.cells = None if self.kind >= 0 else CellPass(problem, chunk, precompute="auto", prune=False)
        if self.kind >= 0:
            if tile is None:
                # small problems scan fewer candidates per point in smaller tiles (measured at 100
                # endpoints on 50 x 50: 1.1 ms a pass with 32 points a tile, 1.85 ms with 256); at
                # 40,000 points and more, 256 was as fast or faster
                tile = int(np.clip(self.n * self.ns / 8192, 32, 256))
            self._tiles(max(16, int(tile)))

    def _tiles(self, tile: int) -> None:
        # the same spatial tiles and box bounds as the certificate's pruned pass
        t = DemandTiles(self.xy, self.yxy, self.kind, tile)
        self.order, self.tile_ptr, self.px, self.py, self.lo, self.hi = t.order, t.tile_ptr, t.px, t.py, t.lo, t.hi
        self.pm = np.ascontiguousarray(self.mass[self.order])

    #: the compiled pass accumulates the cell adjacency in a dense |S| x |S| array up to this size
    DENSE_MAX = 2048

    def evaluate(
        self, psi_s: NDArray[np.float64], eps: float, plan: bool = False, eps_h: float | None = None
    ) -> tuple[SoftEval, Any]:
        """Soft/hard masses, SDOT terms and the cell-adjacency weights at ``psi_s``; the soft plan if asked.

        The adjacency weights use the curvature temperature ``eps_h`` (default ``eps``; never below it).
        """
        psi_s = np.ascontiguousarray(psi_s, dtype=float)
        eps_h = max(eps, eps_h or eps)
        if self.kind < 0 or self.ns > self.DENSE_MAX:
            return self._evaluate_blocks(psi_s, eps, plan, eps_h)
        n, K, ns = self.n, self.K, self.ns
        hi = self.hi - psi_s
        lo = self.lo - psi_s
        U = hi.min(axis=1)
        slack = self.reach * eps_h + 1e-9 * (np.abs(U) + 1.0)
        tt, cand, cand_lo, cand_ptr = self._candidates(lo, U + slack)
        cols = np.empty((n, K), dtype=np.int64)
        P = np.empty((n, K))
        m_soft, m_hard, sums = np.zeros(ns), np.zeros(ns), np.zeros(3)
        W = np.zeros((ns, ns))
        _kernel()(
            self.px, self.py, self.pm, self.tile_ptr, cand_ptr, cand, cand_lo,
            self.ex, self.ey, psi_s, float(eps), float(eps_h), K, self.kind,
            cols, P, m_soft, m_hard, sums, W, True,
        )
        er, ec = np.nonzero(W)
        ev = SoftEval(eps, m_soft, sums[0] - eps * sums[1], m_hard, float(sums[0]), (er, ec, W[er, ec]), float(sums[2]))
        ev.raw = (cols, P, True)
        return ev, (self.plan_of(ev) if plan else None)

    def plan_of(self, ev: SoftEval) -> sp.csr_matrix:
        r"""The soft plan `\mu_k P_{ki}` of an evaluation (entries below ``plan_floor`` dropped); sets ``ev.top``."""
        assert ev.raw is not None
        cols, P, tiled = ev.raw
        keep = P >= self.plan_floor
        if tiled:
            r = np.broadcast_to(self.order[:, None], P.shape)
            vals = (P * self.pm[:, None])[keep]
        else:
            r = np.broadcast_to(np.arange(self.n)[:, None], P.shape)
            vals = (P * self.mass[:, None])[keep]
        ev.top = self._top(cols, P, self.order if tiled else None)
        return sp.csr_matrix((vals, (r[keep], cols[keep])), shape=(self.n, self.ns))

    def _top(self, cols: NDArray[np.int64], P: NDArray[np.float64], order: NDArray[np.int64] | None) -> tuple[Any, ...]:
        """Best and second column and weight per point (rows of ``cols``/``P`` are points ``order``)."""
        second = 1 if self.K > 1 else 0
        out = (cols[:, 0], cols[:, second], P[:, 0], P[:, second] if self.K > 1 else np.zeros(P.shape[0]))
        if order is None:
            return tuple(np.ascontiguousarray(a) for a in out)
        res = []
        for a in out:
            b = np.empty_like(a)
            b[order] = a
            res.append(b)
        return tuple(res)

    def _candidates(self, lo: NDArray[np.float64], limit: NDArray[np.float64]) -> tuple[Any, ...]:
        """Per tile, the endpoints whose lower bound is within ``limit``, sorted by that bound."""
        tt, cand = np.nonzero(lo <= limit[:, None])
        lo_c = lo[tt, cand]
        order = np.lexsort((lo_c, tt))
        cand_ptr = np.r_[0, np.cumsum(np.bincount(tt, minlength=self.tile_ptr.size - 1))].astype(np.int64)
        return tt[order], cand[order].astype(np.int64), np.ascontiguousarray(lo_c[order]), cand_ptr

    def _arrays(self, psi_s: NDArray[np.float64], eps: float) -> tuple[Any, ...]:
        """Per point: cols, P (by increasing value), label, best value, log Z, excess, second weight."""
        n, K = self.n, self.K
        if self.kind >= 0:
            cols = np.empty((n, K), dtype=np.int64)
            P = np.empty((n, K))
            hi = self.hi - psi_s
            lo = self.lo - psi_s
            U = hi.min(axis=1)
            slack = self.reach * eps + 1e-9 * (np.abs(U) + 1.0)
            tt, cand, cand_lo, cand_ptr = self._candidates(lo, U + slack)
            _kernel()(
                self.px, self.py, self.pm, self.tile_ptr, cand_ptr, cand, cand_lo,
                self.ex, self.ey, psi_s, float(eps), float(eps), K, self.kind,
                cols, P, np.zeros(self.ns), np.zeros(self.ns), np.zeros(3), np.zeros((1, 1)), False,
            )
            ordered = np.empty_like(self.order)
            ordered[self.order] = np.arange(n)
            cols, P = cols[ordered], P[ordered]
            P[:, 0] = 1.0  # the best column is always a real candidate
            # slots the kernel padded (fewer candidates than K) repeat the best column with weight 0
            v = np.where(P > 0, self._cost_rows_all(cols) - psi_s[cols], np.inf)
        else:
            assert self.cells is not None
            cl, vl = [], []
            for _, _, block in self.cells._blocks():
                allv = block - psi_s
                if K < self.ns:
                    c = np.argpartition(allv, K - 1, axis=1)[:, :K]
                else:
                    c = np.broadcast_to(np.arange(self.ns), allv.shape).copy()
                cl.append(c)
                vl.append(np.take_along_axis(allv, c, axis=1))
            cols, v = np.concatenate(cl), np.concatenate(vl)
        # order by (value, index): the first column is the exact argmin with the lowest index on ties
        o = np.lexsort((cols, v), axis=1)
        cols, v = np.take_along_axis(cols, o, axis=1), np.take_along_axis(v, o, axis=1)
        m0 = v[:, 0]
        with np.errstate(invalid="ignore", over="ignore"):
            z = np.exp(-(v - m0[:, None]) / eps)
        z = np.where(np.isfinite(z), z, 0.0)
        zs = z.sum(axis=1)
        p = z / zs[:, None]
        with np.errstate(invalid="ignore"):
            e = np.where(p > 0, p * (v - m0[:, None]), 0.0).sum(axis=1)
        return cols, p, cols[:, 0], m0, np.log(zs), e, (p[:, 1] if K > 1 else np.zeros(n))

    def _cost_rows_all(self, cols: NDArray[np.int64]) -> NDArray[np.float64]:
        """``c(x_k, cols[k, j])`` for planar costs."""
        return combine_planar(self.cost, self.xy[:, 0:1] - self.ex[cols], self.xy[:, 1:2] - self.ey[cols])

    def _evaluate_blocks(
        self, psi_s: NDArray[np.float64], eps: float, plan: bool, eps_h: float | None = None
    ) -> tuple[SoftEval, Any]:
        """The same as ``evaluate`` in numpy (other costs, or more endpoints than DENSE_MAX)."""
        ns, K = self.ns, self.K
        eps_h = max(eps, eps_h or eps)
        cols, P, lab, vmin, logz, exc, p2 = self._arrays(psi_s, eps_h)
        if eps_h > eps:  # the weights at eps from the same candidates (values by increasing order)
            H = P
            with np.errstate(divide="ignore"):
                v = -eps_h * (np.log(np.where(H > 0, H, 0.0)) - np.log(H[:, :1]))  # v_kj - v_k0
            z = np.where(H > 0, np.exp(-v / eps), 0.0)
            zs = z.sum(axis=1)
            P = z / zs[:, None]
            logz = np.log(zs)
            exc = np.where(P > 0, P * np.where(H > 0, v, 0.0), 0.0).sum(axis=1)
            p2 = H[:, 1] if K > 1 else np.zeros(self.n)
        else:
            H = P
        w = self.mass
        pos = w > 0
        vm = np.where(pos, vmin, 0.0)
        sdot_hard = float(np.einsum("i,i->", w, vm))
        sdot_soft = sdot_hard - eps * float(np.einsum("i,i->", w, np.where(pos, logz, 0.0)))
        excess = float(np.einsum("i,i->", w, np.where(pos, exc, 0.0)))
        m_hard = np.asarray(np.bincount(lab, weights=w, minlength=ns), dtype=float)
        wP = P * w[:, None]
        m_soft = np.asarray(np.bincount(cols.ravel(), weights=wP.ravel(), minlength=ns), dtype=float)
        b = np.flatnonzero((p2 > 1e-14) & pos)  # boundary points: a second weight that matters
        keys: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        if b.size:
            Pb, cb, wb = H[b], cols[b], w[b] / eps_h
            for a in range(K):
                for c in range(a + 1, K):
                    ww = wb * Pb[:, a] * Pb[:, c]
                    keep = ww > 0
                    i, j = cb[keep, a], cb[keep, c]
                    keys.append(np.minimum(i, j) * ns + np.maximum(i, j))
                    vals.append(ww[keep])
        edges: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
        if keys:
            uk, inv = np.unique(np.concatenate(keys), return_inverse=True)
            uw = np.asarray(np.bincount(inv, weights=np.concatenate(vals)), dtype=float)
            edges = (uk // ns, uk % ns, uw)
        else:
            edges = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        ev = SoftEval(eps, m_soft, sdot_soft, m_hard, sdot_hard, edges, excess)
        ev.raw = (cols, P, False)
        return ev, (self.plan_of(ev) if plan else None)

    def scales(self, psi_s: NDArray[np.float64]) -> tuple[float, float]:
        """Medians, over 2000 sampled points, of (best-to-second cost gap, best cost change to a neighbour point)."""
        from scipy.spatial import cKDTree

        dem = self.problem.demand
        rng = np.random.default_rng(0)
        idx = np.sort(rng.choice(self.n, size=min(self.n, 2000), replace=False))
        shape = getattr(dem, "shape", None)
        if shape is not None and hasattr(dem, "grid_bounds"):
            # a Grid: point k's neighbour is the next cell in x (or the previous one at the edge)
            nx = int(shape[0])
            ix = idx % nx
            nb = np.where(ix + 1 < nx, idx + 1, idx - 1) if nx > 1 else np.where(idx + nx < self.n, idx + nx, idx - nx)
        else:
            _, nn = cKDTree(self.xy).query(self.xy[idx], k=2)
            nb = nn[:, 1]
        nb = np.clip(nb, 0, self.n - 1)
        if self.kind >= 0:
            # the pruned pass of the certificate over the sampled points (the same best and second
            # values as their full cost rows, bit for bit), and the neighbour's cost at the best endpoint
            v_best, best, v_second = best_two_xy(self.xy[idx], self.yxy, self.kind, psi_s)
            gap = v_second - v_best if self.ns > 1 else np.ones(idx.size)
            x = self.xy[nb]
            vn_best = combine_planar(self.cost, x[:, 0] - self.ex[best], x[:, 1] - self.ey[best]) - psi_s[best]
        else:
            v = self._cost_rows(idx) - psi_s
            if self.ns > 1:
                two = np.partition(v, 1, axis=1)
                gap = two[:, 1] - two[:, 0]
            else:
                gap = np.ones(idx.size)
            best = np.argmin(v, axis=1)
            r = np.arange(idx.size)
            v_best = v[r, best]
            vn_best = (self._cost_rows(nb) - psi_s)[r, best]
        d = np.abs(v_best - vn_best)
        gap, d = gap[np.isfinite(gap) & (gap > 0)], d[np.isfinite(d) & (d > 0)]
        return (float(np.median(gap)) if gap.size else 1.0, float(np.median(d)) if d.size else 1.0)

    def _cost_rows(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        if self.kind >= 0:
            x = self.xy[rows]
            return combine_planar(self.cost, x[:, 0:1] - self.yxy[:, 0], x[:, 1:2] - self.yxy[:, 1])
        out = np.empty((rows.size, self.ns))
        for i, r in enumerate(rows):  # 2000 rows of a matrix/geodesic cost, once per solve
            out[i] = self.problem.cost_block(int(r), int(r) + 1)[0]
        return out
