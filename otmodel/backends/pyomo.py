r"""The ``pyomo`` backend: the problem as a Pyomo model, solved by HiGHS through Pyomo.

``to_pyomo`` turns a problem into a ``PyomoModel``: a Pyomo ``ConcreteModel`` with
named, indexed components that users can extend with their own constraints before calling
``PyomoModel.solve``. The model is the scaled standard form of
``otmodel.backends._standard`` (masses times ``kappa``, costs divided by ``sigma``):

``flow[a]``
    scaled flow ``kappa * p_a`` on arc ``a`` (arc index), bounds ``kappa * [l_a, u_a]`` (2d).
``plan[j]``
    scaled plan entry ``kappa * pi_ki >= 0`` of pair ``j`` = (point ``k``, endpoint ``i``), see
    ``PyomoModel.pairs``; only pairs with a finite assignment cost exist.
``conservation[v]``
    flow conservation (2b) at node ``v`` (node index). One redundant row per connected component
    is left out (``redundant_rows``); its potential is 0.
``marginal[k]``
    ``sum_i plan[k, i] == kappa * mu_k`` (2c) for each demand point ``k`` with positive mass.
``cost``
    ``kappa / sigma`` times the objective (2a); quadratic when arcs have quadratic costs, so that
    the model handed to any QP solver is the exact problem.
``loss[a]``, ``loss_cuts``, ``cost_outer``
    quadratic arcs only: epigraph variables, their tangent cuts and the linear objective that
    ``PyomoModel.solve`` optimizes in place of ``cost`` (``cost_outer`` is inactive otherwise).
``dual``
    ``Suffix(direction=IMPORT)``: the duals of every constraint after ``PyomoModel.solve``.

Problem units are exposed by ``PyomoModel.flows``, ``PyomoModel.plan``,
``PyomoModel.potentials`` and ``PyomoModel.arc_flow``, the flow on an arc in problem units
as a Pyomo expression, for writing constraints::

    pm = problem.to_pyomo()
    pm.model.cap = pyomo.environ.Constraint(expr=pm.arc_flow("S1", "I1") <= 0.2)
    solution = pm.solve()

A solver's infeasibility claim on a model with added constraints cannot be certified from the
problem's data (DESIGN.md, Numerics): it is reported as NUMERICAL_ERROR, with a message that names
the added constraints.

Building fast
-------------
Measured on ``synthetic(200)`` (160,000 plan variables, 40,000 rows), against a plain
per-element model (a ``Var`` over (point, endpoint), a ``Constraint`` rule per point summing over
endpoints, one per node): build 0.36 s against 2.3 s.

* The rows come from the CSR matrix of the standard form: one ``LinearExpression`` per row whose
  arguments are the variables themselves where the coefficient is 1 (every entry but the arc
  heads' -1), gathered at C speed, handed to ``Constraint`` as one dictionary; no Python-level
  summation.
* The cyclic garbage collector is paused while building (Pyomo's ``PauseGC``, as its own writers
  do): the build creates ~10 objects per variable, none of them garbage, and the collector's passes
  over them cost more than the build itself (0.97 s with it, 0.37 s without).
* Pyomo's ``MatrixConstraint`` (``pyomo.core.base.matrix_constraint``) would be cheaper still but
  does not work with Pyomo 6.10's solver interfaces: its ``values()`` has the wrong signature and
  its rows have no ``expr``, which the persistent interfaces read.

Most of the remaining time is Pyomo's HiGHS interface (``pyomo.contrib.solver``'s persistent
``highs``), which walks every constraint expression in Python (about 2 s at 200 x 200, where HiGHS
itself takes 1.4 s on the LP). It also adds the variables of a model constraint by constraint, one
``addVars`` and one ``changeColsIntegrality`` call to HiGHS per constraint: 6.6 s of a 7.7 s load
at 200 x 200. ``_solver_class`` adds them all in one call first.

Solving
-------
Linear problems are solved in one HiGHS run (default: interior point with crossover, as the
``highs`` backend). Quadratic arc costs are handled as in the ``highs`` backend, by outer
approximation (``otmodel.backends._outer``): ``loss[a] >= q_a flow[a]**2`` is enforced by tangent
cuts added to ``loss_cuts`` at the current flows and re-solved by the warm-started dual simplex of
the same persistent HiGHS instance until the certified gap ``sum_a (q_a flow_a**2 - loss_a)`` is
below ``tol`` relative to the objective; the cuts go to HiGHS directly and only the quadratic arcs'
values come back between rounds. An exact active-set polish (``polish_qp``)
then makes flows and potentials exact, unless the user changed the model (it knows the problem's
constraints only).

Options
-------
method : {"ipm", "simplex", "pdlp"}
    HiGHS method of the (first) LP solve; default "ipm" (with crossover).
tol : float
    Relative gap of the outer approximation for quadratic costs (default 1e-9).
max_rounds : int
    Limit on cutting-plane rounds (default 200).
time_limit : float
    Seconds for the whole solve; each HiGHS run gets what remains of it (default: none).
verbose : bool
    Print HiGHS's log.

Verification
------------
Every point HiGHS calls optimal is verified node by node before it is reported OPTIMAL:
``PyomoBackend.solve`` tries the scaled model, then the unscaled one, then (linear flow
problems) a HiGHS simplex vertex and an exact network-flow solve
(``solve_checked``); ``PyomoModel.solve``, on a model a user
may have changed, reports a point that fails as NUMERICAL_ERROR. The failing node is named in
``info["failing_node"]``; ``info["check"]`` holds the verdict.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import threading
import time
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._checked import checked_solution, solve_checked
from otmodel.backends._outer import HighsOptions, answer, cutting_planes, finish, initial_cut_points, tangent
from otmodel.backends._standard import StandardForm, build_standard_form, choose_scales, redundant_rows
from otmodel.backends.base import Conformance, flag_unverified, no_point_solution
from otmodel.errors import UnsupportedError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["PyomoBackend", "PyomoModel", "to_pyomo"]

#: Tangent points per quadratic arc before the first solve (as the ``highs`` backend).
_INITIAL_CUTS = 17


# ------------------------------------------------------------------------------------ solver
@cache
def _solver_class() -> type:
    """Pyomo's persistent HiGHS interface, loading a model's variables in one call.

    ``add_block`` (called by ``set_instance``) adds constraints one by one and, with each, the
    variables it meets first: one ``addVars`` and one ``changeColsIntegrality`` call to HiGHS per
    constraint (measured at 200 x 200: 40,006 calls, 6.6 s). Adding every variable of the block
    first, through the public ``add_variables``, leaves nothing to add later, and the
    per-constraint calls with nothing to add are skipped.
    """
    import pyomo.environ as pyo
    from pyomo.contrib.solver.solvers.highs import Highs

    class _Highs(Highs):  # type: ignore[misc]
        def _add_variables(self, variables: list[Any]) -> None:
            # called once per added constraint, mostly with nothing to add: skip the two HiGHS calls
            if variables:
                super()._add_variables(variables)

        def add_block(self, block: Any) -> None:
            seen = self._vars
            new = [v for v in block.component_data_objects(pyo.Var, descend_into=True) if id(v) not in seen]
            if new:
                self.add_variables(new)
            super().add_block(block)

    return _Highs


# HiGHS options of the first run (HiGHS's defaults) and of the cutting-plane re-solves: the dual
# simplex warm-started from the previous basis (presolve would discard it), with tighter
# tolerances since the epigraph variables may undercut their cuts by the feasibility tolerance,
# which would stall the gap (as in the ``highs`` backend).
_FIRST_RUN = {"presolve": "choose", "primal_feasibility_tolerance": 1e-7, "dual_feasibility_tolerance": 1e-7}
_RE_SOLVE = {
    "solver": "simplex",
    "presolve": "off",
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
}

# No model changes to look for: the cutting-plane loop adds its cuts to the solver itself.
_NO_UPDATES = {
    "check_for_new_or_removed_constraints": False,
    "check_for_new_or_removed_vars": False,
    "check_for_new_or_removed_params": False,
    "check_for_new_objective": False,
    "update_constraints": False,
    "update_vars": False,
    "update_parameters": False,
    "update_named_expressions": False,
    "update_objective": False,
}


def _status_table() -> dict[Any, Status | str]:
    """Pyomo termination condition -> Status, or the claim ``classify_failure`` must verify."""
    from pyomo.contrib.solver.common.results import TerminationCondition as T

    return {
        T.convergenceCriteriaSatisfied: Status.OPTIMAL,
        T.maxTimeLimit: Status.TIME_LIMIT,
        T.iterationLimit: Status.ITERATION_LIMIT,
        T.provenInfeasible: "infeasible",
        T.locallyInfeasible: "infeasible",
        T.unbounded: "unbounded",
        T.infeasibleOrUnbounded: "infeasible_or_unbounded",
        T.minStepLength: Status.NUMERICAL_ERROR,
        T.error: Status.NUMERICAL_ERROR,
        T.licensingProblems: Status.NUMERICAL_ERROR,
        T.objectiveLimit: Status.UNKNOWN,  # no objective limit is ever set
        T.interrupted: Status.UNKNOWN,
        T.emptyModel: Status.UNKNOWN,
        T.unknown: Status.UNKNOWN,
    }


def _anchor(sf: StandardForm, y: NDArray[np.float64], dropped: NDArray[np.intp]) -> NDArray[np.float64]:
    """Shift node duals by a constant per connected component so that each left-out row reads 0.

    Potentials are defined up to one constant per component; the model has no row (hence no dual)
    for the rows left out, so this makes ``y`` agree with the ``dual`` suffix of the model.
    """
    if dropped.size == 0:
        return y
    from scipy.sparse.csgraph import connected_components

    nr, nv = sf.A.shape
    coo = sf.A.tocoo()
    g = sp.csr_matrix((np.ones(coo.nnz), (coo.row, nr + coo.col)), shape=(nr + nv, nr + nv))
    labels = connected_components(g, directed=False)[1][: sf.n_node_rows]
    shift = np.zeros(int(labels.max()) + 1)
    shift[labels[dropped]] = y[dropped]
    return y - shift[labels]


# ------------------------------------------------------------------------------------ model
def to_pyomo(problem: FlowProblem, scale: bool = True) -> PyomoModel:
    """``problem`` as a ``PyomoModel`` (see the module docstring for its components).

    ``scale=False`` builds the model in problem units (``kappa = sigma = 1``).
    """
    if not isinstance(problem, FlowProblem):
        raise UnsupportedError(f"to_pyomo expects an otmodel problem, got {type(problem).__name__}")
    from pyomo.common.gc_manager import PauseGC

    t0 = time.perf_counter()
    sf = build_standard_form(problem, scale=scale)
    drop = redundant_rows(sf)
    # Building creates ~10 objects per variable, none of them garbage: the cyclic garbage
    # collector's passes over them cost more than the build itself (measured at 200 x 200:
    # 0.97 s with it, 0.37 s without). Pyomo's own writers pause it the same way.
    with PYOMO_LOCK, PauseGC():  # PauseGC switches the process-wide collector (see PYOMO_LOCK)
        model = _build_model(sf, drop)
    return PyomoModel(problem, sf, drop, model, time.perf_counter() - t0)


#: Serializes everything otmodel does in Pyomo, across threads. Pyomo is not thread-safe where
#: otmodel uses it: its solver interfaces capture output by swapping ``sys.stdout``/``sys.stderr``
#: and file descriptors 1 and 2 process-wide (``capture_output``), and ``PauseGC`` switches the
#: garbage collector for the whole process. Four threads solving at once deadlocked, or lost
#: stdout with "Deadlock closing capture_output" (issue 10, T2); under this lock they solve one
#: at a time and give the answers a lone thread gives (tests/test_threads.py). Re-entrant, so a
#: user's code holding it can call ``PyomoModel.solve``.
PYOMO_LOCK = threading.RLock()


def _bound(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _gather(items: list[Any], idx: NDArray[np.intp]) -> list[Any]:
    """``[items[i] for i in idx]`` at C speed."""
    if idx.size == 0:
        return []
    if idx.size == 1:
        return [items[int(idx[0])]]
    return list(operator.itemgetter(*idx.tolist())(items))


def _build_model(sf: StandardForm, drop: NDArray[np.intp]) -> Any:
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
    from pyomo.core.expr.relational_expr import EqualityExpression

    p = sf.problem
    nf, npair, nn = sf.n_flows, sf.n_pairs, sf.n_node_rows
    m = pyo.ConcreteModel(name=p.name or type(p).__name__)
    lo = [_bound(v) for v in sf.lb[:nf]]
    hi = [_bound(v) for v in sf.ub[:nf]]
    m.flow = pyo.Var(range(nf), bounds=lambda _m, a: (lo[a], hi[a]))
    m.plan = pyo.Var(range(npair), bounds=(0.0, None))
    xs = list(m.flow.values()) + list(m.plan.values())

    # One term per nonzero of A: the variable itself for a coefficient 1 (gathered in C by
    # itemgetter), a monomial for the few others (the -1 of arc heads).
    A = sf.A.tocsr()
    A.sort_indices()
    terms = _gather(xs, A.indices)
    for e in np.flatnonzero(A.data != 1.0).tolist():
        terms[e] = MonomialTermExpression((float(A.data[e]), terms[e]))
    ptr = A.indptr.tolist()
    rhs = sf.rhs.tolist()

    def row(r: int) -> Any:
        return EqualityExpression((LinearExpression(args=terms[ptr[r] : ptr[r + 1]]), rhs[r]))

    keep = np.ones(nn, dtype=bool)
    keep[drop] = False
    nodes = np.flatnonzero(keep).tolist()
    m.conservation = pyo.Constraint(nodes, rule={v: row(v) for v in nodes})
    points = np.flatnonzero(p.demand.mass > 0).tolist() if isinstance(p, SpatialFlowProblem) else []
    m.marginal = pyo.Constraint(points, rule={k: row(nn + r) for r, k in enumerate(points)})

    nz = np.flatnonzero(sf.c)
    linear = list(map(MonomialTermExpression, zip(sf.c[nz].tolist(), _gather(xs, nz), strict=True)))
    quad = sf.quadratic_arcs
    if quad.size == 0:
        m.cost = pyo.Objective(expr=LinearExpression(args=linear))
    else:
        q = sf.qdiag[quad].tolist()
        arcs = quad.tolist()
        m.cost = pyo.Objective(
            expr=LinearExpression(args=list(linear)) + sum(qa * m.flow[a] ** 2 for qa, a in zip(q, arcs, strict=True))
        )
        # Outer approximation of the quadratic terms (see otmodel.backends._outer).
        m.loss = pyo.Var(arcs, bounds=(0.0, None))
        m.loss_cuts = pyo.ConstraintList()
        m.cost_outer = pyo.Objective(expr=LinearExpression(args=linear + [m.loss[a] for a in arcs]))
        m.cost_outer.deactivate()
        scale = float(np.abs(sf.rhs).sum()) or 1.0
        pts = initial_cut_points(sf.lb[quad], sf.ub[quad], scale, k=_INITIAL_CUTS)
        for k in range(pts.shape[1]):
            _add_cuts(m, sf, quad, np.arange(quad.size), pts[:, k])
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def _add_cuts(
    m: Any, sf: StandardForm, quad: NDArray[np.intp], sel: NDArray[np.intp], p0: NDArray[np.float64]
) -> list[Any]:
    """Add ``loss[a] - slope * flow[a] >= intercept`` for the selected quadratic arcs; return them."""
    from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

    slope, icpt = tangent(sf.qdiag[quad[sel]], p0)
    new = []
    for a, s, b in zip(quad[sel].tolist(), slope.tolist(), icpt.tolist(), strict=True):
        body = LinearExpression(args=[m.loss[a], MonomialTermExpression((-s, m.flow[a]))])
        new.append(m.loss_cuts.add((b, body, None)))
    return new


class PyomoModel:
    """A problem as a Pyomo ``ConcreteModel`` (``.model``), with accessors in problem units.

    Build it with ``to_pyomo`` (or ``problem.to_pyomo()``). Add constraints to ``.model``
    (scaled units: see ``arc_flow`` and ``kappa``), then call ``solve``. Repeated
    solves reuse one persistent HiGHS instance, which picks up the changes to the model.
    """

    def __init__(
        self, problem: FlowProblem, sf: StandardForm, dropped: NDArray[np.intp], model: Any, build_time: float
    ) -> None:
        self.problem = problem
        self.standard_form = sf
        self.dropped_rows = dropped
        self.model = model
        self.build_time = build_time
        self._vars = list(model.flow.values()) + list(model.plan.values())
        self._solver: Any = None

    # ------------------------------------------------------------------ units
    @property
    def kappa(self) -> float:
        """Mass scale: a flow or plan value ``f`` in problem units is ``kappa * f`` in the model."""
        return self.standard_form.kappa

    @property
    def sigma(self) -> float:
        """Cost scale: the model's objective is ``kappa / sigma`` times the problem's."""
        return self.standard_form.sigma

    @property
    def pairs(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """``(point, endpoint column)`` of each ``plan`` variable."""
        return self.standard_form.pair_point, self.standard_form.pair_end

    def arc_flow(self, tail: str, head: str) -> Any:
        """The flow on arc ``tail -> head`` in problem units, as a Pyomo expression (a two-way arc
        charged ``b |p|`` is its forward column minus its backward one: ``StandardForm``)."""
        k = self.problem.arc_index(tail, head)
        sf = self.standard_form
        hit = np.flatnonzero(sf.back_arcs == k)
        if hit.size:
            return (self.model.flow[k] - self.model.flow[self.problem.n_arcs + int(hit[0])]) * (1.0 / self.kappa)
        return self.model.flow[k] * (1.0 / self.kappa)

    def _x(self) -> NDArray[np.float64]:
        return np.array([np.nan if v.value is None else v.value for v in self._vars], dtype=float)

    @property
    def flows(self) -> NDArray[np.float64]:
        """Current values of ``flow`` in problem units (NaN before a solve)."""
        return self.standard_form.fold_flows(self._x()) / self.kappa

    @property
    def plan(self) -> sp.csr_matrix | None:
        """Current transport plan ``pi`` in problem units, ``(N, |S|)`` (None for a flow problem)."""
        p = self.problem
        if not isinstance(p, SpatialFlowProblem):
            return None
        vals = self._x()[self.standard_form.n_flows :] / self.kappa
        point, end = self.pairs
        return sp.csr_matrix((vals, (point, end)), shape=(p.n_points, p.n_endpoints))

    @property
    def potentials(self) -> NDArray[np.float64]:
        """Node potentials psi (Laurentin et al., eq. (3)-(4)) from the ``dual`` suffix (NaN if absent)."""
        y = np.zeros(self.problem.n_nodes)
        dual = self.model.dual
        for v, con in self.model.conservation.items():
            y[v] = dual.get(con, np.nan)
        return y * self.sigma

    def _set_point(self, old: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
        """Write a polished point into the model's variables and the conservation rows' duals."""
        for j in np.flatnonzero(x != old).tolist():
            self._vars[j].set_value(float(x[j]), skip_validation=True)
        dual = self.model.dual
        for v, con in self.model.conservation.items():
            dual[con] = float(y[v])

    def user_constraints(self) -> list[str]:
        """Names of the active constraint components added to the model after ``to_pyomo``."""
        import pyomo.environ as pyo

        own = {"conservation", "marginal", "loss_cuts"}
        return [c.name for c in self.model.component_objects(pyo.Constraint, active=True) if c.name not in own]

    def is_modified(self) -> bool:
        """True when the model has constraints, bounds or fixed values that the problem does not."""
        if self.user_constraints():
            return True
        sf = self.standard_form
        lo = [_bound(b) for b in sf.lb.tolist()]
        hi = [_bound(b) for b in sf.ub.tolist()]
        return any(v.fixed or v.lb != a or v.ub != b for v, a, b in zip(self._vars, lo, hi, strict=True))

    # ------------------------------------------------------------------ solving
    def solve(self, **options: Any) -> Solution:
        """Solve the model (with any constraints added to it) by HiGHS through Pyomo.

        Options as ``PyomoBackend``. The returned ``Solution`` is in
        problem units; its objective is that of the problem (2a) at the returned point. A point
        HiGHS calls optimal is verified node by node
        (``check_point``); one that fails is returned as
        NUMERICAL_ERROR with the node named in ``info["failing_node"]`` (the backend's
        ``PyomoBackend.solve`` falls back instead).
        """
        sol, verdict = checked_solution(self._solve(**options), model_changed=self.is_modified())
        return flag_unverified(sol, verdict)

    def _solve(self, **options: Any) -> Solution:
        opts = HighsOptions.parse(PyomoBackend.name, options)
        with PYOMO_LOCK:  # one Pyomo solve at a time in the process (see PYOMO_LOCK)
            return self._solve_locked(opts)

    def _solve_locked(self, opts: HighsOptions) -> Solution:
        import pyomo
        import pyomo.environ as pyo  # noqa: F401  (registers Pyomo's components)
        from pyomo.common.gc_manager import PauseGC

        problem, sf, m = self.problem, self.standard_form, self.model
        t0 = time.perf_counter()
        if self._solver is None:
            self._solver = _solver_class()()
        solver = self._solver
        quad = sf.quadratic_arcs
        version = ".".join(str(v) for v in solver.version())
        solver_name = f"HiGHS {version} {opts.method} via Pyomo {pyomo.version.version}"
        table = _status_table()
        timing = {"load": 0.0, "highs": 0.0}
        iterations = 0
        oa = None

        def run(first: bool) -> Any:
            nonlocal iterations
            config: dict[str, Any] = {
                "load_solutions": False,
                "raise_exception_on_nonoptimal_result": False,
                "tee": opts.verbose,
                "solver_options": {"output_flag": opts.verbose},
            }
            # HiGHS keeps options between runs of the persistent instance: set them all each time
            if first:
                config["solver_options"].update(_FIRST_RUN | {"solver": opts.method})
            else:
                config["solver_options"].update(_RE_SOLVE)
                config["auto_updates"] = _NO_UPDATES
            if opts.time_limit is not None:
                config["time_limit"] = max(1e-3, opts.time_limit - (time.perf_counter() - t0))
            with PauseGC():  # loading the model into HiGHS creates many objects (see to_pyomo)
                res = solver.solve(m, **config)
            timer = res.timing_info.timer
            for key, name in (("load", "set_instance"), ("load", "update"), ("highs", "optimize")):
                if name in timer.timers:
                    timing[key] += timer.timers[name].total_time
            extra = res.extra_info
            iterations += int(getattr(extra, "simplex_iteration_count", 0) or 0)
            iterations += int(getattr(extra, "ipm_iteration_count", 0) or 0)
            return res

        if quad.size:
            m.cost.deactivate()
            m.cost_outer.activate()
        try:
            res = run(first=True)
            if quad.size:
                flow_q = [m.flow[a] for a in quad.tolist()]
                loss_q = [m.loss[a] for a in quad.tolist()]

                def point() -> tuple[Any, Any, float]:
                    vals = res.solution_loader.get_vars(flow_q + loss_q)
                    P = np.array([vals[v] for v in flow_q])
                    T = np.array([vals[v] for v in loss_q])
                    return P, T, float(res.incumbent_objective)

                def resolve() -> None:
                    nonlocal res
                    res = run(first=False)

                oa = cutting_planes(
                    sf.qdiag[quad],
                    opts.tol,
                    opts.max_rounds,
                    optimal=lambda: table.get(res.termination_condition, Status.UNKNOWN) is Status.OPTIMAL,
                    point=point,
                    add_cuts=lambda sel, p0: solver.add_constraints(_add_cuts(m, sf, quad, sel, p0)),
                    resolve=resolve,
                )
            status = table.get(res.termination_condition, Status.UNKNOWN)
        finally:
            if quad.size:
                m.cost_outer.deactivate()
                m.cost.activate()
        solve_time = time.perf_counter() - t0
        timings = {"build": self.build_time, "solve": solve_time, "total": self.build_time + solve_time}
        info: dict[str, Any] = {
            "dropped_rows": self.dropped_rows.tolist(),
            "kappa": sf.kappa,
            "sigma": sf.sigma,
            "interface": "pyomo.contrib.solver highs (persistent)",
            "pyomo_timings": dict(timing),
        }
        msg = str(res.termination_condition.name)

        if status is Status.OPTIMAL:
            t_load = time.perf_counter()
            with PauseGC():
                res.solution_loader.load_solution()  # all variables, and the `dual` suffix
            missing = [v for v in self._vars if v.value is None]
            if missing:
                res.solution_loader.load_vars(missing)
            x = self._x()
            duals = res.solution_loader.get_duals(list(m.conservation.values()))
            y = np.zeros(sf.n_node_rows)
            for v, con in m.conservation.items():
                y[v] = duals[con]
            # the polish knows the problem's constraints only, hence not on a model the user has changed
            x0 = x
            x, y, converged, oa_info = finish(sf, x, y, oa, opts.tol, polish=not self.is_modified())
            if oa_info.get("polished"):
                y = _anchor(sf, y, self.dropped_rows)
                self._set_point(x0, x, y)
            info.update(oa_info)
            out = sf.unscale(x, y)
            info["pyomo_timings"]["load_solution"] = time.perf_counter() - t_load
            timings["solve"] += info["pyomo_timings"]["load_solution"]
            timings["total"] += info["pyomo_timings"]["load_solution"]
            return answer(problem, out, converged, oa, msg, PyomoBackend.name, solver_name, timings, iterations, info)
        if isinstance(status, str) and not isinstance(status, Status):  # a claim, not a status (a str enum)
            from otmodel.certificates import classify_failure

            sol = classify_failure(problem, status, PyomoBackend.name, solver_name, timings, msg)
            sol.info.update(info)
            added = self.user_constraints()
            if added and sol.certificate is None:
                # certificates are found from the problem's data, which knows nothing of these
                note = f"; the model has constraints added to it ({', '.join(added)}), which certificates do not cover"
                sol = dataclasses.replace(sol, message=sol.message + note)
            return sol
        return no_point_solution(
            problem, status, PointStatus.NO_POINT, PyomoBackend.name, solver_name, timings, msg, info=info
        )


# ------------------------------------------------------------------------------------ backend
class PyomoBackend:
    """Exact backend: ``to_pyomo``, then HiGHS through Pyomo's persistent interface.

    Options (see the module docstring): ``method``, ``tol``, ``max_rounds``, ``time_limit``,
    ``verbose``; any other raises ``UnsupportedError``.
    """

    name = "pyomo"
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}))

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        try:
            import pyomo.contrib.solver.solvers.highs  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the installed Pyomo
            return f"Pyomo's HiGHS interface pyomo.contrib.solver.solvers.highs is not available: {exc}"
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        """Solve, verify node by node, fall back (``solve_checked``).

        Attempts: the scaled model, then the unscaled one, then the shared exact fallbacks.
        """
        HighsOptions.parse(self.name, options)  # reject bad options before building anything

        def attempt(scale: bool) -> Any:
            return lambda: to_pyomo(problem, scale=scale)._solve(**options)

        attempts = [("scaled", attempt(True))]
        if choose_scales(problem) != (1.0, 1.0):
            attempts.append(("unscaled", attempt(False)))
        return solve_checked(problem, attempts, self.name)
