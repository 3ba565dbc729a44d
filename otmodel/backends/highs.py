r"""The ``highs`` backend: HiGHS through highspy, from sparse matrices built in one shot.

Linear problems are passed to HiGHS as one LP (see ``otmodel.backends._standard`` for the
scaled matrix form). The default method is the interior-point solver with crossover, chosen by
measurement on the 200 x 200 synthetic LP (``benchmarks/bench_exact.py``: interior point about 20x
faster than dual simplex here), and crossover gives a basic solution, hence exact potentials.

Quadratic arc costs are handled exactly by outer approximation (``otmodel.backends._outer``):
tangent cuts re-solved as LPs, warm-started by the dual simplex, until the certified gap
``sum_j (q_j P_j^2 - t_j)`` is below ``tol`` relative to the objective.

Options
-------
method : {"ipm", "simplex", "pdlp"}
    HiGHS method for the (first) LP solve; default "ipm" (with crossover).
tol : float
    Relative gap of the outer approximation for quadratic costs (default 1e-9).
max_rounds : int
    Limit on cutting-plane rounds (default 200).
time_limit : float
    Seconds (default: none).
verbose : bool
    Print HiGHS's log.

Verification
------------
Every point HiGHS calls optimal is verified node by node before it is reported OPTIMAL
(``solve_checked``): the scaled model first, then the unscaled one,
then the dual simplex at tight tolerances, then an exact network-flow solve; NUMERICAL_ERROR, with
the failing node in ``info["failing_node"]``, when none passes. ``info["attempt"]`` says which
answer was kept, ``info["check"]`` the verdict.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any

import numpy as np

from otmodel.backends._checked import solve_checked
from otmodel.backends._outer import HighsOptions, answer, cutting_planes, finish, initial_cut_points, tangent
from otmodel.backends._standard import StandardForm, build_standard_form, choose_scales, redundant_rows
from otmodel.backends.base import Conformance, Timer
from otmodel.certificates import classify_failure, no_point_solution
from otmodel.model.problems import FlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["HighsBackend", "highs_lp", "new_highs"]


def new_highs(verbose: bool = False) -> Any:
    """A ``highspy.Highs`` instance with ``output_flag`` set to ``verbose``.

    Since HiGHS 1.16 the C++ constructor writes its banner ("Running HiGHS ...") straight to file
    descriptor 1, once per process and before any option can be set; unless ``verbose``, the
    descriptor is pointed at the null device around the constructor so that a user's terminal
    shows otmodel's output only. The redirection is process-wide, so it is shared between threads
    (``_fd1_silenced``): with any number of threads constructing at once, fd 1 is restored
    exactly once, when the last of them is done, and never left at the null device. Since the
    banner comes once per process (tests/test_threads.py checks it), fd 1 is redirected only until
    one silenced constructor has returned: afterwards no thread's output can be swallowed.
    """
    import highspy

    global _banner_done
    if verbose or _banner_done:
        h = highspy.Highs()
    else:
        with _fd1_silenced():
            h = highspy.Highs()
        _banner_done = True
    h.setOptionValue("output_flag", bool(verbose))
    return h


# fd 1 is one per process: the redirection of new_highs is reference-counted under a lock, so that
# threads constructing at once share one redirection (a lock around each dup2 pair alone is not
# enough: thread B would save A's /dev/null as "the original" and restore it last).
_FD1_LOCK = threading.Lock()
_fd1_users = 0
_fd1_saved: int | None = None
_banner_done = False


@contextmanager
def _fd1_silenced() -> Iterator[None]:
    """Point file descriptor 1 at the null device while any thread is inside this block."""
    global _fd1_users, _fd1_saved
    with _FD1_LOCK:
        if _fd1_users == 0:
            try:  # what Python buffered before goes where it was meant to
                if sys.stdout is not None:
                    sys.stdout.flush()
            except (OSError, ValueError):  # a closed or broken stdout: nothing to keep
                pass
            try:
                saved: int | None = os.dup(1)
            except OSError:  # no file descriptor 1 (embedded interpreters): nothing to silence
                saved = None
            if saved is not None:
                devnull = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(devnull, 1)
                finally:
                    os.close(devnull)
            _fd1_saved = saved
        _fd1_users += 1
    try:
        yield
    finally:
        with _FD1_LOCK:
            _fd1_users -= 1
            if _fd1_users == 0 and _fd1_saved is not None:
                os.dup2(_fd1_saved, 1)
                os.close(_fd1_saved)
                _fd1_saved = None


def highs_lp(
    c: Any, A: Any, col_lower: Any, col_upper: Any, row_lower: Any, row_upper: Any
) -> Any:
    """A ``highspy.HighsLp`` for min c x, row_lower <= A x <= row_upper, col_lower <= x <= col_upper.

    ``A`` is any scipy sparse matrix (passed column-wise); infinite bounds become HiGHS's infinity.
    """
    import highspy
    import scipy.sparse as sp

    inf = highspy.kHighsInf
    A = sp.csc_matrix(A)

    def bound(v: Any) -> Any:
        v = np.asarray(v, dtype=float)
        return np.where(np.isposinf(v), inf, np.where(np.isneginf(v), -inf, v))

    lp = highspy.HighsLp()
    lp.num_col_ = int(A.shape[1])
    lp.num_row_ = int(A.shape[0])
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = bound(col_lower)
    lp.col_upper_ = bound(col_upper)
    lp.row_lower_ = bound(row_lower)
    lp.row_upper_ = bound(row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    return lp


class HighsBackend:
    name = "highs"
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact", "vertex"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}))

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        opts = HighsOptions.parse(self.name, options)

        def attempt(scale: bool, how: str, tight: bool = False) -> Any:
            return lambda: self._solve_once(problem, replace(opts, method=how), scale=scale, tight=tight)

        # The scaled model first (choose_scales), then the unscaled one, then the dual simplex at
        # tight tolerances: each answer must pass the node-by-node check (solve_checked)
        attempts = [(f"scaled, {opts.method}", attempt(True, opts.method))]
        if choose_scales(problem) != (1.0, 1.0):
            attempts.append((f"unscaled, {opts.method}", attempt(False, opts.method)))
        attempts.append(("unscaled, simplex, tight tolerances", attempt(False, "simplex", tight=True)))
        return solve_checked(problem, attempts, self.name)

    def simplex_vertex(self, problem: FlowProblem) -> Solution:
        """One unchecked dual-simplex solve in problem units at tight tolerances: a basic point (a vertex),
        which an interior point cannot offer (the verified solve's fallback, ``_standard.solve_checked``)."""
        return self._solve_once(problem, HighsOptions(method="simplex"), scale=False, tight=True)

    def _solve_once(self, problem: FlowProblem, opts: HighsOptions, scale: bool = True, tight: bool = False) -> Solution:
        import highspy

        method, tol, time_limit, verbose = opts.method, opts.tol, opts.time_limit, opts.verbose

        timer = Timer()
        with timer("build"):
            sf = build_standard_form(problem, scale=scale)
            drop = redundant_rows(sf)
            keep = np.ones(sf.n_rows, dtype=bool)
            keep[drop] = False
            A = sf.A[keep].tocsc()
            rhs = sf.rhs[keep]
            h = new_highs(bool(verbose))
            h.setOptionValue("solver", method)
            if tight:
                # as tight as the data's own round-off allows: 1e-10, or 16 ulps of the largest value
                big = np.abs(np.concatenate([rhs, sf.lb[np.isfinite(sf.lb)], sf.ub[np.isfinite(sf.ub)]]))
                ftol = min(1e-7, max(1e-10, 16 * float(np.spacing(big.max() if big.size else 1.0))))
                h.setOptionValue("primal_feasibility_tolerance", ftol)
                h.setOptionValue("dual_feasibility_tolerance", 1e-10)
            if time_limit is not None:
                h.setOptionValue("time_limit", float(time_limit))
            h.passModel(highs_lp(sf.c, A, sf.lb, sf.ub, rhs, rhs))
            quad = sf.quadratic_arcs
            if quad.size:
                self._add_epigraph(h, sf, quad)
        solver = f"HiGHS {h.version()} {method}"
        oa = None
        S = highspy.HighsModelStatus
        with timer("solve"):
            h.run()
            if quad.size:
                h.setOptionValue("solver", "simplex")  # warm-started re-solves after adding cuts
                h.setOptionValue("presolve", "off")  # presolve would discard the basis
                # t may undercut its cuts by the feasibility tolerance, which would stall the gap
                h.setOptionValue("primal_feasibility_tolerance", 1e-9)
                h.setOptionValue("dual_feasibility_tolerance", 1e-9)

                def point() -> tuple[Any, Any, float]:
                    x = np.asarray(h.getSolution().col_value)
                    return x[quad], x[sf.n_vars : sf.n_vars + quad.size], float(h.getInfo().objective_function_value)

                oa = cutting_planes(
                    sf.qdiag[quad],
                    tol,
                    opts.max_rounds,
                    optimal=lambda: h.getModelStatus() == S.kOptimal,
                    point=point,
                    add_cuts=lambda sel, p0: self._add_cuts(h, sf, quad, sel, p0),
                    resolve=h.run,
                )
            status = h.getModelStatus()
        timings = timer.done()
        msg = h.modelStatusToString(status)
        if status == S.kOptimal:
            sol = h.getSolution()
            x = np.asarray(sol.col_value)[: sf.n_vars]
            y_kept = np.asarray(sol.row_dual)
            y = np.zeros(sf.n_rows)
            y[keep] = y_kept[: int(keep.sum())]
            with timer("polish") if oa is not None else nullcontext():
                x, ynode, converged, oa_info = finish(sf, x, y[: sf.n_node_rows], oa, tol)
            timings = timer.done()
            out = sf.unscale(x, ynode)
            info: dict[str, Any] = {"dropped_rows": drop.tolist(), "kappa": sf.kappa, "sigma": sf.sigma, **oa_info}
            return answer(problem, out, converged, oa, msg, self.name, solver, timings, int(h.getInfo().simplex_iteration_count + h.getInfo().ipm_iteration_count), info)
        if status == S.kInfeasible:
            return classify_failure(problem, "infeasible", self.name, solver, timings, msg)
        if status == S.kUnbounded:
            return classify_failure(problem, "unbounded", self.name, solver, timings, msg)
        if status == S.kUnboundedOrInfeasible:
            return classify_failure(problem, "infeasible_or_unbounded", self.name, solver, timings, msg)
        table = {
            S.kTimeLimit: Status.TIME_LIMIT,
            S.kIterationLimit: Status.ITERATION_LIMIT,
            S.kSolveError: Status.NUMERICAL_ERROR,
            S.kModelError: Status.NUMERICAL_ERROR,
            S.kPresolveError: Status.NUMERICAL_ERROR,
            S.kPostsolveError: Status.NUMERICAL_ERROR,
        }
        return no_point_solution(
            problem, table.get(status, Status.UNKNOWN), PointStatus.NO_POINT, self.name, solver, timings, msg
        )

    @staticmethod
    def _add_epigraph(h: Any, sf: StandardForm, quad: np.ndarray) -> None:
        import highspy

        nq = quad.size
        inf = highspy.kHighsInf
        h.addCols(nq, np.ones(nq), np.zeros(nq), np.full(nq, inf), 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
        scale = float(np.abs(sf.rhs).sum()) or 1.0
        pts = initial_cut_points(sf.lb[quad], sf.ub[quad], scale, k=17)
        for k in range(pts.shape[1]):
            HighsBackend._add_cuts(h, sf, quad, np.arange(nq), pts[:, k])

    @staticmethod
    def _add_cuts(h: Any, sf: StandardForm, quad: np.ndarray, sel: np.ndarray, p0: np.ndarray) -> None:
        """Add ``t_j - slope * P_j >= intercept`` for the selected quadratic arcs."""
        import highspy

        if sel.size == 0:
            return
        q = sf.qdiag[quad[sel]]
        slope, icpt = tangent(q, p0)
        n = sel.size
        starts = np.arange(0, 2 * n, 2, dtype=np.int32)
        idx = np.empty(2 * n, dtype=np.int32)
        idx[0::2] = sf.n_vars + sel
        idx[1::2] = quad[sel]
        val = np.empty(2 * n)
        val[0::2] = 1.0
        val[1::2] = -slope
        h.addRows(n, icpt, np.full(n, highspy.kHighsInf), 2 * n, starts, idx, val)

