"""Figures of a relocation: bin densities before and after, and the displacement histogram."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["bin_density", "plot_relocation"]


def bin_density(problem: Any, xy: NDArray[np.float64] | None = None, bin_of: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
    """Mass per unit of free area in each bin, shape (mx, my); NaN where the bin has no free part.

    Give the points' bins ``bin_of`` for an answer: a final position on the edge between two bins
    belongs to the bin it was assigned to, which its coordinates alone cannot tell.

    Parameters
    ----------
    problem : RelocationProblem
        Gives the bins, the mass per point and each bin's free area (outside exclusion zones).
    xy : (n_points, 2) array of float, optional
        Point positions, binned by ``problem.bin_index``; used when ``bin_of`` is not given.
    bin_of : (n_points, 2) array of int, optional
        Bin ``(ix, iy)`` of every point (e.g. ``result.bin_of``); takes precedence over ``xy``.

    Returns
    -------
    (mx, my) array of float
        Mass per unit of free area; a bin is over capacity when this exceeds
        ``capacity / free_area``.
    """
    mx, my = problem.bins
    ij = problem.bin_index(xy) if bin_of is None else np.asarray(bin_of)
    load = np.bincount(ij[:, 0] * my + ij[:, 1], minlength=mx * my) * problem.mass
    area = problem.free_area
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.where(area > 0, load / area, np.nan)
    return dens.reshape(mx, my)


def plot_relocation(problem: Any, results: dict[str, Any], path: str | None = None) -> Any:
    """Heat-maps of bin density (before, after each result) and the displacement histograms.

    ``results`` maps a label to a relocation result. The colour scale is shared and marks the
    capacity threshold (largest ``capacity / free area``) so that over-full bins stand out.

    Parameters
    ----------
    problem : RelocationProblem
        The problem (points before relocation, bins, exclusion zones drawn hatched).
    results : dict of str to RelocationResult
        Panel label -> result (its ``bin_of`` and ``displacement()`` are read).
    path : str, optional
        Where to write the figure (``savefig``: the extension picks the format); ``None`` writes nothing.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed: close it when done).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    before = bin_density(problem, problem.points)
    after = {k: bin_density(problem, bin_of=r.bin_of) for k, r in results.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = float(np.nanmax(np.where(problem.free_area > 0, problem.capacity.reshape(-1) / problem.free_area, np.nan)))
    vmax = max(float(np.nanmax(before)), thr * 1.01)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=thr, vmax=vmax)
    panels = 1 + len(after)
    fig, axes = plt.subplots(1, panels + 1, figsize=(4.2 * (panels + 1), 4.2))
    x0, x1, y0, y1 = problem.bounds
    im = None
    for ax, (title, dens) in zip(axes[:panels], [("before", before), *after.items()], strict=True):
        im = ax.imshow(dens.T, origin="lower", extent=(x0, x1, y0, y1), cmap="RdBu_r", norm=norm, interpolation="nearest")
        for zx0, zx1, zy0, zy1 in problem.exclusions:
            ax.add_patch(Rectangle((zx0, zy0), zx1 - zx0, zy1 - zy0, fill=False, hatch="//", edgecolor="k", lw=0.8))
        over = int(np.nansum(dens > thr * (1 + 1e-9)))
        # three short lines: side by side, one long line per panel ran into its neighbours' titles
        ax.set_title(f"{title}\nmax density {np.nanmax(dens) / thr:.2f} x threshold\n{over} bins over", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=axes[:panels].tolist(), shrink=0.8, label="mass per unit free area (white = threshold)")
    ax = axes[-1]
    dmax = max(float(r.displacement().max()) for r in results.values()) or 1.0
    bins = np.linspace(0, dmax, 60)
    for k, r in results.items():
        d = r.displacement()
        ax.hist(d[d > 0], bins=bins, histtype="step", lw=1.4, label=f"{k} ({int(np.count_nonzero(d))} moved)")
    ax.set_yscale("log")
    ax.set_xlabel(f"displacement ({problem.metric})")
    ax.set_ylabel("points")
    ax.set_title("displacement of the moved points")
    ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
