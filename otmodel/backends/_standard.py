r"""The one compilation step shared by the exact backends: a scaled LP/QP in matrix form.

Variables ``x = [P, Pi]``: the scaled arc flows ``P = kappa * p`` (one per arc, then one more per
two-way arc charged ``b |p|``: ``P`` holds its forward part on ``[0, u]`` and the extra column its
backward part on ``[0, -l]``, both of cost ``a p^2 + b p``, so that ``p = P_k - P_{m+j}``; see
``ArcCosts.split``) and the scaled plan entries ``Pi = kappa * pi`` for every pair (demand point k with positive mass, endpoint i) whose
assignment cost is finite. Rows: one flow-conservation row per node (2b)-(2c') and one marginal row
per demand point (2c)::

    minimize    c @ x + sum_j qdiag[j] * P[j]**2
    subject to  A @ x == rhs,  lb <= x <= ub

Scaling (DESIGN.md, Numerics): masses are multiplied by ``kappa`` so that a demand point carries
O(1) (``kappa = N / mu(X)``), costs are divided by ``sigma`` (the largest finite cost magnitude) so
they are O(1). The scaled objective is ``kappa / sigma`` times the true one and the true potentials
are ``psi = sigma * y`` where ``y`` are the duals of the node rows with the convention
``y = d(objective)/d(rhs)``. ``StandardForm.unscale`` is the one place where this is undone.

One scale factor cannot serve data nine orders of magnitude apart (networkx's ``faux_infinity``
instances: supplies 1e9 and 4; with ``kappa = 1 / mean`` the 4 became 8e-9, under HiGHS's 1e-7
feasibility tolerance, and was dropped from an answer reported optimal). For a flow problem the
scales are therefore chosen per problem (``choose_scales``): the mean rule when the data span
a few orders of magnitude, otherwise the one that lifts the smallest supply or bound to O(1)
while keeping the largest below ``2**23``; both are powers of two, so that scaling and unscaling
are exact. Every point a backend calls optimal is then verified node by node
(``check_point``, relative to each node's own supply and throughput), and
``solve_checked`` falls back -- to an unscaled solve, to the backend's other attempts, to an
exact network-flow solve on integer data (``network_flow_point``) -- when the check fails.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = [
    "StandardForm",
    "build_standard_form",
    "choose_scales",
    "balanced_supply",
    "redundant_rows",
]

#: Dynamic range (largest / smallest magnitude) up to which the mean rule scales masses and costs.
_MEAN_RULE_RANGE = 1e6
#: Largest scaled magnitude the per-problem rule allows: 2**23 (8.4e6), whose ulp (1e-9) stays
#: below HiGHS's absolute feasibility tolerance 1e-7 (at 2.6e10, kappa = 128 on supplies of 2e8,
#: it did not: HiGHS called a feasible problem infeasible).
_MAX_SCALED_EXP = 23


@dataclass
class StandardForm:
    problem: FlowProblem
    n_flows: int
    pair_point: NDArray[np.intp]
    pair_end: NDArray[np.intp]
    c: NDArray[np.float64]
    qdiag: NDArray[np.float64]
    A: sp.csr_matrix
    rhs: NDArray[np.float64]
    lb: NDArray[np.float64]
    ub: NDArray[np.float64]
    kappa: float
    sigma: float
    n_node_rows: int
    #: The two-way arcs charged ``b |p|`` (``ArcCosts.kink``), in the order of their backward columns
    #: ``problem.n_arcs + j``; ``n_flows = problem.n_arcs + back_arcs.size``.
    back_arcs: NDArray[np.intp] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    def fold_flows(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        """The flows of the problem's arcs from the ``n_flows`` flow columns (same units)."""
        m = self.problem.n_arcs
        out = np.array(P[:m], dtype=float)
        if self.back_arcs.size:
            out[self.back_arcs] -= np.asarray(P[m : self.n_flows], dtype=float)
        return out

    def split_flows(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """The ``n_flows`` flow columns of the problem's flows ``p`` (same units; inverse of
        ``fold_flows``: a two-way arc's flow goes to its forward or its backward column)."""
        m = self.problem.n_arcs
        out = np.empty(self.n_flows)
        out[:m] = p
        if self.back_arcs.size:
            q = np.asarray(p, dtype=float)[self.back_arcs]
            out[self.back_arcs] = np.maximum(q, 0.0)
            out[m:] = np.maximum(-q, 0.0)
        return out

    @property
    def n_vars(self) -> int:
        return int(self.c.size)

    @property
    def n_rows(self) -> int:
        return int(self.rhs.size)

    @property
    def n_pairs(self) -> int:
        return int(self.pair_point.size)

    @property
    def is_qp(self) -> bool:
        return bool(np.any(self.qdiag > 0))

    @property
    def quadratic_arcs(self) -> NDArray[np.intp]:
        return np.flatnonzero(self.qdiag > 0)

    def unscale(
        self, x: NDArray[np.float64], node_duals: NDArray[np.float64] | None
    ) -> dict[str, Any]:
        """Turn a scaled primal ``x`` and node-row duals (``d obj / d rhs``) into problem units."""
        p = self.problem
        flows = self.fold_flows(np.asarray(x, dtype=float)) / self.kappa
        out: dict[str, Any] = {"flows": flows}
        if node_duals is None:
            out["potentials"] = np.full(p.n_nodes, np.nan)
        else:
            out["potentials"] = np.asarray(node_duals, dtype=float) * self.sigma
        if isinstance(p, SpatialFlowProblem):
            vals = np.asarray(x[self.n_flows :], dtype=float) / self.kappa
            vals = np.where(np.abs(vals) < 1e-15 * max(1.0, p.demand.total), 0.0, vals)
            plan = sp.csr_matrix((vals, (self.pair_point, self.pair_end)), shape=(p.n_points, p.n_endpoints))
            plan.eliminate_zeros()
            out["assignment"] = plan
            out["cell_mass"] = np.asarray(plan.sum(axis=0)).reshape(-1)
            out["objective"] = p.objective(flows, plan)
        else:
            out["objective"] = p.objective(flows)
        return out


def balanced_supply(problem: FlowProblem) -> NDArray[np.float64]:
    """The supplies of a flow problem with their accepted imbalance removed.

    A ``FlowProblem`` accepts ``|sum(s)|`` up to ``balance_rtol * max(1, sum|s|)``. Scaling the
    masses to O(1) (``choose_scales``) would scale that imbalance too: supplies that are pure round-off
    (``s = [2.8e-17, 0, ...]``, a transport between two equal distributions) became an infeasible
    model of imbalance 1. The imbalance is therefore taken off every non-zero supply in proportion to
    its size, so the compiled model balances exactly; the change is within the accepted tolerance.
    Spatial problems keep their supplies (their mass scale is that of the demand).
    """
    s = np.asarray(problem.supply, dtype=float)
    if isinstance(problem, SpatialFlowProblem):
        return s
    total, size = float(s.sum()), float(np.abs(s).sum())
    if total == 0.0 or size == 0.0:
        return s
    out = s - total * np.abs(s) / size
    out[np.abs(out) <= 1e-15 * size] = 0.0  # what is left of pure round-off
    # The float sum is still not exactly 0 when supplies differ in scale (200730000.2 - 2e8 - 0.2
    # - 730000 leaves 1.8e-8, an ulp of 2e8). What is left (math.fsum: the exact sum, correctly
    # rounded) is taken off the largest supply, then what that one's rounding leaves off the next
    # largest, and so on while the change is below 1e-12 of the node's own supply: exact balance
    # would otherwise move a small supply (0.02 beside 5e9) by 2e-8 of itself.
    order = np.argsort(-np.abs(out), kind="stable")
    left = math.fsum(out.tolist())
    for i in order[:64].tolist():
        if left == 0.0 or not abs(left) <= 1e-12 * abs(out[i]):
            break
        out[i] -= left
        left = math.fsum(out.tolist())
    return out


def _pow2(x: float) -> float:
    """The power of two nearest to ``x > 0`` (in the exponent), kept inside the normal range."""
    e = round(math.log2(x)) if 0.0 < x < math.inf else 0
    return math.ldexp(1.0, max(-1000, min(1000, e)))


def _spread_scale(mags: NDArray[np.float64], mean: float) -> float:
    r"""A power of two ``f`` that brings the magnitudes ``mags`` (all > 0) to O(1) when multiplied.

    Within ``_MEAN_RULE_RANGE`` of each other, ``f ~ 1 / mean`` (the mean magnitude becomes 1).
    Otherwise the smallest magnitude is lifted to 1 (`f = 2^{-\lfloor \log_2 \min \rfloor}`),
    unless the largest would then exceed `2^{23}`, in which case the largest sets the factor:
    a value below the solver's tolerance is lost (the networkx ``faux_infinity`` case), a large one
    is not. The exponent is computed with ``frexp`` and clamped, so subnormal data (5e-324) cannot
    overflow the factor.
    """
    if mags.size == 0:
        return 1.0
    lo, hi = float(mags.min()), float(mags.max())
    if hi <= _MEAN_RULE_RANGE * lo:
        return _pow2(1.0 / mean) if 0.0 < 1.0 / mean < math.inf else _pow2_of_exp(-math.frexp(mean)[1])
    e_lo = 1 - math.frexp(lo)[1]  # lo * 2**e_lo in [1, 2)
    e_hi = _MAX_SCALED_EXP - math.frexp(hi)[1]  # hi * 2**e_hi < 2**23
    return _pow2_of_exp(min(e_lo, e_hi))


def _pow2_of_exp(e: int) -> float:
    return math.ldexp(1.0, max(-1000, min(1000, int(e))))


def choose_scales(problem: FlowProblem, cost: NDArray[np.float64] | None = None) -> tuple[float, float]:
    """``(kappa, sigma)``: the mass factor and the cost divisor of the standard form.

    A spatial problem scales masses so that a demand point carries O(1) (``kappa = N / mu(X)``) and
    costs by their largest magnitude (measured, DESIGN.md). A flow problem's masses (its non-zero
    supplies and finite non-zero bounds) and costs (its non-zero coefficients) are each scaled by
    ``_spread_scale``: the mean rule when they span less than six orders of magnitude, else
    the rule that keeps the smallest of them above the solver's tolerances.
    """
    if isinstance(problem, SpatialFlowProblem):
        npos = int(np.count_nonzero(problem.demand.mass > 0))
        kappa = npos / problem.demand.total if problem.demand.total > 0 else 1.0
        mags = [np.abs(problem.costs.b), np.abs(problem.costs.a)]
        if cost is not None:
            mags.append(np.abs(cost[np.isfinite(cost)]))
        allm = np.concatenate([m.reshape(-1) for m in mags])
        sigma = float(allm.max()) if allm.size and allm.max() > 0 else 1.0
        return float(kappa), sigma
    supply = np.abs(balanced_supply(problem))
    bounds = np.abs(np.concatenate([problem.lower, problem.upper]))
    masses = np.concatenate([supply, bounds[np.isfinite(bounds)]])
    masses = masses[masses > 0]
    nz = supply[supply > 0]
    kappa = _spread_scale(masses, float(nz.mean()) if nz.size else float(masses.mean()) if masses.size else 1.0)
    coef = np.abs(np.concatenate([problem.costs.a, problem.costs.b]))
    coef = coef[coef > 0]
    # the mean rule for costs divides by the largest (a cost of O(1) at most), as before
    sigma = 1.0 / _spread_scale(coef, float(coef.max())) if coef.size else 1.0
    return kappa, sigma


def build_standard_form(problem: FlowProblem, scale: bool = True, point_mass: float = 1.0) -> StandardForm:
    """Compile ``problem`` into a ``StandardForm``, sparse matrices built in one shot.

    ``point_mass`` is the average scaled mass of a demand point (``kappa = point_mass * N / mu(X)``).
    1 suits HiGHS (DESIGN.md, Numerics); Clarabel converges in fewer interior-point iterations with
    0.01 (measured on the synthetic instance at 50, 100 and 200: 12-25 % fewer iterations, LP and QP),
    which balances the point rows (mass ~0.01) against the node rows (mass ~N / (100 |S|)).
    """
    m = problem.n_arcs
    n = problem.n_nodes
    spatial = isinstance(problem, SpatialFlowProblem)
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        C = problem.cost_matrix()
        mass = problem.demand.mass
        pos = np.flatnonzero(mass > 0)
        finite = np.isfinite(C[pos])
        rr, ss = np.nonzero(finite)
        pair_point = pos[rr].astype(np.intp)
        pair_end = ss.astype(np.intp)
        pair_cost = C[pair_point, pair_end]
        kappa, sigma = choose_scales(problem, pair_cost)
        kappa *= float(point_mass)
    else:
        C = None
        pos = np.zeros(0, dtype=np.intp)
        pair_point = pair_end = np.zeros(0, dtype=np.intp)
        pair_cost = np.zeros(0)
        kappa, sigma = choose_scales(problem, None)
    if not scale:
        kappa, sigma = 1.0, 1.0
    npair = pair_point.size
    # two-way arcs charged b|p| enter as two opposite one-way columns (ArcCosts.split)
    K, flow_lo, back_up = problem.costs.split(problem.lower, problem.upper)
    nf = m + K.size
    a_f = np.concatenate([problem.costs.a, problem.costs.a[K]])
    b_f = np.concatenate([problem.costs.b, problem.costs.b[K]])
    # objective
    c = np.concatenate([b_f / sigma, pair_cost / sigma])
    qdiag = a_f / (sigma * kappa)
    # rows: node rows (incidence for flows, +1 at the endpoint row for each pair), then point rows
    E = problem.incidence.tocoo()
    rows = [E.row, ]
    cols = [E.col, ]
    vals = [E.data, ]
    if K.size:
        col_of = np.full(m, -1, dtype=np.intp)
        col_of[K] = m + np.arange(K.size)
        back = col_of[E.col] >= 0
        rows.append(E.row[back])
        cols.append(col_of[E.col[back]])
        vals.append(-E.data[back])
    rhs_parts = [balanced_supply(problem) * kappa]
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        ends = np.asarray(problem.endpoints)
        rows.append(ends[pair_end])
        cols.append(nf + np.arange(npair))
        vals.append(np.ones(npair))
        # point rows, numbered by position among positive-mass points
        point_row = np.full(problem.n_points, -1, dtype=np.intp)
        point_row[pos] = np.arange(pos.size)
        rows.append(n + point_row[pair_point])
        cols.append(nf + np.arange(npair))
        vals.append(np.ones(npair))
        rhs_parts.append(problem.demand.mass[pos] * kappa)
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + pos.size, nf + npair),
    )
    rhs = np.concatenate(rhs_parts)
    lb = np.concatenate([flow_lo * kappa, np.zeros(K.size + npair)])
    ub = np.concatenate([problem.upper * kappa, back_up * kappa, np.full(npair, math.inf)])
    return StandardForm(
        problem=problem,
        n_flows=nf,
        pair_point=pair_point,
        pair_end=pair_end,
        c=c,
        qdiag=qdiag,
        A=A,
        rhs=rhs,
        lb=lb,
        ub=ub,
        kappa=kappa,
        sigma=sigma,
        n_node_rows=n,
        back_arcs=K,
    )


def redundant_rows(sf: StandardForm, rtol: float = 1e-9) -> NDArray[np.intp]:
    """One row per balanced connected component of the constraint graph, safe to drop.

    The rows of ``A`` are linearly dependent: within each connected component (rows joined by a
    shared variable) the node rows minus the point rows sum to zero on the left-hand side. Leaving
    the dependency in costs HiGHS's presolve seconds (measured: 7.8 s of a 9.5 s solve on the
    200 x 200 synthetic LP) while dropping one row per component fixes that row's dual at 0, which
    is harmless since potentials are defined up to an additive constant per component. A component
    whose right-hand sides do not balance is infeasible; its rows are all kept so the solver (and
    the certificate finder) see the infeasibility.
    """
    from scipy.sparse.csgraph import connected_components

    nr, nv = sf.A.shape
    coo = sf.A.tocoo()
    # bipartite graph rows <-> variables; components of it give the row components
    g = sp.csr_matrix((np.ones(coo.nnz), (coo.row, nr + coo.col)), shape=(nr + nv, nr + nv))
    ncomp, all_labels = connected_components(g, directed=False)
    labels = all_labels[:nr]
    sign = np.ones(nr)
    sign[sf.n_node_rows :] = -1.0
    imbalance = np.bincount(labels, weights=sign * sf.rhs, minlength=ncomp)
    scale = np.bincount(labels, weights=np.abs(sf.rhs), minlength=ncomp)
    ok = np.abs(imbalance) <= 10 * rtol * np.maximum(1.0, scale)
    last = np.full(ncomp, -1, dtype=np.intp)
    np.maximum.at(last, labels[: sf.n_node_rows], np.arange(sf.n_node_rows, dtype=np.intp))
    return np.sort(last[ok & (last >= 0)])
