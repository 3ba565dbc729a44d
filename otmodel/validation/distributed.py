r"""The certificate of ``certify`` computed where the demand is: on a Dask cluster (issue 17).

``certify`` reads every demand point in the calling process (the dual bound's assignment term, the
plan's residuals, the repair's cell masses). With a billion points that process cannot hold them, so
``certify_distributed`` computes the same quantities from the blocks of the demand on the workers,
each block returning a handful of numbers, and finishes in the client:

* the dual bound (eq. (4) of Laurentin et al. 2025) at the returned potentials `\psi`:
  `\sum_k \mu_k \min_i\{c(x_k,i) - \psi_i\}` as floating-point sums of runs of 256 terms, the runs
  added with ``math.fsum``, and the rounding-error bound of ``proven_dual_bound`` plus the runs' own
  (shifted onto dual feasibility first when a linear arc's price is violated, as ``certify`` does);
* the point of Proposition 1: every point's whole mass to `T(x_k) = \arg\min_i c(x_k,i) - \psi_i`
  (first index on ties). Its cell masses `m_i` and assignment cost `\sum_k \mu_k c(x_k, T(x_k))`
  come back per block. This is the plan the dual-ascent backend returns, and the repair ``certify``
  builds from it (its rows already carry each point's mass exactly: the demand marginals (2c) hold
  by construction);
* the repair: the min-cost flow with supplies `s - m` at the endpoints, solved by an exact backend of
  the registry in the client (the network is small), judged node by node within ``feas_tol``;
* the gap, with ``certify``'s rule and tolerances.

The costs on the workers are computed here from the cost's definition (column by column), not by the
backend's kernel: nothing the backend under test computed is reused. From ``PRUNE_FROM`` endpoints on,
a block is scanned by the model's pruned pass (``otmodel.model._demand_kernels``: per point only the
endpoints that can be best, with the same minima, labels and sums bit for bit).
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model._demand_kernels import best_two_xy, max_cost_xy
from otmodel.model.dask_demand import DaskSpatialFlowProblem, load_block
from otmodel.model.demand import block_rows
from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status
from otmodel.validation.certificate import Certificate, _gap_test
from otmodel.validation.pricing import (
    EPS,
    INF,
    _dual_constraints,
    _exact_le,
    _shift_potentials,
    _tolerance,
    cost_scale,
)
from otmodel.validation.residuals import _relative

__all__ = ["certify_distributed", "certificate_block"]


#: Terms summed in floating point before the correctly rounded sum of the runs (``math.fsum`` of
#: every term costs about 100 ns a point; this, a few ns, and a rounding bound of 256 units).
RUN = 256


@nb.njit(cache=True, nogil=True)
def _certificate_kernel(
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    yxy: NDArray[np.float64],
    y_s: NDArray[np.float64],
    kind: int,
    ymax: float,
    m: NDArray[np.float64],
    q_runs: NDArray[np.float64],
    a_runs: NDArray[np.float64],
) -> tuple[float, float, float]:
    r"""Per point of positive mass: `c(x, i)` from the cost's definition (0 Euclidean, 1 squared,
    2 Manhattan), the first index of the smallest `c - y_i` (strict ``<``); run sums of
    `\mu_k \min` and `\mu_k c(x_k, T(x_k))` into ``q_runs`` / ``a_runs`` (``RUN`` points each), cell
    masses into ``m``. Returns `\sum|\mu_k \min|`, the other rounding terms of ``_dual_parts`` and
    the largest cost."""
    awm = 0.0
    extra = 0.0
    cmax = 0.0
    m_run = np.zeros(m.shape[0])  # cell masses in runs too: a long running sum of equal masses drifts
    for k in range(xy.shape[0]):
        if k % RUN == 0 and k > 0:
            for i in range(m.shape[0]):
                m[i] += m_run[i]
                m_run[i] = 0.0
        w = mass[k]
        if not w > 0:
            continue
        best = np.inf
        bi = 0
        bc = 0.0
        for i in range(yxy.shape[0]):
            dx = xy[k, 0] - yxy[i, 0]
            dy = xy[k, 1] - yxy[i, 1]
            if kind == 2:
                c = abs(dx) + abs(dy)
            else:
                c = dx * dx
                c += dy * dy
                if kind == 0:
                    c = np.sqrt(c)
            if c > cmax:
                cmax = c
            v = c - y_s[i]
            if v < best:
                best = v
                bi = i
                bc = c
        r = k // RUN
        q_runs[r] += w * best
        a_runs[r] += w * bc
        m_run[bi] += w
        awm += abs(w * best)
        extra += w * (abs(best) + 2.0 * ymax)
    for i in range(m.shape[0]):
        m[i] += m_run[i]
    return awm, extra, cmax


#: Endpoints from which a block is scanned by the pruned pass (``otmodel.model._demand_kernels``)
#: instead of every endpoint for every point.
PRUNE_FROM = 64


def _pruned_sums(
    xy: NDArray[np.float64], mass: NDArray[np.float64], yxy: NDArray[np.float64], y_s: NDArray[np.float64],
    kind: int, ymax: float, n_runs: int,
) -> tuple[float, float, float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """What ``_certificate_kernel`` returns, from the pruned pass: the same minima, labels and costs bit for
    bit, the runs summed in the same order (``bincount`` adds in index order); the largest cost from the
    convex hull of the points of positive mass (``max_cost_xy``)."""
    ns = y_s.shape[0]
    v1, lab, _ = best_two_xy(xy, yxy, kind, y_s)
    keep = np.flatnonzero(mass > 0)
    w, best, bi = mass[keep], v1[keep], lab[keep]
    dx, dy = xy[keep, 0] - yxy[bi, 0], xy[keep, 1] - yxy[bi, 1]
    if kind == 2:
        c = np.abs(dx) + np.abs(dy)
    else:
        c = dx * dx + dy * dy
        if kind == 0:
            c = np.sqrt(c)
    run = keep // RUN
    wb = w * best
    q_runs = np.bincount(run, weights=wb, minlength=n_runs).astype(float)
    a_runs = np.bincount(run, weights=w * c, minlength=n_runs).astype(float)
    # cell masses run by run, then the runs added in order (a long running sum of equal masses drifts),
    # a group of runs at a time (memory: at most 2**20 partial sums)
    m = np.zeros(ns)
    group = max(1, 2**20 // max(ns, 1))
    bounds = np.searchsorted(run, np.arange(0, n_runs + group, group))
    for g, g0 in enumerate(range(0, n_runs, group)):
        a, b = bounds[g], bounds[g + 1]
        if a == b:
            continue
        part = np.bincount((run[a:b] - g0) * ns + bi[a:b], weights=w[a:b], minlength=group * ns)
        for row in part.reshape(group, ns):
            m += row
    awm = float(np.sum(np.abs(wb)))
    extra = float(np.sum(w * (np.abs(best) + 2.0 * ymax)))
    cmax = max_cost_xy(xy[keep], yxy, kind)
    return awm, extra, cmax, m, q_runs, a_runs


def certificate_block(part: Any, y_s: NDArray[np.float64], yxy: NDArray[np.float64], cost: Any, chunk: int) -> dict[str, Any]:
    r"""One block's share of the certificate at endpoint potentials ``y_s``; runs on a worker.

    Returns ``q`` (`\sum \mu_k \min_i\{c_{ki} - y_i\}` over the block's points of
    positive mass: runs of ``RUN`` terms in floating point, the runs added by ``math.fsum``), ``err``
    (its rounding-error terms: those of ``_dual_parts`` plus the runs'), ``cmax`` (largest cost),
    ``m`` (argmin cell masses), ``assign`` (`\sum \mu_k c(x_k, T(x_k))`, summed the same way).
    """
    xy, mass = load_block(part)
    ns = y_s.shape[0]
    ymax = float(np.max(np.abs(y_s), initial=0.0))
    kind = {"euclidean": 0, "squared_euclidean": 1, "manhattan": 2}[cost.name]
    n_runs = -(-xy.shape[0] // RUN)
    if ns >= PRUNE_FROM:
        awm, extra, cmax, m, q_runs, a_runs = _pruned_sums(xy, mass, np.asarray(yxy, dtype=float), y_s, kind, ymax, n_runs)
    else:
        q_runs, a_runs = np.zeros(n_runs), np.zeros(n_runs)
        m = np.zeros(ns)
        sums = _certificate_kernel(np.ascontiguousarray(xy, dtype=float), np.ascontiguousarray(mass, dtype=float),
                                   np.ascontiguousarray(yxy, dtype=float), np.ascontiguousarray(y_s, dtype=float),
                                   kind, ymax, m, q_runs, a_runs)
        awm, extra, cmax = sums
    q_parts = q_runs.tolist()
    a_parts = a_runs.tolist()
    # runs of RUN terms summed in floating point: at most (RUN - 1) u sum|x| off (u = EPS / 2),
    # covered by RUN / 2 more times sum|wm| in ``err`` (which is multiplied by 2 EPS at the end)
    err = (1.0 + RUN / 2) * awm + extra
    return {"q": math.fsum(q_parts), "q_abs": float(np.sum(np.abs(q_parts))), "err": err, "cmax": cmax, "m": m,
            "assign": math.fsum(a_parts)}


def _network_parts(problem: FlowProblem, y: NDArray[np.float64]) -> tuple[list[float], float]:
    """The supply and arc terms of eq. (4) at ``y`` (correctly rounded) and their rounding-error terms."""
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    lo, up = np.asarray(problem.lower), np.asarray(problem.upper)
    t = y[tails] - y[heads]
    p = problem.costs.response(t, lo, up)
    if np.any(np.isinf(p)):
        return [-INF], 0.0
    arc = problem.costs.value(p) - t * p  # a p^2 + b|p| - t p on a two-way arc
    ys = y * np.asarray(problem.supply, dtype=float)
    fin = np.where(np.isfinite(lo), np.abs(lo), 0.0) + np.where(np.isfinite(up), np.abs(up), 0.0)
    reach = np.abs(p) + np.where(a == 0, fin, 0.0)
    err = float(np.sum(np.abs(ys)))
    err += 4.0 * float(np.sum(a * p * p + (np.abs(b) + np.abs(t)) * np.abs(p)))
    err += 2.0 * float(np.sum(np.abs(t) * reach))
    return [math.fsum(ys.tolist()), math.fsum(arc.tolist())], err


class _Cluster:
    """The demand's blocks on the cluster and the one reduction the certificate needs."""

    def __init__(self, problem: SpatialFlowProblem, client: Any, chunk: int, rows: int = 2**22) -> None:
        from otmodel.backends.distributed import as_client

        self.client = as_client(client)
        self.owns_client = self.client is not client
        self.problem = problem
        self.chunk = chunk
        if isinstance(problem, DaskSpatialFlowProblem):
            self.parts = list(problem.points.parts)
            self.scattered = False
        else:
            xy, mass = np.asarray(problem.demand.xy), np.asarray(problem.demand.mass)
            self.parts = self.client.scatter([(xy[a : a + rows], mass[a : a + rows]) for a in range(0, problem.n_points, rows)], hash=False)
            self.scattered = True

    def reduce(self, y: NDArray[np.float64]) -> dict[str, Any]:
        p = self.problem
        y_s = np.ascontiguousarray(y[np.asarray(p.endpoints)], dtype=float)
        yxy = np.ascontiguousarray(p.endpoint_xy, dtype=float)
        futs = self.client.map(certificate_block, self.parts, y_s=y_s, yxy=yxy, cost=p.assignment_cost, chunk=self.chunk, pure=False)
        out = self.client.gather(futs)
        m = np.zeros(p.n_endpoints)
        for r in out:
            m += r["m"]
        return {
            "q_parts": [r["q"] for r in out],
            "q_abs": float(sum(r["q_abs"] for r in out)),
            "err": float(sum(r["err"] for r in out)),
            "cmax": max((r["cmax"] for r in out), default=0.0),
            "m": m,
            "assign": math.fsum(r["assign"] for r in out),
        }

    def close(self) -> None:
        if self.scattered:
            for f in self.parts:
                f.release()
        if self.owns_client:
            self.client.close()


def _dual(problem: FlowProblem, y: NDArray[np.float64], cl: _Cluster) -> tuple[float, float, dict[str, Any]]:
    """``(q, rounding bound, cluster sums)`` at ``y``: eq. (4) as ``_dual_parts`` evaluates it."""
    net, err = _network_parts(problem, y)
    red = cl.reduce(y)
    if net == [-INF]:
        return -INF, 0.0, red
    parts = net + red["q_parts"]
    value = math.fsum(parts)
    err += red["err"] + float(np.sum(np.abs(net))) + red["q_abs"] + abs(value)
    return value, 2.0 * EPS * err, red


def certify_distributed(
    problem: SpatialFlowProblem,
    solution: Solution,
    client: Any,
    rtol: float = 1e-6,
    exact_backend: str = "auto",
    feas_tol: float = 1e-8,
    chunk: int | None = None,
    *,
    gap_atol: float | None = None,
) -> Certificate:
    r"""Certify ``solution`` of a spatial problem with the demand's passes on a Dask cluster.

    The same bounds as ``certify`` (see the module docstring): the optimum lies in
    `[\underline q, \text{upper}]` with `\underline q` the proven dual bound at the returned
    potentials and *upper* the objective of the repaired point of Proposition 1; certified when the
    gap passes ``certify``'s rule 1 and the reported objective and cell masses agree with the point
    the potentials define (flows as returned, every point to its argmin). The plan itself never
    travels: ``repaired_assignment`` is None (it is `T_\psi`, recomputable from ``dual_potentials``).

    Parameters
    ----------
    client : distributed.Client or str -- the cluster (or its scheduler's address)
    rtol, feas_tol, gap_atol, exact_backend, chunk : as in ``certify``

    Raises
    ------
    InvalidDataError : not a spatial problem or a Solution, a tolerance that is not a number >= 0.
    UnsupportedError : an assignment cost the workers cannot compute from coordinates.
    """
    from otmodel.backends import default_backend, solve

    if not isinstance(problem, SpatialFlowProblem):
        raise InvalidDataError(f"certify_distributed: problem must be a SpatialFlowProblem, got {type(problem).__name__}")
    if not isinstance(solution, Solution):
        raise InvalidDataError(f"certify_distributed: solution must be an otmodel Solution, got {type(solution).__name__}")
    rtol = _tolerance(rtol, "rtol", "certify_distributed")
    feas_tol = _tolerance(feas_tol, "feas_tol", "certify_distributed")
    chunk = block_rows(problem.n_endpoints, chunk)
    n, m_arcs = problem.n_nodes, problem.n_arcs
    flows = np.asarray(solution.flows, dtype=float).reshape(-1)
    psi = np.asarray(solution.potentials, dtype=float).reshape(-1)
    if flows.shape != (m_arcs,) or psi.shape != (n,):
        raise InvalidDataError(f"certify_distributed: {flows.size} flows for {m_arcs} arcs, {psi.size} potentials for {n} nodes")
    reasons: list[str] = []
    notes: list[str] = ["demand passes on a Dask cluster; the plan is the argmin of the potentials (Proposition 1)"]
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append((name, ok, detail))
        if not ok:
            reasons.append(f"{name}: {detail}")

    cl = _Cluster(problem, client, chunk)
    try:
        # ------------------------------------------------------------ the proven dual bound
        if not (np.all(np.isfinite(psi)) and np.all(np.isfinite(flows))):
            raise InvalidDataError("certify_distributed: the solution's potentials or flows are not finite")
        q_raw, rounding, red = _dual(problem, psi, cl)
        psi_used: NDArray[np.float64] | None = psi
        q = q_raw - rounding
        i, j, w = _dual_constraints(problem)
        if not (bool(np.all(_exact_le(psi[i], psi[j], w))) and q_raw > -INF):
            q, psi_used = -INF, None
            for down in (True, False):
                s = _shift_potentials(problem, psi, down)
                if s is not None:
                    v, e, _ = _dual(problem, s, cl)
                    if v - e > q:
                        q, rounding, psi_used = v - e, e, s
            notes.append("the potentials are not dual feasible: bound evaluated at their shift onto dual feasibility")
        cmax = float(red["cmax"])
        m, assign = red["m"], float(red["assign"])
    finally:
        cl.close()
    cscale = cost_scale(problem, cmax, chunk)
    atol = 1e-12 * cscale if gap_atol is None else _tolerance(gap_atol, "gap_atol", "certify_distributed")

    # ------------------------------------------------------------ the returned point's residuals
    ends = np.asarray(problem.endpoints)
    supply = np.asarray(problem.supply, dtype=float)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)

    def residuals(fl: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, str]:
        cons = supply - problem.net_outflow(fl)
        cons[ends] -= m
        ap = np.abs(fl)
        scale = np.abs(supply) + np.bincount(tails, ap, n) + np.bincount(heads, ap, n)
        scale[ends] += m
        nrel = _relative(cons, scale)
        bviol = np.maximum(np.maximum(problem.lower - fl, fl - problem.upper), 0.0)
        arel = _relative(bviol, np.minimum(scale[tails], scale[heads])) if fl.size else np.zeros(0)
        k, a = int(np.argmax(nrel)), int(np.argmax(arel)) if fl.size else -1
        worst, where = float(nrel[k]), f"flow conservation (2b) at node {problem.node_names[k]!r}: residual {cons[k]:.3e}"
        if a >= 0 and arel[a] > worst:
            worst, where = float(arel[a]), f"bounds (2d) on arc {problem.arc_names[a]!r}: violated by {bviol[a]:.3e}"
        return cons, bviol, scale, worst, where

    cons, bviol, node_scale, prim_res, worst = residuals(flows)
    objective = float(problem.flow_objective(flows)) + assign

    # ------------------------------------------------------------ the repair: min-cost flow for the cells' masses
    sub_supply = supply.copy()
    sub_supply[ends] -= m
    names = np.asarray(problem.node_names, dtype=object)
    net = Network.from_arrays(
        problem.node_names, sub_supply, names[tails], names[heads],
        quadratic=np.asarray(problem.costs.a), linear=np.asarray(problem.costs.b),
        lower=np.asarray(problem.lower), upper=np.asarray(problem.upper), signed=problem.costs.signed_flags(),
    )
    sub = FlowProblem(net, name=f"repair of {problem.name}".strip(), balance_rtol=1e-6)
    backend = default_backend(sub) if exact_backend == "auto" else exact_backend
    upper, source = INF, "none"
    rep_flows: NDArray[np.float64] | None = None
    rep_obj = INF
    sol = solve(sub, backend=backend)
    if sol.status is Status.OPTIMAL and sol.has_point:
        rep_flows = np.clip(np.asarray(sol.flows, dtype=float), problem.lower, problem.upper)
        rep_obj = float(problem.flow_objective(rep_flows)) + assign
        rep_res = residuals(rep_flows)[3]
        msg = f"min-cost flow for the cell masses of the argmin plan, solved by {backend}"
        if rep_res <= feas_tol and math.isfinite(rep_obj):
            upper, source = rep_obj, "repair"
        else:
            msg += f"; its point is not feasible within feas_tol {feas_tol:g} (residual {rep_res:.2e})"
    else:
        msg = f"min-cost flow for the cell masses of the argmin plan is {sol.status.value} ({backend}): {sol.message}"
    if prim_res <= feas_tol and objective < upper:
        upper, source = objective, "solution"

    ok_gap, gap, rel = _gap_test(q, upper, rtol, atol)
    detail = f"gap {gap:.3e}, relative {rel:.3e}; rtol {rtol:g}, gap_atol {atol:.3g}" if math.isfinite(upper) else f"no feasible point: {msg}"
    check("certified gap", ok_gap, detail)

    # ------------------------------------------------------------ what the user reads
    rep = float(solution.objective) if isinstance(solution.objective, (int, float, np.number)) else math.nan
    ok_obj, d_obj, _ = _gap_test(min(objective, rep), max(objective, rep), rtol, atol)
    check("reported objective", ok_obj, f"reported {rep:.12g}, recomputed {objective:.12g} (difference {abs(d_obj):.3e})")
    if solution.cell_mass is not None:
        cm = np.asarray(solution.cell_mass, dtype=float).reshape(-1)
        if cm.shape != m.shape:
            check("cell_mass", False, f"{cm.size} cell masses for {m.size} endpoints")
        else:
            drel = _relative(cm - m, np.maximum(np.abs(m), problem.demand.total * EPS))
            k = int(np.argmax(drel))
            check("cell_mass", bool(drel[k] <= feas_tol), f"endpoint {problem.endpoint_names[k]!r}: reported {cm[k]:.12g}, cell mass {m[k]:.12g}")
    st, pst = solution.status, solution.point_status
    if st is Status.OPTIMAL or pst is PointStatus.FEASIBLE:
        check("claimed feasible point", prim_res <= feas_tol, f"primal residual {prim_res:.2e} ({worst})")
    certified = all(ok for _, ok, _ in checks) and not reasons
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
        marginal_residual_max=0.0,
        marginal_residual_l1=0.0,
        negative_mass=0.0,
        infinite_cost_mass=0.0,
        primal_residual=float(prim_res),
        objective=objective,
        reported_objective=rep,
        dual_bound=float(q),
        upper_bound=float(upper),
        upper_source=source,
        gap=float(gap),
        relative_gap=float(rel),
        repaired_objective=rep_obj,
        repair_message=msg,
        repaired_flows=rep_flows,
        repaired_assignment=None,
        checks=tuple(checks),
        notes=tuple(notes),
        problem_name=str(problem.name or ""),
        info={"points": problem.n_points, "blocks": len(cl.parts) if not cl.scattered else None},
        gap_atol=float(atol),
        cost_scale=float(cscale),
        dual_value_raw=float(q_raw),
        dual_rounding=float(rounding),
        dual_potentials=psi_used,
        node_scale=node_scale,
        worst_residual=worst,
    )
