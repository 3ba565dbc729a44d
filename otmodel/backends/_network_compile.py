"""Compilation of a flow problem into one integer min-cost flow, for the ``network`` backend.

The graph (network arcs by their bounds, quadratic arcs as secant segments, the assignment pairs of
a spatial problem), the power-of-two scales and the rounding to integers, and one call of OR-Tools'
``SimpleMinCostFlow``: the rules are stated in ``otmodel.backends.network``'s module docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from otmodel.backends._standard import balanced_supply
from otmodel.errors import SolverError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import Status

__all__ = [
    "kink_breakpoints",
    "CompiledNetwork", "IntegerData", "compile_network", "fraction_bits", "choose_scales", "integer_data",
    "solve_min_cost_flow", "FLOW_LIMIT", "COST_LIMIT",
]

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


def kink_breakpoints(problem: FlowProblem, kq: NDArray[np.intp], bps: list[NDArray[np.float64]]) -> list[NDArray[np.float64]]:
    """``bps`` (breakpoints of the quadratic arcs ``kq``) with 0 added on the kinked arcs, where the
    slope of ``a p^2 + b |p|`` jumps: a secant across the kink would not be of the secant form."""
    kink = problem.costs.kink
    if kink is None:
        return bps
    return [np.union1d(z, [0.0]) if kink[k] and z[0] < 0.0 < z[-1] else z for k, z in zip(kq.tolist(), bps, strict=True)]


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
    # two-way arcs charged b|p| (b > 0): a forward arc on [0, u] and a backward one on [0, -l],
    # both of cost b (ArcCosts.split); p = x_forward - x_backward, base 0
    kink = np.zeros(m, dtype=bool) if problem.costs.kink is None else np.asarray(problem.costs.kink, dtype=bool)
    k4 = np.flatnonzero(lin & kink)
    lin = lin & ~kink
    # linear arcs
    k1 = np.flatnonzero(lin & fin_lo)  # p = l + x
    k2 = np.flatnonzero(lin & ~fin_lo & fin_up)  # p = u - y, reversed
    k3 = np.flatnonzero(lin & ~fin_lo & ~fin_up)  # free: two arcs
    T = [tails0[k1], heads0[k2], tails0[k3], heads0[k3], tails0[k4], heads0[k4]]
    H = [heads0[k1], tails0[k2], heads0[k3], tails0[k3], heads0[k4], tails0[k4]]
    C = [b[k1], -b[k2], b[k3], -b[k3], b[k4], b[k4]]
    K = [up[k1] - lo[k1], np.full(k2.size, math.inf), np.full(k3.size, math.inf), np.full(k3.size, math.inf),
         up[k4], -lo[k4]]
    A = [k1, k2, k3, k3, k4, k4]
    S = [np.ones(k1.size), -np.ones(k2.size), np.ones(k3.size), -np.ones(k3.size), np.ones(k4.size), -np.ones(k4.size)]
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
        # secant slope of a p^2 + b p, or of a p^2 + b|p| on a kinked arc (0 is one of its
        # breakpoints: ``kink_breakpoints``, so a segment lies on one side of the kink)
        sb = np.where(kink[arc] & (z0 + z1 < 0), -b[arc], b[arc])
        C.append(a[arc] * (z0 + z1) + sb)
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
