r"""Outer approximation of quadratic arc costs by tangent cuts (Kelley's cutting planes).

HiGHS's own QP solver is slow on these models (measured: about 3 s at 50 x 50, a solve error on one
formulation, more than 300 s at 100 x 100). The quadratic terms are few (one per network arc) while
the LP part is large (one variable per demand point and endpoint), so the QP is solved exactly as a
sequence of LPs: each quadratic term `q P^2` is replaced by an epigraph variable `t`
with tangent cuts

.. math:: t \ge q (2 P_0 P - P_0^2) \qquad (\text{the tangent of } q P^2 \text{ at } P_0),

which under-estimate it. The LP optimum is therefore a *lower bound* on the QP optimum, and the
true objective at the LP's point (feasible for the QP, since the constraints are the same) is an
*upper bound*; their difference is `\sum_j (q_j P_j^2 - t_j) \ge 0`. Cuts are added at the
current `P` until this gap is below ``tol`` relative to the objective. Each re-solve starts
from the previous basis (dual simplex after adding rows).

The two HiGHS-based backends (``highs`` through highspy, ``pyomo`` through Pyomo's persistent HiGHS
interface) share this module whole: their options (``HighsOptions``), the cutting-plane loop
(``cutting_planes``, given how to read the LP's point, add cuts and re-solve) and the active-set
polish that finishes it (``finish``). Only the way each talks to HiGHS differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = [
    "HighsOptions",
    "OuterApproximation",
    "cutting_planes",
    "finish",
    "answer",
    "initial_cut_points",
    "tangent",
    "oa_gap",
    "polish_qp",
    "scaled_dual_value",
    "scaled_primal_value",
]

#: HiGHS methods for the (first) LP solve.
METHODS = ("ipm", "simplex", "pdlp")


@dataclass(frozen=True)
class HighsOptions:
    """The options of a HiGHS-based backend (``highs``, ``pyomo``), checked once by ``parse``.

    Attributes
    ----------
    method : {"ipm", "simplex", "pdlp"} -- HiGHS method of the (first) LP solve; "ipm" runs crossover
    tol : relative gap of the outer approximation for quadratic costs
    max_rounds : limit on cutting-plane rounds
    time_limit : seconds, or None
    verbose : print HiGHS's log
    """

    method: str = "ipm"
    tol: float = 1e-9
    max_rounds: int = 200
    time_limit: float | None = None
    verbose: bool = False

    @classmethod
    def parse(cls, backend: str, options: dict[str, Any]) -> HighsOptions:
        """The options, checked: a name the backend does not take is an ``UnsupportedError`` listing
        those it does, a bad value an ``InvalidDataError`` naming the option (``_options``)."""
        from otmodel.backends import _options as check

        d = cls()
        check.refuse_unknown(backend, options, tuple(f.name for f in fields(cls)))
        limit = options.get("time_limit")
        return cls(
            method=check.choice(backend, "method", options.get("method", d.method), METHODS),
            tol=check.number(backend, "tol", options.get("tol", d.tol), 0.0, strict=True),
            max_rounds=check.integer(backend, "max_rounds", options.get("max_rounds", d.max_rounds), 0),
            time_limit=None if limit is None else check.number(backend, "time_limit", limit, 0.0, strict=True, finite=False),
            verbose=check.flag(backend, "verbose", options.get("verbose", d.verbose)),
        )


@dataclass(frozen=True)
class OuterApproximation:
    r"""Where the cutting-plane loop stopped: ``rounds`` of cuts, the last certified ``gap``
    `\sum_j (q_j P_j^2 - t_j)` and LP objective ``lp_objective`` (scaled units; NaN if no LP was optimal)."""

    rounds: int = 0
    gap: float = 0.0
    lp_objective: float = float("nan")

    def converged(self, tol: float) -> bool:
        """The gap is within ``tol`` relative to the objective."""
        return self.gap <= tol * max(1.0, abs(self.lp_objective))

    def info(self, polished: bool) -> dict[str, Any]:
        """The figures a Solution reports in ``info`` (``oa_rounds``, ``oa_relative_gap``, ``polished``)."""
        return {
            "oa_rounds": self.rounds,
            "oa_relative_gap": self.gap / max(1.0, abs(self.lp_objective)),
            "polished": polished,
        }


def cutting_planes(
    q: NDArray[np.float64],
    tol: float,
    max_rounds: int,
    optimal: Callable[[], bool],
    point: Callable[[], tuple[NDArray[np.float64], NDArray[np.float64], float]],
    add_cuts: Callable[[NDArray[np.intp], NDArray[np.float64]], None],
    resolve: Callable[[], None],
) -> OuterApproximation:
    """Kelley's loop over an LP that has been solved once (module docstring).

    ``optimal()`` says whether the last LP solve was optimal; ``point()`` returns the quadratic
    arcs' flows `P`, their epigraph variables `T` and the LP objective; ``add_cuts(sel, P0)`` adds
    the tangents at ``P0`` of the arcs ``sel``; ``resolve()`` re-solves. Stops when the gap is within
    ``tol`` of the objective, after ``max_rounds`` rounds, when the LP is no longer optimal, or when
    the gap stalls (less than halved over five rounds: the LP's own accuracy, which ``finish``'s
    polish goes beyond). Cuts go only where an arc's under-estimate exceeds a tenth of its share of
    the tolerance.
    """
    rounds, gap, lp_obj = 0, 0.0, float("nan")
    history: list[float] = []
    while optimal() and rounds < max_rounds:
        P, T, lp_obj = point()
        viol = oa_gap(q, P, T)
        gap = float(viol.sum())
        if gap <= tol * max(1.0, abs(lp_obj)):
            break
        history.append(gap)
        if len(history) > 5 and gap > 0.5 * history[-6]:
            break
        rounds += 1
        sel = np.flatnonzero(viol > 0.1 * tol * max(1.0, abs(lp_obj)) / q.size)
        add_cuts(sel, P[sel])
        resolve()
    return OuterApproximation(rounds, gap, lp_obj)


def finish(
    sf: Any, x: NDArray[np.float64], y: NDArray[np.float64], oa: OuterApproximation | None, tol: float, polish: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool, dict[str, Any]]:
    """``(x, y, converged, info)`` of an optimal LP answer: for a model with quadratic arcs (``oa``
    given), the active-set polish (``polish_qp``, unless ``polish`` is off) replaces the point when
    it improves it, and ``converged`` says whether the outer approximation or the polish reached
    ``tol``. The LP's flows are only sqrt(tol)-accurate (the objective is flat at the optimum): the
    polish makes flows and potentials exact when it can."""
    if oa is None:
        return x, y, True, {}
    converged = oa.converged(tol)
    polished = polish_qp(sf, x, y) if polish else None
    if polished is not None:
        x, y = polished[0], polished[1]
        converged = converged or polished[2] <= max(tol, 1e-12) * max(1.0, abs(oa.lp_objective))
    return x, y, converged, oa.info(polished is not None)


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


def scaled_dual_value(sf: Any, y: NDArray[np.float64], slope_tol: float = 0.0) -> float:
    r"""The dual function (Laurentin et al., eq. (4)) of the scaled standard form at node duals ``y``.

    `q(y) = \sum_k \mu_k \min_{(k,i)} (c_{ki} - y_i) + y \cdot s + \sum_j \min_{P\in[l_j,u_j]}
    (q_j P^2 + c_j P - (y_{t(j)} - y_{h(j)}) P)`, all in scaled units. A lower bound on the scaled
    optimum for every ``y``.
    """
    from otmodel.model.costs import ArcCosts

    m = sf.n_flows
    p = sf.problem
    t = y[p.tails] - y[p.heads]
    back = getattr(sf, "back_arcs", None)
    if back is not None and back.size:  # a backward column runs head -> tail (StandardForm)
        t = np.concatenate([t, -t[back]])
    val = float(np.dot(y, sf.rhs[: sf.n_node_rows]))
    val += float(ArcCosts(sf.qdiag, sf.c[:m]).conjugate_term(t, sf.lb[:m], sf.ub[:m], slope_tol).sum())
    if sf.n_pairs:
        ends = np.asarray(p.endpoints)
        red = sf.c[m:] - y[ends[sf.pair_end]]
        npts = p.n_points
        best = np.full(npts, np.inf)
        np.minimum.at(best, sf.pair_point, red)
        mass = np.asarray(p.demand.mass) * sf.kappa
        pos = mass > 0
        val += float(np.dot(mass[pos], best[pos]))
    return val


def scaled_primal_value(sf: Any, x: NDArray[np.float64]) -> float:
    P = x[: sf.n_flows]
    return float(np.dot(sf.c, x) + np.dot(sf.qdiag, P * P))


def polish_qp(
    sf: Any, x: NDArray[np.float64], y: NDArray[np.float64], max_size: int = 5000
) -> tuple[NDArray[np.float64], NDArray[np.float64], float] | None:
    r"""Exact active-set polish of an outer-approximation answer of a QP.

    The LP answer fixes the active set: arcs at a bound stay there, plan entries that are zero stay
    zero, a demand point served by one endpoint only is served by it entirely. The remaining
    equality-constrained QP over the *interior* arc flows and the *split* points' plan entries is
    solved through its KKT system

    .. math:: \begin{pmatrix} Q & -A^\top \\ A & 0 \end{pmatrix}
              \begin{pmatrix} x \\ y \end{pmatrix} = \begin{pmatrix} -c \\ r \end{pmatrix}

    (least squares, since potentials are defined up to a constant). The polished point is returned
    only if it is feasible and its duality gap (primal value minus ``scaled_dual_value``) is
    smaller than the given point's: the answer never gets worse. Returns ``(x, y, gap)`` or None.
    """
    m = sf.n_flows
    n = sf.n_node_rows
    A = sf.A.tocsr()
    lb, ub = sf.lb, sf.ub
    span = np.where(np.isfinite(ub - lb), ub - lb, np.abs(x) + 1.0)
    tiny = 1e-9 * np.maximum(1.0, span)
    free = np.zeros(sf.n_vars, dtype=bool)
    P = x[:m]
    free[:m] = (P > lb[:m] + tiny[:m]) & (P < ub[:m] - tiny[:m])
    fixed_x = x.copy()
    fixed_x[:m] = np.where(free[:m], P, np.where(P <= lb[:m] + tiny[:m], lb[:m], ub[:m]))
    rows_keep = np.ones(sf.n_rows, dtype=bool)
    if sf.n_pairs:
        pi = x[m:]
        pos = pi > 1e-9 * max(1.0, float(np.max(pi)) if pi.size else 1.0)
        counts = np.bincount(sf.pair_point[pos], minlength=sf.problem.n_points)
        split_pair = pos & (counts[sf.pair_point] >= 2)
        if int(split_pair.sum()) > max_size:
            return None  # a fuzzy active set (e.g. an interior-point answer): not worth the solve
        single_pair = pos & (counts[sf.pair_point] == 1)
        mass = np.asarray(sf.problem.demand.mass) * sf.kappa
        pair_vals = np.zeros(sf.n_pairs)
        pair_vals[single_pair] = mass[sf.pair_point[single_pair]]
        fixed_x[m:] = pair_vals
        free[m:] = split_pair
        # marginal rows of points that are not split are satisfied by construction
        point_rows = np.flatnonzero(A[n:, m:][:, np.flatnonzero(split_pair)].getnnz(axis=1) > 0)
        rows_keep[n:] = False
        rows_keep[n + point_rows] = True
    F = np.flatnonzero(free)
    rows = np.flatnonzero(rows_keep)
    gap0 = scaled_primal_value(sf, x) - scaled_dual_value(sf, y, slope_tol=1e-10)
    if F.size + rows.size > max_size:
        return None  # a fuzzy active set (e.g. an interior-point answer): not worth the solve
    AF = A[rows][:, F].tocsr()
    Afix = A[rows][:, np.flatnonzero(~free)]
    r = sf.rhs[rows] - Afix @ fixed_x[~free]
    nf, nr = F.size, rows.size
    Q = np.zeros(nf)
    isflow = F < m
    Q[isflow] = 2.0 * sf.qdiag[F[isflow]]
    # Potentials are defined up to a constant, so the KKT matrix is singular; a tiny negative
    # diagonal on the dual block makes it quasi-definite (hence sparse-LU solvable) and picks one
    # solution. The acceptance test below guards the result.
    reg = 1e-12 * max(1.0, float(np.abs(Q).max()) if nf else 1.0)
    K = sp.bmat(
        [[sp.diags(Q + reg), -AF.T], [AF, sp.diags(np.full(nr, -reg))]], format="csc"
    )
    rhs = np.concatenate([-sf.c[F], r])
    from scipy.sparse.linalg import spsolve

    with np.errstate(all="ignore"):
        try:
            sol = spsolve(K, rhs)
        except (RuntimeError, ValueError):
            return None
    if not np.all(np.isfinite(sol)):
        return None
    xn = fixed_x.copy()
    xn[F] = sol[:nf]
    yn = np.zeros(sf.n_rows)
    yn[rows] = sol[nf:]
    ynode = yn[:n]
    # feasibility of the polished point
    res = A @ xn - sf.rhs
    scale = max(1.0, float(np.abs(sf.rhs).max()))
    if np.abs(res).max() > 1e-9 * scale:
        return None
    if np.any(xn < lb - tiny) or np.any(xn > ub + tiny):
        return None
    xn = np.clip(xn, lb, ub)
    # round-off leaves reduced costs of ~1e-16 on interior linear arcs with infinite bounds
    gap = scaled_primal_value(sf, xn) - scaled_dual_value(sf, ynode, slope_tol=1e-10)
    if not np.isfinite(gap) or gap > gap0:
        return None
    return xn, ynode, gap


def answer(
    problem: Any,
    out: dict[str, Any],
    converged: bool,
    oa: OuterApproximation | None,
    message: str,
    backend: str,
    solver: str,
    timings: dict[str, float],
    iterations: int,
    info: dict[str, Any],
) -> Any:
    """The ``Solution`` of an optimal HiGHS answer, unscaled (``out``, from ``StandardForm.unscale``):
    OPTIMAL when ``finish`` says converged, else ITERATION_LIMIT with the rounds in the message."""
    from otmodel.results import PointStatus, Solution, Status

    rounds = 0 if oa is None else oa.rounds
    return Solution(
        problem=problem,
        status=Status.OPTIMAL if converged else Status.ITERATION_LIMIT,
        point_status=PointStatus.FEASIBLE,
        objective=float(out["objective"]),
        flows=out["flows"],
        potentials=out["potentials"],
        assignment=out.get("assignment"),
        cell_mass=out.get("cell_mass"),
        backend=backend,
        solver=solver,
        timings=timings,
        iterations=iterations,
        message=message if converged else f"{message}; outer approximation stopped after {rounds} rounds",
        info=info,
    )
