r"""Outer approximation of quadratic arc costs by tangent cuts (Kelley's cutting planes).

HiGHS's own QP solver is slow on these models (measured: about 3 s at 50 x 50, a solve error on one
formulation, more than 300 s at 100 x 100). The quadratic terms are few (one per network arc) while
the LP part is large (one variable per demand point and endpoint), so the QP is solved exactly as a
sequence of LPs: each quadratic term :math:`q P^2` is replaced by an epigraph variable :math:`t`
with tangent cuts

.. math:: t \ge q (2 P_0 P - P_0^2) \qquad (\text{the tangent of } q P^2 \text{ at } P_0),

which under-estimate it. The LP optimum is therefore a *lower bound* on the QP optimum, and the
true objective at the LP's point (feasible for the QP, since the constraints are the same) is an
*upper bound*; their difference is :math:`\sum_j (q_j P_j^2 - t_j) \ge 0`. Cuts are added at the
current :math:`P` until this gap is below ``tol`` relative to the objective. Each re-solve starts
from the previous basis (dual simplex after adding rows).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["initial_cut_points", "tangent", "oa_gap"]


def initial_cut_points(
    lower: NDArray[np.float64], upper: NDArray[np.float64], scale: float, k: int = 5
) -> NDArray[np.float64]:
    """``(n, k)`` tangent points per quadratic arc: ``k`` evenly spaced points of its (scaled) bounds.

    An infinite bound is replaced by ``+-scale`` (the total scaled mass, a bound on any sensible
    flow), which keeps the first LP bounded.
    """
    lo = np.where(np.isfinite(lower), lower, -scale)
    hi = np.where(np.isfinite(upper), upper, scale)
    hi = np.maximum(hi, lo)
    w = np.linspace(0.0, 1.0, k)
    pts = lo[:, None] + (hi - lo)[:, None] * w[None, :]
    # always include 0 when it is admissible: it is the optimum of many symmetric instances
    zero_ok = (lo <= 0) & (hi >= 0)
    pts[zero_ok, k // 2] = 0.0
    return pts


def tangent(q: NDArray[np.float64], p0: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slope and intercept of the tangent of ``q p^2`` at ``p0``: ``t >= slope * p + intercept``."""
    return 2.0 * q * p0, -q * p0 * p0


def oa_gap(q: NDArray[np.float64], p: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-term under-estimation ``q p^2 - t`` (>= 0 up to round-off)."""
    return np.maximum(q * p * p - t, 0.0)
