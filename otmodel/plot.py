r"""Figures of the source document (Laurentin et al., 2025, section V), with matplotlib.

* ``plot_cells`` -- partitioning and routing, like Fig. 1(b): demand coloured by its endpoint,
  the network on top with flows, supplies and cell masses.
* ``plot_convergence`` -- like Fig. 2: potentials `\psi` and supergradient `g`
  per node against the iterations, plus the flow-balance residual and (given the optimum) the
  relative dual gap on a log scale.
* ``plot_power_network`` -- like Fig. 3: consumers coloured by substation, the shortest-path
  trees of the distribution graph, the transmission network with its flows.

matplotlib is imported inside the functions, so ``import otmodel`` never needs it, and with the
backend the user chose (``MPLBACKEND``, ``matplotlibrc``, ``matplotlib.use``, a notebook's inline
backend; matplotlib itself falls back to a non-interactive backend where there is no display).
Every function returns the ``Figure`` and writes a PNG when given ``path=``. A problem of the wrong
kind (``plot_cells`` of a plain ``FlowProblem``, say) is refused with ``UnsupportedError``.

Artists carry ``gid`` tags so that a figure can be inspected programmatically: ``"cells"`` (the
cell image or scatter), ``"arc:<tail>-><head>"`` (one arrow per arc), ``"flow:<arc>"`` (its flow
label), ``"node:<name>"`` (a node label), ``"tree:<endpoint>"`` (shortest-path tree edges).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import UnsupportedError

__all__ = ["plot_cells", "plot_convergence", "plot_power_network", "endpoint_colors", "supergradients"]

#: flows below this (in absolute value) are drawn without an arrow head
FLOW_EPS = 1e-9


# ---------------------------------------------------------------------------------------- helpers
def _pyplot() -> Any:
    """pyplot, with whatever backend the user chose (otmodel never switches it)."""
    import matplotlib.pyplot as plt

    return plt


def _need_spatial(problem: Any, solution: Any, function: str) -> None:
    """Refuse, with a typed error, a problem without demand points or a solution of another problem."""
    from otmodel.model.problems import SpatialFlowProblem

    if not isinstance(problem, SpatialFlowProblem):
        raise UnsupportedError(
            f"{function} draws Laguerre cells and needs a SpatialFlowProblem (a network with demand points), "
            f"not {type(problem).__name__}; for the flows of a network alone, read solution.flows"
        )
    if getattr(solution, "problem", problem) is not problem:
        raise UnsupportedError(f"{function}: the solution was computed for another problem ({solution.problem!r})")


def _save(fig: Any, path: str | Path | None, dpi: int = 150) -> None:
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=dpi, bbox_inches="tight")


def endpoint_colors(n: int) -> NDArray[np.float64]:
    r"""``n`` distinct RGB colours (tab10, then tab20, then evenly spaced hues).

    The colours of the endpoints' cells in ``plot_cells`` (one per endpoint, in endpoint order).

    Parameters
    ----------
    n : int
        Number of colours, `\ge 0`.

    Returns
    -------
    (n, 3) array of float
        RGB rows in `[0, 1]`.
    """
    from matplotlib import colormaps

    if n <= 10:
        cols = colormaps["tab10"](np.arange(n))[:, :3]
    elif n <= 20:
        cols = colormaps["tab20"](np.arange(n))[:, :3]
    else:
        cols = colormaps["hsv"](np.linspace(0, 1, n, endpoint=False))[:, :3]
    return np.asarray(cols, dtype=float)


def _labels(problem: Any, solution: Any) -> NDArray[np.intp]:
    """Endpoint column of each demand point: the solution's plan, else argmin c(x,i) - psi_i."""
    if solution.assignment is not None:
        return solution.assigned_endpoint()
    psi_s = np.asarray(solution.potentials, dtype=float)[problem.endpoints]
    return np.argmin(problem.cost_matrix() - psi_s, axis=1)


def _cell_mass(problem: Any, solution: Any, labels: NDArray[np.intp]) -> NDArray[np.float64]:
    if solution.cell_mass is not None:
        return np.asarray(solution.cell_mass, dtype=float)
    return np.bincount(labels, weights=problem.demand.mass, minlength=problem.n_endpoints).astype(float)


def _fmt(v: float) -> str:
    return f"{v:.3f}" if abs(v) >= 5e-4 or v == 0 else f"{v:.1e}"


def _draw_network(
    ax: Any, problem: Any, solution: Any, masses: NDArray[np.float64], colors: NDArray[np.float64]
) -> None:
    """Arcs as arrows in the direction of positive flow with their flow, nodes with their labels."""
    from matplotlib.patches import FancyArrowPatch

    xy = np.asarray(problem.network.positions(), dtype=float)
    flows = np.asarray(solution.flows, dtype=float)
    pmax = float(np.max(np.abs(flows))) if flows.size and np.max(np.abs(flows)) > 0 else 1.0
    span = float(np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])) / 2 or 1.0
    for k, name in enumerate(problem.arc_names):
        t, h = int(problem.tails[k]), int(problem.heads[k])
        p = flows[k]
        a, b = (xy[t], xy[h]) if p >= 0 else (xy[h], xy[t])
        moving = abs(p) > FLOW_EPS
        arrow = FancyArrowPatch(
            tuple(a),
            tuple(b),
            arrowstyle="-|>,head_length=6,head_width=3.5" if moving else "-",
            mutation_scale=1.6,
            shrinkA=11,
            shrinkB=11,
            linewidth=1.0 + 3.0 * abs(p) / pmax,
            color="black" if moving else "0.55",
            linestyle="-" if moving else "--",
            zorder=4,
            gid=f"arc:{name}",
        )
        ax.add_patch(arrow)
        mid = (np.asarray(a) + np.asarray(b)) / 2
        d = np.asarray(b) - np.asarray(a)
        # the label sits beside the arc, not on it, so that it never hides the arrow head
        normal = np.array([-d[1], d[0]]) / (np.hypot(*d) or 1.0)
        pos = mid + 0.035 * span * normal
        ax.text(
            pos[0],
            pos[1],
            _fmt(abs(p)),
            fontsize=8,
            ha="center",
            va="center",
            zorder=6,
            gid=f"flow:{name}",
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="0.6", lw=0.5, alpha=0.9),
        )
    ends = list(getattr(problem, "endpoints", []))
    for i, name in enumerate(problem.node_names):
        s = float(problem.supply[i])
        if i in ends:
            e = ends.index(i)
            ax.scatter(*xy[i], s=140, marker="o", c=[colors[e]], edgecolors="black", linewidths=1.5, zorder=5)
            text = f"{name}\nm={_fmt(masses[e])}"
        elif s > 0:
            ax.scatter(*xy[i], s=160, marker="s", c="white", edgecolors="black", linewidths=1.5, zorder=5)
            text = f"{name}\ns={_fmt(s)}"
        else:
            ax.scatter(*xy[i], s=110, marker="D", c="0.85", edgecolors="black", linewidths=1.2, zorder=5)
            text = f"{name}\ns={_fmt(s)}" if s != 0 else name
        ax.annotate(
            text,
            xy[i],
            xytext=(9, -9),
            textcoords="offset points",
            fontsize=8.5,
            fontweight="bold",
            ha="left",
            va="top",
            zorder=7,
            gid=f"node:{name}",
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="black", lw=0.6, alpha=0.9),
        )


def _network_legend(ax: Any, colors: NDArray[np.float64], names: list[str], masses: NDArray[np.float64]) -> None:
    """Legend outside the axes, on the right, so that it hides no cell."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="s", ls="", mfc="white", mec="black", ms=9, label="source (s = supply)"),
        Line2D([], [], marker="o", ls="", mfc="0.8", mec="black", ms=9, label="endpoint (m = assigned mass)"),
        Line2D([], [], color="black", lw=2, marker=">", ms=6, label="arc, arrow = flow direction"),
    ]
    handles += [
        Line2D([], [], marker="s", ls="", mfc=colors[e], mec="none", ms=10, label=f"cell of {n} ({_fmt(masses[e])})")
        for e, n in enumerate(names)
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, framealpha=0.9)


# ---------------------------------------------------------------------------------------- Fig. 1(b)
def plot_cells(
    problem: Any, solution: Any, ax: Any = None, path: str | Path | None = None, title: str | None = None
) -> Any:
    r"""Partitioning and routing solution, like Fig. 1(b) of Laurentin et al. (2025).

    Every demand point (every grid cell, drawn as an image, when the demand is a
    ``Grid``) takes the colour of the endpoint it is assigned to (the
    solution's plan; without one, `\arg\min_i c(x,i) - \psi_i`), one colour per endpoint, with
    its opacity proportional to its demand mass (darker = denser). The network is drawn on top:
    sources as squares labelled with their supply ``s``, endpoints as circles in their cell's colour
    labelled with their assigned mass ``m``, arcs as arrows in the direction of positive flow, as
    wide as the flow is large and labelled with its absolute value (dashed without head: zero flow).

    Parameters
    ----------
    problem : SpatialFlowProblem
    solution : Solution of ``problem`` (any backend)
    ax : matplotlib Axes, optional -- draw there instead of on a new figure
    path : str or Path, optional -- write the figure as a PNG
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need_spatial(problem, solution, "plot_cells")
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(9.5, 7.0))
    else:
        fig = ax.figure
    demand = problem.demand
    labels = _labels(problem, solution)
    masses = _cell_mass(problem, solution, labels)
    colors = endpoint_colors(problem.n_endpoints)
    mass = np.asarray(demand.mass, dtype=float)
    alpha = 0.12 + 0.88 * mass / (mass.max() if mass.max() > 0 else 1.0)
    alpha = np.where(mass > 0, alpha, 0.0)
    rgba = np.column_stack([colors[labels], alpha])
    if hasattr(demand, "shape") and hasattr(demand, "grid_bounds"):
        nx, ny = demand.shape
        ax.imshow(
            rgba.reshape(ny, nx, 4),
            origin="lower",
            extent=demand.grid_bounds,
            interpolation="nearest",
            zorder=1,
            gid="cells",
        )
        x0, x1, y0, y1 = demand.grid_bounds
    else:
        size = 6.0 + 40.0 * mass / (mass.max() if mass.max() > 0 else 1.0)
        ax.scatter(demand.xy[:, 0], demand.xy[:, 1], s=size, c=rgba, edgecolors="none", zorder=1, gid="cells")
        x0, x1, y0, y1 = demand.bounds
    node_xy = np.asarray(problem.network.positions(), dtype=float)
    pad = 0.04 * max(x1 - x0, y1 - y0)
    ax.set_xlim(min(x0, node_xy[:, 0].min()) - pad, max(x1, node_xy[:, 0].max()) + pad)
    ax.set_ylim(min(y0, node_xy[:, 1].min()) - pad, max(y1, node_xy[:, 1].max()) + pad)
    _draw_network(ax, problem, solution, masses, colors)
    _network_legend(ax, colors, list(problem.endpoint_names), masses)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        title
        or f"Cells and flows ({solution.backend}, objective {solution.objective:.6g})\n"
        "colour = assigned endpoint, opacity = demand density",
        fontsize=10,
    )
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------------------------- Fig. 2
def supergradients(problem: Any, potentials: Any) -> NDArray[np.float64]:
    r"""Supergradient `g(\psi) = s - E\,p(\psi) - m(\psi)` (eq. (6)-(7)) for each row of ``potentials``.

    Recomputed from the problem data alone: local flows (5) from each arc cost's response to
    `\psi_i - \psi_j`, net outflow through the incidence matrix, and cell masses
    `m_i = \mu(\mathrm{Lag}_i(\psi))` (ties to the lowest endpoint index).

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem (cell masses only for a spatial one).
    potentials : (n_nodes,) or (K, n_nodes) array of float
        One potential vector `\psi` per row (e.g. the ``"potentials"`` iterates of a trace).

    Returns
    -------
    (K, n_nodes) array of float
        `g(\psi)` per row, in mass units; its norm is the convergence measure of Fig. 2.
    """
    P = np.atleast_2d(np.asarray(potentials, dtype=float))
    supply = np.asarray(problem.supply, dtype=float)
    out = np.empty_like(P)
    spatial = getattr(problem, "kind", "flow") == "spatial"
    if spatial:
        n, ns = problem.n_points, problem.n_endpoints
        step = n if n * ns <= 20_000_000 else max(1, 4_000_000 // ns)
        whole = problem.cost_matrix() if step == n else None
        w = np.asarray(problem.demand.mass, dtype=float)
    for k, psi in enumerate(P):
        flows = problem.costs.response(psi[problem.tails] - psi[problem.heads], problem.lower, problem.upper)
        g = supply - problem.net_outflow(flows)
        if spatial:
            psi_s = psi[problem.endpoints]
            m = np.zeros(ns)
            for a in range(0, n, step):
                block = whole if whole is not None else problem.cost_block(a, min(n, a + step))
                lab = np.argmin(block - psi_s, axis=1)
                m += np.bincount(lab, weights=w[a : a + block.shape[0]], minlength=ns)
            g[problem.endpoints] -= m
        out[k] = g
    return out


def plot_convergence(solution: Any, exact: Any = None, path: str | Path | None = None, title: str | None = None) -> Any:
    r"""Convergence of an iterative solution, like Fig. 2 of Laurentin et al. (2025).

    Panels: (a) the potentials `\psi_i^k` of every node against the iteration `k`;
    (b) the supergradient components `g_i(\psi^k)` (from the trace when it records them,
    else recomputed from the stored potentials and the problem data with ``supergradients``);
    (c) on a log scale, the flow-balance residual `\max_i |g_i|` and, when ``exact`` is given
    (a ``Solution`` or the optimal value), the relative dual gap
    `(\mathrm{opt} - q(\psi^k)) / |\mathrm{opt}|` from the trace's ``dual_value``
    (non-positive gaps -- an exact optimum is only optimal within its solver's tolerance -- are
    drawn as open markers at the bottom of the panel).

    Parameters
    ----------
    solution : Solution with a trace holding ``potentials`` (e.g. backend ``"dual-ascent"``)
    exact : Solution or float, optional -- the optimum, for the dual-gap curve
    path : str or Path, optional -- write the figure as a PNG
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    tr = solution.trace
    if tr is None or "potentials" not in tr:
        raise UnsupportedError(
            "plot_convergence needs a solution whose trace records 'potentials' (an iterative backend such as "
            f"'dual-ascent'); this one comes from backend {getattr(solution, 'backend', '?')!r}"
        )
    problem = solution.problem
    psi = np.asarray(tr["potentials"], dtype=float)
    K = psi.shape[0]
    it = np.arange(K)
    for key in ("supergradient", "g"):
        if key in tr and np.asarray(tr[key]).shape == psi.shape:
            g = np.asarray(tr[key], dtype=float)
            break
    else:
        g = supergradients(problem, psi)
    names = list(problem.node_names)
    ends = set(int(i) for i in getattr(problem, "endpoints", []))
    cmap = endpoint_colors(len(names))
    opt = None
    if exact is not None:
        opt = float(exact.objective) if hasattr(exact, "objective") else float(exact)

    fig, axes = plt.subplots(1, 3, figsize=(15.5, 4.6))
    for i, n in enumerate(names):
        style = "-" if i in ends else "--"
        axes[0].plot(it, psi[:, i], style, color=cmap[i], lw=1.4, label=n)
        axes[1].plot(it, g[:, i], style, color=cmap[i], lw=1.2, label=n)
    axes[0].set_title(r"(a) dual variables $\psi_i^k$", fontsize=10)
    axes[0].set_ylabel(r"$\psi_i$")
    axes[1].set_title(r"(b) supergradient $g_i(\psi^k)$", fontsize=10)
    axes[1].set_ylabel(r"$g_i$")
    axes[1].axhline(0.0, color="0.5", lw=0.6)
    axes[0].legend(fontsize=8, ncol=2, title="node (dashed: not an endpoint)", title_fontsize=7)
    # (b) is dominated by the first iterations: zoom on the tail so convergence to 0 is visible
    tail = g[min(K - 1, K // 10) :]
    lim = float(np.max(np.abs(tail))) if tail.size else 0.0
    if lim > 0 and K > 10 and lim < 0.5 * float(np.max(np.abs(g))):
        axes[1].set_ylim(-1.15 * lim, 1.15 * lim)
        axes[1].text(
            0.98,
            0.02,
            f"y-axis zoomed: first {K // 10} iterations clipped",
            transform=axes[1].transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.35",
        )

    ax = axes[2]
    res = np.max(np.abs(g), axis=1)
    ax.semilogy(it, np.maximum(res, 1e-300), color="tab:blue", lw=1.4, label=r"residual $\max_i |g_i|$")
    if opt is not None and "dual_value" in tr:
        q = np.asarray(tr["dual_value"], dtype=float)
        gap = (opt - q) / max(abs(opt), 1e-300)
        pos = gap > 0
        ax.semilogy(it[pos], gap[pos], color="tab:red", lw=1.4, label=r"relative dual gap (opt $-\,q$)/|opt|")
        if (~pos).any():
            floor = float(np.min(gap[pos])) / 3 if pos.any() else 1e-16
            ax.semilogy(
                it[~pos], np.full((~pos).sum(), floor), "o", mfc="none", color="tab:red", ms=3, label="gap <= 0"
            )
        ax.set_title(f"(c) residual and relative dual gap (last gap {gap[-1]:.2e})", fontsize=10)
    else:
        ax.set_title("(c) flow-balance residual", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    for a in axes:
        a.set_xlabel("iteration k")
    fig.suptitle(
        title or f"Convergence of {solution.backend} on {getattr(problem, 'name', '') or type(problem).__name__}",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------------------------- Fig. 3
def _graph_positions(problem: Any, cost: Any) -> NDArray[np.float64]:
    """Coordinates of the geodesic graph's nodes: demand points and endpoints; NaN for others."""
    n_graph = cost.graph.shape[0]
    pos = np.full((n_graph, 2), np.nan)
    pos[np.asarray(cost.point_nodes)] = np.asarray(problem.demand.xy, dtype=float)
    xy = np.asarray(problem.network.positions(), dtype=float)
    for name, node in cost.endpoint_nodes.items():
        pos[int(node)] = xy[problem.node_index(name)]
    return pos


def plot_power_network(
    problem: Any,
    solution: Any,
    cost: Any = None,
    ax: Any = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    r"""Partitioning and routing on a power network, like Fig. 3 of Laurentin et al. (2025).

    Consumers (demand points) are coloured by their assigned substation (size ~ demand); for each
    consumer, the edges of its shortest path to its substation through the distribution graph are
    drawn in that substation's colour (their union is a shortest-path tree rooted at the
    substation); the other distribution lines are drawn faint grey; the transmission network is on
    top with its flows, supplies and the mass served by each substation, as in ``plot_cells``.

    Parameters
    ----------
    problem : SpatialFlowProblem with a ``Geodesic`` assignment cost
        (e.g. ``otmodel.instances.power_network``)
    solution : Solution of ``problem``
    cost : Geodesic, optional -- default ``problem.assignment_cost``
    ax, path, title : as in ``plot_cells``

    Returns
    -------
    matplotlib.figure.Figure
    """
    import scipy.sparse as sp
    from matplotlib.collections import LineCollection
    from scipy.sparse.csgraph import dijkstra

    _need_spatial(problem, solution, "plot_power_network")
    plt = _pyplot()
    cost = problem.assignment_cost if cost is None else cost
    if not hasattr(cost, "graph") or not hasattr(cost, "endpoint_nodes"):
        raise UnsupportedError("plot_power_network needs a Geodesic assignment cost (graph, point_nodes, endpoint_nodes)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 8.0))
    else:
        fig = ax.figure
    labels = _labels(problem, solution)
    masses = _cell_mass(problem, solution, labels)
    colors = endpoint_colors(problem.n_endpoints)
    pos = _graph_positions(problem, cost)

    coo = cost.graph.tocoo() if cost.directed else sp.triu(cost.graph.maximum(cost.graph.T), k=1).tocoo()
    segs = np.stack([pos[coo.row], pos[coo.col]], axis=1)
    ok = np.all(np.isfinite(segs), axis=(1, 2))
    ax.add_collection(LineCollection(list(segs[ok]), colors="0.75", linewidths=0.5, zorder=1, gid="graph"))

    g = cost.graph.T.tocsr() if cost.directed else cost.graph
    point_nodes = np.asarray(cost.point_nodes)
    for e, name in enumerate(problem.endpoint_names):
        src = int(cost.endpoint_nodes[name])
        _, pred = dijkstra(g, directed=cost.directed, indices=src, return_predecessors=True)
        edges: set[tuple[int, int]] = set()
        for v in point_nodes[labels == e]:
            v = int(v)
            while v != src and pred[v] >= 0 and (v, int(pred[v])) not in edges:
                edges.add((v, int(pred[v])))
                v = int(pred[v])
        if edges:
            arr = np.array(sorted(edges))
            tsegs = np.stack([pos[arr[:, 0]], pos[arr[:, 1]]], axis=1)
            ax.add_collection(
                LineCollection(list(tsegs), colors=[colors[e]], linewidths=1.3, zorder=2, gid=f"tree:{name}")
            )

    mass = np.asarray(problem.demand.mass, dtype=float)
    size = 5.0 + 30.0 * mass / (mass.max() if mass.max() > 0 else 1.0)
    xy = np.asarray(problem.demand.xy, dtype=float)
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c=colors[labels], edgecolors="black", linewidths=0.25, zorder=3, gid="cells")

    _draw_network(ax, problem, solution, masses, colors)
    _network_legend(ax, colors, list(problem.endpoint_names), masses)
    allxy = np.vstack([xy, np.asarray(problem.network.positions(), dtype=float)])
    lo, hi = allxy.min(axis=0), allxy.max(axis=0)
    pad = 0.03 * float(np.max(hi - lo))
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        title
        or f"{getattr(problem, 'name', '')} -- {solution.backend}, objective {solution.objective:.6g}\n"
        "consumers and shortest-path trees coloured by substation; transmission flows in black",
        fontsize=10,
    )
    _save(fig, path)
    return fig
