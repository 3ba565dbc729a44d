r"""Convex arc costs.

An arc cost is a convex function `c_{ij}(p)` of the flow `p` on arc `(i, j)`.
otmodel supports the separable quadratic family

.. math:: c_{ij}(p) = a_{ij} p^2 + b_{ij} p, \qquad a_{ij} \ge 0,

which covers the linear costs of min-cost flow (``Linear``, ``a = 0``) and the quadratic
line losses of Laurentin et al. (2025), section V (``Quadratic``, ``a = d_ij``).

Each cost knows

* its value `c(p)`;
* its *local response* (Laurentin et al., eq. (5)): for a price difference `t = \psi_i - \psi_j`,
  `p(t) = \arg\min_{p \in [l, u]} c(p) - t p`, which for ``a > 0`` is
  `\mathrm{proj}_{[l,u]}\big((t - b) / (2a)\big)`;
* its LP/QP coefficients ``(a, b)``.

``ArcCosts`` holds the coefficients of all arcs of a network as arrays and evaluates all of the
above vectorized over arcs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import otmodel.model.values as values
from otmodel.errors import InvalidDataError, NonConvexError

__all__ = ["ArcCost", "Linear", "Quadratic", "ArcCosts", "as_arc_cost"]


@dataclass(frozen=True)
class ArcCost:
    """Base class: the cost ``a*p**2 + b*p`` of one arc, with ``a >= 0``."""

    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        for name in ("a", "b"):
            v = getattr(self, name)
            if isinstance(v, np.ndarray) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise InvalidDataError(f"arc cost coefficient {name}={values._describe(v)} must be a finite number")
            object.__setattr__(self, name, values.finite(v, f"arc cost coefficient {name}"))
        if self.a < 0:
            raise NonConvexError(
                f"arc cost {self.a}*p^2 + {self.b}*p is not convex: the quadratic coefficient must be >= 0"
            )

    @property
    def kind(self) -> str:
        return "quadratic" if self.a > 0 else "linear"

    @property
    def strictly_convex(self) -> bool:
        """True when the cost is strictly convex (Laurentin et al., Assumption 4)."""
        return self.a > 0

    def value(self, p: ArrayLike) -> NDArray[np.float64]:
        """Cost `a p^2 + b p` of flow ``p``."""
        q = np.asarray(p, dtype=float)
        return self.a * q * q + self.b * q

    def response(self, t: ArrayLike, lower: float = -math.inf, upper: float = math.inf) -> NDArray[np.float64]:
        r"""Local response `\arg\min_{p\in[l,u]} c(p) - t p` (Laurentin et al., eq. (5))."""
        return ArcCosts(np.array([self.a]), np.array([self.b])).response(
            np.asarray(t, dtype=float).reshape(1), np.array([lower]), np.array([upper])
        )

    def coefficients(self) -> tuple[float, float]:
        """The LP/QP coefficients ``(a, b)``: cost = a p^2 + b p."""
        return self.a, self.b

    def to_dict(self) -> dict[str, Any]:
        if self.a > 0:
            d: dict[str, Any] = {"type": "quadratic", "a": self.a}
            if self.b:
                d["b"] = self.b
            return d
        return {"type": "linear", "c": self.b}


class Linear(ArcCost):
    """Linear arc cost `c\\,p` of the flow `p` on one arc (the ``a = 0`` member of the family).

    The cost is signed: on an arc whose lower bound is negative, flow running backwards
    (`p < 0`) is charged `c\\,p < 0` for `c > 0`. Its local response (Laurentin et al., eq. (5))
    is bang-bang: `p(t) = u` when `t > c`, `l` when `t < c`, anything in `[l, u]` at `t = c`.

    Parameters
    ----------
    c : float
        Cost per unit of flow, in objective units per flow unit; any finite number (negative
        allowed). ``nan``, ``inf`` and non-numbers are refused with ``InvalidDataError``.
    """

    def __init__(self, c: float) -> None:
        super().__init__(0.0, c)

    def __repr__(self) -> str:
        return f"Linear({self.b:g})"


class Quadratic(ArcCost):
    """Convex quadratic arc cost `a p^2 + b p` with `a \\ge 0`.

    The line-loss cost of Laurentin et al. (2025), section V, is ``Quadratic(d_ij)``. Its local
    response (eq. (5)) is `p(t) = \\mathrm{proj}_{[l,u]}((t - b) / (2a))` for `a > 0`.

    Parameters
    ----------
    a : float
        Quadratic coefficient, in objective units per squared flow unit; finite and `\\ge 0`
        (a negative value is refused with ``NonConvexError``, a non-finite one with
        ``InvalidDataError``). ``a = 0`` gives a linear cost.
    b : float, default 0.0
        Linear coefficient, in objective units per flow unit; any finite number.
    """

    def __init__(self, a: float, b: float = 0.0) -> None:
        super().__init__(a, b)

    def __repr__(self) -> str:
        return f"Quadratic({self.a:g}, {self.b:g})" if self.b else f"Quadratic({self.a:g})"


def as_arc_cost(cost: ArcCost | float | int | None) -> ArcCost:
    """A number ``c`` means ``Linear(c)``; ``None`` means zero cost."""
    if cost is None:
        return Linear(0.0)
    if isinstance(cost, ArcCost):
        return cost
    if isinstance(cost, (int, float, np.integer, np.floating)) and not isinstance(cost, (bool, np.bool_)):
        return Linear(values.finite(cost, "arc cost"))
    raise InvalidDataError(f"arc cost {values.describe(cost)} is neither a number nor an ArcCost (Linear, Quadratic)")


@dataclass(frozen=True)
class ArcCosts:
    """Coefficients of all arc costs, vectorized: ``cost_k(p) = a[k] p^2 + b[k] p``."""

    a: NDArray[np.float64]
    b: NDArray[np.float64]

    def value(self, p: ArrayLike) -> NDArray[np.float64]:
        """Per-arc cost of flows ``p`` (``inf`` where it overflows: huge bounds times huge costs)."""
        q = np.asarray(p, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is an inf cost, not a warning
            return self.a * q * q + self.b * q

    def total(self, p: ArrayLike) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sum(self.value(p)))

    def response(
        self, t: ArrayLike, lower: NDArray[np.float64], upper: NDArray[np.float64], slope_tol: float = 0.0
    ) -> NDArray[np.float64]:
        r"""Vectorized local response `p_k(t_k) = \arg\min_{p\in[l_k,u_k]} a_k p^2 + (b_k - t_k) p`.

        For ``a > 0`` the unique minimizer is ``clip((t - b) / (2a), l, u)``; for a linear cost it is
        ``u`` when ``t > b``, ``l`` when ``t < b`` and (a tie) the point of ``[l, u]`` closest to 0
        when ``t == b`` (within ``slope_tol``). A linear cost with an infinite bound on the winning
        side gives ``+-inf``.
        """
        tt = np.asarray(t, dtype=float)
        a, b = self.a, self.b
        quad = a > 0
        out = np.empty(np.broadcast(tt, a).shape, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[...] = np.where(quad, (tt - b) / np.where(quad, 2 * a, 1.0), 0.0)
        lin = ~quad
        if np.any(lin):
            slope = tt - b
            out = np.where(lin & (slope > slope_tol), upper, out)
            out = np.where(lin & (slope < -slope_tol), lower, out)
        return np.clip(out, lower, upper)

    def conjugate_term(
        self, t: ArrayLike, lower: NDArray[np.float64], upper: NDArray[np.float64], slope_tol: float = 0.0
    ) -> NDArray[np.float64]:
        r"""Per-arc `\min_{p\in[l,u]} c(p) - t p` (the arc term of Laurentin et al., eq. (4)).

        Equals ``-inf`` where a linear cost with an infinite bound makes the minimum unbounded.
        """
        tt = np.asarray(t, dtype=float)
        p = self.response(tt, lower, upper, slope_tol)
        with np.errstate(invalid="ignore"):
            v = self.a * p * p + (self.b - tt) * p
        return np.where(np.isinf(p), -np.inf, v)

    @property
    def is_linear(self) -> bool:
        return bool(np.all(self.a == 0))

    def nonstrict_arcs(self) -> NDArray[np.intp]:
        """Indices of arcs whose cost is not strictly convex (violating Assumption 4)."""
        return np.flatnonzero(self.a <= 0)
