r"""The ``dykstra`` backend: one step of a Wasserstein attraction flow by Dykstra's KL projections.

Arqué, Uribe, Ocampo-Martinez, section III and Algorithm 1. Problem 1 ((10a)-(10f), see
``otmodel.model.attraction``) is

.. math:: \min_{\boldsymbol\pi \in \mathcal C_f\cap\mathcal C_e\cap\mathcal C_1\cap\mathcal C_2}
          \omega\,\mathrm{KL}(\pi_1|\xi_1) + (1-\omega)\,\mathrm{KL}(\pi_2|\xi),\qquad \xi = e^{-C/\gamma},

where `\xi_1` is `\xi` restricted to the pairs that the support rule (15) and zero
capacities allow (the others are *forbidden*: `\log\pi_1 = -\infty` there, exactly zero mass).
Dykstra's algorithm, starting at `\pi_1^{(0)}=\xi_1,\ \pi_2^{(0)}=\xi`, cycles through the
KL proximal operators, each in closed form:

* (11) rows, `\mathcal C_f`: `\pi_l \leftarrow \mathrm{diag}(P_l / \pi_l\mathbf 1)\,\pi_l`,
  with `P_1=\rho_t,\ P_2=\nu`;
* (12) common column marginal, `\mathcal C_e`: `p = \prod_l (\pi_l^\top\mathbf 1)^{\omega_l}`,
  `\pi_l \leftarrow \pi_l\,\mathrm{diag}(p / \pi_l^\top\mathbf 1)` with `\omega_1=\omega,\ \omega_2=1-\omega`;
* (14) node storage, `\mathcal C_2`: `\pi_l \leftarrow \pi_l\,\mathrm{diag}(\min(\bar\rho/\pi_l^\top\mathbf 1, 1))`;
* (13) edge capacities, `\mathcal C_1` (on `\pi_1` only): `\pi_1 \leftarrow \min(\pi_1, \tilde C)`.

(10f) is implied by the support rule (15). The two affine sets need no Dykstra correction (for
affine sets Dykstra's iterates coincide with plain Bregman projections); the two inequality sets
carry their corrections `q`, applied as `\pi \leftarrow \mathrm{Prox}(\pi\odot q)`,
`q \leftarrow q\odot\pi_{\rm in}/\pi_{\rm out}`: a column vector for (14), one value per
capped pair for (13).

Numerics -- log domain
----------------------
Everything is kept as logarithms so that `\gamma` down to 1e-3 of the cost scale (kernel
entries `e^{-1000}`) runs without underflow:

* `\pi_1` on a sparse pattern (the allowed pairs) is stored as ``log pi_1`` per pair; row and
  column sums are segment log-sum-exps (``reduceat``), O(nnz) per projection.
* A plan with full support and no elementwise cap (`\pi_2` always; `\pi_1` when the graph
  is complete and uncapacitated) is `\pi = \mathrm{diag}(e^{a+\log u})\,e^{L}\,\mathrm{diag}(e^{b+\log v})`
  with absorbed potentials ``a, b`` inside a stabilized kernel `K = e^{L + a \oplus b}` and
  bounded scalings ``log u, log v``: sums are BLAS matrix-vector products; when a scaling leaves
  `[-\tau, \tau]` it is absorbed into the kernel (re-exponentiated once); a sum that underflows
  is recomputed exactly by log-sum-exp for the rows/columns concerned only.

Stopping: after each cycle (rows projected last, so (10b) holds to rounding) the violation
`\|\pi_1^\top\mathbf 1-\pi_2^\top\mathbf 1\|_1 + \sum_l\|(\pi_l^\top\mathbf 1-\bar\rho)_+\|_1 + \|(\pi_1-\tilde C)_+\|_1`
is compared with ``tol``. The returned `\rho_{t+1}` is `\pi_1^\top\mathbf 1`.

Options
-------
tol : float        violation at which to stop (default 1e-8)
max_iter : int     limit on Dykstra cycles (default 20000)
accept : float     a step stopped by ``max_iter`` with violation below this is still returned as
                   NEARLY_FEASIBLE (default 1e-6)
absorb : float     threshold tau on the log-scalings before absorption (default 30)
keep_target_plan : bool  return pi_2 as a sparse matrix (default True)
trace : bool       record the violation per cycle (default False)
scaling : bool     gamma-continuation (default False, see ``dykstra_step``)
warm_start : dict  potentials of a previous step (see ``dykstra_step``)
repair : bool      at the cycle limit, round pi_2 onto the couplings of nu and pi_1^T 1 (default True)
time_limit : float seconds after which to stop (checked every cycle; status TIME_LIMIT, repaired
                   like a cycle limit)
verbose : bool|int print a progress line every ``verbose`` cycles (``True``: ten lines in all)

Speed
-----
The iteration is linear with a rate that degrades like `1 - O(e^{-w/\gamma})` (``w`` an edge
weight), as for every Sinkhorn-type method: at `\gamma` = 1/4 of the edge weights a few
thousand cycles, at 1/10 tens of thousands. Each cycle costs O(nnz(pi_1) + |supp nu| x |R|).
When both plans have full support and no inequality constraint is present (a plain barycenter),
both plans share the kernel and each sum is one (n x 2) BLAS product.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.special import logsumexp

from otmodel.backends._options import check_common, flag, integer, number, refuse_unknown
from otmodel.backends._progress import Progress
from otmodel.backends.base import Conformance
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.attraction import AttractionStep
from otmodel.results import PointStatus, Status, StepResult, Trace

__all__ = ["DykstraBackend", "dykstra_step"]

FloatArray = NDArray[np.float64]


def _seg_lse(x: FloatArray, starts: NDArray[np.intp], counts: NDArray[np.intp]) -> FloatArray:
    """Log-sum-exp of consecutive segments of ``x`` (all segments non-empty)."""
    m = np.maximum.reduceat(x, starts)
    m = np.where(np.isfinite(m), m, 0.0)
    s = np.add.reduceat(np.exp(x - np.repeat(m, counts)), starts)
    with np.errstate(divide="ignore"):
        return m + np.log(s)


class _DensePlan:
    r"""A plan `\pi = \mathrm{diag}(e^{f}) e^{L} \mathrm{diag}(e^{g})` of full support, stabilized.

    ``f = a + lu``, ``g = b + lv``; the kernel ``K = exp(L + a (+) b)`` holds the absorbed part.
    """

    TINY = 1e-200

    def __init__(self, L: FloatArray, tau: float, f0: FloatArray | None = None, g0: FloatArray | None = None) -> None:
        self.L = L
        self.tau = tau
        m, k = L.shape
        self.a = np.zeros(m) if f0 is None else f0.astype(float).copy()
        self.b = np.zeros(k) if g0 is None else g0.astype(float).copy()
        self.lu, self.lv = np.zeros(m), np.zeros(k)
        self.absorptions = 0
        self._absorb()

    def _absorb(self) -> None:
        self.a += self.lu
        self.b += self.lv
        self.lu[:] = 0.0
        self.lv[:] = 0.0
        self.K = np.exp(self.L + self.a[:, None] + self.b[None, :])
        self.absorptions += 1

    def log_row_sums(self) -> FloatArray:
        s = self.K @ np.exp(self.lv)
        bad = ~(s > self.TINY) | ~np.isfinite(s)
        with np.errstate(divide="ignore"):
            out = np.log(s) + self.lu
        if bad.any():
            f, g = self.a + self.lu, self.b + self.lv
            out[bad] = logsumexp(self.L[bad] + g[None, :], axis=1) + f[bad]
        return out

    def log_col_sums(self) -> FloatArray:
        s = np.exp(self.lu) @ self.K
        bad = ~(s > self.TINY) | ~np.isfinite(s)
        with np.errstate(divide="ignore"):
            out = np.log(s) + self.lv
        if bad.any():
            f, g = self.a + self.lu, self.b + self.lv
            out[bad] = logsumexp(self.L[:, bad].T + f[None, :], axis=1) + g[bad]
        return out

    def add_rows(self, d: FloatArray) -> None:
        self.lu += d
        if np.abs(self.lu).max() > self.tau:
            self._absorb()

    def add_cols(self, d: FloatArray) -> None:
        self.lv += d
        if np.abs(self.lv).max() > self.tau:
            self._absorb()

    def log_values(self) -> FloatArray:
        return self.L + (self.a + self.lu)[:, None] + (self.b + self.lv)[None, :]


class _SparsePlan:
    """A plan on a fixed sparse pattern, stored as log-values per pair (sorted by row)."""

    def __init__(
        self,
        rows: NDArray[np.intp],
        cols: NDArray[np.intp],
        L: FloatArray,
        m: int,
        k: int,
        f0: FloatArray | None = None,
        g0: FloatArray | None = None,
    ) -> None:
        self.rows, self.cols, self.lv = rows, cols, L.copy()
        if f0 is not None:
            self.lv += f0[rows]
        if g0 is not None:
            self.lv += g0[cols]
        self.row_counts = np.bincount(rows, minlength=m)
        self.row_starts = np.r_[0, np.cumsum(self.row_counts)[:-1]]
        self.col_perm = np.argsort(cols, kind="stable")
        self.col_counts = np.bincount(cols, minlength=k)
        self.col_starts = np.r_[0, np.cumsum(self.col_counts)[:-1]]

    def log_row_sums(self) -> FloatArray:
        return _seg_lse(self.lv, self.row_starts, self.row_counts)

    def log_col_sums(self) -> FloatArray:
        return _seg_lse(self.lv[self.col_perm], self.col_starts, self.col_counts)

    def add_rows(self, d: FloatArray) -> None:
        self.lv += d[self.rows]

    def add_cols(self, d: FloatArray) -> None:
        self.lv += d[self.cols]

    def log_values(self) -> FloatArray:
        return self.lv


class _Level:
    """Dykstra's iterations at one value of gamma (see ``dykstra_step``)."""

    def __init__(
        self,
        step: AttractionStep,
        gamma: float,
        absorb: float,
        F: tuple[FloatArray, FloatArray] | None,
        G: tuple[FloatArray, FloatArray] | None,
    ) -> None:
        prob = step.problem
        n, C = prob.n_nodes, prob.cost
        rows1, cols1, cap = step.allowed()
        src, tgt, R = step.sources, step.targets, step.reachable()
        k = R.size
        self.k, self.R, self.src, self.tgt = k, R, src, tgt
        self.rows1, self.cols1, self.cap = rows1, cols1, cap
        colpos = np.full(n, -1, dtype=np.intp)
        colpos[R] = np.arange(k)
        rowpos = np.full(n, -1, dtype=np.intp)
        rowpos[src] = np.arange(src.size)
        self.lP = (np.log(step.rho[src]), np.log(prob.nu[tgt]))
        capped = np.isfinite(cap)
        self.full = rows1.size == src.size * k and not capped.any()
        F = F if F is not None else (np.zeros(src.size), np.zeros(tgt.size))
        G = G if G is not None else (np.zeros(k), np.zeros(k))
        # accumulated potentials of the affine projections (11)-(12), in log units at this gamma
        self.F = [F[0].copy(), F[1].copy()]
        self.G = [G[0].copy(), G[1].copy()]
        if self.full:
            self.plan1: _DensePlan | _SparsePlan = _DensePlan(-C[np.ix_(src, R)] / gamma, absorb, F[0], G[0])
        else:
            self.plan1 = _SparsePlan(rowpos[rows1], colpos[cols1], -C[rows1, cols1] / gamma, src.size, k, F[0], G[0])
        self.plan2 = _DensePlan(-C[np.ix_(tgt, R)] / gamma, absorb, F[1], G[1])
        stor = prob.storage[R]
        self.fin_st = np.flatnonzero(np.isfinite(stor))
        self.stor = stor
        self.lstor = np.log(stor[self.fin_st]) if self.fin_st.size else np.zeros(0)
        self.lq = [np.zeros(self.fin_st.size), np.zeros(self.fin_st.size)]
        self.cap_idx = np.flatnonzero(capped) if not self.full else np.zeros(0, dtype=np.intp)
        with np.errstate(divide="ignore"):
            self.lcap = np.log(cap[self.cap_idx])
        self.lQ = np.zeros(self.cap_idx.size)
        if self.cap_idx.size:
            assert isinstance(self.plan1, _SparsePlan)
            # start inside (10d): Dykstra's first pass clamps anyway; this only avoids a huge first step
            self.plan1.lv[self.cap_idx] = np.minimum(self.plan1.lv[self.cap_idx], self.lcap + 50.0)
        self.cs = [self.plan1.log_col_sums(), self.plan2.log_col_sums()]
        self.violation = math.inf
        # Shared-kernel mode: with full support on both plans, the same rows (supp rho_t = supp nu),
        # no storage, no capacities and a cold start, both plans have the kernel xi: one kernel,
        # both plans' scalings side by side, one (n x 2) product per sum (BLAS reads xi once).
        self.pair = (
            self.full
            and not self.fin_st.size
            and np.array_equal(src, tgt)
            and F is not None
            and not any(np.any(x) for x in (*F, *G))
        )
        if self.pair:
            assert isinstance(self.plan1, _DensePlan)
            self.plan1.K = self.plan2.K  # identical: same L, no potentials yet
            self.U = np.ones((src.size, 2))
            self.V = np.ones((k, 2))
            self.Pm = np.exp(np.c_[self.lP[0], self.lP[1]])
            self.Cc = np.exp(np.c_[self.cs[0], self.cs[1]])

    def _leave_pair(self) -> None:
        """Hand the side-by-side scalings to the two (log-domain) plans."""
        if not self.pair:
            return
        self.pair = False
        for ell, pl in enumerate((self.plan1, self.plan2)):
            assert isinstance(pl, _DensePlan)
            pl.lu = np.log(self.U[:, ell])
            pl.lv = np.log(self.V[:, ell])
            self.F[ell] = pl.a + pl.lu
            self.G[ell] = pl.b + pl.lv
            pl._absorb()
        self.cs = [self.plan1.log_col_sums(), self.plan2.log_col_sums()]

    def finish(self) -> None:
        self._leave_pair()

    def repair(self) -> tuple[FloatArray, float]:
        r"""Round `\pi_2` onto the couplings of `\nu` and `p=\pi_1^\top\mathbf 1`.

        Closed form (the rounding of Altschuler, Weed and Rigollet, 2017): scale down the rows of
        `\pi_2` that exceed `\nu`, then the columns that exceed `p`, and add the
        rank-one `e_r e_c^\top/\|e_r\|_1` of the remaining deficits. (10b)-(10c) then hold to
        rounding, and `\|\pi_2^{\rm new}-\pi_2\|_1 \le 2\,(\|\pi_2\mathbf 1-\nu\|_1 +
        \|\pi_2^\top\mathbf 1-p\|_1)`. `\pi_1` is untouched. Returns the new `\pi_2`
        (dense, rows supp(nu), columns R) and the violation left (storage and capacities of
        `\pi_1`)."""
        self.finish()
        F = np.exp(self.plan2.log_values())
        r, c = np.exp(self.lP[1]), np.exp(self.cs[0])
        c = c * (r.sum() / c.sum())  # equal totals (they differ by rounding only)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(F.sum(axis=1) > 0, np.minimum(r / F.sum(axis=1), 1.0), 1.0)
            F = F * x[:, None]
            y = np.where(F.sum(axis=0) > 0, np.minimum(c / F.sum(axis=0), 1.0), 1.0)
        F = F * y[None, :]
        er = np.maximum(r - F.sum(axis=1), 0.0)
        ec = np.maximum(c - F.sum(axis=0), 0.0)
        if er.sum() > 0:
            F = F + np.outer(er, ec) / er.sum()
        e1 = np.exp(self.cs[0])
        v = float(np.abs(F.sum(axis=0) - e1).sum() + np.abs(F.sum(axis=1) - r).sum())
        fs, ci = self.fin_st, self.cap_idx
        if fs.size:
            v += float(np.maximum(e1[fs] - self.stor[fs], 0).sum())
        if ci.size:
            assert isinstance(self.plan1, _SparsePlan)
            v += float(np.maximum(np.exp(self.plan1.lv[ci]) - self.cap[ci], 0).sum())
        self.violation = v
        return F, v

    def _pair_cycle(self, w: float) -> float | None:
        """(12) then (11) on both plans at once; None (state unchanged) if a scaling leaves the safe range."""
        K = self.plan2.K
        lc = np.log(self.Cc)
        lp = lc @ np.array([w, 1.0 - w])
        V = self.V * np.exp(lp[:, None] - lc)
        U = self.Pm / (K @ V)
        Cc = V * (K.T @ U)
        v = float(np.abs(Cc[:, 0] - Cc[:, 1]).sum())
        # an overflow shows as a non-finite sum, an underflow as a zero scaling or column sum
        if not (math.isfinite(v) and Cc.min() > _DensePlan.TINY and U.min() > 0.0):
            return None
        self.U, self.V, self.Cc = U, V, Cc
        return v

    def cycle(self, w: float, theta: float = 1.0) -> float:
        """One Dykstra cycle: (12), (14), (13), (11); returns the violation after it."""
        if self.pair:
            v = self._pair_cycle(w)
            if v is not None:
                self.violation = v
                return v
            self._leave_pair()
        plans = (self.plan1, self.plan2)
        cs = self.cs
        # (12) common barycenter marginal: log p = sum_l w_l log(pi_l^T 1)
        lp = w * cs[0] + (1.0 - w) * cs[1]
        for ell, pl in enumerate(plans):
            d = theta * (lp - cs[ell])
            pl.add_cols(d)
            self.G[ell] += d
        # (14) storage, with corrections: the column sums of pi_l (.) q_l are p * q_l
        fs = self.fin_st
        if fs.size:
            for ell, pl in enumerate(plans):
                x = lp[fs] + self.lq[ell]
                f = np.minimum(self.lstor - x, 0.0)
                d = np.zeros(self.k)
                d[fs] = self.lq[ell] + f
                pl.add_cols(d)
                self.lq[ell] = -f
        # (13) edge capacities on pi_1 (the support rule (15) is built into the pattern)
        ci = self.cap_idx
        if ci.size:
            assert isinstance(self.plan1, _SparsePlan)
            x = self.plan1.lv[ci] + self.lQ
            out = np.minimum(x, self.lcap)
            self.lQ = x - out
            self.plan1.lv[ci] = out
        # (11) rows: pi_1 1 = rho_t, pi_2 1 = nu
        for ell, pl in enumerate(plans):
            d = theta * (self.lP[ell] - pl.log_row_sums())
            pl.add_rows(d)
            self.F[ell] += d
        # violation ((10b) holds to rounding after (11))
        self.cs = cs = [self.plan1.log_col_sums(), self.plan2.log_col_sums()]
        e1, e2 = np.exp(cs[0]), np.exp(cs[1])
        v = float(np.abs(e1 - e2).sum())
        if fs.size:
            st = self.stor[fs]
            v += float(np.maximum(e1[fs] - st, 0).sum() + np.maximum(e2[fs] - st, 0).sum())
        if ci.size:
            assert isinstance(self.plan1, _SparsePlan)
            v += float(np.maximum(np.exp(self.plan1.lv[ci]) - self.cap[ci], 0).sum())
        self.violation = v
        return v


def _scaling_levels(step: AttractionStep, gamma: float, factor: float) -> list[float]:
    """gamma-continuation: gamma_0 > gamma_1 > ... > gamma, gamma_0 ~ a tenth of the largest cost."""
    C = step.problem.cost
    g0 = float(C.max()) / 10.0
    levels: list[float] = []
    g = gamma
    while g * 1.0001 < g0 and len(levels) < 40:
        g /= factor
        levels.append(g)
    return levels[::-1] + [gamma]


def dykstra_step(
    step: AttractionStep,
    tol: float = 1e-8,
    max_iter: int = 20000,
    absorb: float = 30.0,
    keep_target_plan: bool = True,
    trace: bool = False,
    scaling: bool = False,
    scaling_factor: float = 0.5,
    scaling_tol: float = 1e-4,
    accept: float = 1e-6,
    warm_start: dict[str, FloatArray] | None = None,
    repair: bool = True,
    time_limit: float | None = None,
    verbose: bool | int = False,
) -> StepResult:
    r"""Solve Problem 1 at ``step`` by Dykstra's algorithm in the log domain (see the module docstring).

    With ``scaling`` (off by default: on the test and benchmark instances it cost 1.1-1.9x more cycles,
    the asymptotic rate being the bottleneck, not the start), Dykstra runs first at larger regularizations
    ``gamma / scaling_factor**k`` (from about a tenth of the largest cost down to ``step.gamma``),
    each to violation ``scaling_tol``, and every level starts from the previous level's potentials
    of the affine projections (11)-(12), rescaled. Starting Dykstra from
    `\tilde\xi = \mathrm{diag}(e^{F})\,\xi\,\mathrm{diag}(e^{G_l})` instead of `\xi` does not
    change the minimizer: on `\mathcal C_f\cap\mathcal C_e` the row term is constant, and the
    column updates (12) satisfy `\omega G_1 + (1-\omega) G_2 = 0`, so the column term is
    constant too. ``max_iter`` bounds the cycles of all levels together. A step stopped by
    ``max_iter`` with violation below ``accept`` is returned as NEARLY_FEASIBLE.

    Repair (``repair``, default on). Near steps that bring mass onto the target, Dykstra's
    violation of (10c) plateaus at the size of the plan entries that the exact step would set to
    zero (measured 4e-11 to 1e-4; reproduced by a textbook log-domain IBP in extended precision, so
    it is the iteration, not rounding). A step stopped by ``max_iter`` is therefore repaired:
    `\pi_1` is kept (it moves `\rho_t` to `\rho_{t+1} = \pi_1^\top\mathbf 1`
    exactly, on the allowed pairs) and `\pi_2` is rounded in closed form onto the couplings of
    `\nu` and `\rho_{t+1}` (``_Level.repair``), so that (10b)-(10c) hold to rounding;
    what is left of the violation is (10d)-(10e) of `\pi_1`. The point is feasible to that,
    and only its optimality is approximate (the certificate measures the gap to the exact step).
    The status stays ITERATION_LIMIT and the message says so.

    ``warm_start`` (the ``potentials`` of a previous ``StepResult``, in cost units, one value per
    node) starts directly at ``step.gamma`` from those potentials, shifted so that
    `\omega G_1 + (1-\omega) G_2 = 0` for this step's weight: the same minimizer, by the
    argument above. ``otmodel.attraction_flow`` passes the previous step's (through
    ``DykstraBackend.warm_start``).

    ``time_limit`` (seconds) stops the cycles like ``max_iter`` does (status TIME_LIMIT; the point is
    repaired the same way); ``verbose`` prints the violation every ``verbose`` cycles.
    """
    t_start = time.perf_counter()
    prob = step.problem
    n, C, w = prob.n_nodes, prob.cost, step.omega
    levels = _scaling_levels(step, step.gamma, scaling_factor) if scaling and warm_start is None else [step.gamma]
    tr = Trace() if trace else None
    F: tuple[FloatArray, FloatArray] | None = None
    G: tuple[FloatArray, FloatArray] | None = None
    if warm_start is not None:
        R = step.reachable()
        g0 = warm_start["G1"][R] / step.gamma
        g1 = warm_start["G2"][R] / step.gamma
        shift = w * g0 + (1 - w) * g1
        F = (warm_start["F1"][step.sources] / step.gamma, warm_start["F2"][step.targets] / step.gamma)
        G = (g0 - shift, g1 - shift)
    it_total = 0
    status = Status.ITERATION_LIMIT
    lev: _Level | None = None
    last = False
    # an overflow inside a cycle shows as a non-finite sum (handled: exact log-sum-exp or
    # NUMERICAL_ERROR), so numpy's warning adds nothing
    with Progress(verbose, None, max_iter, label="cycles") as report, np.errstate(over="ignore"):
        for li, g in enumerate(levels):
            last = li == len(levels) - 1
            if lev is not None:
                ratio = levels[li - 1] / g
                F = (lev.F[0] * ratio, lev.F[1] * ratio)
                G = (lev.G[0] * ratio, lev.G[1] * ratio)
            lev = _Level(step, g, absorb, F, G)
            target = tol if last else max(scaling_tol, tol)
            while it_total < max_iter:
                it_total += 1
                v = lev.cycle(w)
                if tr is not None:
                    tr.append(violation=v, gamma=g)
                report.line(it_total, lambda: f"cycle {it_total:6d}  gamma {g:.3g}  violation {v:.3e}", {"violation": v})  # noqa: B023
                if time_limit is not None and time.perf_counter() - t_start > time_limit:
                    status = Status.TIME_LIMIT
                    break
                if not math.isfinite(v):
                    status = Status.NUMERICAL_ERROR
                    break
                if v <= target:
                    if last:
                        status = Status.CONVERGED
                    break
            if status in (Status.NUMERICAL_ERROR, Status.TIME_LIMIT) or it_total >= max_iter:
                break  # out of iterations (possibly before the last level: then the point is not an answer)
    assert lev is not None
    lev.finish()
    violation = lev.violation
    repaired: FloatArray | None = None
    before = violation
    limited = status in (Status.ITERATION_LIMIT, Status.TIME_LIMIT)
    if repair and last and limited and math.isfinite(violation) and violation > tol:
        repaired, violation = lev.repair()
    R, k, src, tgt = lev.R, lev.k, lev.src, lev.tgt
    plan1, plan2 = lev.plan1, lev.plan2
    if isinstance(plan1, _SparsePlan):
        P1 = sp.csr_matrix((np.exp(plan1.lv), (lev.rows1, lev.cols1)), shape=(n, n))
    else:
        V1 = np.exp(plan1.log_values())
        P1 = sp.csr_matrix((V1.reshape(-1), (np.repeat(src, k), np.tile(R, src.size))), shape=(n, n))
    V2 = np.exp(plan2.log_values()) if repaired is None else repaired
    cost1 = float(P1.multiply(C).sum()) if P1.nnz else 0.0
    cost2 = float((V2 * C[np.ix_(tgt, R)]).sum())
    P2 = (
        sp.csr_matrix((V2.reshape(-1), (np.repeat(tgt, k), np.tile(R, tgt.size))), shape=(n, n))
        if keep_target_plan
        else None
    )
    rho_next = np.zeros(n)
    rho_next[R] = np.exp(lev.cs[0])
    on_target = last  # the plan is at the requested gamma
    pot = {key: np.zeros(n) for key in ("F1", "F2", "G1", "G2")}
    if on_target:
        pot["F1"][src] = lev.F[0] * step.gamma
        pot["F2"][tgt] = lev.F[1] * step.gamma
        pot["G1"][R] = lev.G[0] * step.gamma
        pot["G2"][R] = lev.G[1] * step.gamma
    if status == Status.CONVERGED:
        point = PointStatus.NEARLY_FEASIBLE
    elif status == Status.NUMERICAL_ERROR:
        point = PointStatus.NO_POINT
    else:
        point = PointStatus.NEARLY_FEASIBLE if (violation <= accept and on_target) else PointStatus.INFEASIBLE_POINT
    msg = f"violation {violation:.3e} after {it_total} cycles over {len(levels)} gamma level(s)"
    if repaired is not None:
        msg += f" (Dykstra stopped at {before:.3e}; pi_2 rounded onto the couplings of nu and pi_1^T 1)"
    if status != Status.CONVERGED:
        msg += f" (tol {tol:g})"
    return StepResult(
        step=step,
        rho_next=rho_next,
        plan=P1,
        target_plan=P2,
        objective=w * cost1 + (1 - w) * cost2,
        transport_cost=cost1,
        status=status,
        point_status=point,
        iterations=it_total,
        violation=violation,
        backend="dykstra",
        solver="dykstra",
        timings={"total": time.perf_counter() - t_start},
        potentials=pot,
        message=msg,
        trace=tr,
        info={"levels": levels, "violation_before_repair": before},
    )


#: the options ``DykstraBackend.solve`` takes (those of ``dykstra_step``)
OPTIONS = (
    "tol", "max_iter", "absorb", "keep_target_plan", "trace", "scaling", "scaling_factor", "scaling_tol",
    "accept", "warm_start", "repair", "time_limit", "verbose",
)


class DykstraBackend:
    """Registry entry ``"dykstra"``: solves one ``AttractionStep`` (capability ``"attraction-step"``).

    ``solve(step, **options)`` returns a ``StepResult`` (not a ``Solution``: a step has two plans
    and a barycenter, no arcs); the whole flow is ``otmodel.attraction_flow`` (or
    ``otmodel.solve(problem, backend="dykstra")``), which starts each step from the previous
    step's potentials through ``warm_start``.
    """

    name = "dykstra"
    capabilities = frozenset({"attraction-step", "iterative"})
    #: checked on the attraction-step cases: an entropic step, never OPTIMAL on its own say-so, judged by
    #: the entropic optimality conditions and closed forms (``otmodel.validation.cases_attraction``)
    conformance = Conformance(
        kinds=frozenset({"attraction-step"}), options={"tol": 1e-10}, optimal_statuses=(Status.CONVERGED,),
    )

    def supports(self, problem: Any) -> str | None:
        if isinstance(problem, AttractionStep):
            return None
        return "the dykstra backend solves one step of an AttractionProblem (use problem.step(rho))"

    def warm_start(self, previous: StepResult) -> dict[str, Any]:
        """Options that start the next step from ``previous`` (its potentials, same minimizer)."""
        if previous.backend != self.name or previous.potentials is None:
            return {}
        return {"warm_start": previous.potentials}

    def solve(self, problem: Any, **options: Any) -> StepResult:
        reason = self.supports(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        refuse_unknown(self.name, options, OPTIONS)
        check_common(self.name, options)
        # values checked like data: a wrong type or range names the option, before any cycle runs
        for key in ("absorb", "scaling_factor", "scaling_tol", "accept"):
            if key in options:
                number(self.name, key, options[key], 0.0, strict=True)
        if "scaling_factor" in options and not options["scaling_factor"] < 1:
            raise InvalidDataError(f"{self.name} backend: option scaling_factor={options['scaling_factor']!r}: must be < 1")
        for key in ("keep_target_plan", "trace", "scaling", "repair"):
            if key in options:
                options[key] = flag(self.name, key, options[key])
        if "max_iter" in options:
            options["max_iter"] = integer(self.name, "max_iter", options["max_iter"], 1)
        return dykstra_step(problem, **options)
