r"""Certificates for ``RelocationProblem``, from the problem data alone.

Given an answer (a result of any backend, or plain arrays ``bin_of`` and ``potentials``),
``certify_relocation`` recomputes

* feasibility: every bin index in range, no bin over its capacity (whole points), every final
  position inside its bin's free part (not inside an exclusion zone), when positions are given;
* the true cost of the assignment, `m \sum_i c_{i,b(i)}` (the nearest free point of the bin);
* the exact dual bound `D(\psi) = m(\sum_i \min_j (c_{ij} + \psi_j) - \sum_j \psi_j u_j)` over
  all pairs, at the answer's prices clipped to `\psi \ge 0` (or at prices given separately,
  e.g. those of the certified optimum, to judge a heuristic): a lower bound on the optimum by weak
  duality;
* the relative gap ``(cost - D) / cost`` (0 when the cost is 0 and so is the bound).

The answer is **certified** when it is feasible and the gap is at most ``rtol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["RelocationCertificate", "certify_relocation"]


@dataclass(frozen=True)
class RelocationCertificate:
    r"""What ``certify_relocation`` found; ``certified`` sums it up, ``reasons`` say why not.

    Attributes
    ----------
    certified : bool
        Feasible and ``relative_gap <= rtol`` (and the reported objective agrees).
    reasons : tuple of str
        Why not (empty when certified).
    objective : float
        The true cost `m \sum_i c_{i,b(i)}` of the assignment, recomputed.
    reported_objective : float
        What the answer reported (NaN when given as arrays).
    dual_bound : float
        The dual bound `D(\psi)` at the (clipped) prices: a lower bound on the optimum.
    upper_bound : float
        ``objective`` when the assignment is feasible, else ``inf``.
    gap, relative_gap : float
        ``objective - dual_bound`` and that over ``objective``.
    rtol : float
        The tolerance on ``relative_gap``.
    max_overfill : int
        Largest number of points above a bin's capacity (0 when none is over).
    overfull_bins : int
        How many bins are over capacity.
    points_off_free : int
        Points whose given position lies outside their bin's free part (beyond ``position_tol``).
    position_error : float
        Largest distance of a given position from its bin's free part.
    checks : tuple of (str, bool, str)
        ``(name, passed, detail)`` of every check.
    info : dict
        Anything else recorded.
    """

    certified: bool
    reasons: tuple[str, ...]
    objective: float
    reported_objective: float
    dual_bound: float
    upper_bound: float
    gap: float
    relative_gap: float
    rtol: float
    max_overfill: int
    overfull_bins: int
    points_off_free: int
    position_error: float
    checks: tuple[tuple[str, bool, str], ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"certified     {self.certified}" + ("" if self.certified else f"  ({'; '.join(self.reasons)})"),
            f"cost          {self.objective:.10g}  (reported {self.reported_objective:.10g})",
            f"dual bound    {self.dual_bound:.10g}",
            f"relative gap  {self.relative_gap:.3g}  (rtol {self.rtol:g})",
        ]
        for name, ok, detail in self.checks:
            lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
        return "\n".join(lines)


def certify_relocation(
    problem: Any,
    answer: Any = None,
    rtol: float = 1e-6,
    *,
    bin_of: ArrayLike | None = None,
    positions: ArrayLike | None = None,
    potentials: ArrayLike | None = None,
    position_tol: float = 1e-9,
) -> RelocationCertificate:
    r"""Certify a relocation answer (a result object, or the arrays given by keyword).

    Parameters
    ----------
    problem : RelocationProblem
        The problem the answer claims to solve.
    answer : RelocationResult, optional
        An object with ``bin_of``, ``positions``, ``potentials`` and ``objective`` (any relocation
        result), or ``None`` when the arrays are given.
    rtol : float, default 1e-6
        Largest relative gap ``(cost - D) / cost`` accepted.
    bin_of : (n_points, 2) array of int, optional
        Bin ``(ix, iy)`` of every point; overrides the answer's (required without an answer, else
        ``ValueError``).
    positions : (n_points, 2) array of float, optional
        Final positions, checked to lie in their bin's free part; overrides the answer's.
    potentials : (n_bins,) array of float, optional
        Bin prices `\psi` (``potentials=psi`` of another answer judges this assignment against
        that answer's bound); overrides the answer's.
    position_tol : float, default 1e-9
        Slack (relative to the bin size) for a position on the edge of its free part.

    Returns
    -------
    RelocationCertificate
        The verdict ``certified``, the cost, the dual bound, the gap and every check.
    """
    from otmodel.model import _relocation_kernels as K

    P = problem
    reasons: list[str] = []
    checks: list[tuple[str, bool, str]] = []
    b = bin_of if bin_of is not None else getattr(answer, "bin_of", None)
    if b is None:
        raise ValueError("certify_relocation needs an assignment: pass a result or bin_of=")
    pos = positions if positions is not None else getattr(answer, "positions", None)
    psi_in = potentials if potentials is not None else getattr(answer, "potentials", None)
    reported = float(getattr(answer, "objective", math.nan)) if answer is not None else math.nan
    mx, my = P.bins
    arr = np.asarray(b)
    if arr.shape != (P.n_points, 2):
        raise ValueError(f"bin_of has shape {arr.shape}; expected ({P.n_points}, 2)")
    in_range = (arr[:, 0] >= 0) & (arr[:, 0] < mx) & (arr[:, 1] >= 0) & (arr[:, 1] < my)
    ok_range = bool(in_range.all())
    checks.append(("bins in range", ok_range, f"{int((~in_range).sum())} points outside the grid"))
    if not ok_range:
        reasons.append("a bin index is outside the grid")
        arr = np.where(in_range[:, None], arr, 0)
    flat = arr[:, 0].astype(np.int64) * my + arr[:, 1].astype(np.int64)
    load = np.bincount(flat, minlength=P.n_bins)
    over = load - P.slots
    n_over = int((over > 0).sum())
    checks.append(("capacity", n_over == 0, f"{n_over} bins over capacity, worst by {int(max(over.max(), 0))} points"))
    if n_over:
        reasons.append(f"{n_over} bins over capacity")
    cost = P.mass * float(np.sum(P.cost(np.arange(P.n_points), flat)))
    if not math.isfinite(cost):
        reasons.append("a point is assigned to a bin with no free part")
    # ------------------------------------------------------------------ positions
    off_free, pos_err = 0, 0.0
    if pos is not None:
        q = np.asarray(pos, dtype=float)
        if q.shape != (P.n_points, 2):
            raise ValueError(f"positions has shape {q.shape}; expected ({P.n_points}, 2)")
        # distance from each final position to the free part of its bin: 0 when inside
        d = K.pair_costs(q, np.arange(P.n_points, dtype=np.int64), flat, *P.kernel_args()[:8], True, 1)  # type: ignore[call-arg]
        tol = position_tol * max(P.bin_width, P.bin_height)
        bad = ~(d <= tol)
        off_free = int(bad.sum())
        pos_err = float(np.max(d, initial=0.0))
        checks.append(("positions in the free part of their bins", off_free == 0, f"{off_free} points outside, worst by {pos_err:.3g}"))
        if off_free:
            reasons.append(f"{off_free} final positions are outside the free part of their bin")
        ex = P.exclusions
        if ex.shape[0]:
            inside = np.zeros(P.n_points, dtype=bool)
            for x0, x1, y0, y1 in ex:
                inside |= (q[:, 0] > x0 + tol) & (q[:, 0] < x1 - tol) & (q[:, 1] > y0 + tol) & (q[:, 1] < y1 - tol)
            checks.append(("no point in an exclusion zone", not inside.any(), f"{int(inside.sum())} points inside a zone"))
            if inside.any():
                reasons.append(f"{int(inside.sum())} points inside an exclusion zone")
    # ------------------------------------------------------------------ dual bound
    if psi_in is None:
        psi = np.zeros(P.n_bins)
    else:
        psi = np.asarray(psi_in, dtype=float).reshape(-1)
        if psi.size != P.n_bins:
            raise ValueError(f"potentials have {psi.size} entries for {P.n_bins} bins")
        psi = np.where(np.isfinite(psi), np.maximum(psi, 0.0), 0.0)  # any psi >= 0 gives a valid bound
    dual = P.dual_value(psi)
    gap = cost - dual
    rel = gap / abs(cost) if cost != 0 else (0.0 if abs(gap) <= 0 else math.inf)
    rel = max(rel, 0.0) if math.isfinite(rel) else math.inf
    checks.append(("relative gap", rel <= rtol, f"{rel:.3g} (rtol {rtol:g})"))
    if not rel <= rtol:
        reasons.append(f"relative gap {rel:.3g} above rtol {rtol:g}")
    if math.isfinite(reported) and abs(reported - cost) > max(rtol, 1e-9) * max(1.0, abs(cost)):
        reasons.append(f"reported objective {reported:.10g} differs from the recomputed cost {cost:.10g}")
        checks.append(("reported objective", False, f"{reported:.10g} vs {cost:.10g}"))
    return RelocationCertificate(
        certified=not reasons,
        reasons=tuple(reasons),
        objective=cost,
        reported_objective=reported,
        dual_bound=dual,
        upper_bound=cost if not reasons or n_over == 0 else math.inf,
        gap=gap,
        relative_gap=rel,
        rtol=rtol,
        max_overfill=int(max(over.max(), 0)),
        overfull_bins=n_over,
        points_off_free=off_free,
        position_error=pos_err,
        checks=tuple(checks),
    )
