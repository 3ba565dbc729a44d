r"""The known-answer catalogue of the conformance suite, and the checks a case and an answer need.

Every expected answer here is derived by hand or by construction -- never by running a solver.
Each optimal case carries a *witness*: a primal point `(p, \pi)` and node potentials
`\psi` (Laurentin et al. (2025), eq. (3)-(4)) with

.. math:: \text{objective}(p, \pi) \;=\; q(\psi) \;=\; \text{expected objective},

checked when the case is built (``check_case``). By weak duality `q(\psi) \le`
objective of every feasible point, so this equality *proves* that the witness is optimal and the
expected objective is the optimum. Expected flows, potentials and cell masses are only stated where
they are unique, and uniqueness is checked too:

* **flows / plan**: the optimal primal set is the set of feasible points that minimize every term
  of the Lagrangian at `\psi`. Quadratic arcs have one minimizer, linear arcs with
  `b \ne \psi_i - \psi_j` sit at a bound, points with one minimizer of
  `c(x_k, i) - \psi_i` go entirely to it. The remaining ("free") variables -- linear arcs
  with `b = \psi_i - \psi_j`, plan entries of tied points -- are then fixed by conservation
  when they form a forest (a forest's incidence matrix has full column rank).
* **potentials**: every dual optimum satisfies complementary slackness with every primal optimum,
  so an arc carrying flow strictly inside its bounds pins `\psi_i - \psi_j` (to `b`,
  or `2ap + b`), and a point split between endpoints pins their difference. If the pinned
  pairs connect all nodes, `\psi` is unique up to an additive constant (the constant does not
  change `q` because total supply equals `\mu(X)`).

Planted cases choose flows, potentials and the assignment first and derive costs so that
complementary slackness holds: a linear arc strictly inside its bounds gets
`b = \psi_i - \psi_j`, one at its lower bound `b > \psi_i - \psi_j`, at its upper bound
`b < \psi_i - \psi_j`; a quadratic arc gets `2ap + b = \psi_i - \psi_j` inside its
bounds (and the corresponding inequality at a bound); a demand point gets costs
`c(x_k, i) - \psi_i` smallest at its planted endpoint. Supplies then follow from
conservation, `s = E p + m` (`m` the cell masses at the endpoints).

The catalogue is organised by *kind* (``CATALOGUE``): ``flow``, ``spatial``, ``graph`` (graph
transport, Mokhtari et al.), ``relocation`` and, from its own module, ``attraction-step``. Each kind
lives in a module ``otmodel.validation.cases_<kind>`` defining ``cases()``; a kind whose answers are
not a flow ``Solution`` also defines ``check_case(case, rtol)`` (the self-check of its cases) and
``check_answer(case, answer, config) -> list[str]`` (what is wrong with a backend's answer). Adding a
kind is one module plus one line in ``CATALOGUE`` (or ``register_kind``).

``check_answer`` compares status, objective, flows, potentials (up to a constant), cell masses, the
feasibility of the returned point, the dual value `q(\psi)` of the returned potentials, and the
certificates of infeasible and unbounded cases (verified from the problem data by
``otmodel.certificates``); ``otmodel.validation.conformance`` runs a backend over the catalogue.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.backends.base import CASE_KINDS, Conformance, Tolerances
from otmodel.certificates import (
    find_infeasible_cut,
    is_connected,
    is_forest,
    primal_residual,
    verify_infeasibility_certificate,
    verify_unbounded_certificate,
)
from otmodel.model.costs import ArcCost
from otmodel.model.demand import Points
from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.model.transport import GraphTransportProblem
from otmodel.results import InfeasibilityCertificate, Solution, Status, UnboundedCertificate
from otmodel.validation.pricing import dual_value

__all__ = [
    "CATALOGUE",
    "ConformanceCase",
    "ConformanceConfig",
    "KnownPoint",
    "cases",
    "check_answer",
    "check_case",
    "kind_module",
    "register_kind",
    "select",
]

INF = math.inf

#: kind -> the module holding its cases (``cases()``, and ``check_case``/``check_answer`` when its
#: answers are not flow ``Solution``s). Imported lazily: a kind costs nothing until it is asked for.
CATALOGUE: dict[str, str] = {
    "flow": "otmodel.validation.cases_flow",
    "spatial": "otmodel.validation.cases_spatial",
    "graph": "otmodel.validation.cases_graph",
    "relocation": "otmodel.validation.cases_relocation",
    "attraction-step": "otmodel.validation.cases_attraction",
}


# =============================================================================== the cases
@dataclass(frozen=True)
class KnownPoint:
    r"""An optimal primal-dual point of a case (not necessarily the only one).

    The witness of a ``ConformanceCase``: ``check_case`` proves it optimal by strong duality
    (its objective equals the dual value `q(\psi)` of Laurentin et al., eq. (4)).

    Attributes
    ----------
    flows : (n_arcs,) array of float
        Flow per arc, in the problem's arc order.
    potentials : (n_nodes,) array of float
        Node potentials `\psi` in the paper's sign convention.
    assignment : (N, n_endpoints) scipy.sparse.csr_matrix, optional
        The plan `\pi` for spatial problems (``None`` for a plain flow problem).
    """

    flows: NDArray[np.float64]
    potentials: NDArray[np.float64]
    assignment: sp.csr_matrix | None = None

    @property
    def cell_mass(self) -> NDArray[np.float64] | None:
        if self.assignment is None:
            return None
        return np.asarray(self.assignment.sum(axis=0)).reshape(-1)


@dataclass(frozen=True)
class ConformanceCase:
    """A problem with a known answer.

    Attributes
    ----------
    name : short identifier
    problem : the problem
    expected_status : Status.OPTIMAL, INFEASIBLE or UNBOUNDED
    expected_objective : the optimal value (+inf for infeasible, -inf for unbounded cases)
    derivation : where the answer comes from (hand computation, construction)
    expected_flows : per arc, only where the optimal flows are unique
    expected_potentials : per node, only where psi is unique up to an additive constant
    expected_cell_mass : per endpoint, only where the cell masses are unique
    witness : an optimal ``KnownPoint`` (or the kind's own witness), or the certificate of an
        infeasible/unbounded case
    tags : words for selecting cases ("flow", "spatial", "linear", "quadratic", "mixed", "planted",
        "degenerate", "infeasible", "unbounded", ...)
    kind : the catalogue kind (``CATALOGUE``): which backends are checked on it, and which checks apply
    """

    name: str
    problem: Any
    expected_status: Status
    expected_objective: float
    derivation: str
    expected_flows: NDArray[np.float64] | None = None
    expected_potentials: NDArray[np.float64] | None = None
    expected_cell_mass: NDArray[np.float64] | None = None
    witness: Any = None
    tags: frozenset[str] = frozenset()
    kind: str = "flow"




def _arr(x: ArrayLike | None) -> NDArray[np.float64] | None:
    if x is None:
        return None
    a = np.array(x, dtype=float)
    a.setflags(write=False)
    return a


def _network(
    nodes: Sequence[tuple[str, float] | tuple[str, float, bool] | tuple[str, float, bool, tuple[float, float]]],
    arcs: Sequence[tuple[str, str, ArcCost | float, float, float]],
) -> Network:
    net = Network()
    for spec in nodes:
        name, supply = spec[0], spec[1]
        endpoint = bool(spec[2]) if len(spec) > 2 else False
        position = spec[3] if len(spec) > 3 else None  # type: ignore[misc]
        net.add_node(name, supply, position=position, endpoint=endpoint)
    for t, h, c, lo, up in arcs:
        net.add_arc(t, h, c, lo, up)
    return net


def _dummy_points(mass: Sequence[float]) -> Points:
    """Points on a line (coordinates are irrelevant under a Matrix cost)."""
    n = len(mass)
    return Points(np.column_stack([np.arange(n, dtype=float), np.zeros(n)]), np.asarray(mass, dtype=float))


def _plan(rows: Sequence[Sequence[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, dtype=float))


def _tags(problem: FlowProblem, *extra: str) -> frozenset[str]:
    a = problem.costs.a
    cost = "linear" if np.all(a == 0) else "quadratic" if np.all(a > 0) else "mixed"
    return frozenset({problem.kind, cost, _kind(problem), *extra})


def _kind(problem: FlowProblem) -> str:
    if isinstance(problem, GraphTransportProblem):
        return "graph"
    return "spatial" if isinstance(problem, SpatialFlowProblem) else "flow"


def _optimal(
    name: str,
    problem: FlowProblem,
    objective: float,
    derivation: str,
    witness: KnownPoint,
    flows: ArrayLike | None = None,
    potentials: ArrayLike | None = None,
    cell_mass: ArrayLike | None = None,
    tags: Sequence[str] = (),
) -> ConformanceCase:
    case = ConformanceCase(
        name=name,
        problem=problem,
        expected_status=Status.OPTIMAL,
        expected_objective=float(objective),
        derivation=derivation,
        expected_flows=_arr(flows),
        expected_potentials=_arr(potentials),
        expected_cell_mass=_arr(cell_mass),
        witness=witness,
        tags=_tags(problem, *tags),
        kind=_kind(problem),
    )
    check_case(case)
    return case


def _point(flows: ArrayLike, potentials: ArrayLike, plan: sp.csr_matrix | None = None) -> KnownPoint:
    return KnownPoint(np.asarray(flows, dtype=float), np.asarray(potentials, dtype=float), plan)




def _infeasible(name: str, problem: FlowProblem, cert: InfeasibilityCertificate, derivation: str) -> ConformanceCase:
    case = ConformanceCase(
        name, problem, Status.INFEASIBLE, INF, derivation, witness=cert, tags=_tags(problem, "infeasible"), kind=_kind(problem)
    )
    check_case(case)
    return case




def _unbounded(name: str, problem: FlowProblem, cert: UnboundedCertificate, derivation: str) -> ConformanceCase:
    case = ConformanceCase(
        name, problem, Status.UNBOUNDED, -INF, derivation, witness=cert, tags=_tags(problem, "unbounded"), kind=_kind(problem)
    )
    check_case(case)
    return case




# =============================================================================== self-checks
def _uniqueness(problem: FlowProblem, point: KnownPoint, tol: float = 1e-9) -> tuple[bool, bool]:
    """(primal point unique, potentials unique up to a constant), given an optimal ``point``.

    See the module docstring for the argument.
    """
    psi, flows = point.potentials, point.flows
    n = problem.n_nodes
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    t = psi[tails] - psi[heads]
    a, b = problem.costs.a, problem.costs.b
    cscale = max(1.0, float(np.abs(b).max(initial=0.0)), float(np.abs(t).max(initial=0.0)))
    free = (a == 0) & (np.abs(b - t) <= tol * cscale)
    fscale = max(1.0, float(np.abs(flows).max(initial=0.0)))
    interior = (flows - problem.lower > tol * fscale) & (problem.upper - flows > tol * fscale)
    kink = problem.costs.kink
    if kink is not None:
        # a two-way arc charged b|p| ties at t = -b too, and at p = 0 (its kink) it pins no price
        free |= kink & (a == 0) & (np.abs(b + t) <= tol * cscale)
        interior &= ~(kink & (np.abs(flows) <= tol * fscale))
    free_pairs = [(int(tails[k]), int(heads[k])) for k in np.flatnonzero(free)]
    pinned = [(int(tails[k]), int(heads[k])) for k in np.flatnonzero(interior)]
    extra = 0
    if isinstance(problem, SpatialFlowProblem):
        ends = np.asarray(problem.endpoints)
        C = problem.cost_matrix()
        pos = np.flatnonzero(problem.demand.mass > 0)
        adj = C[pos] - psi[ends][None, :]
        mn = adj.min(axis=1, keepdims=True)
        ascale = max(1.0, float(np.abs(mn).max(initial=0.0)))
        is_min = adj <= mn + tol * ascale
        tied = np.flatnonzero(is_min.sum(axis=1) > 1)
        for q, row in enumerate(tied):
            for c in np.flatnonzero(is_min[row]):
                free_pairs.append((n + q, int(ends[c])))
        extra = tied.size
        if point.assignment is not None:
            plan = sp.csr_matrix(point.assignment)
            mscale = max(1.0, float(problem.demand.mass.max(initial=0.0)))
            for k in range(plan.shape[0]):
                row = plan.getrow(k)
                used = row.indices[row.data > tol * mscale]
                pinned.extend((int(ends[used[0]]), int(ends[c])) for c in used[1:])
    return is_forest(n + extra, free_pairs), is_connected(n, pinned)


def close(x: float, y: float, rtol: float, atol: float) -> bool:
    """``|x - y| <= atol + rtol * max(1, |y|)``: the one closeness test of the suite."""
    return abs(x - y) <= atol + rtol * max(1.0, abs(y))


def _fail(case: ConformanceCase, msg: str) -> None:
    raise AssertionError(f"conformance case {case.name!r}: {msg}")


def check_case(case: ConformanceCase, rtol: float = 1e-9) -> None:
    """Self-check of a case; raises ``AssertionError`` naming the case and the check that failed.

    Parameters
    ----------
    case : ConformanceCase
        The case to check.
    rtol : float, default 1e-9
        Relative (and absolute) tolerance of every comparison.

    Returns
    -------
    None
        The case is sound; otherwise ``AssertionError`` is raised.

    Optimal cases: the witness is feasible, its objective and the dual value q(psi) (eq. (4)) at its
    potentials both equal the expected objective -- strong duality, which proves the expected
    objective optimal -- and the stated flows, potentials and cell masses agree with the witness and
    are unique. Infeasible and unbounded cases: the certificate verifies from the problem data.
    """
    own = getattr(kind_module(case.kind), "check_case", None)
    if own is not None:  # a kind whose witness is not a flow point checks its own cases
        own(case, rtol)
        return
    p, w = case.problem, case.witness
    if case.expected_status is Status.INFEASIBLE:
        if not isinstance(w, InfeasibilityCertificate) or not verify_infeasibility_certificate(p, w):
            _fail(case, "the stated infeasibility certificate does not verify")
        if find_infeasible_cut(p) is None:
            _fail(case, "the max-flow test finds the problem feasible")
        return
    if case.expected_status is Status.UNBOUNDED:
        if not isinstance(w, UnboundedCertificate) or not verify_unbounded_certificate(p, w):
            _fail(case, "the stated unbounded cycle does not verify")
        return
    if not isinstance(w, KnownPoint):
        _fail(case, "an optimal case needs a witness KnownPoint")
        return
    res = primal_residual(p, w.flows, w.assignment)
    if not res <= rtol:
        _fail(case, f"the witness is not feasible (residual {res:.3g})")
    obj = p.objective(w.flows, w.assignment)
    if not close(obj, case.expected_objective, rtol, rtol):
        _fail(case, f"witness objective {obj!r} != expected {case.expected_objective!r}")
    q = dual_value(p, w.potentials)
    if not close(q, case.expected_objective, rtol, rtol):
        _fail(case, f"q(psi) = {q!r} != expected objective {case.expected_objective!r} (no strong duality)")
    unique_primal, unique_psi = _uniqueness(p, w)
    if case.expected_flows is not None:
        if not unique_primal:
            _fail(case, "expected flows are stated but the optimal flows are not provably unique")
        if not np.allclose(case.expected_flows, w.flows, rtol=rtol, atol=rtol):
            _fail(case, "expected flows differ from the witness")
    if case.expected_cell_mass is not None:
        if not unique_primal:
            _fail(case, "expected cell masses are stated but the optimal plan is not provably unique")
        if w.cell_mass is None or not np.allclose(case.expected_cell_mass, w.cell_mass, rtol=rtol, atol=rtol):
            _fail(case, "expected cell masses differ from the witness")
    if case.expected_potentials is not None:
        if not unique_psi:
            _fail(case, "expected potentials are stated but psi is not provably unique up to a constant")
        diff = case.expected_potentials - w.potentials
        if not np.allclose(diff, diff.mean(), rtol=0, atol=rtol * max(1.0, float(np.abs(w.potentials).max()))):
            _fail(case, "expected potentials differ from the witness by more than a constant")



# =============================================================================== checking an answer
@dataclass(frozen=True, kw_only=True)
class ConformanceConfig(Tolerances):
    """How ``run_conformance`` solves and compares: the ``Tolerances``, and which cases run how.

    ``ConformanceConfig.declared(backend.conformance)`` is the configuration a backend declares.
    Every field is keyword-only.

    Attributes
    ----------
    claims : {"optimal", "feasible"}, default "optimal"
        ``"optimal"`` (exact and iterative solvers: judged against the known optimum) or
        ``"feasible"`` (heuristics: a feasible point no better than the optimum); another value
        raises ``ValueError``.
    exclude_tags : frozenset of str, default empty
        Cases with any of these tags are outside what the method solves (e.g. ``{"linear"}`` for
        a method that needs strictly convex arc costs) and are skipped.
    optimal_statuses : tuple of Status, default (Status.OPTIMAL,)
        Statuses accepted where the answer is optimal (an iterative backend says CONVERGED).
    rtol, atol : float, default 1e-6 and 1e-7
        Objective tolerance, ``|f - f*| <= atol + rtol * max(1, |f*|)``; also for the dual value
        q(psi) of eq. (4).
    point_rtol, point_atol : float, default 1e-5 and 1e-6
        Tolerance on flows, potentials (up to a constant) and cell masses, relative to the largest
        expected magnitude (at least 1).
    feas_tol : float, default 1e-6
        Largest primal residual of a returned point (``primal_residual``), relative to the mass
        scale.
    price_tol : float, default 1e-7
        Round-off forgiven on linear arcs with an infinite bound in q(psi), relative to the
        largest linear cost (see ``dual_value``).
    check_potentials, check_dual : bool, default True
        Whether to compare potentials and q(psi) (off for a backend that returns no duals).
    options : dict, default {}
        Passed to ``otmodel.solve`` (``tol``, ``max_iter``, ...).
    allow_unsupported : bool, default True
        A case the backend declares unsupported is skipped (True) or failed (False).
    cases : sequence of ConformanceCase, optional
        The cases to run (default: ``cases()``).
    names : sequence of str, optional
        Run only the cases of these names.
    kinds : frozenset of str, optional
        Run only cases of these catalogue kinds (default: all).
    skip : dict of str to str, default {}
        Case name -> why it is not run (reported as a skipped row with that reason).
    """

    options: dict[str, Any] = field(default_factory=dict)
    allow_unsupported: bool = True
    cases: Sequence[ConformanceCase] | None = None
    names: Sequence[str] | None = None
    kinds: frozenset[str] | None = None
    skip: dict[str, str] = field(default_factory=dict)

    @classmethod
    def declared(cls, declaration: Conformance, **overrides: Any) -> ConformanceConfig:
        """The configuration of a backend's own ``Conformance`` declaration (``overrides`` replace fields)."""
        d = declaration
        cfg = cls(
            **{f.name: getattr(d, f.name) for f in fields(Tolerances)},
            options=dict(d.options),
            allow_unsupported=d.allow_unsupported,
            kinds=frozenset(d.kinds),
            skip=dict(d.skip),
        )
        return replace(cfg, **overrides)


def _check_optimal(case: ConformanceCase, sol: Solution, cfg: ConformanceConfig) -> list[str]:
    p = case.problem
    errs: list[str] = []
    obj = float(sol.objective)
    if not close(obj, case.expected_objective, cfg.rtol, cfg.atol):
        errs.append(f"objective {obj:.10g} != {case.expected_objective:.10g}")
    flows = np.asarray(sol.flows, dtype=float).reshape(-1)
    if flows.shape != (p.n_arcs,) or not np.all(np.isfinite(flows)):
        errs.append("no finite flows returned")
        return errs
    plan = sol.assignment
    res = primal_residual(p, flows, plan)
    if not res <= cfg.feas_tol:
        errs.append(f"returned point infeasible (relative residual {res:.3g})")
    point_obj = p.objective(flows, plan) if plan is not None or p.kind != "spatial" else math.nan
    if not close(obj, point_obj, cfg.rtol, cfg.atol):
        errs.append(f"reported objective {obj:.10g} != objective of the returned point {point_obj:.10g}")

    def compare(name: str, got: NDArray[np.float64] | None, want: NDArray[np.float64], shift: bool = False) -> None:
        if got is None:
            errs.append(f"no {name} returned")
            return
        g = np.asarray(got, dtype=float).reshape(-1)
        if g.shape != want.shape or not np.all(np.isfinite(g)):
            errs.append(f"{name}: shape {g.shape} or non-finite values")
            return
        d = g - want
        ref = want
        if shift:
            d = d - d.mean()
            ref = want - want.mean()
        err = float(np.abs(d).max(initial=0.0))
        bound = cfg.point_atol + cfg.point_rtol * max(1.0, float(np.abs(ref).max(initial=0.0)))
        if err > bound:
            errs.append(f"{name} off by {err:.3g} (allowed {bound:.3g})")

    if case.expected_flows is not None:
        compare("flows", flows, case.expected_flows)
    if case.expected_cell_mass is not None:
        cm = sol.cell_mass
        if cm is None and plan is not None:
            cm = np.asarray(sp.csr_matrix(plan).sum(axis=0)).reshape(-1)
        compare("cell masses", cm, case.expected_cell_mass)
    psi = np.asarray(sol.potentials, dtype=float).reshape(-1)
    if cfg.check_potentials and case.expected_potentials is not None:
        compare("potentials (up to a constant)", psi, case.expected_potentials, shift=True)
    if cfg.check_dual:
        if psi.shape != (p.n_nodes,) or not np.all(np.isfinite(psi)):
            errs.append("no finite potentials returned for the dual check")
        else:
            ptol = cfg.price_tol * max(1.0, float(np.abs(p.costs.b).max(initial=0.0)))
            q = dual_value(p, psi, price_tol=ptol)
            if not close(q, case.expected_objective, cfg.rtol, cfg.atol):
                errs.append(f"q(potentials) = {q:.10g} != optimum {case.expected_objective:.10g} (eq. (4))")
    return errs


def check_answer(case: ConformanceCase, answer: Any, cfg: ConformanceConfig) -> list[str]:
    """What is wrong with ``answer`` (a backend's result for ``case.problem``); empty when nothing is.

    Dispatches to the case kind's own ``check_answer`` when it has one; flow, spatial and graph
    cases are checked here (module docstring). Under ``cfg.claims == "feasible"`` an OPTIMAL case
    only asks for a status among ``cfg.optimal_statuses`` and a feasible point whose reported
    objective is its own and is no better than the optimum.
    """
    own = getattr(kind_module(case.kind), "check_answer", None)
    if own is not None:
        return list(own(case, answer, cfg))
    if not isinstance(answer, Solution):
        return [f"the answer is a {type(answer).__name__}, not a Solution"]
    if cfg.claims == "feasible" and case.expected_status is Status.OPTIMAL:
        return _check_feasible(case, answer, cfg)
    return _check_flow_answer(case, answer, cfg)


def _check_feasible(case: ConformanceCase, sol: Solution, cfg: ConformanceConfig) -> list[str]:
    p = case.problem
    flows = np.asarray(sol.flows, dtype=float).reshape(-1)
    if flows.shape != (p.n_arcs,) or not np.all(np.isfinite(flows)):
        return ["no finite flows returned"]
    errs: list[str] = []
    if sol.status not in cfg.optimal_statuses:  # a heuristic does not say OPTIMAL on its own say-so
        errs.append(f"status {sol.status.value}, expected {'/'.join(s.value for s in cfg.optimal_statuses)}")
    res = primal_residual(p, flows, sol.assignment)
    if not res <= cfg.feas_tol:
        errs.append(f"returned point infeasible (relative residual {res:.3g})")
    point_obj = p.objective(flows, sol.assignment) if sol.assignment is not None or p.kind != "spatial" else math.nan
    if not close(float(sol.objective), point_obj, cfg.rtol, cfg.atol):
        errs.append(f"reported objective {float(sol.objective):.10g} != objective of the returned point {point_obj:.10g}")
    if point_obj < case.expected_objective - cfg.atol - cfg.rtol * max(1.0, abs(case.expected_objective)):
        errs.append(f"objective {point_obj:.10g} below the proven optimum {case.expected_objective:.10g}")
    return errs


def _check_flow_answer(case: ConformanceCase, sol: Solution, cfg: ConformanceConfig) -> list[str]:
    want = case.expected_status
    if want is Status.OPTIMAL:
        if sol.status not in cfg.optimal_statuses:
            return [f"status {sol.status.value}, expected {'/'.join(s.value for s in cfg.optimal_statuses)}"]
        return _check_optimal(case, sol, cfg)
    if sol.status is not want:
        return [f"status {sol.status.value}, expected {want.value}"]
    cert = sol.certificate
    if want is Status.INFEASIBLE:
        if not isinstance(cert, InfeasibilityCertificate):
            return ["no infeasibility certificate"]
        if not verify_infeasibility_certificate(case.problem, cert):
            return [f"infeasibility certificate does not verify ({cert.describe()})"]
    else:
        if not isinstance(cert, UnboundedCertificate):
            return ["no unbounded-cycle certificate"]
        if not verify_unbounded_certificate(case.problem, cert):
            return [f"unbounded certificate does not verify ({cert.describe()})"]
    return []




# =============================================================================== the catalogue
def register_kind(kind: str, module: str) -> None:
    """Add (or replace) a catalogue kind: ``module`` defines ``cases()`` and, when its answers are
    not flow ``Solution``s, ``check_case`` and ``check_answer`` (module docstring)."""
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown case kind {kind!r}; the kinds backends declare are {', '.join(CASE_KINDS)}")
    CATALOGUE[kind] = module


def kind_module(kind: str) -> ModuleType:
    """The module of catalogue kind ``kind``."""
    if kind not in CATALOGUE:
        raise ValueError(f"no conformance cases of kind {kind!r}; catalogue: {', '.join(CATALOGUE)}")
    return importlib.import_module(CATALOGUE[kind])


def cases(kinds: Iterable[str] | None = None) -> list[ConformanceCase]:
    """The conformance cases of ``kinds`` (default: every kind in ``CATALOGUE``), built fresh.

    Deterministic (planted cases use fixed seeds). Each case is checked on construction
    (``check_case``): the witness is feasible, its objective equals the expected objective and the
    dual function q of eq. (4) at its potentials equals it too; stated flows, potentials and cell
    masses are unique; certificates of infeasible and unbounded cases verify.

    Parameters
    ----------
    kinds : iterable of str, optional
        Catalogue kinds (``"flow"``, ``"spatial"``, ``"graph"``, ``"relocation"``,
        ``"attraction-step"``); ``None`` means all. An unknown kind raises ``ValueError`` listing
        the catalogue.

    Returns
    -------
    list of ConformanceCase
        In catalogue order.
    """
    asked = set(CATALOGUE) if kinds is None else set(kinds)
    wanted = [k for k in CATALOGUE if k in asked] + sorted(asked - set(CATALOGUE))  # catalogue order
    out: list[ConformanceCase] = []
    for kind in wanted:
        built = kind_module(kind).cases()
        wrong = [c.name for c in built if c.kind != kind]
        if wrong:
            raise AssertionError(f"cases {wrong} of module {CATALOGUE[kind]} are not of kind {kind!r}")
        out.extend(built)
    return out


def select(predicate: Callable[[ConformanceCase], bool], kinds: Iterable[str] | None = None) -> list[ConformanceCase]:
    """The cases satisfying ``predicate`` (e.g. ``lambda c: "quadratic" in c.tags``)."""
    return [c for c in cases(kinds) if predicate(c)]
