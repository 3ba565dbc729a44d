"""Figures of otmodel.plot: they show what they claim (colours, arrows, labels, files)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

import otmodel as om  # noqa: E402
from otmodel import plot  # noqa: E402
from otmodel.backends.dual_ascent import supergradient  # noqa: E402
from otmodel.backends.steps import Diminishing  # noqa: E402
from otmodel.instances import power_network, synthetic  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def three_endpoints_one_idle(grid: bool = True) -> om.SpatialFlowProblem:
    """Endpoint E3 lies far from all demand: an exact solution gives it no mass."""
    net = om.Network()
    net.add_node("S1", supply=1.0, position=(5, -5))
    net.add_node("E1", endpoint=True, position=(2, 8))
    net.add_node("E2", endpoint=True, position=(8, 8))
    net.add_node("E3", endpoint=True, position=(60, 60))
    for u, v in [("S1", "E1"), ("S1", "E2"), ("E1", "E2"), ("E2", "E3")]:
        (x0, y0), (x1, y1) = net.nodes[net.index(u)].position, net.nodes[net.index(v)].position
        net.add_arc(u, v, om.Quadratic(math.hypot(x1 - x0, y1 - y0)), -1, 1)
    if grid:
        demand: om.Points = om.Grid.from_density(om.Gaussian((3, 7), 3), (0, 10, 0, 10), (8, 6))
    else:
        rng = np.random.default_rng(1)
        demand = om.Points(rng.uniform(0, 10, (40, 2)), np.full(40, 1 / 40))
    return om.SpatialFlowProblem(net, demand, om.Euclidean(), name="idle endpoint")


def arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch) and str(p.get_gid()).startswith("arc:")]


def node_label(ax, name):
    hits = [t for t in ax.texts if t.get_gid() == f"node:{name}"]
    assert len(hits) == 1
    return hits[0].get_text()


def distinct_rgb(rgba: np.ndarray) -> set[tuple[float, ...]]:
    rgba = np.asarray(rgba, dtype=float).reshape(-1, 4)
    return {tuple(np.round(c[:3], 6)) for c in rgba if c[3] > 0}


@pytest.mark.parametrize("grid", [True, False])
def test_cells_colours_arrows_labels_and_file(tmp_path, grid):
    p = three_endpoints_one_idle(grid)
    sol = om.solve(p, backend="highs")
    assert sol.mass("E3") < 1e-9 and sol.mass("E1") > 0 and sol.mass("E2") > 0
    out = tmp_path / "sub" / "cells.png"
    fig = plot.plot_cells(p, sol, path=out)
    ax = fig.axes[0]

    # one colour per endpoint that serves demand, and each is that endpoint's colour
    if grid:
        (img,) = [im for im in ax.get_images() if im.get_gid() == "cells"]
        nx, ny = p.demand.shape
        assert img.get_array().shape == (ny, nx, 4)
        cols = distinct_rgb(img.get_array())
    else:
        (sc,) = [c for c in ax.collections if c.get_gid() == "cells"]
        cols = distinct_rgb(sc.get_facecolors())
    with_mass = int(np.sum(sol.cell_mass > 1e-12))
    assert len(cols) == with_mass == 2
    palette = plot.endpoint_colors(p.n_endpoints)
    assert cols == {tuple(np.round(palette[e], 6)) for e in range(3) if sol.cell_mass[e] > 1e-12}

    # one arrow per arc, pointing along positive flow
    arr = arrows(ax)
    assert len(arr) == p.n_arcs
    xy = p.network.positions()
    for a in arr:
        name = a.get_gid()[4:]
        k = p.arc_names.index(name)
        start, _ = a._posA_posB
        f = sol.flows[k]
        expect = xy[p.tails[k]] if f >= 0 else xy[p.heads[k]]
        np.testing.assert_allclose(start, expect)
        label = [t.get_text() for t in ax.texts if t.get_gid() == f"flow:{name}"]
        assert label == [plot._fmt(abs(f))]

    # endpoints show their assigned mass, sources their supply
    for e, name in enumerate(p.endpoint_names):
        assert f"m={plot._fmt(sol.cell_mass[e])}" in node_label(ax, name)
    assert "s=1.000" in node_label(ax, "S1")
    assert out.read_bytes()[:8] == PNG


def test_cells_negative_flow_reverses_arrow():
    p = three_endpoints_one_idle()
    sol = om.solve(p, backend="highs")
    k = p.arc_index("E1", "E2")
    # demand leans to E1's side: flow runs E2 -> E1, against the arc's orientation
    assert sol.flows[k] < -1e-3
    fig = plot.plot_cells(p, sol)
    (a,) = [a for a in arrows(fig.axes[0]) if a.get_gid() == "arc:E1->E2"]
    start, end = a._posA_posB
    xy = p.network.positions()
    np.testing.assert_allclose(start, xy[p.node_index("E2")])
    np.testing.assert_allclose(end, xy[p.node_index("E1")])
    assert a.get_arrowstyle().__class__.__name__ != "Curve"  # it has a head


def test_cells_on_synthetic_has_four_cells_and_uses_given_ax():
    p = synthetic(20)
    sol = om.solve(p, backend="highs")
    fig, ax = plt.subplots()
    assert plot.plot_cells(p, sol, ax=ax) is fig
    (img,) = ax.get_images()
    assert len(distinct_rgb(img.get_array())) == 4
    assert len(arrows(ax)) == len(p.arc_names) == 8


def test_convergence_panels_and_recomputed_supergradient(tmp_path):
    p = synthetic(20)
    exact = om.solve(p, backend="highs")
    da = om.solve(p, backend="dual-ascent", max_iter=40, step_size=Diminishing(1.0, 0.01))
    psi = np.asarray(da.trace["potentials"])
    # g recomputed by the plot module from problem data agrees with the backend's oracle
    g = plot.supergradients(p, psi[[0, 5, 39]])
    for row, k in zip(g, [0, 5, 39], strict=True):
        np.testing.assert_allclose(row, supergradient(p, psi[k]), atol=1e-12)
    np.testing.assert_allclose(np.max(np.abs(plot.supergradients(p, psi)), axis=1), da.trace["residual"], atol=1e-12)

    fig = plot.plot_convergence(da, exact=exact, path=tmp_path / "conv.png")
    a, b, c = fig.axes[:3]
    assert len(a.get_lines()) == p.n_nodes
    np.testing.assert_allclose(a.get_lines()[2].get_ydata(), psi[:, 2])
    assert len([ln for ln in b.get_lines() if len(ln.get_xdata()) == len(psi)]) == p.n_nodes
    assert c.get_yscale() == "log"
    gap_lines = [ln for ln in c.get_lines() if "gap" in str(ln.get_label())]
    assert gap_lines
    q = np.asarray(da.trace["dual_value"])
    expected = (exact.objective - q) / abs(exact.objective)
    np.testing.assert_allclose(gap_lines[0].get_ydata(), expected[expected > 0])
    assert (tmp_path / "conv.png").read_bytes()[:8] == PNG

    # with a number for the optimum, and without: no gap curve then
    plot.plot_convergence(da, exact=exact.objective)
    fig2 = plot.plot_convergence(da)
    assert not [ln for ln in fig2.axes[2].get_lines() if "gap" in str(ln.get_label())]


def test_convergence_needs_a_trace():
    p = synthetic(10)
    with pytest.raises(ValueError, match="potentials"):
        plot.plot_convergence(om.solve(p, backend="highs"))


def test_power_network_figure_trees(tmp_path):
    p = power_network(150, seed=3)
    sol = om.solve(p, backend="dual-ascent", max_iter=300, step_size=Diminishing(1.0, 0.01))
    fig = plot.plot_power_network(p, sol, path=tmp_path / "power.png")
    ax = fig.axes[0]
    assert len(arrows(ax)) == p.n_arcs
    labels = sol.assigned_endpoint()
    (sc,) = [c for c in ax.collections if c.get_gid() == "cells"]
    assert len(distinct_rgb(sc.get_facecolors())) == len(set(labels.tolist()))
    cost = p.assignment_cost
    for e, name in enumerate(p.endpoint_names):
        trees = [c for c in ax.collections if c.get_gid() == f"tree:{name}"]
        if not np.any(labels == e):
            assert not trees
            continue
        (tree,) = trees
        segs = [tuple(map(tuple, np.round(s, 9))) for s in tree.get_segments()]
        verts = {v for s in segs for v in s}
        # a tree rooted at the substation: |edges| = |vertices| - 1, and it reaches every assigned consumer
        assert len(segs) == len(verts) - 1
        root = tuple(np.round(p.network.positions()[p.node_index(name)], 9))
        assert root in verts
        for k in np.flatnonzero(labels == e):
            assert tuple(np.round(p.demand.xy[k], 9)) in verts
            assert int(cost.point_nodes[k]) in cost.path(int(k), name)
        assert f"m={plot._fmt(sol.cell_mass[e])}" in node_label(ax, name)
    assert (tmp_path / "power.png").read_bytes()[:8] == PNG


def test_figures_of_the_wrong_problem_kind_are_refused_with_a_typed_error():
    net = om.Network()
    net.add_node("a", supply=1.0)
    net.add_node("b", supply=-1.0)
    net.add_arc("a", "b", om.Linear(1.0))
    flow = om.FlowProblem(net)
    sol = om.solve(flow)
    for draw in (plot.plot_cells, plot.plot_power_network):
        with pytest.raises(om.UnsupportedError, match="SpatialFlowProblem"):
            draw(flow, sol)
    spatial = three_endpoints_one_idle()
    with pytest.raises(om.UnsupportedError, match="another problem"):
        plot.plot_cells(spatial, sol)


def test_the_users_matplotlib_backend_is_kept(tmp_path):
    # otmodel used to switch matplotlib to Agg behind the user's back; the chosen backend must survive
    import subprocess
    import sys

    script = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import otmodel as om\n"
        "from otmodel import plot\n"
        "from otmodel.instances import synthetic\n"
        "p = synthetic(6)\n"
        f"plot.plot_cells(p, om.solve(p), path={str(tmp_path / 'c.png')!r})\n"
        "print(matplotlib.get_backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == "svg"
    assert (tmp_path / "c.png").read_bytes().startswith(PNG)
