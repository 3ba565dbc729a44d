"""Stopping on what users care about: a certified gap (issue 15 point 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import otmodel as om
from otmodel.cli import main
from otmodel.instances import synthetic
from otmodel.validation import certify

MODEL = Path(__file__).parents[1] / "examples" / "models" / "synthetic.yaml"


def test_gap_tol_stops_early_on_a_certified_gap() -> None:
    p = synthetic(40)
    full = om.solve(p, backend="dual-ascent", step_size="curvature", max_iter=300, tol=0.0)
    stopped = om.solve(p, backend="dual-ascent", step_size="curvature", max_iter=300, tol=0.0, gap_tol=1e-6)
    assert full.iterations == 300 and full.status == om.Status.ITERATION_LIMIT
    assert stopped.status == om.Status.CONVERGED
    assert stopped.iterations < 300 and stopped.iterations % 10 == 0
    cert = stopped.info["certificate"]
    assert cert.certified and cert.relative_gap <= 1e-6
    # the claim is checked independently: the stopped iterate certifies on its own at that gap
    assert certify(p, stopped, rtol=1e-6).certified
    exact = om.solve(p, backend="highs")
    assert cert.dual_bound <= exact.objective * (1 + 1e-9) <= cert.upper_bound * (1 + 1e-6)


def test_gap_tol_that_is_never_reached_runs_to_max_iter() -> None:
    p = synthetic(20)
    sol = om.solve(p, backend="dual-ascent", max_iter=20, tol=0.0, gap_tol=1e-12, gap_every=5)
    assert sol.status == om.Status.ITERATION_LIMIT
    assert sol.info["gap_checks"] == 3  # k = 5, 10, 15
    assert "certificate" not in sol.info


def test_the_users_callback_still_runs_and_can_stop() -> None:
    seen: list[int] = []
    sol = om.solve(
        synthetic(20), backend="dual-ascent", max_iter=50, gap_tol=1e-9, callback=lambda k, s: seen.append(k) or k == 7
    )
    assert seen == list(range(8)) and sol.iterations == 7


def test_gap_tol_is_checked() -> None:
    p = synthetic(10)
    with pytest.raises(om.InvalidDataError, match="gap_tol"):
        om.solve(p, backend="dual-ascent", gap_tol=-1)
    with pytest.raises(om.InvalidDataError, match="gap_every"):
        om.solve(p, backend="dual-ascent", gap_tol=1e-6, gap_every=0)
    with pytest.raises(om.UnsupportedError, match="gap_every"):
        om.solve(p, backend="dual-ascent", gap_every=5)  # without gap_tol there is nothing to check
    with pytest.raises(om.UnsupportedError, match="gap_tol"):
        om.solve(p, backend="highs", gap_tol=1e-6)  # an exact backend has no gap to stop at


def test_a_backend_with_its_own_gap_rule_receives_gap_tol() -> None:
    # the relocation backend stops on its own certified gap: gap_tol is its option, passed through
    from otmodel.model.relocation import RelocationProblem

    rng = np.random.default_rng(0)
    p = RelocationProblem(rng.uniform(0, 8, size=(60, 2)), (0, 8, 0, 8), bins=(4, 4), capacity=5)
    sol = om.solve(p, backend="relocation", gap_tol=1e-3)
    assert sol.status == om.Status.OPTIMAL


def test_cli_solve_succeeds_on_a_certified_iterative_run(capsys) -> None:
    # 300 curvature steps hit the iteration limit, certified far below 1e-6: that is a success
    code = main(["solve", str(MODEL), "--backend", "dual-ascent", "--option", "step_size=curvature"])
    out = capsys.readouterr().out
    assert "iteration_limit" in out
    assert "certificate: CERTIFIED" in out
    assert code == 0
    code = main(["solve", str(MODEL), "--backend", "dual-ascent", "--option", "max_iter=3"])
    assert "certificate: not certified" in capsys.readouterr().out
    assert code == 1
