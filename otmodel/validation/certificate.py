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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError
from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status
from otmodel.validation.answers import answer_solution, sign_convention_note
from otmodel.validation.pricing import (
    DEFAULT_CHUNK,
    _proven_dual_bound,
    _tolerance,
    cost_scale,
    dual_value,
    proven_dual_bound,
)
from otmodel.validation.repair import Repair, repair_point
from otmodel.validation.residuals import PointResiduals, _plan, _relative, point_residuals

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


# =============================================================================== the certificate
@dataclass(frozen=True)
class Certificate:
    r"""What ``certify`` found, every number recomputed from the problem data.

    Attributes
    ----------
    certified : bool
        True iff every check in ``checks`` passed (see ``certify``).
    reasons : tuple of str
        Why not (empty when certified); each names the field, node, arc or point at fault.
    rtol, feas_tol, gap_atol : float
        The tolerances used (``gap_atol`` the absolute floor of the gap).
    backend, status, point_status, problem_name : str
        What the answer said about itself (backend, ``Status`` and ``PointStatus`` values), and
        the problem's name.
    conservation_residual : (n,) array of float
        Per node `s_i - \text{out}_i + \text{in}_i - m_i` (`m_i` the mass assigned to endpoint
        `i`), eq. (2b), absolute.
    bound_violation : (m,) array of float
        Per arc `\max(l - p, p - u, 0)`, eq. (2d), absolute.
    marginal_residual_max, marginal_residual_l1 : float or None
        `|\sum_i \pi_{ki} - \mu_k|` over points (max and sum), eq. (2c); ``None`` for a flow
        problem.
    negative_mass : float
        Largest negative entry of the plan, as a positive number.
    infinite_cost_mass : float
        Plan mass on pairs of infinite assignment cost.
    primal_residual, worst_residual, node_scale : float, str, (n,) array or None
        The largest residual of all of the above, each relative to its own item's scale (a node's
        ``|supply| + throughput + assigned mass``, see ``PointResiduals``); the item it is; the
        nodes' scales.
    objective : float
        Objective (2a) recomputed from the returned point.
    reported_objective : float
        What the backend reported (compared, never used).
    dual_bound : float
        A proven lower bound on the optimum: `q(\psi')` (eq. (4)) at the returned potentials or, if
        they are not dual feasible, at their shift onto dual feasibility, minus a bound on the
        rounding error of its evaluation (``proven_dual_bound``).
    dual_value_raw, dual_rounding, dual_potentials : float, float, (n,) array or None
        `q(\psi)` at the returned potentials as they are (may be `-\infty`), the rounding-error
        bound subtracted, and the `\psi'` at which ``dual_bound`` was evaluated.
    upper_bound : float
        Objective of a feasible point (the repair, or the point itself if feasible).
    upper_source : {"repair", "solution", "none"}
        Where ``upper_bound`` comes from.
    gap, relative_gap : float
        ``upper_bound - dual_bound`` and that over the smallest `|f|` on
        ``[dual_bound, upper_bound]`` (0 when the interval contains 0: then only ``gap_atol``
        serves).
    cost_scale : float
        The problem's natural cost scale (``cost_scale``).
    repaired_objective, repair_message, repaired_flows, repaired_assignment
        The repaired point (``repair_point``): its objective (inf when none was found), how the
        repair went, its flows and its plan (spatial problems).
    checks : tuple of (str, bool, str)
        ``(name, passed, detail)`` for every condition of ``certified``.
    notes : tuple of str
        Remarks that are not failures (e.g. potentials that look like the opposite sign
        convention).
    info : dict
        Anything else recorded (timings of the certificate's parts).
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
    solution: Solution | Mapping[str, Any] | None = None,
    rtol: float = 1e-6,
    repair: bool = True,
    exact_backend: str = "auto",
    feas_tol: float = 1e-8,
    chunk: int | None = DEFAULT_CHUNK,
    *,
    gap_atol: float | None = None,
    flows: Any = None,
    potentials: Any = None,
    assignment: Any = None,
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

    An answer computed elsewhere is given as arrays instead of a ``Solution``: ``certify(problem,
    potentials=psi)``, ``certify(problem, flows=..., assignment=...)``, or a mapping with those keys
    (``otmodel.validation.answers``: potentials alone determine the flows (5) and the cells of a
    spatial problem; a note says when they look like the opposite sign convention).

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem (a RelocationProblem has ``certify_relocation``)
    solution : Solution, or a mapping ``{"flows", "potentials", "assignment"}``, or None with the
        arrays given as keywords
    flows, potentials, assignment : an answer computed elsewhere (see ``answer_solution``)
    rtol, feas_tol, gap_atol : the tolerances above (finite numbers >= 0)
    repair : build the repaired point (needs ``exact_backend``); without it the upper bound exists
        only if the returned point is feasible within ``feas_tol``
    exact_backend : registry name of the exact backend used for the repair's sub-solve (default
        ``"auto"``: for a spatial problem ``otmodel.backends.default_backend`` of the sub-problem, the
        fastest measured; for the projection of a flow problem the first registered exact backend with
        active-set (capability ``"vertex"``) answers to quadratic problems, ``"highs"``)
    chunk : demand points per block (memory ``O(chunk x |S| + N)``; default: at most 64 MB of costs)

    Returns
    -------
    Certificate

    Raises
    ------
    InvalidDataError : ``problem`` is not a FlowProblem, ``solution`` not a Solution (nor arrays), an
        array of the wrong length, or a tolerance is not a finite number >= 0.
    """
    if getattr(problem, "kind", None) == "relocation":  # its own certificate (otmodel.validation.relocation)
        from otmodel.validation.relocation import certify_relocation

        return certify_relocation(problem, solution, rtol=rtol)  # type: ignore[return-value]
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"certify: problem must be an otmodel FlowProblem, got {type(problem).__name__}")
    check_sign = False  # an outside answer's potentials: say if they look like the other sign convention
    if solution is None or isinstance(solution, Mapping):
        # an answer computed elsewhere, as arrays (otmodel.validation.answers)
        given = dict(solution or {})
        unknown = sorted(set(given) - {"flows", "potentials", "assignment", "objective"})
        if unknown:
            raise InvalidDataError(f"certify: unknown answer key(s) {unknown}; give flows, potentials, assignment")
        for key, value in (("flows", flows), ("potentials", potentials), ("assignment", assignment)):
            if value is not None:
                given[key] = value
        solution = answer_solution(problem, **given)
        check_sign = given.get("potentials") is not None
    elif flows is not None or potentials is not None or assignment is not None:
        raise InvalidDataError("certify: give a Solution or arrays (flows=, potentials=, assignment=), not both")
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
            if check_sign:  # q(psi) is known now: one more pass, for q(-psi) only
                notes.extend(sign_convention_note(problem, psi, here=q_raw))
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
