r"""The exact discrete finish of the ``Newton`` rule: boundary points moved by one min-cost flow between cells.

Part of ``otmodel.backends.newton`` (split by size); see ``discrete_finish``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = ["Finish", "discrete_finish", "PRICE_AT"]


# ------------------------------------------------------------------------------ the exact finish
@dataclass
class Finish:
    """The discrete plan of ``discrete_finish``: the plan, its cell masses, the dual shift."""

    plan: sp.csr_matrix
    cell_mass: NDArray[np.float64]
    shift: NDArray[np.float64]  # y: the restricted problem's optimal potentials are psi_S + y
    boundary: int  # points whose assignment the flow chose
    seconds: float


def discrete_finish(
    mass: NDArray[np.float64],
    top: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    eps: float,
    target: NDArray[np.float64],
    floor: float,
) -> Finish | str:
    r"""An exact discrete plan from the soft one: boundary points moved by one min-cost flow between cells.

    Every point `x_k` of positive mass goes to its best endpoint `a_k = \arg\min_i
    c(x_k,i)-\psi_i` (the hard cells, masses `m^{hard}`), except the *boundary points* `B` (second
    soft weight `P_{k b_k} > ` ``floor``), which may send a part `x_k \in [0, \mu_k]` of their mass
    to their second endpoint `b_k` at the extra cost `\delta_k = (c(x_k,b_k)-\psi_{b_k}) -
    (c(x_k,a_k)-\psi_{a_k}) = \varepsilon \log(P_{ka_k}/P_{kb_k}) \ge 0`. The moves solve the
    min-cost flow on the cell graph

    .. math::
        \min_{0\le x_k\le\mu_k} \sum_{k\in B} \delta_k x_k \quad\text{s.t.}\quad
        \sum_{k\in B:\,b_k=i} x_k - \sum_{k\in B:\,a_k=i} x_k = t_i - m^{hard}_i
        \quad (i \in \mathcal S),

    an LP with one row per endpoint (HiGHS, dual simplex; a few thousand simplex iterations at
    1,000 endpoints), so that every cell receives exactly its target `t_i` (the masses the network
    flows deliver; for pure SDOT the site masses `\nu_i`, eq. (2b)). Its row duals `y` are
    potentials of the restricted problem: with `\psi'_S = \psi_S + y` every boundary point's used
    endpoints are its best of the two at `\psi'` (complementary slackness); the caller keeps
    `\psi'` only where the exact dual (4) is higher there. A plan of the samples with exact
    marginals, hence feasible; ``certify`` judges it like any other.

    Returns the ``Finish``, or a string saying why there is none (the flow is infeasible: the boundary
    points cannot carry the cells' imbalance; or the LP failed).
    """
    import time

    from scipy.sparse.csgraph import connected_components

    t0 = time.perf_counter()
    a, b, p1, p2 = top
    ns = target.size
    pos = mass > 0
    bnd = np.flatnonzero(pos & (p2 > floor) & (a != b))
    B = bnd.size
    m_hard = np.bincount(a[pos], weights=mass[pos], minlength=ns)
    rhs = target - m_hard
    # supplies balance only to the problem's tolerance: spread the difference over the targets
    tt = float(target.sum())
    if tt > 0:
        rhs -= float(rhs.sum()) * target / tt
    ab, bb = a[bnd], b[bnd]
    delta = eps * (np.log(p1[bnd]) - np.log(p2[bnd]))  # v_kb - v_ka >= 0, exact to rounding of the weights
    delta = np.maximum(delta, 0.0)
    x = np.zeros(B)
    y = np.zeros(ns)
    if B:
        # scaled data (DESIGN.md, Numerics): a point's mass O(1), costs O(1)
        S = float(mass.size) / max(float(mass[pos].sum()), 1e-300)
        cs = max(float(delta.max()), 1e-300)
        # column generation: the points of extra cost below PRICE_AT * eps first, then every point
        # whose reduced cost at the duals is negative, until none is (the LP optimum over all of B)
        active = delta <= PRICE_AT * eps
        for _ in range(20):
            cols = np.flatnonzero(active)
            got = _boundary_lp(ab[cols], bb[cols], delta[cols] / cs, mass[bnd][cols] * S, rhs * S, ns)
            if isinstance(got, str):
                if active.all():
                    return f"the boundary flow is {got} ({B} boundary points)"
                active[:] = True
                continue
            xs, ys = got
            bad = ~active & (delta / cs - (ys[bb] - ys[ab]) < -1e-9)
            if not bad.any():
                break
            active |= bad
        else:
            return f"the boundary flow's pricing did not settle ({B} boundary points)"
        x[cols] = np.clip(xs / S, 0.0, mass[bnd][cols])
        y = ys * cs
        # y is defined up to a constant on each connected part of the cell graph: centred on each
        # (weighted by the targets), so that psi + y stays near psi
        _, comp = connected_components(sp.csr_matrix((np.ones(B), (ab, bb)), shape=(ns, ns)), directed=False)
        used = np.bincount(np.r_[ab, bb], minlength=ns) > 0
        wgt = np.where(used, np.maximum(target, 0.0) + 1e-300, 0.0)
        mean = np.bincount(comp, weights=wgt * y, minlength=ns) / np.maximum(np.bincount(comp, weights=wgt, minlength=ns), 1e-300)
        y = np.where(used, y - mean[comp], 0.0)
    keep = mass.copy()
    keep[bnd] -= x
    moved = x > 0
    n = mass.size
    rows = np.r_[np.flatnonzero(pos), bnd[moved]]
    cols = np.r_[a[pos], bb[moved]]
    vals = np.r_[keep[pos], x[moved]]
    plan = sp.csr_matrix((vals, (rows, cols)), shape=(n, ns))
    plan.eliminate_zeros()
    cell = np.asarray(plan.sum(axis=0), dtype=float).reshape(-1)
    return Finish(plan, cell, y, B, time.perf_counter() - t0)


#: the finish's first columns: boundary points whose second endpoint costs at most this many temperatures more
PRICE_AT = 4.0


def _boundary_lp(
    a: NDArray[np.int64], b: NDArray[np.int64], cost: NDArray[np.float64], cap: NDArray[np.float64],
    rhs: NDArray[np.float64], ns: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | str:
    """``min cost x`` s.t. ``sum_{b_k=i} x_k - sum_{a_k=i} x_k = rhs_i``, ``0 <= x <= cap`` (HiGHS): (x, row duals) or the status."""
    import highspy

    from otmodel.backends.highs import new_highs

    B = a.size
    lp = highspy.HighsLp()
    lp.num_col_ = B
    lp.num_row_ = ns
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(B)
    lp.col_upper_ = cap
    lp.row_lower_ = rhs
    lp.row_upper_ = rhs
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * B + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.column_stack([a, b]).ravel().astype(np.int32)
    lp.a_matrix_.value_ = np.tile([-1.0, 1.0], B)
    h = new_highs()
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return str(h.modelStatusToString(status))
    sol = h.getSolution()
    return np.asarray(sol.col_value, dtype=float), np.asarray(sol.row_dual, dtype=float)
