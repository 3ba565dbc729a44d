r"""The one compilation step shared by the exact backends: a scaled LP/QP in matrix form.

Variables ``x = [P, Pi]``: the scaled arc flows ``P = kappa * p`` (one per arc) and the scaled plan
entries ``Pi = kappa * pi`` for every pair (demand point k with positive mass, endpoint i) whose
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.model.costs import ArcCosts
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "StandardForm",
    "build_standard_form",
    "choose_scales",
    "PointCheck",
    "check_point",
    "checked_solution",
    "network_flow_point",
    "solve_checked",
    "tree_flows",
    "CHECK_RTOL",
]

#: Relative accuracy every point called OPTIMAL must meet at every node (``check_point``).
CHECK_RTOL = 1e-9
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
        flows = np.asarray(x[: self.n_flows], dtype=float) / self.kappa
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
    # objective
    c = np.concatenate([problem.costs.b / sigma, pair_cost / sigma])
    qdiag = problem.costs.a / (sigma * kappa)
    # rows: node rows (incidence for flows, +1 at the endpoint row for each pair), then point rows
    E = problem.incidence.tocoo()
    rows = [E.row, ]
    cols = [E.col, ]
    vals = [E.data, ]
    rhs_parts = [balanced_supply(problem) * kappa]
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        ends = np.asarray(problem.endpoints)
        rows.append(ends[pair_end])
        cols.append(m + np.arange(npair))
        vals.append(np.ones(npair))
        # point rows, numbered by position among positive-mass points
        point_row = np.full(problem.n_points, -1, dtype=np.intp)
        point_row[pos] = np.arange(pos.size)
        rows.append(n + point_row[pair_point])
        cols.append(m + np.arange(npair))
        vals.append(np.ones(npair))
        rhs_parts.append(problem.demand.mass[pos] * kappa)
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + pos.size, m + npair),
    )
    rhs = np.concatenate(rhs_parts)
    lb = np.concatenate([problem.lower * kappa, np.zeros(npair)])
    ub = np.concatenate([problem.upper * kappa, np.full(npair, math.inf)])
    return StandardForm(
        problem=problem,
        n_flows=m,
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


# ------------------------------------------------------------------------------ verification
@dataclass(frozen=True)
class PointCheck:
    """The node-by-node verdict on a point (``check_point``).

    ``worst`` names the row with the largest residual relative to its own scale (a node name, or
    ``point k`` for the marginal of demand point ``k``); ``residual`` and ``scale`` are that row's
    conservation residual and scale, in problem units.
    """

    ok: bool
    worst: str
    residual: float
    scale: float
    rtol: float
    gap: float | None = None  # relative duality gap, where it was measured (linear flow problems)

    def describe(self) -> str:
        if self.gap is not None and not self.gap <= self.rtol:
            return f"feasible at every node, but its relative duality gap {self.gap:.3g} exceeds {self.rtol:g}"
        where = f"{self.worst} (residual {self.residual:.3g} against its supply/throughput {self.scale:.3g})"
        if self.ok:
            return f"conservation holds at every node within {self.rtol:g} of its own scale; worst: {where}"
        return f"conservation fails by more than {self.rtol:g} of the node's own scale at {where}"


def check_point(
    problem: FlowProblem, flows: NDArray[np.float64], assignment: Any = None, rtol: float = CHECK_RTOL
) -> PointCheck:
    r"""Verify flow conservation node by node, relative to each node's own scale.

    For node `i` the residual is `r_i = (E p)_i + \sum_k \pi_{ki} - s_i` (the last sum
    for endpoints of a spatial problem, eq. (2b)-(2c') of Laurentin et al.; `s` the compiled
    supply, ``balanced_supply``) and its scale is

    .. math:: \sigma_i = \max\bigl(|s_i|,\; \textstyle\sum_j |E_{ij}|\,|p_j| + \sum_k \pi_{ki}\bigr),

    the node's own supply or the flow through it, whichever is larger: a residual of 4 at a node of
    supply 4 fails however large the other supplies are (networkx's ``faux_infinity`` case, where a
    scale common to all nodes forgave it). Demand point `k` has residual
    `\sum_i \pi_{ki} - \mu_k` and scale `\mu_k` (eq. (2c)). The point passes when
    `|r_i| \le \mathrm{rtol}\,\sigma_i` everywhere (for every row of a spatial problem
    `\sigma_i` is at least `\max(1, \mu(X))`, the one mass scale of its demand; see
    the comment in the code). Bounds are not tested here: callers clip
    the flows into their bounds first (``checked_solution``), which moves any violation into
    the residuals. NaN anywhere fails.
    """
    p = np.asarray(flows, dtype=float)
    E = problem.incidence
    absE = abs(E)
    s = balanced_supply(problem)
    res = E @ p - s
    thr = absE @ np.abs(p)
    names = list(problem.node_names)
    if isinstance(problem, SpatialFlowProblem) and assignment is not None:
        plan = sp.csr_matrix(assignment)
        cell = np.asarray(plan.sum(axis=0)).reshape(-1)
        ends = np.asarray(problem.endpoints)
        np.add.at(res, ends, cell)
        np.add.at(thr, ends, np.abs(cell))
        mu = np.asarray(problem.demand.mass, dtype=float)
        rows = np.asarray(plan.sum(axis=1)).reshape(-1)
        res = np.concatenate([res, rows - mu])
        thr = np.concatenate([thr, mu])
        names += [f"point {k}" for k in range(mu.size)]
        s = np.concatenate([s, mu])
    scale = np.maximum(np.abs(s), thr)
    if isinstance(problem, SpatialFlowProblem):
        # Every row of a spatial problem is judged at the demand's scale mu(X): one mass scale
        # serves the whole demand (DESIGN.md, Numerics), and an interior point (Clarabel, on the
        # synthetic(50) and (100) LPs) leaves residuals of 1e-14..1e-12 mu(X), 4e-9 of the lightest
        # points' masses and more at an endpoint that serves almost nothing; judging those per row
        # sent every such answer to a 3x slower fallback. Mixed-scale supplies are a flow-problem
        # matter, judged node by node.
        scale = np.maximum(scale, max(1.0, float(problem.demand.total)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, np.abs(res) / scale, np.where(res == 0, 0.0, np.inf))
    rel = np.where(np.isnan(rel), np.inf, rel)
    if rel.size == 0:
        return PointCheck(True, "", 0.0, 0.0, rtol)
    k = int(np.argmax(rel))
    return PointCheck(bool(rel[k] <= rtol), names[k], float(abs(res[k])), float(scale[k]), rtol)


def checked_solution(
    sol: Solution, rtol: float = CHECK_RTOL, model_changed: bool = False
) -> tuple[Solution, PointCheck | None]:
    """Clip an OPTIMAL point into its bounds, recompute its objective and verify it (``check_point``).

    Returns the solution with ``info["check"]`` (the verdict in words) and the verdict; a solution
    that is not OPTIMAL or carries no point is returned as it is, with ``None``. Self-loops are set
    to their own optimum and a failing vertex's basic flows recomputed (``tree_flows``) only
    for the problem as it is: not when ``model_changed`` (a user added constraints to the model,
    which those steps do not know).
    """
    if sol.status is not Status.OPTIMAL or not sol.has_point:
        return sol, None
    problem = sol.problem
    flows = np.clip(np.asarray(sol.flows, dtype=float), problem.lower, problem.upper)
    loops = np.flatnonzero(problem.tails == problem.heads)
    if loops.size and not model_changed:
        # a self-loop's optimal flow depends on its own cost and bounds only (no row sees it):
        # its local response at zero potential difference, where that is finite; an interior
        # point leaves it wherever its barrier stopped
        own = ArcCosts(problem.costs.a[loops], problem.costs.b[loops]).response(
            np.zeros(loops.size), problem.lower[loops], problem.upper[loops]
        )
        flows[loops] = np.where(np.isfinite(own), own, flows[loops])
    plan = sol.assignment
    if plan is not None:
        plan = sp.csr_matrix(plan, copy=True)
        plan.data = np.maximum(plan.data, 0.0)
    info = dict(sol.info)
    network_lp = problem.is_linear and not isinstance(problem, SpatialFlowProblem) and not model_changed
    psi = np.asarray(sol.potentials, dtype=float)

    def judge(p: NDArray[np.float64]) -> PointCheck:
        v = check_point(problem, p, plan, rtol)
        if v.ok and network_lp:
            gap = _lp_gap(problem, p, psi)
            if gap is not None:
                v = dataclasses.replace(v, ok=gap <= rtol, gap=gap)
        return v

    verdict = judge(flows)
    if not verdict.ok and network_lp:
        # a vertex's flows recomputed the way network simplex does: exact where the solver's
        # round-off (or an interior point's dust) was not
        repaired = tree_flows(problem, flows)
        if repaired is not None:
            again = judge(repaired)
            if again.ok:
                flows, verdict = repaired, again
                info["repaired"] = "basic flows recomputed from the leaves of the basis forest"
    if isinstance(problem, SpatialFlowProblem):
        objective = problem.objective(flows, plan)
    else:
        objective = problem.objective(flows)
    info["check"] = verdict.describe()
    if verdict.ok and verdict.gap is not None:
        info["check"] += f"; relative duality gap {verdict.gap:.3g}"
    cell = None if plan is None else np.asarray(plan.sum(axis=0)).reshape(-1)
    return (
        dataclasses.replace(
            sol, flows=flows, assignment=plan, cell_mass=cell if cell is not None else sol.cell_mass,
            objective=float(objective), info=info,
        ),
        verdict,
    )


def _lp_gap(problem: FlowProblem, flows: NDArray[np.float64], psi: NDArray[np.float64]) -> float | None:
    r"""Relative duality gap of a linear flow problem's point: primal minus eq. (4)'s `q(\psi)`.

    `q(\psi) = \psi \cdot s + \sum_j \min_{p \in [l_j, u_j]} (c_j - \psi_{t(j)} + \psi_{h(j)}) p`
    (Laurentin et al., eq. (4) without demand), with reduced costs below `10^{-12}` of the
    largest cost read as 0 (the potentials' round-off). Relative to the larger of
    `|c \cdot p|` and `\sum_j |c_j p_j|`. ``None`` when the potentials are not all finite.
    """
    if psi.shape != (problem.n_nodes,) or not np.all(np.isfinite(psi)):
        return None
    c = np.asarray(problem.costs.b, dtype=float)
    primal = float(c @ flows)
    scale = max(abs(primal), float(np.abs(c) @ np.abs(flows)))
    slope_tol = 1e-12 * max(1.0, float(np.abs(c).max()) if c.size else 1.0)
    t = psi[problem.tails] - psi[problem.heads]
    terms = problem.costs.conjugate_term(t, problem.lower, problem.upper, slope_tol)
    dual = float(psi @ balanced_supply(problem)) + float(terms.sum())
    if not math.isfinite(dual):
        return math.inf
    gap = primal - dual
    if scale == 0.0:
        return 0.0 if abs(gap) <= 1e-300 else math.inf
    return max(0.0, gap) / scale


def tree_flows(problem: FlowProblem, flows: NDArray[np.float64]) -> NDArray[np.float64] | None:
    r"""Recompute a vertex's basic flows from the leaves of its basis forest, as network simplex does.

    A float vertex of a network LP computed by an LP solver carries round-off of the size of the
    largest flows it was computed with: with supplies 1e5 and 1e-3, an arc that should carry 1e-3
    came back as 0.0010000000038, a residual of 4e-9 relative to its node. Here the arcs strictly
    inside their bounds (the basic arcs; the others stay exactly at their bounds) must form a
    forest; its flows are then solved leaf by leaf, each from the leaf's own supply and fixed
    flows,

    .. math:: p_j = \pm\Bigl(s_v - \sum_{k \ne j} E_{vk} p_k\Bigr) \quad (v \text{ a leaf of arc } j),

    towards a root chosen as the node of largest scale (supply or throughput) of each tree, so that
    every node but the root satisfies conservation to the round-off of its own numbers and the
    round-off of the whole tree ends at its largest node. Returns ``None`` when the interior arcs
    hold a cycle (not a vertex) or the recomputed flows leave their bounds.
    """
    p = np.asarray(flows, dtype=float)
    lo, up = problem.lower, problem.upper
    s = balanced_supply(problem)
    # a flow this close to a bound is at the bound: a billionth of the smallest datum (a vertex's
    # flows are sums of data), or 1e-12 of the bound itself
    data = np.abs(np.concatenate([s, lo[np.isfinite(lo)], up[np.isfinite(up)]]))
    data = data[data > 0]
    floor = 1e-9 * float(data.min()) if data.size else math.inf  # no data: every vertex is 0
    with np.errstate(invalid="ignore"):
        at_lo = np.isfinite(lo) & (np.abs(p - lo) <= np.maximum(floor, 1e-12 * np.abs(lo)))
        at_up = np.isfinite(up) & (np.abs(p - up) <= np.maximum(floor, 1e-12 * np.abs(up)))
    loop = problem.tails == problem.heads
    basic = ~at_lo & ~at_up & ~loop
    fixed = np.where(basic, 0.0, np.where(at_lo, lo, np.where(at_up, up, p)))
    n = problem.n_nodes
    r = s - problem.incidence @ fixed  # outflow still owed by each node
    B = np.flatnonzero(basic)
    if B.size == 0:
        return fixed if np.all(np.isfinite(fixed)) else None
    t, h = problem.tails[B], problem.heads[B]
    from scipy.sparse.csgraph import connected_components

    g = sp.csr_matrix((np.ones(B.size), (t, h)), shape=(n, n))
    ncomp, label = connected_components(g, directed=False)
    nodes_with = np.zeros(n, dtype=bool)
    nodes_with[t] = nodes_with[h] = True
    if B.size != int(nodes_with.sum()) - len(np.unique(label[nodes_with])):
        return None  # the interior arcs hold a cycle: not a basis forest
    scale = np.maximum(np.abs(balanced_supply(problem)), abs(problem.incidence) @ np.abs(p))
    root = np.full(ncomp, -1)
    best = np.full(ncomp, -1.0)
    for v in np.flatnonzero(nodes_with).tolist():
        if scale[v] > best[label[v]]:
            best[label[v]], root[label[v]] = scale[v], v
    incident: list[list[int]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(zip(t.tolist(), h.tolist(), strict=True)):
        incident[a].append(k)
        incident[b].append(k)
    degree = np.array([len(x) for x in incident])
    done = np.zeros(B.size, dtype=bool)
    out = fixed.copy()
    roots = set(root[root >= 0].tolist())
    stack = [v for v in range(n) if degree[v] == 1 and v not in roots]
    rr = r.astype(float).copy()
    while stack:
        v = stack.pop()
        ks = [k for k in incident[v] if not done[k]]
        if len(ks) != 1:
            continue
        k = ks[0]
        done[k] = True
        j = int(B[k])
        if t[k] == v:
            val, other = rr[v], int(h[k])
            rr[other] += val
        else:
            val, other = -rr[v], int(t[k])
            rr[other] -= val
        rr[v] = 0.0
        out[j] = val
        degree[other] -= 1
        if degree[other] == 1 and other not in roots:
            stack.append(other)
    if not done.all():
        return None
    tol = 1e-9 * np.maximum(1.0, np.abs(out))
    if np.any(out < lo - tol) or np.any(out > up + tol):
        return None
    return np.clip(out, lo, up)


# ------------------------------------------------------------------------------ exact network flow
def _dyadic_exponent(values: NDArray[np.float64]) -> int:
    """Smallest ``E >= 0`` such that every value times ``2**E`` is an integer (values finite)."""
    e = 0
    for v in values[values != 0].tolist():
        den = v.as_integer_ratio()[1]  # a power of two
        e = max(e, den.bit_length() - 1)
    return e


def network_flow_point(problem: FlowProblem) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    r"""An exact optimal flow of a linear flow problem by OR-Tools' min-cost-flow on integer data.

    Every float is a dyadic rational, so supplies and finite bounds become integers, exactly,
    once multiplied by `2^E` (``_dyadic_exponent``, applied with ``ldexp``, so that even
    subnormal data, 5e-324, scale without overflow); OR-Tools then solves the network problem
    exactly in int64 and the flows come back, exactly, as integers times `2^{-E}`. Lower
    bounds are shifted out (`p = l + x`), an arc without lower bound is reversed
    (`p = u - y`) and a free arc split in two; an infinite capacity becomes the total of
    supplies and finite capacities, more than any acyclic flow carries. Costs are integers as they
    are when they are; otherwise they are rounded at `2^{-k}` of the largest (as fine as
    int64 allows, relative error about `10^{-12}`), so the flow is exactly feasible and
    optimal up to that rounding -- which ``checked_solution`` and the caller's objective
    tests judge. Potentials `\psi` come from shortest paths in the residual graph with the
    true costs (`\psi = -d`, Bellman-Ford), NaN if round-off leaves a negative cycle there.

    Returns ``(flows, potentials)``, or ``None`` when the problem is not a linear flow problem,
    is unbounded or infeasible, or its data do not fit in int64.
    """
    from ortools.graph.python import min_cost_flow

    if isinstance(problem, SpatialFlowProblem) or not problem.is_linear:
        return None
    s = balanced_supply(problem)
    lo, up = np.asarray(problem.lower, dtype=float), np.asarray(problem.upper, dtype=float)
    finite = np.concatenate([s, lo[np.isfinite(lo)], up[np.isfinite(up)]])
    E = _dyadic_exponent(finite)
    try:
        ints = [int(math.ldexp(v, E)) for v in finite.tolist()]
    except OverflowError:  # data spanning subnormals to O(1): no common integer scale exists
        return None
    limit = 1 << 60
    big = sum(abs(v) for v in ints) + 1
    if big >= limit:
        return None
    n = problem.n_nodes
    tails, heads = problem.tails.tolist(), problem.heads.tolist()
    cost = np.asarray(problem.costs.b, dtype=float)
    cmax = float(np.abs(cost).max()) if cost.size else 0.0
    ec = _dyadic_exponent(cost)
    # OR-Tools multiplies costs by (n + 1) internally and sums cost x flow in int64
    max_cost_int = max(2, (1 << 62) // (big * (n + 2)))
    if cmax > 0 and math.ldexp(cmax, ec) >= max_cost_int:
        ec = max(-1074, (max_cost_int.bit_length() - 2) - math.frexp(cmax)[1])
    icost = [int(round(math.ldexp(c, ec))) for c in cost.tolist()]
    supply = [int(math.ldexp(v, E)) for v in s.tolist()]
    # arcs of the integer problem: (tail, head, capacity, cost, original arc, sign, offset)
    at: list[int] = []
    ah: list[int] = []
    acap: list[int] = []
    acost: list[int] = []
    owner: list[tuple[int, int, int]] = []

    def add(t: int, h: int, cap: int, c: int, j: int, sign: int, off: int) -> None:
        at.append(t)
        ah.append(h)
        acap.append(cap)
        acost.append(c)
        owner.append((j, sign, off))

    for j, (t, h) in enumerate(zip(tails, heads, strict=True)):
        lj, uj = lo[j], up[j]
        if math.isfinite(lj):
            li = int(math.ldexp(lj, E))
            supply[t] -= li
            supply[h] += li
            add(t, h, int(math.ldexp(uj, E)) - li if math.isfinite(uj) else big, icost[j], j, +1, li)
        elif math.isfinite(uj):
            ui = int(math.ldexp(uj, E))
            supply[t] -= ui
            supply[h] += ui
            add(h, t, big, -icost[j], j, -1, ui)
        else:
            add(t, h, big, icost[j], j, +1, 0)
            add(h, t, big, -icost[j], j, -1, 0)
    if any(abs(v) >= limit for v in supply):
        return None
    smcf = min_cost_flow.SimpleMinCostFlow()
    if at:
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(
            np.asarray(at, dtype=np.int64), np.asarray(ah, dtype=np.int64),
            np.asarray(acap, dtype=np.int64), np.asarray(acost, dtype=np.int64),
        )
    smcf.set_nodes_supplies(np.arange(n, dtype=np.int64), np.asarray(supply, dtype=np.int64))
    if smcf.solve() != smcf.OPTIMAL:
        return None
    xs = smcf.flows(arcs).tolist() if at else []
    if any(cap == big and x > big // 2 for cap, x in zip(acap, xs, strict=True)):
        return None  # flow on the stand-in for an infinite capacity: the problem is unbounded
    flow_int = [0] * problem.n_arcs
    for (j, sign, off), x in zip(owner, xs, strict=True):
        flow_int[j] += off + sign * int(x)  # p = l + x forward, p = u - y reversed
    flows = np.array([math.ldexp(float(v), -E) for v in flow_int], dtype=float)
    return flows, _residual_potentials(problem, flows)


def _residual_potentials(problem: FlowProblem, flows: NDArray[np.float64]) -> NDArray[np.float64]:
    """``-d``, ``d`` the shortest-path distances in the residual graph of ``flows`` (true costs)."""
    c = np.asarray(problem.costs.b, dtype=float)
    t, h = np.asarray(problem.tails), np.asarray(problem.heads)
    fwd = flows < problem.upper
    bwd = flows > problem.lower
    src = np.concatenate([t[fwd], h[bwd]])
    dst = np.concatenate([h[fwd], t[bwd]])
    w = np.concatenate([c[fwd], -c[bwd]])
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    d = np.zeros(problem.n_nodes)
    for _ in range(problem.n_nodes + 1):
        cand = d[src] + w
        new = d.copy()
        np.minimum.at(new, dst, cand)
        if np.array_equal(new, d):
            return -d
        d = new
    return np.full(problem.n_nodes, np.nan)


# ------------------------------------------------------------------------------ the verified solve
#: One way of solving: a label (said in ``info``) and a function that solves and returns a Solution.
Attempt = tuple[str, Callable[[], Solution]]


def _classified(problem: FlowProblem, backend: str, solver: str, message: str) -> Solution | None:
    """INFEASIBLE or UNBOUNDED with a certificate verified here, or ``None`` if neither is proven."""
    from otmodel.backends.base import no_point_solution
    from otmodel.certificates import (
        find_infeasible_cut,
        find_unbounded_cycle,
        verify_infeasibility_certificate,
        verify_unbounded_certificate,
    )

    cut = find_infeasible_cut(problem)
    if cut is not None and verify_infeasibility_certificate(problem, cut):
        return no_point_solution(
            problem, Status.INFEASIBLE, PointStatus.CERTIFICATE, backend, solver, {}, message, cut
        )
    cyc = find_unbounded_cycle(problem)
    if cyc is not None and verify_unbounded_certificate(problem, cyc):
        return no_point_solution(
            problem, Status.UNBOUNDED, PointStatus.CERTIFICATE, backend, solver, {}, message, cyc
        )
    return None


def _no_variable_solution(problem: FlowProblem, backend: str) -> Solution | None:
    """The answer of a flow problem without arcs, which LP solvers call an empty model (D7).

    Without arcs the only point is ``p = ()``: optimal (objective 0, potentials 0) when every
    supply is zero, else infeasible, with the cut of a node whose supply has nowhere to go.
    """
    if isinstance(problem, SpatialFlowProblem) or problem.n_arcs:
        return None
    solver = "none (no arcs)"
    flows = np.zeros(0)
    if not np.any(balanced_supply(problem)):
        return Solution(
            problem=problem, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE, objective=0.0,
            flows=flows, potentials=np.zeros(problem.n_nodes), backend=backend, solver=solver,
            message="no arcs and no supply: the empty flow is optimal",
            info={"check": check_point(problem, flows).describe()},
        )
    return _classified(problem, backend, solver, "no arcs, but a node has non-zero supply")


def _annotated(sol: Solution, label: str, tried: list[str], seconds: float) -> Solution:
    info = dict(sol.info)
    info["attempt"] = label
    if tried:
        info["failed_attempts"] = list(tried)
    timings = dict(sol.timings)
    timings["total"] = max(float(timings.get("total", 0.0)), seconds)
    return dataclasses.replace(sol, info=info, timings=timings)


def solve_checked(
    problem: FlowProblem, attempts: Sequence[Attempt], backend: str, rtol: float = CHECK_RTOL
) -> Solution:
    """Run ``attempts`` in turn until one returns a point that passes ``check_point``.

    The rule every exact backend follows: no point is called OPTIMAL unless it satisfies flow
    conservation at every node within ``rtol`` of that node's own supply and throughput (its
    flows clipped into their bounds, its objective recomputed). An attempt whose answer fails the
    check, or that fails outright, is recorded (``info["failed_attempts"]``) and the next one runs;
    a verified INFEASIBLE or UNBOUNDED certificate, or a time or iteration limit, is returned as it
    is. After the backend's own attempts, a linear flow problem gets a HiGHS simplex vertex (for
    the backends that are not HiGHS already) and an exact network-flow solve on integer data
    (``network_flow_point``, OR-Tools), each verified the same way. When nothing
    passes, the problem's own cuts and cycles are searched (a verified certificate wins);
    otherwise the status is NUMERICAL_ERROR, with the last point (``INFEASIBLE_POINT``) and the
    node where it failed named in ``info["failing_node"]`` and the message.

    A problem without arcs never reaches a solver (HiGHS calls it an empty model): it is solved
    here (``_no_variable_solution``).
    """
    import time

    from otmodel.backends.base import no_point_solution

    t0 = time.perf_counter()
    trivial = _no_variable_solution(problem, backend)
    if trivial is not None:
        return _annotated(trivial, "no arcs", [], time.perf_counter() - t0)
    tried: list[str] = []
    last: Solution | None = None
    worst: PointCheck | None = None
    for label, run in attempts:
        sol = run()
        if sol.status is Status.OPTIMAL:
            sol, verdict = checked_solution(sol, rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(sol, label, tried, time.perf_counter() - t0)
            tried.append(f"{label}: {verdict.describe()}")
            last, worst = sol, verdict
            continue
        if sol.status in (Status.INFEASIBLE, Status.UNBOUNDED) and sol.certificate is not None:
            return _annotated(sol, label, tried, time.perf_counter() - t0)
        if sol.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT):
            return _annotated(sol, label, tried, time.perf_counter() - t0)  # the caller's limits
        tried.append(f"{label}: {sol.status.value} ({sol.message})")
        if last is None:
            last = sol
    # every attempt failed: is the problem infeasible or unbounded after all?
    solver = last.solver if last is not None else backend
    found = _classified(problem, backend, solver, "; ".join(tried))
    if found is not None:
        return _annotated(found, "certificate search", tried, time.perf_counter() - t0)
    if problem.is_linear and not isinstance(problem, SpatialFlowProblem) and backend != "highs":
        # another backend: a HiGHS simplex vertex in problem units, its flows then recomputed
        # along its basis forest (checked_solution), which an interior point cannot offer
        from otmodel.backends.highs import HighsBackend

        vertex = HighsBackend().simplex_vertex(problem)
        if vertex.status is Status.OPTIMAL:
            vertex, verdict = checked_solution(dataclasses.replace(vertex, backend=backend), rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(vertex, "HiGHS simplex vertex (fallback)", tried, time.perf_counter() - t0)
            tried.append(f"HiGHS simplex vertex: {verdict.describe()}")
            worst = verdict
        else:
            tried.append(f"HiGHS simplex vertex: {vertex.status.value} ({vertex.message})")
    if problem.is_linear and not isinstance(problem, SpatialFlowProblem):
        exact = network_flow_point(problem)
        if exact is not None:
            flows, psi = exact
            sol = Solution(
                problem=problem, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE,
                objective=float(problem.objective(flows)), flows=flows, potentials=psi, backend=backend,
                solver="OR-Tools min-cost flow on integer-scaled data (fallback)",
                message="the backend's own answers failed the node-by-node check (see info)",
            )
            sol, verdict = checked_solution(sol, rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(sol, "network flow", tried, time.perf_counter() - t0)
            tried.append(f"network flow: {verdict.describe()}")
            worst = verdict
    info: dict[str, Any] = {"failed_attempts": tried}
    if worst is not None:
        info["failing_node"] = worst.worst
        info["residual"] = worst.residual
        info["node_scale"] = worst.scale
    where = f"; worst node {worst.worst!r}" if worst is not None else ""
    message = f"no answer passed the node-by-node check{where}: " + "; ".join(tried)
    timings = {"total": time.perf_counter() - t0}
    if last is not None and last.has_point and last.status is Status.OPTIMAL:
        return dataclasses.replace(
            last, status=Status.NUMERICAL_ERROR, point_status=PointStatus.INFEASIBLE_POINT,
            message=message, info={**last.info, **info}, timings={**last.timings, **timings},
        )
    return no_point_solution(
        problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, backend, solver, timings, message, info=info
    )
