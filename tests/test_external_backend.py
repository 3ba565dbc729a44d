"""An exact backend added from outside the package: one class plus its registration (issue 11).

``LinprogBackend`` solves the linear flow problems (flow, spatial, graph transport) with scipy's
``linprog`` from the problem's public attributes only, declares what the conformance suite may check
it on, registers with ``otmodel.backends.register`` and passes. Nothing here imports a private
(``_x``) module of otmodel: this file is the proof that adding an exact backend touches one file
plus its registration.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import otmodel as om
from otmodel.backends.base import Conformance
from otmodel.certificates import classify_failure, no_point_solution
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status
from otmodel.validation import cases, run_conformance


class LinprogBackend:
    """Linear flow problems by scipy's HiGHS (dual simplex) through ``linprog``.

    The LP is (2) of Laurentin et al. (2025) with linear arc costs: variables the arc flows and,
    for a spatial problem, the plan entries of finite cost; rows the conservation at each node
    (``E p + B pi = s``) and the marginal of each demand point of positive mass. The duals of
    the node rows (``eqlin.marginals``: the sensitivity of the optimum to the supplies) are the
    potentials psi of eq. (3)-(4).
    """

    name = "test-linprog"
    capabilities = frozenset({"flow", "spatial", "linear", "exact"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}), exclude_tags=frozenset({"quadratic", "mixed"}))

    def supports(self, problem: Any) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not a flow problem: {type(problem).__name__}"
        return None if problem.is_linear else "linear arc costs only"

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        n, m0 = problem.n_nodes, problem.n_arcs
        # a two-way arc charged b|p| is a forward column on [0, u] and a backward one on [0, -l]
        # (public: ArcCosts.split); the flow of the arc is their difference
        K, lower, back_up = problem.costs.split(problem.lower, problem.upper)
        m = m0 + K.size
        E = sp.csr_matrix(problem.incidence)
        A = sp.hstack([E, -E[:, K]]).tocsr()
        c = np.concatenate([problem.costs.b, problem.costs.b[K]]).astype(float)
        rhs = np.asarray(problem.supply, dtype=float)
        bounds = [
            (None if lo == -math.inf else lo, None if up == math.inf else up)
            for lo, up in zip(lower, problem.upper, strict=True)
        ] + [(0.0, None if up == math.inf else up) for up in back_up]
        rows = cols = np.zeros(0, dtype=int)
        if isinstance(problem, SpatialFlowProblem):
            C = problem.cost_matrix()
            rows, cols = np.nonzero(np.isfinite(C) & (problem.demand.mass[:, None] > 0))
            k = rows.size
            pos = np.flatnonzero(problem.demand.mass > 0)
            rowmap = np.full(problem.n_points, -1)
            rowmap[pos] = np.arange(pos.size)
            B = sp.csr_matrix((np.ones(k), (np.asarray(problem.endpoints)[cols], np.arange(k))), shape=(n, k))
            P = sp.csr_matrix((np.ones(k), (rowmap[rows], np.arange(k))), shape=(pos.size, k))
            A = sp.vstack([sp.hstack([A, B]), sp.hstack([sp.csr_matrix((pos.size, m)), P])]).tocsr()
            rhs = np.concatenate([rhs, problem.demand.mass[pos]])
            c = np.concatenate([c, C[rows, cols]])
            bounds += [(0, None)] * k
        res = linprog(c, A_eq=A, b_eq=rhs, bounds=bounds, method="highs-ds")
        if res.status in (2, 3):  # infeasible / unbounded: believed only with a verified certificate
            claim = "infeasible" if res.status == 2 else "unbounded"
            return classify_failure(problem, claim, self.name, "linprog", {}, res.message)
        if res.status != 0:
            return no_point_solution(
                problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, self.name, "linprog", {}, res.message
            )
        flows = res.x[:m0].copy()
        flows[K] -= res.x[m0:m]
        plan = None
        if isinstance(problem, SpatialFlowProblem):
            plan = sp.csr_matrix((res.x[m:], (rows, cols)), shape=(problem.n_points, problem.n_endpoints))
        return Solution(
            problem=problem,
            status=Status.OPTIMAL,
            point_status=PointStatus.FEASIBLE,
            objective=problem.objective(flows, plan),
            flows=flows,
            potentials=np.asarray(res.eqlin.marginals[:n]),
            backend=self.name,
            solver="scipy linprog (HiGHS dual simplex)",
            assignment=plan,
            cell_mass=None if plan is None else np.asarray(plan.sum(axis=0)).reshape(-1),
        )


@pytest.fixture()
def registered():
    om.backends.register("test-linprog", f"{__name__}:LinprogBackend")
    yield "test-linprog"
    om.backends.unregister("test-linprog")


def test_an_outside_backend_passes_the_suite_on_what_it_declares(registered):
    report = run_conformance(registered)
    assert report.passed, report.summary()
    linear = {c.name for c in cases(("flow", "spatial", "graph")) if c.problem.is_linear}
    ran = {r.case for r in report.rows if not r.skipped}
    assert ran == linear  # every linear case, infeasible and unbounded ones included, and nothing skipped
    assert any(r.expected_status is Status.INFEASIBLE for r in report.rows)
    assert any(r.expected_status is Status.UNBOUNDED for r in report.rows)


def test_it_is_a_backend_like_the_others(registered):
    assert registered in om.backends.available()
    assert registered in om.backends.exact_backends()
    path = next(c for c in cases(("flow",)) if c.name == "path")
    sol = om.solve(path.problem, backend=registered)
    assert sol.objective == pytest.approx(8.0) and sol.backend == registered


def test_unregistered_it_is_gone(registered):
    om.backends.unregister(registered)
    try:
        with pytest.raises(om.UnsupportedError, match="unknown backend 'test-linprog'"):
            om.backends.get(registered)
    finally:
        om.backends.register(registered, f"{__name__}:LinprogBackend")  # for the fixture's teardown


def test_this_file_imports_no_private_module():
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    private = [m for m in modules if m.startswith("otmodel") and any(p.startswith("_") for p in m.split("."))]
    assert modules and not private, private


def test_a_backend_that_cannot_be_imported_is_not_an_exact_one():
    om.backends.register("test-missing", "no_such_module_anywhere:Backend")
    try:
        assert "test-missing" in om.backends.available()
        assert "test-missing" not in om.backends.exact_backends()
        with pytest.raises(ImportError):
            om.backends.get("test-missing")
    finally:
        om.backends.unregister("test-missing")
