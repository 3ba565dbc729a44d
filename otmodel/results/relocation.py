"""The result of a relocation backend, in the vocabulary of ``Solution``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.results.solution import PointStatus, Status, Trace

__all__ = ["RelocationResult"]


@dataclass(frozen=True, repr=False)
class RelocationResult:
    """An assignment of every point to a bin, the final positions and the bin prices.

    Attributes
    ----------
    problem : RelocationProblem
    status : Status -- why the backend stopped (``OPTIMAL`` only when its own bound proves it)
    point_status : PointStatus -- ``FEASIBLE`` (no bin over capacity) or ``NO_POINT``
    objective : float -- total displacement of the assignment, `m\\sum_i c_{i,b(i)}`
    bin_of : (N, 2) int array -- bin ``(ix, iy)`` of each point
    positions : (N, 2) array -- final coordinates, inside the free part of the point's bin: the
        nearest free point of the bin (their total displacement is ``objective``), or spread over the
        bin when ``spread`` (``otmodel.model._relocation_spread``; their total displacement,
        ``position_displacement()``, is then larger than ``objective``)
    potentials : (mx, my) array -- bin prices `\\psi \\ge 0`, indexed ``[ix, iy]``
    dual_bound : float -- `D(\\psi)` evaluated by the backend over all pairs (NaN if not computed);
        ``otmodel.validation.certify`` recomputes it from the problem data
    relative_gap : float -- ``(objective - dual_bound) / max(|objective|, tiny)`` as the backend saw it
    backend, solver : names
    timings : dict -- seconds per phase and ``total``
    trace : Trace -- per round: time, objective, dual bound, gap, columns
    iterations : int -- rounds of the method
    message : str
    info : dict
    spread : bool -- whether ``positions`` are spread inside the bins (``solve(..., spread=True)``)
    """

    problem: Any
    status: Status
    point_status: PointStatus
    objective: float
    bin_of: NDArray[np.int64]
    positions: NDArray[np.float64]
    potentials: NDArray[np.float64]
    backend: str
    solver: str
    dual_bound: float = math.nan
    relative_gap: float = math.nan
    timings: dict[str, float] = field(default_factory=dict)
    trace: Trace | None = None
    iterations: int = 0
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    spread: bool = False

    @property
    def has_point(self) -> bool:
        return self.point_status in (PointStatus.FEASIBLE, PointStatus.NEARLY_FEASIBLE, PointStatus.INFEASIBLE_POINT)

    def loads(self) -> NDArray[np.int64]:
        """Points per bin, shape (mx, my)."""
        mx, my = self.problem.bins
        flat = self.problem.flat_bins(self.bin_of)
        return np.bincount(flat, minlength=mx * my).reshape(mx, my)

    def displacement(self) -> NDArray[np.float64]:
        """Per point, the distance moved (in the problem's metric, not raised to the power)."""
        d = self.positions - self.problem.points
        if self.problem.metric == "euclidean":
            return np.asarray(np.hypot(d[:, 0], d[:, 1]))
        return np.asarray(np.abs(d).sum(axis=1))

    def position_displacement(self) -> float:
        r"""Total displacement of the final positions, `m \sum_i d(x_i, x'_i)^p`.

        Equal to ``objective`` (up to rounding) for the nearest-free-point positions; larger when the
        positions are spread inside their bins. ``objective`` -- the assignment's cost -- is what
        ``certify`` certifies against the dual bound; this is what the points actually move.
        """
        return float(self.problem.mass * np.sum(self.displacement() ** self.problem.power))

    def __repr__(self) -> str:
        return (
            f"RelocationResult({self.status.value}, point {self.point_status.value}, objective "
            f"{self.objective:.10g}, relative gap {self.relative_gap:.3g}, backend {self.backend!r}; "
            f"{len(self.bin_of)} points)"
        )

    def summary(self) -> str:
        p = self.problem
        lines = [
            f"{p!r}",
            f"backend {self.backend} ({self.solver}): {self.status.value}, point {self.point_status.value}",
        ]
        if self.message:
            lines.append(f"  {self.message}")
        if self.has_point:
            load = self.loads().reshape(-1)
            dens = load * p.mass / np.maximum(p.free_area, 1e-300)
            lines.append(f"objective     {self.objective:.10g}  (total displacement, {p.metric} {p.displacement})")
            lines.append(f"dual bound    {self.dual_bound:.10g}  (relative gap {self.relative_gap:.3g})")
            if self.spread:
                lines.append(
                    f"positions     spread inside their bins: total displacement {self.position_displacement():.10g} "
                    "(the objective above is the assignment's cost, which is certified)"
                )
            lines.append(f"largest bin   {int(load.max())} points, density {float(dens[p.free_area > 0].max()):.6g}")
            lines.append(f"moved         {int(np.count_nonzero(self.displacement() > 0))} of {p.n_points} points")
        if self.timings:
            lines.append("time          " + ", ".join(f"{k} {v:.3f} s" for k, v in self.timings.items()))
        if self.iterations:
            lines.append(f"iterations    {self.iterations}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the assignment itself is not written point by point)."""

        def num(v: float) -> float | str:
            v = float(v)
            return v if math.isfinite(v) else str(v)

        return {
            "problem": self.problem.name or "relocation",
            "backend": self.backend,
            "solver": self.solver,
            "status": self.status.value,
            "point_status": self.point_status.value,
            "objective": num(self.objective),
            "dual_bound": num(self.dual_bound),
            "relative_gap": num(self.relative_gap),
            "timings": {k: float(v) for k, v in self.timings.items()},
            "iterations": self.iterations,
            "message": self.message,
            "spread": self.spread,
            "position_displacement": num(self.position_displacement()) if self.has_point else None,
        }

    def to_json(self, path: str | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text
