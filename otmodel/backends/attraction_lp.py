r"""The exact step of a Wasserstein attraction flow (`\gamma = 0`): an LP solved by HiGHS or cvxpy.

Problem 1 ((10a)-(10f), Arqué et al.) with the KL terms replaced by transport costs -- the exact
solver the paper compares with (CPLEX there):

.. math::

    \min_{\pi_1, \pi_2 \ge 0}\ \omega \langle C, \pi_1\rangle + (1-\omega)\langle C, \pi_2\rangle
    \quad\text{s.t.}\quad
    \pi_1\mathbf 1 = \rho_t,\ \pi_2 \mathbf 1 = \nu\ (10b),\quad
    \pi_1^\top\mathbf 1 - \pi_2^\top\mathbf 1 = 0\ (10c),\quad
    \pi_1 \le \tilde C\ (10d),\quad \pi_1^\top\mathbf 1 \le \bar\rho\ (10e),

with `\pi_1` defined only on the pairs allowed by the support rule (15) (so (10f) holds by
construction and forbidden pairs carry no variable, hence exactly zero mass) and `\pi_2` on
supp(nu) x (nodes that can receive mass). `p = \pi_1^\top\mathbf 1` is eliminated.

The matrices are built in one shot from sparse blocks (no loop over pairs). Following DESIGN.md
(Numerics), masses are multiplied by ``n`` and costs divided by their largest value before the
solve, and unscaled on the way back.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._options import check_common, choice, refuse_unknown
from otmodel.backends.base import Conformance
from otmodel.errors import UnsupportedError
from otmodel.model.attraction import AttractionStep
from otmodel.results import PointStatus, Status, StepResult

__all__ = ["AttractionLPBackend", "solve_step_lp", "step_lp_matrices", "StepLP"]


class StepLP:
    """The LP of one step in the form ``min c x, A_eq x = b_eq, A_ub x <= b_ub, 0 <= x <= ub`` (scaled)."""

    def __init__(self, step: AttractionStep) -> None:
        prob = step.problem
        n, C = prob.n_nodes, prob.cost
        rows1, cols1, cap = step.allowed()
        src, tgt, R = step.sources, step.targets, step.reachable()
        k, n1, m2 = R.size, rows1.size, tgt.size
        colpos = np.full(n, -1, dtype=np.intp)
        colpos[R] = np.arange(k)
        rowpos = np.full(n, -1, dtype=np.intp)
        rowpos[src] = np.arange(src.size)
        self.mass_scale = float(n)
        cmax = float(C.max())
        self.cost_scale = cmax if cmax > 0 else 1.0
        r2 = np.repeat(np.arange(m2), k)
        c2 = np.tile(np.arange(k), m2)
        n2 = m2 * k
        w = step.omega
        self.c = np.concatenate([w * C[rows1, cols1], (1 - w) * C[tgt[r2], R[c2]]]) / self.cost_scale
        one1, one2 = np.ones(n1), np.ones(n2)
        # (10b): rows of pi_1 (src.size rows), rows of pi_2 (m2 rows); (10c): k rows
        A1 = sp.csr_matrix((one1, (rowpos[rows1], np.arange(n1))), shape=(src.size, n1 + n2))
        A2 = sp.csr_matrix((one2, (r2, n1 + np.arange(n2))), shape=(m2, n1 + n2))
        A3 = sp.csr_matrix((np.r_[one1, -one2], (np.r_[colpos[cols1], c2], np.arange(n1 + n2))), shape=(k, n1 + n2))
        self.A_eq = sp.vstack([A1, A2, A3]).tocsc()
        self.b_eq = np.r_[step.rho[src], prob.nu[tgt], np.zeros(k)] * self.mass_scale
        # (10e): storage of the nodes that can receive mass
        st = prob.storage[R]
        fin = np.flatnonzero(np.isfinite(st))
        sel = np.isin(colpos[cols1], fin)
        posmap = np.full(k, -1, dtype=np.intp)
        posmap[fin] = np.arange(fin.size)
        self.A_ub = sp.csr_matrix(
            (one1[sel], (posmap[colpos[cols1][sel]], np.flatnonzero(sel))), shape=(fin.size, n1 + n2)
        ).tocsc()
        self.b_ub = st[fin] * self.mass_scale
        self.ub = np.r_[cap * self.mass_scale, np.full(n2, np.inf)]
        self.n1, self.n2 = n1, n2
        self.rows1, self.cols1, self.tgt, self.R = rows1, cols1, tgt, R
        self.r2, self.c2 = r2, c2
        self.n = n
        self.src, self.fin_storage = src, fin
        #: the LP's row duals once solved by HiGHS (rows: (10b) of pi_1, of pi_2, (10c), (10e))
        self.row_dual: NDArray[np.float64] | None = None

    def potentials(self, omega: float) -> dict[str, NDArray[np.float64]] | None:
        r"""The step's potentials from the row duals, in cost units and Dykstra's normalization.

        With `a, b, h, \lambda` the duals of (10b) (rows of `\pi_1`, `\pi_2`), (10c) and (10e),
        `F^1 = a/\omega`, `F^2 = b/(1-\omega)`, `G^1 = (h + \lambda)/\omega`,
        `G^2 = -h/(1-\omega)`: dual feasibility reads `F^1_j + G^1_i \le C_{ji}` (uncapped
        allowed pairs) and `F^2_k + G^2_i \le C_{ki}`, with equality where mass moves -- the
        `\gamma 	o 0` limit of Dykstra's `\pi = e^{(F + G - C)/\gamma}` -- and
        `\omega G^1 + (1-\omega) G^2 = \lambda \le 0`. None without duals or for `\omega \in \{0, 1\}`.
        """
        if self.row_dual is None or not 0.0 < omega < 1.0:
            return None
        y = self.row_dual * self.cost_scale  # the objective was divided by cost_scale; masses leave duals alone
        ns, m2, k = self.src.size, self.tgt.size, self.R.size
        a, b, h = y[:ns], y[ns : ns + m2], y[ns + m2 : ns + m2 + k]
        lam = np.zeros(k)
        lam[self.fin_storage] = y[ns + m2 + k :]
        pot = {key: np.zeros(self.n) for key in ("F1", "F2", "G1", "G2")}
        pot["F1"][self.src] = a / omega
        pot["F2"][self.tgt] = b / (1 - omega)
        pot["G1"][self.R] = (h + lam) / omega
        pot["G2"][self.R] = -h / (1 - omega)
        return pot

    def unpack(self, x: NDArray[np.float64]) -> tuple[sp.csr_matrix, sp.csr_matrix, NDArray[np.float64]]:
        x = np.maximum(np.asarray(x, float), 0.0) / self.mass_scale
        n = self.n
        P1 = sp.csr_matrix((x[: self.n1], (self.rows1, self.cols1)), shape=(n, n))
        P2 = sp.csr_matrix((x[self.n1 :], (self.tgt[self.r2], self.R[self.c2])), shape=(n, n))
        return P1, P2, np.asarray(P1.sum(axis=0)).reshape(-1)


def step_lp_matrices(step: AttractionStep) -> StepLP:
    """The scaled LP of ``step`` (for inspection and tests)."""
    return StepLP(step)


def _solve_highs(lp: StepLP, method: str, time_limit: float | None, verbose: bool) -> tuple[Any, str, str, int]:
    import highspy

    from otmodel.backends.highs import highs_lp, new_highs

    h = new_highs(bool(verbose))
    h.setOptionValue("solver", method)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    A = sp.vstack([lp.A_eq, lp.A_ub])
    row_lower = np.r_[lp.b_eq, np.full(lp.b_ub.size, -np.inf)]
    h.passModel(highs_lp(lp.c, A, np.zeros(A.shape[1]), lp.ub, row_lower, np.r_[lp.b_eq, lp.b_ub]))
    h.run()
    st = h.getModelStatus()
    S = highspy.HighsModelStatus
    info = h.getInfo()
    iters = int(info.simplex_iteration_count + info.ipm_iteration_count)
    msg = h.modelStatusToString(st)
    if st == S.kOptimal:
        sol = h.getSolution()
        lp.row_dual = np.asarray(sol.row_dual, dtype=float)  # c - A^T y = reduced costs (HiGHS's sign)
        return np.asarray(sol.col_value), "optimal", msg, iters
    if st == S.kInfeasible:
        return None, "infeasible", msg, iters
    if st == S.kTimeLimit:
        return None, "time_limit", msg, iters
    return None, "error", msg, iters


def _solve_cvxpy(lp: StepLP, solver: str | None, verbose: bool) -> tuple[Any, str, str, int]:
    import cvxpy as cp

    x = cp.Variable(lp.A_eq.shape[1])
    cons = [lp.A_eq @ x == lp.b_eq, x >= 0]
    fin = np.isfinite(lp.ub)
    if fin.any():
        idx = np.flatnonzero(fin)
        cons.append(x[idx] <= lp.ub[idx])
    if lp.A_ub.shape[0]:
        cons.append(lp.A_ub @ x <= lp.b_ub)
    pr = cp.Problem(cp.Minimize(lp.c @ x), cons)
    name = solver or ("CLARABEL" if "CLARABEL" in cp.installed_solvers() else "HIGHS")
    try:
        pr.solve(solver=name, verbose=verbose)
    except cp.error.SolverError as exc:
        return None, "error", str(exc), 0
    st = pr.status
    iters = int(getattr(pr.solver_stats, "num_iters", 0) or 0)
    if st in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return np.asarray(x.value), "optimal", f"{name}: {st}", iters
    if st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return None, "infeasible", f"{name}: {st}", iters
    return None, "error", f"{name}: {st}", iters


def solve_step_lp(
    step: AttractionStep,
    solver: str = "highs",
    method: str = "ipm",
    time_limit: float | None = None,
    verbose: bool = False,
    cvxpy_solver: str | None = None,
) -> StepResult:
    """Solve the exact step (gamma = 0) of ``step`` with HiGHS (``solver="highs"``, highspy directly)
    or cvxpy (``solver="cvxpy"``, Clarabel by default, ``cvxpy_solver="HIGHS"`` for HiGHS).

    A claim of infeasibility is believed only when ``AttractionStep.check`` finds a failing
    necessary condition (DESIGN.md, Numerics); otherwise the status is NUMERICAL_ERROR.
    The registry entry is ``AttractionLPBackend`` (``"attraction-lp"``), which checks the options.
    """
    t0 = time.perf_counter()
    lp = StepLP(step)
    if solver == "highs":
        x, kind, msg, iters = _solve_highs(lp, method, time_limit, verbose)
    elif solver == "cvxpy":
        x, kind, msg, iters = _solve_cvxpy(lp, cvxpy_solver, verbose)
    else:
        raise UnsupportedError(f"unknown LP step solver {solver!r} (use 'highs' or 'cvxpy')")
    n = step.n
    if x is None:
        proven = any(m.startswith("infeasible:") for m in step.check())
        status = {
            "infeasible": Status.INFEASIBLE if proven else Status.NUMERICAL_ERROR,
            "time_limit": Status.TIME_LIMIT,
        }.get(kind, Status.NUMERICAL_ERROR)
        empty = sp.csr_matrix((n, n))
        return StepResult(
            step=step,
            rho_next=np.full(n, np.nan),
            plan=empty,
            target_plan=None,
            objective=float("nan"),
            transport_cost=float("nan"),
            status=status,
            point_status=PointStatus.NO_POINT,
            iterations=iters,
            violation=float("nan"),
            backend=AttractionLPBackend.name,
            solver=solver,
            timings={"total": time.perf_counter() - t0},
            message=msg,
        )
    P1, P2, p = lp.unpack(x)
    C = step.problem.cost
    cost1 = float(P1.multiply(C).sum())
    cost2 = float(P2.multiply(C).sum())
    viol = float(
        np.abs(np.asarray(P1.sum(axis=1)).reshape(-1) - step.rho).sum()
        + np.abs(np.asarray(P2.sum(axis=1)).reshape(-1) - step.problem.nu).sum()
        + np.abs(p - np.asarray(P2.sum(axis=0)).reshape(-1)).sum()
    )
    return StepResult(
        step=step,
        rho_next=p,
        plan=P1,
        target_plan=P2,
        objective=step.omega * cost1 + (1 - step.omega) * cost2,
        transport_cost=cost1,
        status=Status.OPTIMAL,
        point_status=PointStatus.FEASIBLE,
        iterations=iters,
        violation=viol,
        potentials=lp.potentials(step.omega),
        backend=AttractionLPBackend.name,
        solver=solver,
        timings={"total": time.perf_counter() - t0},
        message=msg,
    )


class AttractionLPBackend:
    r"""Registry entry ``"attraction-lp"``: the exact step (`\gamma = 0`) of an ``AttractionStep`` as an LP.

    Capability ``"attraction-step"``: ``solve(step, **options)`` returns a ``StepResult``. The LP runs
    on one of ``engines`` (option ``engine``, default ``"highs"``); a step solver named after an
    engine (``attraction_flow(problem, solver="highs")``) reaches this backend through that
    declaration. Options: ``engine``, ``method`` (HiGHS: ``"ipm"``, ``"simplex"``, ``"choose"``),
    ``time_limit``, ``verbose``, ``cvxpy_solver`` (cvxpy's solver name, default Clarabel).
    """

    name = "attraction-lp"
    capabilities = frozenset({"attraction-step", "exact", "linear"})
    conformance = Conformance(kinds=frozenset({"attraction-step"}))
    #: the exact backends this LP runs on
    engines = ("highs", "cvxpy")
    options = ("engine", "method", "time_limit", "verbose", "cvxpy_solver")

    def supports(self, problem: Any) -> str | None:
        if isinstance(problem, AttractionStep):
            return None
        return "the attraction-lp backend solves one step of an AttractionProblem (use problem.step(rho))"

    def warm_start(self, previous: StepResult) -> dict[str, Any]:
        """An LP solved afresh needs nothing from the previous step."""
        return {}

    def solve(self, problem: Any, **options: Any) -> StepResult:
        reason = self.supports(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        refuse_unknown(self.name, options, self.options)
        check_common(self.name, options)
        engine = choice(self.name, "engine", options.get("engine", "highs"), self.engines)
        method = choice(self.name, "method", options.get("method", "ipm"), ("ipm", "simplex", "choose"))
        cvxpy_solver = options.get("cvxpy_solver")
        if cvxpy_solver is not None and not isinstance(cvxpy_solver, str):
            raise UnsupportedError(f"{self.name} backend: option cvxpy_solver={cvxpy_solver!r}: expected a solver name")
        return solve_step_lp(
            problem,
            solver=engine,
            method=method,
            time_limit=options.get("time_limit"),
            verbose=bool(options.get("verbose", False)),
            cvxpy_solver=cvxpy_solver,
        )
