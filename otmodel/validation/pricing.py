r"""The dual function `q(\psi)` of Laurentin et al. (2025), eq. (4), and the proven dual bound.

By weak duality `q(\psi)` is a lower bound on the optimum of (2) for *every* `\psi`;
``proven_dual_bound`` makes that bound safe against dual infeasibility (a shift of the potentials)
and against the rounding error of its own evaluation. ``cost_scale`` is the problem's natural cost
scale. Part of ``otmodel.validation.certificate`` (split by topic, issue 11).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidDataError
from otmodel.model._demand_kernels import best_two, max_cost, planar_kind
from otmodel.model.demand import block_rows
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = ["dual_value", "proven_dual_bound", "cost_scale", "DEFAULT_CHUNK"]

INF = math.inf
DEFAULT_CHUNK = None  # block_rows(|S|): at most 65,536 points and 2**23 costs per block



# =============================================================================== the dual function
#: Machine epsilon (twice the unit round-off): the unit of every rounding-error bound below.
EPS = float(np.finfo(float).eps)


def _dual_constraints(problem: FlowProblem) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    r"""The constraints `\psi_i - \psi_j \le w` without which `q(\psi) = -\infty`.

    A linear arc `(k, l)` of cost `b` with `u = +\infty` needs
    `\psi_k - \psi_l \le b`; one with `l = -\infty` needs `\psi_l - \psi_k \le -b`, or
    `\le b` on a two-way arc charged `b|p|` (the arc term of eq. (4) is unbounded below
    otherwise). Returned as arrays ``(i, j, w)``.
    """
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    back = -b if problem.costs.kink is None else np.where(problem.costs.kink, b, -b)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    lin = a == 0
    up = lin & (np.asarray(problem.upper) == INF)
    dn = lin & (np.asarray(problem.lower) == -INF)
    i = np.concatenate([tails[up], heads[dn]]).astype(np.intp)
    j = np.concatenate([heads[up], tails[dn]]).astype(np.intp)
    return i, j, np.concatenate([b[up], back[dn]]).astype(float)


def _exact_le(x: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``x - y <= w`` in exact arithmetic (floats ``x, y, w``), through the error-free TwoSum.

    ``s = fl(x - y)`` and ``e`` with ``s + e = x - y`` exactly; since ``w`` is a float, ``s < w``
    already implies ``x - y <= w`` (``|e|`` is at most half a float spacing at ``s``), and ``s == w``
    leaves the sign of ``e`` to decide.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        s = x - y
        bb = s - x
        e = (x - (s - bb)) + (-y - bb)
    return (s < w) | ((s == w) & (e <= 0))


def _shift_potentials(problem: FlowProblem, psi: NDArray[np.float64], down: bool) -> NDArray[np.float64] | None:
    r"""Potentials near ``psi`` that satisfy every constraint of ``_dual_constraints`` exactly.

    ``down``: `\psi'_i = \min_k \psi_k + d(i, k)` with `d` the shortest-path distance
    over the constraint graph (edge `i \to j` of length `w` per constraint
    `\psi_i - \psi_j \le w`), computed by label correction; otherwise the mirror image
    `\psi'_j = \max_k \psi_k - d(k, j)`. Either way `\psi' = \psi` where ``psi``
    already satisfies them, and only the potentials that must move do. A float sum can land half
    a spacing on the wrong side of a constraint, so every update is checked in exact arithmetic
    (``_exact_le``) and stepped one float further when needed. Returns None when the
    constraints have a negative cycle (then `q \equiv -\infty`: no potentials are feasible).
    """
    i, j, w = _dual_constraints(problem)
    y = np.array(psi, dtype=float)
    if i.size == 0:
        return y
    for _ in range(problem.n_nodes + 2):
        bad = ~_exact_le(y[i], y[j], w)
        if not bad.any():
            return y
        bi, bj, bw = i[bad], j[bad], w[bad]
        if down:
            new = y[bj] + bw
            off = ~_exact_le(new, y[bj], bw)
            new[off] = np.nextafter(new[off], -INF)
            np.minimum.at(y, bi, new)
        else:
            new = y[bi] - bw
            off = ~_exact_le(y[bi], new, bw)
            new[off] = np.nextafter(new[off], INF)
            np.maximum.at(y, bj, new)
        if not np.all(np.isfinite(y)):
            return None
    return None


def _dual_parts(problem: FlowProblem, y: NDArray[np.float64], chunk: int) -> tuple[float, float, float]:
    r"""``(q, err, cmax)``: eq. (4) at ``y`` by correctly rounded summation (``math.fsum``), a bound
    ``err`` on the rounding error of that evaluation, and the largest finite assignment cost on a
    point of positive mass (0 for a flow problem; it feeds the natural cost scale).

    The bound adds, term by term, a few machine epsilons of the magnitudes that enter each term:
    `|\psi_i s_i|`; for an arc, `a p^2 + |b||p| + |t||p|` and the effect of the rounding
    of `t = \psi_i - \psi_j` on the arc's minimum (`|t|` times `|p|` and, for a linear
    arc, its finite bounds, where a rounded tie may pick the other end); for a demand point
    `\mu_k(|\min_i\{c_{ki} - \psi_i\}| + 2\max_{i\in\mathcal S}|\psi_i|)`; and the rounding of the
    partial sums. It is then doubled. A rigorous interval evaluation would be tighter by a small
    factor; this one is cheap and errs on the safe side.
    """
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    lo, up = np.asarray(problem.lower), np.asarray(problem.upper)
    t = y[tails] - y[heads]
    p = problem.costs.response(t, lo, up)
    err = 0.0
    cmax = 0.0
    if np.any(np.isinf(p)):
        value = -INF
        parts: list[float] = []
    else:
        arc = problem.costs.value(p) - t * p  # a p^2 + b|p| - t p on a two-way arc
        ys = y * np.asarray(problem.supply, dtype=float)
        parts = [math.fsum(ys.tolist()), math.fsum(arc.tolist())]
        fin = np.where(np.isfinite(lo), np.abs(lo), 0.0) + np.where(np.isfinite(up), np.abs(up), 0.0)
        reach = np.abs(p) + np.where(a == 0, fin, 0.0)
        err += float(np.sum(np.abs(ys)))
        err += 4.0 * float(np.sum(a * p * p + (np.abs(b) + np.abs(t)) * np.abs(p)))
        err += 2.0 * float(np.sum(np.abs(t) * reach))
        value = 0.0
    if isinstance(problem, SpatialFlowProblem) and planar_kind(problem.assignment_cost) >= 0:
        # planar costs: one pruned compiled pass (otmodel.model._demand_kernels), the same minima bit
        # for bit as the blocks below, in O(N) memory; the largest cost from the hull of the points
        ends = y[np.asarray(problem.endpoints)]
        ymax = float(np.max(np.abs(ends), initial=0.0))
        mass = np.asarray(problem.demand.mass)
        cmax = max_cost(problem)
        if value != -INF:
            keep = mass > 0
            mins = best_two(problem, ends)[0][keep]
            m = mass[keep]
            w = m * mins
            parts.append(math.fsum(w.tolist()))
            err += float(np.sum(np.abs(w))) + float(np.sum(m * (np.abs(mins) + 2.0 * ymax)))
    elif isinstance(problem, SpatialFlowProblem):
        ends = y[np.asarray(problem.endpoints)]
        ymax = float(np.max(np.abs(ends), initial=0.0))
        mass = problem.demand.mass
        for start in range(0, problem.n_points, chunk):
            stop = min(problem.n_points, start + chunk)
            m = mass[start:stop]
            keep = m > 0
            if not keep.any():
                continue
            block = problem.cost_block(start, stop)[keep]
            finite = np.isfinite(block)
            if finite.any():
                cmax = max(cmax, float(np.max(np.abs(block[finite]))))
            if value == -INF:
                continue
            mins = (block - ends[None, :]).min(axis=1)
            w = m[keep] * mins
            parts.append(math.fsum(w.tolist()))
            err += float(np.sum(np.abs(w))) + float(np.sum(m[keep] * (np.abs(mins) + 2.0 * ymax)))
    if value == -INF:
        return -INF, 0.0, cmax
    value = math.fsum(parts)
    err += float(np.sum(np.abs(parts))) + abs(value)
    return value, 2.0 * EPS * err, cmax


def _psi_vector(problem: FlowProblem, psi: ArrayLike, who: str) -> NDArray[np.float64]:
    try:
        y = np.asarray(psi, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{who}: psi must be an array of numbers, one per node ({exc})") from None
    if y.shape != (problem.n_nodes,):
        raise InvalidDataError(f"{who}: psi has {y.size} entries for {problem.n_nodes} nodes")
    return y


def dual_value(problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, *, price_tol: float = 0.0) -> float:
    r"""The dual function `q(\psi)` of Laurentin et al. (2025), eq. (4), from the problem data.

    .. math::
        q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_i \psi_i s_i
          + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

    (the first sum only for a ``SpatialFlowProblem``, over points of positive mass, evaluated
    ``chunk`` points at a time: memory `O(\text{chunk}\times|\mathcal S| + N)`; every sum is
    correctly rounded). By weak duality `q(\psi)` is a lower bound on the optimum for every
    `\psi`, equal to it at a dual optimum (Theorem 1); it is invariant under
    `\psi + c\mathbf 1` because supply and demand balance. It is `-\infty` where a
    linear arc with an infinite bound makes its term unbounded (`\psi_i - \psi_j > b_{ij}` with
    `u_{ij} = +\infty`, or `< b_{ij}` with `l_{ij} = -\infty`).

    ``price_tol > 0`` absorbs the round-off of a solver's duals on such arcs *without* leaving weak
    duality: when every violation is at most ``price_tol`` (an absolute price; scale it with the
    costs), the potentials are shifted onto dual feasibility (``_shift_potentials``, downwards
    and upwards) and the larger of the two values `q(\psi')` is returned. That is still
    `q` at some `\psi'`, hence a lower bound on the optimum. Larger violations give
    `-\infty`. Returns NaN if ``psi`` has a non-finite entry; a ``psi`` of the wrong length or
    type raises ``InvalidDataError``. (``certify`` additionally subtracts a
    bound on the rounding error of this evaluation: see ``proven_dual_bound``.)

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem whose dual is evaluated (any other type raises ``InvalidDataError``).
    psi : (n_nodes,) array of float
        Node potentials in the paper's sign convention (node order of the problem).
    chunk : int, optional
        Demand points evaluated at a time (memory bound); ``None`` picks a size from the number of
        endpoints.
    price_tol : float, default 0.0
        Absolute dual-feasibility violation forgiven on linear arcs with an infinite bound, as
        described above; finite and `\ge 0`.

    Returns
    -------
    float
        `q(\psi)`, in objective units: a lower bound on the optimum; `-\infty` when `\psi` is not
        dual feasible on an unbounded linear arc, NaN when ``psi`` has a non-finite entry.
    """
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"dual_value: problem must be a FlowProblem, got {type(problem).__name__}")
    y = _psi_vector(problem, psi, "dual_value")
    ptol = _tolerance(price_tol, "price_tol", "dual_value")
    if not np.all(np.isfinite(y)):
        return math.nan
    chunk = block_rows(getattr(problem, "n_endpoints", 1), chunk)
    value = _dual_parts(problem, y, chunk)[0]
    if value == -INF and ptol > 0:
        i, j, w = _dual_constraints(problem)
        if float(np.max(y[i] - y[j] - w, initial=0.0)) <= ptol:
            shifted = [_shift_potentials(problem, y, down) for down in (True, False)]
            value = max((_dual_parts(problem, s, chunk)[0] for s in shifted if s is not None), default=-INF)
    return value


def proven_dual_bound(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK
) -> tuple[float, float, float, NDArray[np.float64] | None, str]:
    r"""A lower bound on the optimum that holds in exact arithmetic, from potentials ``psi``.

    Returns ``(bound, q_raw, rounding, psi_used, how)``: ``q_raw`` is ``dual_value`` at ``psi``
    as given; ``psi_used`` the potentials the bound is evaluated at (``psi`` itself when it is dual
    feasible; else the better of its two shifts onto dual feasibility, ``_shift_potentials``,
    since a forgiven price is not a bound); ``bound = q(psi_used) - rounding`` with ``rounding`` the
    bound on the evaluation's rounding error of ``_dual_parts``. ``bound`` is `-\infty`
    when no shift exists (a negative cycle of uncapacitated linear arcs) and NaN for non-finite
    ``psi``.
    """
    y = _psi_vector(problem, psi, "proven_dual_bound")
    return _proven_dual_bound(problem, y, block_rows(getattr(problem, "n_endpoints", 1), chunk))[:5]


def _proven_dual_bound(
    problem: FlowProblem, y: NDArray[np.float64], chunk: int
) -> tuple[float, float, float, NDArray[np.float64] | None, str, float | None]:
    """``proven_dual_bound``, plus the largest finite assignment cost met on the way (for ``cost_scale``)."""
    if not np.all(np.isfinite(y)):
        return math.nan, math.nan, 0.0, None, "the potentials are not finite", None
    q_raw, err, cmax = _dual_parts(problem, y, chunk)
    i, j, w = _dual_constraints(problem)
    if bool(np.all(_exact_le(y[i], y[j], w))) and q_raw > -INF:
        return q_raw - err, q_raw, err, y, "q at the returned potentials", cmax
    worst = float(np.max(y[i] - y[j] - w, initial=0.0))
    best: tuple[float, float, NDArray[np.float64] | None, str] = (-INF, 0.0, None, "")
    for down in (True, False):
        s = _shift_potentials(problem, y, down)
        if s is None:
            continue
        q, e, _ = _dual_parts(problem, s, chunk)
        if q - e > best[0]:
            moved = int(np.count_nonzero(s != y))
            how = (
                f"q at the returned potentials is -inf (a price exceeds an uncapacitated linear arc's cost by up "
                f"to {worst:.3e}); bound evaluated at potentials shifted {'down' if down else 'up'} onto dual "
                f"feasibility ({moved} node(s) moved, by at most {float(np.max(np.abs(s - y))):.3e})"
            )
            best = (q - e, e, s, how)
    if best[2] is None:
        return -INF, q_raw, 0.0, None, "q = -inf: the uncapacitated linear arcs have a negative-cost cycle", cmax
    return best[0], q_raw, best[1], best[2], best[3], cmax


# =============================================================================== helpers
def _tolerance(value: Any, name: str, who: str) -> float:
    """A tolerance is data too: a finite number >= 0, else a typed error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidDataError(f"{who}: {name}={value!r} must be a number >= 0")
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise InvalidDataError(f"{who}: {name}={value!r} must be a finite number >= 0")
    return v


def cost_scale(problem: FlowProblem, cmax: float | None = None, chunk: int | None = DEFAULT_CHUNK) -> float:
    r"""The problem's natural cost scale `C = M(\max|b| + c_{\max}) + \max a\, M^2`.

    `M = \max(\sum_i |s_i|, \mu(\mathcal X))` is the mass scale, `b` and `a` the
    linear and quadratic arc-cost coefficients and `c_{\max}` the largest finite assignment
    cost on a point of positive mass (spatial problems; computed when not given). No objective of a
    sensible point is much larger, so ``1e-12 * C`` is the default absolute floor of the gap
    (``certify``'s ``gap_atol``), below which a relative gap means nothing.
    """
    mass = float(np.abs(problem.supply).sum())
    if isinstance(problem, SpatialFlowProblem):
        mass = max(mass, float(problem.demand.total))
        if cmax is None and planar_kind(problem.assignment_cost) >= 0:
            cmax = max_cost(problem)
        if cmax is None:
            y = np.zeros(problem.n_nodes)
            cmax = _dual_parts(problem, y, block_rows(problem.n_endpoints, chunk))[2]
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    unit = float(np.max(np.abs(b), initial=0.0)) + float(cmax or 0.0)
    return mass * unit + float(np.max(a, initial=0.0)) * mass * mass


