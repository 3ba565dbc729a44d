"""Figures of a relocation: bin densities before and after, and the displacement histogram."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["bin_density", "plot_relocation", "plot_spread"]


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


def _threshold(problem: Any) -> float:
    """The density threshold: the largest capacity per unit of free area over the bins."""
    area = problem.free_area
    cap = problem.capacity.reshape(-1)
    return float(np.max(cap[area > 0] / area[area > 0]))


def _zones(ax: Any, problem: Any) -> None:
    from matplotlib.patches import Rectangle

    for zx0, zx1, zy0, zy1 in problem.exclusions:
        ax.add_patch(Rectangle((zx0, zy0), zx1 - zx0, zy1 - zy0, fill=False, hatch="//", edgecolor="k", lw=0.8))


def plot_relocation(problem: Any, results: dict[str, Any], path: str | None = None) -> Any:
    """Heat-maps of bin density (before, after each result) and the displacement histograms.

    ``results`` maps a label to a relocation result. Densities are drawn as a multiple of the
    density threshold on one shared colour scale: white at the threshold, blue below, red above
    (only the input has red bins: a feasible answer has none), so that over-full bins stand out
    before and under-used ones after. Exclusion zones are hatched.

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

    thr = _threshold(problem)
    before = bin_density(problem, problem.points) / thr
    after = {k: bin_density(problem, bin_of=r.bin_of) / thr for k, r in results.items()}
    vmax = max(float(np.nanmax(before)), 1.01)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=vmax)
    panels = 1 + len(after)
    fig = plt.figure(figsize=(3.6 * panels + 1.0, 7.6), layout="constrained")
    grid = fig.add_gridspec(2, panels, height_ratios=[1.0, 0.85])
    x0, x1, y0, y1 = problem.bounds
    im = None
    axes = []
    for k, (title, dens) in enumerate([("before", before), *after.items()]):
        ax = fig.add_subplot(grid[0, k])
        axes.append(ax)
        im = ax.imshow(dens.T, origin="lower", extent=(x0, x1, y0, y1), cmap="RdBu_r", norm=norm, interpolation="nearest")
        _zones(ax, problem)
        over = int(np.nansum(dens > 1 + 1e-9))
        # three short lines: side by side, one long line per panel ran into its neighbours' titles
        ax.set_title(f"{title}\nlargest bin {np.nanmax(dens):.2f} x threshold\n{over} bins over", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.85, label="bin density / threshold (white: at the threshold)")
    ax = fig.add_subplot(grid[1, :])
    dmax = max(float(r.displacement().max()) for r in results.values()) or 1.0
    edges = np.linspace(0, dmax, 80).tolist()
    for label, r in results.items():
        d = r.displacement()
        moved = d > 0
        ax.hist(d[moved], bins=edges, histtype="step", lw=1.4,
                label=f"{label}: {int(np.count_nonzero(moved)):,} of {d.size:,} moved, mean {d[moved].mean() if moved.any() else 0.0:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel(f"distance moved ({problem.metric})")
    ax.set_ylabel("points")
    ax.set_title("displacement of the moved points (to the nearest free point of the assigned bin)", fontsize=10)
    ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_spread(
    problem: Any, result: Any, spread_positions: NDArray[np.float64], window: tuple[int, int, int, int] | None = None,
    path: str | None = None,
) -> Any:
    """The points assigned to a window of bins: where they came from, where they land, spread or not.

    Three panels: the input positions of the points assigned to the bins ``window`` (the window
    outlined), their positions at the nearest free point of their bins (the points that enter a bin
    from one side pile up on its edge), and ``spread_positions`` (``otmodel.model._relocation_spread``).
    Points are coloured by their input x coordinate, so that the order kept inside each bin shows.

    Parameters
    ----------
    problem : RelocationProblem
        Gives the points, the bins and the zones.
    result : RelocationResult
        An assignment with positions at the nearest free points (``spread=False``).
    spread_positions : (n_points, 2) array of float
        The same assignment's positions spread inside the bins.
    window : (ix0, ix1, iy0, iy1), optional
        Bins ``ix0 <= ix < ix1``, ``iy0 <= iy < iy1``; default: the 4 x 4 bins clear of zones that
        receive the most points from other bins.
    path : str, optional
        Where to write the figure; ``None`` writes nothing.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not closed).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    mx, my = problem.bins
    w, h = problem.bin_width, problem.bin_height
    if window is None:
        # the 4 x 4 bins without zones that receive the most points from other bins: where the
        # nearest free points pile up on bin edges, and what spreading is for
        kx, ky = min(4, mx), min(4, my)
        own = problem.flat_bins(problem.bin_index(problem.points))
        got = problem.flat_bins(result.bin_of)
        incoming = np.bincount(got[got != own], minlength=mx * my).reshape(mx, my).astype(float)
        whole = (problem.free_area >= problem.bin_width * problem.bin_height * (1 - 1e-12)).reshape(mx, my)
        c_in = np.zeros((mx + 1, my + 1))
        c_in[1:, 1:] = incoming.cumsum(0).cumsum(1)
        c_zone = np.zeros((mx + 1, my + 1))
        c_zone[1:, 1:] = (~whole).cumsum(0).cumsum(1)

        def box(c: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(c[kx:, ky:] - c[:-kx, ky:] - c[kx:, :-ky] + c[:-kx, :-ky])

        score = np.where(box(c_zone) > 0, -1.0, box(c_in))
        ix0, iy0 = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
        window = (ix0, ix0 + kx, iy0, iy0 + ky)
    ix0, ix1, iy0, iy1 = window
    b = result.bin_of
    sel = np.flatnonzero((b[:, 0] >= ix0) & (b[:, 0] < ix1) & (b[:, 1] >= iy0) & (b[:, 1] < iy1))
    wx0, wx1 = problem.bounds[0] + ix0 * w, problem.bounds[0] + ix1 * w
    wy0, wy1 = problem.bounds[2] + iy0 * h, problem.bounds[2] + iy1 * h
    pts = problem.points
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 5.0), layout="constrained")
    colour = pts[sel, 0]
    titles = (
        f"input positions of the {sel.size:,} points\nassigned to the {ix1 - ix0} x {iy1 - iy0} bins outlined",
        "at the nearest free point of their bin",
        "spread inside their bin (order kept)",
    )
    for k, (ax, q, title) in enumerate(zip(axes, (pts, result.positions, spread_positions), titles, strict=True)):
        if k == 0:
            lo = np.minimum(q[sel].min(axis=0), [wx0, wy0])
            hi = np.maximum(q[sel].max(axis=0), [wx1, wy1])
            pad = 0.5 * np.array([w, h])
            xlim, ylim = (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])
            ax.add_patch(Rectangle((wx0, wy0), wx1 - wx0, wy1 - wy0, fill=False, edgecolor="crimson", lw=1.2, ls="--"))
        else:
            xlim, ylim = (wx0 - 0.1 * w, wx1 + 0.1 * w), (wy0 - 0.1 * h, wy1 + 0.1 * h)
        for gx in problem.bounds[0] + w * np.arange(mx + 1):
            if xlim[0] <= gx <= xlim[1]:
                ax.axvline(gx, color="0.8", lw=0.6, zorder=0)
        for gy in problem.bounds[2] + h * np.arange(my + 1):
            if ylim[0] <= gy <= ylim[1]:
                ax.axhline(gy, color="0.8", lw=0.6, zorder=0)
        _zones(ax, problem)
        ax.scatter(q[sel, 0], q[sel, 1], c=colour, s=9, cmap="viridis", linewidths=0)
        if k:
            distinct = np.unique(q[sel], axis=0).shape[0]
            title += f"\n{distinct:,} distinct positions"
        ax.set_title(title, fontsize=9)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal")
    axes[1].set_xlabel("grey lines: bin edges; colour: input x")
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
