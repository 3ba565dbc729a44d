r"""Figures of Arqué, Uribe, Ocampo-Martinez (section IV), with matplotlib.

* ``plot_flow_steps`` -- like Fig. 2: the network at selected steps of a flow, node area and
  colour by `\rho_t`, arrows for the mass moved along edges in the step, targets ringed.
* ``plot_tv_cost`` -- like Fig. 3: total-variation distance `\tfrac12\|\nu-\rho_t\|_1`
  (log scale) and transport cost `\langle C,\pi_1\rangle` per step, one line per run.
* ``plot_gamma_sweep`` -- like Fig. 4: TV, cost and time per step for several gamma and the
  exact step, one column per omega.
* ``plot_tv_panels`` -- like Fig. 5: TV per step, one panel per schedule, one line per graph.

matplotlib is imported inside the functions (non-interactive ``Agg`` unless pyplot is already set
up). Every function returns the ``Figure`` and writes a PNG when given ``path=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.plot import _pyplot, _save

__all__ = ["plot_flow_steps", "plot_tv_cost", "plot_gamma_sweep", "plot_tv_panels"]

#: TV values are drawn no lower than this on log axes (an exact flow reaches 0; drawn at the floor)
TV_FLOOR = 1e-6


def _tv(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(np.asarray(v, float), TV_FLOOR)


def plot_flow_steps(
    flow: Any,
    pos: NDArray[np.float64],
    steps: Sequence[int] | None = None,
    kinds: Sequence[str] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
    ncols: int = 3,
    move_eps: float = 1e-3,
) -> Any:
    """The network at steps ``steps`` (default: all, up to 6) of ``flow``.

    Nodes: area and colour by mass `\\rho_t` (shared colour scale); a red ring marks
    `\\nu > 0`, its radius the target mass. Arrows: mass moved ``j -> i`` in the step
    from `\\rho_t` to `\\rho_{t+1}` (entries of `\\pi_1` off the diagonal above
    ``move_eps``), width by mass. ``kinds`` (one word per node, e.g. "source", "tank", "demand")
    chooses the marker: square, triangle, circle (the water network of Arqué et al., Fig. 2).

    Parameters
    ----------
    flow : AttractionFlow
        The flow of ``attraction_flow``.
    pos : (n, 2) array of float
        Node positions for drawing (e.g. the second value of ``graph_family``).
    steps : sequence of int, optional
        Step indices ``t`` of `\\rho_t` to draw, in ``0..len(flow.rhos) - 1``; default all, up to 6
        evenly spaced.
    kinds : sequence of str, optional
        One word per node choosing its marker, as above; default circles.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (``None``: none, or a default description).
    ncols : int, default 3
        Panels per row.
    move_eps : float, default 1e-3
        Smallest mass moved that is drawn as an arrow.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    from matplotlib.colors import Normalize

    p = flow.problem
    T = len(flow.rhos) - 1
    if steps is None:
        steps = list(range(min(T, 5) + 1))
    steps = [t for t in steps if 0 <= t <= T]
    nrows = (len(steps) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.9 * nrows), squeeze=False)
    W = sp.coo_matrix(p.weights)
    vmax = float(max(flow.rhos.max(), p.nu.max()))
    norm = Normalize(0.0, vmax)
    cmap = plt.get_cmap("Blues")
    markers = {"source": "s", "tank": "^", "demand": "o"}
    span = float(np.ptp(pos[:, 0]) + np.ptp(pos[:, 1])) / 2 or 1.0
    for ax, t in zip(axes.ravel(), steps, strict=False):
        ax.set_gid(f"step:{t}")
        for a, b in zip(W.row, W.col, strict=True):
            if a < b:
                ax.plot(pos[[a, b], 0], pos[[a, b], 1], color="0.8", lw=1.0, zorder=1)
        rho = flow.rhos[t]
        if t < T:
            P = sp.coo_matrix(flow.steps[t].plan)
            for j, i, m in zip(P.row, P.col, P.data, strict=True):
                if j != i and m > move_eps:
                    ax.annotate(
                        "",
                        xy=pos[i],
                        xytext=pos[j],
                        arrowprops={"arrowstyle": "-|>", "color": "tab:orange", "lw": 0.8 + 6 * m / vmax},
                        zorder=2,
                    )
        kind_list = list(kinds) if kinds is not None else ["demand"] * p.n_nodes
        for kind in sorted(set(kind_list)):
            idx = np.array([k for k in range(p.n_nodes) if kind_list[k] == kind])
            ax.scatter(
                pos[idx, 0],
                pos[idx, 1],
                s=25 + 420 * rho[idx] / vmax,
                c=cmap(norm(rho[idx])),
                marker=markers.get(kind, "o"),
                edgecolors="k",
                linewidths=0.6,
                zorder=3,
            )
        tgt = np.flatnonzero(p.nu > 0)
        ax.scatter(
            pos[tgt, 0],
            pos[tgt, 1],
            s=25 + 420 * p.nu[tgt] / vmax,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=1.2,
            zorder=4,
        )
        if p.n_nodes <= 30:
            for k, name in enumerate(p.node_names):
                ax.text(pos[k, 0] + 0.07 * span, pos[k, 1] + 0.07 * span, name, fontsize=7, zorder=5)
        head = f"t = {t}: TV {flow.tv[t]:.3f}"
        if t < T:
            head += f", omega {flow.steps[t].step.omega:.3g}, cost {flow.steps[t].transport_cost:.3g}"
        ax.set_title(head, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        ax.margins(0.12)
    for ax in axes.ravel()[len(steps) :]:
        ax.axis("off")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.6, label=r"mass $\rho_t$ (red ring: target $\nu$)")
    if kinds is not None:
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], ls="", marker=markers.get(k, "o"), mfc="w", mec="k", ms=6, label=k)
            for k in sorted(set(kinds))
        ]
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="tab:red", ms=8, label="target"))
        fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=len(handles), frameon=False)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


def plot_tv_cost(
    flows: Mapping[str, Any], path: str | Path | None = None, title: str | None = None, eps: float | None = None
) -> Any:
    """TV distance to the target (log scale) and transport cost per step, one line per flow (Fig. 3).

    Left: `\\tfrac12\\|\\nu-\\rho_t\\|_1` against ``t``; right: `\\langle C,\\pi_1\\rangle` of each step.

    Parameters
    ----------
    flows : mapping of str to AttractionFlow
        Legend label -> flow.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (``None``: none, or a default description).
    eps : float, optional
        Accuracy `\\varepsilon` of Algorithm 1, drawn as a dotted line; ``None`` draws none.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (label, f) in enumerate(flows.items()):
        mk = "osD^v<>"[k % 7]
        a1.semilogy(np.arange(len(f.tv)), _tv(f.tv), marker=mk, ms=4, label=label, gid=f"tv:{label}")
        a2.plot(np.arange(1, len(f.steps) + 1), f.costs, marker=mk, ms=4, label=label, gid=f"cost:{label}")
    if eps is not None:
        a1.axhline(eps, color="k", ls=":", lw=1, label=f"eps = {eps:g}")
    a1.set_xlabel("step t")
    a1.set_ylabel(r"TV $\frac{1}{2}\|\nu-\rho_t\|_1$")
    a1.set_title("distance to the target")
    a2.set_xlabel("step t (cost of the move from $\\rho_{t-1}$ to $\\rho_t$)")
    a2.set_ylabel(r"transport cost $\langle C,\pi_1\rangle$")
    a2.set_title("cost per step")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_gamma_sweep(
    columns: Mapping[str, Mapping[str, Any]], path: str | Path | None = None, title: str | None = None
) -> Any:
    """Fig. 4: for each column (e.g. "omega = 0.1"), flows keyed by label ("gamma = 0.01", ...,
    "exact"): TV (log), transport cost and time per step (log).

    Parameters
    ----------
    columns : mapping of str to (mapping of str to AttractionFlow)
        Column title -> legend label -> flow; a label starting with "exact" is drawn as a black
        dashed reference.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (``None``: none, or a default description).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    ncol = len(columns)
    fig, axes = plt.subplots(3, ncol, figsize=(6 * ncol, 10), squeeze=False, sharex="col")
    for c, (col, flows) in enumerate(columns.items()):
        a_tv, a_cost, a_time = axes[0, c], axes[1, c], axes[2, c]
        for k, (label, f) in enumerate(flows.items()):
            style = (
                {"color": "k", "ls": "--", "marker": "x"} if label.startswith("exact") else {"marker": "osD^v"[k % 5]}
            )
            a_tv.semilogy(np.arange(len(f.tv)), _tv(f.tv), ms=4, label=label, **style)
            steps = np.arange(1, len(f.steps) + 1)
            a_cost.plot(steps, f.costs, ms=4, label=label, **style)
            a_time.semilogy(steps, np.maximum(f.times, 1e-4), ms=4, label=label, **style)
        a_tv.set_title(col)
        a_tv.set_ylabel(r"TV $\frac{1}{2}\|\nu-\rho_t\|_1$")
        a_cost.set_ylabel(r"cost $\langle C,\pi_1\rangle$ of step t")
        a_time.set_ylabel("seconds per step")
        a_time.set_xlabel("step t")
        for a in (a_tv, a_cost, a_time):
            a.grid(alpha=0.3)
        a_tv.legend(fontsize=8, ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_tv_panels(
    panels: Mapping[str, Mapping[str, Any]],
    path: str | Path | None = None,
    title: str | None = None,
    eps: float | None = None,
) -> Any:
    """Fig. 5: one panel per key (e.g. "omega = 1/t"), TV per step of each flow in it (log scale).

    Parameters
    ----------
    panels : mapping of str to (mapping of str to AttractionFlow)
        Panel title -> legend label (e.g. a graph family) -> flow.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (``None``: none, or a default description).
    eps : float, optional
        Accuracy `\\varepsilon` of Algorithm 1, drawn as a dotted line; ``None`` draws none.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False, sharey=True)
    for ax, (name, flows) in zip(axes[0], panels.items(), strict=True):
        for k, (label, f) in enumerate(flows.items()):
            ax.semilogy(np.arange(len(f.tv)), _tv(f.tv), marker="osD^v<>"[k % 7], ms=3, label=label)
        if eps is not None:
            ax.axhline(eps, color="k", ls=":", lw=1, label=f"eps = {eps:g}")
        ax.set_title(name)
        ax.set_xlabel("step t")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(r"TV $\frac{1}{2}\|\nu-\rho_t\|_1$")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig
