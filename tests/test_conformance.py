"""The conformance suite: its cases check themselves, and it catches wrong backends."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from otmodel import backends
from otmodel.backends.base import CASE_KINDS, Conformance
from otmodel.certificates import find_infeasible_cut, find_unbounded_cycle, no_point_solution
from otmodel.errors import UnsupportedError
from otmodel.results import InfeasibilityCertificate, PointStatus, Solution, Status
from otmodel.validation import (
    ConformanceCase,
    ConformanceConfig,
    KnownPoint,
    cases,
    check_case,
    dual_value,
    run_conformance,
)
from otmodel.validation.cases import CATALOGUE, check_answer, register_kind
from otmodel.validation.cases_wrong import right_answer, wrong_answers

CASES = cases()
BY_NAME = {c.name: c for c in CASES}
FLOW_KINDS = ("flow", "spatial", "graph")
FLOW_CASES = [c for c in CASES if c.kind in FLOW_KINDS]


# ------------------------------------------------------------------------------------ the cases
def test_the_suite_is_broad():
    assert len(CASES) >= 15
    kinds = {c.kind for c in CASES}
    assert {"flow", "spatial", "graph", "relocation"} <= kinds <= set(CASE_KINDS)
    assert len([c for c in CASES if c.kind == "graph"]) >= 3
    assert len([c for c in CASES if c.kind == "relocation"]) >= 3
    assert len(BY_NAME) == len(CASES), "case names must be unique"
    statuses = {c.expected_status for c in CASES}
    assert statuses == {Status.OPTIMAL, Status.INFEASIBLE, Status.UNBOUNDED}
    tags = set().union(*(c.tags for c in CASES))
    assert {"flow", "spatial", "linear", "quadratic", "mixed", "planted", "degenerate"} <= tags
    planted = [c for c in CASES if "planted" in c.tags]
    assert len(planted) >= 4
    assert max(c.problem.n_nodes for c in planted) >= 25
    assert all(c.derivation for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_checks_itself(case: ConformanceCase):
    check_case(case)
    if case.expected_status is Status.OPTIMAL and case.kind in FLOW_KINDS:
        w = case.witness
        assert isinstance(w, KnownPoint)
        # strong duality at the planted point: q(psi) == objective(p, pi) == expected objective
        q = dual_value(case.problem, w.potentials)
        assert q == pytest.approx(case.expected_objective, rel=1e-10, abs=1e-10)
        assert case.problem.objective(w.flows, w.assignment) == pytest.approx(case.expected_objective, rel=1e-10)
        # q is invariant under a constant shift of psi (total supply = total demand)
        assert dual_value(case.problem, w.potentials + 3.7) == pytest.approx(q, rel=1e-9, abs=1e-9)


def test_cases_are_deterministic():
    again = {c.name: c for c in cases()}
    assert list(again) == [c.name for c in CASES]
    for c in CASES:
        assert again[c.name].expected_objective == c.expected_objective
        if c.expected_flows is not None:
            np.testing.assert_array_equal(again[c.name].expected_flows, c.expected_flows)


@pytest.mark.parametrize(
    "name", ["planted_mixed_30", "planted_spatial_matrix", "planted_paper_layout", "spatial_capacity_binding"]
)
def test_weak_duality_at_random_potentials(name):
    case = BY_NAME[name]
    rng = np.random.default_rng(7)
    w = case.witness
    for _ in range(50):
        psi = w.potentials + rng.normal(0.0, 1.0, case.problem.n_nodes)
        assert dual_value(case.problem, psi) <= case.expected_objective + 1e-9


def test_self_check_rejects_wrong_answers():
    case = BY_NAME["parallel_routes_capacity"]
    with pytest.raises(AssertionError, match="objective"):
        check_case(_replace(case, expected_objective=8.0))
    with pytest.raises(AssertionError, match="flows"):
        check_case(_replace(case, expected_flows=np.array([1.0, 1.0, 2.0, 2.0])))
    tie = BY_NAME["tie_two_routes"]
    with pytest.raises(AssertionError, match="not provably unique"):
        check_case(_replace(tie, expected_flows=np.array([1.0, 1.0, 1.0, 1.0])))
    spatial_tie = BY_NAME["spatial_tie"]
    with pytest.raises(AssertionError, match="not provably unique"):
        check_case(_replace(spatial_tie, expected_cell_mass=np.array([1.5, 0.5])))
    bad_psi = KnownPoint(case.witness.flows, np.array([4.0, 1.0, 3.0, 0.0]))
    with pytest.raises(AssertionError, match="q\\(psi\\)"):
        check_case(_replace(case, witness=bad_psi))
    inf = BY_NAME["infeasible_capacity_cut"]
    with pytest.raises(AssertionError, match="does not verify"):
        check_case(_replace(inf, witness=InfeasibilityCertificate(("S", "M"), 3.0, 2.0, "out")))


def _replace(case: ConformanceCase, **changes: Any) -> ConformanceCase:
    from dataclasses import replace

    return replace(case, **changes)


def test_dual_value_price_tolerance():
    case = BY_NAME["path"]
    psi = np.array([4.0 + 1e-9, 3.0, 0.0])  # psi_A - psi_B exceeds b = 1 on an arc with upper = inf
    assert dual_value(case.problem, psi) == -math.inf
    assert dual_value(case.problem, psi, price_tol=1e-7) == pytest.approx(8.0, abs=1e-6)
    assert math.isnan(dual_value(case.problem, np.array([np.nan, 0.0, 0.0])))


# ------------------------------------------------------------------------------------ every registered backend
@pytest.mark.parametrize("name", backends.available())
def test_every_registered_backend_passes_on_what_it_declares(name):
    backend = backends.get(name)
    declared = getattr(backend, "conformance", None)
    assert isinstance(declared, Conformance), f"backend {name!r} declares nothing to the conformance suite"
    report = run_conformance(name)
    assert report.passed, report.summary()
    assert report.executed >= 3, report.summary()
    assert {r.case for r in report.rows} <= {c.name for c in CASES if c.kind in declared.kinds}
    if not declared.allow_unsupported:  # exactly what it declares runs, less the skips it states
        assert {r.case for r in report.skipped} == set(declared.skip), report.summary()


def test_exact_flow_backends_are_known_by_capability():
    exact = backends.exact_backends()
    assert {"highs", "cvxpy", "pyomo", "network"} <= set(exact)
    for name in exact:
        declared = backends.get(name).conformance
        assert declared.claims == "optimal" and {"flow", "spatial"} <= declared.kinds


def test_a_heuristic_is_checked_for_feasibility_only():
    declared = backends.get("relocation-bisection").conformance
    assert declared.claims == "feasible"
    # bisection is not optimal on the Manhattan grid (cost 1.0 against 0.6): fine for a heuristic ...
    report = run_conformance("relocation-bisection")
    assert report.passed, report.summary()
    # ... and judged as an optimal method, the same run fails there
    strict = run_conformance("relocation-bisection", ConformanceConfig.declared(declared, claims="optimal"))
    assert "relocation_manhattan_grid" in {r.case for r in strict.failures}, strict.summary()
    # a heuristic that says OPTIMAL claims what it cannot prove: caught even under claims="feasible"
    cfg = ConformanceConfig.declared(declared)
    for case in [c for c in CASES if c.kind == "relocation"]:
        optimal = right_answer(case)  # the witness assignment, reported OPTIMAL
        assert optimal.status is Status.OPTIMAL
        assert any("status optimal" in e for e in check_answer(case, optimal, cfg))
        assert check_answer(case, dataclasses.replace(optimal, status=Status.CONVERGED), cfg) == []


def test_a_backend_that_declares_nothing_fails():
    class Silent(_Fake):
        name = "fake-silent"

    backends.register("fake-silent", Silent())
    try:
        report = run_conformance("fake-silent")
    finally:
        backends.unregister("fake-silent")
    assert not report.passed and report.executed == 0
    assert "declares nothing" in report.summary()
    assert "fake-silent" not in backends.available()


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="unknown conformance kinds"):
        Conformance(kinds=frozenset({"flows"}))
    with pytest.raises(ValueError, match="claims"):
        Conformance(kinds=frozenset({"flow"}), claims="good")
    with pytest.raises(UnsupportedError, match="unknown backend 'no-such-backend'"):
        backends.unregister("no-such-backend")


# ------------------------------------------------------------------------------------ planted wrong answers
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_checker_rejects_every_planted_wrong_answer(case):
    cfg = ConformanceConfig()
    assert check_answer(case, right_answer(case), cfg) == []
    wrong = wrong_answers(case)
    assert len(wrong) >= 2
    for w in wrong:
        assert check_answer(case, w.answer, cfg), f"{case.name}: {w.what} was not caught"
    # a heuristic's run (claims="feasible") still rejects those not about optimality or duals
    feasible = ConformanceConfig(claims="feasible", optimal_statuses=(Status.OPTIMAL,))
    assert [w.what for w in wrong if w.applies(feasible) and not check_answer(case, w.answer, feasible)] == []


def test_tolerances_that_accept_a_wrong_answer_fail_the_run(fake_cases):
    loose = ConformanceConfig(cases=fake_cases, names=["path", "planted_mixed_30"], rtol=0.5, atol=0.5, feas_tol=1.0,
                              point_rtol=1.0, point_atol=1.0)
    report = run_conformance("fake-oracle", loose)  # the right answers, judged by a useless yardstick
    assert not report.passed and report.executed == 2
    assert all("tolerances accept planted wrong answers" in r.reason for r in report.failures)


def test_a_kind_can_live_in_its_own_module(tmp_path, monkeypatch):
    # the attraction cases will arrive this way: one module defining cases(), one line in CATALOGUE
    module = tmp_path / "extra_cases_for_test.py"
    module.write_text(
        "from otmodel.validation.cases_graph import _ring_w1\n"
        "from dataclasses import replace\n"
        "def cases():\n"
        "    return [replace(_ring_w1(), name='ring_again', kind='attraction-step')]\n"
        "def check_answer(case, answer, cfg):\n"
        "    return [] if answer == 'right' else ['wrong']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(CATALOGUE, "attraction-step", "otmodel.validation.cases_graph")  # restored afterwards
    register_kind("attraction-step", "extra_cases_for_test")
    assert CATALOGUE["attraction-step"] == "extra_cases_for_test"
    extra = cases(["attraction-step"])
    assert [c.name for c in extra] == ["ring_again"]
    assert check_answer(extra[0], "right", ConformanceConfig()) == []
    assert check_answer(extra[0], "else", ConformanceConfig()) == ["wrong"]
    with pytest.raises(ValueError, match="unknown case kind"):
        register_kind("teleport", "extra_cases_for_test")


def test_relocation_cases_against_an_independent_lp():
    # the optimum of each relocation case from scipy's linprog over all point-bin pairs
    for case in [c for c in CASES if c.kind == "relocation"]:
        p = case.problem
        C = p.cost_matrix()
        n, nb = C.shape
        ok = np.isfinite(C)
        rows, cols = np.nonzero(ok)
        A_eq = sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(n, rows.size))
        A_ub = sp.csr_matrix((np.ones(rows.size), (cols, np.arange(rows.size))), shape=(nb, rows.size))
        res = linprog(C[rows, cols] * p.mass, A_eq=A_eq, b_eq=np.ones(n), A_ub=A_ub,
                      b_ub=np.asarray(p.slots, dtype=float).reshape(-1), bounds=(0, None), method="highs")
        assert res.status == 0
        assert res.fun == pytest.approx(case.expected_objective, rel=1e-9, abs=1e-12), case.name


# ------------------------------------------------------------------------------------ fake backends
_ANSWERS: dict[int, ConformanceCase] = {}


def _answer(problem) -> ConformanceCase:
    return _ANSWERS[id(problem)]


class _Fake:
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact"})
    name = "fake"

    def supports(self, problem):
        return None

    def point(self, case: ConformanceCase) -> tuple[np.ndarray, np.ndarray, Any]:
        w = case.witness
        return w.flows.copy(), w.potentials.copy(), w.assignment

    def solve(self, problem, **options):
        case = _answer(problem)
        if case.expected_status is Status.INFEASIBLE:
            return no_point_solution(
                problem,
                Status.INFEASIBLE,
                PointStatus.CERTIFICATE,
                self.name,
                "fake",
                {},
                certificate=self.infeasible(problem),
            )
        if case.expected_status is Status.UNBOUNDED:
            return no_point_solution(
                problem,
                Status.UNBOUNDED,
                PointStatus.CERTIFICATE,
                self.name,
                "fake",
                {},
                certificate=find_unbounded_cycle(problem),
            )
        flows, psi, plan = self.point(case)
        cell = None if plan is None else np.asarray(sp.csr_matrix(plan).sum(axis=0)).reshape(-1)
        return Solution(
            problem=problem,
            status=Status.OPTIMAL,
            point_status=PointStatus.FEASIBLE,
            objective=problem.objective(flows, plan),
            flows=flows,
            potentials=psi,
            backend=self.name,
            solver="fake",
            assignment=plan,
            cell_mass=cell,
        )

    def infeasible(self, problem):
        return find_infeasible_cut(problem)


class OracleBackend(_Fake):
    """Returns the known optimal point: the harness must pass it."""

    name = "fake-oracle"


class PerturbedFlowsBackend(_Fake):
    """Right status, flows off by 0.01 (objective recomputed from the wrong point)."""

    name = "fake-perturbed"

    def point(self, case):
        flows, psi, plan = super().point(case)
        flows = flows + 0.01 * (-1.0) ** np.arange(flows.size)
        return flows, psi, plan


class NegatedPotentialsBackend(_Fake):
    """The right primal point with potentials of the wrong sign convention."""

    name = "fake-negated"

    def point(self, case):
        flows, psi, plan = super().point(case)
        return flows, -psi, plan


class BogusCertificateBackend(_Fake):
    """Right statuses, but the infeasibility certificate names a set whose cut can carry its supply."""

    name = "fake-bogus"

    def infeasible(self, problem):
        # all network nodes: net supply mu(X) (0 for a flow problem), and nothing bounds what leaves
        return InfeasibilityCertificate(tuple(problem.node_names), 1.0, 0.0, "out")


class UnsupportedBackend(_Fake):
    name = "fake-unsupported"

    def supports(self, problem):
        return "spatial problems are not supported" if problem.kind == "spatial" else None


FAKES = {
    "fake-oracle": "OracleBackend",
    "fake-perturbed": "PerturbedFlowsBackend",
    "fake-negated": "NegatedPotentialsBackend",
    "fake-bogus": "BogusCertificateBackend",
    "fake-unsupported": "UnsupportedBackend",
}


@pytest.fixture(scope="module")
def fake_cases():
    local = cases(FLOW_KINDS)
    for c in local:
        _ANSWERS[id(c.problem)] = c
    for name, cls in FAKES.items():
        backends.register(name, f"{__name__}:{cls}")
    yield local
    for name in FAKES:
        backends.unregister(name)
    _ANSWERS.clear()


def test_oracle_backend_passes(fake_cases):
    report = run_conformance("fake-oracle", ConformanceConfig(cases=fake_cases))
    assert report.passed, report.summary()
    assert len(report.rows) == len(fake_cases)
    assert "PASSED" in report.summary()


def test_perturbed_flows_fail(fake_cases):
    report = run_conformance("fake-perturbed", ConformanceConfig(cases=fake_cases))
    assert not report.passed
    failed = {r.case for r in report.failures}
    # every optimal case with arcs fails: flows differ or the point is infeasible
    optimal = {c.name for c in fake_cases if c.expected_status is Status.OPTIMAL}
    assert failed == optimal
    reasons = {r.case: r.reason for r in report.failures}
    assert "flows off by" in reasons["planted_mixed_30"]
    assert "infeasible" in reasons["tie_two_routes"]
    assert "FAIL" in report.summary() and "FAILED" in report.summary()


def test_negated_potentials_fail(fake_cases):
    report = run_conformance("fake-negated", ConformanceConfig(cases=fake_cases))
    assert not report.passed
    reasons = {r.case: r.reason for r in report.failures}
    for name in ("path", "negative_lower_bounds", "planted_quadratic_20", "planted_paper_layout"):
        assert "potentials" in reasons[name] and "q(potentials)" in reasons[name]
    # without potential checks the dual check alone still catches it
    cfg = ConformanceConfig(cases=fake_cases, check_potentials=False)
    assert not run_conformance("fake-negated", cfg).passed


def test_bogus_certificate_fails(fake_cases):
    report = run_conformance("fake-bogus", ConformanceConfig(cases=fake_cases))
    failed = {r.case for r in report.failures}
    assert failed == {c.name for c in fake_cases if c.expected_status is Status.INFEASIBLE}
    assert all("does not verify" in r.reason for r in report.failures)


def test_unsupported_cases_are_skipped_or_failed(fake_cases):
    report = run_conformance("fake-unsupported", ConformanceConfig(cases=fake_cases))
    assert report.passed
    spatial = {c.name for c in fake_cases if c.problem.kind == "spatial"}
    assert {r.case for r in report.skipped} == spatial
    strict = run_conformance("fake-unsupported", ConformanceConfig(cases=fake_cases, allow_unsupported=False))
    assert {r.case for r in strict.failures} == spatial


def test_selection(fake_cases):
    cfg = ConformanceConfig(cases=fake_cases, names=["path", "spatial_tie"])
    assert [r.case for r in run_conformance("fake-oracle", cfg).rows] == ["path", "spatial_tie"]
    cfg = ConformanceConfig(cases=fake_cases, exclude_tags=frozenset({"linear", "mixed"}))
    rows = run_conformance("fake-oracle", cfg).rows
    assert rows and all("quadratic" in BY_NAME[r.case].tags for r in rows)
    with pytest.raises(ValueError, match="unknown"):
        run_conformance("fake-oracle", ConformanceConfig(cases=fake_cases, names=["nope"]))
    # a stated skip is a skipped row carrying its reason, never a silent omission
    report = run_conformance("fake-oracle", ConformanceConfig(cases=fake_cases, names=["path", "transshipment"],
                                                             skip={"path": "measured too slow"}))
    assert report.passed and [r.case for r in report.skipped] == ["path"] and report.executed == 1
    assert "declared skip: measured too slow" in report.summary()
