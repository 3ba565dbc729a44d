r"""The ``network`` backend: exact min-cost flow on OR-Tools' network-flow solver, certified on float data.

Every problem with linear arc costs is a min-cost flow. ``FlowProblem`` directly; the spatial
problem (2) of Laurentin et al. (2025) once the demand points become sink nodes: sources -> network
-> endpoints -> demand points, with one arc `i \to k` of cost `c(x_k, i)` and capacity
`\mu_k` (a plan entry never exceeds its point's mass) per finite assignment cost, and supply
`-\mu_k` at point `k` (eq. (2b)-(2c): the plan `\pi_{ki}` is the flow on that arc). This backend compiles the problem into that
graph,

.. math::
    \min_x \sum_e c_e x_e \quad\text{s.t.}\quad \sum_{e \in \delta^+(v)} x_e - \sum_{e \in \delta^-(v)} x_e = b_v,
    \qquad 0 \le x_e \le \kappa_e,

and solves it with ``ortools.graph.python.min_cost_flow.SimpleMinCostFlow`` (cost-scaling push-relabel
on integers).

Compilation of the bounds (one place, ``compile_network``)
-------------------------------------------------------------
* finite lower bound `l`: `p = l + x`, `0 \le x \le u - l`, supplies shifted by
  `l` at both ends (negative lower bounds -- two-way links -- included);
* `l = -\infty`, `u` finite: `p = u - y`, one reversed arc of cost `-c`;
* free arcs: two opposite arcs of costs `c` and `-c`;
* infinite capacities: replaced by `2B + 1` with
  `B = \sum_v \max(b_v, 0) + \sum_{e: \kappa_e < \infty} \kappa_e` (scaled). If the problem is
  bounded, some optimal flow has every entry at most `B` (decompose it into paths, which carry
  at most `\sum \max(b_v,0)`, and cycles; a cycle through a capacitated arc carries at most that
  arc's capacity, a cycle of uncapacitated arcs has cost `\ge 0` and can be dropped). So an
  uncapacitated arc above `B` in the solver's answer means a negative cycle of unlimited
  arcs or a zero-cost one; the verified negative-cycle certificate decides which;
* quadratic arcs `a p^2 + b p` (see below): one arc per segment of a piecewise-linear secant.

Float data, exact answer
------------------------
The solver takes integers: flows are scaled by `S_f = 2^j` and costs by `S_c = 2^k`,
both chosen from the data (``choose_scales``): the smallest that keeps data exact where they
have few binary digits (integer data: `S = 1`), else as large as the integer ranges allow:
flows so that `(2B+1) S_f (D+1) \le 2^{50}` (`D` the largest number of uncapacitated
arcs at a node: the solver sums a node's capacities in int64), costs so that `\max|c| S_c (n+1) \le 2^{57}`
(the solver multiplies costs by `n + 1`; it rejects larger ones with ``BAD_COST_RANGE``,
which is caught and answered by a smaller `S_c`, never silently). Supplies are rounded by largest remainders so
that they still sum to exactly 0, capacities and costs to the nearest integer.

From the integer optimum the answer of the *original float* problem is built and certified:

1. potentials: shortest-path distances `d` in the residual graph of the integer flow (arc
   `v \to w` of cost `c` where `x < \kappa`, `w \to v` of cost `-c`
   where `x > 0`) from a virtual root joined to every node, by a label-correcting search on the
   integer costs (there is no negative cycle, the flow being optimal); `\psi = -d / S_c`. Then
   `\psi_v - \psi_w \le c_{vw}` on every residual arc: the paper's sign convention (eq. (3)-(5)),
   in which the arc term of eq. (4) is `\min_p c(p) - (\psi_i - \psi_j) p`;
2. a float-feasible point: the integer flow divided by `S_f`, arcs at an integer bound set to
   the float bound, demand points whose rounded mass is 0 sent to their cheapest endpoint
   (Proposition 1), then the conservation residual `r = b - E x` routed along a spanning forest
   of the arcs strictly between their bounds (subtree sums of `r`), checked against the bounds;
3. the certified gap: the objective of that point minus `q(\psi)` of eq. (4), both from the
   float data (the cost rounding, at most `1/S_c` per unit of flow, is forgiven on
   uncapacitated linear arcs when evaluating `q`). If it exceeds ``tol`` (relative, default
   1e-9), the linear problem is re-solved exactly by the ``highs`` backend and the answer says so
   (``info["repair"]``).

Quadratic arc costs
-------------------
A convex arc `a p^2 + b p` on `[l, u]` (clipped to `[-B, B]` where infinite)
becomes parallel arcs, one per segment `[z_k, z_{k+1}]` of a breakpoint list, of capacity
`z_{k+1} - z_k` and cost the secant slope `a (z_k + z_{k+1}) + b`; convexity makes the
segments fill in order, so the flow of the original arc is `l + \sum_k x_k` and its
piecewise-linear cost the secant interpolant, which lies above `a p^2 + b p` by at most
`a h^2 / 4` on a segment of width `h`. With `\psi` optimal for the piecewise
problem, the certified gap of the quadratic problem is at most the sum of these errors at the
minimizers, so the breakpoints are refined around the current flow and the local response
`\arg\min_p a p^2 + (b - \psi_i + \psi_j) p` each round (widths divided by 16) until the gap
computed from the float data is below ``tol``. The demand assignment stays linear.

Options
-------
tol : float
    Relative certified gap required (default 1e-9).
max_rounds : int
    Refinement rounds for quadratic costs (default 12).
time_limit, verbose :
    Accepted for compatibility; OR-Tools' min-cost flow has neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.backends._standard import balanced_supply
from otmodel.backends.base import Conformance, Timer, no_point_solution
from otmodel.errors import SolverError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["NetworkBackend", "CompiledNetwork", "compile_network", "choose_scales", "solve_min_cost_flow"]

I64 = np.int64
#: Largest scaled flow bound (2B + 1) S_f: well inside int64 and exact in float64.
FLOW_LIMIT = 2.0**50
#: Largest scaled cost times (n + 1): OR-Tools multiplies costs by n + 1 in its cost scaling and
#: answered BAD_COST_RANGE already at 2**59 (10k-node grid).
COST_LIMIT = 2.0**57


# ============================================================================ compiled graph
@dataclass
class CompiledNetwork:
    """A flow problem as one min-cost flow `\\min c x,\\ E x = b,\\ 0 \\le x \\le \\kappa`.

    Nodes: the network's, then the positive-mass demand points of a spatial problem. Arcs: the
    network's (one per linear arc with a finite bound, two for a free arc, one per segment of a
    quadratic arc), then the assignment pairs (endpoint -> point) of a spatial problem.
    ``arc_of``/``sign``/``base`` map compiled flows back: ``p = base + bincount(arc_of, sign * x)``.
    """

    problem: FlowProblem
    n_nodes: int
    tails: NDArray[np.int64]
    heads: NDArray[np.int64]
    cost: NDArray[np.float64]
    cap: NDArray[np.float64]
    supply: NDArray[np.float64]
    n_net_arcs: int
    arc_of: NDArray[np.int64]
    sign: NDArray[np.float64]
    base: NDArray[np.float64]
    bound: float
    points: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))
    pair_point: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))
    pair_end: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))

    @property
    def n_arcs(self) -> int:
        return int(self.tails.size)

    def original_flows(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        m = self.problem.n_arcs
        k = self.n_net_arcs
        return self.base + np.bincount(self.arc_of, weights=self.sign * x[:k], minlength=m)[:m]

    def net_outflow(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.bincount(self.tails, weights=x, minlength=self.n_nodes)
        return np.asarray(out - np.bincount(self.heads, weights=x, minlength=self.n_nodes), dtype=float)


def _flow_bound(problem: FlowProblem) -> float:
    """B of the module docstring in problem units, before compilation (finite bounds and supplies)."""
    s = np.abs(np.asarray(problem.supply, dtype=float)).sum()
    if isinstance(problem, SpatialFlowProblem):
        s += problem.demand.total
    lo, up = np.asarray(problem.lower, float), np.asarray(problem.upper, float)
    fin = np.isfinite(lo) & np.isfinite(up)
    width = float(np.sum(up[fin] - lo[fin]))
    shift = float(np.sum(np.abs(lo[np.isfinite(lo)]))) + float(np.sum(np.abs(up[np.isfinite(up)])))
    return float(s) + width + shift + 1e-300


def compile_network(
    problem: FlowProblem,
    breakpoints: list[NDArray[np.float64]] | None = None,
    reuse: CompiledNetwork | None = None,
) -> CompiledNetwork:
    """Compile ``problem`` into a ``CompiledNetwork`` (bounds as in the module docstring).

    ``breakpoints[j]`` lists the breakpoints of quadratic arc number ``j`` (in the order of
    ``np.flatnonzero(problem.costs.a > 0)``), ends included; default: the two ends of its range.
    ``reuse``: an earlier compilation of the same problem whose assignment pairs are taken as they
    are (the refinement rounds of quadratic costs change the network arcs only).
    """
    n = problem.n_nodes
    m = problem.n_arcs
    tails0 = np.asarray(problem.tails, dtype=I64)
    heads0 = np.asarray(problem.heads, dtype=I64)
    lo = np.asarray(problem.lower, dtype=float)
    up = np.asarray(problem.upper, dtype=float)
    a, b = np.asarray(problem.costs.a, float), np.asarray(problem.costs.b, float)
    spatial = isinstance(problem, SpatialFlowProblem)
    if spatial:
        supply_net = np.asarray(problem.supply, dtype=float).copy()
    else:
        supply_net = balanced_supply(problem).copy()
    bq = _flow_bound(problem)
    quad = a > 0
    lin = ~quad
    fin_lo = np.isfinite(lo)
    fin_up = np.isfinite(up)
    # linear arcs
    k1 = np.flatnonzero(lin & fin_lo)  # p = l + x
    k2 = np.flatnonzero(lin & ~fin_lo & fin_up)  # p = u - y, reversed
    k3 = np.flatnonzero(lin & ~fin_lo & ~fin_up)  # free: two arcs
    T = [tails0[k1], heads0[k2], tails0[k3], heads0[k3]]
    H = [heads0[k1], tails0[k2], heads0[k3], tails0[k3]]
    C = [b[k1], -b[k2], b[k3], -b[k3]]
    K = [up[k1] - lo[k1], np.full(k2.size, math.inf), np.full(k3.size, math.inf), np.full(k3.size, math.inf)]
    A = [k1, k2, k3, k3]
    S = [np.ones(k1.size), -np.ones(k2.size), np.ones(k3.size), -np.ones(k3.size)]
    base = np.zeros(m)
    base[k1] = lo[k1]
    base[k2] = up[k2]
    # quadratic arcs: secant segments between breakpoints
    kq = np.flatnonzero(quad)
    if kq.size:
        qlo = np.maximum(lo[kq], -bq)
        qup = np.minimum(up[kq], bq)
        if breakpoints is None:
            breakpoints = [np.array([qlo[j], qup[j]]) for j in range(kq.size)]
        counts = np.array([max(z.size - 1, 0) for z in breakpoints], dtype=np.intp)
        z0 = np.concatenate([z[:-1] for z in breakpoints]) if counts.sum() else np.zeros(0)
        z1 = np.concatenate([z[1:] for z in breakpoints]) if counts.sum() else np.zeros(0)
        arc = np.repeat(kq, counts)
        T.append(tails0[arc])
        H.append(heads0[arc])
        C.append(a[arc] * (z0 + z1) + b[arc])
        K.append(z1 - z0)
        A.append(arc)
        S.append(np.ones(arc.size))
        base[kq] = qlo
    tails = np.concatenate(T)
    heads = np.concatenate(H)
    cost = np.concatenate(C)
    cap = np.concatenate(K)
    arc_of = np.concatenate(A).astype(I64)
    sign = np.concatenate(S)
    # supplies shifted by the base flows: p = base + x moves base out of the tail into the head
    supply_net -= np.bincount(tails0, weights=base, minlength=n)
    supply_net += np.bincount(heads0, weights=base, minlength=n)
    n_net_arcs = int(tails.size)
    points = np.zeros(0, np.intp)
    pair_point = pair_end = np.zeros(0, np.intp)
    supply = supply_net
    nn = n
    if spatial:
        assert isinstance(problem, SpatialFlowProblem)
        mass = problem.demand.mass
        ends = np.asarray(problem.endpoints, dtype=I64)
        if reuse is not None and reuse.problem is problem:
            points, pair_point, pair_end = reuse.points, reuse.pair_point, reuse.pair_end
            k0 = reuse.n_net_arcs
            pair_heads, pair_cost = reuse.heads[k0:], reuse.cost[k0:]
        else:
            points = np.flatnonzero(mass > 0)
            Cm = problem.cost_block(0, problem.n_points)[points]
            rr, ss = np.nonzero(np.isfinite(Cm))
            pair_point = points[rr].astype(np.intp)  # sorted by point (row-major nonzero)
            pair_end = ss.astype(np.intp)
            pair_heads = n + rr.astype(I64)
            pair_cost = Cm[rr, ss]
        tails = np.concatenate([tails, ends[pair_end]])
        heads = np.concatenate([heads, pair_heads])
        cost = np.concatenate([cost, pair_cost])
        # pi_ki <= mu_k: a finite capacity keeps a node's total capacity (an endpoint may have 10^5
        # pair arcs) inside the solver's int64 flow range
        cap = np.concatenate([cap, mass[pair_point]])
        supply = np.concatenate([supply_net, -mass[points]])
        nn = n + points.size
    # the accepted imbalance (within the problem's balance_rtol) is taken off in proportion to size
    tot, size = float(supply.sum()), float(np.abs(supply).sum())
    if tot != 0.0 and size > 0.0:
        supply = supply - tot * np.abs(supply) / size
    fin = np.isfinite(cap)
    bound = float(supply[supply > 0].sum() + cap[fin].sum())
    return CompiledNetwork(
        problem=problem,
        n_nodes=int(nn),
        tails=np.asarray(tails, dtype=I64),
        heads=np.asarray(heads, dtype=I64),
        cost=np.asarray(cost, dtype=float),
        cap=np.asarray(cap, dtype=float),
        supply=supply,
        n_net_arcs=n_net_arcs,
        arc_of=arc_of,
        sign=sign,
        base=base,
        bound=bound,
        points=points,
        pair_point=pair_point,
        pair_end=pair_end,
    )


# ============================================================================ integer data
def fraction_bits(v: NDArray[np.float64], cap: int | None = None) -> int:
    """The smallest ``k >= 0`` such that every finite ``v * 2**k`` is an integer (binary digits
    after the point of the finest entry). With ``cap``, any answer of at least ``cap`` may be
    returned as ``cap`` (a sample of 4096 entries decides that quickly for measured data)."""
    v = np.asarray(v, dtype=float)
    if cap is not None and v.size > 65536:
        k = fraction_bits(v[:: max(1, v.size // 4096)])
        if k >= cap:
            return cap
    v = v[np.isfinite(v) & (v != 0)]
    if v.size == 0:
        return 0
    mant, expo = np.frexp(np.abs(v))  # |v| = mant * 2**expo, mant in [0.5, 1): 53 significant bits
    mi = (mant * 2.0**53).astype(np.int64)
    tz = np.log2((mi & -mi).astype(float)).astype(np.int64)  # trailing zero bits of the mantissa
    return int(max(0, int(np.max(53 - tz - expo))))


def choose_scales(cn: CompiledNetwork, cost_limit: float = COST_LIMIT) -> tuple[float, float]:
    """Powers of two ``(S_f, S_c)`` for flows and costs (module docstring), chosen from the data.

    Powers of two make ``int / S`` exact in floating point. Data that are exact in few binary
    digits (integers, halves, ...) get the smallest scale that keeps them exact: the solver's work
    grows with the cost range (measured on a 10k-node grid with integer costs: 2.1 s at S_c = 1,
    4.5 s at 2**31). Other data get the largest scales the integer ranges allow. Raises
    ``SolverError`` when the flow bound does not fit the integer range at all.
    """
    bnd = max(cn.bound, 1e-300)
    # OR-Tools adds up the capacities at each node in int64: count the uncapacitated arcs per node
    inf = ~np.isfinite(cn.cap)
    deg = np.bincount(cn.tails[inf], minlength=cn.n_nodes) + np.bincount(cn.heads[inf], minlength=cn.n_nodes)
    j = math.floor(math.log2(FLOW_LIMIT / (2.0 * bnd + 1.0) / (1.0 + float(deg.max(initial=0)))))
    if j < -1000:
        raise SolverError(f"network backend: flow bound {cn.bound:g} does not fit the integer range")
    j = min(j, fraction_bits(np.concatenate([cn.supply, cn.cap]), cap=j), 1000)
    sf = 2.0**j
    cmax = float(np.abs(cn.cost).max(initial=0.0))
    if cmax == 0.0:
        return sf, 1.0
    k = math.floor(math.log2(min(2.0**53, cost_limit / (cn.n_nodes + 1))) - math.log2(cmax))
    k = min(k, fraction_bits(cn.cost, cap=k), 960)
    return sf, 2.0**k


def _largest_remainder(v: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integers within 1 of ``v`` summing to ``round(sum v)`` (0 for balanced supplies)."""
    f = np.floor(v)
    out = f.astype(I64)
    target = int(round(float(v.sum())))
    k = target - int(out.sum())
    if k > 0:
        idx = np.argpartition(-(v - f), k - 1)[:k] if k < v.size else np.arange(v.size)
        out[idx] += 1
    elif k < 0:
        k = -k
        idx = np.argpartition(v - f, k - 1)[:k] if k < v.size else np.arange(v.size)
        out[idx] -= 1
    return out


@dataclass
class IntegerData:
    sf: float
    sc: float
    cap: NDArray[np.int64]
    cost: NDArray[np.int64]
    supply: NDArray[np.int64]
    big: int  # the capacity standing for infinity
    bound: int  # B scaled: above it an uncapacitated arc signals a cycle


def integer_data(cn: CompiledNetwork, sf: float, sc: float) -> IntegerData:
    bound = int(math.ceil(cn.bound * sf)) + cn.n_nodes
    big = 2 * bound + 1
    capf = np.where(np.isfinite(cn.cap), np.rint(cn.cap * sf), float(big))
    return IntegerData(
        sf=sf,
        sc=sc,
        cap=capf.astype(I64),
        cost=np.rint(cn.cost * sc).astype(I64),
        supply=_largest_remainder(cn.supply * sf),
        big=big,
        bound=bound,
    )


_STATUS = {
    "OPTIMAL": Status.OPTIMAL,
    "INFEASIBLE": Status.INFEASIBLE,
    "UNBALANCED": Status.INFEASIBLE,
    "BAD_COST_RANGE": Status.NUMERICAL_ERROR,
    "BAD_CAPACITY_RANGE": Status.NUMERICAL_ERROR,
    "BAD_RESULT": Status.NUMERICAL_ERROR,
    "FEASIBLE": Status.UNKNOWN,
    "NOT_SOLVED": Status.UNKNOWN,
}


def solve_min_cost_flow(
    tails: NDArray[np.int64], heads: NDArray[np.int64], cap: NDArray[np.int64], cost: NDArray[np.int64],
    supply: NDArray[np.int64],
) -> tuple[str, NDArray[np.int64] | None]:
    """One call of OR-Tools' ``SimpleMinCostFlow`` on integer data: ``(status name, flows or None)``.

    The flows are read only when the status is OPTIMAL (reading them after a failed solve crashes
    the process with OR-Tools 9.15).
    """
    from ortools.graph.python import min_cost_flow

    smcf = min_cost_flow.SimpleMinCostFlow()
    if tails.size:
        smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, cap, cost)
    n = supply.size
    # nodes without arcs exist for the solver only once an arc names them; an isolated node with a
    # non-zero supply makes the problem infeasible, which the caller detects from the supplies
    nodes = np.arange(n, dtype=I64)
    smcf.set_nodes_supplies(nodes, supply)
    status = smcf.solve()
    name = status.name
    if name != "OPTIMAL":
        return name, None
    return name, np.asarray(smcf.flows(np.arange(tails.size, dtype=I64)), dtype=I64)


# ============================================================================ compiled loops
def _kernels() -> tuple[Any, Any]:
    from otmodel.backends._network_kernels import spfa, tree_correct

    return spfa, tree_correct


def _csr(n: int, src: NDArray[np.int64], *cols: NDArray[Any]) -> tuple[NDArray[np.int64], list[NDArray[Any]]]:
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=I64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
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

    def route(usable: NDArray[np.intp]) -> tuple[NDArray[np.float64], float]:
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
        if max(lo_viol, up_viol) <= 1e-13 * scale:
            out = np.clip(out, 0.0, cn.cap)
        else:
            leftover = max(leftover, lo_viol, up_viol)
        resid = float(np.abs(cn.supply - cn.net_outflow(out)).max(initial=0.0))
        return out, max(leftover, resid)

    # arcs strictly between their bounds first (the basis: complementary slackness is kept)
    chosen, err = route(np.flatnonzero((xf > 0) & (xf < cn.cap)))
    if err > 0.0:
        # a residual left where no such arc reaches (a supply rounded to 0 units, e.g. 1e-308):
        # arcs of zero reduced cost carry it at no loss of optimality; failing that, any arc with
        # room, at a cost the certified gap accounts for
        rc = cn.cost - (psi[cn.tails] - psi[cn.heads])
        tight = np.abs(rc) <= 1e-12 * max(1e-300, float(np.abs(cn.cost).max(initial=0.0)))
        for usable in (np.flatnonzero((cn.cap > 0) & tight), np.flatnonzero(cn.cap > 0)):
            alt, err2 = route(usable)
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


# ============================================================================ the backend
class NetworkBackend:
    """Exact min-cost flow on OR-Tools, answers certified on the float data (module docstring)."""

    name = "network"
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}))

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        if not problem.is_linear:
            return None
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        from otmodel.backends import _options as check

        check.refuse_unknown("network", options, ("tol", "max_rounds", "time_limit", "verbose"))
        tol = check.number("network", "tol", options.get("tol", 1e-9), 0.0, strict=True)
        max_rounds = check.integer("network", "max_rounds", options.get("max_rounds", 12), 1)
        if options.get("time_limit") is not None:  # accepted, not enforced: OR-Tools has no limit
            check.number("network", "time_limit", options["time_limit"], 0.0, strict=True, finite=False)
        check.flag("network", "verbose", options.get("verbose", False))
        from otmodel.backends._checked import solve_checked

        def attempt() -> Solution:
            timer = Timer()
            if problem.is_linear:
                return self._solve_linear(problem, tol, timer)
            try:
                return self._solve_quadratic(problem, tol, max_rounds, timer)
            finally:
                _SF_CACHE.clear()

        # the rule of every exact backend (issue 18): an OPTIMAL point is verified node by node
        # (self-loops at their own optimum) before it is returned, with the shared fallbacks
        return solve_checked(problem, [("OR-Tools min-cost flow, certified", attempt)], self.name)

    # ------------------------------------------------------------------ one integer solve
    def _integer_solve(
        self, cn: CompiledNetwork, timer: Timer
    ) -> tuple[str, IntegerData | None, NDArray[np.int64] | None]:
        with timer("build"):
            sf, sc = choose_scales(cn)
        for _ in range(8):
            with timer("build"):
                ints = integer_data(cn, sf, sc)
            with timer("solve"):
                status, x = solve_min_cost_flow(cn.tails, cn.heads, ints.cap, ints.cost, ints.supply)
            if status == "BAD_COST_RANGE" and sc > 1.0:
                sc /= 2.0**4  # the range check of OR-Tools is stricter than ours: coarser costs
                continue
            if status == "BAD_CAPACITY_RANGE" and sf > 1.0:
                sf /= 2.0**4
                continue
            return status, ints, x
        return status, None, None

    def _failure(self, problem: FlowProblem, status: str, timer: Timer, solver: str) -> Solution:
        from otmodel.certificates import classify_failure

        timings = timer.done()
        if status in ("INFEASIBLE", "UNBALANCED"):
            return classify_failure(problem, "infeasible", self.name, solver, timings, f"OR-Tools: {status}")
        st = _STATUS.get(status, Status.UNKNOWN)
        return no_point_solution(problem, st, PointStatus.NO_POINT, self.name, solver, timings, f"OR-Tools: {status}")

    def _unbounded(self, problem: FlowProblem, timer: Timer, solver: str) -> Solution | None:
        from otmodel.certificates import find_unbounded_cycle, verify_unbounded_certificate

        cyc = find_unbounded_cycle(problem)
        if cyc is not None and verify_unbounded_certificate(problem, cyc, check_feasible=False):
            return no_point_solution(
                problem, Status.UNBOUNDED, PointStatus.CERTIFICATE, self.name, solver, timer.done(),
                "negative-cost cycle of unlimited arcs", cyc,
            )
        return None

    @staticmethod
    def _solver_name() -> str:
        import ortools

        return f"OR-Tools {ortools.__version__} SimpleMinCostFlow"

    def _certified_point(
        self, cn: CompiledNetwork, ints: IntegerData, x: NDArray[np.int64], timer: Timer
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float, float] | None:
        """(compiled float point, flows, psi of the network nodes, primal, q, residual) or None."""
        with timer("potentials"):
            psi = residual_potentials(cn, ints, x)
        if psi is None:
            return None
        n_net = cn.problem.n_nodes
        with timer("certificate"):
            xf, resid = float_point(cn, ints, x, psi)
        if np.any((xf > 0) != (x > 0)) or np.any(np.isfinite(cn.cap) & ((xf < cn.cap) != (x < ints.cap))):
            # the float point left a bound the integer flow sat on (a residual routed along an arc
            # at its bound): the potentials of its own residual graph, if it has no negative cycle
            with timer("potentials"):
                again = residual_potentials(cn, ints, x, xf)
            if again is not None:
                psi = again
        with timer("certificate"):
            primal, flows = primal_value(cn, xf)
            q = dual_bound(cn, psi[:n_net], price_tol=2.0 / ints.sc)
        return xf, flows, psi[:n_net], primal, q, resid

    # ------------------------------------------------------------------ linear costs
    def _solve_linear(self, problem: FlowProblem, tol: float, timer: Timer) -> Solution:
        solver = self._solver_name()
        with timer("build"):
            cn = compile_network(problem)
        status, ints, x = self._integer_solve(cn, timer)
        if status != "OPTIMAL" or ints is None or x is None:
            out = self._failure(problem, status, timer, solver)
            if status in ("INFEASIBLE", "UNBALANCED") and out.status is Status.NUMERICAL_ERROR:
                # no verified cut: the float problem is feasible, or infeasible by less than the
                # certificate's tolerance, and the rounding tipped it over
                return self._repair(problem, timer, {"repair_reason": "rounded data infeasible, float data not"})
            return out
        if np.any(~np.isfinite(cn.cap) & (x > ints.bound)):
            unb = self._unbounded(problem, timer, solver)
            if unb is not None:
                return unb
        got = self._certified_point(cn, ints, x, timer)
        info: dict[str, Any] = {"flow_scale": ints.sf, "cost_scale": ints.sc}
        if got is not None:
            xf, flows, psi, primal, q, resid = got
            gap = (primal - q) / max(1.0, abs(primal))
            info.update({"relative_gap": gap, "dual_bound": q, "residual": resid})
            if resid <= 1e-12 and gap <= tol:
                return self._solution(problem, cn, xf, flows, psi, primal, timer, solver, "optimal", info)
            info["repair_reason"] = f"relative gap {gap:.3g}, residual {resid:.3g}"
        else:
            info["repair_reason"] = "negative cycle in the residual graph of the integer flow"
        return self._repair(problem, timer, info)

    def _repair(self, problem: FlowProblem, timer: Timer, info: dict[str, Any]) -> Solution:
        """The exact LP of the float data by the ``highs`` backend, when the integer answer could
        not be certified to ``tol`` (module docstring)."""
        from otmodel.backends.highs import HighsBackend

        with timer("repair"):
            sol = HighsBackend().solve(problem)
        timings = timer.done()
        info = dict(info, repair="highs", highs_info=sol.info)
        return Solution(
            problem=problem, status=sol.status, point_status=sol.point_status, objective=sol.objective,
            flows=sol.flows, potentials=sol.potentials, assignment=sol.assignment, cell_mass=sol.cell_mass,
            backend=self.name, solver=f"{self._solver_name()}; repaired by {sol.solver}", timings=timings,
            certificate=sol.certificate, iterations=sol.iterations, message=sol.message, info=info,
        )

    def _solution(
        self,
        problem: FlowProblem,
        cn: CompiledNetwork,
        xf: NDArray[np.float64],
        flows: NDArray[np.float64],
        psi: NDArray[np.float64],
        primal: float,
        timer: Timer,
        solver: str,
        message: str,
        info: dict[str, Any],
        status: Status = Status.OPTIMAL,
    ) -> Solution:
        import scipy.sparse as sp

        assignment = cell_mass = None
        if isinstance(problem, SpatialFlowProblem):
            k0 = cn.n_net_arcs
            vals = xf[k0:]
            nz = vals != 0
            assignment = sp.csr_matrix(
                (vals[nz], (cn.pair_point[nz], cn.pair_end[nz])), shape=(problem.n_points, problem.n_endpoints)
            )
            cell_mass = np.asarray(np.bincount(cn.pair_end, weights=vals, minlength=problem.n_endpoints), float)
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.FEASIBLE,
            objective=primal,
            flows=flows,
            potentials=psi,
            assignment=assignment,
            cell_mass=cell_mass,
            backend=self.name,
            solver=solver,
            timings=timer.done(),
            message=message,
            info=info,
        )

    # ------------------------------------------------------------------ quadratic costs
    def _solve_quadratic(self, problem: FlowProblem, tol: float, max_rounds: int, timer: Timer) -> Solution:
        """Piecewise-linear secants refined around the flow and the local response (module docstring)."""
        solver = self._solver_name()
        a = np.asarray(problem.costs.a, float)
        b = np.asarray(problem.costs.b, float)
        kq = np.flatnonzero(a > 0)
        bq = _flow_bound(problem)
        qlo = np.maximum(np.asarray(problem.lower, float)[kq], -bq)
        qup = np.minimum(np.asarray(problem.upper, float)[kq], bq)
        bps = [np.linspace(qlo[j], qup[j], INITIAL_SEGMENTS + 1) for j in range(kq.size)]
        history: list[float] = []
        best: tuple[Any, ...] | None = None
        for _ in range(max_rounds):
            with timer("build"):
                cn = compile_network(problem, bps, reuse=best[0] if best is not None else None)
            status, ints, x = self._integer_solve(cn, timer)
            if status != "OPTIMAL" or ints is None or x is None:
                return self._failure(problem, status, timer, solver)
            if np.any(~np.isfinite(cn.cap) & (x > ints.bound)):
                unb = self._unbounded(problem, timer, solver)
                if unb is not None:
                    return unb
            got = self._certified_point(cn, ints, x, timer)
            if got is None:
                break
            xf, flows, psi, primal, q, resid = got
            gap = (primal - q) / max(1.0, abs(primal))
            history.append(gap)
            if resid <= 1e-12 and (best is None or gap < best[-1]):
                best = (cn, xf, flows, psi, primal, gap)
            if resid <= 1e-12 and gap <= tol:
                break
            if resid <= 1e-12 and gap <= POLISH_FROM:
                # once the piecewise answer is close, its active set is usually the exact one:
                # one KKT solve (cheaper than a round) may finish the job
                done = self._polished_solution(problem, cn, xf, psi, tol, tol, timer, solver, history, bps)
                if done is not None:
                    return done
            with timer("build"):
                t = psi[problem.tails[kq]] - psi[problem.heads[kq]]
                response = np.clip((t - b[kq]) / (2.0 * a[kq]), qlo, qup)
                bps = refine_breakpoints(bps, flows[kq], response, qlo, qup)
        info: dict[str, Any] = {"rounds": len(history), "gap_history": history, "segments": int(sum(z.size - 1 for z in bps))}
        if best is None:
            return no_point_solution(
                problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, self.name, solver, timer.done(),
                "no float-feasible point could be built from the integer flows", info=info,
            )
        cn, xf, flows, psi, primal, gap = best
        # the objective is flat at the optimum: flows within sqrt(gap) only, hence a last polish
        done = self._polished_solution(problem, cn, xf, psi, gap, tol, timer, solver, history, bps)
        if done is not None:
            return done
        info["polished"] = False
        info.update({"relative_gap": gap, "dual_bound": primal - gap * max(1.0, abs(primal))})
        converged = gap <= tol
        status_out = Status.OPTIMAL if converged else Status.ITERATION_LIMIT
        msg = "optimal" if converged else f"certified relative gap {gap:.3g} > tol after {len(history)} rounds"
        return self._solution(problem, cn, xf, flows, psi, primal, timer, solver, msg, info, status_out)

    def _polished_solution(
        self,
        problem: FlowProblem,
        cn: CompiledNetwork,
        xf: NDArray[np.float64],
        psi: NDArray[np.float64],
        accept: float,
        tol: float,
        timer: Timer,
        solver: str,
        history: list[float],
        bps: list[NDArray[np.float64]],
    ) -> Solution | None:
        """The polished answer if its own certified gap is within ``max(accept, tol)``, else None.

        The active set of the piecewise answer (arcs at a bound, points served by one endpoint) fixes
        the exact optimum, found by one KKT solve; it is kept only if certified."""
        with timer("polish"):
            pol = self._polish(problem, cn, xf, psi)
        if pol is None:
            return None
        flows_p, psi_p, plan_p, primal_p, gap_p = pol
        if not gap_p <= max(accept, tol):
            return None
        info = {
            "rounds": len(history), "gap_history": list(history), "segments": int(sum(z.size - 1 for z in bps)),
            "polished": True, "relative_gap": gap_p, "piecewise_gap": history[-1] if history else None,
        }
        return Solution(
            problem=problem, status=Status.OPTIMAL if gap_p <= tol else Status.ITERATION_LIMIT,
            point_status=PointStatus.FEASIBLE, objective=primal_p, flows=flows_p, potentials=psi_p,
            assignment=plan_p, cell_mass=None if plan_p is None else np.asarray(plan_p.sum(axis=0)).reshape(-1),
            backend=self.name, solver=solver, timings=timer.done(), message="optimal (polished)", info=info,
        )

    @staticmethod
    def _polish(
        problem: FlowProblem, cn: CompiledNetwork, xf: NDArray[np.float64], psi: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None:
        """Exact active-set polish (``otmodel.backends._outer.polish_qp``) of the piecewise answer.

        Returns ``(flows, psi, plan, objective, certified relative gap)`` or None when the polish
        fails or its point leaves a conservation residual above ``POLISH_RESIDUAL`` (relative; a
        sparse LU solve leaves ~1e-13). Its potentials satisfy the linear arcs with an infinite bound
        to the same round-off, forgiven in q at ``POLISH_RESIDUAL`` times the largest linear cost.
        """
        from otmodel.backends._outer import polish_qp
        from otmodel.backends._standard import build_standard_form

        sf = _SF_CACHE.get(id(problem))
        if sf is None or sf.problem is not problem:
            sf = build_standard_form(problem)
            _SF_CACHE.clear()
            _SF_CACHE[id(problem)] = sf
        m = problem.n_arcs
        flows = cn.original_flows(xf)
        x = np.concatenate([flows, xf[cn.n_net_arcs :]]) * sf.kappa
        if x.size != sf.n_vars:
            return None
        y = psi / sf.sigma
        best: tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None = None
        for _ in range(POLISH_STEPS):
            got = polish_qp(sf, x, y)
            if got is None:
                break
            checked = NetworkBackend._check_polished(problem, cn, sf, got[0], got[1])
            if checked is None:
                break
            if best is None or checked[-1] < best[-1]:
                best = checked
            if checked[-1] <= 1e-12:
                break
            # a Newton-like step on the active set: the one the polished potentials imply
            x, y = got[0].copy(), got[1]
            psi_p = checked[1]
            quad = problem.costs.a > 0
            t = psi_p[problem.tails] - psi_p[problem.heads]
            resp = problem.costs.response(t, problem.lower, problem.upper)
            x[:m] = np.where(quad, resp * sf.kappa, x[:m])
            if sf.n_pairs and isinstance(problem, SpatialFlowProblem):
                red = sf.c[m:] * sf.sigma - psi_p[np.asarray(problem.endpoints)[sf.pair_end]]
                low = np.full(problem.n_points, math.inf)
                np.minimum.at(low, sf.pair_point, red)
                tie = 1e-11 * max(1.0, sf.sigma)
                x[m:] = np.where(red <= low[sf.pair_point] + tie, 1.0, 0.0)
        return best

    @staticmethod
    def _check_polished(
        problem: FlowProblem, cn: CompiledNetwork, sf: Any, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None:
        out = sf.unscale(x, y)
        flows_p, psi_p = out["flows"], out["potentials"]
        plan = out.get("assignment")
        resid_scale = max(1.0, float(np.abs(cn.supply).sum()))
        net = problem.net_outflow(flows_p)
        supply = np.asarray(problem.supply, float) if isinstance(problem, SpatialFlowProblem) else balanced_supply(problem)
        if plan is not None and isinstance(problem, SpatialFlowProblem):
            net = net + _endpoint_inflow(problem, plan)
            rows = np.asarray(plan.sum(axis=1)).reshape(-1)
            if float(np.abs(rows - problem.demand.mass).max(initial=0.0)) > POLISH_RESIDUAL * resid_scale:
                return None
        if float(np.abs(net - supply).max(initial=0.0)) > POLISH_RESIDUAL * resid_scale:
            return None
        primal = float(out["objective"])
        q = dual_bound(cn, psi_p, price_tol=POLISH_RESIDUAL * max(1.0, float(np.abs(problem.costs.b).max(initial=0.0))))
        return flows_p, psi_p, plan, primal, (primal - q) / max(1.0, abs(primal))


#: The standard form of the problem being polished (built once per solve, not once per round).
_SF_CACHE: dict[int, Any] = {}


def _endpoint_inflow(problem: FlowProblem, plan: Any) -> NDArray[np.float64]:
    """Per network node: the plan mass it sends to demand points (eq. (2b))."""
    assert isinstance(problem, SpatialFlowProblem)
    out = np.zeros(problem.n_nodes)
    np.add.at(out, np.asarray(problem.endpoints), np.asarray(plan.sum(axis=0)).reshape(-1))
    return out


#: Segments of the first piecewise-linear secant of each quadratic arc.
#: Relative round-off accepted in the KKT polish (conservation residual, prices on unlimited arcs).
POLISH_RESIDUAL = 1e-10
#: KKT solves per polish, each on the active set the previous one's potentials imply.
POLISH_STEPS = 2
#: Relative gap of the piecewise answer from which a polish is tried each round.
POLISH_FROM = 1e-7
INITIAL_SEGMENTS = 256


def refine_breakpoints(
    bps: list[NDArray[np.float64]],
    flows: NDArray[np.float64],
    response: NDArray[np.float64],
    lo: NDArray[np.float64],
    up: NDArray[np.float64],
    factor: float = 64.0,
) -> list[NDArray[np.float64]]:
    """Add breakpoints at ``c + (h / factor) * (0, +-1, +-2, +-4, +-8)`` around the flow and the
    response ``c`` of each quadratic arc (and at +-16, +-32), ``h`` the width of the segment that holds it: the secant
    error near the optimum, at most ``a h^2 / 4``, drops by up to ``factor**2`` per round, and the
    wider points catch an optimum that moved by more than a new segment."""
    out = []
    steps = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    for j, z in enumerate(bps):
        parts = [z]
        for c in (flows[j], response[j]):
            i = int(np.searchsorted(z, c))
            left = z[max(i - 1, 0)]
            right = z[min(i + 1, z.size - 1)] if i < z.size and z[i] == c else z[min(i, z.size - 1)]
            h = max(right - left, 0.0)
            if h > 0:
                parts.append(c + (h / factor) * steps)
        w = np.unique(np.clip(np.concatenate(parts), lo[j], up[j]))
        # breakpoints closer than round-off would make empty segments
        keep = np.r_[True, np.diff(w) > 1e-13 * max(1.0, float(np.abs(w).max()))]
        keep[-1] = True
        w = w[keep]
        if w.size >= 2 and w[-2] == w[-1]:
            w = w[:-1]
        out.append(w)
    return out
