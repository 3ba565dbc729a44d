"""The certified float answer of the ``network`` backend, from the integer optimum.

Potentials from the residual graph, the float-feasible point, and the two sides of the certified
gap (q(psi) of eq. (4) and the primal objective) on the float data: steps 1-3 of "Float data, exact
answer" in ``otmodel.backends.network``'s module docstring.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.backends._network_compile import I64, CompiledNetwork, IntegerData
from otmodel.backends._standard import balanced_supply
from otmodel.model.problems import SpatialFlowProblem

__all__ = ["residual_potentials", "float_point", "point_potentials", "dual_bound", "primal_value"]


# ============================================================================ compiled loops
def _kernels() -> tuple[Any, Any]:
    from otmodel.backends._network_kernels import spfa, tree_correct

    return spfa, tree_correct


def _csr(n: int, src: NDArray[np.int64], *cols: NDArray[Any]) -> tuple[NDArray[np.int64], list[NDArray[Any]]]:
    from otmodel.backends._network_kernels import bucket_order

    indptr, order = bucket_order(n, np.asarray(src, dtype=I64))
    return indptr, [c[order] for c in cols]


def residual_potentials(
    cn: CompiledNetwork, ints: IntegerData, x: NDArray[np.int64], xf: NDArray[np.float64] | None = None
) -> NDArray[np.float64] | None:
    """psi = -d / S_c, d the shortest distances in the residual graph of integer flow ``x`` (or of
    the float point ``xf`` when given: arcs below their float capacity forward, above 0 backward).

    Returns ``None`` if the residual graph has a negative cycle (the flow is not optimal).
    """
    spfa, _ = _kernels()
    if xf is None:
        fw = x < ints.cap
        bw = x > 0
    else:
        fw = xf < cn.cap
        bw = xf > 0
    src = np.concatenate([cn.tails[fw], cn.heads[bw]])
    dst = np.concatenate([cn.heads[fw], cn.tails[bw]])
    w = np.concatenate([ints.cost[fw], -ints.cost[bw]])
    indptr, (dst_s, w_s) = _csr(cn.n_nodes, src, dst, w)
    d, ok = spfa(cn.n_nodes, indptr, dst_s, w_s)
    if not ok:
        return None
    return -np.asarray(d, dtype=float) / ints.sc


#: Conservation residual of the routed point, relative to each node's own supply and throughput,
#: taken as round-off: float sums along the tree leave ~1e-16; only a larger one is worth the two
#: other routings, which cost as much as the first (measured: they ran on every synthetic LP solve).
ROUNDOFF = 1e-14


def float_point(
    cn: CompiledNetwork, ints: IntegerData, x: NDArray[np.int64], psi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float]:
    """A point of the float problem from the integer flow (module docstring, step 2).

    Returns the compiled flows and the largest remaining conservation residual relative to the
    scale of the supplies (about 1e-16 when the repair succeeded; the bounds hold exactly).
    """
    _, tree_correct = _kernels()
    xf = x.astype(float) / ints.sf
    fin = np.isfinite(cn.cap)
    xf[x == 0] = 0.0
    at_cap = fin & (x == ints.cap)
    xf[at_cap] = cn.cap[at_cap]
    if cn.points.size:
        # a point whose rounded mass is 0 receives nothing: send its mass to its cheapest endpoint
        n_net = cn.n_nodes - cn.points.size
        k0 = cn.n_net_arcs
        head_pt = cn.heads[k0:] - n_net
        inflow = np.bincount(head_pt, weights=xf[k0:], minlength=cn.points.size)
        empty = np.flatnonzero(inflow == 0.0)
        if empty.size:
            red = cn.cost[k0:] - psi[cn.tails[k0:]]
            sel = np.isin(head_pt, empty)
            cand = np.flatnonzero(sel)
            order = np.lexsort((red[cand], head_pt[cand]))
            cand = cand[order]
            first = np.r_[True, head_pt[cand][1:] != head_pt[cand][:-1]]
            best = cand[first]
            xf[k0 + best] = -cn.supply[n_net + head_pt[best]]
    r = cn.supply - cn.net_outflow(xf)
    scale = max(1.0, float(np.abs(cn.supply).sum()))

    def route(usable: NDArray[np.intp]) -> tuple[NDArray[np.float64], float, bool]:
        t, h = cn.tails[usable], cn.heads[usable]
        src = np.concatenate([t, h])
        nbr = np.concatenate([h, t])
        arc = np.concatenate([usable, usable]).astype(I64)
        sgn = np.concatenate([np.ones(usable.size, I64), -np.ones(usable.size, I64)])
        indptr, (nbr_s, arc_s, sgn_s) = _csr(cn.n_nodes, src, nbr, arc, sgn)
        delta, leftover = tree_correct(cn.n_nodes, indptr, nbr_s, arc_s, sgn_s, r, cn.n_arcs)
        out = xf + delta
        lo_viol = float(np.max(-out, initial=0.0))
        up_viol = float(np.max(np.where(fin, out - cn.cap, 0.0), initial=0.0))
        # a correction that crosses a bound by round-off only is clipped; anything larger is reported
        within = max(lo_viol, up_viol) <= 1e-13 * scale
        if within:
            out = np.clip(out, 0.0, cn.cap)
        else:
            leftover = max(leftover, lo_viol, up_viol)
        res = np.abs(cn.supply - cn.net_outflow(out))
        # round-off only: every node's residual within ROUNDOFF of its own supply and throughput
        # (the node-by-node rule the answer is checked by), so that no other routing can do better
        through = np.bincount(cn.tails, weights=np.abs(out), minlength=cn.n_nodes)
        through += np.bincount(cn.heads, weights=np.abs(out), minlength=cn.n_nodes)
        settled = within and bool(np.all(res <= ROUNDOFF * np.maximum(np.abs(cn.supply), through)))
        return out, max(leftover, float(res.max(initial=0.0))), settled

    # arcs strictly between their bounds first (the basis: complementary slackness is kept)
    chosen, err, settled = route(np.flatnonzero((xf > 0) & (xf < cn.cap)))
    if err > 0.0 and not settled:
        # a residual left where no such arc reaches (a supply rounded to 0 units, e.g. 1e-308):
        # arcs of zero reduced cost carry it at no loss of optimality; failing that, any arc with
        # room, at a cost the certified gap accounts for
        rc = cn.cost - (psi[cn.tails] - psi[cn.heads])
        tight = np.abs(rc) <= 1e-12 * max(1e-300, float(np.abs(cn.cost).max(initial=0.0)))
        for usable in (np.flatnonzero((cn.cap > 0) & tight), np.flatnonzero(cn.cap > 0)):
            alt, err2, _ = route(usable)
            if err2 < err:
                chosen, err = alt, err2
            if err == 0.0:
                break
    return chosen, err / scale


# ============================================================================ certificate pieces
def point_potentials(cn: CompiledNetwork, psi_net: NDArray[np.float64]) -> NDArray[np.float64]:
    """Potentials of the demand points that maximize q for given network potentials:
    `\\psi_k = \\max_i (\\psi_i - c(x_k, i))`, so that `-\\mu_k \\psi_k` is the
    assignment term `\\mu_k \\min_i (c(x_k,i) - \\psi_i)` of eq. (4)."""
    k0 = cn.n_net_arcs
    n_net = cn.n_nodes - cn.points.size
    val = psi_net[cn.tails[k0:]] - cn.cost[k0:]
    out = np.full(cn.points.size, -math.inf)
    np.maximum.at(out, cn.heads[k0:] - n_net, val)
    return out


def dual_bound(cn: CompiledNetwork, psi_net: NDArray[np.float64], price_tol: float) -> float:
    r"""q(psi) of eq. (4) on the float data of the original problem (network potentials ``psi_net``).

    Arc terms `\min_{p\in[l,u]} c(p) - (\psi_i - \psi_j) p` from the original arcs (quadratic
    ones exactly), the supply term, and the assignment term through ``point_potentials``.
    ``price_tol`` forgives the cost rounding on linear arcs with an infinite bound.
    """
    p = cn.problem
    t = psi_net[p.tails] - psi_net[p.heads]
    supply = np.asarray(p.supply, float) if isinstance(p, SpatialFlowProblem) else balanced_supply(p)
    val = float(psi_net @ supply) + float(np.sum(p.costs.conjugate_term(t, p.lower, p.upper, price_tol)))
    if cn.points.size:
        mass = -cn.supply[cn.n_nodes - cn.points.size :]
        val -= float(mass @ point_potentials(cn, psi_net))
    return val


def primal_value(cn: CompiledNetwork, xf: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """(objective of the original problem at the compiled point ``xf``, original arc flows)."""
    flows = cn.original_flows(xf)
    val = cn.problem.flow_objective(flows)
    k0 = cn.n_net_arcs
    if cn.points.size:
        val += float(cn.cost[k0:] @ xf[k0:])
    return float(val), flows
