r"""The ``dual-ascent`` backend: the distributed supergradient method of Laurentin et al. (2025).

It maximizes the concave dual function (eq. (3)-(4))

.. math::
    q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_{i\in\mathcal N} \psi_i s_i
      + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

by the supergradient iteration (8), `\psi^{k+1} = \psi^k + \gamma_k g(\psi^k)`, with the
supergradient of Proposition 2,

.. math::
    g_i(\psi) = s_i - \sum_{(i,j)} p_{ij}(\psi) + \sum_{(j,i)} p_{ji}(\psi)
      - [i\in\mathcal S]\, \mu(\mathrm{Lag}_i(\psi)),   \qquad (6)-(7)

where `p_{ij}(\psi)` is the local response (5) and
`\mathrm{Lag}_i(\psi) = \{x: c(x,i) - \psi_i \le c(x,j) - \psi_j\ \forall j\}` the generalized
Laguerre cell. Each step of Algorithm 1 is vectorized over nodes, arcs and demand points; the
functions ``local_flows`` and ``node_supergradient`` keep the locality of the distributed
algorithm visible (an arc's flow reads only the potentials of its two end nodes; a node's update
reads only its own arcs and, for an endpoint, its cell mass).

The primal point is reconstructed by Proposition 1 from the last potentials: flows
`p(\psi)` and the assignment `T(x) = \arg\min_i c(x,i) - \psi_i` (first index on ties).
It balances flow only approximately; the status is ``CONVERGED`` when the stopping rule of
Algorithm 1 (line 15) fired and ``ITERATION_LIMIT`` otherwise -- never ``OPTIMAL``: use
``otmodel.validation.certify`` to judge the point.

Requires strictly convex arc costs (Assumption 4): linear arcs make (5) set-valued and the
method is not applicable.

Options
-------
max_iter : int
    Number of supergradient steps (default 300, as in section V-A).
tol : float
    Stop when every `|\psi_i^{k+1} - \psi_i^k| < tol` (Algorithm 1, line 15; default 1e-7).
step_size : StepSize or float
    Step-size rule (default ``Diminishing(1, 0.01)``: `\gamma_k = 1/(1 + 0.01 k)`, the paper's);
    a number means a constant step; ``Curvature`` gives every node its own Newton-like step;
    ``Newton`` (``"newton"``) takes damped Newton steps on the
    entropically smoothed dual, a Laplacian system solved by neighbour exchanges (conjugate gradients),
    and returns its soft plan (see ``otmodel.backends.newton``; ``chunk``, ``precompute``, ``prune``
    and ``samples`` do not apply to it).
psi0 : array, optional
    Starting potentials (default zeros), one per node.
chunk : int
    Demand points per block in the cell-mass pass: memory ``O(chunk x |S| + N)``. Default
    ``min(65536, 2**23 // |S|)`` (at least 1024): one block of costs holds at most 64 MB.
precompute : {"auto", True, False}
    Keep the whole ``N x |S|`` cost matrix in memory (faster). ``"auto"`` (default) does so when
    ``N |S| <= 20e6``.
prune : {"auto", True, False}
    Find each point's argmin by a k-d tree over lifted endpoints (``PrunedArgmin``; Euclidean,
    squared Euclidean, Manhattan costs), exact. ``"auto"`` (default): for the chunked pass with at
    least ``PRUNE_MIN_ENDPOINTS`` endpoints.
samples : int, optional
    Stochastic variant (Remark 1): estimate the cell masses at every iteration from ``samples``
    fresh points drawn from mu (each carrying mu(X)/samples); the trace's ``dual_value`` is then
    the matching estimate of q. The final flows, masses and ``info["dual_value"]`` are exact.
seed : int, optional
    Seed of the sampling generator (same seed, same trace).
callback : callable, optional
    ``callback(k, state)`` with a ``LoopState`` whose ``x`` is psi and
    ``direction`` the supergradient; a true return value stops the iteration.
verbose : bool or int
    Print progress every ``verbose`` iterations (``True``: ten lines).

Trace columns (one entry per iteration, evaluated at `\psi^k` before its update):
``step_size``, ``dual_value`` (`q(\psi^k)`, eq. (4)), ``grad_norm`` (`\|g\|_2`),
``residual`` (`\max_i |g_i|`, the flow-balance residual), ``potentials`` (`\psi^k`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.backends._loop import Diminishing, LoopState, as_step_size, iterate
from otmodel.backends.base import Conformance, Timer, no_point_solution
from otmodel.certificates import find_infeasible_cut, verify_infeasibility_certificate
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.costs import ArcCosts
from otmodel.model.demand import Euclidean, Manhattan, SquaredEuclidean, block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "DualAscentBackend",
    "local_flows",
    "node_supergradient",
    "CellPass",
    "Curvature",
    "PrunedArgmin",
    "planar_costs",
    "dual_value",
    "supergradient",
    "PRECOMPUTE_LIMIT",
]

#: "auto" keeps the N x |S| cost matrix in memory when it has at most this many entries (160 MB).
PRECOMPUTE_LIMIT = 20_000_000
DEFAULT_CHUNK = None  # block_rows(|S|): at most 65,536 points and 2**23 costs per block


# ------------------------------------------------------------------------------ local steps
def local_flows(
    psi_tail: NDArray[np.float64],
    psi_head: NDArray[np.float64],
    costs: ArcCosts,
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Algorithm 1, line 6 (eq. (5)), for every arc at once.

    `p_{ij} = \arg\min_{p\in[l_{ij},u_{ij}]} c_{ij}(p) - (\psi_i - \psi_j) p`: arc ``(i, j)``
    reads only the potentials of its tail ``i`` and head ``j`` (lines 5 and 7 exchange exactly
    these values between neighbours).
    """
    return costs.response(psi_tail - psi_head, lower, upper)


def node_supergradient(
    supply: NDArray[np.float64],
    outflow: NDArray[np.float64],
    inflow: NDArray[np.float64],
    cell_mass: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Algorithm 1, lines 8-13 (eq. (6)-(7)), for every node at once.

    `g_i = s_i - \sum_{(i,j)} p_{ij} + \sum_{(j,i)} p_{ji} - m_i`, with `m_i` the mass
    of the Laguerre cell of endpoint ``i`` (line 9) and `m_i = 0` for other nodes (line 12).
    """
    return supply - outflow + inflow - cell_mass


@dataclass(frozen=True)
class Curvature:
    r"""Per-node Newton-like steps: each node divides its supergradient by its own curvature estimate.

    .. math:: \psi_i \leftarrow \psi_i + \omega\, g_i / h_i, \qquad
        h_i = \sum_{(i,j)\ \text{or}\ (j,i)\ \text{unclipped}} \frac{1}{2 a_{ij}} + [i\in\mathcal S]\,\sigma_i .

    The arc part is exact: along the coordinate `\psi_i` the arc term of (4) is a concave
    piecewise quadratic whose second derivative is `-1/(2a_{ij})` while the response (5) is
    strictly inside `[l_{ij}, u_{ij}]` and 0 once clipped. The cell part `\sigma_i`
    estimates `\partial \mu(\mathrm{Lag}_i)/\partial\psi_i` by a secant on the node's own
    last two iterates, `|m_i^k - m_i^{k-1}| / |\psi_i^k - \psi_i^{k-1}|`, safeguarded: it starts
    at ``mass_slope`` (default: the node's total arc curvature `\sum 1/(2a_{ij})` over all its
    arcs), is averaged with the previous estimate (weight ``damping`` on the new secant), kept within
    ``[lo, hi]`` times its starting value and never moves by more than a factor ``max_change`` per
    iteration; a secant is taken only when `\psi_i` moved.

    Locality. `h_i` reads the cost coefficients `a_{ij}` of node ``i``'s own arcs, whether
    each of its arc flows `p_{ij}` is clipped (the flows of lines 5-7, computed from
    `\psi_i, \psi_j` of its neighbours) and, at an endpoint, its own cell masses and potentials of
    the last two iterations (line 9). No node reads anything beyond its neighbours, so Algorithm 1 runs
    unchanged with line 14 replaced by `\psi_i \leftarrow \psi_i + \gamma_i^k g_i`.

    ``relax`` (`\omega`) damps the Jacobi-type update, whose diagonal scaling alone can
    overshoot on strongly coupled neighbours.
    """

    relax: float = 0.8
    mass_slope: float | None = None
    damping: float = 0.5
    lo: float = 1e-2
    hi: float = 1e3
    max_change: float = 10.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.relax) and 0 < self.relax <= 2):
            raise InvalidDataError(f"Curvature: relax={self.relax!r} must lie in (0, 2]")
        if self.mass_slope is not None and not (np.isfinite(self.mass_slope) and self.mass_slope > 0):
            raise InvalidDataError(f"Curvature: mass_slope={self.mass_slope!r} must be positive")
        if not 0 < self.damping <= 1:
            raise InvalidDataError(f"Curvature: damping={self.damping!r} must lie in (0, 1]")
        if not (0 < self.lo <= 1 <= self.hi and self.max_change > 1):
            raise InvalidDataError("Curvature: need 0 < lo <= 1 <= hi and max_change > 1")

    def start(self, problem: FlowProblem) -> _CurvatureSteps:
        """The per-solve stepper (holds the secant state; this object stays immutable)."""
        return _CurvatureSteps(self, problem)


class _CurvatureSteps:
    def __init__(self, rule: Curvature, problem: FlowProblem) -> None:
        self.rule = rule
        self.n = problem.n_nodes
        self.tails, self.heads = np.asarray(problem.tails), np.asarray(problem.heads)
        self.lower, self.upper = np.asarray(problem.lower), np.asarray(problem.upper)
        self.inv2a = 1.0 / (2.0 * np.asarray(problem.costs.a, dtype=float))
        full = self._per_node(self.inv2a)
        self.is_end = np.zeros(self.n, dtype=bool)
        if isinstance(problem, SpatialFlowProblem):
            self.is_end[problem.endpoints] = True
        # a node with no arc at all still needs a finite step: use the smallest arc curvature
        floor = float(self.inv2a.min()) if self.inv2a.size else 1.0
        self.full = np.where(full > 0, full, floor)
        s0 = self.full if rule.mass_slope is None else np.full(self.n, float(rule.mass_slope))
        self.s0 = s0
        self.sigma = s0.copy()
        self.prev_psi: NDArray[np.float64] | None = None
        self.prev_m: NDArray[np.float64] | None = None

    def _per_node(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(self.tails, weights=v, minlength=self.n).astype(float) + np.bincount(
            self.heads, weights=v, minlength=self.n
        )

    def node_steps(self, k: int, state: LoopState) -> NDArray[np.float64]:
        r = self.rule
        psi = state.x
        flows = state.record.get("_flows")
        m = state.record.get("_cell_mass")
        if flows is None:
            arc = self.full
        else:
            # strictly inside the bounds: the response moves with psi_i (slope 1/(2a)); clipped: flat
            free = (flows > self.lower) & (flows < self.upper)
            arc = self._per_node(np.where(free, self.inv2a, 0.0))
        if m is not None and self.prev_psi is not None and self.prev_m is not None:
            dpsi = np.abs(psi - self.prev_psi)
            moved = self.is_end & (dpsi > 1e-12 * (1.0 + np.abs(psi)))
            secant = np.abs(m - self.prev_m) / np.where(moved, dpsi, 1.0)
            new = (1 - r.damping) * self.sigma + r.damping * secant
            new = np.clip(new, self.sigma / r.max_change, self.sigma * r.max_change)
            new = np.clip(new, r.lo * self.s0, r.hi * self.s0)
            self.sigma = np.where(moved, new, self.sigma)
        if m is not None:
            self.prev_psi = psi.copy()
            self.prev_m = np.asarray(m, dtype=float).copy()
        h = arc + np.where(self.is_end, self.sigma, 0.0)
        h = np.where(h > 0, h, self.full)
        return r.relax / h


def _arc_sums(problem: FlowProblem, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per node: total flow on its outgoing arcs, total flow on its incoming arcs (line 7)."""
    n = problem.n_nodes
    out = np.bincount(problem.tails, weights=p, minlength=n).astype(float, copy=False)
    inn = np.bincount(problem.heads, weights=p, minlength=n).astype(float, copy=False)
    return out, inn


# ------------------------------------------------------------------------------ Laguerre cells
#: ``prune="auto"`` uses ``PrunedArgmin`` from this many endpoints on (chunked pass only).
PRUNE_MIN_ENDPOINTS = 64


def _combine(cost: Any, dx: NDArray[np.float64], dy: NDArray[np.float64]) -> NDArray[np.float64]:
    if isinstance(cost, Manhattan):
        return np.abs(dx) + np.abs(dy)
    sq = dx * dx
    sq += dy * dy
    return sq if isinstance(cost, SquaredEuclidean) else np.sqrt(sq, out=sq)


def planar_costs(cost: Any, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``c(x_k, y_i)`` for Euclidean, squared Euclidean and Manhattan costs, shape ``(len(x), len(y))``."""
    return _combine(cost, x[:, 0:1] - y[:, 0], x[:, 1:2] - y[:, 1])


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
        return _combine(self.cost, dx, dy) - self.psi[cols]

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


# ------------------------------------------------------------------------------ dual oracle
class _Oracle:
    """q(psi) and g(psi) of eq. (4), (6)-(7) in one pass."""

    def __init__(
        self,
        problem: FlowProblem,
        chunk: int | None,
        precompute: bool | str,
        prune: bool | str = "auto",
        samples: int | None = None,
        seed: Any = None,
    ) -> None:
        self.problem = problem
        self.supply = np.asarray(problem.supply, dtype=float)
        self.cells = (
            CellPass(problem, chunk, precompute, prune, samples, seed)
            if isinstance(problem, SpatialFlowProblem)
            else None
        )
        self.endpoints = problem.endpoints if isinstance(problem, SpatialFlowProblem) else None

    def flows(self, psi: NDArray[np.float64]) -> NDArray[np.float64]:
        p = self.problem
        return local_flows(psi[p.tails], psi[p.heads], p.costs, p.lower, p.upper)

    def evaluate(
        self, psi: NDArray[np.float64], exact: bool = False
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64] | None]:
        """``(g, q, flows, cell masses)`` at ``psi`` (``exact``: never sampled)."""
        p = self.problem
        flows = self.flows(psi)  # lines 5-6
        outflow, inflow = _arc_sums(p, flows)  # line 7
        m_nodes = np.zeros(p.n_nodes)
        masses = None
        sdot = 0.0
        if self.cells is not None:
            cells = self.cells.exact if exact else self.cells
            masses, sdot = cells(psi[self.endpoints])  # line 9 (Remark 1: sampled when asked)
            m_nodes[self.endpoints] = masses
        g = node_supergradient(self.supply, outflow, inflow, m_nodes)  # lines 10 and 12
        t = psi[p.tails] - psi[p.heads]
        q = sdot + float(psi @ self.supply) + float(np.sum(p.costs.conjugate_term(t, p.lower, p.upper)))
        return g, q, flows, masses

    def __call__(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        g, q, flows, masses = self.evaluate(psi)
        m_nodes = np.zeros(self.problem.n_nodes)
        if masses is not None:
            m_nodes[self.endpoints] = masses
        return g, {
            "dual_value": q,
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
            # per-node data for a local step rule (Curvature); "_" keys are not traced
            "_flows": flows,
            "_cell_mass": m_nodes if masses is not None else None,
        }


def _psi(problem: FlowProblem, psi: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(psi, dtype=float).reshape(-1)
    if v.shape != (problem.n_nodes,):
        raise InvalidDataError(f"psi has {v.size} entries for {problem.n_nodes} nodes")
    if not np.all(np.isfinite(v)):
        raise InvalidDataError("psi must be finite")
    return v


def dual_value(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> float:
    r"""The dual function `q(\psi)` of eq. (4) (a lower bound on the optimum for every psi)."""
    return _Oracle(problem, chunk, precompute).evaluate(_psi(problem, psi))[1]


def supergradient(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> NDArray[np.float64]:
    r"""The supergradient `g(\psi)` of Proposition 2, eq. (6)-(7)."""
    return _Oracle(problem, chunk, precompute).evaluate(_psi(problem, psi))[0]


# ------------------------------------------------------------------------------ backend
class DualAscentBackend:
    """Supergradient ascent on the dual (3)-(4), Algorithm 1 of Laurentin et al. (2025)."""

    name = "dual-ascent"
    capabilities = frozenset({"flow", "spatial", "quadratic", "iterative"})
    # strictly convex arc costs only (Assumption 4): the linear and mixed cases are outside the method
    conformance = Conformance(
        kinds=frozenset({"flow", "spatial", "graph"}),
        options={"tol": 1e-10, "max_iter": 20000},
        exclude_tags=frozenset({"linear", "mixed"}),
        skip={
            "planted_paper_layout": "measured: 20,000 supergradient steps (15 s) stop at objective 92.6165 "
            "against the optimum 92.7681, iteration limit; not converged to 1e-5"
        },
        allow_unsupported=True,
        optimal_statuses=(Status.CONVERGED,),
        rtol=1e-5, atol=1e-6, point_rtol=1e-4, point_atol=1e-4, feas_tol=1e-5,
    )

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        bad = problem.costs.nonstrict_arcs()
        if bad.size:
            names = [problem.arc_names[k] for k in bad[:5]]
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            return (
                "dual ascent needs strictly convex arc costs (Laurentin et al., Assumption 4); "
                f"arc{'s' if bad.size > 1 else ''} {', '.join(names)}{more} "
                f"{'have' if bad.size > 1 else 'has'} a linear cost"
            )
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        reason = self.supports(problem)
        if reason is not None:
            raise UnsupportedError(f"backend {self.name!r} cannot solve {problem!r}: {reason}")
        from otmodel.backends import _options as opt

        max_iter = opt.integer("dual-ascent", "max_iter", options.pop("max_iter", 300))
        tol = opt.number("dual-ascent", "tol", options.pop("tol", 1e-7), 0.0)
        step = as_step_size(options.pop("step_size", None), Diminishing(1.0, 0.01))
        psi0 = options.pop("psi0", None)
        chunk = options.pop("chunk", DEFAULT_CHUNK)
        precompute = options.pop("precompute", "auto")
        callback = options.pop("callback", None)
        verbose = options.pop("verbose", False)
        prune = options.pop("prune", "auto")
        samples = options.pop("samples", None)
        seed = options.pop("seed", None)  # used by the stochastic variant (samples=M) only
        if options:
            raise UnsupportedError(f"dual-ascent backend: unknown option(s) {sorted(options)}")

        timer = Timer()
        whole = bool(getattr(step, "whole_step", False))  # a second-order rule (Newton): its own cell pass
        if whole and samples is not None:
            raise UnsupportedError("dual-ascent backend: step_size=Newton needs exact cell masses, not samples=")
        with timer("feasibility"):
            # On an infeasible problem the dual (4) is unbounded above and the ascent would run to
            # max_iter without saying why; the cut check the exact backends use settles it first
            # (one max-flow over aggregated demand; measured on synthetic(200): 0.15 s, against
            # 3.0 s for the default 300 iterations) and returns the certificate it verified.
            cut = find_infeasible_cut(problem)
            proven = cut is not None and verify_infeasibility_certificate(problem, cut)
        if proven:
            return no_point_solution(
                problem,
                Status.INFEASIBLE,
                PointStatus.CERTIFICATE,
                self.name,
                "cut check (max-flow) before iterating",
                timer.done(),
                "infeasible: a node set whose net supply exceeds what its cut can carry (verified)",
                cut,
            )
        with timer("build"):
            x0 = np.zeros(problem.n_nodes) if psi0 is None else _psi(problem, psi0)
            stepper = step.start(problem) if hasattr(step, "start") else step
            # the Newton rule evaluates soft and hard cells in one pass of its own: no second oracle
            oracle = None if whole else _Oracle(problem, chunk, precompute, prune, samples, seed)
        with timer("solve"):
            run = iterate(
                stepper.oracle if oracle is None else oracle,
                x0,
                stepper,
                max_iter,
                tol,
                callback=callback,
                verbose=verbose,
                keep_iterates="potentials",
            )
        if oracle is None:
            return self._newton_solution(problem, step, stepper, run, timer)
        with timer("reconstruct"):
            psi = run.x
            # Proposition 1 / Algorithm 1 line 16: flows p(psi) and cells Lag_i(psi) at the last psi
            g, q, flows, masses = oracle.evaluate(psi, exact=True)
            plan = None
            if oracle.cells is not None:
                # T*(x) = argmin_i c(x, i) - psi_i: each point sends its whole mass to one endpoint
                lab = oracle.cells.labels(psi[oracle.endpoints])
                n, ns = oracle.cells.n, oracle.cells.ns
                plan = sp.csr_matrix((oracle.cells.mass.copy(), lab, np.arange(n + 1)), shape=(n, ns))
            objective = problem.objective(flows, plan)
        status = Status.CONVERGED if run.converged else Status.ITERATION_LIMIT
        gnorm = float(np.linalg.norm(g))
        residual = float(np.max(np.abs(g))) if g.size else 0.0
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=float(objective),
            flows=flows,
            potentials=psi,
            backend=self.name,
            solver=f"supergradient ascent ({step!r})",
            assignment=plan,
            cell_mass=masses,
            timings=timer.done(),
            trace=run.trace,
            iterations=run.iterations,
            message=f"{run.reason} after {run.iterations} iterations (last max |psi change| {run.last_change:.3g})",
            info={
                "dual_value": q,
                "grad_norm": gnorm,
                "residual": residual,
                "stopped_by": run.reason,
                "precomputed": bool(oracle.cells.precomputed) if oracle.cells is not None else None,
                "pruned": oracle.cells is not None and oracle.cells.pruner is not None,
                "samples": samples,
                "seed": seed,
            },
        )

    def _newton_solution(self, problem: FlowProblem, step: Any, stepper: Any, run: Any, timer: Timer) -> Solution:
        """The returned point of the Newton rule: flows p(psi) and the soft plan at the last psi."""
        with timer("reconstruct"):
            psi = run.x
            ev = stepper.reconstruct(psi)
            flows = ev["flows"]
            plan = ev["plan"]
            objective = problem.flow_objective(flows)
            if plan is not None:
                # sum_k mu_k sum_i P_ki c(x_k, i) = hard SDOT term + excess + psi_S . m, from the same pass
                objective += ev["sdot_hard"] + ev["excess"] + float(psi[stepper.ends] @ ev["m_soft"])
        g = ev["g_soft"]
        status = Status.CONVERGED if run.converged else Status.ITERATION_LIMIT
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=float(objective),
            flows=flows,
            potentials=psi,
            backend=self.name,
            solver=f"damped Newton on the smoothed dual ({step!r})",
            assignment=plan,
            cell_mass=ev["m_soft"],
            timings=timer.done(),
            trace=run.trace,
            iterations=run.iterations,
            message=f"{run.reason} after {run.iterations} iterations (last max |psi change| {run.last_change:.3g}, "
            f"temperature {stepper.eps:.3g})",
            info={
                "dual_value": ev["q_hard"],
                "smoothed_dual_value": ev["q_soft"],
                "temperature": float(stepper.eps),
                "grad_norm": float(np.linalg.norm(g)),
                "residual": float(np.max(np.abs(g))) if g.size else 0.0,
                "stopped_by": run.reason,
                "precomputed": None,
                "pruned": stepper.cells is not None and stepper.cells.kind >= 0,  # tiled candidates
                "samples": None,
                "seed": None,
            },
        )
