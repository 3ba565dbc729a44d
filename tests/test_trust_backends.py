"""Backend defects found by the input-fuzz probe of issue 10: no warning leak, no untyped error.

Each case failed on main before the fix (a RuntimeWarning from the objective of a huge cost times a
huge bound; a KeyError from networkx's preflow-push inside the infeasibility cut search).
"""

from __future__ import annotations

import warnings

import pytest

import otmodel as om
from otmodel.certificates import verify_infeasibility_certificate

BACKENDS = ["highs", "cvxpy", "pyomo"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_cost_times_huge_bound_leaks_no_warning(backend: str) -> None:
    net = om.Network()
    net.add_node("s", supply=1).add_node("t", supply=-1)
    net.add_arc("s", "t", om.Linear(1e155), upper=1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = om.solve(om.FlowProblem(net), backend=backend)
    # either the right optimum or an honest failure, never a wrong OPTIMAL
    if sol.status == om.Status.OPTIMAL:
        assert sol.objective == pytest.approx(1e155, rel=1e-9)
    else:
        assert sol.status == om.Status.NUMERICAL_ERROR


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_lower_bound_next_to_unit_supplies_is_certified_infeasible(backend: str) -> None:
    net = om.Network()
    net.add_node("n0").add_node("n1", supply=-0.383).add_node("n2", supply=0.383)
    net.add_arc("n2", "n0", om.Linear(1.0), lower=-1e-20)
    problem = om.FlowProblem(net)
    sol = om.solve(problem, backend=backend)
    assert sol.status == om.Status.INFEASIBLE
    assert sol.certificate is not None and verify_infeasibility_certificate(problem, sol.certificate)
    assert "n1" in sol.certificate.describe()


@pytest.mark.parametrize("backend", BACKENDS + ["network"])
def test_subnormal_next_to_unit_supply_is_no_untyped_error(backend: str) -> None:
    # the exact OR-Tools fallback raised OverflowError (no common integer scale from 5e-324 to 1)
    net = om.Network()
    net.add_node("a", supply=5e-324).add_node("b", supply=1.0).add_node("c", supply=-1.0)
    net.add_arc("a", "c", om.Linear(1.0))
    net.add_arc("b", "c", om.Linear(2.0))
    sol = om.solve(om.FlowProblem(net), backend=backend)
    assert sol.status in (om.Status.OPTIMAL, om.Status.NUMERICAL_ERROR)
    if sol.status == om.Status.OPTIMAL:
        assert sol.objective == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize(
    "backend,option,value",
    [("admm", "delta", "abc"), ("admm", "delta", -1.0), ("admm", "tol", float("nan")), ("dual-ascent", "tol", "x"),
     ("dual-ascent", "max_iter", 2.5)],
)
def test_iterative_options_are_validated_like_data(backend: str, option: str, value: object) -> None:
    from otmodel.errors import InvalidDataError
    from otmodel.instances import synthetic
    from otmodel.model import graphs

    if backend == "admm":
        problem = om.GraphTransportProblem.from_supply(graphs.six_agents(), [1, -1, -1, 1, 1, -1], gamma=1.0)
    else:
        problem = synthetic(10)
    with pytest.raises(InvalidDataError, match=option):
        om.solve(problem, backend=backend, **{option: value})
