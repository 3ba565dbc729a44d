r"""Convex arc costs.

An arc cost is a convex function `c_{ij}(p)` of the flow `p` on arc `(i, j)`.
otmodel supports the separable quadratic family

.. math:: c_{ij}(p) = a_{ij} p^2 + b_{ij} |p|, \qquad a_{ij} \ge 0,

which covers the linear costs of min-cost flow (``Linear``, ``a = 0``) and the quadratic
line losses of Laurentin et al. (2025), section V (``Quadratic``, ``a = d_ij``).

Two-way arcs. An arc whose lower bound is negative carries flow in both directions (`p < 0`
runs from head to tail). Its linear part is charged on the *amount* of flow, `b |p|`: a link
costs `b` per unit whichever way the flow runs, as a pair of opposite one-way arcs of cost `b`
would (it never earns money by running backwards). On a one-way arc (`l \ge 0`) `|p| = p` and
nothing changes. `b |p|` is convex only for `b \ge 0`, so a negative linear coefficient on an
arc that can run both ways (`l < 0 < u`) is refused (``NonConvexError``). The old *signed*
reading `a p^2 + b p` -- backward flow credited `b` per unit -- is still available, spelled
explicitly: ``Linear(c, signed=True)``, ``Quadratic(a, b, signed=True)``, ``signed: true`` in
a model file.

Each cost knows

* its value `c(p)`;
* its *local response* (Laurentin et al., eq. (5)): for a price difference `t = \psi_i - \psi_j`,
  `p(t) = \arg\min_{p \in [l, u]} c(p) - t p`, which for ``a > 0`` is
  `\mathrm{proj}_{[l,u]}\big((t - b) / (2a)\big)` on a one-way arc; on a two-way arc the kink of
  `b |p|` at 0 gives `\mathrm{proj}_{[l,u]}\big(\mathrm{sign}(t) \max(|t| - b, 0) / (2a)\big)`
  (soft thresholding: no flow while `|t| \le b`);
* its LP/QP coefficients ``(a, b)`` (a two-way arc with ``b > 0`` enters an LP/QP as two opposite
  one-way arcs, ``ArcCosts.kink``).

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
    """Base class: the cost ``a*p**2 + b*|p|`` of one arc (``a*p**2 + b*p`` when ``signed``), ``a >= 0``."""

    a: float = 0.0
    b: float = 0.0
    signed: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.signed, (bool, np.bool_)):
            raise InvalidDataError(f"arc cost flag signed={values._describe(self.signed)} must be true or false")
        object.__setattr__(self, "signed", bool(self.signed))
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
        """Cost `a p^2 + b |p|` of flow ``p`` (`a p^2 + b p` for a signed cost)."""
        q = np.asarray(p, dtype=float)
        return self.a * q * q + self.b * (q if self.signed else np.abs(q))

    def response(self, t: ArrayLike, lower: float = -math.inf, upper: float = math.inf) -> NDArray[np.float64]:
        r"""Local response `\arg\min_{p\in[l,u]} c(p) - t p` (Laurentin et al., eq. (5)).

        Raises ``NonConvexError`` for an unsigned cost with ``b < 0`` on a range ``l < 0 < u``.
        """
        lo, up = np.array([float(lower)]), np.array([float(upper)])
        costs = ArcCosts.for_arcs(np.array([self.a]), np.array([self.b]), np.array([self.signed]), lo, up)
        if costs.nonconvex_arcs().size:
            raise NonConvexError(two_way_message(self.b))
        return costs.response(np.asarray(t, dtype=float).reshape(1), lo, up)

    def coefficients(self) -> tuple[float, float]:
        """The coefficients ``(a, b)``: cost = a p^2 + b |p| (a p^2 + b p when ``signed``)."""
        return self.a, self.b

    def to_dict(self) -> dict[str, Any]:
        if self.a > 0:
            d: dict[str, Any] = {"type": "quadratic", "a": self.a}
            if self.b:
                d["b"] = self.b
        else:
            d = {"type": "linear", "c": self.b}
        if self.signed:
            d["signed"] = True
        return d


def two_way_message(b: float) -> str:
    """Why an unsigned cost with ``b < 0`` on a two-way arc is refused, and what to write instead."""
    return (
        f"linear cost coefficient {b:g} < 0 on a two-way arc (lower < 0 < upper): the cost {b:g}*|p| "
        "is not convex (it rewards flow in both directions); give the arc a lower bound >= 0, or spell "
        "a signed cost explicitly (Linear(c, signed=True), 'signed: true' in a model file) if flow "
        "against the arc's direction should earn -c per unit"
    )


class Linear(ArcCost):
    """Linear arc cost `c\\,|p|` of the flow `p` on one arc (the ``a = 0`` member of the family).

    On a one-way arc (lower bound `\\ge 0`) this is `c\\,p`. On a two-way arc (`l < 0`) flow
    running backwards costs `c` per unit too: `c\\,|p|`, as two opposite one-way arcs of cost
    `c` would. Its local response (Laurentin et al., eq. (5)) is bang-bang: on a one-way arc
    `p(t) = u` when `t > c`, `l` when `t < c`; on a two-way arc `u` when `t > c`, `l` when
    `t < -c` and 0 in between (a tie picks the point closest to 0).

    Parameters
    ----------
    c : float
        Cost per unit of flow, in objective units per flow unit; any finite number. A negative
        ``c`` is refused on a two-way arc (``NonConvexError``: `c |p|` is not convex) unless
        ``signed``. ``nan``, ``inf`` and non-numbers are refused with ``InvalidDataError``.
    signed : bool, default False
        Charge `c\\,p` instead: flow against the arc's direction earns `c` per unit (the
        earlier meaning of otmodel, convex for any sign of ``c``). Spell it only when that is meant.
    """

    def __init__(self, c: float, signed: bool = False) -> None:
        super().__init__(0.0, c, signed)

    def __repr__(self) -> str:
        return f"Linear({self.b:g}, signed=True)" if self.signed else f"Linear({self.b:g})"


class Quadratic(ArcCost):
    """Convex quadratic arc cost `a p^2 + b |p|` with `a \\ge 0` (`a p^2 + b p` when ``signed``).

    The line-loss cost of Laurentin et al. (2025), section V, is ``Quadratic(d_ij)``. Its local
    response (eq. (5)) is `p(t) = \\mathrm{proj}_{[l,u]}((t - b) / (2a))` for `a > 0` on a one-way
    arc, and `\\mathrm{proj}_{[l,u]}(\\mathrm{sign}(t)\\max(|t| - b, 0) / (2a))` on a two-way one.

    Parameters
    ----------
    a : float
        Quadratic coefficient, in objective units per squared flow unit; finite and `\\ge 0`
        (a negative value is refused with ``NonConvexError``, a non-finite one with
        ``InvalidDataError``). ``a = 0`` gives a linear cost.
    b : float, default 0.0
        Linear coefficient, in objective units per flow unit; any finite number (a negative one
        is refused on a two-way arc unless ``signed``, as for ``Linear``).
    signed : bool, default False
        Charge `a p^2 + b p` (backward flow credited `b` per unit) instead of `a p^2 + b |p|`.
    """

    def __init__(self, a: float, b: float = 0.0, signed: bool = False) -> None:
        super().__init__(a, b, signed)

    def __repr__(self) -> str:
        tail = ", signed=True" if self.signed else ""
        return f"Quadratic({self.a:g}, {self.b:g}{tail})" if self.b or self.signed else f"Quadratic({self.a:g})"


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
    r"""Coefficients of all arc costs, vectorized.

    ``cost_k(p) = a[k] p^2 + b[k] |p|`` where ``kink[k]`` (a two-way arc, ``l < 0 < u``, with
    ``b > 0``), ``a[k] p^2 + b[k] p`` elsewhere. Build it with ``for_arcs`` from the arcs' own
    coefficients, signed flags and bounds: there an unsigned arc with ``u <= 0`` (flow only
    backwards) gets ``b -> -b`` (`b |p| = -b p` on its range) and the kink mask marks the arcs on
    which `b |p|` has its kink inside the range, so that every consumer that reads ``(a, b)`` as
    `a p^2 + b p` is right on every arc but the kinked ones. ``kink=None`` means no kinked arc.

    In an LP/QP a kinked arc is two opposite one-way arcs (``split``): `p = p^+ - p^-` with
    `p^+ \in [0, u]`, `p^- \in [0, -l]`, each charged `a (p^\pm)^2 + b p^\pm`. The split is exact:
    for `b \ge 0` an optimum never uses both (taking `\epsilon` off each lowers the cost by
    `2 b \epsilon` plus, for `a > 0`, the quadratic terms).
    """

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    kink: NDArray[np.bool_] | None = None

    @classmethod
    def for_arcs(
        cls,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        signed: NDArray[np.bool_] | None,
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
    ) -> ArcCosts:
        """The costs of arcs with coefficients ``a``, ``b``, flags ``signed`` (None: none) and bounds.

        Unsigned arcs are charged ``b |p|`` (module docstring); the result's ``b`` is the slope on
        the arc's range where that is one-sided, and ``kink`` marks the two-way arcs with ``b != 0``
        (``b < 0`` there is non-convex: ``nonconvex_arcs``; the model refuses it on construction).
        """
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        lo, up = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        unsigned = np.ones(b.shape, dtype=bool) if signed is None else ~np.asarray(signed, dtype=bool)
        back = unsigned & (lo < 0) & (up <= 0) & (b != 0)
        kink = unsigned & (lo < 0) & (up > 0) & (b != 0)
        if back.any():
            b = np.where(back, -b, b)
        return cls(a, b, kink if kink.any() else None)

    @property
    def has_kinks(self) -> bool:
        """True when some arc is a two-way arc charged ``b |p|`` with ``b != 0``."""
        return self.kink is not None and bool(self.kink.any())

    def kinked_arcs(self) -> NDArray[np.intp]:
        """Indices of the two-way arcs charged ``a p^2 + b |p|`` (``b != 0``)."""
        return np.zeros(0, dtype=np.intp) if self.kink is None else np.flatnonzero(self.kink)

    def nonconvex_arcs(self) -> NDArray[np.intp]:
        """Indices of kinked arcs with ``b < 0`` (``b |p|`` is not convex there)."""
        k = self.kinked_arcs()
        return k[self.b[k] < 0]

    def signed_flags(self) -> NDArray[np.bool_]:
        """The ``signed`` flags that rebuild these costs from ``(a, b)`` (``Network.from_arrays``):
        every arc signed but the kinked ones, so that ``b`` keeps the meaning it has here."""
        return np.ones(self.a.shape, dtype=bool) if self.kink is None else ~self.kink

    def subset(self, idx: NDArray[np.intp]) -> ArcCosts:
        """The costs of arcs ``idx`` only."""
        return ArcCosts(self.a[idx], self.b[idx], None if self.kink is None else self.kink[idx])

    def split(
        self, lower: NDArray[np.float64], upper: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
        """The LP/QP form of the kinked arcs: ``(K, forward_lower, backward_upper)``.

        Arc ``K[j]`` becomes its forward part on ``[0, u]`` (``forward_lower`` is ``lower`` with 0 at
        ``K``) plus a reversed arc on ``[0, backward_upper[j] = -l]``, both of cost ``a p^2 + b p``;
        the flow of the original arc is the forward flow minus the backward one.
        """
        K = self.kinked_arcs()
        lo = np.asarray(lower, dtype=float).copy()
        back_up = -lo[K]
        lo[K] = 0.0
        return K, lo, back_up

    def value(self, p: ArrayLike) -> NDArray[np.float64]:
        """Per-arc cost of flows ``p`` (``inf`` where it overflows: huge bounds times huge costs)."""
        q = np.asarray(p, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is an inf cost, not a warning
            lin = q if self.kink is None else np.where(self.kink, np.abs(q), q)
            return self.a * q * q + self.b * lin

    def total(self, p: ArrayLike) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sum(self.value(p)))

    @staticmethod
    def _one_sided(
        tt: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64],
        lower: NDArray[np.float64], upper: NDArray[np.float64], slope_tol: float,
    ) -> NDArray[np.float64]:
        """``argmin_{p in [l,u]} a p^2 + (b - t) p``, the rule of ``response`` for a signed cost."""
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

    def response(
        self, t: ArrayLike, lower: NDArray[np.float64], upper: NDArray[np.float64], slope_tol: float = 0.0
    ) -> NDArray[np.float64]:
        r"""Vectorized local response `p_k(t_k) = \arg\min_{p\in[l_k,u_k]} c_k(p) - t_k p` (eq. (5)).

        One-sided arcs (`c = a p^2 + b p`): for ``a > 0`` the unique minimizer is
        ``clip((t - b) / (2a), l, u)``; for a linear cost it is ``u`` when ``t > b``, ``l`` when
        ``t < b`` and (a tie) the point of ``[l, u]`` closest to 0 when ``t == b`` (within
        ``slope_tol``). A linear cost with an infinite bound on the winning side gives ``+-inf``.

        Kinked arcs (`c = a p^2 + b |p|`, `l < 0 < u`, `b > 0`): the response of the forward part
        on `[0, u]` at `t` minus that of the backward part on `[0, -l]` at `-t`. At most one is
        non-zero (the forward one needs `t > b`, the backward one `t < -b`), so for ``a > 0`` this
        is ``clip(sign(t) max(|t| - b, 0) / (2a), l, u)`` and for ``a = 0`` it is ``u`` for
        ``t > b``, ``l`` for ``t < -b`` and 0 for ``|t| < b`` (ties again closest to 0).
        """
        tt = np.asarray(t, dtype=float)
        lo, up = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        if not self.has_kinks:
            return self._one_sided(tt, self.a, self.b, lo, up, slope_tol)
        assert self.kink is not None
        kink = self.kink
        fwd = self._one_sided(tt, self.a, self.b, np.where(kink, np.maximum(lo, 0.0), lo), up, slope_tol)
        bwd = self._one_sided(-tt, self.a, self.b, np.zeros_like(lo), np.where(kink, -lo, 0.0), slope_tol)
        return np.where(kink, fwd - bwd, fwd)

    def conjugate_term(
        self, t: ArrayLike, lower: NDArray[np.float64], upper: NDArray[np.float64], slope_tol: float = 0.0
    ) -> NDArray[np.float64]:
        r"""Per-arc `\min_{p\in[l,u]} c(p) - t p` (the arc term of Laurentin et al., eq. (4)).

        On a kinked arc the minimum is piecewise in `t` (kink of `b|p|` at 0): for ``a > 0`` it is
        `-(\max(|t| - b, 0))^2 / (4a)` while the response is inside the bounds, and 0 for
        `|t| \le b`. Equals ``-inf`` where a linear cost with an infinite bound makes the minimum
        unbounded.
        """
        tt = np.asarray(t, dtype=float)
        p = self.response(tt, lower, upper, slope_tol)
        with np.errstate(invalid="ignore"):
            v = self.a * p * p + self.b * (p if self.kink is None else np.where(self.kink, np.abs(p), p)) - tt * p
        return np.where(np.isinf(p), -np.inf, v)

    @property
    def is_linear(self) -> bool:
        return bool(np.all(self.a == 0))

    def nonstrict_arcs(self) -> NDArray[np.intp]:
        """Indices of arcs whose cost is not strictly convex (violating Assumption 4)."""
        return np.flatnonzero(self.a <= 0)
