"""Figures of section 4 (otmodel.plot_admm): they render from real ADMM runs and are written to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import otmodel as om
from otmodel.backends.admm import Departure
from otmodel.model import graphs as G
from otmodel.model.transport import GraphTransportProblem
from otmodel.plot_admm import bipartite_plan, plot_departure, plot_error_curves, plot_plan_heatmaps


def test_figures_render(tmp_path: Path) -> None:
    p = GraphTransportProblem.from_supply(G.six_agents(), [1, -1, -1, 1, 1, -1], gamma=1.0)
    runs = {g: om.solve(p.with_gamma(g), backend="admm", max_iter=300) for g in (0.1, 1.0)}
    fig = plot_error_curves({"six": runs}, path=tmp_path / "f1.png")
    assert (tmp_path / "f1.png").stat().st_size > 0 and len(fig.axes[0].lines) == 3
    dep = om.solve(p, backend="admm", max_iter=300, events=[Departure(50, 6, {5: 0})])
    fig = plot_departure({1.0: dep}, 50, p.node_names, path=tmp_path / "f4.png")
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "agent 6 (left)" in labels and (tmp_path / "f4.png").exists()
    b = GraphTransportProblem(G.complete_bipartite(2, 2), [0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7], gamma=1.0)
    plan = bipartite_plan(b, om.solve(b).flows, ["1", "2"], ["3", "4"])
    assert np.allclose(plan.sum(axis=1), 0.5, atol=1e-6)
    fig = plot_plan_heatmaps({1.0: plan, 2.0: np.where(plan > 0.2, plan, 0.0)}, path=tmp_path / "f2.png")
    assert "zero entries" in fig.axes[0].get_title()


def test_regularization_path_figure(tmp_path: Path) -> None:
    from otmodel.plot_admm import plot_regularization_path
    from otmodel.validation.crosscheck import regularization_path

    p = GraphTransportProblem.from_supply(
        G.ring(5), [1, 0, -0.5, 0, -0.5], gamma=1.0, cost=[1, 2, 1, 3, 1, 1, 2, 1, 1, 1]
    )
    res = regularization_path(p, [1.0, 0.1, 0.01])
    fig = plot_regularization_path(res, path=tmp_path / "rp.png")
    assert (tmp_path / "rp.png").exists() and len(fig.axes) == 2
    # the curves are the data: gap W1^gamma - W1 (independently, values - w1) under its bound
    gap_line, bound_line = fig.axes[0].get_lines()[:2]
    np.testing.assert_allclose(gap_line.get_ydata(), np.maximum(res.values - res.w1, 1e-16), rtol=1e-9)
    assert np.all(gap_line.get_ydata() <= bound_line.get_ydata() * (1 + 1e-6))  # equal here: pi_gamma = pi_LN
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), np.maximum(res.plan_distances, 1e-16))
