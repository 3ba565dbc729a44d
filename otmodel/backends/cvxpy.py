r"""The ``cvxpy`` backend: vectorized cvxpy expressions, Clarabel by default.

The model is the scaled standard form of ``otmodel.backends._standard`` written as three
vectorized cvxpy expressions (no per-element Python)::

    minimize    c @ x + sum(qdiag * square(P))        x = [P, Pi]
    subject to  A_nodes @ x == s,  A_points @ x == mu,  lb <= x <= ub

Clarabel (an interior-point conic solver) is the default: on these QPs it is far faster than
HiGHS's active-set QP solver (measured: 0.3 s against more than 300 s at 100 x 100). HiGHS can be
selected with ``solver="HIGHS"`` (LPs and QPs). ``to_cvxpy`` hands the cvxpy problem to users
with named variables, so that they can add constraints of their own and then solve.

Options
-------
solver : str
    A cvxpy solver name (default "CLARABEL").
tol : float
    Relative accuracy asked of the solver (default 1e-9 for Clarabel's gap tolerances).
time_limit : float
verbose : bool
solver_options : dict
    Passed to ``cvxpy.Problem.solve``; a setting the solver does not take is an ``InvalidDataError``
    (for Clarabel an ``UnsupportedError`` listing its settings, checked before solving).

Any other option is refused with the list of these; ``tol`` and ``time_limit`` must be positive.

Verification
------------
Every point the solver calls optimal is verified node by node before it is reported OPTIMAL
(``solve_checked``): the chosen solver on the scaled model, then on
the unscaled one, then HiGHS through cvxpy, then (linear flow problems) a HiGHS simplex vertex and
an exact network-flow solve; NUMERICAL_ERROR, with the failing node in ``info["failing_node"]``,
when none passes. ``info["attempt"]`` says which answer was kept, ``info["check"]`` the verdict.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from otmodel.backends._checked import checked_solution, solve_checked
from otmodel.backends._outer import polish_qp
from otmodel.backends._standard import StandardForm, build_standard_form, choose_scales, redundant_rows
from otmodel.backends.base import Conformance, Timer, flag_unverified, no_point_solution
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.problems import FlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["CvxpyBackend", "CvxpyModel", "to_cvxpy"]


class CvxpyModel:
    """A problem compiled to cvxpy, with named variables in solver (scaled) units.

    Attributes
    ----------
    cvx : cvxpy.Problem
    P, Pi : cvxpy.Variable -- scaled flows ``P = kappa * flows`` and scaled plan entries (nonneg)
    flows : cvxpy.Expression -- arc flows in problem units (``x[:m] / kappa``)
    plan : cvxpy.Expression or None -- plan entries, one per (point, endpoint) pair with finite cost,
        in problem units; the pairs are ``pair_point``/``pair_end``
    conservation, marginal : the constraint objects (their ``dual_value`` after a solve)

    Add constraints with ``add_constraint`` (in problem units, e.g.
    ``m.add_constraint(m.flows[2] <= 0.3)``), then ``solve``.
    """

    def __init__(self, problem: FlowProblem, scale: bool = True) -> None:
        import cvxpy as cp

        self.problem = problem
        sf = build_standard_form(problem, scale=scale, point_mass=0.01)
        self.sf: StandardForm = sf
        drop = redundant_rows(sf)
        keep = np.ones(sf.n_rows, dtype=bool)
        keep[drop] = False
        self.keep = keep
        m = sf.n_flows
        # Two variables: the flows, with their bounds, and the plan entries as a nonneg variable
        # (a variable attribute is cheaper for cvxpy to canonicalize than explicit bound rows).
        self.P = cp.Variable(m, name="flows_scaled")
        self.Pi = cp.Variable(sf.n_pairs, nonneg=True, name="plan_scaled") if sf.n_pairs else None
        node_keep = np.flatnonzero(keep[: sf.n_node_rows])
        self.node_rows = node_keep
        A = sf.A.tocsc()
        AP, APi = A[:, :m].tocsr(), A[:, m:].tocsr()

        def lhs(rows: np.ndarray) -> Any:
            e = AP[rows] @ self.P
            if self.Pi is not None:
                e = e + APi[rows] @ self.Pi
            return e

        self.conservation = lhs(node_keep) == sf.rhs[node_keep]
        cons = [self.conservation]
        self.marginal = None
        if sf.n_rows > sf.n_node_rows:
            prow = np.arange(sf.n_node_rows, sf.n_rows)
            assert self.Pi is not None
            self.marginal = APi[prow] @ self.Pi == sf.rhs[prow]
            cons.append(self.marginal)
        lb, ub = sf.lb[:m], sf.ub[:m]
        fl = np.flatnonzero(np.isfinite(lb))
        fu = np.flatnonzero(np.isfinite(ub))
        if fl.size:
            cons.append(self.P[fl] >= lb[fl])
        if fu.size:
            cons.append(self.P[fu] <= ub[fu])
        obj = sf.c[:m] @ self.P
        if self.Pi is not None:
            obj = obj + sf.c[m:] @ self.Pi
        quad = sf.quadratic_arcs
        if quad.size:
            obj = obj + cp.sum(cp.multiply(sf.qdiag[quad], cp.square(self.P[quad])))
        self._base_constraints = cons
        self._user_constraints: list[Any] = []
        self._objective = cp.Minimize(obj)
        self.cvx = cp.Problem(self._objective, cons)
        if sf.back_arcs.size:
            # a two-way arc charged b|p| is its forward column minus its backward one (StandardForm)
            import scipy.sparse as sps

            na, nb = problem.n_arcs, sf.back_arcs.size
            fold = sps.hstack([sps.identity(na, format="csr"), sps.csr_matrix(
                (-np.ones(nb), (sf.back_arcs, np.arange(nb))), shape=(na, nb))]).tocsr()
            self.flows = (fold @ self.P) / sf.kappa
        else:
            self.flows = self.P / sf.kappa
        self.plan = self.Pi / sf.kappa if self.Pi is not None else None
        self.pair_point = sf.pair_point
        self.pair_end = sf.pair_end

    def add_constraint(self, constraint: Any) -> None:
        """Add a cvxpy constraint (written with ``flows``/``plan``, problem units)."""
        import cvxpy as cp

        self._user_constraints.append(constraint)
        self.cvx = cp.Problem(self._objective, self._base_constraints + self._user_constraints)

    def solve(self, **options: Any) -> Solution:
        """Solve and return an otmodel ``Solution``.

        A point the solver calls optimal is verified node by node
        (``check_point``, within ``CHECK_RTOL`` of each node's own
        supply and throughput); one that fails is returned as NUMERICAL_ERROR with the node named
        in ``info["failing_node"]`` (the backend's ``CvxpyBackend.solve`` falls back instead).
        """
        sol, verdict = checked_solution(
            CvxpyBackend()._solve_model(self, Timer(), **options), model_changed=bool(self._user_constraints)
        )
        return flag_unverified(sol, verdict)


def to_cvxpy(problem: FlowProblem) -> CvxpyModel:
    """Compile ``problem`` to a ``CvxpyModel`` (see its docstring)."""
    return CvxpyModel(problem)


_OPTIONS = ("solver", "tol", "time_limit", "verbose", "solver_options")


@functools.cache
def _installed_solvers() -> tuple[str, ...]:
    """cvxpy's installed solvers, asked once per process: ``cp.installed_solvers()`` probes every
    solver's import on each call (0.03 s; twice per solve, a quarter of a small repair's certify)."""
    import cvxpy as cp

    return tuple(cp.installed_solvers())


def _parse_options(options: dict[str, Any]) -> tuple[str, float, float | None, bool, dict[str, Any]]:
    """``(solver, tol, time_limit, verbose, solver_options)`` from ``options``, checked (module docstring).

    The one place where this backend reads its options. ``solver_options`` must be a mapping with
    string keys; for Clarabel its names are checked against Clarabel's settings here, for other
    solvers by the solver itself when it starts (a refusal becomes an ``InvalidDataError``).
    """
    from otmodel.backends import _options as check

    check.refuse_unknown("cvxpy", options, _OPTIONS)
    name = options.get("solver", "CLARABEL")
    if not isinstance(name, str) or not name:
        raise InvalidDataError(f"cvxpy backend: option solver={name!r}: expected a cvxpy solver name")
    solver = name.upper()
    tol = check.number("cvxpy", "tol", options.get("tol", 1e-9), 0.0, strict=True)
    limit = options.get("time_limit")
    time_limit = None if limit is None else check.number("cvxpy", "time_limit", limit, 0.0, strict=True, finite=False)
    verbose = check.flag("cvxpy", "verbose", options.get("verbose", False))
    raw = options.get("solver_options") or {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InvalidDataError(
            f"cvxpy backend: option solver_options: expected a mapping of setting names to values, "
            f"got {type(raw).__name__}"
        )
    extra = dict(raw)
    if solver == "CLARABEL" and extra:
        try:
            import clarabel

            known = {k for k in dir(clarabel.DefaultSettings()) if not k.startswith("_") and k != "default"}
        except ImportError:  # pragma: no cover - cvxpy's default solver is installed with it
            known = set()
        bad = sorted(set(extra) - known) if known else []
        if bad:
            raise UnsupportedError(
                f"cvxpy backend: solver_options {', '.join(repr(b) for b in bad)} not taken by CLARABEL; "
                f"its settings: {', '.join(sorted(known))}"
            )
    return solver, tol, time_limit, verbose, extra


# cvxpy status -> (Status, PointStatus)
_STATUS = {
    "optimal": (Status.OPTIMAL, PointStatus.FEASIBLE),
    "optimal_inaccurate": (Status.NUMERICAL_ERROR, PointStatus.NEARLY_FEASIBLE),
    "user_limit": (Status.ITERATION_LIMIT, PointStatus.NO_POINT),
}


class CvxpyBackend:
    name = "cvxpy"
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}))

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        """Solve, verify node by node, fall back (``solve_checked``).

        Attempts: the chosen solver on the scaled model, then on the unscaled one, then HiGHS
        through cvxpy (a simplex vertex, where an interior point's residuals are spread over
        nodes of very different sizes), then the shared exact fallbacks.
        """
        import cvxpy  # noqa: F401 -- a missing cvxpy fails here, before any attempt

        solver = str(options.get("solver", "CLARABEL")).upper()

        def attempt(scale: bool, opts: dict[str, Any]) -> Any:
            def run() -> Solution:
                if opts.get("solver") == "HIGHS":
                    from otmodel.backends.highs import new_highs

                    new_highs()  # HiGHS's banner, printed once per process, goes to the null device
                timer = Timer()
                with timer("build"):
                    model = CvxpyModel(problem, scale=scale)
                return self._solve_model(model, timer, **dict(opts))

            return run

        attempts = [(f"scaled, {solver}", attempt(True, options))]
        if choose_scales(problem) != (1.0, 1.0):
            attempts.append((f"unscaled, {solver}", attempt(False, options)))
        if solver != "HIGHS" and "HIGHS" in _installed_solvers():
            fallback = {k: v for k, v in options.items() if k in ("time_limit", "verbose")}
            attempts.append(("scaled, HIGHS", attempt(True, {**fallback, "solver": "HIGHS"})))
        return solve_checked(problem, attempts, self.name)

    def _solve_model(self, model: CvxpyModel, timer: Timer, **options: Any) -> Solution:
        import cvxpy as cp

        solver, tol, time_limit, verbose, extra = _parse_options(options)
        if solver not in _installed_solvers():
            raise UnsupportedError(
                f"cvxpy backend: solver {solver!r} is not installed; installed: {', '.join(_installed_solvers())}"
            )
        kw: dict[str, Any] = {}
        if solver == "CLARABEL":
            kw.update(tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, tol_ktratio=1e-7)
            if time_limit is not None:
                kw["time_limit"] = float(time_limit)
        elif solver == "HIGHS":
            if time_limit is not None:
                kw["time_limit"] = float(time_limit)
        kw.update(extra)
        problem = model.problem
        sf = model.sf
        try:
            with timer("solve"):
                model.cvx.solve(solver=solver, verbose=verbose, **kw)
        except cp.error.SolverError as exc:
            return no_point_solution(
                problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, self.name, solver, timer.done(), str(exc)
            )
        except (TypeError, ValueError) as exc:
            if not extra:
                raise
            # the solver's own check of what solver_options passed it (name or type of a setting)
            raise InvalidDataError(f"cvxpy backend: solver_options refused by {solver}: {exc}") from None
        timings = timer.done()
        st = model.cvx.status
        solver_name = f"cvxpy {cp.__version__} / {solver}"
        if st in ("optimal", "optimal_inaccurate") and model.P.value is not None:
            parts = [np.asarray(model.P.value, dtype=float).reshape(-1)]
            if model.Pi is not None:
                parts.append(np.asarray(model.Pi.value, dtype=float).reshape(-1))
            x = np.concatenate(parts)
            y = np.zeros(sf.n_node_rows)
            dual = model.conservation.dual_value
            if dual is not None:
                # cvxpy's equality duals enter its Lagrangian as f + y^T (A x - b): psi = -y
                y[model.node_rows] = -np.asarray(dual, dtype=float).reshape(-1)
            info: dict[str, Any] = {"kappa": sf.kappa, "sigma": sf.sigma, "user_constraints": len(model._user_constraints)}
            if st == "optimal" and sf.is_qp and not model._user_constraints:
                # interior-point answers are accurate to the solver's tolerance; an exact active-set
                # polish (accepted only if it shrinks the duality gap) makes them exact when it can
                with timer("polish"):
                    polished = polish_qp(sf, x, y)
                timings = timer.done()
                info["polished"] = polished is not None
                if polished is not None:
                    x, y = polished[0], polished[1]
            out = sf.unscale(x, y)
            status, point = _STATUS[st]
            return Solution(
                problem=problem,
                status=status,
                point_status=point,
                objective=float(out["objective"]),
                flows=out["flows"],
                potentials=out["potentials"],
                assignment=out.get("assignment"),
                cell_mass=out.get("cell_mass"),
                backend=self.name,
                solver=solver_name,
                timings=timings,
                iterations=int(getattr(model.cvx.solver_stats, "num_iters", 0) or 0),
                message=st,
                info=info,
            )
        if model._user_constraints:
            # a user constraint can make the problem infeasible in ways no network cut explains
            status = Status.INFEASIBLE if st.startswith("infeasible") else Status.UNBOUNDED if st.startswith("unbounded") else Status.UNKNOWN
            if status in (Status.INFEASIBLE, Status.UNBOUNDED):
                return no_point_solution(
                    problem, status, PointStatus.NO_POINT, self.name, solver_name, timings,
                    f"{st} (with user constraints: no network certificate applies)",
                )
        from otmodel.certificates import classify_failure

        if st.startswith("infeasible"):
            return classify_failure(problem, "infeasible", self.name, solver_name, timings, st)
        if st.startswith("unbounded"):
            return classify_failure(problem, "unbounded", self.name, solver_name, timings, st)
        return no_point_solution(
            problem, Status.UNKNOWN if st not in _STATUS else _STATUS[st][0], PointStatus.NO_POINT,
            self.name, solver_name, timings, st,
        )
