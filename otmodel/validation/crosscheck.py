r"""Agreement between two answers to the same problem, recomputed from their points.

``cross_check`` compares two ``Solution`` objects (typically an iterative
backend against an exact one): the feasibility of each point (node by node, each node against its
own scale), the objectives (2a) recomputed from each point, the largest flow difference, the share of demand mass `\mu` sent to the same endpoint, and the potentials up
to an additive constant (eq. (4) is invariant under `\psi + c\mathbf 1`; for LPs the potentials
need not be unique, so they are reported, not judged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status
from otmodel.validation.certificate import _vector, reported_fields
from otmodel.validation.pricing import _tolerance, cost_scale
from otmodel.validation.residuals import _plan, point_residuals

INF = math.inf

__all__ = ["cross_check", "CrossCheck", "regularization_path", "RegularizationPath"]


@dataclass(frozen=True)
class CrossCheck:
    """What ``cross_check`` found.

    Attributes
    ----------
    backend_a, backend_b : names of the two backends
    objective_a, objective_b : objectives recomputed from each point
    objective_diff, objective_rel_diff : ``|a - b|`` and that over ``max(|a|, |b|)`` (never over 1)
    max_flow_diff : largest ``|flow_a - flow_b|`` over arcs
    same_endpoint_share : share of demand mass whose main endpoint is the same in both (None for a
        flow problem)
    potential_spread : ``max(psi_a - psi_b) - min(psi_a - psi_b)`` (0 when the potentials differ by
        a constant)
    feasibility_a, feasibility_b : each point's largest residual of (2b)-(2d), every node, point and
        arc relative to its own scale (``point_residuals``)
    where_a, where_b : the item and rule of that residual, by name
    feas_tol_a, feas_tol_b : the tolerance each point was judged against (``feas_tol`` for a point
        that claims feasibility, ``max(feas_tol, rtol)`` for an iterate that does not)
    agree : both points feasible within their tolerance, what each reports consistent with its point
        (objective, cell masses, status claims: ``reported_fields``),
        objectives within
        ``atol + rtol max(|a|, |b|)``, flows within ``flow_tol``, and (spatial) same-endpoint share at
        least ``min_share``
    reasons : tuple of str -- why they disagree (empty when ``agree``)
    rtol, atol, flow_tol, min_share : float -- the tolerances used (see ``cross_check``)
    flow_tol_rule : str -- how the default ``flow_tol`` was derived (empty when it was given)
    """

    backend_a: str
    backend_b: str
    objective_a: float
    objective_b: float
    objective_diff: float
    objective_rel_diff: float
    max_flow_diff: float
    same_endpoint_share: float | None
    potential_spread: float
    agree: bool
    rtol: float
    atol: float
    flow_tol: float
    min_share: float
    reasons: tuple[str, ...] = ()
    feasibility_a: float = math.nan
    feasibility_b: float = math.nan
    where_a: str = ""
    where_b: str = ""
    feas_tol_a: float = math.nan
    feas_tol_b: float = math.nan
    flow_tol_rule: str = ""

    def __bool__(self) -> bool:
        return self.agree

    def summary(self) -> str:
        share = "n/a (flow problem)" if self.same_endpoint_share is None else f"{100 * self.same_endpoint_share:.4f} %"
        lines = [
            f"cross-check {self.backend_a} vs {self.backend_b}",
            f"  objective                  {self.objective_a:.12g}  vs  {self.objective_b:.12g}",
            f"  objective difference       {self.objective_diff:.3e}  (relative {self.objective_rel_diff:.3e}; "
            f"tolerance atol {self.atol:.3g} + rtol {self.rtol:g} x max(|a|, |b|))",
            f"  largest flow difference    {self.max_flow_diff:.3e}  (tolerance {self.flow_tol:.3g}"
            + (f": {self.flow_tol_rule}" if self.flow_tol_rule else "")
            + ")",
            f"  feasibility of a           {self.feasibility_a:.3e}  (tolerance {self.feas_tol_a:g}; {self.where_a})",
            f"  feasibility of b           {self.feasibility_b:.3e}  (tolerance {self.feas_tol_b:g}; {self.where_b})",
            f"  demand mass, same endpoint {share}"
            + (f"  (at least {100 * self.min_share:g} %)" if self.same_endpoint_share is not None else ""),
            f"  potentials, up to a const. {self.potential_spread:.3e}  (max - min of psi_a - psi_b; not judged)",
            "  not checked: optimality of either point (use certify); the potentials (LP duals need not be unique)",
        ]
        if self.agree:
            lines.append("AGREE within the tolerances above")
        else:
            lines.append("DISAGREE: " + "; ".join(self.reasons))
        return "\n".join(lines)


def _objective(problem: FlowProblem, s: Solution) -> float:
    flows = _vector(s.flows)
    if flows is None or flows.shape != (problem.n_arcs,) or not np.all(np.isfinite(flows)):
        return math.nan
    if isinstance(problem, SpatialFlowProblem):
        if s.assignment is None:
            return math.nan
        try:
            return float(problem.objective(flows, s.assignment))
        except (TypeError, ValueError):
            return math.nan
    return float(problem.objective(flows))


def _feasibility(
    problem: FlowProblem, s: Solution
) -> tuple[float, str, NDArray[np.float64] | None, sp.csr_matrix | None]:
    """The point's largest relative residual, where it is (inf when there is no usable point), its
    nodes' scales and its plan (for the checks of the reported fields)."""
    flows = _vector(s.flows)
    if flows is None or flows.shape != (problem.n_arcs,) or not np.all(np.isfinite(flows)):
        return INF, "no finite flows for the problem's arcs", None, None
    plan = None
    if isinstance(problem, SpatialFlowProblem):
        try:
            plan = _plan(problem, s.assignment)
        except (TypeError, ValueError) as exc:
            return INF, f"the assignment does not fit the problem ({exc})", None, None
        if plan is None:
            return INF, "no assignment", None, None
    r = point_residuals(problem, flows, plan)
    return r.worst, r.where, r.node_scale, plan


def cross_check(
    problem: FlowProblem,
    a: Solution,
    b: Solution,
    rtol: float = 1e-6,
    atol: float | None = None,
    flow_tol: float | None = None,
    min_share: float = 0.999,
    *,
    feas_tol: float = 1e-8,
) -> CrossCheck:
    r"""Compare two answers to ``problem``; every number is recomputed from the two points.

    What it checks: that both points are feasible (conservation (2b) at every node relative to that
    node's ``|supply| + throughput + assigned mass``, the marginals (2c) of every demand point relative
    to its mass, the bounds (2d) of every arc: ``point_residuals``),
    that their objectives (2a) agree, that their flows agree and (spatial) that they send the same
    demand mass to the same endpoints, and that what each solution reports besides its point agrees
    with it (objective, cell masses, status claims). What it does not check: that either point is optimal (that
    is ``certify``'s job, from a dual bound), nor the potentials (reported).

    Parameters
    ----------
    problem : FlowProblem
        The problem both answers claim to solve (any kind built on ``FlowProblem``).
    a, b : Solution
        The two answers, e.g. an iterative run and an exact solve (``om.solve(problem,
        backend=...)``); their backend names label the report.
    rtol : float, default 1e-6
        Objectives agree when `|f_a - f_b| \le \text{atol} + \text{rtol}\max(|f_a|,|f_b|)`.
    atol : float, optional
        Absolute floor of that test; default `10^{-12}` times the problem's natural cost scale
        (``cost_scale``).
    flow_tol : float, optional
        Largest flow difference allowed. Default
        `\sqrt{\text{rtol}}\,\max|p| + 10^{-12} M` (`\max|p|` over both points, `M`
        the mass scale): for a strongly convex cost an objective within rtol pins the flows only to
        `O(\sqrt{\text{rtol}})` (the objective grows quadratically away from the optimum), and
        an iterate's flows converge more slowly than its objective. An LP may have several optimal
        flows: pass ``flow_tol=math.inf`` to compare objectives only.
    min_share : float, default 0.999
        Smallest share of demand mass that must go to the same endpoint (spatial problems), in
        `[0, 1]`.
    feas_tol : float, default 1e-8
        The largest relative residual allowed of a point that claims feasibility (status OPTIMAL
        or point FEASIBLE); an iterate that claims no more than near feasibility is allowed
        ``max(feas_tol, rtol)``, the agreement tolerance itself.

    Returns
    -------
    CrossCheck
        ``agree`` (also its truth value) and every recomputed number; ``summary()`` prints
        ``AGREE within the tolerances above`` or ``DISAGREE:`` followed by the reasons.

    Raises
    ------
    InvalidDataError
        Wrong argument types, or a tolerance that is not a finite number >= 0.
    """
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"cross_check: problem must be an otmodel FlowProblem, got {type(problem).__name__}")
    for label, s in (("a", a), ("b", b)):
        if not isinstance(s, Solution):
            raise InvalidDataError(f"cross_check: {label} must be an otmodel Solution, got {type(s).__name__}")
    rtol = _tolerance(rtol, "rtol", "cross_check")
    feas_tol = _tolerance(feas_tol, "feas_tol", "cross_check")
    min_share = _tolerance(min_share, "min_share", "cross_check")
    if min_share > 1:
        raise InvalidDataError(f"cross_check: min_share={min_share!r} must lie in [0, 1]")
    atol = 1e-12 * cost_scale(problem) if atol is None else _tolerance(atol, "atol", "cross_check")
    reasons: list[str] = []
    oa, ob = _objective(problem, a), _objective(problem, b)
    diff = abs(oa - ob)
    scale = max(abs(oa), abs(ob)) if math.isfinite(oa) and math.isfinite(ob) else math.nan
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else INF)
    fa, fb = _vector(a.flows), _vector(b.flows)
    mass = max(float(np.abs(problem.supply).sum()), float(getattr(getattr(problem, "demand", None), "total", 0.0)))
    if fa is not None and fb is not None and fa.shape == fb.shape == (problem.n_arcs,):
        dflow = float(np.max(np.abs(fa - fb), initial=0.0))
        fscale = float(np.max(np.abs(np.concatenate([fa, fb])), initial=0.0))
    else:
        dflow, fscale = math.nan, 0.0
        reasons.append("the flows do not match the problem's arcs")
    if flow_tol is not None:
        ftol = float(flow_tol) if flow_tol == INF else _tolerance(flow_tol, "flow_tol", "cross_check")
        rule = "given"
    else:
        ftol = math.sqrt(rtol) * fscale + 1e-12 * mass
        rule = "sqrt(rtol) x max|p| + 1e-12 x mass: an objective within rtol pins strongly convex flows to O(sqrt(rtol))"

    feas: list[tuple[float, str, float]] = []
    for label, s, obj in (("a", a, oa), ("b", b, ob)):
        worst, where, node_scale, plan = _feasibility(problem, s)
        claims = s.status is Status.OPTIMAL or s.point_status is PointStatus.FEASIBLE
        tol = feas_tol if claims else max(feas_tol, rtol)
        feas.append((worst, where, tol))
        if not worst <= tol:
            reasons.append(
                f"point {label} ({s.backend}) is not feasible within {tol:g}"
                f"{'' if claims else ' (an iterate: judged at max(feas_tol, rtol))'}: {where}"
            )
        for name, ok, detail in reported_fields(problem, s, obj, plan, node_scale, rtol, atol, feas_tol):
            if not ok:
                reasons.append(f"point {label} ({s.backend}), {name}: {detail}")

    share: float | None = None
    if isinstance(problem, SpatialFlowProblem):
        if a.assignment is None or b.assignment is None:
            share = 0.0
            reasons.append("an assignment is missing")
        else:
            try:
                ea, eb = a.assigned_endpoint(), b.assigned_endpoint()
            except (AttributeError, TypeError, ValueError):
                ea = eb = np.zeros(0, dtype=np.intp)
            dmass = problem.demand.mass
            if ea.shape != (problem.n_points,) or eb.shape != (problem.n_points,):
                share = 0.0
                reasons.append("an assignment does not match the demand points")
            else:
                total = float(dmass.sum())
                share = float(dmass[ea == eb].sum()) / total if total > 0 else 1.0

    pa, pb = _vector(a.potentials), _vector(b.potentials)
    if pa is not None and pb is not None and pa.shape == pb.shape and pa.size and np.all(np.isfinite(pa)) and np.all(np.isfinite(pb)):
        d = pa - pb
        spread = float(d.max() - d.min())
    else:
        spread = math.nan

    lim = atol + rtol * scale
    ok_obj = math.isfinite(diff) and diff <= lim
    if not ok_obj:
        reasons.append(
            f"objectives differ by {diff:.3e} (relative {rel:.3e}) > {atol:.3g} + {rtol:g} x {scale:.6g}"
            if math.isfinite(diff)
            else "an objective could not be computed (no primal point)"
        )
    ok_flow = bool(dflow <= ftol)  # False for NaN (a point without flows)
    if not ok_flow and math.isfinite(dflow):
        reasons.append(f"flows differ by up to {dflow:.3e} > {ftol:.3g}")
    ok_share = share is None or share >= min_share
    if not ok_share and share is not None:
        reasons.append(f"only {100 * share:.4f} % of demand mass goes to the same endpoint (< {100 * min_share:g} %)")
    agree = ok_obj and ok_flow and ok_share and not reasons
    return CrossCheck(
        backend_a=str(a.backend),
        backend_b=str(b.backend),
        objective_a=oa,
        objective_b=ob,
        objective_diff=diff,
        objective_rel_diff=rel,
        max_flow_diff=dflow,
        same_endpoint_share=share,
        potential_spread=spread,
        agree=bool(agree),
        rtol=float(rtol),
        atol=float(atol),
        flow_tol=ftol,
        min_share=float(min_share),
        reasons=tuple(dict.fromkeys(reasons)),
        feasibility_a=feas[0][0],
        feasibility_b=feas[1][0],
        where_a=feas[0][1],
        where_b=feas[1][1],
        feas_tol_a=feas[0][2],
        feas_tol_b=feas[1][2],
        flow_tol_rule=rule,
    )


# =============================================================================== W1^gamma -> W1
@dataclass(frozen=True)
class RegularizationPath:
    r"""Exact regularized optima along a sequence of gammas (Remark 2.4 of Mokhtari et al.).

    Attributes
    ----------
    gammas : the gammas, in the problem's ``gamma_scaling``
    values : `\mathcal W_1^\gamma` -- optimal values of (2.4), `c^\top\pi_\gamma + \frac{\Gamma}{2}\|\pi_\gamma\|^2`
    transport_costs : `c^\top\pi_\gamma`
    plans : ``(len(gammas), |A|)`` optimal plans `\pi_\gamma`
    w1 : `\mathcal W_1` of (2.1), by an exact LP solve
    least_norm_plan : the solution of (2.1) of least Euclidean norm (a QP restricted to the LP's
        optimal face, `c^\top\pi \le \mathcal W_1 (1 + 10^{-9})`)
    plan_distances : `\max_a |\pi_{\gamma,a} - \pi^{LN}_a|`
    backend, lp_backend : the exact backends used
    """

    gammas: NDArray[np.float64]
    values: NDArray[np.float64]
    transport_costs: NDArray[np.float64]
    plans: NDArray[np.float64]
    w1: float
    least_norm_plan: NDArray[np.float64]
    plan_distances: NDArray[np.float64]
    backend: str
    lp_backend: str

    @property
    def gaps(self) -> NDArray[np.float64]:
        r"""`\mathcal W_1^\gamma - \mathcal W_1` for each gamma (>= 0 up to solver tolerance)."""
        return self.values - self.w1

    def summary(self) -> str:
        lines = [
            f"W1 of (2.1) ({self.lp_backend}): {self.w1:.10g}",
            f"{'gamma':>10}  {'W1^gamma':>14}  {'W1^gamma - W1':>14}  {'c.pi_gamma':>14}  {'|pi_gamma - pi_LN|max':>22}",
        ]
        for g, v, c, d in zip(self.gammas, self.values, self.transport_costs, self.plan_distances, strict=True):
            lines.append(f"{g:>10.3g}  {v:>14.8g}  {v - self.w1:>14.3e}  {c:>14.8g}  {d:>22.3e}")
        return "\n".join(lines)


def regularization_path(
    problem: Any, gammas: Any, backend: str = "cvxpy", lp_backend: str = "highs"
) -> RegularizationPath:
    r"""Solve (2.4) exactly for each gamma and (2.1) once, to show `\mathcal W_1^\gamma \to \mathcal W_1`.

    ``problem`` is a ``GraphTransportProblem``; its gamma is replaced
    by each entry of ``gammas`` (``with_gamma``).
    For the LP, infinite capacities are replaced by the total mass, which never binds with
    nonnegative costs (an optimal flow can be taken without cycles), so `\mathcal W_1` is
    unchanged. By optimality of `\pi_\gamma`,
    `\mathcal W_1 \le \mathcal W_1^\gamma \le \mathcal W_1 + \frac{\Gamma}{2}\|\pi^{LN}\|^2`,
    and `\pi_\gamma \to \pi^{LN}`, the least-norm solution of (2.1) (Tikhonov regularization of
    a linear program; Remark 2.4 of the paper describes the limit as the solution of maximal
    `L^1` norm -- the test suite checks the least-norm statement).

    Parameters
    ----------
    problem : GraphTransportProblem
        The problem whose gamma is varied (its other data are kept).
    gammas : sequence of float
        Non-empty, finite, `\ge 0` (else ``ValueError``), in the problem's ``gamma_scaling``.
    backend : str, default "cvxpy"
        Exact QP backend for (2.4) at each gamma.
    lp_backend : str, default "highs"
        Exact LP backend for (2.1).

    Returns
    -------
    RegularizationPath
        Values `\mathcal W_1^\gamma`, plans, `\mathcal W_1` and the distances to the least-norm
        plan; ``gaps`` is `\mathcal W_1^\gamma - \mathcal W_1`.
    """
    import cvxpy as cp

    from otmodel.backends import solve

    gs = np.asarray(gammas, dtype=float).reshape(-1)
    if gs.size == 0 or np.any(~np.isfinite(gs)) or np.any(gs < 0):
        raise ValueError("gammas must be a non-empty sequence of finite numbers >= 0")
    total = float(np.sum(problem.rho0))
    cap = np.minimum(np.asarray(problem.capacity, dtype=float), max(total, 1e-300))
    lp = problem.with_gamma(0.0, capacity=cap)
    lp_sol = solve(lp, backend=lp_backend)
    w1 = float(lp.transport_cost(lp_sol.flows))
    # least-norm point of the LP's optimal face
    x = cp.Variable(problem.n_arcs)
    c = np.asarray(problem.arc_cost, dtype=float)
    cons = [
        problem.incidence @ x == np.asarray(problem.supply),
        x >= 0,
        x <= cap,
        c @ x <= w1 + 1e-9 * max(1.0, abs(w1)),
    ]
    cp.Problem(cp.Minimize(cp.sum_squares(x)), cons).solve(solver=cp.CLARABEL)
    ln = np.clip(np.asarray(x.value, dtype=float), 0.0, cap)
    values, costs, plans = [], [], []
    for g in gs:
        sub = problem.with_gamma(float(g), capacity=cap) if g == 0 else problem.with_gamma(float(g))
        sol = solve(sub, backend=backend if g > 0 else lp_backend)
        values.append(float(sub.objective(sol.flows)))
        costs.append(float(sub.transport_cost(sol.flows)))
        plans.append(np.asarray(sol.flows, dtype=float))
    pl = np.array(plans)
    return RegularizationPath(
        gammas=gs,
        values=np.array(values),
        transport_costs=np.array(costs),
        plans=pl,
        w1=w1,
        least_norm_plan=ln,
        plan_distances=np.max(np.abs(pl - ln[None, :]), axis=1),
        backend=backend,
        lp_backend=lp_backend,
    )
