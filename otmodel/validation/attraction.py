r"""Certificates for Wasserstein attraction flows (Arqué et al., Problem 1 and Algorithm 1).

Everything is recomputed from the problem data and the returned plans; nothing the step solver
reports is trusted.

Per step (``certify_step``), with `P = \pi_1` and `Q = \pi_2` as returned:

* (10b) `\|P\mathbf 1-\rho_t\|_1`, `\|Q\mathbf 1-\nu\|_1`;
* (10c) `\|P^\top\mathbf 1-Q^\top\mathbf 1\|_1` and `\|P^\top\mathbf 1-\rho_{t+1}\|_1`;
* (10d) `\|(P-\tilde C)_+\|_1` on capacitated pairs;
* support rule (15): the mass on forbidden pairs (must be *exactly* zero);
* (10e) `\|(\rho_{t+1}-\bar\rho)_+\|_1`; (10f) `\|(\rho_{t+1}-\bar A^\top\rho_t)_+\|_1`;
* negative entries;
* the step objective `\omega\langle C,P\rangle+(1-\omega)\langle C,Q\rangle` against the exact
  LP step (``otmodel.backends.attraction_lp``, HiGHS) at the same `\rho_t`.

For the whole flow (``certify_flow``): the total transport cost `\sum_t\langle C,\pi_1^t\rangle`
against the exact min-cost-flow distance `W_1(\rho_0,\nu)` on the graph (arc formulation,
solved by HiGHS -- independent of the shortest-path matrix C). A composition of couplings is a
coupling, so every valid flow satisfies `\sum_t\langle C,\pi_1^t\rangle \ge W_1(\rho_0,\rho_T)`
(triangle inequality); that inequality is checked, and `W_1(\rho_0,\rho_T) \ge W_1(\rho_0,\nu) - W_1(\rho_T,\nu)`
relates it to the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model.attraction import AttractionProblem, total_variation
from otmodel.results import AttractionFlow, Status, StepResult, abridged
from otmodel.validation.certificate import _tolerance

__all__ = ["StepCertificate", "FlowCertificate", "certify_step", "certify_flow", "graph_w1"]


def graph_w1(problem: AttractionProblem, a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    r"""Exact `W_1(a, b)` on the graph: the min-cost flow `\min \sum_e w_e x_e`,
    `x \ge 0`, outflow - inflow = a - b at every node, over the directed edges of the graph
    (both directions of an undirected edge), solved as an otmodel ``FlowProblem`` by the
    ``network`` backend (arc formulation: independent of the shortest-path matrix C; an exact
    min-cost flow whose answer is certified on the float data, 8-14x faster than ``highs`` on
    linear problems, benchmarks/bench_network.py).

    Parameters
    ----------
    problem : AttractionProblem
        Supplies the graph: edge weights `w_e` (cost per unit of mass moved) and node names.
    a, b : (n,) array of float
        Two distributions on the nodes with equal total mass (e.g. `\rho_0` and `\nu`).

    Returns
    -------
    float
        `W_1(a, b)`, in the units of the edge weights times mass; 0 on a graph without edges.

    Raises
    ------
    RuntimeError
        The min-cost flow returned no point (cannot happen on a connected graph with balanced
        masses).
    """
    from otmodel.backends import solve
    from otmodel.model.network import Network
    from otmodel.model.problems import FlowProblem

    W = sp.coo_matrix(problem.weights)
    off = W.row != W.col  # staying put costs nothing and moves nothing
    if not off.any():
        return 0.0
    names = np.asarray(problem.node_names, dtype=object)
    supply = np.asarray(a, float) - np.asarray(b, float)
    net = Network.from_arrays(
        problem.node_names, supply, names[W.row[off]], names[W.col[off]], linear=W.data[off], lower=0.0
    )
    sol = solve(FlowProblem(net, name="W1 on the graph", balance_rtol=1e-6), backend="network")
    if not sol.has_point:
        raise RuntimeError(f"min-cost flow for W1 failed: {sol.status.value} ({sol.message})")
    return float(sol.objective)


@dataclass(frozen=True)
class StepCertificate:
    r"""Residuals of (10b)-(10f) for one step, and its objective against the exact LP step.

    Returned by ``certify_step``; ``ok`` is true when the step is feasible (every residual
    `\le` ``tol``, no mass on a forbidden pair) and its objective is not below the exact step's.

    Attributes
    ----------
    t : int
        The 0-based step index.
    residuals : dict of str to float
        Constraint label (``"(10b) rows pi_1"``, ``"(10d) pi_1 <= capacity"``, ...) -> L1
        violation, in mass units.
    forbidden_mass : float
        Mass on pairs the support rule (15) forbids; must be exactly 0.
    objective : float
        The step objective (10a) `\omega\langle C,\pi_1\rangle+(1-\omega)\langle C,\pi_2\rangle`
        recomputed from the plans (NaN when the step returned no `\pi_2`).
    exact_objective : float or None
        Objective of the exact LP step at the same `\rho_t` (HiGHS); ``None`` when not computed.
    tol : float
        Tolerance on the residuals (absolute, mass units).
    cost_scale : float, default 1.0
        Largest finite cost; below ``1e-9 * cost_scale`` an exact objective counts as zero.
    """

    t: int
    residuals: dict[str, float]
    forbidden_mass: float
    objective: float
    exact_objective: float | None
    tol: float
    cost_scale: float = 1.0

    @property
    def gap(self) -> float | None:
        """objective - exact objective; >= 0 up to the residuals for a feasible point."""
        if self.exact_objective is None:
            return None
        return self.objective - self.exact_objective

    @property
    def relative_gap(self) -> float | None:
        """(objective - exact) / |exact|; None when there is no exact step or when the exact step
        costs (almost) nothing -- below 1e-9 of the largest finite cost, where a ratio means nothing
        (a step with omega = 1 stays put at cost 0; an entropic step there still moves a little)."""
        gap = self.gap
        if gap is None or self.exact_objective is None:
            return None
        if abs(self.exact_objective) <= 1e-9 * self.cost_scale:
            return None
        return gap / abs(self.exact_objective)

    @property
    def max_residual(self) -> float:
        return max(self.residuals.values())

    @property
    def feasible(self) -> bool:
        """(10b)-(10f) within ``tol`` and exactly zero mass on forbidden pairs."""
        return self.max_residual <= self.tol and self.forbidden_mass == 0.0

    @property
    def ok(self) -> bool:
        gap = self.gap
        if gap is None or self.exact_objective is None:
            return self.feasible
        return self.feasible and gap >= -1e-6 * max(abs(self.exact_objective), 1e-9 * self.cost_scale)

    def summary(self) -> str:
        res = ", ".join(f"{k} {v:.1e}" for k, v in self.residuals.items())
        if self.gap is None:
            gap = ""
        elif self.relative_gap is None:
            gap = f", objective (10a) {self.objective:.6g} vs exact step {self.exact_objective:.6g} (difference {self.gap:+.3g})"
        else:
            gap = f", objective (10a) {self.objective:.6g} vs exact step {self.exact_objective:.6g} ({100 * self.relative_gap:+.3g}%)"
        return f"step {self.t}: {'ok' if self.ok else 'FAILED'} -- {res}, forbidden mass {self.forbidden_mass:.1e}{gap}"


def certify_step(result: StepResult, exact: bool = True, tol: float = 1e-6) -> StepCertificate:
    r"""Recompute the residuals of (10b)-(10f) of ``result`` and (if ``exact``) the exact LP step.

    Nothing the step solver reports is trusted: the marginals, capacities, storage, support rule
    (15) and signs are recomputed from the returned plans `\pi_1`, `\pi_2` and the problem data.

    Parameters
    ----------
    result : StepResult
        One step, as returned by ``solve_step`` or found in ``AttractionFlow.steps``; anything else
        raises ``InvalidDataError``.
    exact : bool, default True
        Also solve the exact (`\gamma = 0`) LP step with HiGHS and compare objectives.
    tol : float, default 1e-6
        Absolute tolerance on each L1 residual, in mass units; finite and `\ge 0`.

    Returns
    -------
    StepCertificate
        Residuals, forbidden mass, objective and exact objective; ``ok`` is the verdict.
    """
    if not isinstance(result, StepResult):
        raise InvalidDataError(f"certify_step: result must be a StepResult, got {type(result).__name__}")
    tol = _tolerance(tol, "tol", "certify_step")
    step = result.step
    prob = step.problem
    P = sp.csr_matrix(result.plan)
    Q = sp.csr_matrix(result.target_plan) if result.target_plan is not None else None
    rho, nu, nxt = step.rho, prob.nu, np.asarray(result.rho_next, float)
    col1 = np.asarray(P.sum(axis=0)).reshape(-1)
    res: dict[str, float] = {
        "(10b) rows pi_1": float(np.abs(np.asarray(P.sum(axis=1)).reshape(-1) - rho).sum()),
        "(10c) p = pi_1^T 1": float(np.abs(col1 - nxt).sum()),
    }
    if Q is not None:
        res["(10b) rows pi_2"] = float(np.abs(np.asarray(Q.sum(axis=1)).reshape(-1) - nu).sum())
        res["(10c) pi_1^T 1 = pi_2^T 1"] = float(np.abs(col1 - np.asarray(Q.sum(axis=0)).reshape(-1)).sum())
    # (10d) capacities and the support rule (15)
    coo = sp.coo_matrix(P)
    j, i, v = coo.row, coo.col, coo.data
    capv = np.full(v.size, np.inf)
    if prob.edge_capacity is not None and v.size:
        has = np.asarray(prob._cap_pattern[j, i]).reshape(-1).astype(bool)
        capv[has] = np.asarray(prob.edge_capacity[j[has], i[has]]).reshape(-1)
    fin = np.isfinite(capv) & (capv > 0)
    res["(10d) pi_1 <= capacity"] = float(np.maximum(v[fin] - capv[fin], 0).sum())
    adj = np.asarray(prob.adjacency[j, i]).reshape(-1).astype(bool) if v.size else np.zeros(0, bool)
    forbidden = (~adj) | (rho[j] <= 0) | (capv == 0)
    forbidden_mass = float(np.abs(v[forbidden]).sum())
    stor = prob.storage
    fs = np.isfinite(stor)
    res["(10e) p <= storage"] = float(np.maximum(nxt[fs] - stor[fs], 0).sum())
    res["(10f) p <= neighbour mass"] = float(np.maximum(nxt - step.neighbour_mass(), 0).sum())
    neg = float(np.maximum(-v, 0).sum()) + float(np.maximum(-nxt, 0).sum())
    if Q is not None:
        neg += float(np.maximum(-Q.data, 0).sum())
    res["non-negativity"] = neg
    C = prob.cost
    obj = step.omega * float(P.multiply(C).sum())
    if Q is not None:
        obj += (1 - step.omega) * float(Q.multiply(C).sum())
    exact_obj = None
    if exact:
        from otmodel.backends.attraction_flow import solve_step

        # the exact step, asked of the registry: an LP that trusts nothing the step under test says
        ref = solve_step(step, backend="attraction-lp", engine="highs")
        exact_obj = ref.objective if ref.ok else None
    costs = np.asarray(sp.csr_matrix(prob.cost).data if sp.issparse(prob.cost) else prob.cost, dtype=float)
    scale = float(np.max(np.abs(costs[np.isfinite(costs)]), initial=0.0)) or 1.0
    return StepCertificate(step.t, res, forbidden_mass, obj if Q is not None else float("nan"), exact_obj, tol, scale)


@dataclass(frozen=True)
class FlowCertificate:
    r"""Certificate of a whole flow: per-step certificates, the chaining of the steps, the fields a
    user reads, and the total cost against W1.

    ``chain`` holds, per step t, `\|\rho^{(t)}_{\text{start}} - \rho_{t}\|_1` where
    `\rho_t` is `\rho_0` for t = 0 and the previous step's `\rho_{t+1} = p`
    otherwise: Algorithm 1 solves each step from where the last one ended, so a step that starts
    elsewhere (judged against ``chain_tol``, an absolute L1 mass like ``tol``) breaks the flow even if
    every step is right on its own. ``field_errors`` lists every reported number (``rhos``, ``tv``,
    each step's ``transport_cost``, ``objective``, index ``t`` and ``omega``) that disagrees with
    its recomputation from the plans and the problem's schedule, and a status CONVERGED whose final
    distribution is not within ``eps`` of the target.

    Attributes
    ----------
    steps : list of StepCertificate
        One certificate per step, in order.
    total_cost : float
        `\sum_t\langle C,\pi_1^t\rangle`, recomputed from the plans.
    w1_target : float
        `W_1(\rho_0, \nu)` on the graph (``graph_w1``).
    w1_reached : float
        `W_1(\rho_0, \rho_T)`; ``total_cost`` must be at least this (triangle inequality).
    w1_remaining : float
        `W_1(\rho_T, \nu)`.
    tv_final : float
        `\tfrac12\|\nu-\rho_T\|_1`, compared with ``eps`` (Algorithm 1's stopping rule).
    eps : float
        The problem's accuracy `\varepsilon`.
    tol : float
        Tolerance on each step's residuals.
    info : dict
        Anything else recorded (e.g. timings).
    chain : (T,) array of float
        Per step, the L1 distance between its start and the previous step's end.
    chain_tol : float
        Bound on ``chain``.
    field_errors : tuple of str
        Each reported number that disagrees with its recomputation.
    """

    steps: list[StepCertificate]
    total_cost: float
    w1_target: float
    w1_reached: float
    w1_remaining: float
    tv_final: float
    eps: float
    tol: float
    info: dict[str, Any] = field(default_factory=dict)
    chain: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    chain_tol: float = 0.0
    field_errors: tuple[str, ...] = ()

    @property
    def reached(self) -> bool:
        """TV(rho_T, nu) <= eps (Algorithm 1's stopping rule, recomputed)."""
        return self.tv_final <= self.eps

    @property
    def chained(self) -> bool:
        """Every step starts where the previous one ended (the first from rho0), within ``chain_tol``."""
        return bool(np.all(self.chain <= self.chain_tol))

    @property
    def cost_consistent(self) -> bool:
        """total cost >= W1(rho0, rho_T): must hold for any valid sequence of couplings."""
        return self.total_cost >= self.w1_reached * (1 - 1e-7) - self.tol

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.steps) and self.cost_consistent and self.chained and not self.field_errors

    @property
    def verdict(self) -> str:
        if not self.chained:
            bad = [int(t) for t in np.flatnonzero(~(self.chain <= self.chain_tol))]
            t = bad[0]
            frm = "rho0" if t == 0 else f"where step {t - 1} ended"
            return (
                f"REJECTED: step {t} does not start from {frm} (L1 distance {self.chain[t]:.3e} > chain_tol "
                f"{self.chain_tol:g}){'' if len(bad) == 1 else f'; also steps {bad[1:10]}'}: the steps do not chain"
            )
        if self.field_errors:
            return "REJECTED: reported numbers disagree with the plans: " + "; ".join(self.field_errors[:5])
        if not self.cost_consistent:
            return "REJECTED: total cost below W1(rho0, rho_T) -- the plans are not a valid flow"
        bad = [c.t for c in self.steps if not c.ok]
        if bad:
            return f"REJECTED: steps {bad[:10]} violate (10b)-(10f) or the support rule"
        return "CERTIFIED" + (" (target reached)" if self.reached else " (target NOT reached within eps)")

    def summary(self) -> str:
        gaps = [c.relative_gap for c in self.steps if c.relative_gap is not None]
        lines = [
            f"verdict: {self.verdict}",
            f"steps {len(self.steps)}, worst residual of (10b)-(10f) "
            f"{max((c.max_residual for c in self.steps), default=0.0):.2e} (tol {self.tol:g}), "
            f"mass on forbidden pairs {max((c.forbidden_mass for c in self.steps), default=0.0):.1e}",
            f"chaining: largest L1 distance between a step's start and the previous end "
            f"{float(np.max(self.chain, initial=0.0)):.2e} (chain_tol {self.chain_tol:g})",
            f"TV(rho_T, nu) {self.tv_final:.3e} (eps {self.eps:g})",
            f"total transport cost {self.total_cost:.6g}; W1(rho0, nu) {self.w1_target:.6g} "
            f"(ratio {self.total_cost / self.w1_target if self.w1_target > 0 else float('nan'):.4f}); "
            f"W1(rho0, rho_T) {self.w1_reached:.6g}; W1(rho_T, nu) {self.w1_remaining:.3e}",
        ]
        if gaps:
            lines.append(
                f"step objective vs exact LP step: relative gap min {100 * min(gaps):+.3g}%, "
                f"max {100 * max(gaps):+.3g}%"
            )
        lines += [f"field: {e}" for e in self.field_errors]
        lines += ["", *abridged([c.summary() for c in self.steps], keep=[not c.ok for c in self.steps])]
        return "\n".join(lines)


def _close(reported: Any, recomputed: float, scale: float) -> bool:
    """A reported number agrees with its recomputation: 1e-9 relative, or 1e-12 of ``scale``."""
    try:
        r = float(reported)
    except (TypeError, ValueError):
        return False
    return math.isfinite(r) and abs(r - recomputed) <= max(1e-9 * abs(recomputed), 1e-12 * scale)


def _flow_fields(flow: AttractionFlow, chain_tol: float) -> tuple[NDArray[np.float64], list[str]]:
    """Per-step chaining distances and the reported fields of ``flow`` that disagree with the plans."""
    prob = flow.problem
    rho0 = np.asarray(prob.rho0, dtype=float)
    mass = float(np.abs(rho0).sum())
    chain = np.zeros(len(flow.steps))
    errors: list[str] = []
    prev = rho0
    C = prob.cost
    costs = np.asarray(sp.csr_matrix(C).data if sp.issparse(C) else C, dtype=float)
    cscale = mass * (float(np.max(np.abs(costs[np.isfinite(costs)]), initial=0.0)) or 1.0)
    for t, s in enumerate(flow.steps):
        start = np.asarray(s.step.rho, dtype=float)
        chain[t] = float(np.abs(start - prev).sum()) if start.shape == prev.shape else math.inf
        if s.step.problem is not prob:
            errors.append(f"step {t} was built for another problem object")
        if s.step.t != t:
            errors.append(f"step {t} says it is step {s.step.t}")
        try:
            want = prob.omega_at(t)
        except Exception:  # a schedule outside [0, 1] is the model's error, reported there
            want = s.step.omega
        if not _close(s.step.omega, want, 1.0):
            errors.append(f"step {t} uses omega {s.step.omega:.6g} where the schedule gives {want:.6g}")
        P = sp.csr_matrix(s.plan)
        cost1 = float(P.multiply(C).sum())
        if not _close(s.transport_cost, cost1, cscale):
            errors.append(f"step {t} reports transport cost {s.transport_cost!r}, its plan costs {cost1:.10g}")
        if s.target_plan is not None:
            obj = s.step.omega * cost1 + (1 - s.step.omega) * float(sp.csr_matrix(s.target_plan).multiply(C).sum())
            if not _close(s.objective, obj, cscale):
                errors.append(f"step {t} reports objective (10a) {s.objective!r}, its plans give {obj:.10g}")
        prev = np.asarray(s.rho_next, dtype=float)
    rhos = np.asarray(flow.rhos, dtype=float)
    ends = [rho0] + [np.asarray(s.rho_next, dtype=float) for s in flow.steps]
    if rhos.shape != (len(ends), rho0.size):
        errors.append(f"rhos has shape {rhos.shape} for {len(flow.steps)} steps of {rho0.size} nodes")
    else:
        d = np.array([float(np.abs(r - e).sum()) for r, e in zip(rhos, ends, strict=True)])
        if np.any(d > chain_tol):
            k = int(np.argmax(d))
            errors.append(
                f"rhos[{k}] is {d[k]:.3e} (L1) away from the distribution step {k - 1} ended at"
                if k
                else f"rhos[0] is {d[0]:.3e} (L1) away from rho0"
            )
    tv = np.asarray(flow.tv, dtype=float)
    want_tv = np.array([total_variation(e, prob.nu) for e in ends])
    if tv.shape != want_tv.shape:
        errors.append(f"tv has {tv.size} entries for {want_tv.size} distributions")
    elif not np.all(np.abs(tv - want_tv) <= max(chain_tol, 1e-12 * mass)):
        k = int(np.argmax(np.abs(tv - want_tv)))
        errors.append(f"tv[{k}] = {tv[k]:.6g} but TV(rho_{k}, nu) = {want_tv[k]:.6g}")
    if flow.status is Status.CONVERGED and not want_tv[-1] <= prob.eps:
        errors.append(f"status converged, but TV(rho_T, nu) = {want_tv[-1]:.6g} > eps {prob.eps:g}")
    return chain, errors


def certify_flow(
    flow: AttractionFlow, exact: bool = True, tol: float = 1e-6, *, chain_tol: float | None = None
) -> FlowCertificate:
    r"""Certify every step of ``flow``, that the steps chain, that its reported numbers agree with
    its plans, and compare its total cost with W1 on the graph.

    ``chain_tol`` (default ``tol``) bounds the L1 distance between each step's starting distribution
    and the previous step's end (`\rho_0` for the first): Algorithm 1 passes that very vector
    on, so anything above round-off means the steps were not taken one after the other. The final
    distribution is the last step's `\rho_{t+1}` (not the reported ``rhos``, which are checked).
    Wrong argument types and tolerances raise ``InvalidDataError``.

    Parameters
    ----------
    flow : AttractionFlow
        The flow of ``attraction_flow`` (Algorithm 1).
    exact : bool, default True
        Compare every step with the exact LP step (one HiGHS solve per step).
    tol : float, default 1e-6
        Absolute tolerance on each step's L1 residuals of (10b)-(10f), mass units.
    chain_tol : float, optional
        Absolute L1 tolerance of the chaining check; ``None`` means ``tol``.

    Returns
    -------
    FlowCertificate
        Per-step certificates, chaining, field errors and the W1 comparison; ``verdict`` reads
        ``CERTIFIED (target reached)`` for a valid flow that met its stopping rule.
    """
    if not isinstance(flow, AttractionFlow):
        raise InvalidDataError(f"certify_flow: flow must be an AttractionFlow, got {type(flow).__name__}")
    tol = _tolerance(tol, "tol", "certify_flow")
    ctol = tol if chain_tol is None else _tolerance(chain_tol, "chain_tol", "certify_flow")
    prob = flow.problem
    certs = [certify_step(s, exact=exact, tol=tol) for s in flow.steps]
    chain, errors = _flow_fields(flow, ctol)
    # total transport cost recomputed from the plans
    total = float(sum(float(sp.csr_matrix(s.plan).multiply(prob.cost).sum()) for s in flow.steps))
    final = np.asarray(flow.steps[-1].rho_next, dtype=float) if flow.steps else np.asarray(prob.rho0, dtype=float)
    return FlowCertificate(
        steps=certs,
        total_cost=total,
        w1_target=graph_w1(prob, prob.rho0, prob.nu),
        w1_reached=graph_w1(prob, prob.rho0, final),
        w1_remaining=graph_w1(prob, final, prob.nu),
        tv_final=total_variation(final, prob.nu),
        eps=prob.eps,
        tol=tol,
        chain=chain,
        chain_tol=ctol,
        field_errors=tuple(errors),
    )
