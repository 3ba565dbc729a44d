r"""Certificates of optimality, recomputed from the problem data alone.

``dual_value`` evaluates the dual function `q(\psi)` of Laurentin et al. (2025), eq. (4);
by weak duality it is a lower bound on the optimum of (2) for *every* `\psi`.

``certify`` judges a ``Solution`` without trusting anything its backend
reports: it recomputes the residuals of (2b)-(2d), the objective (2a) of the returned point, the dual
bound `q(\psi)` at the returned potentials, and an upper bound from a *feasible* point built
from the iterate (the *repair*). The optimum then lies in `[q(\psi), \text{upper}]`, and the
width of that interval -- the certified gap -- does not depend on any number the backend reported.

Repair (spatial problems). Keep the transport plan of the solution, normalized so that every point's
mass `\mu_k` is served exactly (points with no usable mass go to
`\arg\min_i c(x_k, i) - \psi_i`, Proposition 1); this fixes the cell masses `m`. The rest
is a min-cost flow with supplies `s - m` at the endpoints, solved by an exact backend of the
registry. Repair (flow problems). The flows are projected onto the feasible set,
`\min_p \|p - p^{\text{iter}}\|^2` s.t. `Ep = s,\ l \le p \le u`, by an exact backend.
Neither repair solves the problem itself: the upper bound is the value of a point derived from the
answer under test, so a wrong answer gives a poor bound.

What is proven and what is judged within a tolerance (issue 10, "False certificates"; issue 18):

* The dual bound is proven: `q` at the returned potentials if they are dual feasible, else at
  their shift onto dual feasibility (a price that exceeds an uncapacitated linear arc's cost is
  never "forgiven": evaluated at the cost, it would lift the bound above the optimum), minus a bound
  on the rounding error of its evaluation (``proven_dual_bound``).
* The upper bound is the objective of a point that satisfies (2b)-(2d) within ``feas_tol`` item by
  item -- every node against its own ``|supply| + throughput + assigned mass``, every demand point
  against its mass -- so a node whose supply is nine orders below another's is judged on its own
  (``point_residuals``). It is an upper bound up to the effect of that residual.
* The gap is relative to the optimum's size, never to 1, with an absolute floor ``gap_atol`` that
  the certificate states (default `10^{-12}` times the natural cost scale, ``cost_scale``).
* Every field a user reads (objective, cell masses, status claims, the solution's own problem) is
  checked against the point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidDataError
from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "dual_value",
    "proven_dual_bound",
    "certify",
    "Certificate",
    "repair_point",
    "point_residuals",
    "PointResiduals",
    "cost_scale",
    "reported_fields",
]

INF = math.inf
DEFAULT_CHUNK = None  # block_rows(|S|): at most 65,536 points and 2**23 costs per block


# =============================================================================== the dual function
#: Machine epsilon (twice the unit round-off): the unit of every rounding-error bound below.
EPS = float(np.finfo(float).eps)


def _dual_constraints(problem: FlowProblem) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    r"""The constraints `\psi_i - \psi_j \le w` without which `q(\psi) = -\infty`.

    A linear arc `(k, l)` of cost `b` with `u = +\infty` needs
    `\psi_k - \psi_l \le b`; one with `l = -\infty` needs `\psi_l - \psi_k \le -b`
    (the arc term of eq. (4) is unbounded below otherwise). Returned as arrays ``(i, j, w)``.
    """
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    lin = a == 0
    up = lin & (np.asarray(problem.upper) == INF)
    dn = lin & (np.asarray(problem.lower) == -INF)
    i = np.concatenate([tails[up], heads[dn]]).astype(np.intp)
    j = np.concatenate([heads[up], tails[dn]]).astype(np.intp)
    return i, j, np.concatenate([b[up], -b[dn]]).astype(float)


def _exact_le(x: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``x - y <= w`` in exact arithmetic (floats ``x, y, w``), through the error-free TwoSum.

    ``s = fl(x - y)`` and ``e`` with ``s + e = x - y`` exactly; since ``w`` is a float, ``s < w``
    already implies ``x - y <= w`` (``|e|`` is at most half a float spacing at ``s``), and ``s == w``
    leaves the sign of ``e`` to decide.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        s = x - y
        bb = s - x
        e = (x - (s - bb)) + (-y - bb)
    return (s < w) | ((s == w) & (e <= 0))


def _shift_potentials(problem: FlowProblem, psi: NDArray[np.float64], down: bool) -> NDArray[np.float64] | None:
    r"""Potentials near ``psi`` that satisfy every constraint of ``_dual_constraints`` exactly.

    ``down``: `\psi'_i = \min_k \psi_k + d(i, k)` with `d` the shortest-path distance
    over the constraint graph (edge `i \to j` of length `w` per constraint
    `\psi_i - \psi_j \le w`), computed by label correction; otherwise the mirror image
    `\psi'_j = \max_k \psi_k - d(k, j)`. Either way `\psi' = \psi` where ``psi``
    already satisfies them, and only the potentials that must move do. A float sum can land half
    a spacing on the wrong side of a constraint, so every update is checked in exact arithmetic
    (``_exact_le``) and stepped one float further when needed. Returns None when the
    constraints have a negative cycle (then `q \equiv -\infty`: no potentials are feasible).
    """
    i, j, w = _dual_constraints(problem)
    y = np.array(psi, dtype=float)
    if i.size == 0:
        return y
    for _ in range(problem.n_nodes + 2):
        bad = ~_exact_le(y[i], y[j], w)
        if not bad.any():
            return y
        bi, bj, bw = i[bad], j[bad], w[bad]
        if down:
            new = y[bj] + bw
            off = ~_exact_le(new, y[bj], bw)
            new[off] = np.nextafter(new[off], -INF)
            np.minimum.at(y, bi, new)
        else:
            new = y[bi] - bw
            off = ~_exact_le(y[bi], new, bw)
            new[off] = np.nextafter(new[off], INF)
            np.maximum.at(y, bj, new)
        if not np.all(np.isfinite(y)):
            return None
    return None


def _dual_parts(problem: FlowProblem, y: NDArray[np.float64], chunk: int) -> tuple[float, float, float]:
    r"""``(q, err, cmax)``: eq. (4) at ``y`` by correctly rounded summation (``math.fsum``), a bound
    ``err`` on the rounding error of that evaluation, and the largest finite assignment cost on a
    point of positive mass (0 for a flow problem; it feeds the natural cost scale).

    The bound adds, term by term, a few machine epsilons of the magnitudes that enter each term:
    `|\psi_i s_i|`; for an arc, `a p^2 + |b||p| + |t||p|` and the effect of the rounding
    of `t = \psi_i - \psi_j` on the arc's minimum (`|t|` times `|p|` and, for a linear
    arc, its finite bounds, where a rounded tie may pick the other end); for a demand point
    `\mu_k(|\min_i\{c_{ki} - \psi_i\}| + 2\max_{i\in\mathcal S}|\psi_i|)`; and the rounding of the
    partial sums. It is then doubled. A rigorous interval evaluation would be tighter by a small
    factor; this one is cheap and errs on the safe side.
    """
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    lo, up = np.asarray(problem.lower), np.asarray(problem.upper)
    t = y[tails] - y[heads]
    p = problem.costs.response(t, lo, up)
    err = 0.0
    cmax = 0.0
    if np.any(np.isinf(p)):
        value = -INF
        parts: list[float] = []
    else:
        arc = a * p * p + (b - t) * p
        ys = y * np.asarray(problem.supply, dtype=float)
        parts = [math.fsum(ys.tolist()), math.fsum(arc.tolist())]
        fin = np.where(np.isfinite(lo), np.abs(lo), 0.0) + np.where(np.isfinite(up), np.abs(up), 0.0)
        reach = np.abs(p) + np.where(a == 0, fin, 0.0)
        err += float(np.sum(np.abs(ys)))
        err += 4.0 * float(np.sum(a * p * p + (np.abs(b) + np.abs(t)) * np.abs(p)))
        err += 2.0 * float(np.sum(np.abs(t) * reach))
        value = 0.0
    if isinstance(problem, SpatialFlowProblem):
        ends = y[np.asarray(problem.endpoints)]
        ymax = float(np.max(np.abs(ends), initial=0.0))
        mass = problem.demand.mass
        for start in range(0, problem.n_points, chunk):
            stop = min(problem.n_points, start + chunk)
            m = mass[start:stop]
            keep = m > 0
            if not keep.any():
                continue
            block = problem.cost_block(start, stop)[keep]
            finite = np.isfinite(block)
            if finite.any():
                cmax = max(cmax, float(np.max(np.abs(block[finite]))))
            if value == -INF:
                continue
            mins = (block - ends[None, :]).min(axis=1)
            w = m[keep] * mins
            parts.append(math.fsum(w.tolist()))
            err += float(np.sum(np.abs(w))) + float(np.sum(m[keep] * (np.abs(mins) + 2.0 * ymax)))
    if value == -INF:
        return -INF, 0.0, cmax
    value = math.fsum(parts)
    err += float(np.sum(np.abs(parts))) + abs(value)
    return value, 2.0 * EPS * err, cmax


def _psi_vector(problem: FlowProblem, psi: ArrayLike, who: str) -> NDArray[np.float64]:
    try:
        y = np.asarray(psi, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{who}: psi must be an array of numbers, one per node ({exc})") from None
    if y.shape != (problem.n_nodes,):
        raise InvalidDataError(f"{who}: psi has {y.size} entries for {problem.n_nodes} nodes")
    return y


def dual_value(problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, *, price_tol: float = 0.0) -> float:
    r"""The dual function `q(\psi)` of Laurentin et al. (2025), eq. (4), from the problem data.

    .. math::
        q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_i \psi_i s_i
          + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

    (the first sum only for a ``SpatialFlowProblem``, over points of positive mass, evaluated
    ``chunk`` points at a time: memory `O(\text{chunk}\times|\mathcal S| + N)`; every sum is
    correctly rounded). By weak duality `q(\psi)` is a lower bound on the optimum for every
    `\psi`, equal to it at a dual optimum (Theorem 1); it is invariant under
    `\psi + c\mathbf 1` because supply and demand balance. It is `-\infty` where a
    linear arc with an infinite bound makes its term unbounded (`\psi_i - \psi_j > b_{ij}` with
    `u_{ij} = +\infty`, or `< b_{ij}` with `l_{ij} = -\infty`).

    ``price_tol > 0`` absorbs the round-off of a solver's duals on such arcs *without* leaving weak
    duality: when every violation is at most ``price_tol`` (an absolute price; scale it with the
    costs), the potentials are shifted onto dual feasibility (``_shift_potentials``, downwards
    and upwards) and the larger of the two values `q(\psi')` is returned. That is still
    `q` at some `\psi'`, hence a lower bound on the optimum. Larger violations give
    `-\infty`. Returns NaN if ``psi`` has a non-finite entry; a ``psi`` of the wrong length or
    type raises ``InvalidDataError``. (``certify`` additionally subtracts a
    bound on the rounding error of this evaluation: see ``proven_dual_bound``.)
    """
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"dual_value: problem must be a FlowProblem, got {type(problem).__name__}")
    y = _psi_vector(problem, psi, "dual_value")
    ptol = _tolerance(price_tol, "price_tol", "dual_value")
    if not np.all(np.isfinite(y)):
        return math.nan
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    value = _dual_parts(problem, y, chunk)[0]
    if value == -INF and ptol > 0:
        i, j, w = _dual_constraints(problem)
        if float(np.max(y[i] - y[j] - w, initial=0.0)) <= ptol:
            shifted = [_shift_potentials(problem, y, down) for down in (True, False)]
            value = max((_dual_parts(problem, s, chunk)[0] for s in shifted if s is not None), default=-INF)
    return value


def proven_dual_bound(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK
) -> tuple[float, float, float, NDArray[np.float64] | None, str]:
    r"""A lower bound on the optimum that holds in exact arithmetic, from potentials ``psi``.

    Returns ``(bound, q_raw, rounding, psi_used, how)``: ``q_raw`` is ``dual_value`` at ``psi``
    as given; ``psi_used`` the potentials the bound is evaluated at (``psi`` itself when it is dual
    feasible; else the better of its two shifts onto dual feasibility, ``_shift_potentials``,
    since a forgiven price is not a bound); ``bound = q(psi_used) - rounding`` with ``rounding`` the
    bound on the evaluation's rounding error of ``_dual_parts``. ``bound`` is `-\infty`
    when no shift exists (a negative cycle of uncapacitated linear arcs) and NaN for non-finite
    ``psi``.
    """
    y = _psi_vector(problem, psi, "proven_dual_bound")
    return _proven_dual_bound(problem, y, block_rows(getattr(problem, "n_endpoints", 1), chunk))[:5]


def _proven_dual_bound(
    problem: FlowProblem, y: NDArray[np.float64], chunk: int
) -> tuple[float, float, float, NDArray[np.float64] | None, str, float | None]:
    """``proven_dual_bound``, plus the largest finite assignment cost met on the way (for ``cost_scale``)."""
    if not np.all(np.isfinite(y)):
        return math.nan, math.nan, 0.0, None, "the potentials are not finite", None
    q_raw, err, cmax = _dual_parts(problem, y, chunk)
    i, j, w = _dual_constraints(problem)
    if bool(np.all(_exact_le(y[i], y[j], w))) and q_raw > -INF:
        return q_raw - err, q_raw, err, y, "q at the returned potentials", cmax
    worst = float(np.max(y[i] - y[j] - w, initial=0.0))
    best: tuple[float, float, NDArray[np.float64] | None, str] = (-INF, 0.0, None, "")
    for down in (True, False):
        s = _shift_potentials(problem, y, down)
        if s is None:
            continue
        q, e, _ = _dual_parts(problem, s, chunk)
        if q - e > best[0]:
            moved = int(np.count_nonzero(s != y))
            how = (
                f"q at the returned potentials is -inf (a price exceeds an uncapacitated linear arc's cost by up "
                f"to {worst:.3e}); bound evaluated at potentials shifted {'down' if down else 'up'} onto dual "
                f"feasibility ({moved} node(s) moved, by at most {float(np.max(np.abs(s - y))):.3e})"
            )
            best = (q - e, e, s, how)
    if best[2] is None:
        return -INF, q_raw, 0.0, None, "q = -inf: the uncapacitated linear arcs have a negative-cost cycle", cmax
    return best[0], q_raw, best[1], best[2], best[3], cmax


# =============================================================================== helpers
def _tolerance(value: Any, name: str, who: str) -> float:
    """A tolerance is data too: a finite number >= 0, else a typed error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidDataError(f"{who}: {name}={value!r} must be a number >= 0")
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise InvalidDataError(f"{who}: {name}={value!r} must be a finite number >= 0")
    return v


def cost_scale(problem: FlowProblem, cmax: float | None = None, chunk: int | None = DEFAULT_CHUNK) -> float:
    r"""The problem's natural cost scale `C = M(\max|b| + c_{\max}) + \max a\, M^2`.

    `M = \max(\sum_i |s_i|, \mu(\mathcal X))` is the mass scale, `b` and `a` the
    linear and quadratic arc-cost coefficients and `c_{\max}` the largest finite assignment
    cost on a point of positive mass (spatial problems; computed when not given). No objective of a
    sensible point is much larger, so ``1e-12 * C`` is the default absolute floor of the gap
    (``certify``'s ``gap_atol``), below which a relative gap means nothing.
    """
    mass = float(np.abs(problem.supply).sum())
    if isinstance(problem, SpatialFlowProblem):
        mass = max(mass, float(problem.demand.total))
        if cmax is None:
            y = np.zeros(problem.n_nodes)
            cmax = _dual_parts(problem, y, block_rows(problem.n_endpoints, chunk))[2]
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    unit = float(np.max(np.abs(b), initial=0.0)) + float(cmax or 0.0)
    return mass * unit + float(np.max(a, initial=0.0)) * mass * mass


def _relative(resid: NDArray[np.float64], scale: NDArray[np.float64]) -> NDArray[np.float64]:
    """|resid| / scale, with 0/0 = 0 and r/0 = inf (a residual where nothing flows is all error)."""
    r = np.abs(resid)
    out = np.divide(r, scale, out=np.where(r > 0, INF, 0.0), where=scale > 0)
    return np.where(np.isnan(r), INF, out)


@dataclass(frozen=True)
class PointResiduals:
    r"""Feasibility of a point, judged item by item against each item's own scale (issue 18).

    Attributes
    ----------
    conservation : (n,) -- `s_i - \text{out}_i + \text{in}_i - m_i`, eq. (2b) (absolute)
    node_scale : (n,) -- `|s_i| + \sum_{a \ni i} |p_a| + \sum_k |\pi_{ki}|`: the node's supply,
        throughput and assigned mass, the magnitudes its balance is computed from
    node_relative : (n,) -- ``|conservation| / node_scale``
    bound_violation : (m,) -- `\max(l - p, p - u, 0)`, eq. (2d) (absolute)
    arc_relative : (m,) -- that over the smaller scale of the arc's two end nodes (which includes
        `|p|` itself): a violation is judged against what the arc's nodes carry
    marginal : (N,) or None -- `\sum_i \pi_{ki} - \mu_k`, eq. (2c) (absolute)
    point_relative : (N,) or None -- that over `\max(\mu_k, \sum_i|\pi_{ki}|)`
    negative_mass, negative_relative : largest negative plan entry, absolute and over its point's scale
    infinite_cost_mass : plan mass on pairs of infinite assignment cost (any is infeasible)
    worst : the largest relative residual of all of the above
    where : the item and rule of ``worst``, by name
    """

    conservation: NDArray[np.float64]
    node_scale: NDArray[np.float64]
    node_relative: NDArray[np.float64]
    bound_violation: NDArray[np.float64]
    arc_relative: NDArray[np.float64]
    marginal: NDArray[np.float64] | None
    point_relative: NDArray[np.float64] | None
    negative_mass: float
    negative_relative: float
    infinite_cost_mass: float
    worst: float
    where: str


def point_residuals(
    problem: FlowProblem, flows: NDArray[np.float64], plan: sp.csr_matrix | None, chunk: int | None = DEFAULT_CHUNK
) -> PointResiduals:
    """Residuals of (2b)-(2d) of a point (finite ``flows`` of the right shape), each relative to its own scale."""
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    n = problem.n_nodes
    cons = np.asarray(problem.supply, dtype=float) - problem.net_outflow(flows)
    ap = np.abs(flows)
    scale = np.abs(problem.supply) + np.bincount(tails, ap, n) + np.bincount(heads, ap, n)
    marg = prel = None
    neg = neg_rel = inf_mass = 0.0
    neg_row = -1
    if isinstance(problem, SpatialFlowProblem) and plan is not None:
        ends = np.asarray(problem.endpoints)
        cons[ends] -= np.asarray(plan.sum(axis=0)).reshape(-1)
        absplan = abs(plan)
        scale[ends] += np.asarray(absplan.sum(axis=0)).reshape(-1)
        mass = problem.demand.mass
        rowabs = np.asarray(absplan.sum(axis=1)).reshape(-1)
        marg = np.asarray(plan.sum(axis=1)).reshape(-1) - mass
        pscale = np.maximum(mass, rowabs)
        prel = _relative(marg, pscale)
        if plan.nnz:
            rows = np.repeat(np.arange(problem.n_points), np.diff(plan.indptr))
            negv = np.maximum(-plan.data, 0.0)
            if negv.max() > 0:
                k = int(np.argmax(negv / np.maximum(pscale[rows], np.finfo(float).tiny)))
                neg, neg_row = float(negv.max()), int(rows[k])
                neg_rel = float(negv[k] / pscale[rows[k]]) if pscale[rows[k]] > 0 else INF
            bad = _infinite_cost_mask(problem, plan, chunk) & (plan.data != 0)
            inf_mass = float(np.sum(np.abs(plan.data[bad])))
    nrel = _relative(cons, scale)
    bviol = np.maximum(np.maximum(problem.lower - flows, flows - problem.upper), 0.0)
    arel = _relative(bviol, np.minimum(scale[tails], scale[heads])) if flows.size else np.zeros(0)
    cands: list[tuple[float, str]] = []
    if n:
        i = int(np.argmax(nrel))
        cands.append(
            (
                float(nrel[i]),
                f"flow conservation (2b) at node {problem.node_names[i]!r}: residual {cons[i]:.3e} "
                f"= {nrel[i]:.2e} of its scale {scale[i]:.3e} (|supply| + throughput + assigned mass)",
            )
        )
    if flows.size:
        k = int(np.argmax(arel))
        cands.append(
            (
                float(arel[k]),
                f"bounds (2d) on arc {problem.arc_names[k]!r}: flow {flows[k]:.6g} outside "
                f"[{problem.lower[k]:g}, {problem.upper[k]:g}] by {bviol[k]:.3e} (= {arel[k]:.2e} of its nodes' scale)",
            )
        )
    if prel is not None and marg is not None and prel.size:
        k = int(np.argmax(prel))
        cands.append(
            (float(prel[k]), f"demand marginal (2c) at demand point {k}: the plan serves it {marg[k]:+.3e} off its mass")
        )
    if neg > 0:
        cands.append((neg_rel, f"plan of demand point {neg_row} has a negative entry {-neg:.3e}"))
    if inf_mass > 0:
        cands.append((INF, f"the plan puts mass {inf_mass:.3e} on pairs of infinite assignment cost"))
    worst, where = max(cands, key=lambda c: c[0], default=(0.0, "nothing to check"))
    return PointResiduals(cons, scale, nrel, bviol, arel, marg, prel, neg, neg_rel, inf_mass, worst, where)


def _plan(problem: SpatialFlowProblem, assignment: Any) -> sp.csr_matrix | None:
    if assignment is None:
        return None
    plan = sp.csr_matrix(assignment, dtype=float)
    if plan.shape != (problem.n_points, problem.n_endpoints):
        raise InvalidDataError(
            f"the assignment has shape {plan.shape} for {problem.n_points} points x {problem.n_endpoints} endpoints"
        )
    return plan


def _infinite_cost_mask(problem: SpatialFlowProblem, plan: sp.csr_matrix, chunk: int) -> NDArray[np.bool_]:
    """For each stored entry of ``plan`` (CSR order): is it on a pair of infinite cost?"""
    out = np.zeros(plan.nnz, dtype=bool)
    n = problem.n_points
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lo, hi = plan.indptr[start], plan.indptr[stop]
        if hi == lo:
            continue
        rows = np.repeat(np.arange(stop - start), np.diff(plan.indptr[start : stop + 1]))
        c = problem.cost_block(start, stop)[rows, plan.indices[lo:hi]]
        out[lo:hi] = ~np.isfinite(c)
    return out


def _argmin_rows(
    problem: SpatialFlowProblem, rows: NDArray[np.intp], psi_s: NDArray[np.float64], chunk: int
) -> NDArray[np.intp]:
    """argmin_i c(x_k, i) - psi_i for the points ``rows`` (sorted), chunk by chunk."""
    out = np.empty(rows.size, dtype=np.intp)
    n = problem.n_points
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lo, hi = np.searchsorted(rows, [start, stop])
        if hi == lo:
            continue
        block = problem.cost_block(start, stop)[rows[lo:hi] - start] - psi_s[None, :]
        out[lo:hi] = np.argmin(block, axis=1)
    return out


@dataclass(frozen=True)
class Repair:
    """A feasible point built from an answer: flows, plan (spatial) and its objective."""

    ok: bool
    flows: NDArray[np.float64] | None
    assignment: sp.csr_matrix | None
    objective: float
    residual: float
    message: str


def repair_point(
    problem: FlowProblem,
    flows: ArrayLike,
    assignment: Any,
    potentials: ArrayLike | None,
    exact_backend: str = "auto",
    chunk: int | None = DEFAULT_CHUNK,
    feas_tol: float = 1e-8,
) -> Repair:
    """Build a feasible point from an answer (see the module docstring); never solves the problem itself.

    The sub-solve's point is accepted (``ok``) only if it is feasible node by node within ``feas_tol``
    (``point_residuals``): an exact backend that drops a small node's supply under its own
    tolerance does not give an upper bound.
    """
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    from otmodel.backends import default_backend, solve
    from otmodel.model.network import Network

    p0 = np.asarray(flows, dtype=float).reshape(-1)
    psi = None if potentials is None else np.asarray(potentials, dtype=float).reshape(-1)
    supply = np.array(problem.supply, dtype=float)
    plan_rep: sp.csr_matrix | None = None
    notes: list[str] = []
    if isinstance(problem, SpatialFlowProblem):
        mass = problem.demand.mass
        plan = _plan(problem, assignment)
        if plan is None:
            plan = sp.csr_matrix((problem.n_points, problem.n_endpoints))
            notes.append("no assignment: every point sent to argmin c - psi")
        plan = plan.copy()
        plan.data = np.where(np.isfinite(plan.data) & (plan.data > 0), plan.data, 0.0)
        if plan.nnz:
            plan.data[_infinite_cost_mask(problem, plan, chunk)] = 0.0
        plan.eliminate_zeros()
        rowsum = np.asarray(plan.sum(axis=1)).reshape(-1)
        scale = np.divide(mass, rowsum, out=np.zeros_like(mass), where=rowsum > 0)
        plan = sp.csr_matrix(sp.diags(scale) @ plan)
        needy = np.flatnonzero((rowsum <= 0) & (mass > 0))
        if needy.size:
            psi_s = np.zeros(problem.n_endpoints)
            if psi is not None and np.all(np.isfinite(psi)):
                psi_s = psi[np.asarray(problem.endpoints)]
            lab = _argmin_rows(problem, needy, psi_s, chunk)
            extra = sp.csr_matrix((mass[needy], (needy, lab)), shape=plan.shape)
            plan = sp.csr_matrix(plan + extra)
            notes.append(f"{needy.size} point(s) without assigned mass sent to argmin c - psi")
        plan_rep = plan
        m = np.asarray(plan.sum(axis=0)).reshape(-1)
        supply[np.asarray(problem.endpoints)] -= m
        quad, lin = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
        what = "min-cost flow for the cell masses of the kept assignment"
    else:
        if p0.shape != (problem.n_arcs,) or not np.all(np.isfinite(p0)):
            return Repair(False, None, None, INF, INF, "flows are missing or not finite: nothing to project")
        # projection: ||p - p0||^2 = p^2 - 2 p0 p + const
        quad, lin = np.ones(problem.n_arcs), -2.0 * p0
        what = "projection of the flows onto the feasible set"
    names = np.asarray(problem.node_names, dtype=object)
    net = Network.from_arrays(
        problem.node_names,
        supply,
        names[np.asarray(problem.tails)],  # names, not indices: nodes may be called "1", "2", ...
        names[np.asarray(problem.heads)],
        quadratic=quad,
        linear=lin,
        lower=np.asarray(problem.lower),
        upper=np.asarray(problem.upper),
    )
    # the plan's total equals mu(X) up to summation round-off; the original balance was checked on construction
    sub = FlowProblem(net, name=f"repair of {getattr(problem, 'name', '')}".strip(), balance_rtol=1e-6)
    if exact_backend == "auto":
        # spatial: the registry's measured choice (HiGHS for linear costs, Clarabel through cvxpy for
        # quadratic ones: 0.54 s against 91 s for HiGHS's QP on a 3,039-arc repair); the projection of a
        # flow problem stays with HiGHS, whose active-set answer is exact (Clarabel's left a 1e-5 gap)
        exact_backend = default_backend(sub) if isinstance(problem, SpatialFlowProblem) else "highs"
    sol = solve(sub, backend=exact_backend)
    if sol.status is not Status.OPTIMAL or not sol.has_point:
        why = sol.certificate.describe() if sol.certificate is not None else sol.message
        verdict = "infeasible" if sol.status is Status.INFEASIBLE else sol.status.value
        return Repair(False, None, plan_rep, INF, INF, f"{what} is {verdict} ({exact_backend}): {why}")
    fl = np.clip(np.asarray(sol.flows, dtype=float), problem.lower, problem.upper)
    obj = problem.objective(fl, plan_rep)
    chk = point_residuals(problem, fl, plan_rep, chunk)
    msg = f"{what}, solved by {exact_backend}" + (f"; {'; '.join(notes)}" if notes else "")
    ok = bool(math.isfinite(obj)) and chk.worst <= feas_tol
    if not ok and math.isfinite(obj):
        msg += f"; its point is not feasible within feas_tol {feas_tol:g}: {chk.where}"
    return Repair(ok, fl, plan_rep, float(obj), chk.worst, msg)


# =============================================================================== the certificate
@dataclass(frozen=True)
class Certificate:
    r"""What ``certify`` found, every number recomputed from the problem data.

    Attributes
    ----------
    certified : bool -- True iff every check in ``checks`` passed (see ``certify``)
    reasons : why not (empty when certified); each names the field, node, arc or point at fault
    rtol, feas_tol, gap_atol : the tolerances used (``gap_atol`` the absolute floor of the gap)
    conservation_residual : (n,) array -- per node `s_i - \text{out}_i + \text{in}_i - m_i`
        (`m_i` the mass assigned to endpoint i), eq. (2b) (absolute)
    bound_violation : (m,) array -- per arc `\max(l - p, p - u, 0)`, eq. (2d) (absolute)
    marginal_residual_max, marginal_residual_l1 : `|\sum_i \pi_{ki} - \mu_k|` over points, eq. (2c)
        (None for a flow problem)
    negative_mass : largest negative entry of the plan (as a positive number)
    infinite_cost_mass : plan mass on pairs of infinite assignment cost
    primal_residual : the largest residual of all of the above, each relative to its own item's scale
        (a node's ``|supply| + throughput + assigned mass``, see ``PointResiduals``); ``worst_residual``
        names that item
    objective : objective (2a) recomputed from the returned point
    reported_objective : what the backend reported (compared, never used)
    dual_bound : a proven lower bound on the optimum: `q(\psi')` (eq. (4)) at the returned
        potentials or, if they are not dual feasible, at their shift onto dual feasibility, minus a
        bound on the rounding error of its evaluation (``proven_dual_bound``)
    dual_value_raw : `q(\psi)` at the returned potentials, as they are (may be `-\infty`)
    dual_rounding : the rounding-error bound subtracted; ``dual_potentials`` the `\psi'` used
    upper_bound : objective of a feasible point (the repair, or the point itself if feasible)
    upper_source : "repair", "solution" or "none"
    gap, relative_gap : ``upper_bound - dual_bound`` and that over the smallest `|f|` on
        ``[dual_bound, upper_bound]`` (0 when the interval contains 0: then only ``gap_atol`` serves)
    cost_scale : the problem's natural cost scale (``cost_scale``)
    repaired_objective, repair_message, repaired_flows, repaired_assignment : the repair
    checks : (name, passed, detail) for every condition of ``certified``
    notes : remarks that are not failures
    """

    certified: bool
    reasons: tuple[str, ...]
    rtol: float
    feas_tol: float
    backend: str
    status: str
    point_status: str
    conservation_residual: NDArray[np.float64]
    bound_violation: NDArray[np.float64]
    marginal_residual_max: float | None
    marginal_residual_l1: float | None
    negative_mass: float
    infinite_cost_mass: float
    primal_residual: float
    objective: float
    reported_objective: float
    dual_bound: float
    upper_bound: float
    upper_source: str
    gap: float
    relative_gap: float
    repaired_objective: float
    repair_message: str
    repaired_flows: NDArray[np.float64] | None = None
    repaired_assignment: sp.csr_matrix | None = None
    checks: tuple[tuple[str, bool, str], ...] = ()
    notes: tuple[str, ...] = ()
    problem_name: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    gap_atol: float = 0.0
    cost_scale: float = math.nan
    dual_value_raw: float = math.nan
    dual_rounding: float = 0.0
    dual_potentials: NDArray[np.float64] | None = None
    node_scale: NDArray[np.float64] | None = None
    worst_residual: str = ""

    @property
    def max_conservation_residual(self) -> float:
        return float(np.max(np.abs(self.conservation_residual), initial=0.0))

    @property
    def max_bound_violation(self) -> float:
        return float(np.max(self.bound_violation, initial=0.0))

    def __bool__(self) -> bool:
        return self.certified

    def summary(self) -> str:
        def g(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.10g}"

        def e(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3e}"

        lines = [
            f"certificate for the {self.backend} answer"
            + (f" to {self.problem_name!r}" if self.problem_name else "")
            + f" (status {self.status}, point {self.point_status})",
            f"  objective of the point (recomputed)  {g(self.objective)}"
            + (f"   [reported {g(self.reported_objective)}]" if math.isfinite(self.reported_objective) else ""),
            f"  dual bound, proven (eq. (4))          {g(self.dual_bound)}"
            + (f"   [q(psi) {g(self.dual_value_raw)}, rounding {e(self.dual_rounding)}]" if self.dual_rounding else ""),
            f"  upper bound ({self.upper_source})".ljust(40) + g(self.upper_bound),
            f"  certified gap                         {e(self.gap)}  (relative {e(self.relative_gap)}, "
            f"rtol {self.rtol:g}, gap_atol {self.gap_atol:.3g})",
            f"  repair: {self.repair_message}"
            + (f" -> {g(self.repaired_objective)}" if math.isfinite(self.repaired_objective) else ""),
            "  residuals of the point as returned:",
            f"    flow conservation (max |.|)         {e(self.max_conservation_residual)}",
            f"    bound violation (max)               {e(self.max_bound_violation)}",
        ]
        if self.marginal_residual_max is not None:
            lines.append(
                f"    demand marginal (max / L1)          {e(self.marginal_residual_max)} / {e(self.marginal_residual_l1)}"
            )
            lines.append(f"    negative plan mass                  {e(self.negative_mass)}")
            lines.append(f"    mass on infinite-cost pairs         {e(self.infinite_cost_mass)}")
        lines.append(f"    largest, each item relative to its own scale   {e(self.primal_residual)}  (feas_tol {self.feas_tol:g})")
        if self.worst_residual and self.primal_residual > 0:
            lines.append(f"      at: {self.worst_residual}")
        if "transport_cost" in self.info:  # graph transport (Mokhtari et al.)
            lines.append(f"  transport cost c.pi (2.1)             {g(self.info['transport_cost'])}")
            lines.append(f"  regularization Gamma/2 ||pi||^2       {g(self.info['regularization'])}")
        if "consensus_disagreement" in self.info:
            lines.append(f"  agents' copies, max ||pi^i - pi||     {e(self.info['consensus_disagreement'])}")
        lines.append("  checks:")
        for name, ok, detail in self.checks:
            lines.append(f"    [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        if self.certified:
            lines.append(
                f"CERTIFIED within rtol = {self.rtol:g} (gap_atol {self.gap_atol:.3g}): "
                f"the optimum lies in [{g(self.dual_bound)}, {g(self.upper_bound)}]"
            )
        else:
            lines.append("NOT certified: " + "; ".join(self.reasons))
        return "\n".join(lines)


def _gap_test(lo: float, hi: float, rtol: float, atol: float) -> tuple[bool, float, float]:
    r"""``(ok, gap, relative)`` for an optimum known to lie in ``[lo, hi]``.

    The relative gap divides by `\min_{f\in[lo, hi]} |f|`, the smallest the optimum's size can
    be (0 when the interval contains 0), so ``relative <= rtol`` guarantees
    ``hi - lo <= rtol |f*|``; ``ok`` is ``-tol <= hi - lo <= tol`` with ``tol = max(rtol * that, atol)``
    (an interval inverted beyond the tolerance means the "feasible" point is not).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return False, (INF if not math.isnan(lo) else math.nan), INF
    gap = hi - lo
    size = 0.0 if lo <= 0.0 <= hi or hi <= 0.0 <= lo else min(abs(lo), abs(hi))
    if gap == 0:
        rel = 0.0
    else:
        rel = gap / size if size > 0 else math.copysign(INF, gap)
    tol = max(rtol * size, atol)
    return bool(-tol <= gap <= tol), gap, rel


def _vector(value: Any) -> NDArray[np.float64] | None:
    try:
        return np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None


def _structure_mismatch(problem: FlowProblem, other: Any) -> str | None:
    """Why the solution's own problem would map names to other indices than ``problem`` (None: it does not).

    ``solution.flow(tail, head)``, ``potential(node)`` and ``mass(endpoint)`` read through the
    solution's problem, so its node order, arcs and endpoints must be the same as the problem judged.
    """
    if other is problem:
        return None
    try:
        if list(other.node_names) != list(problem.node_names):
            return "its problem names other nodes (or in another order)"
        if not (np.array_equal(other.tails, problem.tails) and np.array_equal(other.heads, problem.heads)):
            return "its problem has other arcs (or in another order)"
        if list(getattr(other, "endpoint_names", [])) != list(getattr(problem, "endpoint_names", [])):
            return "its problem has other endpoints (or in another order)"
    except (AttributeError, TypeError, ValueError) as exc:
        return f"its problem cannot be read ({type(exc).__name__})"
    return None


def certify(
    problem: FlowProblem,
    solution: Solution,
    rtol: float = 1e-6,
    repair: bool = True,
    exact_backend: str = "auto",
    feas_tol: float = 1e-8,
    chunk: int | None = DEFAULT_CHUNK,
    *,
    gap_atol: float | None = None,
) -> Certificate:
    r"""Certify ``solution`` of ``problem`` from the problem data alone.

    The optimum `f^*` of (2) satisfies `\underline q \le f^* \le \text{upper}` where
    `\underline q` is the proven dual bound (eq. (4) at the returned potentials, shifted onto
    dual feasibility if needed, minus its rounding error: ``proven_dual_bound``) and *upper* the
    objective of a feasible point (the repair of the module docstring, or the returned point itself
    when it is feasible within ``feas_tol`` item by item: every node's conservation relative to its
    own ``|supply| + throughput + assigned mass``, every point's marginal relative to its mass, every
    bound relative to its arc's nodes; ``point_residuals``). The answer is **certified** when

    1. the gap `g = \text{upper} - \underline q` satisfies `|g| \le \max(\text{rtol}\,
       \min_{f\in[\underline q, \text{upper}]}|f|,\ \text{gap\_atol})`: relative to the optimum's size
       (never to 1), with the absolute floor ``gap_atol`` (default `10^{-12}` times the natural
       cost scale ``cost_scale``; pass 0 for none);
    2. every field a user reads agrees with the point: the reported objective (same rule), the
       ``cell_mass`` (each endpoint within ``feas_tol`` of its plan column, relative to its scale;
       none for a flow problem), the solution's own problem (same nodes, arcs and endpoints, so that
       ``flow(...)``, ``potential(...)`` and ``mass(...)`` read the numbers judged here);
    3. the status claims hold: a solution that claims a feasible point (status OPTIMAL or point
       FEASIBLE) has one within ``feas_tol`` and its own objective passes rule 1 against
       `\underline q`; OPTIMAL comes with point status FEASIBLE and no infeasibility
       certificate; INFEASIBLE / UNBOUNDED (claims about the problem, not a point) and NO_POINT /
       CERTIFICATE are never certified here.

    An iterate that only claims to be nearly feasible (an iterative backend) is certified through
    its repair: the certificate then says that the optimum is known within ``rtol`` and that the
    repaired point (``repaired_flows``, ``repaired_assignment``) attains it; the iterate's own
    residuals are reported, not judged.

    Parameters
    ----------
    rtol, feas_tol, gap_atol : the tolerances above (finite numbers >= 0)
    repair : build the repaired point (needs ``exact_backend``); without it the upper bound exists
        only if the returned point is feasible within ``feas_tol``
    exact_backend : registry name of the exact backend used for the repair's sub-solve (default
        ``"auto"``: for a spatial problem ``otmodel.backends.default_backend`` of the sub-problem, the
        fastest measured; for the projection of a flow problem ``"highs"``)
    chunk : demand points per block (memory ``O(chunk x |S| + N)``; default: at most 64 MB of costs)

    Raises
    ------
    InvalidDataError : ``problem`` is not a FlowProblem, ``solution`` not a Solution, or a
        tolerance is not a finite number >= 0.
    """
    if getattr(problem, "kind", None) == "relocation":  # its own certificate (otmodel.validation.relocation)
        from otmodel.validation.relocation import certify_relocation

        return certify_relocation(problem, solution, rtol=rtol)  # type: ignore[return-value]
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"certify: problem must be an otmodel FlowProblem, got {type(problem).__name__}")
    if not isinstance(solution, Solution):
        raise InvalidDataError(f"certify: solution must be an otmodel Solution, got {type(solution).__name__}")
    rtol = _tolerance(rtol, "rtol", "certify")
    feas_tol = _tolerance(feas_tol, "feas_tol", "certify")
    if not isinstance(exact_backend, str):
        raise InvalidDataError(f"certify: exact_backend must be a backend name, got {exact_backend!r}")
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    reasons: list[str] = []
    notes: list[str] = []
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append((name, ok, detail))
        if not ok:
            reasons.append(f"{name}: {detail}")

    spatial = isinstance(problem, SpatialFlowProblem)
    n, m_arcs = problem.n_nodes, problem.n_arcs
    if solution.problem is not problem:
        why = _structure_mismatch(problem, solution.problem)
        if why is not None:
            check("the solution's problem", False, f"{why}: its name-keyed views would read other numbers")
        notes.append("the solution carries a different problem object; judged against the one given")

    flows = _vector(solution.flows)
    psi = _vector(solution.potentials)
    if flows is None:
        reasons.append("the solution's flows are not numbers")
        flows = np.full(0, np.nan)
    if psi is None:
        reasons.append("the solution's potentials are not numbers")
        psi = np.full(0, np.nan)
    shape_ok = flows.shape == (m_arcs,) and psi.shape == (n,)
    plan: sp.csr_matrix | None = None
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        try:
            plan = _plan(problem, solution.assignment)
        except (TypeError, ValueError) as exc:
            shape_ok = False
            reasons.append(str(exc) if isinstance(exc, InvalidDataError) else f"the assignment is not a matrix ({exc})")
        if solution.assignment is None:
            reasons.append("a spatial problem needs an assignment plan and the solution has none")
    if flows.shape != (m_arcs,):
        reasons.append(f"the solution has {flows.size} flows for {m_arcs} arcs")
    if psi.shape != (n,):
        reasons.append(f"the solution has {psi.size} potentials for {n} nodes")

    # ---------------------------------------------------------------- residuals of the point
    cons = np.full(n, np.nan)
    bviol = np.full(m_arcs, np.nan)
    node_scale: NDArray[np.float64] | None = None
    marg_max: float | None = None
    marg_l1: float | None = None
    neg = 0.0
    inf_mass = 0.0
    objective = math.nan
    prim_res = INF
    worst = ""
    if flows.shape == (m_arcs,) and np.all(np.isfinite(flows)) and (plan is not None or not spatial):
        res = point_residuals(problem, flows, plan, chunk)
        cons, bviol, node_scale = res.conservation, res.bound_violation, res.node_scale
        prim_res, worst = res.worst, res.where
        neg, inf_mass = res.negative_mass, res.infinite_cost_mass
        if res.marginal is not None:
            dm = np.abs(res.marginal)
            marg_max, marg_l1 = float(np.max(dm, initial=0.0)), float(np.sum(dm))
        objective = float(problem.objective(flows, plan)) if spatial else float(problem.objective(flows))
    elif flows.shape == (m_arcs,) and not np.all(np.isfinite(flows)):
        reasons.append("the solution has no primal point (non-finite flows)")

    # ---------------------------------------------------------------- the dual bound
    q = q_raw = math.nan
    rounding = 0.0
    psi_used: NDArray[np.float64] | None = None
    cmax: float | None = None
    if psi.shape == (n,):
        if not np.all(np.isfinite(psi)):
            st_name = getattr(solution.status, "value", solution.status)
            reasons.append(f"the potentials are not finite (status {st_name}): no dual bound")
        else:
            q, q_raw, rounding, psi_used, how, cmax = _proven_dual_bound(problem, psi, chunk)
            if psi_used is not None and psi_used is not psi and not np.array_equal(psi_used, psi):
                notes.append(how)
    cscale = cost_scale(problem, cmax, chunk)
    atol = 1e-12 * cscale if gap_atol is None else _tolerance(gap_atol, "gap_atol", "certify")

    # ---------------------------------------------------------------- the upper bound
    upper, source = INF, "none"
    feasible_point = math.isfinite(objective) and prim_res <= feas_tol
    if feasible_point:
        upper, source = objective, "solution"
    rep: Repair | None = None
    if repair and shape_ok and (spatial or not feasible_point):
        try:
            rep = repair_point(problem, flows, plan, psi, exact_backend=exact_backend, chunk=chunk, feas_tol=feas_tol)
        except Exception as exc:  # an exact backend missing or failing must not hide the rest
            rep = Repair(False, None, None, INF, INF, f"repair failed: {type(exc).__name__}: {exc}")
        if rep.ok and rep.objective < upper:
            upper, source = rep.objective, "repair"
    elif not repair:
        notes.append("repair disabled")
    elif not spatial and feasible_point:
        notes.append("the flows are feasible: no repair needed")

    ok_gap, gap, rel = _gap_test(q, upper, rtol, atol)
    if math.isnan(q):
        detail = "no dual bound"
    elif q == -INF:
        detail = "no dual bound: q(psi) = -inf and no shift of the potentials is dual feasible"
    elif not math.isfinite(upper):
        detail = "no feasible point: " + (rep.message if rep is not None else "repair not attempted")
    else:
        tol = max(rtol * (abs(gap / rel) if rel not in (0.0, INF, -INF) else 0.0), atol)
        detail = (
            f"gap {gap:.3e}, relative {rel:.3e} (to the smallest |optimum| the interval allows); "
            f"{'within' if ok_gap else 'beyond'} max(rtol {rtol:g} x that, gap_atol {atol:.3g}) = {tol:.3g}"
        )
        if gap < 0:
            detail += " (upper bound below the proven dual bound: the 'feasible' point is not)"
    check("certified gap", ok_gap, detail)

    # ---------------------------------------------------------------- what the user reads
    rep_obj = float(solution.objective) if isinstance(solution.objective, (int, float, np.number)) else math.nan
    claims = solution.status is Status.OPTIMAL or solution.point_status is PointStatus.FEASIBLE
    st, pst = solution.status, solution.point_status
    for name, ok, detail in reported_fields(problem, solution, objective, plan, node_scale, rtol, atol, feas_tol):
        check(name, ok, detail)
    if claims:
        ok_feas = prim_res <= feas_tol
        d = f"primal residual {prim_res:.2e} {'<=' if ok_feas else '>'} feas_tol {feas_tol:g}"
        check("claimed feasible point", ok_feas, d + (f" ({worst})" if worst and not ok_feas else ""))
        if math.isfinite(objective) and math.isfinite(q):
            ok_own, own_gap, own_rel = _gap_test(q, objective, rtol, atol)
            check(
                "claimed optimal point",
                ok_own,
                f"objective - proven dual bound {own_gap:.3e} (relative {own_rel:.3e}) "
                f"{'within' if ok_own else 'beyond'} rtol {rtol:g} / gap_atol {atol:.3g}",
            )
    elif math.isfinite(prim_res) and prim_res > feas_tol and ok_gap:
        notes.append(
            f"the point as returned is only nearly feasible (residual {prim_res:.2e}: {worst}); "
            "the certified point is the repair (repaired_flows, repaired_assignment)"
        )

    certified = ok_gap and all(ok for _, ok, _ in checks) and not reasons
    return Certificate(
        certified=certified,
        reasons=tuple(dict.fromkeys(reasons)),
        rtol=float(rtol),
        feas_tol=float(feas_tol),
        backend=str(solution.backend),
        status=st.value if isinstance(st, Status) else str(st),
        point_status=pst.value if isinstance(pst, PointStatus) else str(pst),
        conservation_residual=cons,
        bound_violation=bviol,
        marginal_residual_max=marg_max,
        marginal_residual_l1=marg_l1,
        negative_mass=neg,
        infinite_cost_mass=inf_mass,
        primal_residual=float(prim_res),
        objective=float(objective),
        reported_objective=float(rep_obj),
        dual_bound=float(q),
        upper_bound=float(upper),
        upper_source=source,
        gap=float(gap),
        relative_gap=float(rel),
        repaired_objective=rep.objective if rep is not None else INF,
        repair_message=rep.message if rep is not None else "not attempted",
        repaired_flows=rep.flows if rep is not None else None,
        repaired_assignment=rep.assignment if rep is not None else None,
        checks=tuple(checks),
        notes=tuple(notes),
        problem_name=str(getattr(problem, "name", "") or ""),
        info=_graph_transport_info(problem, solution, flows),
        gap_atol=float(atol),
        cost_scale=float(cscale),
        dual_value_raw=float(q_raw),
        dual_rounding=float(rounding),
        dual_potentials=psi_used,
        node_scale=node_scale,
        worst_residual=worst,
    )


def reported_fields(
    problem: FlowProblem,
    solution: Solution,
    objective: float,
    plan: sp.csr_matrix | None,
    node_scale: NDArray[np.float64] | None,
    rtol: float,
    atol: float,
    feas_tol: float,
) -> list[tuple[str, bool, str]]:
    """Checks of what a solution reports besides its point (issue 10, C2): ``(name, passed, detail)``.

    * ``reported objective``: the objective the solution reports equals ``objective`` (recomputed
      from its point) within ``max(rtol |objective|, atol)``; a solution that claims a feasible point
      must report a finite one;
    * ``cell_mass``: what ``solution.mass(endpoint)`` reads equals the plan's column sums, each within
      ``feas_tol`` of its endpoint's scale (none at all for a problem without endpoints);
    * ``status claim``: INFEASIBLE / UNBOUNDED (the problem has no optimum) and NO_POINT / CERTIFICATE
      (there is no point) contradict a point offered for judgement; OPTIMAL needs point status
      FEASIBLE and no infeasibility/unboundedness certificate.
    """
    out: list[tuple[str, bool, str]] = []
    rep_obj = float(solution.objective) if isinstance(solution.objective, (int, float, np.number)) else math.nan
    st, pst = solution.status, solution.point_status
    claims = st is Status.OPTIMAL or pst is PointStatus.FEASIBLE
    if math.isfinite(rep_obj) or (claims and math.isfinite(objective)):
        diff = abs(rep_obj - objective) if math.isfinite(objective) and math.isfinite(rep_obj) else INF
        lim = max(rtol * abs(objective), atol) if math.isfinite(objective) else 0.0
        out.append(
            (
                "reported objective",
                diff <= lim,
                f"reported {rep_obj:.10g}, recomputed from the point {objective:.10g} "
                f"(difference {diff:.2e}, allowed {lim:.2e})",
            )
        )
    _check_cell_mass(problem, solution, plan, node_scale, feas_tol, lambda n, ok, d: out.append((n, ok, d)))
    if st in (Status.INFEASIBLE, Status.UNBOUNDED):
        out.append(
            (
                "status claim",
                False,
                f"the status says the problem is {st.value}, yet a point is offered for judgement "
                "(an infeasibility/unboundedness certificate is verified by the backends' certificate checks)",
            )
        )
    if pst in (PointStatus.NO_POINT, PointStatus.CERTIFICATE):
        out.append(("status claim", False, f"the point status says {pst.value}: there is no point to judge"))
    if st is Status.OPTIMAL and pst is not PointStatus.FEASIBLE:
        out.append(
            ("status claim", False, f"status optimal with point status {getattr(pst, 'value', pst)}: an optimum is a feasible point")
        )
    if st is Status.OPTIMAL and solution.certificate is not None:
        out.append(
            ("status claim", False, "status optimal, yet the solution carries an infeasibility/unboundedness certificate")
        )
    return out


def _check_cell_mass(
    problem: FlowProblem,
    solution: Solution,
    plan: sp.csr_matrix | None,
    node_scale: NDArray[np.float64] | None,
    feas_tol: float,
    check: Any,
) -> None:
    """``cell_mass`` (what ``solution.mass(endpoint)`` reads) must be the plan's column sums."""
    cm = solution.cell_mass
    if not isinstance(problem, SpatialFlowProblem):
        if cm is not None:
            check("cell_mass", False, "cell masses reported for a problem without endpoints")
        return
    if cm is None:
        return
    v = _vector(cm)
    if v is None or v.shape != (problem.n_endpoints,) or not np.all(np.isfinite(v)):
        check("cell_mass", False, f"cell_mass must be {problem.n_endpoints} finite numbers, one per endpoint")
        return
    if plan is None:
        return
    col = np.asarray(plan.sum(axis=0)).reshape(-1)
    ends = np.asarray(problem.endpoints)
    scale = np.abs(v) + np.abs(col)
    if node_scale is not None:
        scale = np.maximum(scale, node_scale[ends])
    rel = _relative(v - col, scale)
    k = int(np.argmax(rel)) if rel.size else 0
    ok = bool(rel.size == 0 or rel[k] <= feas_tol)
    detail = (
        "every endpoint's reported mass equals its plan column sum within feas_tol"
        if ok
        else f"endpoint {problem.endpoint_names[k]!r} reports mass {v[k]:.6g} but the plan assigns it {col[k]:.6g} "
        f"(relative difference {rel[k]:.2e} > feas_tol {feas_tol:g})"
    )
    check("cell_mass", ok, detail)


def _graph_transport_info(problem: FlowProblem, solution: Solution, flows: NDArray[np.float64]) -> dict[str, Any]:
    r"""Extra figures for a graph-transport problem (Mokhtari et al.), recomputed from the data.

    ``transport_cost`` is `c^\top\pi` of (2.1) at the returned plan and ``regularization``
    `\frac{\Gamma}{2}\|\pi\|^2` (their sum is the objective of (2.4) at consensus). When the
    solution carries the agents' copies (``info["copies"]``, the ADMM backend with
    ``keep_copies=True``), ``consensus_disagreement`` is `\max_i \|\pi^i - \pi\|`, recomputed
    from them (reported, not judged: the certified point is the returned plan).
    """
    out: dict[str, Any] = {}
    if not hasattr(problem, "transport_cost") or flows.shape != (problem.n_arcs,) or not np.all(np.isfinite(flows)):
        return out
    out["transport_cost"] = float(problem.transport_cost(flows))  # type: ignore[attr-defined]
    out["regularization"] = float(problem.objective(flows)) - out["transport_cost"]
    copies = solution.info.get("copies") if isinstance(solution.info, dict) else None
    if copies is not None:
        arr = np.asarray(copies, dtype=float)
        if arr.ndim == 2 and arr.shape[1] == problem.n_arcs:
            active = solution.info.get("active")
            rows = (
                [problem.node_index(nm) for nm in active]
                if active is not None and len(active) < arr.shape[0]
                else list(range(arr.shape[0]))
            )
            dev = arr[rows] - flows[None, :]
            out["consensus_disagreement"] = float(np.sqrt(np.max(np.einsum("ij,ij->i", dev, dev), initial=0.0)))
    return out
