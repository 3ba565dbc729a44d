r"""A damped Newton step rule for the dual-ascent backend: second-order, and still local.

The dual (3)-(4) of Laurentin et al. (2025) is concave; a diagonal step (``Curvature``) cannot
see how the mass of one Laguerre cell moves with its neighbours' potentials, and at many endpoints
that coupling is everything. This module maximizes an entropic smoothing of (4),

.. math::
    q_\varepsilon(\psi) = \sum_k \mu_k\, \mathrm{softmin}_\varepsilon\{c(x_k,i) - \psi_i\}_{i\in C_k}
      + \sum_i \psi_i s_i + \sum_{(i,j)} \min_{p\in[l_{ij},u_{ij}]}\{c_{ij}(p) - (\psi_i-\psi_j)p\},
    \qquad \mathrm{softmin}_\varepsilon\{v_i\} = -\varepsilon \log\sum_i e^{-v_i/\varepsilon},

by damped Newton steps while the temperature `\varepsilon` falls as the residual closes
(`C_k` are the ``candidates`` endpoints of lowest `c(x_k,i)-\psi_i`; the others carry
weights below `e^{-\Delta/\varepsilon}` and are dropped). Its gradient is the supergradient (6)-(7)
with the hard cell masses replaced by soft ones, `m_i = \sum_k \mu_k P_{ki}`,
`P_{k\cdot} = \mathrm{softmax}(-(c(x_k,\cdot)-\psi)/\varepsilon)`, and its Hessian is
`-L` with `L` a weighted graph Laplacian,

.. math::
    L = \underbrace{\sum_k \frac{\mu_k}{\varepsilon}\big(\mathrm{diag}(P_k) - P_k P_k^\top\big)}_{\text{cells: weight }
      w_{ij} = \sum_k \mu_k P_{ki}P_{kj}/\varepsilon}
      + \underbrace{\sum_{(i,j)\ \text{free}} \frac{1}{2a_{ij}} (e_i - e_j)(e_i - e_j)^\top}_{\text{arcs}},

whose edges are the network's arcs whose response (5) is strictly inside its bounds and the pairs of
*adjacent* cells (cells that share points of positive weight on both sides: the soft boundary).

Why entropic smoothing. For demand given by points the dual (4) is piecewise linear: its Hessian
vanishes almost everywhere and a Newton step is undefined. Integrating a ``Grid`` exactly as the
piecewise-constant density it samples would give a `C^1` dual, but for the Euclidean cost of the
source paper the cells are bounded by hyperbola arcs (Apollonius diagrams), not the power-diagram
polygons of the squared Euclidean cost, so exact integration is not available in closed form for
the problems this backend serves. The entropic smoothing works for every assignment cost and
every demand, costs one pass over the points per evaluation (as Algorithm 1's line 9), and its
error is controlled: `q_\varepsilon \le q \le q_\varepsilon + \varepsilon\,\mu(X)\log|C|`.
The temperature starts at ``start_fraction`` times the median gap between a point's two best
endpoints and falls as the gap closes: it is divided by up to ``shrink`` (once per iteration, after
a full Newton step; less when the excess below is near its target) whenever the smoothed residual
`\|g_\varepsilon\|_1/(2\mu(X))` is below ``shrink_at`` (the smoothed problem is nearly solved) *and*
the soft plan still costs more than ``excess_rtol`` `|q(\psi)|` above the hard dual value
`q(\psi)` (its share of the certified gap, computed in the same pass), never below ``eps_min``
(``min_fraction`` times the median cost change between neighbouring demand points: colder, the soft
boundary holds too few points to carry curvature).

What is certified. The returned plan is the exact discrete finish of the soft plan
`\pi_{ki} = \mu_k P_{ki}` at the last potentials (``discrete_finish``: every point to its best
endpoint except the boundary points, whose split between their two best endpoints is one min-cost
flow between the cells, so that every cell receives exactly its mass; with ``finish=False``, or when
that flow is infeasible, the soft plan itself, entries below ``plan_floor`` dropped): a transport plan
of the *discrete* demand that splits boundary points, as optimal discrete plans do. Without arcs the
returned potentials are those of the flow where the exact dual (4) is higher there.
``otmodel.validation.certify`` judges it
exactly as any other answer: the dual bound is the exact, piecewise-linear `q(\psi)` of (4) over the
points, the upper bound the objective of the repaired point (this plan, the network flows
re-solved for its cell masses). So "certified to 1e-6" means: the optimum of the discretized problem
(2) lies within 1e-6 (relative) of the returned, repaired point. For a ``Grid`` this is the problem on
the cell-centred points (midpoint rule), not on the continuous density.

Damping (Kitagawa, Merigot and Thibert, 2019). A trial step `\psi + \tau d` is accepted when

1. every cell keeps a positive mass: `m_i(\psi+\tau d) \ge \kappa` for every endpoint with
   `m_i(\psi) \ge \kappa`, `\kappa` = ``kmt`` times the smallest cell mass at the start
   (and, for a pure semi-discrete problem, the smallest target mass): no cell collapses;
2. the smoothed dual increases enough (Armijo): `q_\varepsilon(\psi+\tau d) \ge q_\varepsilon(\psi)
   + \texttt{armijo}\,\tau\, g_\varepsilon^\top d`;

otherwise `\tau` is halved (at most ``max_halvings`` times).

Locality. What node ``i`` reads to take part in one Newton iteration:

* its row of `L`: for every arc at ``i``, whether its flow is strictly inside the bounds (the
  flow of Algorithm 1, line 6, which reads the two end potentials) and `a_{ij}`; at an endpoint,
  the points of its own soft cell (those with `P_{ki} > 0`) and, for each, the weights
  `P_{kj}` of the competing endpoints -- the potentials of the adjacent cells only;
* its gradient entry `g_i`: its supply, its arcs' flows and its soft cell mass (as (6)-(7));
* conjugate gradients on `(L + \delta I) d = g` (Jacobi preconditioner `\mathrm{diag}(L)_i`,
  local): each CG iteration is one product `(Lv)_i = \sum_{j\sim i} w_{ij}(v_i - v_j)`, an
  exchange of `v` with the graph neighbours, plus two scalar sums over all nodes (inner products:
  an all-reduce, the only non-neighbour communication, as in any distributed CG). In one
  process, systems of up to 400 nodes are solved directly (``linear_solver``): the same
  direction, computed centrally because that is faster there, not a different step;
* the line search: the same reads at the trial point, and two more scalar sums (the change of
  `q_\varepsilon` and the slope `g^\top d`) and a minimum (the mass test);
* the temperature update: two scalar sums (the residual norm and the excess) and a broadcast of the
  new `\varepsilon`;
* the exact finish (once, after the iterations): each boundary point reads its two best endpoints'
  potentials; the min-cost flow between the cells is one central LP over the cell graph (its rows are
  the endpoints, its columns the boundary points), the one step that is not neighbour-to-neighbour.

`\delta = 10^{-10}\max_i L_{ii}` makes the system definite on graph components whose
residual does not sum to zero (a cell with no soft boundary at a very low temperature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._soft_kernel import kernel as _kernel
from otmodel.backends.cells import CellPass, combine_planar
from otmodel.backends.oracle import local_flows
from otmodel.errors import InvalidDataError
from otmodel.model._demand_kernels import DemandTiles, best_two_xy
from otmodel.model.demand import Euclidean, Manhattan, SquaredEuclidean
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = ["Newton", "SoftCells", "pcg", "laplacian", "discrete_finish", "Finish"]


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
    shrink : float, optional
        Factor dividing the temperature each time the smoothed residual is below ``shrink_at``, at
        most: the soft plan's excess falls about as `\varepsilon^2` (the boundary band's mass and
        each of its points' excess are both proportional to `\varepsilon`), so the factor is
        `\min(\texttt{shrink}, \max(2, 2\sqrt{\text{excess}/\text{target}}))` with the target
        of ``excess_rtol``: colder than the target needs, Newton steps are damped (the soft
        boundary holds too few points). Measured on ``benchmarks/bench_many_endpoints.py`` (with the
        default ``done_at``, which saves one more): 16 with the cap against 4, 6 iterations instead
        of 8 at 100 endpoints on 50 x 50 (8 instead of 9 on ``synthetic(200)``); pure SDOT at 1,000
        sites, 1000 x 1000: 10 Newton steps instead of 12 (18 without the cap, which cools past
        the target). Default 16, but 4 for a pure SDOT
        problem without ``finish``: its soft plan must cool to an excess of ``1e-7`` `|q|`, far below
        the point spacing, where larger factors stall (1,000 sites, 1000 x 1000: masses at 1e-6
        after 25 steps with 4, not within 30 with 8 or 16).
    shrink_at : float
        Relative smoothed residual `\|g_\varepsilon\|_1/(2\mu(X))` at which the temperature falls.
    start_fraction, min_fraction : float
        The fractions of the defaults of ``eps0`` and ``eps_min``.
    candidates : int
        Endpoints kept per point in the soft minimum (the ``candidates`` lowest `c - \psi`).
    cg_tol, cg_maxiter : float, int
        Relative residual and iteration cap of the conjugate gradients.
    linear_solver : {"auto", "cg", "direct"}
        How the Newton system is solved: conjugate gradients (the local form of the module
        docstring), a dense Cholesky factorisation (the same direction, fastest in one process for
        small networks), or ``"auto"``: direct up to 400 nodes, CG above.
    armijo, kmt, max_halvings : float, float, int
        Line search: sufficient increase, mass floor fraction, halvings (see the module docstring).
    plan_floor : float
        Plan entries with `P_{ki}` below this are dropped from the returned plan.
    excess_rtol : float, optional
        The temperature stops falling once the soft plan costs at most this much (relative to
        `|q|`) above the hard dual value: `\sum_k \mu_k \sum_i P_{ki}(c(x_k,i)-\psi_i - \min_j
        (c(x_k,j)-\psi_j)) \le` ``excess_rtol`` `|q(\psi)|` (the plan's share of the gap).
        Default: ``1e-4`` for a pure semi-discrete problem (no arcs) with ``finish``, whose
        potentials close the gap at that temperature; ``1e-7`` otherwise, where the certified gap rests
        on `q(\psi)` at the soft optimum (see ``finish``).
    curvature_fraction : float
        The Hessian's cell weights are taken at the temperature
        `\varepsilon_H = \max(\varepsilon, \texttt{curvature\_fraction}\cdot\Delta_h)`, with
        `\Delta_h` the cost change between neighbouring points (as for ``eps_min``). Below the
        spacing of the points the soft boundary holds too few points to carry curvature (the
        smoothed dual tends to the piecewise-linear one); at `\varepsilon_H` the weights are those of the mass
        spread over about one point spacing, the curvature of the density the points sample. The step is then
        a Newton step of that density's dual, checked (line search) on `q_\varepsilon`. Default 0
        (off): measured on the benchmark instances, the damped steps it causes at low temperature cost
        more iterations than the exact Hessian of `q_\varepsilon` (14 against 9 at 50 x 50, 100 endpoints).
    done_at : float, optional
        Smoothed residual at which, at the final temperature, the rule returns a zero step (the
        loop's ``tol`` rule then stops). Default ``1e-13`` for a pure SDOT problem without
        ``finish`` (its soft cell masses are the returned ones and must meet the certificate's
        feasibility tolerance), ``1e-10`` otherwise (the repair re-solves the network for the plan's
        masses, or the finish makes them exact): one Newton step fewer on every row of
        ``benchmarks/bench_many_endpoints.py``, same certified gaps.
    finish : bool, optional
        Return the exact discrete plan of ``discrete_finish`` (the soft plan's boundary points
        moved by one min-cost flow between the cells, so that every cell gets exactly its mass) and,
        where the exact dual (4) is higher there, that flow's potentials; otherwise (or if the flow
        is infeasible or costs more) the soft plan. Without arcs (pure SDOT) those potentials
        certify the plan at a moderate temperature (measured: gap 2.1e-9 at 1,000 sites on a 1000 x
        1000 grid, after 10 Newton steps, where the soft plan alone needs 27 for 5.6e-8); with arcs, shifting the endpoint potentials
        alone costs the network's curvature (measured: the lifted `q` lower in every row of
        ``benchmarks/bench_many_endpoints.py``), so the default ``excess_rtol`` keeps cooling there,
        where the finish changes the certified gap little (1.8e-8 either way at 100 endpoints on
        50 x 50; 8.3e-8 against 5.7e-9 on ``synthetic(200)``) for one more LP. Default: on for a
        problem without arcs, off otherwise.
    """

    eps0: float | None = None
    eps_min: float | None = None
    shrink: float | None = None
    shrink_at: float = 1e-3
    candidates: int = 8
    start_fraction: float = 0.5
    min_fraction: float = 1e-3
    cg_tol: float = 1e-10
    cg_maxiter: int = 500
    linear_solver: str = "auto"
    armijo: float = 1e-4
    kmt: float = 0.5
    max_halvings: int = 30
    plan_floor: float = 1e-12
    excess_rtol: float | None = None
    curvature_fraction: float = 0.0
    done_at: float | None = None
    finish: bool | None = None

    #: the backend lets this rule evaluate the cells itself (one pass per evaluation, no second oracle)
    whole_step = True

    def __post_init__(self) -> None:
        for name in ("eps0", "eps_min"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise InvalidDataError(f"Newton: {name}={v!r} must be a positive finite number")
        if self.shrink is not None and not (math.isfinite(self.shrink) and self.shrink > 1):
            raise InvalidDataError(f"Newton: shrink={self.shrink!r} must be > 1")
        if not (0 < self.shrink_at < 1):
            raise InvalidDataError(f"Newton: shrink_at={self.shrink_at!r} must lie in (0, 1)")
        if int(self.candidates) < 2:
            raise InvalidDataError(f"Newton: candidates={self.candidates!r} must be at least 2")
        if not (0 < self.armijo < 0.5):
            raise InvalidDataError(f"Newton: armijo={self.armijo!r} must lie in (0, 0.5)")
        if not (0 <= self.kmt < 1):
            raise InvalidDataError(f"Newton: kmt={self.kmt!r} must lie in [0, 1)")
        if self.linear_solver not in ("auto", "cg", "direct"):
            raise InvalidDataError(f"Newton: linear_solver={self.linear_solver!r} must be 'auto', 'cg' or 'direct'")
        if not (0 < self.start_fraction and 0 < self.min_fraction and 0 <= self.curvature_fraction):
            raise InvalidDataError("Newton: start_fraction and min_fraction must be positive, curvature_fraction >= 0")

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


# ------------------------------------------------------------------------------ linear algebra
def laplacian(n: int, i: NDArray[np.int64], j: NDArray[np.int64], w: NDArray[np.float64]) -> sp.csr_matrix:
    r"""Graph Laplacian `\sum_e w_e (e_i - e_j)(e_i - e_j)^\top` of the edges ``(i, j, w)`` (``i != j``)."""
    keep = w > 0
    i, j, w = i[keep], j[keep], w[keep]
    deg = np.bincount(i, weights=w, minlength=n) + np.bincount(j, weights=w, minlength=n)
    r = np.concatenate([i, j, np.arange(n)])
    c = np.concatenate([j, i, np.arange(n)])
    return sp.csr_matrix((np.concatenate([-w, -w, deg]), (r, c)), shape=(n, n))


def pcg(
    L: sp.csr_matrix, b: NDArray[np.float64], shift: float, tol: float, maxiter: int
) -> tuple[NDArray[np.float64], int]:
    r"""Jacobi-preconditioned conjugate gradients on `(L + \text{shift}\,I)x = b`.

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


# ------------------------------------------------------------------------------ the exact finish
@dataclass
class Finish:
    """The discrete plan of ``discrete_finish``: the plan, its cell masses, the dual shift."""

    plan: sp.csr_matrix
    cell_mass: NDArray[np.float64]
    shift: NDArray[np.float64]  # y: the restricted problem's optimal potentials are psi_S + y
    boundary: int  # points whose assignment the flow chose
    seconds: float


def discrete_finish(
    mass: NDArray[np.float64],
    top: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    eps: float,
    target: NDArray[np.float64],
    floor: float,
) -> Finish | str:
    r"""An exact discrete plan from the soft one: boundary points moved by one min-cost flow between cells.

    Every point `x_k` of positive mass goes to its best endpoint `a_k = \arg\min_i
    c(x_k,i)-\psi_i` (the hard cells, masses `m^{hard}`), except the *boundary points* `B` (second
    soft weight `P_{k b_k} > ` ``floor``), which may send a part `x_k \in [0, \mu_k]` of their mass
    to their second endpoint `b_k` at the extra cost `\delta_k = (c(x_k,b_k)-\psi_{b_k}) -
    (c(x_k,a_k)-\psi_{a_k}) = \varepsilon \log(P_{ka_k}/P_{kb_k}) \ge 0`. The moves solve the
    min-cost flow on the cell graph

    .. math::
        \min_{0\le x_k\le\mu_k} \sum_{k\in B} \delta_k x_k \quad\text{s.t.}\quad
        \sum_{k\in B:\,b_k=i} x_k - \sum_{k\in B:\,a_k=i} x_k = t_i - m^{hard}_i
        \quad (i \in \mathcal S),

    an LP with one row per endpoint (HiGHS, dual simplex; a few thousand simplex iterations at
    1,000 endpoints), so that every cell receives exactly its target `t_i` (the masses the network
    flows deliver; for pure SDOT the site masses `\nu_i`, eq. (2b)). Its row duals `y` are
    potentials of the restricted problem: with `\psi'_S = \psi_S + y` every boundary point's used
    endpoints are its best of the two at `\psi'` (complementary slackness); the caller keeps
    `\psi'` only where the exact dual (4) is higher there. A plan of the samples with exact
    marginals, hence feasible; ``certify`` judges it like any other.

    Returns the ``Finish``, or a string saying why there is none (the flow is infeasible: the boundary
    points cannot carry the cells' imbalance; or the LP failed).
    """
    import time

    from scipy.sparse.csgraph import connected_components

    t0 = time.perf_counter()
    a, b, p1, p2 = top
    ns = target.size
    pos = mass > 0
    bnd = np.flatnonzero(pos & (p2 > floor) & (a != b))
    B = bnd.size
    m_hard = np.bincount(a[pos], weights=mass[pos], minlength=ns)
    rhs = target - m_hard
    # supplies balance only to the problem's tolerance: spread the difference over the targets
    tt = float(target.sum())
    if tt > 0:
        rhs -= float(rhs.sum()) * target / tt
    ab, bb = a[bnd], b[bnd]
    delta = eps * (np.log(p1[bnd]) - np.log(p2[bnd]))  # v_kb - v_ka >= 0, exact to rounding of the weights
    delta = np.maximum(delta, 0.0)
    x = np.zeros(B)
    y = np.zeros(ns)
    if B:
        # scaled data (DESIGN.md, Numerics): a point's mass O(1), costs O(1)
        S = float(mass.size) / max(float(mass[pos].sum()), 1e-300)
        cs = max(float(delta.max()), 1e-300)
        # column generation: the points of extra cost below PRICE_AT * eps first, then every point
        # whose reduced cost at the duals is negative, until none is (the LP optimum over all of B)
        active = delta <= PRICE_AT * eps
        for _ in range(20):
            cols = np.flatnonzero(active)
            got = _boundary_lp(ab[cols], bb[cols], delta[cols] / cs, mass[bnd][cols] * S, rhs * S, ns)
            if isinstance(got, str):
                if active.all():
                    return f"the boundary flow is {got} ({B} boundary points)"
                active[:] = True
                continue
            xs, ys = got
            bad = ~active & (delta / cs - (ys[bb] - ys[ab]) < -1e-9)
            if not bad.any():
                break
            active |= bad
        else:
            return f"the boundary flow's pricing did not settle ({B} boundary points)"
        x[cols] = np.clip(xs / S, 0.0, mass[bnd][cols])
        y = ys * cs
        # y is defined up to a constant on each connected part of the cell graph: centred on each
        # (weighted by the targets), so that psi + y stays near psi
        _, comp = connected_components(sp.csr_matrix((np.ones(B), (ab, bb)), shape=(ns, ns)), directed=False)
        used = np.bincount(np.r_[ab, bb], minlength=ns) > 0
        wgt = np.where(used, np.maximum(target, 0.0) + 1e-300, 0.0)
        mean = np.bincount(comp, weights=wgt * y, minlength=ns) / np.maximum(np.bincount(comp, weights=wgt, minlength=ns), 1e-300)
        y = np.where(used, y - mean[comp], 0.0)
    keep = mass.copy()
    keep[bnd] -= x
    moved = x > 0
    n = mass.size
    rows = np.r_[np.flatnonzero(pos), bnd[moved]]
    cols = np.r_[a[pos], bb[moved]]
    vals = np.r_[keep[pos], x[moved]]
    plan = sp.csr_matrix((vals, (rows, cols)), shape=(n, ns))
    plan.eliminate_zeros()
    cell = np.asarray(plan.sum(axis=0), dtype=float).reshape(-1)
    return Finish(plan, cell, y, B, time.perf_counter() - t0)


#: the finish's first columns: boundary points whose second endpoint costs at most this many temperatures more
PRICE_AT = 4.0


def _boundary_lp(
    a: NDArray[np.int64], b: NDArray[np.int64], cost: NDArray[np.float64], cap: NDArray[np.float64],
    rhs: NDArray[np.float64], ns: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | str:
    """``min cost x`` s.t. ``sum_{b_k=i} x_k - sum_{a_k=i} x_k = rhs_i``, ``0 <= x <= cap`` (HiGHS): (x, row duals) or the status."""
    import highspy

    from otmodel.backends.highs import new_highs

    B = a.size
    lp = highspy.HighsLp()
    lp.num_col_ = B
    lp.num_row_ = ns
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(B)
    lp.col_upper_ = cap
    lp.row_lower_ = rhs
    lp.row_upper_ = rhs
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * B + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.column_stack([a, b]).ravel().astype(np.int32)
    lp.a_matrix_.value_ = np.tile([-1.0, 1.0], B)
    h = new_highs()
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return str(h.modelStatusToString(status))
    sol = h.getSolution()
    return np.asarray(sol.col_value, dtype=float), np.asarray(sol.row_dual, dtype=float)


# ------------------------------------------------------------------------------ the stepper
class _NewtonSteps:
    """Per-solve state of ``Newton``: the temperature and the last evaluations."""

    def __init__(self, rule: Newton, problem: FlowProblem, chunk: int | None = None) -> None:
        self.rule = rule
        self.problem = problem
        self.n = problem.n_nodes
        self.ns = int(getattr(problem, "n_endpoints", 0))
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
        # the finish's potentials certify a pure SDOT plan at a moderate temperature (see Newton.finish)
        pure = self.spatial and problem.n_arcs == 0
        self.finish = rule.finish if rule.finish is not None else pure
        self.excess_rtol = rule.excess_rtol if rule.excess_rtol is not None else (1e-4 if pure and self.finish else 1e-7)
        # the soft masses are the returned ones only for a pure SDOT plan without the finish: there they
        # must meet the certificate's 1e-8; elsewhere the repair (network re-solved) or the finish does
        self.shrink = rule.shrink if rule.shrink is not None else (4.0 if pure and not self.finish else 16.0)
        self.done_at = rule.done_at if rule.done_at is not None else (1e-13 if pure and not self.finish else 1e-10)
        self.eps: float | None = rule.eps0
        self.eps_min: float | None = rule.eps_min
        self.kappa: float | None = None
        self.eps_h: float | None = None  # curvature temperature (see Newton.curvature_fraction)
        self.last_tau = 1.0  # length of the last accepted step
        self.cache: dict[str, Any] | None = None  # evaluation at the current iterate
        self.history: list[dict[str, float]] = []

    # --------------------------------------------------------------- evaluation
    def _arcs(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        p = self.problem
        flows = local_flows(psi[self.tails], psi[self.heads], p.costs, self.lower, self.upper)
        t = psi[self.tails] - psi[self.heads]
        return flows, float(np.sum(p.costs.conjugate_term(t, self.lower, self.upper)))

    def evaluate(self, psi: NDArray[np.float64], eps: float, plan: bool = False, hessian: bool = True) -> dict[str, Any]:
        """Everything one iteration needs at ``psi``: hard and soft gradient and dual value, L.

        With ``hessian=False`` (a line-search trial) ``L`` is ``None`` until ``_hessian`` builds it
        from the stored edges (only for the trial that is accepted).
        """
        flows, arc_term = self._arcs(psi)
        net = np.bincount(self.tails, weights=flows, minlength=self.n) - np.bincount(
            self.heads, weights=flows, minlength=self.n
        )
        base = self.supply - net
        lin = float(psi @ self.supply) + arc_term
        free = (flows > self.lower) & (flows < self.upper)
        wa = np.where(free, self.inv2a, 0.0)
        out: dict[str, Any] = {"psi": psi.copy(), "eps": eps, "flows": flows}
        if self.cells is None:
            out.update(
                g_hard=base,
                q_hard=lin,
                g_soft=base,
                q_soft=lin,
                edges=(self.tails, self.heads, wa),
                L=laplacian(self.n, self.tails, self.heads, wa) if hessian else None,
                m_soft=None,
                m_hard=None,
                plan=None,
                excess=0.0,
                top=None,
            )
            return out
        ev, pl = self.cells.evaluate(psi[self.ends], eps, plan=plan, eps_h=self.eps_h)
        g_soft, g_hard = base.copy(), base.copy()
        g_soft[self.ends] -= ev.m_soft
        g_hard[self.ends] -= ev.m_hard
        er, ec, ew = ev.edges
        edges = (
            np.concatenate([self.tails, self.ends[er]]),
            np.concatenate([self.heads, self.ends[ec]]),
            np.concatenate([wa, ew]),
        )
        out.update(
            g_hard=g_hard,
            q_hard=lin + ev.sdot_hard,
            g_soft=g_soft,
            q_soft=lin + ev.sdot_soft,
            edges=edges,
            L=laplacian(self.n, *edges) if hessian else None,
            m_soft=ev.m_soft,
            m_hard=ev.m_hard,
            plan=pl,
            excess=ev.excess,
            sdot_hard=ev.sdot_hard,
            top=ev.top,
            soft=ev,
        )
        return out

    def _first_temperature(self, psi: NDArray[np.float64]) -> None:
        if self.cells is None:  # no cells: nothing to smooth, q is already piecewise quadratic
            self.eps = self.eps or 1.0
            self.eps_min = self.eps_min or self.eps
            return
        gap, change = self.cells.scales(psi[self.ends])
        self.eps_h = self.rule.curvature_fraction * change or None
        if self.eps_min is None:
            self.eps_min = self.rule.min_fraction * change
        if self.eps is None:
            self.eps = max(self.eps_min, self.rule.start_fraction * gap)

    def _factor(self, ev: dict[str, Any]) -> float:
        """The cooling factor: ``shrink``, or less when the excess is near its target (see ``Newton.shrink``)."""
        ratio = ev["excess"] / max(self.excess_rtol * abs(ev["q_hard"]), 1e-300)
        return min(self.shrink, max(2.0, 2.0 * math.sqrt(ratio)))

    def _too_warm(self, ev: dict[str, Any]) -> bool:
        """Whether the soft plan's excess cost is above ``excess_rtol`` of the dual value."""
        # relative to |q| itself: certify judges the gap relative to the optimum, however small it is
        return bool(ev["excess"] > self.excess_rtol * max(abs(ev["q_hard"]), 1e-300))

    def residual(self, ev: dict[str, Any]) -> float:
        """Relative smoothed residual `\\|g_\\varepsilon\\|_1 / (2\\mu(X))` (or the supply scale)."""
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
            ev = self.evaluate(psi, self.eps, hessian=False)
        # the temperature falls as the smoothed problem's gap closes (before the step is taken)
        # ... once per iteration and only after a full Newton step: colder in one go, the smoothed
        # problem can move beyond what the last Hessian saw (measured: stalls of damped steps)
        if self.eps > self.eps_min and self.last_tau == 1.0 and self.residual(ev) <= self.rule.shrink_at and self._too_warm(ev):
            self.eps = max(self.eps_min, self.eps / self._factor(ev))
            ev = self.evaluate(psi, self.eps, hessian=False)
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
            "excess": float(ev["excess"]),
        }
        if ev["m_soft"] is not None:
            # node balance at the endpoints relative to each cell's own mass (pure SDOT: the mass error)
            m = ev["m_soft"]
            rel = np.abs(ev["g_soft"][self.ends]) / np.where(m > 0, m, np.inf)
            rec["cell_residual"] = float(rel.max(initial=0.0))
        return g, rec

    def _direction(self, ev: dict[str, Any], rhs: NDArray[np.float64]) -> tuple[NDArray[np.float64], int]:
        r"""The Newton direction: `(L + \delta I) d = ` ``rhs``, by CG or, for small systems, directly.

        Both compute the same `d` (to ``cg_tol``); the direct solve (a dense Cholesky factorisation,
        ``linear_solver="direct"``, or ``"auto"`` up to ``DIRECT_MAX`` nodes) is what one process
        does fastest at a hundred endpoints (measured: 0.1 ms against 3 ms for 60 CG iterations at
        102 nodes); the CG is the neighbour-to-neighbour form of the module docstring. Returns the
        direction and the CG iterations (0 for the direct solve).
        """
        n = self.n
        i, j, w = ev["edges"]
        keep = w > 0
        i, j, w = i[keep], j[keep], w[keep]
        deg = np.bincount(i, weights=w, minlength=n) + np.bincount(j, weights=w, minlength=n)
        dmax = float(deg.max()) if n else 1.0
        shift = 1e-10 * (dmax if dmax > 0 else 1.0)
        mode = self.rule.linear_solver
        if mode == "direct" or (mode == "auto" and n <= self.DIRECT_MAX):
            from scipy.linalg import LinAlgError, cho_factor, cho_solve

            A = np.bincount(np.concatenate([i * n + j, j * n + i]), weights=np.concatenate([w, w]), minlength=n * n)
            M = np.asarray(-A.reshape(n, n), dtype=float)
            diag = np.arange(n)
            M[diag, diag] = M[diag, diag] + deg + shift
            try:
                return np.asarray(cho_solve(cho_factor(M, check_finite=False), rhs, check_finite=False)), 0
            except LinAlgError:  # not numerically definite: the CG below stops at a non-positive curvature
                pass
        if ev["L"] is None:
            ev["L"] = laplacian(n, *ev["edges"])
        return pcg(ev["L"], rhs, shift, self.rule.cg_tol, self.rule.cg_maxiter)

    #: ``linear_solver="auto"`` solves systems of up to this many nodes directly
    DIRECT_MAX = 400

    def update(self, k: int, state: Any) -> tuple[NDArray[np.float64], float, dict[str, float]]:
        """The increment of iteration ``k``: a damped Newton step on `q_\\varepsilon`."""
        ev = self.cache
        assert ev is not None and self.eps is not None and self.eps_min is not None
        psi = ev["psi"]
        if self.residual(ev) <= self.done_at and (self.eps <= self.eps_min or not self._too_warm(ev)):
            info0 = {"newton_step": 0.0, "cg_iterations": 0.0}
            self.history.append(info0)
            return np.zeros_like(psi), 0.0, info0  # converged at the final temperature: the loop stops
        g = ev["g_soft"]
        d, its = self._direction(ev, g - g.mean() if self.problem.n_arcs == 0 else g)
        slope = float(g @ d)
        tau = 1.0
        accepted = None
        for _ in range(self.rule.max_halvings + 1):
            trial = self.evaluate(psi + tau * d, self.eps, hessian=False)
            ok_mass = True
            if self.kappa and ev["m_soft"] is not None:
                watch = ev["m_soft"] >= self.kappa
                ok_mass = bool(np.all(trial["m_soft"][watch] >= self.kappa))
            # rounding slack: near the optimum the increase is below the sum's round-off
            slack = 1e-13 * max(1.0, abs(ev["q_soft"]))
            ok_q = trial["q_soft"] >= ev["q_soft"] + self.rule.armijo * tau * slope - slack
            if ok_mass and ok_q:
                accepted = trial
                break
            tau *= 0.5
        info = {"newton_step": tau if accepted is not None else 0.0, "cg_iterations": float(its)}
        self.history.append(info)
        self.last_tau = tau if accepted is not None else 0.0
        if accepted is None:
            return np.zeros_like(psi), 0.0, info
        self.cache = accepted
        return tau * d, tau, info

    def reconstruct(self, psi: NDArray[np.float64]) -> dict[str, Any]:
        r"""The returned point at the last potentials: the exact discrete finish of the soft plan, or the soft plan.

        Adds to the evaluation ``potentials`` (``psi``, or `\psi'` of ``discrete_finish`` where the
        exact dual (4) is higher there), ``cell_mass``, ``assignment_cost`` (`\sum\pi c`) and the
        node ``residual`` of the returned point, and ``finish`` (what the finish did, or why it was not used).
        """
        from otmodel.model.problems import assignment_cost_of

        assert self.eps is not None
        c = self.cache
        if c is not None and c.get("soft") is not None and c["eps"] == self.eps and np.array_equal(c["psi"], psi):
            # the last evaluation is at the returned point: its plan, without another pass
            assert self.cells is not None
            ev = dict(c)
            ev["plan"] = self.cells.plan_of(c["soft"])
            ev["top"] = c["soft"].top
        else:
            ev = self.evaluate(psi, self.eps, plan=True, hessian=False)
        ev["potentials"] = psi
        ev["cell_mass"] = ev["m_soft"]
        ev["residual"] = ev["g_soft"]  # supply less net outflow less cell mass, at the returned point
        if ev["plan"] is None:
            ev["assignment_cost"] = 0.0
            ev["finish"] = None
            return ev
        # sum_k mu_k sum_i P_ki c(x_k, i) = hard SDOT term + excess + psi_S . m, from the same pass
        ev["assignment_cost"] = ev["sdot_hard"] + ev["excess"] + float(psi[self.ends] @ ev["m_soft"])
        if not self.finish or ev["top"] is None or self.ns < 2:
            ev["finish"] = {"used": False, "why": "off" if not self.finish else "one endpoint"}
            return ev
        assert self.cells is not None
        # the masses the flows p(psi) deliver to the endpoints (pure SDOT: the site masses)
        target = ev["g_soft"][self.ends] + ev["m_soft"]
        fin = discrete_finish(self.cells.mass, ev["top"], self.eps, target, self.rule.plan_floor)
        if isinstance(fin, str):
            ev["finish"] = {"used": False, "why": fin}
            return ev
        cost = assignment_cost_of(self.problem, fin.plan)  # type: ignore[arg-type]
        info: dict[str, Any] = {"used": True, "boundary_points": fin.boundary, "seconds": fin.seconds}
        if not cost <= ev["assignment_cost"] + 1e-12 * abs(ev["assignment_cost"]):
            ev["finish"] = {**info, "used": False, "why": f"its plan costs more ({cost:.12g}) than the soft one"}
            return ev
        ev["plan"], ev["cell_mass"], ev["assignment_cost"] = fin.plan, fin.cell_mass, cost
        ev["residual"] = ev["g_soft"].copy()
        ev["residual"][self.ends] += ev["m_soft"] - fin.cell_mass
        # the flow's potentials, where they are the better dual point: without arcs (or with every
        # arc at a bound) they usually close the gap; otherwise moving the endpoints alone costs the
        # network's curvature (see Newton.finish) and the pass is not spent
        info["dual_lifted"] = False
        if not np.any((ev["flows"] > self.lower) & (ev["flows"] < self.upper)):
            lifted = psi.copy()
            lifted[self.ends] += fin.shift
            q2 = self.evaluate(lifted, self.eps, hessian=False)["q_hard"]
            if q2 > ev["q_hard"]:
                ev["potentials"], ev["q_hard"] = lifted, q2
                info["dual_lifted"] = True
        ev["finish"] = info
        return ev
