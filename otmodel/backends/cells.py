r"""The Laguerre-cell pass of the dual methods: each demand point finds its cell, each cell sums its mass.

For potentials `\psi` on the endpoints `\mathcal S`, the generalized Laguerre cell of endpoint
`i` is `\mathrm{Lag}_i(\psi) = \{x: c(x,i) - \psi_i \le c(x,j) - \psi_j\ \forall j\}`
(Laurentin et al. 2025, eq. (4) and Algorithm 1, line 9). One pass over the demand gives the cell
masses `\mu(\mathrm{Lag}_i(\psi))` and the assignment term of the dual
`\sum_k \mu_k \min_i\{c(x_k,i) - \psi_i\}`; it is the only part of an iteration whose cost grows
with the number of demand points, and the part a distributed run spreads over workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.demand import Euclidean, Manhattan, SquaredEuclidean, block_rows
from otmodel.model.problems import SpatialFlowProblem

__all__ = ["CellPass", "PrunedArgmin", "planar_costs", "PRECOMPUTE_LIMIT", "PRUNE_MIN_ENDPOINTS", "DEFAULT_CHUNK"]

#: "auto" keeps the N x |S| cost matrix in memory when it has at most this many entries (160 MB).
PRECOMPUTE_LIMIT = 20_000_000
DEFAULT_CHUNK = None  # block_rows(|S|): at most 65,536 points and 2**23 costs per block

#: ``prune="auto"`` uses ``PrunedArgmin`` from this many endpoints on (chunked pass only).
PRUNE_MIN_ENDPOINTS = 64


def combine_planar(cost: Any, dx: NDArray[np.float64], dy: NDArray[np.float64]) -> NDArray[np.float64]:
    if isinstance(cost, Manhattan):
        return np.abs(dx) + np.abs(dy)
    sq = dx * dx
    sq += dy * dy
    return sq if isinstance(cost, SquaredEuclidean) else np.sqrt(sq, out=sq)


def planar_costs(cost: Any, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``c(x_k, y_i)`` for Euclidean, squared Euclidean and Manhattan costs, shape ``(len(x), len(y))``."""
    return combine_planar(cost, x[:, 0:1] - y[:, 0], x[:, 1:2] - y[:, 1])


class PrunedArgmin:
    r"""Exact `\arg\min_i c(x,i) - \psi_i` for planar metric costs without scanning all endpoints.

    Lifting. With `w_i = \max_j \psi_j - \psi_i \ge 0`, minimizing `c(x,i) - \psi_i` is
    minimizing `c(x,i) + w_i`. Lift endpoint ``i`` to `(y_i, h_i) \in \mathbb R^3` and the
    point to `(x, 0)`; let `L_i` be their distance in the k-d tree's norm:

    * Manhattan, `h_i = w_i`, 1-norm: `L_i = \|x - y_i\|_1 + w_i` exactly;
    * squared Euclidean, `h_i = \sqrt{w_i}`, 2-norm: `L_i^2 = \|x - y_i\|^2 + w_i` exactly;
    * Euclidean, `h_i = w_i`, 2-norm: `L_i = \sqrt{d_i^2 + w_i^2} \le d_i + w_i`, a lower bound.

    So in all three cases `c(x,i) + w_i \ge f(L_i)` (`f(L) = L` or `L^2`). The
    ``k`` lifted nearest endpoints (then ``8k`` for the points not yet settled) are evaluated exactly (the same arithmetic as the brute-force
    cost block); every other endpoint ``j`` has `L_j \ge L_{(k)}`, hence cannot do better when
    `f(L_{(k)})` exceeds the best value found (with a relative margin of 1e-9 against rounding).
    Points for which that test fails are evaluated against all endpoints. Ties go to the lowest
    index, as in the brute force, so labels and cell masses are identical.
    """

    def __init__(self, cost: Any, endpoint_xy: NDArray[np.float64], k: int = 4) -> None:
        if not self.supports(cost):
            raise UnsupportedError(f"spatial pruning needs a planar metric cost, not {cost!r}")
        self.cost = cost
        self.xy = np.ascontiguousarray(endpoint_xy, dtype=float)
        self.ns = self.xy.shape[0]
        self.k = max(1, min(int(k), self.ns))
        self.k2 = max(self.k, min(8 * self.k, self.ns))
        self.p = 1 if isinstance(cost, Manhattan) else 2
        self.squared = isinstance(cost, SquaredEuclidean)
        self.psi: NDArray[np.float64] | None = None
        self.fallback = 0  # points evaluated against all endpoints, since the last set_potentials

    @staticmethod
    def supports(cost: Any) -> bool:
        return type(cost) in (Euclidean, SquaredEuclidean, Manhattan)

    def set_potentials(self, psi_s: NDArray[np.float64]) -> None:
        from scipy.spatial import cKDTree

        psi = np.asarray(psi_s, dtype=float)
        self.psi = psi
        self.shift = float(psi.max())
        w = self.shift - psi
        h = np.sqrt(w) if self.squared else w
        self.tree = cKDTree(np.column_stack([self.xy, h]))
        self.fallback = 0

    def _values(self, x: NDArray[np.float64], cols: NDArray[np.intp]) -> NDArray[np.float64]:
        """``c(x, i) - psi_i`` for the given columns, with the arithmetic of ``planar_costs``."""
        assert self.psi is not None
        dx = x[:, 0:1] - self.xy[cols, 0]
        dy = x[:, 1:2] - self.xy[cols, 1]
        return combine_planar(self.cost, dx, dy) - self.psi[cols]

    def _certified(
        self, x: NDArray[np.float64], lifted: NDArray[np.float64], k: int
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_]]:
        """Best of the ``k`` lifted nearest endpoints, and whether no other endpoint can beat it."""
        n = x.shape[0]
        dist, cols = self.tree.query(lifted, k=k, p=self.p)
        dist = dist.reshape(n, k)
        cols = cols.reshape(n, k)
        v = self._values(x, cols)
        vmin = v.min(axis=1)
        lab = np.where(v == vmin[:, None], cols, self.ns).min(axis=1)  # lowest index on ties
        if k >= self.ns:
            return lab, vmin, np.ones(n, dtype=bool)
        far = dist[:, -1] ** 2 if self.squared else dist[:, -1]
        margin = 1e-9 * (np.abs(vmin) + abs(self.shift) + far + 1.0)
        return lab, vmin, far - self.shift > vmin + margin

    def __call__(self, x: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """``(labels, values)`` of points ``x`` (shape ``(n, 2)``)."""
        lifted = np.column_stack([x, np.zeros(x.shape[0])])
        lab, vmin, ok = self._certified(x, lifted, self.k)
        bad = np.flatnonzero(~ok)
        if bad.size and self.k2 > self.k:
            # second chance with more neighbours (the Euclidean bound L <= d + w is loose)
            l2, v2, ok = self._certified(x[bad], lifted[bad], self.k2)
            lab[bad[ok]] = l2[ok]
            vmin[bad[ok]] = v2[ok]
            bad = bad[~ok]
        if bad.size:
            self.fallback += int(bad.size)
            allcols = np.broadcast_to(np.arange(self.ns), (bad.size, self.ns))
            vb = self._values(x[bad], allcols)
            jb = np.argmin(vb, axis=1)
            lab[bad] = jb
            vmin[bad] = vb[np.arange(bad.size), jb]
        return lab.astype(np.intp), vmin


class CellPass:
    r"""Laguerre cells of the discretized demand, one pass over the points.

    For potentials `\psi_S` of the endpoints, ``__call__`` returns the cell masses
    `m_i = \mu(\mathrm{Lag}_i(\psi))` (Algorithm 1, line 9) and, in the same pass, the SDOT
    term of (4), `\sum_k \mu_k \min_i \{c(x_k,i) - \psi_i\}`. Points are processed in blocks
    of ``chunk`` rows from ``SpatialFlowProblem.cost_block`` (memory ``O(chunk x |S| + N)``)
    unless the whole matrix is precomputed (``precompute=True``, or ``"auto"`` below
    ``PRECOMPUTE_LIMIT`` entries). Ties go to the lowest endpoint index (Proposition 1 allows
    any tie-break).

    With ``prune`` (metric planar costs only, see ``PrunedArgmin``) the argmin of each point
    is found by a k-d tree over the lifted endpoints instead of evaluating all `|S|` costs,
    with the same result as the brute force. With ``samples=M`` (Remark 1) each call draws ``M``
    fresh points from `\mu` (index ``k`` with probability `\mu_k/\mu(X)`, generator
    seeded by ``seed``) and every sampled point carries `\mu(X)/M`: the masses and the SDOT
    term are then unbiased Monte Carlo estimates.
    """

    def __init__(
        self,
        problem: SpatialFlowProblem,
        chunk: int | None = DEFAULT_CHUNK,
        precompute: bool | str = "auto",
        prune: bool | str = "auto",
        samples: int | None = None,
        seed: Any = None,
    ) -> None:
        self.problem = problem
        self.n = problem.n_points
        self.ns = problem.n_endpoints
        self.chunk = block_rows(self.ns, chunk)
        if precompute == "auto":
            precompute = self.n * self.ns <= PRECOMPUTE_LIMIT
        elif not isinstance(precompute, (bool, np.bool_)):
            raise InvalidDataError(f"precompute={precompute!r} must be 'auto', True or False")
        self.precomputed = bool(precompute)
        self.C: NDArray[np.float64] | None = None
        self._yxy = np.asarray(problem.endpoint_xy, dtype=float)
        if self.precomputed:
            self.C = np.ascontiguousarray(self._cost_block(0, self.n), dtype=float)
        mass = np.asarray(problem.demand.mass, dtype=float)
        self.mass = mass
        # zero-mass points may have infinite cost to every endpoint; they carry no mass, so their
        # (possibly infinite) minimum must not turn the sum into NaN
        self._all_positive = bool(np.all(mass > 0))
        # one block for the precomputed matrix: blocks exist to bound memory, which it already took
        self._step = self.n if self.precomputed else self.chunk
        if prune == "auto":
            prune = (
                not self.precomputed
                and self.ns >= PRUNE_MIN_ENDPOINTS
                and PrunedArgmin.supports(problem.assignment_cost)
            )
        elif not isinstance(prune, (bool, np.bool_)):
            raise InvalidDataError(f"prune={prune!r} must be 'auto', True or False")
        if prune and not PrunedArgmin.supports(problem.assignment_cost):
            raise UnsupportedError(
                f"prune=True needs a Euclidean, squared Euclidean or Manhattan assignment cost, "
                f"not {problem.assignment_cost.name}"
            )
        self.pruner = PrunedArgmin(problem.assignment_cost, np.asarray(problem.endpoint_xy)) if prune else None
        self._xy = np.asarray(problem.demand.xy, dtype=float) if prune else None
        # Remark 1: stochastic cell masses from `samples` points drawn from mu, fresh each call
        if samples is not None and int(samples) < 1:
            raise InvalidDataError(f"samples={samples!r} must be a positive integer")
        self.samples = None if samples is None else int(samples)
        self.rng = np.random.default_rng(seed)
        self._cdf = np.cumsum(mass) if self.samples is not None else None

    def _blocks(self) -> Any:
        for start in range(0, self.n, self._step):
            stop = min(self.n, start + self._step)
            block = self.C[start:stop] if self.C is not None else self._cost_block(start, stop)
            yield start, stop, block

    def _cost_block(self, start: int, stop: int) -> NDArray[np.float64]:
        """Cost rows ``start:stop``; planar costs by two broadcast differences (2-3x faster than
        the generic ``(n, |S|, 2)`` einsum of ``SpatialFlowProblem.cost_block``, same values)."""
        cost = self.problem.assignment_cost
        if type(cost) in (Euclidean, SquaredEuclidean, Manhattan):
            return planar_costs(cost, np.asarray(self.problem.demand.xy[start:stop]), self._yxy)
        return self.problem.cost_block(start, stop)

    def _argmin(
        self, block: NDArray[np.float64], psi_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        r = block - psi_s
        lab = np.argmin(r, axis=1)
        val = np.take_along_axis(r, lab[:, None], axis=1)[:, 0]
        return lab, val

    def _label_blocks(self, psi_s: NDArray[np.float64]) -> Any:
        """``(start, stop, labels, values)`` per block, by pruning or by brute force."""
        if self.pruner is not None:
            assert self._xy is not None
            self.pruner.set_potentials(psi_s)
            for start in range(0, self.n, self.chunk):
                stop = min(self.n, start + self.chunk)
                lab, val = self.pruner(self._xy[start:stop])
                yield start, stop, lab, val
            return
        for start, stop, block in self._blocks():
            lab, val = self._argmin(block, psi_s)
            yield start, stop, lab, val

    def sample(self) -> NDArray[np.intp]:
        """Indices of ``samples`` points drawn from mu (probability proportional to mass), sorted."""
        assert self._cdf is not None and self.samples is not None
        u = self.rng.random(self.samples) * self._cdf[-1]
        idx = np.searchsorted(self._cdf, u, side="right")
        return np.sort(np.minimum(idx, self.n - 1))

    def _sampled(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        idx = self.sample()
        w = float(self.mass.sum()) / len(idx)
        labs = []
        vals = []
        if self.pruner is not None:
            assert self._xy is not None
            self.pruner.set_potentials(psi_s)
            for a in range(0, len(idx), self.chunk):
                lab, val = self.pruner(self._xy[idx[a : a + self.chunk]])
                labs.append(lab)
                vals.append(val)
        elif self.C is not None:
            for a in range(0, len(idx), self.chunk):
                lab, val = self._argmin(self.C[idx[a : a + self.chunk]], psi_s)
                labs.append(lab)
                vals.append(val)
        else:
            # gather the sampled rows block by block (works for every assignment cost)
            bounds = np.searchsorted(idx, np.arange(0, self.n + self.chunk, self.chunk))
            for b, start in enumerate(range(0, self.n, self.chunk)):
                rows = idx[bounds[b] : bounds[b + 1]] - start
                if rows.size:
                    block = self._cost_block(start, min(self.n, start + self.chunk))[rows]
                    lab, val = self._argmin(block, psi_s)
                    labs.append(lab)
                    vals.append(val)
        lab = np.concatenate(labs)
        m = np.bincount(lab, minlength=self.ns) * w
        return m.astype(float), float(np.concatenate(vals).sum() * w)

    def __call__(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        """``(cell masses (|S|,), SDOT term of q)`` for endpoint potentials ``psi_s``."""
        if self.samples is not None:
            return self._sampled(psi_s)
        return self.exact(psi_s)

    def exact(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        """As ``__call__``, over all points (never sampled)."""
        m = np.zeros(self.ns)
        sdot = 0.0
        for start, stop, lab, val in self._label_blocks(psi_s):
            w = self.mass[start:stop]
            m += np.bincount(lab, weights=w, minlength=self.ns)
            if not self._all_positive:
                val = np.where(w > 0, val, 0.0)
            # einsum, not BLAS: a threaded BLAS dot costs milliseconds here on a loaded machine
            sdot += float(np.einsum("i,i->", w, val))
        return m, sdot

    def labels(self, psi_s: NDArray[np.float64]) -> NDArray[np.intp]:
        r"""Assignment `T(x_k) = \arg\min_i c(x_k,i) - \psi_i` (column index), per point."""
        out = np.empty(self.n, dtype=np.intp)
        for start, stop, lab, _ in self._label_blocks(psi_s):
            out[start:stop] = lab
        return out
