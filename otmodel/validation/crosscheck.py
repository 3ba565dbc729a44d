r"""Agreement between two answers to the same problem, recomputed from their points.

:func:`cross_check` compares two :class:`~otmodel.results.Solution` objects (typically an iterative
backend against an exact one): the objectives (2a) recomputed from each point, the largest flow
difference, the share of demand mass :math:`\mu` sent to the same endpoint, and the potentials up
to an additive constant (eq. (4) is invariant under :math:`\psi + c\mathbf 1`; for LPs the potentials
need not be unique, so they are reported, not judged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import Solution

__all__ = ["cross_check", "CrossCheck", "regularization_path", "RegularizationPath"]


@dataclass(frozen=True)
class CrossCheck:
    """What :func:`cross_check` found.

    Attributes
    ----------
    backend_a, backend_b : names of the two backends
    objective_a, objective_b : objectives recomputed from each point
    objective_diff, objective_rel_diff : ``|a - b|`` and that over ``max(1, |a|, |b|)``
    max_flow_diff : largest ``|flow_a - flow_b|`` over arcs
    same_endpoint_share : share of demand mass whose main endpoint is the same in both (None for a
        flow problem)
    potential_spread : ``max(psi_a - psi_b) - min(psi_a - psi_b)`` (0 when the potentials differ by
        a constant)
    agree : objective within ``atol + rtol max(1, |a|, |b|)``, flows within ``flow_tol``, and (spatial)
        same-endpoint share at least ``min_share``
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

    def __bool__(self) -> bool:
        return self.agree

    def summary(self) -> str:
        share = "n/a (flow problem)" if self.same_endpoint_share is None else f"{100 * self.same_endpoint_share:.4f} %"
        lines = [
            f"cross-check {self.backend_a} vs {self.backend_b}",
            f"  objective                  {self.objective_a:.12g}  vs  {self.objective_b:.12g}",
            f"  objective difference       {self.objective_diff:.3e}  (relative {self.objective_rel_diff:.3e}; "
            f"tolerance atol {self.atol:g} + rtol {self.rtol:g} x scale)",
            f"  largest flow difference    {self.max_flow_diff:.3e}  (tolerance {self.flow_tol:g})",
            f"  demand mass, same endpoint {share}"
            + (f"  (at least {100 * self.min_share:g} %)" if self.same_endpoint_share is not None else ""),
            f"  potentials, up to a const. {self.potential_spread:.3e}  (max - min of psi_a - psi_b; not judged)",
        ]
        if self.agree:
            lines.append("AGREE within the tolerances above")
        else:
            lines.append("DISAGREE: " + "; ".join(self.reasons))
        return "\n".join(lines)


def _objective(problem: FlowProblem, s: Solution) -> float:
    flows = np.asarray(s.flows, dtype=float)
    if flows.shape != (problem.n_arcs,) or not np.all(np.isfinite(flows)):
        return math.nan
    if isinstance(problem, SpatialFlowProblem):
        if s.assignment is None:
            return math.nan
        return float(problem.objective(flows, s.assignment))
    return float(problem.objective(flows))


def cross_check(
    problem: FlowProblem,
    a: Solution,
    b: Solution,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    flow_tol: float | None = None,
    min_share: float = 0.999,
) -> CrossCheck:
    r"""Compare two answers to ``problem``; every number is recomputed from the two points.

    Parameters
    ----------
    rtol, atol : objectives agree when :math:`|f_a - f_b| \le \text{atol} + \text{rtol}\max(1,|f_a|,|f_b|)`
    flow_tol : largest flow difference allowed (default
        :math:`\text{atol} + \sqrt{\text{rtol}}\max(1, \max|p|)`: flows of a strictly convex problem
        are unique, but an iterate's flows converge more slowly than its objective)
    min_share : smallest share of demand mass that must go to the same endpoint (spatial problems)
    """
    reasons: list[str] = []
    oa, ob = _objective(problem, a), _objective(problem, b)
    diff = abs(oa - ob)
    scale = max(1.0, abs(oa), abs(ob)) if math.isfinite(oa) and math.isfinite(ob) else 1.0
    rel = diff / scale
    fa, fb = np.asarray(a.flows, dtype=float).reshape(-1), np.asarray(b.flows, dtype=float).reshape(-1)
    if fa.shape == fb.shape == (problem.n_arcs,):
        dflow = float(np.max(np.abs(fa - fb), initial=0.0))
        fscale = max(1.0, float(np.max(np.abs(np.concatenate([fa, fb])), initial=0.0)))
    else:
        dflow, fscale = math.nan, 1.0
        reasons.append("the flows do not match the problem's arcs")
    ftol = float(flow_tol) if flow_tol is not None else atol + math.sqrt(rtol) * fscale

    share: float | None = None
    if isinstance(problem, SpatialFlowProblem):
        if a.assignment is None or b.assignment is None:
            share = 0.0
            reasons.append("an assignment is missing")
        else:
            ea, eb = a.assigned_endpoint(), b.assigned_endpoint()
            mass = problem.demand.mass
            if ea.shape != (problem.n_points,) or eb.shape != (problem.n_points,):
                share = 0.0
                reasons.append("an assignment does not match the demand points")
            else:
                total = float(mass.sum())
                share = float(mass[ea == eb].sum()) / total if total > 0 else 1.0

    pa, pb = np.asarray(a.potentials, dtype=float).reshape(-1), np.asarray(b.potentials, dtype=float).reshape(-1)
    if pa.shape == pb.shape and pa.size and np.all(np.isfinite(pa)) and np.all(np.isfinite(pb)):
        d = pa - pb
        spread = float(d.max() - d.min())
    else:
        spread = math.nan

    ok_obj = math.isfinite(diff) and diff <= atol + rtol * scale
    if not ok_obj:
        reasons.append(
            f"objectives differ by {diff:.3e} (relative {rel:.3e}) > {atol:g} + {rtol:g} x {scale:.6g}"
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
        backend_a=a.backend,
        backend_b=b.backend,
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
    )


# =============================================================================== W1^gamma -> W1
@dataclass(frozen=True)
class RegularizationPath:
    r"""Exact regularized optima along a sequence of gammas (Remark 2.4 of Mokhtari et al.).

    Attributes
    ----------
    gammas : the gammas, in the problem's ``gamma_scaling``
    values : :math:`\mathcal W_1^\gamma` -- optimal values of (2.4), :math:`c^\top\pi_\gamma + \frac{\Gamma}{2}\|\pi_\gamma\|^2`
    transport_costs : :math:`c^\top\pi_\gamma`
    plans : ``(len(gammas), |A|)`` optimal plans :math:`\pi_\gamma`
    w1 : :math:`\mathcal W_1` of (2.1), by an exact LP solve
    least_norm_plan : the solution of (2.1) of least Euclidean norm (a QP restricted to the LP's
        optimal face, :math:`c^\top\pi \le \mathcal W_1 (1 + 10^{-9})`)
    plan_distances : :math:`\max_a |\pi_{\gamma,a} - \pi^{LN}_a|`
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
        r""":math:`\mathcal W_1^\gamma - \mathcal W_1` for each gamma (>= 0 up to solver tolerance)."""
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
    r"""Solve (2.4) exactly for each gamma and (2.1) once, to show :math:`\mathcal W_1^\gamma \to \mathcal W_1`.

    ``problem`` is a :class:`~otmodel.model.transport.GraphTransportProblem`; its gamma is replaced
    by each entry of ``gammas`` (:meth:`~otmodel.model.transport.GraphTransportProblem.with_gamma`).
    For the LP, infinite capacities are replaced by the total mass, which never binds with
    nonnegative costs (an optimal flow can be taken without cycles), so :math:`\mathcal W_1` is
    unchanged. By optimality of :math:`\pi_\gamma`,
    :math:`\mathcal W_1 \le \mathcal W_1^\gamma \le \mathcal W_1 + \frac{\Gamma}{2}\|\pi^{LN}\|^2`,
    and :math:`\pi_\gamma \to \pi^{LN}`, the least-norm solution of (2.1) (Tikhonov regularization of
    a linear program; Remark 2.4 of the paper describes the limit as the solution of maximal
    :math:`L^1` norm -- the test suite checks the least-norm statement).
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
