r"""A damped Newton step rule for the dual-ascent backend: second-order, and still local.

The dual (3)-(4) of Laurentin et al. (2025) is concave; a diagonal step (:class:`Curvature`) cannot
see how the mass of one Laguerre cell moves with its neighbours' potentials, and at many endpoints
that coupling is everything. This module maximizes an entropic smoothing of (4),

.. math::
    q_\varepsilon(\psi) = \sum_k \mu_k\, \mathrm{softmin}_\varepsilon\{c(x_k,i) - \psi_i\}_{i\in C_k}
      + \sum_i \psi_i s_i + \sum_{(i,j)} \min_{p\in[l_{ij},u_{ij}]}\{c_{ij}(p) - (\psi_i-\psi_j)p\},
    \qquad \mathrm{softmin}_\varepsilon\{v_i\} = -\varepsilon \log\sum_i e^{-v_i/\varepsilon},

by damped Newton steps while the temperature :math:`\varepsilon` falls as the residual closes
(:math:`C_k` are the ``candidates`` endpoints of lowest :math:`c(x_k,i)-\psi_i`; the others carry
weights below :math:`e^{-\Delta/\varepsilon}` and are dropped). Its gradient is the supergradient (6)-(7)
with the hard cell masses replaced by soft ones, :math:`m_i = \sum_k \mu_k P_{ki}`,
:math:`P_{k\cdot} = \mathrm{softmax}(-(c(x_k,\cdot)-\psi)/\varepsilon)`, and its Hessian is
:math:`-L` with :math:`L` a weighted graph Laplacian,

.. math::
    L = \underbrace{\sum_k \frac{\mu_k}{\varepsilon}\big(\mathrm{diag}(P_k) - P_k P_k^\top\big)}_{\text{cells: weight }
      w_{ij} = \sum_k \mu_k P_{ki}P_{kj}/\varepsilon}
      + \underbrace{\sum_{(i,j)\ \text{free}} \frac{1}{2a_{ij}} (e_i - e_j)(e_i - e_j)^\top}_{\text{arcs}},

whose edges are the network's arcs whose response (5) is strictly inside its bounds and the pairs of
*adjacent* cells (cells that share points of positive weight on both sides: the soft boundary).

Why entropic smoothing. For demand given by points the dual (4) is piecewise linear: its Hessian
vanishes almost everywhere and a Newton step is undefined. Integrating a ``Grid`` exactly as the
piecewise-constant density it samples would give a :math:`C^1` dual, but for the Euclidean cost of the
source paper the cells are bounded by hyperbola arcs (Apollonius diagrams), not the power-diagram
polygons of the squared Euclidean cost, so exact integration is not available in closed form for
the problems this backend serves. The entropic smoothing works for every assignment cost and
every demand, costs one pass over the points per evaluation (as Algorithm 1's line 9), and its
error is controlled: :math:`q_\varepsilon \le q \le q_\varepsilon + \varepsilon\,\mu(X)\log|C|`.
The temperature starts at a fraction of the typical cost gap between a point's two best endpoints
and is divided by ``shrink`` whenever the smoothed residual :math:`\|g_\varepsilon\|_1/\mu(X)` falls
below ``shrink_at`` (the gap of the smoothed problem has closed), down to ``eps_min``, a fraction of the
cost change between neighbouring demand points (below it the soft boundary holds too few points to
carry curvature, and nothing is gained: the certificate is then already limited by the points).

What is certified. The returned plan is the soft plan :math:`\pi_{ki} = \mu_k P_{ki}` at the last
potentials (entries below ``plan_floor`` dropped): a transport plan of the *discrete* demand that
splits boundary points, as optimal discrete plans do. :func:`otmodel.validation.certify` judges it
exactly as any other answer: the dual bound is the exact, piecewise-linear :math:`q(\psi)` of (4) over the
points, the upper bound the objective of the repaired point (this plan, the network flows
re-solved for its cell masses). So "certified to 1e-6" means: the optimum of the discretized problem
(2) lies within 1e-6 (relative) of the returned, repaired point. For a ``Grid`` this is the problem on
the cell-centred points (midpoint rule), not on the continuous density.

Damping (Kitagawa, Merigot and Thibert, 2019). A trial step :math:`\psi + \tau d` is accepted when

1. every cell keeps a positive mass: :math:`m_i(\psi+\tau d) \ge \kappa` for every endpoint with
   :math:`m_i(\psi) \ge \kappa`, :math:`\kappa` = ``kmt`` times the smallest cell mass at the start
   (and, for a pure semi-discrete problem, the smallest target mass): no cell collapses;
2. the smoothed dual increases enough (Armijo): :math:`q_\varepsilon(\psi+\tau d) \ge q_\varepsilon(\psi)
   + \texttt{armijo}\,\tau\, g_\varepsilon^\top d`;

otherwise :math:`\tau` is halved (at most ``max_halvings`` times).

Locality. What node ``i`` reads to take part in one Newton iteration:

* its row of :math:`L`: for every arc at ``i``, whether its flow is strictly inside the bounds (the
  flow of Algorithm 1, line 6, which reads the two end potentials) and :math:`a_{ij}`; at an endpoint,
  the points of its own soft cell (those with :math:`P_{ki} > 0`) and, for each, the weights
  :math:`P_{kj}` of the competing endpoints -- the potentials of the adjacent cells only;
* its gradient entry :math:`g_i`: its supply, its arcs' flows and its soft cell mass (as (6)-(7));
* conjugate gradients on :math:`(L + \delta I) d = g` (Jacobi preconditioner :math:`\mathrm{diag}(L)_i`,
  local): each CG iteration is one product :math:`(Lv)_i = \sum_{j\sim i} w_{ij}(v_i - v_j)`, an
  exchange of :math:`v` with the graph neighbours, plus two scalar sums over all nodes (inner products:
  an all-reduce, the only non-neighbour communication, as in any distributed CG);
* the line search: the same reads at the trial point, and two more scalar sums (the change of
  :math:`q_\varepsilon` and the slope :math:`g^\top d`) and a minimum (the mass test);
* the temperature update: one scalar sum (the residual norm) and a broadcast of the new :math:`\varepsilon`.

:math:`\delta = 10^{-10}\max_i L_{ii}` makes the system definite on graph components whose
residual does not sum to zero (a cell with no soft boundary at a very low temperature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends.dual_ascent import CellPass, PrunedArgmin, _combine, local_flows
from otmodel.errors import InvalidDataError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = ["Newton", "SoftCells", "pcg", "laplacian"]


# ------------------------------------------------------------------------------ the rule
@dataclass(frozen=True)
class Newton:
    r"""Damped Newton steps on the entropically smoothed dual (see the module docstring).

    Parameters
    ----------
    eps0 : float, optional
        Starting temperature, in cost units (default: ``start_fraction`` times the median gap
        between the best and second-best endpoint of the points, at the starting potentials).
    eps_min : float, optional
        Final temperature (default: ``min_fraction`` times the median change of a point's best
        cost between neighbouring demand points).
    shrink : float
        Factor dividing the temperature each time the smoothed residual is below ``shrink_at``.
    shrink_at : float
        Relative smoothed residual :math:`\|g_\varepsilon\|_1/(2\mu(X))` at which the temperature falls.
    candidates : int
        Endpoints kept per point in the soft minimum (the ``candidates`` lowest :math:`c - \psi`).
    cg_tol, cg_maxiter : float, int
        Relative residual and iteration cap of the conjugate gradients.
    armijo, kmt, max_halvings : float, float, int
        Line search: sufficient increase, mass floor fraction, halvings (see the module docstring).
    plan_floor : float
        Plan entries with :math:`P_{ki}` below this are dropped from the returned plan.
    excess_rtol : float
        The temperature stops falling once the soft plan costs at most this much (relative to
        :math:`|q|`) above the hard dual value: :math:`\sum_k \mu_k \sum_i P_{ki}(c(x_k,i)-\psi_i - \min_j
        (c(x_k,j)-\psi_j)) \le` ``excess_rtol`` :math:`\max(1,|q(\psi)|)` (the plan's share of the gap).
    done_at : float
        Smoothed residual at which, at the final temperature, the rule returns a zero step (the
        loop's ``tol`` rule then stops).
    """

    eps0: float | None = None
    eps_min: float | None = None
    shrink: float = 4.0
    shrink_at: float = 1e-3
    candidates: int = 8
    start_fraction: float = 0.5
    min_fraction: float = 1e-3
    cg_tol: float = 1e-10
    cg_maxiter: int = 500
    armijo: float = 1e-4
    kmt: float = 0.5
    max_halvings: int = 30
    plan_floor: float = 1e-12
    excess_rtol: float = 1e-8
    done_at: float = 1e-13

    def __post_init__(self) -> None:
        for name in ("eps0", "eps_min"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise InvalidDataError(f"Newton: {name}={v!r} must be a positive finite number")
        if not (math.isfinite(self.shrink) and self.shrink > 1):
            raise InvalidDataError(f"Newton: shrink={self.shrink!r} must be > 1")
        if not (0 < self.shrink_at < 1):
            raise InvalidDataError(f"Newton: shrink_at={self.shrink_at!r} must lie in (0, 1)")
        if int(self.candidates) < 2:
            raise InvalidDataError(f"Newton: candidates={self.candidates!r} must be at least 2")
        if not (0 < self.armijo < 0.5):
            raise InvalidDataError(f"Newton: armijo={self.armijo!r} must lie in (0, 0.5)")
        if not (0 <= self.kmt < 1):
            raise InvalidDataError(f"Newton: kmt={self.kmt!r} must lie in [0, 1)")
        if not (0 < self.start_fraction and 0 < self.min_fraction):
            raise InvalidDataError("Newton: start_fraction and min_fraction must be positive")

    def start(self, problem: FlowProblem, chunk: int | None = None) -> _NewtonSteps:
        """The per-solve stepper (holds the temperature and the last evaluation)."""
        return _NewtonSteps(self, problem, chunk)


# ------------------------------------------------------------------------------ soft cells
@dataclass
class SoftEval:
    """One pass over the points at ``(psi_S, eps)``: soft and hard cell data."""

    eps: float
    m_soft: NDArray[np.float64]
    sdot_soft: float
    m_hard: NDArray[np.float64]
    sdot_hard: float
    hess: sp.csr_matrix  # cell part of L, |S| x |S|
    excess: float  # sum_k mu_k sum_i P_ki (v_ki - min_j v_kj) >= 0: the soft plan's cost above q
    gap_median: float  # median best/second-best gap over the points (for the first temperature)


class SoftCells:
    r"""Soft and hard Laguerre cells in one pass over the demand points.

    For every point the ``K`` endpoints of lowest :math:`c(x_k,i) - \psi_i` are found (for planar
    metric costs by the k-d tree over lifted endpoints of :class:`PrunedArgmin`, with its exactness
    test for the best one and a full scan for the points that fail it; otherwise by a full scan of the
    cost block). The best one is exact (lowest index on ties), so the hard masses and the hard SDOT
    term of (4) equal those of :class:`CellPass`; the soft ones use the ``K`` candidates.
    """

    def __init__(self, problem: SpatialFlowProblem, candidates: int = 8, chunk: int | None = None) -> None:
        self.problem = problem
        self.n, self.ns = problem.n_points, problem.n_endpoints
        self.K = int(min(candidates, self.ns))
        self.mass = np.asarray(problem.demand.mass, dtype=float)
        self.xy = np.asarray(problem.demand.xy, dtype=float)
        self.yxy = np.asarray(problem.endpoint_xy, dtype=float)
        self.cost = problem.assignment_cost
        self.tree_ok = PrunedArgmin.supports(self.cost) and self.ns > self.K
        self.pruner = PrunedArgmin(self.cost, self.yxy, k=self.K) if self.tree_ok else None
        self.cells = None if self.tree_ok else CellPass(problem, chunk, precompute="auto", prune=False)
        self.chunk = int(chunk) if chunk else 262_144

    def _brute(
        self, vals: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The ``K`` lowest columns of ``vals`` (any order) and their values."""
        if self.K >= vals.shape[1]:
            cols = np.broadcast_to(np.arange(vals.shape[1]), vals.shape).copy()
            return cols, vals
        cols = np.argpartition(vals, self.K - 1, axis=1)[:, : self.K]
        return cols, np.take_along_axis(vals, cols, axis=1)

    def _blocks(self, psi_s: NDArray[np.float64]) -> Any:
        """``(start, stop, cols (n,K), vals (n,K), best label, best value)`` per block."""
        if self.pruner is not None:
            pr = self.pruner
            pr.set_potentials(psi_s)
            for start in range(0, self.n, self.chunk):
                stop = min(self.n, start + self.chunk)
                x = self.xy[start:stop]
                lifted = np.column_stack([x, np.zeros(x.shape[0])])
                dist, cols = pr.tree.query(lifted, k=self.K, p=pr.p)
                vals = pr._values(x, cols)
                vmin = vals.min(axis=1)
                lab = np.where(vals == vmin[:, None], cols, self.ns).min(axis=1)
                far = dist[:, -1] ** 2 if pr.squared else dist[:, -1]
                margin = 1e-9 * (np.abs(vmin) + abs(pr.shift) + far + 1.0)
                bad = np.flatnonzero(~(far - pr.shift > vmin + margin))
                if bad.size:  # the tree cannot prove the best endpoint: scan all (exact)
                    allv = _combine(self.cost, x[bad, 0:1] - self.yxy[:, 0], x[bad, 1:2] - self.yxy[:, 1]) - psi_s
                    c2, v2 = self._brute(allv)
                    cols[bad], vals[bad] = c2, v2
                    lab[bad] = np.argmin(allv, axis=1)
                    vmin[bad] = allv[np.arange(bad.size), lab[bad]]
                yield start, stop, cols, vals, lab, vmin
            return
        assert self.cells is not None
        for start, stop, block in self.cells._blocks():
            allv = block - psi_s
            cols, vals = self._brute(allv)
            lab = np.argmin(allv, axis=1)
            yield start, stop, cols, vals, lab, allv[np.arange(stop - start), lab]

    plan_floor = 1e-12

    def evaluate(self, psi_s: NDArray[np.float64], eps: float, plan: bool = False) -> tuple[SoftEval, Any]:
        """Soft/hard masses, SDOT terms and the cell Laplacian at ``psi_s``; the soft plan if asked."""
        ns, K = self.ns, self.K
        m_soft, m_hard = np.zeros(ns), np.zeros(ns)
        sdot_soft = sdot_hard = excess = 0.0
        hr: list[NDArray[np.intp]] = []
        hc: list[NDArray[np.intp]] = []
        hw: list[NDArray[np.float64]] = []
        gaps: list[NDArray[np.float64]] = []
        prow: list[NDArray[np.intp]] = []
        pcol: list[NDArray[np.intp]] = []
        pval: list[NDArray[np.float64]] = []
        pairs = [(a, b) for a in range(K) for b in range(a + 1, K)]
        for start, stop, cols, vals, lab, vmin in self._blocks(psi_s):
            w = self.mass[start:stop]
            pos = w > 0
            # zero-mass points may sit at infinite cost: they carry nothing
            vmin_f = np.where(pos, vmin, 0.0)
            sdot_hard += float(np.einsum("i,i->", w, vmin_f))
            m_hard += np.bincount(lab, weights=w, minlength=ns)
            with np.errstate(invalid="ignore", over="ignore"):
                z = np.exp(-(vals - vmin[:, None]) / eps)
            z = np.where(np.isfinite(z), z, 0.0)
            zs = z.sum(axis=1)
            P = z / zs[:, None]
            sdot_soft += float(np.einsum("i,i->", w, vmin_f - eps * np.log(zs)))
            m_soft += np.bincount(cols.ravel(), weights=(P * w[:, None]).ravel(), minlength=ns)
            with np.errstate(invalid="ignore"):
                dv = np.where(P > 0, vals - vmin[:, None], 0.0)
            excess += float(np.einsum("i,i->", w, (P * dv).sum(axis=1)))
            srt = np.sort(np.where(np.isfinite(vals), vals, np.inf), axis=1)
            if srt.shape[1] > 1:
                gaps.append((srt[:, 1] - srt[:, 0])[pos][:: max(1, (stop - start) // 2000)])
            # boundary points: a second weight that matters
            p2 = np.sort(P, axis=1)[:, -2] if K > 1 else np.zeros(stop - start)
            rows = np.flatnonzero((p2 > 1e-14) & pos)
            if rows.size:
                Pr, cr, wr = P[rows], cols[rows], w[rows] / eps
                for a, b in pairs:
                    ww = wr * Pr[:, a] * Pr[:, b]
                    keep = ww > 0
                    hr.append(cr[keep, a])
                    hc.append(cr[keep, b])
                    hw.append(ww[keep])
            if plan:
                keep = P >= self.plan_floor
                r = np.broadcast_to(np.arange(start, stop)[:, None], P.shape)
                prow.append(r[keep])
                pcol.append(cols[keep])
                pval.append((P * w[:, None])[keep])
        if hr:
            r_, c_, w_ = np.concatenate(hr), np.concatenate(hc), np.concatenate(hw)
            W = sp.coo_matrix((np.concatenate([w_, w_]), (np.concatenate([r_, c_]), np.concatenate([c_, r_]))), shape=(ns, ns)).tocsr()
        else:
            W = sp.csr_matrix((ns, ns))
        g = np.concatenate(gaps) if gaps else np.zeros(0)
        g = g[np.isfinite(g)]
        ev = SoftEval(
            eps, m_soft, sdot_soft, m_hard, sdot_hard, laplacian(W), excess, float(np.median(g)) if g.size else 1.0
        )
        out = None
        if plan:
            out = sp.csr_matrix(
                (np.concatenate(pval), (np.concatenate(prow), np.concatenate(pcol))), shape=(self.n, ns)
            )
        return ev, out

    def neighbour_cost_change(self, psi_s: NDArray[np.float64]) -> float:
        """Median change of a point's best cost between neighbouring demand points (sampled)."""
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
            tree = cKDTree(self.xy)
            _, nn = tree.query(self.xy[idx], k=2)
            nb = nn[:, 1]
        nb = np.clip(nb, 0, self.n - 1)
        both = np.concatenate([idx, nb])
        order = np.argsort(both, kind="stable")
        rows = both[order]
        vals = np.empty((rows.size, self.ns))
        for a in range(0, rows.size, 4096):
            r = rows[a : a + 4096]
            vals[a : a + 4096] = self._cost_rows(r)
        back = np.empty_like(order)
        back[order] = np.arange(order.size)
        v = vals[back] - psi_s
        best = np.argmin(v[: idx.size], axis=1)
        d = np.abs(v[: idx.size][np.arange(idx.size), best] - v[idx.size :][np.arange(idx.size), best])
        d = d[np.isfinite(d) & (d > 0)]
        return float(np.median(d)) if d.size else 1.0

    def _cost_rows(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        if PrunedArgmin.supports(self.cost):
            x = self.xy[rows]
            return _combine(self.cost, x[:, 0:1] - self.yxy[:, 0], x[:, 1:2] - self.yxy[:, 1])
        out = np.empty((rows.size, self.ns))
        for i, r in enumerate(rows):  # a few thousand rows of a matrix/geodesic cost, once per solve
            out[i] = self.problem.cost_block(int(r), int(r) + 1)[0]
        return out


# ------------------------------------------------------------------------------ linear algebra
def laplacian(W: sp.spmatrix) -> sp.csr_matrix:
    r"""Graph Laplacian :math:`\mathrm{diag}(W\mathbf 1) - W` of a symmetric weight matrix."""
    W = sp.csr_matrix(W)
    W.setdiag(0.0)
    W.eliminate_zeros()
    d = np.asarray(W.sum(axis=1)).reshape(-1)
    return sp.csr_matrix(sp.diags(d) - W)


def pcg(
    L: sp.csr_matrix, b: NDArray[np.float64], shift: float, tol: float, maxiter: int
) -> tuple[NDArray[np.float64], int]:
    r"""Jacobi-preconditioned conjugate gradients on :math:`(L + \text{shift}\,I)x = b`.

    One product with ``L`` per iteration (a neighbour exchange) and two inner products (global sums).
    """
    diag = L.diagonal() + shift
    inv = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 0.0)
    x = np.zeros_like(b)
    r = b.copy()
    z = inv * r
    p = z.copy()
    rz = float(r @ z)
    nb = float(np.linalg.norm(b))
    if nb == 0:
        return x, 0
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007 -- the count is returned
        Ap = L @ p + shift * p
        pAp = float(p @ Ap)
        if pAp <= 0:
            break
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        if float(np.linalg.norm(r)) <= tol * nb:
            break
        z = inv * r
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, it


# ------------------------------------------------------------------------------ the stepper
class _NewtonSteps:
    """Per-solve state of :class:`Newton`: the temperature and the last evaluations."""

    def __init__(self, rule: Newton, problem: FlowProblem, chunk: int | None = None) -> None:
        self.rule = rule
        self.problem = problem
        self.n = problem.n_nodes
        self.supply = np.asarray(problem.supply, dtype=float)
        self.tails, self.heads = np.asarray(problem.tails), np.asarray(problem.heads)
        self.lower, self.upper = np.asarray(problem.lower), np.asarray(problem.upper)
        self.inv2a = 1.0 / (2.0 * np.asarray(problem.costs.a, dtype=float)) if problem.n_arcs else np.zeros(0)
        self.spatial = isinstance(problem, SpatialFlowProblem)
        self.cells = SoftCells(problem, rule.candidates, chunk) if isinstance(problem, SpatialFlowProblem) else None
        if self.cells is not None:
            self.cells.plan_floor = rule.plan_floor
        self.ends = np.asarray(problem.endpoints) if isinstance(problem, SpatialFlowProblem) else np.zeros(0, int)
        self.total = float(problem.demand.total) if isinstance(problem, SpatialFlowProblem) else 1.0
        self.eps: float | None = rule.eps0
        self.eps_min: float | None = rule.eps_min
        self.kappa: float | None = None
        self.cache: dict[str, Any] | None = None  # evaluation at the current iterate
        self.history: list[dict[str, float]] = []

    # --------------------------------------------------------------- evaluation
    def _arcs(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        p = self.problem
        flows = local_flows(psi[self.tails], psi[self.heads], p.costs, self.lower, self.upper)
        t = psi[self.tails] - psi[self.heads]
        return flows, float(np.sum(p.costs.conjugate_term(t, self.lower, self.upper)))

    def evaluate(self, psi: NDArray[np.float64], eps: float, plan: bool = False) -> dict[str, Any]:
        """Everything one iteration needs at ``psi``: hard and soft gradient and dual value, L."""
        flows, arc_term = self._arcs(psi)
        net = np.bincount(self.tails, weights=flows, minlength=self.n) - np.bincount(
            self.heads, weights=flows, minlength=self.n
        )
        base = self.supply - net
        lin = float(psi @ self.supply) + arc_term
        free = (flows > self.lower) & (flows < self.upper)
        wa = np.where(free, self.inv2a, 0.0)
        La = laplacian(
            sp.coo_matrix(
                (np.concatenate([wa, wa]), (np.concatenate([self.tails, self.heads]), np.concatenate([self.heads, self.tails]))),
                shape=(self.n, self.n),
            )
        )
        out: dict[str, Any] = {"psi": psi.copy(), "eps": eps, "flows": flows}
        if self.cells is None:
            out.update(
                g_hard=base, q_hard=lin, g_soft=base, q_soft=lin, L=La, m_soft=None, m_hard=None, plan=None, excess=0.0
            )
            return out
        ev, pl = self.cells.evaluate(psi[self.ends], eps, plan=plan)
        g_soft, g_hard = base.copy(), base.copy()
        g_soft[self.ends] -= ev.m_soft
        g_hard[self.ends] -= ev.m_hard
        P = sp.csr_matrix((np.ones(self.ends.size), (self.ends, np.arange(self.ends.size))), shape=(self.n, self.ends.size))
        L = sp.csr_matrix(La + P @ ev.hess @ P.T)
        out.update(
            g_hard=g_hard,
            q_hard=lin + ev.sdot_hard,
            g_soft=g_soft,
            q_soft=lin + ev.sdot_soft,
            L=L,
            m_soft=ev.m_soft,
            m_hard=ev.m_hard,
            plan=pl,
            gap_median=ev.gap_median,
            excess=ev.excess,
        )
        return out

    def _first_temperature(self, psi: NDArray[np.float64]) -> None:
        if self.cells is None:
            self.eps = self.eps or 1.0
            self.eps_min = self.eps_min or self.eps
            return
        if self.eps_min is None:
            self.eps_min = self.rule.min_fraction * self.cells.neighbour_cost_change(psi[self.ends])
        if self.eps is None:
            probe = self.evaluate(psi, max(self.eps_min, 1e-12))
            self.eps = max(self.eps_min, self.rule.start_fraction * probe["gap_median"])

    def _too_warm(self, ev: dict[str, Any]) -> bool:
        """Whether the soft plan's excess cost is above ``excess_rtol`` of the dual value."""
        return bool(ev["excess"] > self.rule.excess_rtol * max(1.0, abs(ev["q_hard"])))

    def residual(self, ev: dict[str, Any]) -> float:
        """Relative smoothed residual :math:`\\|g_\\varepsilon\\|_1 / (2\\mu(X))` (or the supply scale)."""
        scale = 2.0 * max(self.total, float(np.abs(self.supply).sum()) / 2.0, 1e-300)
        return float(np.abs(ev["g_soft"]).sum()) / scale

    # --------------------------------------------------------------- loop hooks
    def oracle(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """The loop's oracle: hard supergradient and q(psi) (for the trace) from the same pass."""
        if self.eps is None:
            self._first_temperature(psi)
        assert self.eps is not None and self.eps_min is not None
        ev = self.cache if self.cache is not None and np.array_equal(self.cache["psi"], psi) and self.cache["eps"] == self.eps else None
        if ev is None:
            ev = self.evaluate(psi, self.eps)
        # the temperature falls as the smoothed problem's gap closes (before the step is taken)
        while self.eps > self.eps_min and self.residual(ev) <= self.rule.shrink_at and self._too_warm(ev):
            self.eps = max(self.eps_min, self.eps / self.rule.shrink)
            ev = self.evaluate(psi, self.eps)
        if self.kappa is None and ev["m_soft"] is not None:
            m0 = ev["m_soft"]
            floor = float(m0[m0 > 0].min()) if np.any(m0 > 0) else 0.0
            ends_supply = self.supply[self.ends]
            if self.problem.n_arcs == 0 and np.all(ends_supply > 0):  # pure SDOT: targets are known
                floor = min(floor, float(ends_supply.min()))
            self.kappa = self.rule.kmt * floor
        self.cache = ev
        g = ev["g_hard"]
        rec = {
            "dual_value": ev["q_hard"],
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
            "temperature": float(self.eps),
            "smoothed_residual": self.residual(ev),
        }
        return g, rec

    def update(self, k: int, state: Any) -> tuple[NDArray[np.float64], float, dict[str, float]]:
        """The increment of iteration ``k``: a damped Newton step on :math:`q_\\varepsilon`."""
        ev = self.cache
        assert ev is not None and self.eps is not None and self.eps_min is not None
        psi = ev["psi"]
        if self.residual(ev) <= self.rule.done_at and (self.eps <= self.eps_min or not self._too_warm(ev)):
            info0 = {"newton_step": 0.0, "cg_iterations": 0.0}
            self.history.append(info0)
            return np.zeros_like(psi), 0.0, info0  # converged at the final temperature: the loop stops
        L, g = ev["L"], ev["g_soft"]
        dmax = float(L.diagonal().max()) if L.shape[0] else 1.0
        shift = 1e-10 * (dmax if dmax > 0 else 1.0)
        d, its = pcg(L, g - g.mean() if self.problem.n_arcs == 0 else g, shift, self.rule.cg_tol, self.rule.cg_maxiter)
        slope = float(g @ d)
        tau = 1.0
        accepted = None
        for _ in range(self.rule.max_halvings + 1):
            trial = self.evaluate(psi + tau * d, self.eps)
            ok_mass = True
            if self.kappa and ev["m_soft"] is not None:
                watch = ev["m_soft"] >= self.kappa
                ok_mass = bool(np.all(trial["m_soft"][watch] >= self.kappa))
            ok_q = trial["q_soft"] >= ev["q_soft"] + self.rule.armijo * tau * slope
            if ok_mass and ok_q:
                accepted = trial
                break
            tau *= 0.5
        info = {"newton_step": tau if accepted is not None else 0.0, "cg_iterations": float(its)}
        self.history.append(info)
        if accepted is None:
            return np.zeros_like(psi), 0.0, info
        self.cache = accepted
        return tau * d, tau, info

    def reconstruct(self, psi: NDArray[np.float64]) -> dict[str, Any]:
        """The soft plan and its cell masses at the last potentials (the returned point)."""
        assert self.eps is not None
        return self.evaluate(psi, self.eps, plan=True)
