"""Options, the command line, conformance and dual ascent: typed errors and honest verdicts.

Regression tests of issue 10: D14 (CLI messages and exit codes), D16 (options validated like
data), D13 (a conformance run in which nothing ran does not pass), and dual ascent on infeasible
problems (INFEASIBLE with a verified certificate instead of ITERATION_LIMIT).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import otmodel as om
from otmodel import backends
from otmodel.certificates import verify_infeasibility_certificate
from otmodel.cli import EXIT_CODES, build_parser, main
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.results import PointStatus, Solution, Status
from otmodel.validation.conformance import ConformanceConfig, cases, run_conformance

ROOT = Path(__file__).resolve().parents[1]
SMALL_FLOW = str(ROOT / "examples" / "models" / "small_flow.yaml")


def flow_problem(upper: float = 5.0, quadratic: bool = False) -> om.FlowProblem:
    net = om.Network()
    net.add_node("S", supply=2.0)
    net.add_node("M")
    net.add_node("T", supply=-2.0)
    cost = om.Quadratic(1.0) if quadratic else om.Linear(1.0)
    net.add_arc("S", "M", cost, -upper, upper)
    net.add_arc("M", "T", om.Quadratic(2.0) if quadratic else om.Linear(2.0), -upper, upper)
    return om.FlowProblem(net)


# ============================================================================================ D16
@pytest.mark.parametrize("backend", ["highs", "cvxpy", "pyomo", "dual-ascent"])
@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("tol", "abc", "expected a number"),
        ("tol", float("nan"), "expected a finite number"),
        ("tol", -1.0, "must be >= 0"),
        ("time_limit", 0.0, "must be > 0"),
        ("verbose", "false", "expected True, False"),
    ],
)
def test_bad_common_option_names_the_option(backend: str, option: str, value: object, rule: str) -> None:
    p = flow_problem(quadratic=True)
    with pytest.raises(InvalidDataError, match=re.escape(f"{backend} backend: option {option}=") + ".*" + rule):
        om.solve(p, backend=backend, **{option: value})


@pytest.mark.parametrize(
    ("backend", "options", "error", "match"),
    [
        ("highs", {"tol": 0.0}, InvalidDataError, "option tol=0.0: must be > 0"),
        ("highs", {"max_rounds": 2.5}, InvalidDataError, "option max_rounds=2.5: expected an integer"),
        ("highs", {"method": "barrier"}, UnsupportedError, "option method='barrier': expected one of 'ipm'"),
        ("highs", {"bogus": 1}, UnsupportedError, "unknown option 'bogus'; it takes: max_rounds, method, time_limit"),
        ("pyomo", {"bogus": 1}, UnsupportedError, "unknown option 'bogus'; it takes: max_rounds, method, time_limit, tol, verbose"),
        ("cvxpy", {"bogus": 1}, UnsupportedError, "unknown option 'bogus'; it takes: solver, solver_options, time_limit, tol, verbose"),
        ("cvxpy", {"solver_options": {"bogus": 1}}, UnsupportedError, "solver_options 'bogus' not taken by CLARABEL"),
        ("cvxpy", {"solver_options": [1]}, InvalidDataError, "solver_options: expected a mapping"),
        ("cvxpy", {"solver": 3}, InvalidDataError, "option solver=3"),
        ("dual-ascent", {"max_iter": "abc"}, InvalidDataError, "option max_iter='abc': expected an integer"),
        ("dual-ascent", {"max_iter": -3}, InvalidDataError, "option max_iter=-3: must be >= 0"),
        ("dual-ascent", {"callback": 3}, InvalidDataError, "option callback=3: expected a callable"),
    ],
)
def test_bad_backend_option_is_a_typed_error(
    backend: str, options: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=re.escape(match)):
        om.solve(flow_problem(quadratic=True), backend=backend, **options)


def test_cvxpy_solver_options_refused_by_the_solver_itself() -> None:
    cp = pytest.importorskip("cvxpy")
    if "HIGHS" not in cp.installed_solvers():
        pytest.skip("cvxpy without HiGHS")
    with pytest.raises(InvalidDataError, match="cvxpy backend: solver_options refused by HIGHS"):
        om.solve(flow_problem(), backend="cvxpy", solver="HIGHS", solver_options={"bogus": 1})
    # a setting the solver takes still works
    s = om.solve(flow_problem(), backend="cvxpy", solver_options={"max_iter": 200})
    assert s.status is Status.OPTIMAL and s.objective == pytest.approx(6.0)


def test_good_options_still_work() -> None:
    p = flow_problem()
    for backend, opts in (
        ("highs", {"tol": 1e-8, "method": "simplex", "time_limit": 60, "verbose": False, "max_rounds": 10}),
        ("pyomo", {"tol": 1, "verbose": 0}),
        ("cvxpy", {"tol": 1e-8, "time_limit": float("inf")}),
    ):
        s = om.solve(p, backend=backend, **opts)
        assert s.status is Status.OPTIMAL and s.objective == pytest.approx(6.0), backend


# ============================================================================================ D14
def test_cli_exit_codes_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(EXIT_CODES) == [0, 1, 2, 3]
    assert len(set(EXIT_CODES.values())) == 4
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "exit status:" in text
    for code, meaning in EXIT_CODES.items():
        assert f"  {code}  {meaning}" in text
    doc = (ROOT / "docs" / "cli.md").read_text()
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", doc, re.M), f"exit status {code} missing from docs/cli.md"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["solve", "{tmp}"], "model.yaml: is a directory, not a model file"),
        (["check", "{tmp}/.."], "is a directory, not a model file"),
        (["solve", SMALL_FLOW, "--option", "tol=abc"], "option tol='abc': expected a number"),
        (["solve", SMALL_FLOW, "--option", "noequals"], "--option expects KEY=VALUE, got 'noequals'"),
        (["solve", SMALL_FLOW, "--option", "=3"], "--option expects KEY=VALUE, got '=3'"),
        (["solve", SMALL_FLOW, "--json", "{tmp}/no/dir/o.json"], "no such directory"),
        (["solve", SMALL_FLOW, "--json", "{tmp}"], "is a directory"),
        (["check", SMALL_FLOW, "--option", "max_iter=abc"], "dual-ascent backend: option max_iter='abc': expected an"),
        (["check", SMALL_FLOW, "--backend", "highs", "--option", "tol=abc"], "option tol='abc'"),
    ],
)
def test_cli_input_errors_are_messages_with_status_2(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "model.yaml"
    folder.mkdir()
    argv = [a.replace("{tmp}", str(folder)) for a in argv]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("otmodel: error: ") and match in err, err
    assert "Traceback" not in err
    assert "loaded" not in out  # refused before the model was read, let alone solved
    assert not (folder / "no").exists()


def test_cli_json_goes_through_the_atomic_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sol.json"
    out.write_text("previous")
    assert main(["solve", SMALL_FLOW, "--backend", "highs", "--json", str(out)]) == 0
    assert '"status": "optimal"' in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["sol.json"]


def test_cli_status_1_for_an_answer_that_is_not_optimal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "infeasible.yaml"
    flow_problem(upper=1.0).save(path)
    assert main(["solve", str(path), "--backend", "highs"]) == 1
    assert "infeasible" in capsys.readouterr().out


class _Failing:
    """A backend that fails: by an exception, or by a status saying it found no answer."""

    name = "failing"
    capabilities = frozenset({"flow", "linear", "exact"})

    def __init__(self, how: str) -> None:
        self.how = how

    def supports(self, problem: om.FlowProblem) -> str | None:
        return None

    def solve(self, problem: om.FlowProblem, **options: object) -> Solution:
        if self.how == "raise":
            raise RuntimeError("the solver library crashed")
        from otmodel.backends.base import no_point_solution

        return no_point_solution(
            problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, self.name, "fake", {"total": 0.0}, "gave up"
        )


@pytest.mark.parametrize("how", ["raise", "status"])
def test_cli_status_3_for_a_solver_failure(
    how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backends.register("failing", _Failing(how))
    try:
        assert main(["solve", SMALL_FLOW, "--backend", "failing"]) == 3
        err = capsys.readouterr().err
        if how == "raise":
            assert err == "otmodel: error: backend 'failing' failed: RuntimeError: the solver library crashed\n"
        assert main(["check", SMALL_FLOW, "--backend", "highs", "--against", "failing"]) == 3
    finally:
        backends.unregister("failing")


# ============================================================================================ D13
def test_conformance_of_an_unknown_backend_is_an_error() -> None:
    with pytest.raises(UnsupportedError, match="unknown backend 'nope'; available: "):
        run_conformance("nope")


def test_conformance_run_in_which_nothing_ran_fails() -> None:
    empty = run_conformance("highs", ConformanceConfig(cases=[]))
    assert not empty.passed and empty.executed == 0
    assert empty.summary().endswith("FAILED (no case ran)")
    # every case skipped as unsupported: nothing was shown about the backend
    spatial = [c for c in cases() if c.problem.kind == "spatial"][:2]
    report = run_conformance("dual-ascent", ConformanceConfig(cases=spatial, exclude_tags=frozenset({"spatial"})))
    assert report.executed == 0 and not report.passed


# ============================================================================================ dual ascent
def test_dual_ascent_proves_infeasibility_before_iterating() -> None:
    p = flow_problem(upper=1.0, quadratic=True)  # 2 units through arcs that carry at most 1
    calls: list[int] = []
    s = om.solve(p, backend="dual-ascent", max_iter=50, callback=lambda *a: calls.append(1))
    assert s.status is Status.INFEASIBLE and s.point_status is PointStatus.CERTIFICATE
    assert s.certificate is not None and verify_infeasibility_certificate(p, s.certificate)
    assert s.certificate.net_supply == pytest.approx(2.0) and s.certificate.cut_capacity == pytest.approx(1.0)
    assert calls == [] and s.iterations == 0
    # the exact backends say the same
    assert om.solve(p, backend="highs").status is Status.INFEASIBLE


def test_dual_ascent_proves_a_spatial_problem_infeasible() -> None:
    # the endpoint must receive the whole demand (1.0) through an arc that carries at most 0.3
    net = om.Network()
    net.add_node("S", supply=1.0, position=(0.0, 0.0))
    net.add_node("E", endpoint=True, position=(1.0, 0.0))
    net.add_arc("S", "E", om.Quadratic(1.0), -0.3, 0.3)
    p = om.SpatialFlowProblem(net, om.Points([[1.0, 0.5], [1.5, 0.0], [2.0, 1.0]], [0.2, 0.3, 0.5]), om.Euclidean())
    s = om.solve(p, backend="dual-ascent", max_iter=20)
    assert s.status is Status.INFEASIBLE and verify_infeasibility_certificate(p, s.certificate)
    assert s.certificate.net_supply == pytest.approx(1.0) and s.certificate.cut_capacity == pytest.approx(0.3)
    assert om.solve(p, backend="highs").status is Status.INFEASIBLE
    # and a feasible problem still iterates
    ok = om.solve(flow_problem(quadratic=True), backend="dual-ascent", max_iter=5)
    assert ok.status is Status.ITERATION_LIMIT and ok.iterations == 5
