"""The outer-approximation driver and options shared by the HiGHS-based backends (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

import otmodel as om
from otmodel.backends._outer import HighsOptions, OuterApproximation, cutting_planes
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.instances import synthetic


def _kelley(q: float, p_star: float, tol: float, max_rounds: int) -> tuple[OuterApproximation, list[float]]:
    """Kelley's method on min q p^2 - 2 q p_star p over p in [-10, 10], by hand: with cuts at the
    points so far, the LP's minimizer is where the lower envelope is lowest (a grid is exact enough)."""
    grid = np.linspace(-10.0, 10.0, 200001)
    cuts = [-10.0, 10.0]
    state: dict[str, float] = {}

    def resolve() -> None:
        env = np.max([2 * q * c * grid - q * c * c for c in cuts], axis=0)
        k = int(np.argmin(env - 2 * q * p_star * grid))
        state["p"], state["t"] = float(grid[k]), float(env[k])
        state["obj"] = state["t"] - 2 * q * p_star * state["p"]

    resolve()
    seen: list[float] = []

    def add(sel: np.ndarray, p0: np.ndarray) -> None:
        cuts.extend(p0.tolist())
        seen.extend(p0.tolist())

    oa = cutting_planes(
        np.array([q]), tol, max_rounds, optimal=lambda: True,
        point=lambda: (np.array([state["p"]]), np.array([state["t"]]), state["obj"]), add_cuts=add, resolve=resolve,
    )
    return oa, seen


def test_the_driver_converges_to_the_tangent_point():
    oa, seen = _kelley(1.0, 0.3, 1e-6, 200)
    assert oa.converged(1e-6) and oa.rounds == len(seen) > 0
    assert abs(seen[-1] - 0.3) < 1e-2  # the cuts close in on the minimizer p* = 0.3
    assert oa.info(polished=False)["oa_rounds"] == oa.rounds


def test_the_driver_stops_at_max_rounds():
    oa, seen = _kelley(1.0, 0.3, 1e-12, 3)
    assert oa.rounds == 3 == len(seen) and not oa.converged(1e-12)


def test_the_driver_does_nothing_without_an_optimal_lp():
    calls: list[int] = []
    oa = cutting_planes(
        np.ones(1), 1e-9, 10, optimal=lambda: False, point=lambda: calls.append(1) or (np.ones(1), np.zeros(1), 0.0),  # type: ignore[func-returns-value]
        add_cuts=lambda s, p: None, resolve=lambda: None,
    )
    assert oa.rounds == 0 and calls == []


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_one_options_type_for_both_highs_backends(backend):
    p = synthetic(10)
    with pytest.raises(InvalidDataError, match=f"{backend} backend: option tol=-1"):
        om.solve(p, backend=backend, tol=-1)
    with pytest.raises(UnsupportedError, match="max_rounds"):  # the message lists the options it takes
        om.solve(p, backend=backend, rounds=3)
    assert HighsOptions.parse(backend, {"method": "simplex", "max_rounds": 7}) == HighsOptions(method="simplex", max_rounds=7)


def test_both_highs_backends_report_the_same_outer_approximation():
    p = synthetic(20)  # quadratic arc costs: outer approximation, then the polish
    a, b = om.solve(p, backend="highs"), om.solve(p, backend="pyomo")
    for sol in (a, b):
        assert sol.status is om.Status.OPTIMAL and {"oa_rounds", "oa_relative_gap", "polished"} <= set(sol.info)
    assert a.objective == pytest.approx(b.objective, rel=1e-9)


def test_an_unverified_point_of_a_user_model_is_flagged():
    from otmodel.backends._checked import check_point
    from otmodel.backends.base import flag_unverified

    p = synthetic(5)
    sol = om.solve(p, backend="highs")
    good = check_point(p, sol.flows, sol.assignment)
    assert flag_unverified(sol, good) is sol and flag_unverified(sol, None) is sol
    bad_flows = sol.flows * 1.5
    verdict = check_point(p, bad_flows, sol.assignment)
    assert not verdict.ok
    flagged = flag_unverified(sol, verdict)
    assert flagged.status is om.Status.NUMERICAL_ERROR and flagged.point_status is om.PointStatus.INFEASIBLE_POINT
    assert flagged.info["failing_node"] == verdict.worst and verdict.describe() in flagged.message
