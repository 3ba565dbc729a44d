r"""The coarse instance of a relocation problem, whose prices start the auction on the fine one.

The coarse instance is the fine one seen from twice as far: bins of twice the side
(``mx/2 x my/2``), a quarter of the points (every fourth point of each fine bin, so that every
region keeps a quarter of its points up to one per bin), and every coarse bin the capacity of its
four fine bins divided by 4: the same points per bin, the same exclusion zones. One thing more
makes its prices the fine ones, sampled: its costs. A point pays its distance to the nearest free
point of a *fine-bin-sized box at the coarse bin's centre* (``_shrink``), not of the whole coarse
bin, so that moving `r` towards a bin's centre costs what it costs on the fine grid. With the
whole coarse bins instead, every move is shorter by about a fine bin's width; measured at 100k
points / 64 x 64 (squared Euclidean), the coarse optimum then cost 8.5 % less per point than the
fine one, its prices ran about 5 % below the fine ones, and the interpolated prices were off by
-70 to +15 bin-crossing costs (of 1,303 at most), against -23 to +14 with the boxes (the coarse cost
per point then within 0.4 % of the fine one).

The fine start (``prolong``): the coarse prices, interpolated bilinearly between coarse centres,
where coarse bins without room (inside a zone) first take the price of the nearest bin with room.
Their exact bound `D(\psi)` is within 0.5 % of the optimum at 100k points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["coarse_problem", "prolong", "MIN_SIDE", "MIN_POINTS"]

#: The coarsest grid side and the fewest points a coarse instance may have.
MIN_SIDE = 16
MIN_POINTS = 20_000


def coarse_problem(P: Any, seed: int) -> Any | None:
    """The coarse instance of ``P`` (module docstring), or None where there is none: odd grid sides,
    a grid or a point set too small to be worth it, or too little room."""
    from otmodel.errors import OTModelError
    from otmodel.model.relocation import RelocationProblem

    mx, my = P.bins
    if mx % 2 or my % 2 or min(mx, my) < 2 * MIN_SIDE or P.n_points // 4 < MIN_POINTS:
        return None
    rng = np.random.default_rng(seed)
    ij = P.bin_index(P.points)
    order = np.lexsort((rng.random(P.n_points), ij[:, 0] * my + ij[:, 1]))
    sub = P.points[np.sort(order[int(rng.integers(4)) :: 4])]
    cap = np.asarray(P.capacity, dtype=float).reshape(mx // 2, 2, my // 2, 2).sum(axis=(1, 3)) / 4.0
    free = np.asarray(P.free_area, dtype=float).reshape(mx // 2, 2, my // 2, 2).sum(axis=(1, 3))
    frac = free / (4.0 * P.bin_width * P.bin_height)
    # RelocationProblem scales an explicit capacity map by each bin's free fraction: undo it
    per_bin = np.divide(cap, frac, out=np.zeros_like(cap), where=frac > 0)
    try:
        Pc = RelocationProblem(
            sub, P.bounds, bins=(mx // 2, my // 2), capacity=per_bin, exclusions=P.exclusions.tolist(),
            metric=P.metric, displacement=P.displacement, mass=float(P.mass), name=f"{P.name} (coarse)",
        )
    except OTModelError:
        return None
    _shrink(Pc, 0.5 * P.bin_width, 0.5 * P.bin_height)
    return Pc


def _shrink(Pc: Any, hx: float, hy: float) -> None:
    """Every coarse bin's free part cut to the box of half sides ``hx``, ``hy`` at its centre, where
    that leaves anything (the whole free part otherwise): the costs of the module docstring."""
    from otmodel.model.relocation import _frozen
    mcx, mcy = Pc.bins
    ix, iy = np.divmod(np.arange(mcx * mcy), mcy)
    cx = Pc.bounds[0] + (ix + 0.5) * Pc.bin_width
    cy = Pc.bounds[2] + (iy + 0.5) * Pc.bin_height
    ptr, rects = Pc.rect_ptr, Pc.rects
    per = np.diff(ptr)
    k = np.repeat(np.arange(mcx * mcy), per)
    cut = np.stack([np.maximum(rects[:, 0], cx[k] - hx), np.minimum(rects[:, 1], cx[k] + hx),
                    np.maximum(rects[:, 2], cy[k] - hy), np.minimum(rects[:, 3], cy[k] + hy)], axis=1)
    ok = (cut[:, 0] < cut[:, 1]) & (cut[:, 2] < cut[:, 3])
    keep_bin = np.bincount(k[ok], minlength=mcx * mcy) > 0
    use = np.where(keep_bin[k], ok, True)
    new = np.where(keep_bin[k][:, None], cut, rects)[use]
    nptr = np.zeros_like(ptr)
    np.cumsum(np.bincount(k[use], minlength=mcx * mcy), out=nptr[1:])
    # read-only, as the problem's own: numba types a writable array apart, and every kernel would be
    # compiled a second time for the coarse levels (about 20 s, once per installation)
    Pc.rect_ptr, Pc.rects = _frozen(nptr), _frozen(new)


def _fill_roomless(psi: NDArray[np.float64], room: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Every bin without room takes the price of the nearest bin with room."""
    if room.all() or not room.any():
        return psi
    from scipy.ndimage import distance_transform_edt

    _, (ix, iy) = distance_transform_edt(~room, return_indices=True)
    return psi[ix, iy]  # type: ignore[no-any-return]


def prolong(Pc: Any, psi_c: NDArray[np.float64], P: Any) -> NDArray[np.float64]:
    """Prices on the fine grid of ``P`` (flat, least 0 over the bins with room, 0 on the others)
    from the prices ``psi_c`` of its coarse instance ``Pc`` (module docstring)."""
    from scipy.ndimage import map_coordinates

    mcx, mcy = Pc.bins
    q = _fill_roomless(np.asarray(psi_c, dtype=float).reshape(mcx, mcy), np.asarray(Pc.slots).reshape(mcx, mcy) > 0)
    mx, my = P.bins
    # the centre of fine bin k sits at coarse index (k + 1/2) (mc / m) - 1/2
    u = (np.arange(mx) + 0.5) * (mcx / mx) - 0.5
    v = (np.arange(my) + 0.5) * (mcy / my) - 0.5
    U, V = np.meshgrid(u, v, indexing="ij")
    p = map_coordinates(q, np.stack([U.ravel(), V.ravel()]), order=1, mode="nearest")
    use = np.asarray(P.slots).reshape(-1) > 0
    return np.where(use, p - p[use].min(), 0.0)  # type: ignore[no-any-return]
