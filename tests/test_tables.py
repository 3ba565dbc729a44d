"""Tables out (issue 15 point 4): pandas, CSV and JSON that round-trips, parallel arcs kept apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import otmodel as om
from otmodel.instances import synthetic


def _parallel() -> om.FlowProblem:
    net = om.Network()
    net.add_node("s", supply=3.0)
    net.add_node("t", supply=-3.0)
    net.add_arc("s", "t", om.Linear(1.0), 0, 1)
    net.add_arc("s", "t", om.Linear(2.0), 0, 10)  # parallel to the first, dearer
    return om.FlowProblem(net)


def test_parallel_arcs_keep_their_identity_in_pandas_and_json() -> None:
    p = _parallel()
    sol = om.solve(p, backend="highs")
    arcs = sol.to_pandas("arcs")
    assert list(arcs.index) == [0, 1]
    assert arcs.loc[0, "flow"] == pytest.approx(1.0) and arcs.loc[1, "flow"] == pytest.approx(2.0)
    assert (arcs["tail"] == "s").all() and (arcs["head"] == "t").all()
    assert arcs["cost"].sum() == pytest.approx(sol.objective)  # 1*1 + 2*2
    back = om.Solution.from_json(p, sol.to_json())
    np.testing.assert_array_equal(back.flows, sol.flows)
    np.testing.assert_array_equal(back.potentials, sol.potentials)
    assert back.status == sol.status and back.objective == sol.objective


def test_spatial_tables_and_assignment_round_trip(tmp_path) -> None:
    p = synthetic(12)
    sol = om.solve(p, backend="highs")
    tables = sol.to_pandas()
    assert set(tables) == {"arcs", "nodes", "points"}
    nodes, points = tables["nodes"], tables["points"]
    # each endpoint's assigned mass is the mass of the points sent to it, up to the points an exact
    # plan splits between endpoints (their share < 1)
    by_endpoint = points.groupby("endpoint")["mass"].sum()
    split = float((points["mass"] * (1 - points["share"])).sum())
    assert split < 0.05 * points["mass"].sum()
    for name, row in nodes[nodes["endpoint"]].iterrows():
        assert abs(row["assigned_mass"] - by_endpoint.get(name, 0.0)) <= 2 * split + 1e-9
    # conservation read off the table: supply - net outflow = assigned mass
    np.testing.assert_allclose(nodes["supply"] - nodes["net_outflow"], nodes["assigned_mass"], atol=1e-9)
    path = tmp_path / "sol.json"
    sol.to_json(str(path))
    back = om.Solution.from_json(p, path)
    assert (back.assignment != sol.assignment).nnz == 0
    np.testing.assert_allclose(back.cell_mass, sol.cell_mass)
    written = sol.to_csv(tmp_path / "tables")
    assert {k: v.name for k, v in written.items()} == {"arcs": "arcs.csv", "nodes": "nodes.csv", "points": "points.csv"}
    again = pd.read_csv(written["arcs"], index_col="arc")
    np.testing.assert_allclose(again["flow"], sol.flows)


def test_trace_as_a_dataframe() -> None:
    sol = om.solve(synthetic(10), backend="dual-ascent", max_iter=25, tol=0.0)
    frame = sol.trace.to_pandas()
    assert len(frame) == 25 and frame.index.name == "iteration"
    assert {"step_size", "dual_value", "residual"} <= set(frame.columns)
    assert "potentials" not in frame.columns  # per-node arrays stay in the trace
    np.testing.assert_allclose(frame["dual_value"], sol.trace["dual_value"])


def test_a_solution_file_of_another_problem_is_refused() -> None:
    sol = om.solve(_parallel(), backend="highs")
    with pytest.raises(om.InvalidDataError, match="flows for"):
        om.Solution.from_json(synthetic(6), sol.to_json())
    with pytest.raises(om.UnsupportedError, match="points"):
        sol.to_pandas("points")
