r"""Spatial demand measures and assignment costs.

The demand `\mu` of Laurentin et al. (2025) is a non-negative measure on a compact set
`X \subset \mathbb R^2`. otmodel works with a discretized `\mu`: a finite set of points
`x_k` with masses `\mu_k \ge 0` (``Points``), for instance the cell centres of a
regular grid weighted by a density (``Grid.from_density``, like the paper's 200 x 200 grid).

Serving a unit of demand at `x` from endpoint `i \in \mathcal S` costs `c(x, i)`:
``Euclidean``, ``SquaredEuclidean`` and ``Manhattan`` distances to the endpoint's
position, an explicit ``Matrix``, or ``Geodesic``, the shortest-path length through a
weighted graph (section V-B of the paper). An infinite cost forbids the pair.

Cost matrices are produced in row chunks (``AssignmentCost.block``) so that iterative methods
never hold a dense ``N x |S|`` matrix for large ``N``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

import otmodel.model.values as values
from otmodel.errors import InvalidDataError, UnreachableError

__all__ = [
    "block_rows",
    "Density",
    "Uniform",
    "Gaussian",
    "TruncatedGaussian",
    "Points",
    "Grid",
    "AssignmentCost",
    "Euclidean",
    "SquaredEuclidean",
    "Manhattan",
    "Matrix",
    "Geodesic",
]


#: Largest number of cost-matrix entries in one block of a chunked pass (8M float64 = 64 MB).
BLOCK_ENTRIES = 2**23
#: Most demand points per block (blocks of more rows gain nothing measurable).
MAX_BLOCK_ROWS = 65_536


def block_rows(n_cols: int, requested: int | None = None) -> int:
    """Rows (demand points) per block of a chunked pass over an ``N x n_cols`` cost matrix.

    ``requested`` (a positive integer) is used as given; ``None`` picks the default,
    ``min(65536, 2**23 // n_cols)`` and at least 1024, so that one block holds at most 64 MB
    whatever the number of endpoints (65,536 x 1,000 entries would be 524 MB, and a pass keeps a few
    arrays of that size).
    """
    if requested is None:
        return int(max(1024, min(MAX_BLOCK_ROWS, BLOCK_ENTRIES // max(1, int(n_cols)))))
    return values.integer(requested, "chunk", minimum=1)

Bounds = tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)


# ---------------------------------------------------------------------------------------- densities
class Density:
    """A named density on the plane; ``density(xy, bounds)`` evaluates it at points ``xy``."""

    name: str = "density"

    def __call__(self, xy: NDArray[np.float64], bounds: Bounds) -> NDArray[np.float64]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


class Uniform(Density):
    """Uniform probability density on the bounding box: ``1 / area``."""

    name = "uniform"

    def __call__(self, xy: NDArray[np.float64], bounds: Bounds) -> NDArray[np.float64]:
        x0, x1, y0, y1 = bounds
        area = (x1 - x0) * (y1 - y0)
        if not (math.isfinite(area) and area > 0):
            raise InvalidDataError(f"uniform density: the box {tuple(bounds)} has area {area:g}, not a positive float")
        return np.full(len(xy), 1.0 / area)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "uniform"}

    def __eq__(self, other: object) -> bool:
        return type(other) is Uniform

    def __hash__(self) -> int:
        return hash("uniform")

    def __repr__(self) -> str:
        return "Uniform()"


def _pair(v: float | Sequence[float], what: str) -> tuple[float, float]:
    arr = np.atleast_1d(values.float_array(v, what))
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise InvalidDataError(f"{what} must be a finite number or a pair of numbers, got {values.describe(v)}")
    return float(arr[0]), float(arr[1])


class Gaussian(Density):
    r"""Isotropic or axis-aligned Gaussian density `\mathcal N(m, \mathrm{diag}(\sigma^2))`.

    Not renormalized to the bounding box: the mass outside it is lost (use ``TruncatedGaussian``
    or ``total=`` in ``Grid.from_density`` to renormalize).

    Parameters
    ----------
    mean : pair of float
        Centre `m = (m_x, m_y)`, in the coordinates' units (one number: both axes).
    std : float or pair of float
        `(\sigma_x, \sigma_y)`, finite, `> 0` (one number: isotropic); else ``InvalidDataError``.
    """

    name = "gaussian"

    def __init__(self, mean: Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = _pair(mean, f"{self.name} mean")
        self.std = _pair(std, f"{self.name} std")
        if min(self.std) <= 0:
            raise InvalidDataError(f"{self.name} std must be positive, got {values._describe(std)}")
        if not 0 < 2 * math.pi * self.std[0] * self.std[1] < math.inf:
            raise InvalidDataError(f"{self.name} std {self.std}: the normalizing constant 2 pi sx sy is not a positive float")

    def __call__(self, xy: NDArray[np.float64], bounds: Bounds) -> NDArray[np.float64]:
        m, s = np.asarray(self.mean), np.asarray(self.std)
        # far tails (or a tiny std) overflow z*z to inf, whose exp(-inf) = 0 is the right density
        with np.errstate(over="ignore", under="ignore"):
            z = (xy - m) / s
            return np.exp(-0.5 * np.sum(z * z, axis=1)) / (2 * math.pi * s[0] * s[1])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "mean": list(self.mean), "std": _std_out(self.std)}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.mean, other.std) == (self.mean, self.std)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, self.mean, self.std))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={_std_out(self.std)})"


def _std_out(s: tuple[float, float]) -> float | list[float]:
    return s[0] if s[0] == s[1] else list(s)


class TruncatedGaussian(Gaussian):
    r"""Gaussian density `\mathcal N(m, \mathrm{diag}(\sigma^2)) / Z` on the bounding box, `Z` its mass there.

    Parameters
    ----------
    mean, std : pair of float, and float or pair of float
        As for ``Gaussian`` (the centre may lie outside the box); a box of mass `Z = 0` in
        floating point raises ``InvalidDataError`` when the density is evaluated.
    """

    name = "truncated_gaussian"

    def __call__(self, xy: NDArray[np.float64], bounds: Bounds) -> NDArray[np.float64]:
        x0, x1, y0, y1 = bounds
        m, s = self.mean, self.std

        def box(lo: float, hi: float, mu: float, sd: float) -> float:
            r2 = math.sqrt(2.0) * sd
            return 0.5 * (math.erf((hi - mu) / r2) - math.erf((lo - mu) / r2))

        z = box(x0, x1, m[0], s[0]) * box(y0, y1, m[1], s[1])
        if z <= 0:
            raise InvalidDataError("truncated Gaussian has no mass in the bounding box")
        return super().__call__(xy, bounds) / z


DENSITIES: dict[str, type[Density]] = {
    "uniform": Uniform,
    "gaussian": Gaussian,
    "truncated_gaussian": TruncatedGaussian,
}


# ------------------------------------------------------------------------------------------ measures
class Points:
    r"""A discrete demand measure `\mu = \sum_k \mu_k \delta_{x_k}`.

    Parameters
    ----------
    xy : (N, 2) array
        Point coordinates (finite).
    mass : (N,) array or float
        Non-negative masses; a scalar gives every point that mass.
    """

    def __init__(self, xy: ArrayLike, mass: ArrayLike) -> None:
        pts = values.float_array(xy, "demand points xy")
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise InvalidDataError(f"demand points must have shape (N, 2), got {pts.shape}")
        n = pts.shape[0]
        if n == 0:
            raise InvalidDataError("demand has no points")
        bad = np.flatnonzero(~np.all(np.isfinite(pts), axis=1))
        if bad.size:
            raise InvalidDataError(f"demand point {int(bad[0])} has non-finite coordinates {pts[bad[0]].tolist()}")
        m = values.float_array(mass, "demand mass")
        if m.ndim == 0:
            m = np.full(n, float(m))
        m = m.reshape(-1)
        if m.shape != (n,):
            raise InvalidDataError(f"demand mass has {m.size} entries for {n} points")
        bad = np.flatnonzero(~np.isfinite(m))
        if bad.size:
            raise InvalidDataError(f"demand point {int(bad[0])}: mass {m[bad[0]]} is not finite")
        bad = np.flatnonzero(m < 0)
        if bad.size:
            raise InvalidDataError(f"demand point {int(bad[0])}: negative mass {m[bad[0]]}")
        with np.errstate(over="ignore"):
            if not math.isfinite(float(m.sum())):
                raise InvalidDataError(f"demand mass: the total mass overflows a float (largest mass {m.max():g})")
        pts.setflags(write=False)
        m.setflags(write=False)
        self.xy: NDArray[np.float64] = pts
        self.mass: NDArray[np.float64] = m

    @property
    def n(self) -> int:
        return int(self.xy.shape[0])

    @property
    def total(self) -> float:
        r"""`\mu(X)`, the total demand."""
        return float(self.mass.sum())

    @property
    def bounds(self) -> Bounds:
        lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])

    def to_dict(self) -> dict[str, Any]:
        return {"type": "points", "xy": self.xy.tolist(), "mass": self.mass.tolist()}

    def __repr__(self) -> str:
        return f"Points(N={self.n}, total mass={self.total:g})"


class Grid(Points):
    """Cell-centred grid demand: ``shape = (nx, ny)`` cells over ``bounds = (xmin, xmax, ymin, ymax)``.

    Point ``k = iy * nx + ix`` sits at the centre of cell ``(ix, iy)``. Build it with
    ``from_density`` (midpoint rule); bad points, bounds or shapes raise ``InvalidDataError``.

    Parameters
    ----------
    xy, mass : (nx * ny, 2) array and (nx * ny,) array or float
        Cell centres in the order above (finite) and non-negative cell masses.
    bounds : tuple of 4 float
        ``(xmin, xmax, ymin, ymax)``, finite, ``xmin < xmax``, ``ymin < ymax``, cell area a float.
    shape : tuple of 2 int
        ``(nx, ny)`` positive, at most 50 million cells, ``nx * ny`` equal to the number of points.
    density, total : Density and float, optional
        The density the masses come from and the total asked of ``from_density`` (saved as the recipe).
    """

    def __init__(
        self,
        xy: ArrayLike,
        mass: ArrayLike,
        bounds: Bounds,
        shape: tuple[int, int],
        density: Density | None = None,
        total: float | None = None,
    ) -> None:
        super().__init__(xy, mass)
        bounds, shape = self._check(bounds, shape)
        if shape[0] * shape[1] != self.n:
            # a grid is saved as its recipe (bounds, shape, density): points that do not match the
            # recipe would load back as another problem
            raise InvalidDataError(f"grid shape {shape} has {shape[0] * shape[1]} cells but {self.n} points are given")
        self.grid_bounds = bounds
        self.shape = shape
        self.density = density
        self.requested_total = total

    @staticmethod
    def _check(bounds: Sequence[float], shape: Sequence[int]) -> tuple[Bounds, tuple[int, int]]:
        raw_b = values.float_array(bounds, "grid bounds")
        if raw_b.shape != (4,) or not np.all(np.isfinite(raw_b)):
            raise InvalidDataError(
                f"grid bounds {values._describe(bounds)} must be 4 finite numbers (xmin, xmax, ymin, ymax)"
            )
        b = tuple(float(v) for v in raw_b)
        if not (b[0] < b[1] and b[2] < b[3]):
            raise InvalidDataError(f"grid bounds {b} must satisfy xmin < xmax and ymin < ymax")
        if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)) or len(shape) != 2:
            raise InvalidDataError(f"grid shape {values._describe(shape)} must be 2 positive integers (nx, ny)")
        # an integer check, not int(): a shape of 2.5 cells is a mistake, not 2 cells
        s = tuple(values.integer(v, f"grid shape[{k}]", minimum=1) for k, v in enumerate(shape))
        if s[0] * s[1] > 50_000_000:
            raise InvalidDataError(f"grid shape {s} asks for {s[0] * s[1]:,} points, more than 50 million")
        # the midpoint rule needs the cell sizes and the cell area as positive, finite floats:
        # bounds 1e-200 apart have a cell area of 1e-400, which is 0.0 in floating point
        width, height = b[1] - b[0], b[3] - b[2]
        area = width * height / (s[0] * s[1])
        if not (math.isfinite(width) and math.isfinite(height)):
            raise InvalidDataError(f"grid bounds {b}: the width or height overflows a float")
        if not (area > 0 and math.isfinite(area)) or area < np.finfo(float).tiny:
            raise InvalidDataError(
                f"grid bounds {b} with shape {s}: a cell has area {area:g}, too small for a float "
                "(scale the coordinates)"
            )
        return (b[0], b[1], b[2], b[3]), (s[0], s[1])

    @classmethod
    def from_density(
        cls,
        density: Density | Callable[[NDArray[np.float64]], NDArray[np.float64]],
        bounds: Sequence[float],
        shape: Sequence[int],
        total: float | None = 1.0,
    ) -> Grid:
        r"""Discretize a density on a cell-centred grid.

        The mass of a cell is ``density(centre) * cell_area`` (midpoint rule); with ``total`` (default
        1) the masses are then rescaled to sum to exactly ``total``, so that a probability density
        gives a probability measure whatever the resolution. ``density`` is a named ``Density``
        or any callable mapping an ``(N, 2)`` array to ``N`` non-negative values (Python only: a
        model file names its density).
        """
        b, s = cls._check(bounds, shape)
        nx, ny = s
        xs = b[0] + (np.arange(nx) + 0.5) * (b[1] - b[0]) / nx
        ys = b[2] + (np.arange(ny) + 0.5) * (b[3] - b[2]) / ny
        gx, gy = np.meshgrid(xs, ys, indexing="xy")
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        if isinstance(density, Density):
            f = density(xy, b)
        elif callable(density):
            f = values.float_array(density(xy), "density values").reshape(-1)
        else:
            raise InvalidDataError(f"density {values.describe(density)} is neither a Density nor a callable")
        if f.shape != (xy.shape[0],):
            raise InvalidDataError(f"density returned {f.size} values for {xy.shape[0]} grid points")
        area = (b[1] - b[0]) * (b[3] - b[2]) / (nx * ny)
        t = None if total is None else values.finite(total, "grid total mass", minimum=0.0)
        # overflow (a huge density) and NaN are reported by Points' checks below, naming the point
        with np.errstate(over="ignore", invalid="ignore"):
            mass = f * area
            if t is not None and np.all(np.isfinite(mass)) and not np.any(mass < 0):
                z = float(mass.sum())
                if z <= 0:
                    raise InvalidDataError("density has no mass on the grid")
                if math.isfinite(z):
                    mass = mass * (t / z)
                else:  # the masses sum past the float range: divide by the largest one first
                    mass = mass / mass.max()
                    mass = mass * (t / float(mass.sum()))
                if not np.all(np.isfinite(mass)):
                    raise InvalidDataError(
                        f"density: its mass on the grid ({z:g}) is too small to rescale to total {t:g}"
                    )
        return cls(xy, mass, b, s, density if isinstance(density, Density) else None, total)

    def to_dict(self) -> dict[str, Any]:
        if self.density is None:
            return super().to_dict()
        d: dict[str, Any] = {
            "type": "grid",
            "bounds": list(self.grid_bounds),
            "shape": list(self.shape),
            "density": self.density.to_dict(),
        }
        d["total"] = self.requested_total
        return d

    def __repr__(self) -> str:
        return f"Grid({self.shape[0]} x {self.shape[1]}, bounds={self.grid_bounds}, total mass={self.total:g})"


# ---------------------------------------------------------------------------------- assignment costs
class AssignmentCost:
    r"""The cost `c(x, i)` of serving demand at `x` from endpoint `i`.

    Subclasses implement ``block``, the ``(rows, |S|)`` cost block for a range of demand points,
    where ``endpoint_xy`` holds the positions of the endpoints (NaN where a node has none).
    """

    name: str = "cost"
    needs_positions: bool = False
    #: True when c(x, i) = d(x, y_i) for a metric d on the plane (used for spatial pruning).
    metric: bool = False

    def bind(self, demand: Points, endpoint_names: Sequence[str], endpoint_xy: NDArray[np.float64]) -> None:
        """Check the cost against the demand and endpoints; raise a typed error naming the culprit."""
        if self.needs_positions:
            missing = [endpoint_names[k] for k in range(len(endpoint_names)) if not np.all(np.isfinite(endpoint_xy[k]))]
            if missing:
                raise UnreachableError(
                    f"{self.name} assignment cost needs endpoint positions; endpoint {missing[0]!r} has none"
                )

    def block(
        self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None
    ) -> NDArray[np.float64]:
        raise NotImplementedError

    def full(self, demand: Points, endpoint_xy: NDArray[np.float64]) -> NDArray[np.float64]:
        """The whole ``N x |S|`` matrix (for exact solvers, whose models hold it anyway)."""
        return self.block(demand, endpoint_xy, 0, demand.n)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _PlanarCost(AssignmentCost):
    needs_positions = True
    metric = True

    def bind(self, demand: Points, endpoint_names: Sequence[str], endpoint_xy: NDArray[np.float64]) -> None:
        r"""Also check that no cost overflows a float.

        A planar cost is finite at every pair by definition, so an infinite entry can only be an
        overflow (a point at `(10^{155}, 0)` has a squared distance of `10^{310}`): an
        input error naming the point, never a forbidden pair that would make the problem look
        infeasible. The cost is at most `2(2M)^2` with `M` the largest coordinate, so
        the pass over the blocks runs only when that bound is not a float.
        """
        super().bind(demand, endpoint_names, endpoint_xy)
        big = max(float(np.max(np.abs(demand.xy))), float(np.max(np.abs(endpoint_xy)))) if len(endpoint_xy) else 0.0
        with np.errstate(over="ignore"):
            bound = 8.0 * big * big
        if math.isfinite(bound):
            return
        step = block_rows(len(endpoint_names))
        for start in range(0, demand.n, step):
            with np.errstate(over="ignore", invalid="ignore"):
                c = self.block(demand, endpoint_xy, start, min(demand.n, start + step))
            bad = np.argwhere(~np.isfinite(c))
            if bad.size:
                k, i = int(bad[0][0]) + start, int(bad[0][1])
                raise InvalidDataError(
                    f"{self.name} assignment cost overflows a float between demand point {k} at "
                    f"{demand.xy[k].tolist()} and endpoint {endpoint_names[i]!r} at {endpoint_xy[i].tolist()} "
                    "(scale the coordinates)"
                )

    def _diff(
        self, demand: Points, endpoint_xy: NDArray[np.float64], start: int, stop: int | None
    ) -> NDArray[np.float64]:
        x = demand.xy[start:stop]
        return x[:, None, :] - endpoint_xy[None, :, :]


class Euclidean(_PlanarCost):
    r"""`c(x, i) = \|x - y_i\|_2`, with `y_i` the position of endpoint `i`."""

    name = "euclidean"

    def block(self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None):  # type: ignore[override]
        d = self._diff(demand, endpoint_xy, start, stop)
        return np.sqrt(np.einsum("nsk,nsk->ns", d, d))


class SquaredEuclidean(_PlanarCost):
    r"""`c(x, i) = \|x - y_i\|_2^2` (Laguerre cells are then power-diagram polygons)."""

    name = "squared_euclidean"
    metric = False  # not a metric, but its cells are still convex polygons

    def block(self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None):  # type: ignore[override]
        d = self._diff(demand, endpoint_xy, start, stop)
        return np.einsum("nsk,nsk->ns", d, d)


class Manhattan(_PlanarCost):
    r"""`c(x, i) = \|x - y_i\|_1`."""

    name = "manhattan"

    def block(self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None):  # type: ignore[override]
        return np.abs(self._diff(demand, endpoint_xy, start, stop)).sum(axis=2)


class Matrix(AssignmentCost):
    """An explicit cost matrix ``C`` of shape ``(N, |S|)``, columns in endpoint order.

    Entries are finite, or ``+inf`` to forbid a pair. NaN and ``-inf`` are rejected.

    Parameters
    ----------
    C : (N, n_endpoints) array of float
        ``C[k, j]`` = `c(x_k, j)` (Laurentin et al., eq. (1)); a point with no finite entry is refused.
    """

    name = "matrix"

    def __init__(self, C: ArrayLike) -> None:
        c = values.float_array(C, "assignment cost matrix")
        if c.ndim != 2:
            raise InvalidDataError(f"assignment cost matrix must be 2-D (points x endpoints), got shape {c.shape}")
        bad = np.argwhere(np.isnan(c) | (c == -np.inf))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            raise InvalidDataError(f"assignment cost matrix entry [{i}, {j}] is {c[i, j]}; use +inf to forbid a pair")
        c.setflags(write=False)
        self.C = c

    def bind(self, demand: Points, endpoint_names: Sequence[str], endpoint_xy: NDArray[np.float64]) -> None:
        if self.C.shape != (demand.n, len(endpoint_names)):
            raise InvalidDataError(
                f"assignment cost matrix has shape {self.C.shape}, expected "
                f"({demand.n} points, {len(endpoint_names)} endpoints)"
            )
        _check_reach(np.isfinite(self.C), demand, endpoint_names)

    def block(self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None):  # type: ignore[override]
        return self.C[start:stop]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "matrix", "C": [[v if math.isfinite(v) else "inf" for v in row] for row in self.C.tolist()]}

    def __repr__(self) -> str:
        return f"Matrix(shape={self.C.shape})"


def _check_reach(finite: NDArray[np.bool_], demand: Points, endpoint_names: Sequence[str]) -> None:
    cols = np.flatnonzero(~finite.any(axis=0))
    if cols.size:
        raise UnreachableError(
            f"endpoint {endpoint_names[int(cols[0])]!r} cannot be reached: its assignment cost is infinite at every demand point"
        )
    rows = np.flatnonzero(~finite.any(axis=1) & (demand.mass > 0))
    if rows.size:
        raise UnreachableError(
            f"demand point {int(rows[0])} (mass {demand.mass[rows[0]]:g}) cannot be served: "
            "its assignment cost is infinite for every endpoint"
        )


class Geodesic(AssignmentCost):
    r"""Shortest-path length through a weighted graph (Laurentin et al., section V-B).

    `c(x, i)` is the length of a shortest path from the graph node of demand point `x`
    to the graph node of endpoint `i`, computed with Dijkstra's algorithm
    (``scipy.sparse.csgraph``) from the endpoints only.

    Parameters
    ----------
    graph : scipy sparse matrix (n x n) or networkx graph
        Non-negative edge weights (networkx: the ``weight`` attribute, default 1).
    point_nodes : sequence of length N
        The graph node of each demand point (indices, or networkx node labels).
    endpoint_nodes : mapping endpoint name -> graph node
        The graph node of each endpoint of the network.
    directed : bool
        Whether edges are one-way (default False: lines carry power both ways).
    """

    name = "geodesic"

    def __init__(
        self,
        graph: Any,
        point_nodes: Sequence[Any],
        endpoint_nodes: Mapping[str, Any],
        directed: bool = False,
    ) -> None:
        labels: dict[Any, int] | None = None
        directed = values.flag(directed, "geodesic directed")
        if sp.issparse(graph):
            coo = sp.coo_matrix(graph)
            data = values.float_array(coo.data, "geodesic graph weights")
            g = sp.csr_matrix((data, (coo.row, coo.col)), shape=coo.shape)
        elif hasattr(graph, "nodes") and hasattr(graph, "edges"):
            import networkx as nx

            order = list(graph.nodes())
            labels = {v: k for k, v in enumerate(order)}
            try:
                adj = nx.to_scipy_sparse_array(graph, nodelist=order, weight="weight", dtype=float)
            except (TypeError, ValueError, OverflowError):
                raise InvalidDataError("geodesic graph: an edge 'weight' is not a number") from None
            g = sp.csr_matrix(adj)
            directed = directed or graph.is_directed()
        else:
            dense = values.float_array(graph, "geodesic graph adjacency")
            if dense.ndim != 2:
                raise InvalidDataError(f"geodesic graph adjacency must be a square matrix, got shape {dense.shape}")
            g = sp.csr_matrix(dense)
        if g.shape[0] != g.shape[1] or g.shape[0] == 0:
            raise InvalidDataError(f"geodesic graph adjacency must be a non-empty square matrix, got {g.shape}")
        if not np.all(np.isfinite(g.data)) or np.any(g.data < 0):
            raise InvalidDataError("geodesic graph weights must be finite and non-negative")
        with np.errstate(over="ignore"):
            if not math.isfinite(float(g.data.sum())):
                # a path length could overflow to inf, which would read as "unreachable"
                raise InvalidDataError("geodesic graph weights are so large that path lengths overflow a float")
        if isinstance(point_nodes, (str, bytes, Mapping)) or not isinstance(point_nodes, (Sequence, np.ndarray)):
            raise InvalidDataError(
                f"point_nodes must be a sequence of graph nodes, got {type(point_nodes).__name__}"
            )
        if not isinstance(endpoint_nodes, Mapping):
            raise InvalidDataError(
                f"endpoint_nodes must be a mapping endpoint name -> graph node, got {type(endpoint_nodes).__name__}"
            )

        def resolve(v: Any, what: str) -> int:
            if labels is not None:
                try:
                    known = v in labels
                except TypeError:  # an unhashable label
                    known = False
                if not known:
                    raise InvalidDataError(f"{what}: {values._describe(v)} is not a node of the geodesic graph")
                return labels[v]
            k = values.integer(v, f"{what} (a graph node index)")
            if not 0 <= k < g.shape[0]:
                raise InvalidDataError(f"{what}: node {values.describe(k)} out of range 0..{g.shape[0] - 1}")
            return k

        self.graph = g
        self.directed = bool(directed)
        self.point_nodes = np.array([resolve(v, f"point_nodes[{k}]") for k, v in enumerate(point_nodes)], dtype=np.intp)
        self.endpoint_nodes = {values.label(k, "endpoint_nodes key"): resolve(v, f"endpoint_nodes[{values.describe(k)}]") for k, v in endpoint_nodes.items()}
        self._dist: NDArray[np.float64] | None = None
        self._order: list[str] | None = None

    def bind(self, demand: Points, endpoint_names: Sequence[str], endpoint_xy: NDArray[np.float64]) -> None:
        from scipy.sparse.csgraph import dijkstra

        if self.point_nodes.shape != (demand.n,):
            raise InvalidDataError(f"geodesic cost has {self.point_nodes.size} point nodes for {demand.n} demand points")
        missing = [e for e in endpoint_names if e not in self.endpoint_nodes]
        if missing:
            raise UnreachableError(f"endpoint {missing[0]!r} has no node in the geodesic graph (endpoint_nodes)")
        src = np.array([self.endpoint_nodes[e] for e in endpoint_names], dtype=np.intp)
        # distances from each endpoint; for a directed graph we need paths point -> endpoint,
        # i.e. distances from the endpoint in the reversed graph.
        g = self.graph.T.tocsr() if self.directed else self.graph
        dist = dijkstra(g, directed=self.directed, indices=src)
        self._dist = np.ascontiguousarray(dist[:, self.point_nodes].T)
        self._order = list(endpoint_names)
        _check_reach(np.isfinite(self._dist), demand, endpoint_names)

    def block(self, demand: Points, endpoint_xy: NDArray[np.float64], start: int = 0, stop: int | None = None):  # type: ignore[override]
        if self._dist is None:
            raise InvalidDataError("Geodesic cost used before it was bound to a problem")
        return self._dist[start:stop]

    def path(self, point: int, endpoint: str) -> list[int]:
        """Graph nodes on a shortest path from demand point ``point`` to ``endpoint``."""
        from scipy.sparse.csgraph import dijkstra

        g = self.graph.T.tocsr() if self.directed else self.graph
        src = self.endpoint_nodes[str(endpoint)]
        _, pred = dijkstra(g, directed=self.directed, indices=src, return_predecessors=True)
        node = int(self.point_nodes[point])
        out = [node]
        while node != src:
            node = int(pred[node])
            if node < 0:
                return []
            out.append(node)
        return out

    def to_dict(self) -> dict[str, Any]:
        coo = self.graph.tocoo()
        return {
            "type": "geodesic",
            "edges": [[int(i), int(j), float(w)] for i, j, w in zip(coo.row, coo.col, coo.data, strict=True)],
            "n_graph_nodes": int(self.graph.shape[0]),
            "point_nodes": self.point_nodes.tolist(),
            "endpoint_nodes": dict(self.endpoint_nodes),
            "directed": self.directed,
        }

    def __repr__(self) -> str:
        return f"Geodesic(graph with {self.graph.shape[0]} nodes, {self.graph.nnz} edges)"


ASSIGNMENT_COSTS: dict[str, type[AssignmentCost]] = {
    "euclidean": Euclidean,
    "squared_euclidean": SquaredEuclidean,
    "manhattan": Manhattan,
}
