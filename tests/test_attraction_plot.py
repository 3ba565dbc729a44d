"""Figures of the attraction flows (smoke tests: they draw, carry their tags and write PNGs) and the graph families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from otmodel.backends.attraction_flow import attraction_flow
from otmodel.errors import InvalidDataError
from otmodel.model.attraction import GRAPH_FAMILIES, AttractionProblem, graph_family
from otmodel.plot_attraction import plot_flow_steps, plot_gamma_sweep, plot_tv_cost, plot_tv_panels


@pytest.mark.parametrize("family", GRAPH_FAMILIES)
def test_graph_families_are_connected_and_weighted(family: str) -> None:
    from scipy.sparse.csgraph import connected_components

    W, pos = graph_family(family, 40, seed=2, weights=(0.5, 0.8))
    assert W.shape == (40, 40) and pos.shape == (40, 2)
    assert connected_components(W, directed=False)[0] == 1
    assert (W != W.T).nnz == 0 and W.data.min() >= 0.5 - 1e-12 and W.data.max() <= 0.8 + 1e-12


def test_unknown_family() -> None:
    with pytest.raises(InvalidDataError, match="unknown graph family"):
        graph_family("ring", 10)


def test_figures_are_written(tmp_path: Path) -> None:
    W, pos = graph_family("grid", 16, weights=(1.0, 1.0))
    rho0 = np.zeros(16)
    rho0[[0, 1]] = 0.5
    nu = np.zeros(16)
    nu[[14, 15]] = 0.5
    p = AttractionProblem(W, rho0, nu, omega=0.1, gamma=0.25, eps=0.05)
    f = attraction_flow(p, "dykstra", max_steps=10)
    e = attraction_flow(p, "highs", max_steps=10)
    fig = plot_flow_steps(f, pos, kinds=["source"] * 2 + ["demand"] * 14, path=tmp_path / "steps.png")
    assert {a.get_gid() for a in fig.axes if a.get_gid()} >= {"step:0", "step:1"}
    plot_tv_cost({"dykstra": f, "exact": e}, path=tmp_path / "tv.png", eps=p.eps)
    plot_gamma_sweep({"omega = 0.1": {"gamma = 0.25": f, "exact": e}}, path=tmp_path / "g.png")
    plot_tv_panels({"omega = 0.1": {"grid": f}}, path=tmp_path / "p.png", eps=p.eps)
    for name in ("steps", "tv", "g", "p"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert sp.issparse(f.plans[0])
