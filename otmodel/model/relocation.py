r"""Density-constrained relocation of a planar point set (the fourth system of otmodel).

The users' question (seed ``001``: VLSI placement, millions of points, 40-50 times per run): move
`N` points of a rectangle so that no bin of a uniform grid holds more than its capacity, moving
them as little as possible, and know how far an answer is from the optimum.

Model. Point `i` at `x_i` (mass `m`, the same for every point) goes whole to one
bin `j`; bin `j` holds at most `u_j = \lfloor \mathrm{cap}_j / m \rfloor` points,
where `\mathrm{cap}_j` is the capacity (in mass) of its *free* part -- the bin minus the
exclusion rectangles, capacity in proportion to the free area. Moving `i` into `j` costs

.. math::
    c_{ij} = d(x_i, F_j)^p, \qquad d \in \{\|\cdot\|_2, \|\cdot\|_1\},\quad p \in \{1\ (\text{"l1"}), 2\ (\text{"l2"})\}

with `F_j` the free part of bin `j` (0 for the point's own bin when it is free). The
problem is the transportation problem with capacitated sinks

.. math::
    \min_x \sum_{i,j} m\,c_{ij} x_{ij} \quad\text{s.t.}\quad \sum_j x_{ij} = 1,\quad
    \sum_i x_{ij} \le u_j,\quad x \ge 0,

whose constraint matrix is totally unimodular with integral `u`: an integral optimum exists and
the LP value is the optimum of the integral placement. Its dual is

.. math::
    \max_{\psi \ge 0}\; D(\psi) = m\Big(\sum_i \min_j (c_{ij} + \psi_j) - \sum_j \psi_j u_j\Big),

a lower bound on the optimum for every `\psi \ge 0` (weak duality), equal to it at a dual
optimum. `D` is evaluated exactly over all pairs by searching rings of bins outward from each
point's bin (``otmodel.model._relocation_kernels``).

Bins are indexed ``[ix, iy]`` (``ix`` along x); flattened, bin ``(ix, iy)`` is ``ix * my + iy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidBoundsError, InvalidDataError, ModelFileError, UnbalancedError

if TYPE_CHECKING:  # pragma: no cover
    from otmodel.model.problems import SpatialFlowProblem

__all__ = ["RelocationProblem", "METRICS", "DISPLACEMENTS", "gaussian_mixture_instance"]

METRICS = ("euclidean", "manhattan")
DISPLACEMENTS = ("l1", "l2")
#: Capacities within this relative distance of an integer count of points round up to it (a
#: capacity of 16 points computed as 15.999999999999998 from areas is 16).
_COUNT_RTOL = 1e-9


def _frozen(a: NDArray[Any]) -> NDArray[Any]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _finite(v: Any, what: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{what} must be a number, got {v!r}") from exc
    if not math.isfinite(f):
        raise InvalidDataError(f"{what} is {f}; a finite number is required")
    return f


def _free_rectangles(
    x0: float, x1: float, y0: float, y1: float, zones: NDArray[np.float64]
) -> list[tuple[float, float, float, float]]:
    """The bin ``[x0, x1] x [y0, y1]`` minus the open exclusion rectangles, as disjoint rectangles.

    The cut lines of the zones that cross the bin split it into a small grid of cells; a cell is
    free when no zone covers it. Free cells of one row (same y-interval) that touch are merged, so a
    bin crossed by one zone edge gives one or two rectangles, not a grid of them.
    """
    if zones.size == 0:
        return [(x0, x1, y0, y1)]
    hit = (zones[:, 0] < x1) & (zones[:, 1] > x0) & (zones[:, 2] < y1) & (zones[:, 3] > y0)
    z = zones[hit]
    if z.shape[0] == 0:
        return [(x0, x1, y0, y1)]
    xs = np.unique(np.clip(np.concatenate([[x0, x1], z[:, 0], z[:, 1]]), x0, x1))
    ys = np.unique(np.clip(np.concatenate([[y0, y1], z[:, 2], z[:, 3]]), y0, y1))
    out: list[tuple[float, float, float, float]] = []
    for b in range(len(ys) - 1):
        ya, yb = ys[b], ys[b + 1]
        ym = 0.5 * (ya + yb)
        run: list[float] | None = None
        for a in range(len(xs) - 1):
            xa, xb = xs[a], xs[a + 1]
            xm = 0.5 * (xa + xb)
            covered = bool(np.any((z[:, 0] <= xm) & (xm <= z[:, 1]) & (z[:, 2] <= ym) & (ym <= z[:, 3])))
            if covered:
                if run is not None:
                    out.append((run[0], run[1], ya, yb))
                    run = None
            elif run is None:
                run = [xa, xb]
            else:
                run[1] = xb
        if run is not None:
            out.append((run[0], run[1], ya, yb))
    return out


class RelocationProblem:
    r"""Relocate planar points under a per-bin capacity with minimal total displacement.

    See the module docstring for the mathematics (primal, dual `D(\psi)`).

    Parameters
    ----------
    points : (N, 2) array
        Point coordinates, inside ``bounds`` (the boundary included).
    bounds : (xmin, xmax, ymin, ymax)
        The placement rectangle, ``xmin < xmax``, ``ymin < ymax``.
    bins : (mx, my)
        Number of bins along x and along y.
    capacity : float or (mx, my) array, optional
        Mass a bin may hold: a number (every *fully free* bin; a partly covered bin keeps it in
        proportion to its free area) or an array indexed ``[ix, iy]`` (taken as given, then scaled by
        the free fraction of each bin). Exactly one of ``capacity`` and ``density`` is given.
    density : float, optional
        Mass per unit area allowed (the density threshold): the capacity of a bin is
        ``density * free area``.
    exclusions : sequence of (x0, x1, y0, y1)
        Rectangles where nothing may be placed (open sets: their boundary is allowed).
    metric : {"euclidean", "manhattan"}
        The distance `d`.
    displacement : {"l1", "l2"}
        Total displacement summed (``"l1"``, `p = 1`) or squared (``"l2"``, `p = 2`).
    mass : float or (N,) array, optional
        The mass of a point (default 1). Points are indivisible, so every point must have the same
        mass (with unequal masses the integral placement is a bin-packing problem, outside this model).
    name : str

    Raises
    ------
    InvalidDataError
        NaN/inf coordinates, a point outside the region, a bad shape, a negative capacity, a zone
        that is empty, inverted or outside the region, unequal masses.
    InvalidBoundsError
        Inverted ``bounds``.
    UnbalancedError
        Total capacity (in whole points) below the number of points; the message gives the figures.
    """

    kind = "relocation"

    def __init__(
        self,
        points: ArrayLike,
        bounds: Sequence[float],
        bins: Sequence[int] = (16, 16),
        capacity: float | ArrayLike | None = None,
        density: float | None = None,
        exclusions: Sequence[Sequence[float]] = (),
        metric: str = "euclidean",
        displacement: str = "l1",
        mass: float | ArrayLike | None = None,
        name: str = "",
    ) -> None:
        self.name = str(name)
        # ------------------------------------------------------------------ region and grid
        b = [_finite(v, f"bounds[{k}]") for k, v in enumerate(bounds)] if len(bounds) == 4 else None
        if b is None:
            raise InvalidDataError(f"bounds must be (xmin, xmax, ymin, ymax), got {list(bounds)!r}")
        if not (b[0] < b[1] and b[2] < b[3]):
            raise InvalidBoundsError(f"bounds {b} are inverted or empty: need xmin < xmax and ymin < ymax")
        self.bounds: tuple[float, float, float, float] = (b[0], b[1], b[2], b[3])
        if len(bins) != 2:
            raise InvalidDataError(f"bins must be (mx, my), got {bins!r}")
        mx, my = (int(v) for v in bins)
        if mx < 1 or my < 1 or mx != bins[0] or my != bins[1]:
            raise InvalidDataError(f"bins must be two positive integers, got {tuple(bins)!r}")
        self.bins: tuple[int, int] = (mx, my)
        self.bin_width = (b[1] - b[0]) / mx
        self.bin_height = (b[3] - b[2]) / my
        if metric not in METRICS:
            raise InvalidDataError(f"metric must be one of {METRICS}, got {metric!r}")
        if displacement not in DISPLACEMENTS:
            raise InvalidDataError(f"displacement must be one of {DISPLACEMENTS}, got {displacement!r}")
        self.metric = metric
        self.displacement = displacement
        self.power = 1 if displacement == "l1" else 2
        # ------------------------------------------------------------------ points
        pts = np.array(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise InvalidDataError(f"points must have shape (N, 2), got {pts.shape}")
        if pts.shape[0] == 0:
            raise InvalidDataError("there are no points")
        bad = np.flatnonzero(~np.all(np.isfinite(pts), axis=1))
        if bad.size:
            raise InvalidDataError(f"point {int(bad[0])} has non-finite coordinates {pts[bad[0]].tolist()}")
        out = (pts[:, 0] < b[0]) | (pts[:, 0] > b[1]) | (pts[:, 1] < b[2]) | (pts[:, 1] > b[3])
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise InvalidDataError(
                f"point {k} at {pts[k].tolist()} lies outside the region {list(self.bounds)} "
                f"({int(out.sum())} points outside in all)"
            )
        self.points: NDArray[np.float64] = _frozen(pts)
        # ------------------------------------------------------------------ mass
        if mass is None:
            m = 1.0
        else:
            ma = np.asarray(mass, dtype=float).reshape(-1)
            if ma.size not in (1, pts.shape[0]):
                raise InvalidDataError(f"mass has {ma.size} entries for {pts.shape[0]} points")
            bad = np.flatnonzero(~np.isfinite(ma) | (ma <= 0))
            if bad.size:
                raise InvalidDataError(f"point {int(bad[0])}: mass {ma[bad[0]]} must be finite and positive")
            if np.any(ma != ma[0]):
                k = int(np.flatnonzero(ma != ma[0])[0])
                raise InvalidDataError(
                    f"point {k} has mass {ma[k]} but point 0 has {ma[0]}: points are indivisible, so all "
                    "masses must be equal (unequal masses make the placement a bin-packing problem)"
                )
            m = float(ma[0])
        self.mass = m
        # ------------------------------------------------------------------ exclusion zones
        zl: list[tuple[float, float, float, float]] = []
        for k, zone in enumerate(exclusions):
            zz = list(zone)
            if len(zz) != 4:
                raise InvalidDataError(f"exclusions[{k}] must be (x0, x1, y0, y1), got {zz!r}")
            x0, x1, y0, y1 = (_finite(v, f"exclusions[{k}][{q}]") for q, v in enumerate(zz))
            if not (x0 < x1 and y0 < y1):
                raise InvalidDataError(
                    f"exclusions[{k}] = {[x0, x1, y0, y1]} is empty or inverted: need x0 < x1 and y0 < y1"
                )
            if x1 <= b[0] or x0 >= b[1] or y1 <= b[2] or y0 >= b[3]:
                raise InvalidDataError(f"exclusions[{k}] = {[x0, x1, y0, y1]} does not meet the region {list(self.bounds)}")
            zl.append((x0, x1, y0, y1))
        self.exclusions: NDArray[np.float64] = _frozen(np.array(zl, dtype=float).reshape(-1, 4))
        # ------------------------------------------------------------------ free parts of bins
        self._build_free_parts()
        # ------------------------------------------------------------------ capacity
        if (capacity is None) == (density is None):
            raise InvalidDataError("give exactly one of capacity= (per bin) and density= (mass per unit area)")
        full = self.bin_width * self.bin_height
        frac = self.free_area / full
        if density is not None:
            d = _finite(density, "density")
            if d < 0:
                raise InvalidDataError(f"density {d} is negative")
            cap = d * self.free_area
        else:
            c = np.asarray(capacity, dtype=float)
            if c.ndim == 0:
                cv = _finite(c, "capacity")
                if cv < 0:
                    raise InvalidDataError(f"capacity {cv} is negative")
                cap = cv * frac
            else:
                if c.shape != (mx, my):
                    raise InvalidDataError(f"capacity array has shape {c.shape}, expected (mx, my) = {(mx, my)}")
                bad2 = np.argwhere(~np.isfinite(c) | (c < 0))
                if bad2.size:
                    i, j = (int(v) for v in bad2[0])
                    raise InvalidDataError(f"capacity[{i}, {j}] = {c[i, j]} must be finite and >= 0")
                cap = c.reshape(-1) * frac
        self.capacity: NDArray[np.float64] = _frozen(cap.reshape(mx, my))
        units = np.floor(cap / m * (1 + _COUNT_RTOL) + _COUNT_RTOL).astype(np.int64)
        units[self.free_area <= 0] = 0
        self.slots: NDArray[np.int64] = _frozen(units)  # flattened, whole points per bin
        total = int(units.sum())
        if total < self.n_points:
            raise UnbalancedError(
                f"total capacity is below the total mass: the bins hold {total} whole points "
                f"(capacity {float(cap.sum()):.6g} in mass, points of mass {m:g}) but there are "
                f"{self.n_points} points (mass {self.n_points * m:.6g})"
            )
        self.spec: dict[str, Any] = {
            "capacity": None if capacity is None else (float(np.asarray(capacity)) if np.ndim(capacity) == 0 else np.asarray(capacity, dtype=float)),
            "density": None if density is None else float(density),
        }

    # ------------------------------------------------------------------------------ geometry
    def _build_free_parts(self) -> None:
        mx, my = self.bins
        xmin, _, ymin, _ = self.bounds
        w, h = self.bin_width, self.bin_height
        zones = self.exclusions
        ptr = np.zeros(mx * my + 1, dtype=np.int64)
        rects: list[tuple[float, float, float, float]] = []
        area = np.zeros(mx * my)
        # only bins that a zone touches need cutting; the rest is one rectangle each
        touched = np.zeros((mx, my), dtype=bool)
        for x0, x1, y0, y1 in zones:
            ia = max(0, int(math.floor((x0 - xmin) / w)) - 1)
            ib = min(mx, int(math.ceil((x1 - xmin) / w)) + 1)
            ja = max(0, int(math.floor((y0 - ymin) / h)) - 1)
            jb = min(my, int(math.ceil((y1 - ymin) / h)) + 1)
            touched[ia:ib, ja:jb] = True
        for ix in range(mx):
            bx0, bx1 = xmin + ix * w, xmin + (ix + 1) * w
            for iy in range(my):
                by0, by1 = ymin + iy * h, ymin + (iy + 1) * h
                j = ix * my + iy
                parts = _free_rectangles(bx0, bx1, by0, by1, zones) if touched[ix, iy] else [(bx0, bx1, by0, by1)]
                rects.extend(parts)
                ptr[j + 1] = len(rects)
                area[j] = sum((r[1] - r[0]) * (r[3] - r[2]) for r in parts)
        self.rect_ptr: NDArray[np.int64] = _frozen(ptr)
        self.rects: NDArray[np.float64] = _frozen(np.array(rects, dtype=float).reshape(-1, 4))
        self.free_area: NDArray[np.float64] = _frozen(area)

    # ------------------------------------------------------------------------------ sizes
    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_bins(self) -> int:
        return self.bins[0] * self.bins[1]

    @property
    def total_mass(self) -> float:
        return self.n_points * self.mass

    def bin_index(self, xy: ArrayLike) -> NDArray[np.int64]:
        """Bin ``(ix, iy)`` containing each point of ``xy`` (points on an inner edge go to the upper bin)."""
        p = np.asarray(xy, dtype=float).reshape(-1, 2)
        mx, my = self.bins
        ix = np.clip(np.floor((p[:, 0] - self.bounds[0]) / self.bin_width), 0, mx - 1).astype(np.int64)
        iy = np.clip(np.floor((p[:, 1] - self.bounds[2]) / self.bin_height), 0, my - 1).astype(np.int64)
        return np.stack([ix, iy], axis=1)

    def kernel_args(self) -> tuple[Any, ...]:
        """The geometry as the compiled kernels read it (see ``otmodel.model._relocation_kernels``)."""
        return (
            self.bounds[0],
            self.bounds[2],
            self.bin_width,
            self.bin_height,
            self.bins[0],
            self.bins[1],
            self.rect_ptr,
            self.rects,
            self.metric == "euclidean",
            self.power,
        )

    # ------------------------------------------------------------------------------ math
    def cost(self, point_index: ArrayLike, bin_flat: ArrayLike) -> NDArray[np.float64]:
        """`c_{ij}` for pairs of point indices and flat bin indices (``+inf`` for a bin with no free part)."""
        import otmodel.model._relocation_kernels as K

        i = np.asarray(point_index, dtype=np.int64).reshape(-1)
        j = np.asarray(bin_flat, dtype=np.int64).reshape(-1)
        return K.pair_costs(self.points, i, j, *self.kernel_args())

    def cost_matrix(self) -> NDArray[np.float64]:
        """The dense ``N x (mx*my)`` cost matrix (small instances and tests only)."""
        n, nb = self.n_points, self.n_bins
        if n * nb > 50_000_000:
            raise InvalidDataError(f"cost_matrix of {n} x {nb} entries is too large; it is for small instances")
        i = np.repeat(np.arange(n), nb)
        j = np.tile(np.arange(nb), n)
        return self.cost(i, j).reshape(n, nb)

    def objective(self, bin_of: ArrayLike) -> float:
        r"""Total displacement `m \sum_i c_{i, b(i)}` of an assignment ``bin_of`` ((N, 2) or flat (N,))."""
        flat = self.flat_bins(bin_of)
        return self.mass * float(self.cost(np.arange(self.n_points), flat).sum())

    def flat_bins(self, bin_of: ArrayLike) -> NDArray[np.int64]:
        """Flat bin indices ``ix * my + iy`` of an (N, 2) array of bin coordinates (or pass-through (N,))."""
        a = np.asarray(bin_of)
        if a.ndim == 2 and a.shape == (self.n_points, 2):
            return (a[:, 0].astype(np.int64) * self.bins[1] + a[:, 1].astype(np.int64))
        if a.ndim == 1 and a.shape == (self.n_points,):
            return a.astype(np.int64)
        raise InvalidDataError(f"bin_of has shape {a.shape}; expected ({self.n_points}, 2)")

    def formulation(self, part: Any = "all", format: str = "markdown") -> Any:
        """The problem as mathematics for this instance (see ``otmodel.formulation.formulation``)."""
        import otmodel

        return otmodel.formulation.formulation(self, part=part, format=format)

    def dual_value(self, psi: ArrayLike) -> float:
        r"""The dual function `D(\psi)` over all pairs (exact; ``psi`` of shape (mx, my), >= 0)."""
        import otmodel.model._relocation_kernels as K

        y = np.ascontiguousarray(np.asarray(psi, dtype=float).reshape(-1))
        if y.size != self.n_bins:
            raise InvalidDataError(f"psi has {y.size} entries for {self.n_bins} bins")
        if np.any(~np.isfinite(y)) or np.any(y < 0):
            raise InvalidDataError("psi must be finite and >= 0 (prices of the capacity constraints)")
        best, _ = K.best_bins(self.points, self.bin_index(self.points), y, self.slots, *self.kernel_args())
        return self.mass * (float(np.sum(best)) - float(y @ self.slots))

    # ------------------------------------------------------------------------------ reduction
    def to_spatial_flow(self) -> SpatialFlowProblem:
        r"""The same problem as a ``SpatialFlowProblem`` (small instances).

        One source node ``source`` supplies the total mass; it feeds every bin with a free part
        (endpoint ``b{ix}_{iy}`` at the bin centre) through an arc of capacity `m u_j` and cost 0;
        the points are the demand (mass `m` each) with the explicit cost matrix
        `c_{ij}` (``Matrix``). Its optimum (2) is the optimum here,
        and the potentials satisfy `\psi^{\text{bin}}_j - \psi^{\text{source}} = -\psi_j` in the
        sign convention of Laurentin et al. eq. (3)-(4).
        """
        from otmodel.model.demand import Matrix, Points
        from otmodel.model.network import Network
        from otmodel.model.problems import SpatialFlowProblem

        mx, my = self.bins
        use = np.flatnonzero(self.slots > 0)
        net = Network()
        net.add_node("source", supply=self.total_mass)
        for j in use:
            ix, iy = divmod(int(j), my)
            cx = self.bounds[0] + (ix + 0.5) * self.bin_width
            cy = self.bounds[2] + (iy + 0.5) * self.bin_height
            net.add_node(f"b{ix}_{iy}", position=(cx, cy), endpoint=True)
            net.add_arc("source", f"b{ix}_{iy}", cost=0.0, lower=0.0, upper=float(self.slots[j]) * self.mass)
        C = self.cost_matrix()[:, use]
        return SpatialFlowProblem(
            net, Points(self.points, self.mass), Matrix(C), name=self.name or "relocation"
        )

    # ------------------------------------------------------------------------------ plumbing
    def solve(self, backend: str | None = None, **options: Any) -> Any:
        """Solve with ``backend`` (default ``"relocation"``; see ``otmodel.solve``)."""
        import otmodel

        return otmodel.solve(self, backend=backend, **options)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-ready description (``kind: relocation``); ``from_dict`` reads it back."""
        cap = self.spec["capacity"]
        return {
            "kind": "relocation",
            "name": self.name,
            "bounds": [float(v) for v in self.bounds],
            "bins": [int(v) for v in self.bins],
            "capacity": None if cap is None else (cap if isinstance(cap, float) else cap.tolist()),
            "density": self.spec["density"],
            "exclusions": self.exclusions.tolist(),
            "metric": self.metric,
            "displacement": self.displacement,
            "mass": self.mass,
            "points": self.points.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<dict>") -> RelocationProblem:
        """Build from ``to_dict`` output; errors name the key at fault (``source: key``)."""
        if not isinstance(d, Mapping):
            raise ModelFileError(f"{source}: a relocation problem is a mapping, got {type(d).__name__}")
        known = {"otmodel", "kind", "name", "bounds", "bins", "capacity", "density", "exclusions", "metric", "displacement", "mass", "points"}
        extra = sorted(set(d) - known)
        if extra:
            raise ModelFileError(f"{source}: unknown key {extra[0]!r} in a relocation problem (known: {', '.join(sorted(known))})")
        for key in ("bounds", "bins", "points"):
            if key not in d:
                raise ModelFileError(f"{source}: missing key {key!r} of a relocation problem")
        try:
            return cls(
                points=np.asarray(d["points"], dtype=float),
                bounds=list(d["bounds"]),
                bins=tuple(d["bins"]),
                capacity=None if d.get("capacity") is None else np.asarray(d["capacity"], dtype=float),
                density=d.get("density"),
                exclusions=[list(z) for z in d.get("exclusions") or []],
                metric=d.get("metric", "euclidean"),
                displacement=d.get("displacement", "l1"),
                mass=d.get("mass"),
                name=d.get("name", ""),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{source}: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write as a YAML or JSON model file (by extension; see ``otmodel.save``)."""
        import otmodel

        otmodel.save(self, path)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"RelocationProblem({self.n_points} points, {self.bins[0]} x {self.bins[1]} bins, "
            f"{self.exclusions.shape[0]} exclusion zones, {self.metric} {self.displacement})"
        )


def gaussian_mixture_instance(
    n: int,
    bins: tuple[int, int] = (256, 256),
    *,
    slack: float = 1.05,
    components: int = 8,
    metric: str = "euclidean",
    displacement: str = "l2",
    exclusions: Sequence[Sequence[float]] | None = None,
    seed: int = 0,
) -> RelocationProblem:
    """The test instance of issue 13: ``n`` points from a mixture of Gaussians in the unit square.

    ``components`` Gaussians with random centres in [0.15, 0.85]^2 and standard deviations in
    [0.03, 0.12], equal weights; points outside the square are drawn again. Two exclusion rectangles
    (``(0.2, 0.35, 0.6, 0.8)`` and ``(0.6, 0.9, 0.15, 0.25)`` by default); the density threshold is
    ``slack`` times the mean density ``n / free area``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.15, 0.85, size=(components, 2))
    sd = rng.uniform(0.03, 0.12, size=components)
    zones = np.array(exclusions if exclusions is not None else [(0.2, 0.35, 0.6, 0.8), (0.6, 0.9, 0.15, 0.25)], dtype=float).reshape(-1, 4)
    out = np.empty((0, 2))
    while out.shape[0] < n:
        k = rng.integers(0, components, size=n)
        p = centres[k] + rng.standard_normal((n, 2)) * sd[k, None]
        inside = np.all((p >= 0) & (p <= 1), axis=1)
        out = np.concatenate([out, p[inside]])[:n]
    free = 1.0 - float(np.sum((zones[:, 1] - zones[:, 0]) * (zones[:, 3] - zones[:, 2])))  # zones disjoint
    return RelocationProblem(
        out, (0.0, 1.0, 0.0, 1.0), bins=bins, density=slack * n / free, exclusions=zones.tolist(),
        metric=metric, displacement=displacement, name=f"gaussian-mixture-{n}",
    )
