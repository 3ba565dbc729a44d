"""Small things that cost users time (issue 15 point 8): statuses are strings, reprs are short."""

from __future__ import annotations

import json

import otmodel as om
from otmodel.instances import synthetic


def test_status_compares_equal_to_its_string_value() -> None:
    assert om.Status.OPTIMAL == "optimal"
    assert om.PointStatus.FEASIBLE == "feasible"
    assert f"{om.Status.ITERATION_LIMIT}" == "iteration_limit"
    assert json.dumps({"status": om.Status.CONVERGED}) == '{"status": "converged"}'
    assert om.Status("optimal") is om.Status.OPTIMAL


def test_repr_of_a_long_run_is_one_short_line() -> None:
    sol = om.solve(synthetic(20), backend="dual-ascent", max_iter=300, tol=0.0)
    text = repr(sol)
    assert "\n" not in text and len(text) < 200
    assert text.startswith("Solution(iteration_limit, point nearly_feasible, objective ")
    assert "300 iterations" in text and "'dual-ascent'" in text
    assert len(repr(sol.trace)) < 200 and "300 iterations" in repr(sol.trace)
