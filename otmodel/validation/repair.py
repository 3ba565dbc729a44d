r"""The repair: a feasible point built from an answer, whose objective is an upper bound.

See ``otmodel.validation.certificate`` (module docstring) for the construction; it never solves the
problem itself, so a wrong answer gives a poor bound. Part of ``otmodel.validation.certificate``
(split by topic, issue 11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.model._demand_kernels import best_two, planar_kind
from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import Status
from otmodel.validation.pricing import DEFAULT_CHUNK
from otmodel.validation.residuals import _infinite_cost_mask, _plan, point_residuals

__all__ = ["Repair", "repair_point"]

INF = math.inf
#: Exact backend of a spatial repair's quadratic sub-problem (measured fastest there; see ``repair_point``).
QUADRATIC_REPAIR = "cvxpy"


def _argmin_rows(
    problem: SpatialFlowProblem, rows: NDArray[np.intp], psi_s: NDArray[np.float64], chunk: int
) -> NDArray[np.intp]:
    """argmin_i c(x_k, i) - psi_i for the points ``rows`` (sorted), chunk by chunk
    (planar costs: the pruned pass of ``otmodel.model._demand_kernels``, same labels)."""
    if planar_kind(problem.assignment_cost) >= 0:
        return best_two(problem, psi_s)[1][rows].astype(np.intp)
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


def _active_set_qp(sub: FlowProblem, p0: NDArray[np.float64]) -> NDArray[np.float64] | None:
    r"""Optimal flows of the quadratic min-cost flow ``sub`` on the active set of ``p0``, or ``None``.

    In the scaled standard form of ``otmodel.backends._standard`` (`\min c^\top x + \sum_j q_j
    x_j^2`, `A x = b`, `l \le x \le u`: the objective (2a) under (2b), (2d), two-way arcs charged
    `b|p|` split into two one-way columns), the columns of the answer's flows ``p0`` at a bound are
    fixed there and the rest solve the KKT system

    .. math:: \begin{pmatrix} 2Q_F & -A_F^\top \\ A_F & 0 \end{pmatrix}
              \begin{pmatrix} x_F \\ y \end{pmatrix} = \begin{pmatrix} -c_F \\ b - A_{\bar F} x_{\bar F} \end{pmatrix}

    (one sparse factorisation; a `10^{-12}` diagonal on the dual block fixes the potentials'
    constant). The point is returned only if it is feasible and optimal: its duality gap against the
    dual function (4) at the KKT multipliers `y` (``otmodel.backends._outer.scaled_dual_value``, a lower
    bound for every `y`) is at most `10^{-10}` of its value, i.e. the guessed active set was right.
    A dual-ascent answer near the optimum gives that set; otherwise ``None`` and the caller solves the
    sub-problem with a backend. At 100 endpoints (290 arcs) this takes milliseconds where cvxpy spent
    0.04-0.09 s building and solving its model and HiGHS's own QP solver 0.03 s (55 s, and a solve
    error, at 1,000 endpoints: not used) (issue 14).
    """
    from scipy.sparse.linalg import spsolve

    from otmodel.backends._outer import scaled_dual_value, scaled_primal_value
    from otmodel.backends._standard import build_standard_form

    if p0.shape != (sub.n_arcs,) or not np.all(np.isfinite(p0)):
        return None
    sf = build_standard_form(sub)
    lb, ub = sf.lb, sf.ub
    x0 = sf.split_flows(np.clip(p0, sub.lower, sub.upper)) * sf.kappa
    span = np.where(np.isfinite(ub - lb), ub - lb, np.abs(x0) + 1.0)
    tiny = 1e-9 * np.maximum(1.0, span)
    free = (x0 > lb + tiny) & (x0 < ub - tiny)
    fixed = np.where(x0 <= lb + tiny, lb, ub)
    if not np.all(np.isfinite(fixed[~free])):
        return None
    F = np.flatnonzero(free)
    A = sf.A.tocsc()
    AF = A[:, F]
    r = sf.rhs - A[:, np.flatnonzero(~free)] @ fixed[~free]
    Q = 2.0 * sf.qdiag[F]
    reg = 1e-12 * max(1.0, float(np.abs(Q).max()) if F.size else 1.0)
    K = sp.bmat([[sp.diags(Q + reg), -AF.T], [AF, sp.diags(np.full(sf.n_rows, -reg))]], format="csc")
    with np.errstate(all="ignore"):
        try:
            sol = spsolve(K, np.concatenate([-sf.c[F], r]))
        except (RuntimeError, ValueError):
            return None
    if not np.all(np.isfinite(sol)):
        return None
    x = fixed.copy()
    x[F] = sol[: F.size]
    y = sol[F.size :]
    if np.any(x < lb - tiny) or np.any(x > ub + tiny):
        return None
    x = np.clip(x, lb, ub)
    if np.abs(A @ x - sf.rhs).max(initial=0.0) > 1e-9 * max(1.0, float(np.abs(sf.rhs).max(initial=0.0))):
        return None
    primal = scaled_primal_value(sf, x)
    gap = primal - scaled_dual_value(sf, y, slope_tol=1e-10)
    if not math.isfinite(gap) or gap > 1e-10 * max(1.0, abs(primal)):
        return None
    return np.asarray(sf.fold_flows(x) / sf.kappa, dtype=float)


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
    r"""Build a feasible point from an answer (see the module docstring); never solves the problem itself.

    The sub-solve's point is accepted (``ok``) only if it is feasible node by node within ``feas_tol``
    (``point_residuals``): an exact backend that drops a small node's supply under its own
    tolerance does not give an upper bound.

    A spatial answer keeps its plan `\pi` (negative and non-finite entries and mass on
    forbidden pairs dropped, rows rescaled to the marginals `\mu_k` (2c), points without mass sent
    to `\arg\min_i c(x_k, i) - \psi_i`) and solves the min-cost flow for the resulting cell
    masses exactly; a flow answer is projected onto the feasible set of (2b), (2d)
    (`\min \|p - p_0\|^2`). The repaired point's objective (2a) is an upper bound on the optimum.

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem the answer claims to solve.
    flows : (n_arcs,) array of float
        The answer's flows (used by the projection of a flow problem).
    assignment : (N, n_endpoints) array or sparse matrix, or None
        The answer's plan (spatial problems); ``None`` sends every point to its best endpoint at
        ``potentials``.
    potentials : (n_nodes,) array of float or None
        The answer's node potentials (only to place points without assigned mass).
    exact_backend : str, default "auto"
        Exact backend of the sub-solve; ``"auto"``: the registry's choice for a spatial problem,
        a backend with vertex answers (HiGHS) for the projection.
    chunk : int, optional
        Demand points handled at a time (memory bound).
    feas_tol : float, default 1e-8
        Largest node-by-node relative residual of an accepted repair.

    Returns
    -------
    Repair
        ``ok``, the repaired ``flows`` and ``assignment``, its ``objective`` and ``residual``, and a
        ``message`` saying how it was built or why it failed.
    """
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    from otmodel.backends import default_backend, exact_backends, get, solve
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
        signed = problem.costs.signed_flags()
        what = "min-cost flow for the cell masses of the kept assignment"
    else:
        if p0.shape != (problem.n_arcs,) or not np.all(np.isfinite(p0)):
            return Repair(False, None, None, INF, INF, "flows are missing or not finite: nothing to project")
        # projection: ||p - p0||^2 = p^2 - 2 p0 p + const
        quad, lin = np.ones(problem.n_arcs), -2.0 * p0
        signed = np.ones(problem.n_arcs, dtype=bool)  # a distance to p0, not a cost on |p|
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
        signed=signed,
    )
    # the plan's total equals mu(X) up to summation round-off; the original balance was checked on construction
    sub = FlowProblem(net, name=f"repair of {getattr(problem, 'name', '')}".strip(), balance_rtol=1e-6)
    active = False
    if exact_backend == "auto":
        # spatial: the registry's measured choice (HiGHS for linear costs, Clarabel through cvxpy for
        # quadratic ones: 0.54 s against 91 s for HiGHS's QP on a 3,039-arc repair); the projection of a
        # flow problem goes to a backend with active-set (vertex) answers, HiGHS's, which are exact
        # (Clarabel's left a 1e-5 gap): found in the registry by capability
        # The registry's default for small quadratic problems (``network``, measured on the spatial QP)
        # is not the fastest on the repair's sub-problem, a network without demand: at 100 endpoints
        # (290 quadratic arcs) network took 2.2 s, highs 1.7 s, cvxpy (Clarabel) 0.09 s, accepted within
        # feas_tol (issue 14; the certify times of benchmarks/bench_many_endpoints.py)
        vertex = [b for b in exact_backends() if {"vertex", "quadratic"} <= get(b).capabilities]
        if isinstance(problem, SpatialFlowProblem):
            quick = not sub.is_linear and QUADRATIC_REPAIR in exact_backends()
            # first the KKT system on the answer's active set (no model build); its point is kept
            # only if optimal and feasible (checked below like any other), else the backend solves
            active = not sub.is_linear
            exact_backend = QUADRATIC_REPAIR if quick else default_backend(sub)
        else:
            exact_backend = vertex[0] if vertex else default_backend(sub)
    if active:
        fl = _active_set_qp(sub, p0)
        if fl is not None:
            fl = np.clip(fl, problem.lower, problem.upper)
            obj = problem.objective(fl, plan_rep)
            chk = point_residuals(problem, fl, plan_rep, chunk)
            if math.isfinite(obj) and chk.worst <= feas_tol:
                msg = f"{what}, solved on the answer's active set (KKT system)" + (f"; {'; '.join(notes)}" if notes else "")
                return Repair(True, fl, plan_rep, float(obj), chk.worst, msg)
            notes.append(f"the active-set point is not feasible within feas_tol {feas_tol:g} ({chk.where}): re-solved")
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


