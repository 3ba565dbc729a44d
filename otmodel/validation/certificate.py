r"""Certificates of optimality, recomputed from the problem data alone.

:func:`dual_value` evaluates the dual function :math:`q(\psi)` of Laurentin et al. (2025), eq. (4);
by weak duality it is a lower bound on the optimum of (2) for *every* :math:`\psi`.

:func:`certify` judges a :class:`~otmodel.results.Solution` without trusting anything its backend
reports: it recomputes the residuals of (2b)-(2d), the objective (2a) of the returned point, the dual
bound :math:`q(\psi)` at the returned potentials, and an upper bound from a *feasible* point built
from the iterate (the *repair*). The optimum then lies in :math:`[q(\psi), \text{upper}]`, and the
width of that interval -- the certified gap -- does not depend on any number the backend reported.

Repair (spatial problems). Keep the transport plan of the solution, normalized so that every point's
mass :math:`\mu_k` is served exactly (points with no usable mass go to
:math:`\arg\min_i c(x_k, i) - \psi_i`, Proposition 1); this fixes the cell masses :math:`m`. The rest
is a min-cost flow with supplies :math:`s - m` at the endpoints, solved by an exact backend of the
registry. Repair (flow problems). The flows are projected onto the feasible set,
:math:`\min_p \|p - p^{\text{iter}}\|^2` s.t. :math:`Ep = s,\ l \le p \le u`, by an exact backend.
Neither repair solves the problem itself: the upper bound is the value of a point derived from the
answer under test, so a wrong answer gives a poor bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["dual_value", "certify", "Certificate", "repair_point"]

INF = math.inf
DEFAULT_CHUNK = None  # block_rows(|S|): at most 65,536 points and 2**23 costs per block


# =============================================================================== the dual function
def dual_value(problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, *, price_tol: float = 0.0) -> float:
    r"""The dual function :math:`q(\psi)` of Laurentin et al. (2025), eq. (4), from the problem data.

    .. math::
        q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_i \psi_i s_i
          + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

    (the first sum only for a :class:`SpatialFlowProblem`, over points of positive mass, evaluated
    ``chunk`` points at a time: memory :math:`O(\text{chunk}\times|\mathcal S| + N)`). By weak duality
    :math:`q(\psi)` is a lower bound on the optimum for every :math:`\psi`, equal to it at a dual
    optimum (Theorem 1); it is invariant under :math:`\psi + c\mathbf 1` because supply and demand
    balance. It is :math:`-\infty` where a linear arc with an infinite bound makes its term unbounded
    (:math:`\psi_i - \psi_j > b_{ij}` with :math:`u_{ij} = +\infty`, or :math:`< b_{ij}` with
    :math:`l_{ij} = -\infty`). With ``price_tol > 0``, violations of at most ``price_tol`` -- the
    round-off of a solver's duals on such arcs -- are forgiven by evaluating that arc's term at
    :math:`\psi_i - \psi_j = b_{ij}` (then the value is no longer a proven bound). Returns NaN if
    ``psi`` has a non-finite entry.
    """
    y = np.asarray(psi, dtype=float).reshape(-1)
    if y.shape != (problem.n_nodes,):
        raise ValueError(f"psi has {y.size} entries for {problem.n_nodes} nodes")
    if not np.all(np.isfinite(y)):
        return math.nan
    chunk = block_rows(getattr(problem, 'n_endpoints', 1), chunk)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    t = y[tails] - y[heads]
    a, b = problem.costs.a, problem.costs.b
    if price_tol > 0:
        lin = a == 0
        over = lin & (problem.upper == INF) & (t > b) & (t - b <= price_tol)
        under = lin & (problem.lower == -INF) & (t < b) & (b - t <= price_tol)
        t = np.where(over | under, b, t)
    value = float(y @ problem.supply) + float(np.sum(problem.costs.conjugate_term(t, problem.lower, problem.upper)))
    if isinstance(problem, SpatialFlowProblem):
        ends = y[np.asarray(problem.endpoints)]
        mass = problem.demand.mass
        for start in range(0, problem.n_points, chunk):
            stop = min(problem.n_points, start + chunk)
            m = mass[start:stop]
            keep = m > 0
            if keep.any():
                adj = problem.cost_block(start, stop)[keep] - ends[None, :]
                value += float(m[keep] @ adj.min(axis=1))
    return value


# =============================================================================== helpers
def _scale(problem: FlowProblem) -> float:
    total = problem.demand.total if isinstance(problem, SpatialFlowProblem) else 0.0
    return max(1.0, float(np.abs(problem.supply).sum()), float(total))


def _plan(problem: SpatialFlowProblem, assignment: Any) -> sp.csr_matrix | None:
    if assignment is None:
        return None
    plan = sp.csr_matrix(assignment, dtype=float)
    if plan.shape != (problem.n_points, problem.n_endpoints):
        raise ValueError(
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
    exact_backend: str = "highs",
    chunk: int | None = DEFAULT_CHUNK,
) -> Repair:
    """Build a feasible point from an answer (see the module docstring); never solves the problem itself."""
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    from otmodel.backends import solve
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
    sol = solve(sub, backend=exact_backend)
    if sol.status is not Status.OPTIMAL or not sol.has_point:
        why = sol.certificate.describe() if sol.certificate is not None else sol.message
        verdict = "infeasible" if sol.status is Status.INFEASIBLE else sol.status.value
        return Repair(False, None, plan_rep, INF, INF, f"{what} is {verdict} ({exact_backend}): {why}")
    fl = np.clip(np.asarray(sol.flows, dtype=float), problem.lower, problem.upper)
    obj = problem.objective(fl, plan_rep)
    res = _primal_residual(problem, fl, plan_rep)
    msg = f"{what}, solved by {exact_backend}" + (f"; {'; '.join(notes)}" if notes else "")
    return Repair(bool(math.isfinite(obj)), fl, plan_rep, float(obj), res, msg)


def _primal_residual(problem: FlowProblem, flows: NDArray[np.float64], plan: sp.csr_matrix | None) -> float:
    """Largest violation of (2b)-(2d), relative to the supply scale (used on repaired points)."""
    r = problem.supply - problem.net_outflow(flows)
    viol = float(np.max(np.maximum(problem.lower - flows, flows - problem.upper), initial=0.0))
    if isinstance(problem, SpatialFlowProblem) and plan is not None:
        r[np.asarray(problem.endpoints)] -= np.asarray(plan.sum(axis=0)).reshape(-1)
        viol = max(
            viol, float(np.max(np.abs(np.asarray(plan.sum(axis=1)).reshape(-1) - problem.demand.mass), initial=0.0))
        )
    return max(viol, float(np.max(np.abs(r), initial=0.0))) / _scale(problem)


# =============================================================================== the certificate
@dataclass(frozen=True)
class Certificate:
    r"""What :func:`certify` found, every number recomputed from the problem data.

    Attributes
    ----------
    certified : bool -- True iff every check in ``checks`` passed (see :func:`certify`)
    reasons : why not (empty when certified)
    rtol, feas_tol : the tolerances used
    conservation_residual : (n,) array -- per node :math:`s_i - \text{out}_i + \text{in}_i - m_i`
        (:math:`m_i` the mass assigned to endpoint i), eq. (2b)
    bound_violation : (m,) array -- per arc :math:`\max(l - p, p - u, 0)`, eq. (2d)
    marginal_residual_max, marginal_residual_l1 : :math:`|\sum_i \pi_{ki} - \mu_k|` over points, eq. (2c)
        (None for a flow problem)
    negative_mass : largest negative entry of the plan (as a positive number)
    infinite_cost_mass : plan mass on pairs of infinite assignment cost
    primal_residual : largest of the above, relative to the supply scale
    objective : objective (2a) recomputed from the returned point
    reported_objective : what the backend reported (compared, never used)
    dual_bound : :math:`q(\psi)` at the returned potentials (eq. (4)); a lower bound on the optimum
    upper_bound : objective of a feasible point (the repair, or the point itself if feasible)
    upper_source : "repair", "solution" or "none"
    gap, relative_gap : ``upper_bound - dual_bound`` and that over ``max(1, |upper_bound|)``
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
            f"  dual bound q(psi), eq. (4)            {g(self.dual_bound)}",
            f"  upper bound ({self.upper_source})".ljust(40) + g(self.upper_bound),
            f"  certified gap                         {e(self.gap)}  (relative {e(self.relative_gap)}, rtol {self.rtol:g})",
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
        lines.append(f"    largest, relative to supply scale   {e(self.primal_residual)}  (feas_tol {self.feas_tol:g})")
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
                f"CERTIFIED within rtol = {self.rtol:g}: the optimum lies in [{g(self.dual_bound)}, {g(self.upper_bound)}]"
            )
        else:
            lines.append("NOT certified: " + "; ".join(self.reasons))
        return "\n".join(lines)


def certify(
    problem: FlowProblem,
    solution: Solution,
    rtol: float = 1e-6,
    repair: bool = True,
    exact_backend: str = "highs",
    feas_tol: float = 1e-8,
    chunk: int | None = DEFAULT_CHUNK,
) -> Certificate:
    r"""Certify ``solution`` of ``problem`` from the problem data alone.

    The optimum :math:`f^*` of (2) satisfies :math:`q(\psi) \le f^* \le \text{upper}` where
    :math:`q(\psi)` is eq. (4) at the returned potentials and *upper* the objective of a feasible
    point (the repair of the module docstring, or the returned point itself when its primal residual
    is at most ``feas_tol``, relative to the supply scale). The answer is **certified** when

    1. the relative gap :math:`(\text{upper} - q(\psi)) / \max(1, |\text{upper}|) \le` ``rtol``, finite;
    2. the objective the backend reported (if finite) equals the recomputed one within ``rtol``;
    3. if the solution claims a feasible point (status OPTIMAL or point FEASIBLE), its primal residual
       is at most ``feas_tol`` and its own objective is within ``rtol`` of the bounds.

    An iterate that only claims to be nearly feasible (an iterative backend) is certified through
    its repair: the certificate then says that the optimum is known within ``rtol`` and that the
    repaired point (``repaired_flows``, ``repaired_assignment``) attains it; the iterate's own
    residuals are reported, not judged.

    Parameters
    ----------
    repair : build the repaired point (needs ``exact_backend``); without it the upper bound exists
        only if the returned point is feasible within ``feas_tol``
    exact_backend : registry name of the exact backend used for the repair's sub-solve
    chunk : demand points per block (memory ``O(chunk x |S| + N)``; default: at most 64 MB of costs)
    """
    if getattr(problem, "kind", None) == "relocation":  # its own certificate (otmodel.validation.relocation)
        from otmodel.validation.relocation import certify_relocation

        return certify_relocation(problem, solution, rtol=rtol)  # type: ignore[return-value]
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    reasons: list[str] = []
    notes: list[str] = []
    checks: list[tuple[str, bool, str]] = []
    spatial = isinstance(problem, SpatialFlowProblem)
    scale = _scale(problem)
    n, m_arcs = problem.n_nodes, problem.n_arcs
    if solution.problem is not problem:
        notes.append("the solution carries a different problem object; judged against the one given")

    flows = np.asarray(solution.flows, dtype=float).reshape(-1)
    psi = np.asarray(solution.potentials, dtype=float).reshape(-1)
    shape_ok = flows.shape == (m_arcs,) and psi.shape == (n,)
    plan: sp.csr_matrix | None = None
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        try:
            plan = _plan(problem, solution.assignment)
        except ValueError as exc:
            shape_ok = False
            reasons.append(str(exc))
        if solution.assignment is None:
            reasons.append("a spatial problem needs an assignment plan and the solution has none")
    if flows.shape != (m_arcs,):
        reasons.append(f"the solution has {flows.size} flows for {m_arcs} arcs")
    if psi.shape != (n,):
        reasons.append(f"the solution has {psi.size} potentials for {n} nodes")

    # ---------------------------------------------------------------- residuals of the point
    cons = np.full(n, np.nan)
    bviol = np.full(m_arcs, np.nan)
    marg_max: float | None = None
    marg_l1: float | None = None
    neg = 0.0
    inf_mass = 0.0
    objective = math.nan
    prim_res = INF
    if flows.shape == (m_arcs,) and np.all(np.isfinite(flows)):
        cons = problem.supply - problem.net_outflow(flows)
        bviol = np.maximum(np.maximum(problem.lower - flows, flows - problem.upper), 0.0)
        parts = [float(np.max(np.abs(cons), initial=0.0)), float(np.max(bviol, initial=0.0))]
        if spatial and plan is not None:
            assert isinstance(problem, SpatialFlowProblem)
            cons[np.asarray(problem.endpoints)] -= np.asarray(plan.sum(axis=0)).reshape(-1)
            dm = np.abs(np.asarray(plan.sum(axis=1)).reshape(-1) - problem.demand.mass)
            marg_max, marg_l1 = float(np.max(dm, initial=0.0)), float(np.sum(dm))
            neg = float(max(0.0, -plan.data.min(initial=0.0)))
            if plan.nnz:
                bad = _infinite_cost_mask(problem, plan, chunk) & (plan.data != 0)
                inf_mass = float(np.sum(np.abs(plan.data[bad])))
            parts = [float(np.max(np.abs(cons), initial=0.0)), parts[1], marg_max, neg, INF if inf_mass > 0 else 0.0]
            objective = float(problem.objective(flows, plan))
            prim_res = max(parts) / scale
        elif not spatial:
            objective = float(problem.objective(flows))
            prim_res = max(parts) / scale
    elif flows.shape == (m_arcs,):
        reasons.append("the solution has no primal point (non-finite flows)")

    # ---------------------------------------------------------------- the dual bound
    q = math.nan
    if psi.shape == (n,):
        if not np.all(np.isfinite(psi)):
            reasons.append(f"the potentials are not finite (status {solution.status.value}): no dual bound")
        else:
            q = dual_value(problem, psi, chunk)
            if q == -INF:
                # a solver's duals on a linear arc of infinite capacity may miss dual feasibility by round-off
                ptol = 1e-9 * max(1.0, float(np.abs(problem.costs.b).max(initial=0.0)))
                q2 = dual_value(problem, psi, chunk, price_tol=ptol)
                if math.isfinite(q2):
                    notes.append(
                        f"q(psi) = -inf by a price round-off <= {ptol:.1e} on an arc of infinite capacity; "
                        "that round-off was forgiven"
                    )
                    q = q2

    # ---------------------------------------------------------------- the upper bound
    upper, source = INF, "none"
    feasible_point = math.isfinite(objective) and prim_res <= feas_tol
    if feasible_point:
        upper, source = objective, "solution"
    rep: Repair | None = None
    if repair and shape_ok and (spatial or not feasible_point):
        try:
            rep = repair_point(problem, flows, plan, psi, exact_backend=exact_backend, chunk=chunk)
        except Exception as exc:  # an exact backend missing or failing must not hide the rest
            rep = Repair(False, None, None, INF, INF, f"repair failed: {type(exc).__name__}: {exc}")
        if rep.ok and rep.objective < upper:
            upper, source = rep.objective, "repair"
    elif not repair:
        notes.append("repair disabled")
    elif not spatial and feasible_point:
        notes.append("the flows are feasible: no repair needed")

    gap = upper - q if math.isfinite(upper) and math.isfinite(q) else (INF if not math.isnan(q) else math.nan)
    rel = gap / max(1.0, abs(upper)) if math.isfinite(upper) else gap

    # ---------------------------------------------------------------- the checks
    ok_gap = math.isfinite(rel) and rel <= rtol
    if math.isnan(q):
        detail = "no dual bound"
    elif q == -INF:
        detail = "q(psi) = -inf (a linear arc of infinite capacity is priced beyond its cost)"
    elif not math.isfinite(upper):
        detail = "no feasible point: " + (rep.message if rep is not None else "repair not attempted")
    else:
        detail = f"relative gap {rel:.3e} {'<=' if ok_gap else '>'} rtol {rtol:g}"
    checks.append(("certified gap", ok_gap, detail))
    if not ok_gap:
        reasons.append(f"certified gap: {detail}")
    if rel < -rtol and math.isfinite(rel):
        notes.append("upper bound below the dual bound: the sub-solve or the point is infeasible beyond tolerance")

    rep_obj = solution.objective
    if math.isfinite(rep_obj):
        diff = abs(rep_obj - objective) / max(1.0, abs(objective)) if math.isfinite(objective) else INF
        ok = diff <= rtol
        d = f"reported {rep_obj:.10g}, recomputed {objective:.10g} (relative difference {diff:.2e})"
        checks.append(("reported objective", ok, d))
        if not ok:
            reasons.append(f"reported objective disagrees with the point: {d}")

    claims = solution.status is Status.OPTIMAL or solution.point_status is PointStatus.FEASIBLE
    if claims:
        ok_feas = prim_res <= feas_tol
        d = f"primal residual {prim_res:.2e} {'<=' if ok_feas else '>'} feas_tol {feas_tol:g}"
        checks.append(("claimed feasible point", ok_feas, d))
        if not ok_feas:
            reasons.append(f"claims a feasible point, but {d}")
        if math.isfinite(objective) and math.isfinite(q):
            own = (objective - q) / max(1.0, abs(objective))
            ok_own = own <= rtol
            d = f"objective - q(psi) relative {own:.3e} {'<=' if ok_own else '>'} rtol {rtol:g}"
            checks.append(("claimed optimal point", ok_own, d))
            if not ok_own:
                reasons.append(f"claims an optimal point, but {d}")
    elif math.isfinite(prim_res) and prim_res > feas_tol and ok_gap:
        notes.append(
            f"the point as returned is only nearly feasible (residual {prim_res:.2e}); "
            "the certified point is the repair (repaired_flows, repaired_assignment)"
        )

    certified = ok_gap and all(ok for _, ok, _ in checks) and not reasons
    return Certificate(
        certified=certified,
        reasons=tuple(dict.fromkeys(reasons)),
        rtol=float(rtol),
        feas_tol=float(feas_tol),
        backend=solution.backend,
        status=solution.status.value,
        point_status=solution.point_status.value,
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
    )


def _graph_transport_info(problem: FlowProblem, solution: Solution, flows: NDArray[np.float64]) -> dict[str, Any]:
    r"""Extra figures for a graph-transport problem (Mokhtari et al.), recomputed from the data.

    ``transport_cost`` is :math:`c^\top\pi` of (2.1) at the returned plan and ``regularization``
    :math:`\frac{\Gamma}{2}\|\pi\|^2` (their sum is the objective of (2.4) at consensus). When the
    solution carries the agents' copies (``info["copies"]``, the ADMM backend with
    ``keep_copies=True``), ``consensus_disagreement`` is :math:`\max_i \|\pi^i - \pi\|`, recomputed
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
