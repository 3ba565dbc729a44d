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

import numpy as np

from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import Solution

__all__ = ["cross_check", "CrossCheck"]


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
