r"""Figures of section 4 of Mokhtari et al. (distributed ADMM for regularized OT on graphs).

* ``plot_error_curves`` -- like Fig. 1: `\log_{10}\mathrm{Error}_k` (3.2) against the
  iterations, one panel per graph, one curve per gamma;
* ``plot_plan_heatmaps`` -- like Fig. 2: the source x sink transport plans as heat-maps, zero
  entries white, one panel per gamma with its count of zero entries;
* ``plot_departure`` -- like Fig. 4: `\log_{10}\mathrm{Error}_k` (top row) and the agents'
  copy norms `\|\pi^i_k\|` (bottom row) against the iterations, one column per gamma, with
  the departure iteration marked;
* ``plot_regularization_path`` -- Remark 2.4: the gap `\mathcal W_1^\gamma - \mathcal W_1` and the
  distance of the plan to the least-norm LP solution against gamma.

matplotlib is imported inside the functions (Agg backend unless pyplot is already set up). Every
function returns the ``Figure`` and writes a PNG when given ``path=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.plot import _pyplot, _save

__all__ = ["plot_error_curves", "plot_plan_heatmaps", "plot_departure", "plot_regularization_path", "bipartite_plan"]


def _errors(sol: Any) -> NDArray[np.float64]:
    err = np.asarray(sol.trace["error"], dtype=float)
    return np.log10(np.maximum(err, 1e-300))


def plot_error_curves(
    runs: Mapping[str, Mapping[float, Any]],
    tol: float | None = 1e-4,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    r"""Fig. 1: ``runs[graph][gamma]`` is an ``admm`` Solution; one panel per graph.

    Each panel shows `\log_{10}\mathrm{Error}_k` against `k` for every gamma, the
    stopping threshold ``tol`` as a dashed line, and the iteration count in the legend.

    Parameters
    ----------
    runs : mapping of str to (mapping of float to Solution)
        Graph name -> gamma -> a Solution of the ``admm`` backend (its trace has the ``"error"``
        column of (3.2)).
    tol : float or None, default 1e-4
        Stopping threshold drawn as a dashed line at `\log_{10}` tol; ``None`` draws none.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (default: a description naming the paper's figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    names = list(runs)
    ncol = min(2, len(names))
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 3.8 * nrow), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes.flat, names, strict=False):
        for c, (gamma, sol) in enumerate(runs[name].items()):
            e = _errors(sol)
            ax.plot(
                np.arange(1, e.size + 1),
                e,
                color=colors[c % len(colors)],
                lw=1.3,
                label=f"$\\gamma$ = {gamma:g}  ({sol.iterations} it.)",
            )
        if tol is not None:
            ax.axhline(np.log10(tol), color="0.4", ls="--", lw=0.9, label=f"$\\varepsilon$ = {tol:g}")
        ax.set_title(f"{name} graph")
        ax.set_xlabel("iteration k")
        ax.set_ylabel("log$_{10}$ Error$_k$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title or "ADMM residual (3.2) against iterations (like Fig. 1)")
    fig.tight_layout()
    _save(fig, path)
    return fig


def bipartite_plan(problem: Any, flows: Any, sources: Sequence[str], sinks: Sequence[str]) -> NDArray[np.float64]:
    """The ``len(sources) x len(sinks)`` matrix of flows on the arcs source -> sink.

    The transport plan of a bipartite ``GraphTransportProblem`` as a matrix, for
    ``plot_plan_heatmaps``.

    Parameters
    ----------
    problem : FlowProblem
        The problem (it resolves arc names).
    flows : (n_arcs,) array of float
        Flow per arc, in the problem's arc order (e.g. ``solution.flows``).
    sources, sinks : sequence of str
        Row and column node names; every arc source -> sink must exist (else ``problem.arc_index``
        raises its typed error naming the pair).

    Returns
    -------
    (len(sources), len(sinks)) array of float
        ``out[a, b]`` is the flow on arc ``sources[a] -> sinks[b]``.
    """
    f = np.asarray(flows, dtype=float)
    out = np.zeros((len(sources), len(sinks)))
    for a, s in enumerate(sources):
        for b, t in enumerate(sinks):
            out[a, b] = f[problem.arc_index(str(s), str(t))]
    return out


def plot_plan_heatmaps(
    plans: Mapping[float, NDArray[np.float64]],
    zero_tol: float = 1e-4,
    path: str | Path | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> Any:
    """Fig. 2: one heat-map per gamma; entries below ``zero_tol`` are white and counted as zeros.

    Parameters
    ----------
    plans : mapping of float to 2-d array
        Gamma -> source x sink plan (``bipartite_plan``).
    zero_tol : float, default 1e-4
        Entries below it are drawn white and counted as zero entries in the panel title.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (default: a description naming the paper's figure).
    row_labels, col_labels : sequence of str, optional
        Tick labels of sources and sinks (default 1, 2, ...).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    from matplotlib import colormaps

    keys = list(plans)
    vmax = max(float(np.max(p)) for p in plans.values())
    fig, axes = plt.subplots(1, len(keys), figsize=(3.0 * len(keys) + 1.2, 3.6), squeeze=False, layout="constrained")
    cmap = colormaps["viridis"].with_extremes(bad="white")
    im = None
    for col, (ax, g) in enumerate(zip(axes[0], keys, strict=True)):
        mat = np.asarray(plans[g], dtype=float)
        zero = mat < zero_tol
        im = ax.imshow(np.ma.masked_where(zero, mat), cmap=cmap, vmin=0.0, vmax=vmax)
        for (r, c), v in np.ndenumerate(mat):
            if not zero[r, c]:
                ax.text(
                    c,
                    r,
                    f"{v:.3f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if v < 0.6 * vmax else "black",
                )
        ax.set_title(f"$\\gamma$ = {g:g}\n{int(zero.sum())} zero entries", fontsize=10)
        ax.set_xticks(range(mat.shape[1]))
        ax.set_yticks(range(mat.shape[0]))
        ax.set_xticklabels(col_labels or [str(j + 1) for j in range(mat.shape[1])], fontsize=8)
        ax.set_yticklabels(row_labels or [str(i + 1) for i in range(mat.shape[0])], fontsize=8)
        ax.set_xlabel("sink")
        if col == 0:
            ax.set_ylabel("source")
        ax.set_xticks(np.arange(-0.5, mat.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, mat.shape[0]), minor=True)
        ax.grid(which="minor", color="0.85", lw=0.5)
        ax.tick_params(which="minor", length=0)
    if im is not None:
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="flow")
    fig.suptitle(title or f"transport plans (white: < {zero_tol:g}), like Fig. 2")
    _save(fig, path)
    return fig


def plot_departure(
    runs: Mapping[float, Any],
    k_event: int | None,
    node_names: Sequence[str] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Any:
    r"""Fig. 4: per gamma (columns), `\log_{10}\mathrm{Error}_k` and the copy norms `\|\pi^i_k\|`.

    Parameters
    ----------
    runs : mapping of float to Solution
        Gamma -> an ``admm`` Solution run with ``events=[Departure(...)]`` (its trace has the
        ``"error"`` and ``"copy_norms"`` columns).
    k_event : int or None
        Iteration of the departure, marked by a red dashed line; ``None`` marks nothing.
    node_names : sequence of str, optional
        Agent names for the legend (default 1, 2, ...); agents that left are labelled "(left)".
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (default: a description naming the paper's figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    keys = list(runs)
    fig, axes = plt.subplots(2, len(keys), figsize=(4.6 * len(keys), 6.4), squeeze=False, sharex="col")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, g in enumerate(keys):
        sol = runs[g]
        e = _errors(sol)
        k = np.arange(1, e.size + 1)
        ax = axes[0, c]
        ax.plot(k, e, color="C0", lw=1.2)
        ax.set_title(f"$\\gamma$ = {g:g}  ({sol.iterations} it., {sol.status.value})", fontsize=10)
        ax.set_ylabel("log$_{10}$ Error$_k$")
        ax.grid(alpha=0.3)
        norms = np.asarray(sol.trace["copy_norms"], dtype=float)
        ax2 = axes[1, c]
        names = node_names or [str(i + 1) for i in range(norms.shape[1])]
        active = set(sol.info.get("active", names))
        for i in range(norms.shape[1]):
            left = "" if names[i] in active else " (left)"
            ax2.plot(k, norms[:, i], color=colors[i % len(colors)], lw=1.1, label=f"agent {names[i]}{left}")
        ax2.set_xlabel("iteration k")
        ax2.set_ylabel("$\\|\\pi^i_k\\|$")
        ax2.grid(alpha=0.3)
        if k_event is not None:
            for a in (ax, ax2):
                a.axvline(k_event, color="red", ls="--", lw=0.9)
            ax.text(k_event, ax.get_ylim()[1], " departure", color="red", fontsize=8, va="top")
        if c == len(keys) - 1:
            ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title or "convergence and copy norms, with a departure (like Fig. 4)")
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_regularization_path(path_result: Any, path: str | Path | None = None, title: str | None = None) -> Any:
    r"""Remark 2.4: `\mathcal W_1^\gamma - \mathcal W_1` and `\|\pi_\gamma - \pi^{LN}\|_\infty`
    against gamma (log-log), from ``otmodel.validation.crosscheck.regularization_path``.

    The left panel also draws the bound `\frac{\gamma}{2}\|\pi^{LN}\|^2` on the gap; gamma = 0
    is left out (log axes).

    Parameters
    ----------
    path_result : RegularizationPath
        The result of ``regularization_path``.
    path : str or Path, optional
        Where to write the figure as a PNG (150 dpi; parent folders are created); ``None`` writes
        nothing.
    title : str, optional
        Figure title (default: a description naming the paper's figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    plt = _pyplot()
    g = np.asarray(path_result.gammas, dtype=float)
    keep = g > 0
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    gap = np.maximum(path_result.gaps[keep], 1e-16)
    axes[0].loglog(g[keep], gap, "o-", label="$W_1^\\gamma - W_1$ (exact)")
    bound = 0.5 * g[keep] * float(path_result.least_norm_plan @ path_result.least_norm_plan)
    axes[0].loglog(g[keep], bound, "--", color="0.4", label="bound $\\frac{\\gamma}{2}\\|\\pi^{LN}\\|^2$")
    axes[0].set_xlabel("$\\gamma$")
    axes[0].set_ylabel("$W_1^\\gamma - W_1$")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3, which="both")
    dist = np.maximum(path_result.plan_distances[keep], 1e-16)
    axes[1].loglog(g[keep], dist, "s-", color="C1")
    axes[1].set_xlabel("$\\gamma$")
    axes[1].set_ylabel("$\\max_a |\\pi_{\\gamma,a} - \\pi^{LN}_a|$")
    axes[1].set_title("distance to the least-norm LP solution", fontsize=10)
    axes[1].grid(alpha=0.3, which="both")
    fig.suptitle(title or "Remark 2.4: $W_1^\\gamma \\to W_1$ as $\\gamma \\to 0$")
    fig.tight_layout()
    _save(fig, path)
    return fig
