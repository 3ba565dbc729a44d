r"""Demand measures whose points live in chunks on a Dask cluster (issue 17).

The discretized demand `\mu = \sum_k \mu_k \delta_{x_k}` of Laurentin et al. (2025) enters the
dual ascent only through per-endpoint sums over the points (the cell masses `\mu(\mathrm{Lag}_i(\psi))`
of Algorithm 1, line 9, and the SDOT term of eq. (4)). Those sums split over any partition of the
points, so the points can stay where they were read or generated: ``DaskPoints`` is a list of row
blocks, each either

* a block of a chunked ``dask.array`` (points ``(N, 2)`` and masses ``(N,)``, from arrays in memory or
  from a Zarr store through ``dask.array.from_zarr``), or
* a recipe (``GridBlock``, ``RandomBlock``): a few numbers from which any process regenerates the
  block's points and masses from a density, seeded per block, so that the points never gather in
  one process.

``DaskSpatialFlowProblem`` is problem (2) with such a demand. Its iterative solve runs on a cluster
(``otmodel.solve(problem, backend="dual-ascent", client=...)``); single-process code paths read the
demand through ``demand.xy`` / ``demand.mass``, which materialize it only below ``LOCAL_LIMIT`` points
and raise ``UnsupportedError`` above (never an out-of-memory crash).

Nothing here imports Dask at module level: ``import otmodel`` stays free of it (Dask is the optional
``distributed`` extra).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, UnreachableError, UnsupportedError
from otmodel.model import values
from otmodel.model.demand import Bounds, Density, Euclidean, Grid, Manhattan, Points, SquaredEuclidean
from otmodel.model.network import Network
from otmodel.model.problems import BALANCE_RTOL, FlowProblem, SpatialFlowProblem

__all__ = [
    "DaskPoints",
    "DaskSpatialFlowProblem",
    "GridBlock",
    "RandomBlock",
    "LOCAL_LIMIT",
    "DEFAULT_BLOCK_ROWS",
    "load_block",
    "RECIPES",
]

#: ``demand.xy`` / ``demand.mass`` materialize at most this many points in one process (1.2 GB).
LOCAL_LIMIT = 50_000_000
#: Points per block by default: 4M points are 96 MB of coordinates and masses, a few hundred
#: tasks per pass at a billion points (the scheduler's cost per task is about a millisecond).
DEFAULT_BLOCK_ROWS = 2**22


def _density_values(density: Density | Callable[..., Any], xy: NDArray[np.float64], bounds: Bounds) -> NDArray[np.float64]:
    if isinstance(density, Density):
        f = density(xy, bounds)
    else:
        f = values.float_array(density(xy), "density values").reshape(-1)
    if f.shape != (xy.shape[0],):
        raise InvalidDataError(f"density returned {f.size} values for {xy.shape[0]} points")
    return np.asarray(f, dtype=float)


@dataclass(frozen=True)
class GridBlock:
    r"""Rows ``start:stop`` of a cell-centred ``nx x ny`` grid over ``bounds`` (``Grid``'s numbering).

    Point ``k = iy nx + ix`` sits at `(x_0 + (ix + 1/2) w / n_x,\ y_0 + (iy + 1/2) h / n_y)` and
    carries ``density(x) * cell_area * scale`` (the midpoint rule of ``Grid.from_density``, with the
    same arithmetic, so a block equals the same rows of ``Grid.from_density`` bit for bit before the
    normalization by ``scale``).
    """

    density: Any
    bounds: Bounds
    shape: tuple[int, int]
    start: int
    stop: int
    scale: float = 1.0

    def load(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(xy (rows, 2), mass (rows,))`` of the block."""
        b, (nx, ny) = self.bounds, self.shape
        # the grid rows the block touches, laid out whole, then cut (no per-point division)
        r0, r1 = self.start // nx, (self.stop - 1) // nx + 1
        xs = b[0] + (np.arange(nx) + 0.5) * (b[1] - b[0]) / nx
        ys = b[2] + (np.arange(r0, r1) + 0.5) * (b[3] - b[2]) / ny
        cut = slice(self.start - r0 * nx, self.stop - r0 * nx)
        xy = np.empty((self.stop - self.start, 2))
        xy[:, 0] = np.tile(xs, r1 - r0)[cut]
        xy[:, 1] = np.repeat(ys, nx)[cut]
        area = (b[1] - b[0]) * (b[3] - b[2]) / (nx * ny)
        mass = _density_values(self.density, xy, b) * area
        if self.scale != 1.0:
            mass = mass * self.scale
        return xy, mass


@dataclass(frozen=True)
class RandomBlock:
    r"""``count`` points uniform in ``bounds``, drawn by ``numpy.random.default_rng([seed, index])``.

    Each carries `f(x)\,|X| / N \cdot` ``scale`` (importance weights of the uniform draw: the
    Monte Carlo discretization of the density `f` on the box `X`, `N` points in all).
    Seeding by ``(seed, block index)`` makes every block reproducible in any process and
    independent of the others.
    """

    density: Any
    bounds: Bounds
    seed: int
    index: int
    count: int
    n_total: int
    scale: float = 1.0

    def load(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(xy (count, 2), mass (count,))`` of the block."""
        b = self.bounds
        rng = np.random.default_rng([self.seed, self.index])
        u = rng.random((self.count, 2))
        xy = np.empty((self.count, 2))
        xy[:, 0] = b[0] + u[:, 0] * (b[1] - b[0])
        xy[:, 1] = b[2] + u[:, 1] * (b[3] - b[2])
        w = (b[1] - b[0]) * (b[3] - b[2]) / self.n_total
        mass = _density_values(self.density, xy, b) * w
        if self.scale != 1.0:
            mass = mass * self.scale
        return xy, mass


#: Blocks described by a recipe (a Dask ``Delayed`` answers every attribute, so test the type).
RECIPES = (GridBlock, RandomBlock)


def _block_summary(xy: NDArray[np.float64], mass: NDArray[np.float64]) -> dict[str, Any]:
    """What validation needs of one block: size, first bad row and why, total mass, bounding box."""
    xy = np.asarray(xy, dtype=float)
    mass = np.asarray(mass, dtype=float).reshape(-1)
    out: dict[str, Any] = {"n": int(xy.shape[0]), "bad": None, "total": 0.0, "lo": None, "hi": None}
    if xy.ndim != 2 or xy.shape[1] != 2 or mass.shape != (xy.shape[0],):
        out["bad"] = (0, f"a block has points of shape {xy.shape} and masses of shape {mass.shape}")
        return out
    bad = np.flatnonzero(~np.all(np.isfinite(xy), axis=1))
    if bad.size:
        out["bad"] = (int(bad[0]), f"non-finite coordinates {xy[bad[0]].tolist()}")
        return out
    bad = np.flatnonzero(~np.isfinite(mass) | (mass < 0))
    if bad.size:
        out["bad"] = (int(bad[0]), f"mass {mass[bad[0]]} is negative or not finite")
        return out
    out["total"] = float(np.sum(mass))
    if xy.shape[0]:
        out["lo"], out["hi"] = xy.min(axis=0).tolist(), xy.max(axis=0).tolist()
    return out


def load_block(part: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(xy, mass)`` of a block: a recipe is generated, a pair is returned as it is."""
    if isinstance(part, RECIPES):
        return part.load()
    xy, mass = part
    return np.asarray(xy, dtype=float), np.asarray(mass, dtype=float).reshape(-1)


def summarize(part: Any) -> dict[str, Any]:
    """``_block_summary`` of a block (a recipe or an ``(xy, mass)`` pair); runs on a worker."""
    return _block_summary(*load_block(part))


def _compute(tasks: list[Any], client: Any) -> list[Any]:
    """Compute dask delayed objects on ``client`` (a Client or a scheduler address; None: Dask's default scheduler), in order."""
    import dask

    if isinstance(client, str):  # a scheduler's address: connect for this pass only
        from distributed import Client

        with Client(client, timeout="10s") as c:
            return list(c.gather(c.compute(tasks)))
    if client is not None:
        return list(client.gather(client.compute(tasks)))
    return list(dask.compute(*tasks))


class DaskPoints:
    r"""A discrete demand measure `\mu = \sum_k \mu_k \delta_{x_k}` held as row blocks (see the module docstring).

    Build it with ``grid``, ``random``, ``from_arrays`` or ``from_zarr``; each checks the data in one
    pass over the blocks (on ``client`` when given, else on Dask's default scheduler) and raises
    ``InvalidDataError`` naming the first bad point (its global index) and the rule it breaks.

    Attributes
    ----------
    n : number of points; ``total`` : `\mu(X)`; ``bounds`` : their bounding box
    starts : first global row of each block (and ``n`` at the end)
    parts : per block, a recipe (``GridBlock``/``RandomBlock``) or a pair of dask delayed ``(xy, mass)``
    """

    def __init__(self, parts: Sequence[Any], summaries: Sequence[dict[str, Any]], source: str) -> None:
        sizes = [int(s["n"]) for s in summaries]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        for b, s in enumerate(summaries):
            if s["bad"] is not None:
                row, why = s["bad"]
                raise InvalidDataError(f"{source}: demand point {int(self.starts[b]) + int(row)}: {why}")
        self.n = int(self.starts[-1])
        if self.n == 0:
            raise InvalidDataError(f"{source}: the demand has no points")
        with np.errstate(over="ignore"):
            total = math.fsum(float(s["total"]) for s in summaries)
        if not math.isfinite(total):
            raise InvalidDataError(f"{source}: the total demand mass overflows a float")
        lo = np.min([s["lo"] for s in summaries if s["lo"] is not None], axis=0)
        hi = np.max([s["hi"] for s in summaries if s["hi"] is not None], axis=0)
        self.total = float(total)
        self.bounds: Bounds = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
        self.parts = list(parts)
        self.source = source
        self._local: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    # ------------------------------------------------------------------------- constructors
    @classmethod
    def grid(
        cls,
        density: Density | Callable[..., Any],
        bounds: Sequence[float],
        shape: Sequence[int],
        total: float | None = 1.0,
        rows: int | None = None,
        client: Any = None,
    ) -> DaskPoints:
        r"""The cell-centred grid of ``Grid.from_density``, of any size, generated block by block.

        Masses are ``density(centre) * cell_area``, rescaled to sum to ``total`` (default 1; None keeps
        them): the normalizing sum is one pass over the blocks where they are generated. ``rows``:
        points per block (default: 8 blocks or more, at most ``DEFAULT_BLOCK_ROWS`` points each).
        """
        b, s = _grid_recipe(bounds, shape)
        nx, ny = s
        n = nx * ny
        step = _rows(rows, n)
        parts = [GridBlock(density, b, s, a, min(n, a + step)) for a in range(0, n, step)]
        return cls._normalized(parts, total, client, f"grid {nx} x {ny}")

    @classmethod
    def random(
        cls,
        density: Density | Callable[..., Any],
        bounds: Sequence[float],
        n: int,
        seed: int = 0,
        total: float | None = 1.0,
        rows: int | None = None,
        client: Any = None,
    ) -> DaskPoints:
        """``n`` points drawn uniformly in ``bounds`` block by block (``RandomBlock``), masses from ``density``."""
        b, _ = _grid_recipe(bounds, (1, 1))
        n = values.integer(n, "n", minimum=1)
        seed = values.integer(seed, "seed", minimum=0)
        step = _rows(rows, n)
        parts = [RandomBlock(density, b, seed, i, min(step, n - a), n) for i, a in enumerate(range(0, n, step))]
        return cls._normalized(parts, total, client, f"{n} random points")

    @classmethod
    def _normalized(cls, parts: list[Any], total: float | None, client: Any, source: str) -> DaskPoints:
        from dask import delayed

        summaries = _compute([delayed(summarize, pure=True)(p) for p in parts], client)
        if total is not None:
            t = values.finite(total, "total mass", minimum=0.0)
            z = math.fsum(float(s["total"]) for s in summaries if s["bad"] is None)
            if not (z > 0 and math.isfinite(z)):
                raise InvalidDataError(f"{source}: the density has no finite positive mass on the points ({z:g})")
            parts = [dataclasses.replace(p, scale=t / z) for p in parts]
            for s in summaries:
                s["total"] = float(s["total"]) * (t / z)
        return cls(parts, summaries, source)

    @classmethod
    def from_arrays(cls, xy: Any, mass: Any, rows: int = DEFAULT_BLOCK_ROWS, client: Any = None, source: str = "arrays") -> DaskPoints:
        """From ``dask.array`` (or numpy) points ``(N, 2)`` and masses ``(N,)``; the row chunks become the blocks."""
        import dask.array as da

        step = values.integer(rows, "rows", minimum=1)
        x = xy if isinstance(xy, da.Array) else da.from_array(np.asarray(xy, dtype=float), chunks=(step, 2))
        m = mass if isinstance(mass, da.Array) else da.from_array(np.asarray(mass, dtype=float), chunks=(step,))
        if x.ndim != 2 or x.shape[1] != 2:
            raise InvalidDataError(f"{source}: demand points must have shape (N, 2), got {x.shape}")
        if m.ndim != 1 or m.shape[0] != x.shape[0]:
            raise InvalidDataError(f"{source}: demand mass has shape {m.shape} for {x.shape[0]} points")
        x = x.astype(float).rechunk({1: 2})
        m = m.astype(float).rechunk({0: x.chunks[0]})  # the same row blocks
        xd, md = x.to_delayed().ravel(), m.to_delayed().ravel()
        from dask import delayed

        pairs = [delayed(tuple, pure=True)([a, b]) for a, b in zip(xd, md, strict=True)]
        summaries = _compute([delayed(summarize, pure=True)(p) for p in pairs], client)
        return cls(pairs, summaries, source)

    @classmethod
    def from_zarr(cls, path: str, xy: str = "xy", mass: str = "mass", client: Any = None) -> DaskPoints:
        """From a Zarr store at ``path`` holding arrays ``xy`` ``(N, 2)`` and ``mass`` ``(N,)`` (its chunks are the blocks)."""
        import dask.array as da

        try:
            x = da.from_zarr(path, component=xy)
            m = da.from_zarr(path, component=mass)
        except Exception as exc:  # zarr raises several kinds for a missing store or array
            raise InvalidDataError(f"{path}: cannot read arrays {xy!r} and {mass!r} ({type(exc).__name__}: {exc})") from None
        return cls.from_arrays(x, m, client=client, source=f"{path}")

    # ------------------------------------------------------------------------- reading
    @property
    def n_blocks(self) -> int:
        return len(self.parts)

    @property
    def generated(self) -> bool:
        """True when every block is a recipe (regenerated where it is used, never stored)."""
        return all(isinstance(p, RECIPES) for p in self.parts)

    def block(self, b: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(xy, mass)`` of block ``b``, in this process."""
        part = self.parts[b]
        if isinstance(part, RECIPES):
            return part.load()
        return load_block(part.compute())

    def rows(self, start: int, stop: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(xy, mass)`` of global rows ``start:stop``, reading or generating only the blocks they touch."""
        start, stop = max(0, int(start)), min(self.n, int(stop))
        if self._local is not None:
            return self._local[0][start:stop], self._local[1][start:stop]
        if stop <= start:
            return np.zeros((0, 2)), np.zeros(0)
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        last = int(np.searchsorted(self.starts, stop, side="left"))
        xs, ms = [], []
        for b in range(first, last):
            a0, a1 = int(self.starts[b]), int(self.starts[b + 1])
            lo, hi = max(start, a0), min(stop, a1)
            part = self.parts[b]
            if isinstance(part, GridBlock):  # generate the rows asked for, not the whole block
                x, m = dataclasses.replace(part, start=part.start + lo - a0, stop=part.start + hi - a0).load()
            else:
                x, m = self.block(b)
                x, m = x[lo - a0 : hi - a0], m[lo - a0 : hi - a0]
            xs.append(x)
            ms.append(m)
        return np.concatenate(xs), np.concatenate(ms)

    def _materialize(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self._local is None:
            if self.n > LOCAL_LIMIT:
                raise UnsupportedError(
                    f"this demand has {self.n:,} points, more than {LOCAL_LIMIT:,} to hold in one process: "
                    "solve it on a cluster (backend='dual-ascent', client=...) or use fewer points"
                )
            blocks = [self.block(b) for b in range(self.n_blocks)]
            xy = np.concatenate([bl[0] for bl in blocks])
            mass = np.concatenate([bl[1] for bl in blocks])
            xy.setflags(write=False)
            mass.setflags(write=False)
            self._local = (xy, mass)
        return self._local

    @property
    def xy(self) -> NDArray[np.float64]:
        """All points in this process (at most ``LOCAL_LIMIT``; else ``UnsupportedError``)."""
        return self._materialize()[0]

    @property
    def mass(self) -> NDArray[np.float64]:
        """All masses in this process (at most ``LOCAL_LIMIT``; else ``UnsupportedError``)."""
        return self._materialize()[1]

    def to_points(self) -> Points:
        """The same measure as an in-memory ``Points`` (at most ``LOCAL_LIMIT`` points)."""
        return Points(self.xy, self.mass)

    def to_dask(self) -> tuple[Any, Any]:
        """``(xy, mass)`` as lazy ``dask.array``s with one row chunk per block."""
        import dask.array as da
        from dask import delayed

        xs, ms = [], []
        for b, part in enumerate(self.parts):
            rows = int(self.starts[b + 1] - self.starts[b])
            pair = delayed(load_block, pure=True)(part)
            xs.append(da.from_delayed(pair[0], shape=(rows, 2), dtype=float))
            ms.append(da.from_delayed(pair[1], shape=(rows,), dtype=float))
        return da.concatenate(xs), da.concatenate(ms)

    def to_dict(self) -> dict[str, Any]:
        raise UnsupportedError("a Dask-backed demand is not written to a model file: save its points to Zarr instead")

    def __repr__(self) -> str:
        return f"DaskPoints({self.source}: N={self.n:,} in {self.n_blocks} blocks, total mass={self.total:g})"


def _rows(rows: int | None, n: int) -> int:
    """Points per generated block: as asked, or at least 8 blocks (65,536 points or more) up to ``DEFAULT_BLOCK_ROWS``."""
    if rows is not None:
        return values.integer(rows, "rows", minimum=1)
    return int(min(DEFAULT_BLOCK_ROWS, max(65_536, -(-n // 8))))


def _grid_recipe(bounds: Sequence[float], shape: Sequence[int]) -> tuple[Bounds, tuple[int, int]]:
    """``Grid``'s checks of bounds and shape, without its 50-million-point ceiling (blocks lift it)."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)) or len(shape) != 2:
        raise InvalidDataError(f"grid shape {values._describe(shape)} must be 2 positive integers (nx, ny)")
    s = (values.integer(shape[0], "grid shape[0]", minimum=1), values.integer(shape[1], "grid shape[1]", minimum=1))
    b, _ = Grid._check(bounds, (1, 1))  # finite, ordered bounds whose box has a float area
    if not (b[1] - b[0]) * (b[3] - b[2]) / (s[0] * s[1]) >= np.finfo(float).tiny:
        raise InvalidDataError(f"grid bounds {b} with shape {s}: a cell is too small for a float (scale the coordinates)")
    return b, s


PLANAR = (Euclidean, SquaredEuclidean, Manhattan)


class DaskSpatialFlowProblem(SpatialFlowProblem):
    """Problem (1)/(2) of Laurentin et al. (2025) with a ``DaskPoints`` demand.

    Parameters
    ----------
    network : Network
        Must have at least one endpoint, each with a position.
    demand : DaskPoints
    assignment_cost : Euclidean, SquaredEuclidean or Manhattan
        A planar cost (computed from coordinates wherever the block is; a ``Matrix`` or ``Geodesic``
        cost is per-point data that would have to travel with the blocks: not supported).
    """

    def __init__(
        self,
        network: Network,
        demand: DaskPoints,
        assignment_cost: Any,
        name: str = "",
        balance_rtol: float = BALANCE_RTOL,
    ) -> None:
        if not isinstance(demand, DaskPoints):
            raise InvalidDataError(f"demand must be DaskPoints, got {type(demand).__name__}")
        if type(assignment_cost) not in PLANAR:
            raise UnsupportedError(
                f"a Dask-backed demand needs a planar assignment cost (Euclidean, SquaredEuclidean, Manhattan), "
                f"not {type(assignment_cost).__name__}"
            )
        self.demand = demand  # type: ignore[assignment]
        self.assignment_cost = copy.copy(assignment_cost)
        FlowProblem.__init__(self, network, name=name, balance_rtol=balance_rtol)
        ends = self.network.endpoints
        if ends.size == 0:
            raise UnreachableError("a spatial problem needs at least one endpoint node (endpoint: true)")
        self.endpoints = np.array(ends)
        self.endpoints.setflags(write=False)
        self.endpoint_names = [self.node_names[i] for i in ends]
        exy = np.array(self.network.positions(ends), dtype=float)
        exy.setflags(write=False)
        self.endpoint_xy = exy
        missing = [self.endpoint_names[k] for k in range(len(ends)) if not np.all(np.isfinite(exy[k]))]
        if missing:
            raise UnreachableError(f"{self.assignment_cost.name} assignment cost needs endpoint positions; endpoint {missing[0]!r} has none")
        b = demand.bounds
        big = max(abs(b[0]), abs(b[1]), abs(b[2]), abs(b[3]), float(np.max(np.abs(exy))))
        with np.errstate(over="ignore"):
            if not math.isfinite(8.0 * big * big):
                raise InvalidDataError(f"demand bounds {b}: assignment costs could overflow a float (scale the coordinates)")

    @property
    def points(self) -> DaskPoints:
        """The demand, typed as what it is (``demand`` is typed ``Points`` by the parent class)."""
        return self.demand  # type: ignore[return-value]

    def _demand_total(self) -> float:
        return float(self.demand.total)

    @property
    def n_points(self) -> int:
        return int(self.demand.n)

    def cost_block(self, start: int = 0, stop: int | None = None) -> NDArray[np.float64]:
        """Assignment costs of points ``start:stop`` (only those rows are read or generated)."""
        xy, mass = self.points.rows(start, self.n_points if stop is None else stop)
        return self.assignment_cost.block(Points(xy, mass), np.asarray(self.endpoint_xy))

    def aggregated(self) -> SpatialFlowProblem:
        """The same network with the whole demand on one point (the centre of its box).

        With a planar cost every endpoint serves every point, so both problems have the same
        feasibility (one demand group of mass `\\mu(X)`): the cut check runs on this one.
        """
        b = self.demand.bounds
        pt = Points([[(b[0] + b[1]) / 2, (b[2] + b[3]) / 2]], [self.demand.total])
        return SpatialFlowProblem(self.network, pt, self.assignment_cost, name=self.name, balance_rtol=self.balance_rtol)

    def to_spatial(self) -> SpatialFlowProblem:
        """The same problem with the demand in memory (at most ``LOCAL_LIMIT`` points)."""
        return SpatialFlowProblem(self.network, self.points.to_points(), self.assignment_cost, name=self.name, balance_rtol=self.balance_rtol)

    def to_dict(self) -> dict[str, Any]:
        return self.demand.to_dict()

    def __repr__(self) -> str:
        return f"Dask{super().__repr__()}"
