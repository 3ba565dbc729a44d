r"""Feasibility of a point, judged item by item against each item's own scale (issue 18).

``point_residuals`` recomputes the residuals of (2b)-(2d) of Laurentin et al. (2025) of a point,
every node against its own ``|supply| + throughput + assigned mass``, every demand point against its
mass. Part of ``otmodel.validation.certificate`` (split by topic, issue 11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model._demand_kernels import planar_kind
from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.validation.pricing import DEFAULT_CHUNK

__all__ = ["PointResiduals", "point_residuals"]

INF = math.inf


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
    if planar_kind(problem.assignment_cost) >= 0:
        # a planar cost is finite at every pair: the problem's construction rejects an overflow
        # (``_PlanarCost.bind``), so there is nothing to scan
        return out
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


