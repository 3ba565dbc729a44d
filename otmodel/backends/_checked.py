r"""Verification of every point an exact backend calls optimal, and the fallbacks when it fails.

``check_point`` judges a point node by node, relative to each node's own supply and throughput
(DESIGN.md, Numerics: one scale factor cannot serve supplies 1e9 and 4 in one network);
``checked_solution`` turns a solver's claim into a ``Solution`` only after that check;
``solve_checked`` retries -- unscaled, with the backend's other attempts, and finally as an exact
network flow on integer data (``network_flow_point``) -- when the check fails.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._standard import balanced_supply
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "PointCheck",
    "check_point",
    "checked_solution",
    "network_flow_point",
    "solve_checked",
    "tree_flows",
    "CHECK_RTOL",
]

#: Relative accuracy every point called OPTIMAL must meet at every node (``check_point``).
CHECK_RTOL = 1e-9


@dataclass(frozen=True)
class PointCheck:
    """The node-by-node verdict on a point (``check_point``).

    ``worst`` names the row with the largest residual relative to its own scale (a node name, or
    ``point k`` for the marginal of demand point ``k``); ``residual`` and ``scale`` are that row's
    conservation residual and scale, in problem units.
    """

    ok: bool
    worst: str
    residual: float
    scale: float
    rtol: float
    gap: float | None = None  # relative duality gap, where it was measured (linear flow problems)

    def describe(self) -> str:
        if self.gap is not None and not self.gap <= self.rtol:
            return f"feasible at every node, but its relative duality gap {self.gap:.3g} exceeds {self.rtol:g}"
        where = f"{self.worst} (residual {self.residual:.3g} against its supply/throughput {self.scale:.3g})"
        if self.ok:
            return f"conservation holds at every node within {self.rtol:g} of its own scale; worst: {where}"
        return f"conservation fails by more than {self.rtol:g} of the node's own scale at {where}"


def check_point(
    problem: FlowProblem, flows: NDArray[np.float64], assignment: Any = None, rtol: float = CHECK_RTOL
) -> PointCheck:
    r"""Verify flow conservation node by node, relative to each node's own scale.

    For node `i` the residual is `r_i = (E p)_i + \sum_k \pi_{ki} - s_i` (the last sum
    for endpoints of a spatial problem, eq. (2b)-(2c') of Laurentin et al.; `s` the compiled
    supply, ``balanced_supply``) and its scale is

    .. math:: \sigma_i = \max\bigl(|s_i|,\; \textstyle\sum_j |E_{ij}|\,|p_j| + \sum_k \pi_{ki}\bigr),

    the node's own supply or the flow through it, whichever is larger: a residual of 4 at a node of
    supply 4 fails however large the other supplies are (networkx's ``faux_infinity`` case, where a
    scale common to all nodes forgave it). Demand point `k` has residual
    `\sum_i \pi_{ki} - \mu_k` and scale `\mu_k` (eq. (2c)). The point passes when
    `|r_i| \le \mathrm{rtol}\,\sigma_i` everywhere (for every row of a spatial problem
    `\sigma_i` is at least `\max(1, \mu(X))`, the one mass scale of its demand; see
    the comment in the code). Bounds are not tested here: callers clip
    the flows into their bounds first (``checked_solution``), which moves any violation into
    the residuals. NaN anywhere fails.
    """
    p = np.asarray(flows, dtype=float)
    E = problem.incidence
    absE = abs(E)
    s = balanced_supply(problem)
    res = E @ p - s
    thr = absE @ np.abs(p)
    if isinstance(problem, SpatialFlowProblem) and assignment is not None:
        plan = sp.csr_matrix(assignment)
        cell = np.asarray(plan.sum(axis=0)).reshape(-1)
        ends = np.asarray(problem.endpoints)
        np.add.at(res, ends, cell)
        np.add.at(thr, ends, np.abs(cell))
        mu = np.asarray(problem.demand.mass, dtype=float)
        rows = np.asarray(plan.sum(axis=1)).reshape(-1)
        res = np.concatenate([res, rows - mu])
        thr = np.concatenate([thr, mu])
        s = np.concatenate([s, mu])
    scale = np.maximum(np.abs(s), thr)
    if isinstance(problem, SpatialFlowProblem):
        # Every row of a spatial problem is judged at the demand's scale mu(X): one mass scale
        # serves the whole demand (DESIGN.md, Numerics), and an interior point (Clarabel, on the
        # synthetic(50) and (100) LPs) leaves residuals of 1e-14..1e-12 mu(X), 4e-9 of the lightest
        # points' masses and more at an endpoint that serves almost nothing; judging those per row
        # sent every such answer to a 3x slower fallback. Mixed-scale supplies are a flow-problem
        # matter, judged node by node.
        scale = np.maximum(scale, max(1.0, float(problem.demand.total)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, np.abs(res) / scale, np.where(res == 0, 0.0, np.inf))
    rel = np.where(np.isnan(rel), np.inf, rel)
    if rel.size == 0:
        return PointCheck(True, "", 0.0, 0.0, rtol)
    k = int(np.argmax(rel))
    # only the worst row is named (naming every demand point cost 0.1 s at 160k points)
    n = problem.n_nodes
    name = problem.node_names[k] if k < n else f"point {k - n}"
    return PointCheck(bool(rel[k] <= rtol), name, float(abs(res[k])), float(scale[k]), rtol)


def checked_solution(
    sol: Solution, rtol: float = CHECK_RTOL, model_changed: bool = False
) -> tuple[Solution, PointCheck | None]:
    """Clip an OPTIMAL point into its bounds, recompute its objective and verify it (``check_point``).

    Returns the solution with ``info["check"]`` (the verdict in words) and the verdict; a solution
    that is not OPTIMAL or carries no point is returned as it is, with ``None``. Self-loops are set
    to their own optimum and a failing vertex's basic flows recomputed (``tree_flows``) only
    for the problem as it is: not when ``model_changed`` (a user added constraints to the model,
    which those steps do not know).
    """
    if sol.status is not Status.OPTIMAL or not sol.has_point:
        return sol, None
    problem = sol.problem
    flows = np.clip(np.asarray(sol.flows, dtype=float), problem.lower, problem.upper)
    loops = np.flatnonzero(problem.tails == problem.heads)
    if loops.size and not model_changed:
        # a self-loop's optimal flow depends on its own cost and bounds only (no row sees it):
        # its local response at zero potential difference, where that is finite; an interior
        # point leaves it wherever its barrier stopped
        own = problem.costs.subset(loops).response(
            np.zeros(loops.size), problem.lower[loops], problem.upper[loops]
        )
        flows[loops] = np.where(np.isfinite(own), own, flows[loops])
    plan = sol.assignment
    if plan is not None:
        plan = sp.csr_matrix(plan, copy=True)
        plan.data = np.maximum(plan.data, 0.0)
    info = dict(sol.info)
    network_lp = problem.is_linear and not isinstance(problem, SpatialFlowProblem) and not model_changed
    psi = np.asarray(sol.potentials, dtype=float)

    def judge(p: NDArray[np.float64]) -> PointCheck:
        v = check_point(problem, p, plan, rtol)
        if v.ok and network_lp:
            gap = _lp_gap(problem, p, psi)
            if gap is not None:
                v = dataclasses.replace(v, ok=gap <= rtol, gap=gap)
        return v

    verdict = judge(flows)
    if not verdict.ok and network_lp:
        # a vertex's flows recomputed the way network simplex does: exact where the solver's
        # round-off (or an interior point's dust) was not
        repaired = tree_flows(problem, flows)
        if repaired is not None:
            again = judge(repaired)
            if again.ok:
                flows, verdict = repaired, again
                info["repaired"] = "basic flows recomputed from the leaves of the basis forest"
    if isinstance(problem, SpatialFlowProblem):
        objective = problem.objective(flows, plan)
    else:
        objective = problem.objective(flows)
    info["check"] = verdict.describe()
    if verdict.ok and verdict.gap is not None:
        info["check"] += f"; relative duality gap {verdict.gap:.3g}"
    cell = None if plan is None else np.asarray(plan.sum(axis=0)).reshape(-1)
    return (
        dataclasses.replace(
            sol, flows=flows, assignment=plan, cell_mass=cell if cell is not None else sol.cell_mass,
            objective=float(objective), info=info,
        ),
        verdict,
    )


def _lp_gap(problem: FlowProblem, flows: NDArray[np.float64], psi: NDArray[np.float64]) -> float | None:
    r"""Relative duality gap of a linear flow problem's point: primal minus eq. (4)'s `q(\psi)`.

    `q(\psi) = \psi \cdot s + \sum_j \min_{p \in [l_j, u_j]} (c_j - \psi_{t(j)} + \psi_{h(j)}) p`
    (Laurentin et al., eq. (4) without demand), with reduced costs below `10^{-12}` of the
    largest cost read as 0 (the potentials' round-off). Relative to the larger of
    `|c \cdot p|` and `\sum_j |c_j p_j|`. ``None`` when the potentials are not all finite.
    """
    if psi.shape != (problem.n_nodes,) or not np.all(np.isfinite(psi)):
        return None
    c = np.asarray(problem.costs.b, dtype=float)
    primal = problem.costs.total(flows)  # b |p| on two-way arcs
    scale = max(abs(primal), float(np.abs(c) @ np.abs(flows)))
    slope_tol = 1e-12 * max(1.0, float(np.abs(c).max()) if c.size else 1.0)
    t = psi[problem.tails] - psi[problem.heads]
    terms = problem.costs.conjugate_term(t, problem.lower, problem.upper, slope_tol)
    dual = float(psi @ balanced_supply(problem)) + float(terms.sum())
    if not math.isfinite(dual):
        return math.inf
    gap = primal - dual
    if scale == 0.0:
        return 0.0 if abs(gap) <= 1e-300 else math.inf
    return max(0.0, gap) / scale


def tree_flows(problem: FlowProblem, flows: NDArray[np.float64]) -> NDArray[np.float64] | None:
    r"""Recompute a vertex's basic flows from the leaves of its basis forest, as network simplex does.

    A float vertex of a network LP computed by an LP solver carries round-off of the size of the
    largest flows it was computed with: with supplies 1e5 and 1e-3, an arc that should carry 1e-3
    came back as 0.0010000000038, a residual of 4e-9 relative to its node. Here the arcs strictly
    inside their bounds (the basic arcs; the others stay exactly at their bounds) must form a
    forest; its flows are then solved leaf by leaf, each from the leaf's own supply and fixed
    flows,

    .. math:: p_j = \pm\Bigl(s_v - \sum_{k \ne j} E_{vk} p_k\Bigr) \quad (v \text{ a leaf of arc } j),

    towards a root chosen as the node of largest scale (supply or throughput) of each tree, so that
    every node but the root satisfies conservation to the round-off of its own numbers and the
    round-off of the whole tree ends at its largest node. Returns ``None`` when the interior arcs
    hold a cycle (not a vertex) or the recomputed flows leave their bounds.
    """
    p = np.asarray(flows, dtype=float)
    lo, up = problem.lower, problem.upper
    s = balanced_supply(problem)
    # a flow this close to a bound is at the bound: a billionth of the smallest datum (a vertex's
    # flows are sums of data), or 1e-12 of the bound itself
    data = np.abs(np.concatenate([s, lo[np.isfinite(lo)], up[np.isfinite(up)]]))
    data = data[data > 0]
    floor = 1e-9 * float(data.min()) if data.size else math.inf  # no data: every vertex is 0
    with np.errstate(invalid="ignore"):
        at_lo = np.isfinite(lo) & (np.abs(p - lo) <= np.maximum(floor, 1e-12 * np.abs(lo)))
        at_up = np.isfinite(up) & (np.abs(p - up) <= np.maximum(floor, 1e-12 * np.abs(up)))
    loop = problem.tails == problem.heads
    basic = ~at_lo & ~at_up & ~loop
    fixed = np.where(basic, 0.0, np.where(at_lo, lo, np.where(at_up, up, p)))
    n = problem.n_nodes
    r = s - problem.incidence @ fixed  # outflow still owed by each node
    B = np.flatnonzero(basic)
    if B.size == 0:
        return fixed if np.all(np.isfinite(fixed)) else None
    t, h = problem.tails[B], problem.heads[B]
    from scipy.sparse.csgraph import connected_components

    g = sp.csr_matrix((np.ones(B.size), (t, h)), shape=(n, n))
    ncomp, label = connected_components(g, directed=False)
    nodes_with = np.zeros(n, dtype=bool)
    nodes_with[t] = nodes_with[h] = True
    if B.size != int(nodes_with.sum()) - len(np.unique(label[nodes_with])):
        return None  # the interior arcs hold a cycle: not a basis forest
    scale = np.maximum(np.abs(balanced_supply(problem)), abs(problem.incidence) @ np.abs(p))
    root = np.full(ncomp, -1)
    best = np.full(ncomp, -1.0)
    for v in np.flatnonzero(nodes_with).tolist():
        if scale[v] > best[label[v]]:
            best[label[v]], root[label[v]] = scale[v], v
    incident: list[list[int]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(zip(t.tolist(), h.tolist(), strict=True)):
        incident[a].append(k)
        incident[b].append(k)
    degree = np.array([len(x) for x in incident])
    done = np.zeros(B.size, dtype=bool)
    out = fixed.copy()
    roots = set(root[root >= 0].tolist())
    stack = [v for v in range(n) if degree[v] == 1 and v not in roots]
    rr = r.astype(float).copy()
    while stack:
        v = stack.pop()
        ks = [k for k in incident[v] if not done[k]]
        if len(ks) != 1:
            continue
        k = ks[0]
        done[k] = True
        j = int(B[k])
        if t[k] == v:
            val, other = rr[v], int(h[k])
            rr[other] += val
        else:
            val, other = -rr[v], int(t[k])
            rr[other] -= val
        rr[v] = 0.0
        out[j] = val
        degree[other] -= 1
        if degree[other] == 1 and other not in roots:
            stack.append(other)
    if not done.all():
        return None
    tol = 1e-9 * np.maximum(1.0, np.abs(out))
    if np.any(out < lo - tol) or np.any(out > up + tol):
        return None
    return np.clip(out, lo, up)


# ------------------------------------------------------------------------------ exact network flow
def _dyadic_exponent(values: NDArray[np.float64]) -> int:
    """Smallest ``E >= 0`` such that every value times ``2**E`` is an integer (values finite)."""
    e = 0
    for v in values[values != 0].tolist():
        den = v.as_integer_ratio()[1]  # a power of two
        e = max(e, den.bit_length() - 1)
    return e


def network_flow_point(problem: FlowProblem) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    r"""An exact optimal flow of a linear flow problem by OR-Tools' min-cost-flow on integer data.

    Every float is a dyadic rational, so supplies and finite bounds become integers, exactly,
    once multiplied by `2^E` (``_dyadic_exponent``, applied with ``ldexp``, so that even
    subnormal data, 5e-324, scale without overflow); OR-Tools then solves the network problem
    exactly in int64 and the flows come back, exactly, as integers times `2^{-E}`. Lower
    bounds are shifted out (`p = l + x`), an arc without lower bound is reversed
    (`p = u - y`) and a free arc split in two; an infinite capacity becomes the total of
    supplies and finite capacities, more than any acyclic flow carries. Costs are integers as they
    are when they are; otherwise they are rounded at `2^{-k}` of the largest (as fine as
    int64 allows, relative error about `10^{-12}`), so the flow is exactly feasible and
    optimal up to that rounding -- which ``checked_solution`` and the caller's objective
    tests judge. Potentials `\psi` come from shortest paths in the residual graph with the
    true costs (`\psi = -d`, Bellman-Ford), NaN if round-off leaves a negative cycle there.

    Returns ``(flows, potentials)``, or ``None`` when the problem is not a linear flow problem,
    is unbounded or infeasible, or its data do not fit in int64.
    """
    from ortools.graph.python import min_cost_flow

    if isinstance(problem, SpatialFlowProblem) or not problem.is_linear:
        return None
    s = balanced_supply(problem)
    lo, up = np.asarray(problem.lower, dtype=float), np.asarray(problem.upper, dtype=float)
    finite = np.concatenate([s, lo[np.isfinite(lo)], up[np.isfinite(up)]])
    E = _dyadic_exponent(finite)
    try:
        ints = [int(math.ldexp(v, E)) for v in finite.tolist()]
    except OverflowError:  # data spanning subnormals to O(1): no common integer scale exists
        return None
    limit = 1 << 60
    big = sum(abs(v) for v in ints) + 1
    if big >= limit:
        return None
    n = problem.n_nodes
    tails, heads = problem.tails.tolist(), problem.heads.tolist()
    cost = np.asarray(problem.costs.b, dtype=float)
    cmax = float(np.abs(cost).max()) if cost.size else 0.0
    ec = _dyadic_exponent(cost)
    # OR-Tools multiplies costs by (n + 1) internally and sums cost x flow in int64
    max_cost_int = max(2, (1 << 62) // (big * (n + 2)))
    if cmax > 0 and math.ldexp(cmax, ec) >= max_cost_int:
        ec = max(-1074, (max_cost_int.bit_length() - 2) - math.frexp(cmax)[1])
    icost = [int(round(math.ldexp(c, ec))) for c in cost.tolist()]
    supply = [int(math.ldexp(v, E)) for v in s.tolist()]
    # arcs of the integer problem: (tail, head, capacity, cost, original arc, sign, offset)
    at: list[int] = []
    ah: list[int] = []
    acap: list[int] = []
    acost: list[int] = []
    owner: list[tuple[int, int, int]] = []

    def add(t: int, h: int, cap: int, c: int, j: int, sign: int, off: int) -> None:
        at.append(t)
        ah.append(h)
        acap.append(cap)
        acost.append(c)
        owner.append((j, sign, off))

    kink = np.zeros(problem.n_arcs, dtype=bool) if problem.costs.kink is None else problem.costs.kink
    for j, (t, h) in enumerate(zip(tails, heads, strict=True)):
        lj, uj = lo[j], up[j]
        if kink[j]:
            # a two-way arc charged b|p|: a forward and a backward arc, both of cost b (ArcCosts.split)
            add(t, h, int(math.ldexp(uj, E)) if math.isfinite(uj) else big, icost[j], j, +1, 0)
            add(h, t, -int(math.ldexp(lj, E)) if math.isfinite(lj) else big, icost[j], j, -1, 0)
        elif math.isfinite(lj):
            li = int(math.ldexp(lj, E))
            supply[t] -= li
            supply[h] += li
            add(t, h, int(math.ldexp(uj, E)) - li if math.isfinite(uj) else big, icost[j], j, +1, li)
        elif math.isfinite(uj):
            ui = int(math.ldexp(uj, E))
            supply[t] -= ui
            supply[h] += ui
            add(h, t, big, -icost[j], j, -1, ui)
        else:
            add(t, h, big, icost[j], j, +1, 0)
            add(h, t, big, -icost[j], j, -1, 0)
    if any(abs(v) >= limit for v in supply):
        return None
    smcf = min_cost_flow.SimpleMinCostFlow()
    if at:
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(
            np.asarray(at, dtype=np.int64), np.asarray(ah, dtype=np.int64),
            np.asarray(acap, dtype=np.int64), np.asarray(acost, dtype=np.int64),
        )
    smcf.set_nodes_supplies(np.arange(n, dtype=np.int64), np.asarray(supply, dtype=np.int64))
    if smcf.solve() != smcf.OPTIMAL:
        return None
    xs = smcf.flows(arcs).tolist() if at else []
    if any(cap == big and x > big // 2 for cap, x in zip(acap, xs, strict=True)):
        return None  # flow on the stand-in for an infinite capacity: the problem is unbounded
    flow_int = [0] * problem.n_arcs
    for (j, sign, off), x in zip(owner, xs, strict=True):
        flow_int[j] += off + sign * int(x)  # p = l + x forward, p = u - y reversed
    flows = np.array([math.ldexp(float(v), -E) for v in flow_int], dtype=float)
    return flows, _residual_potentials(problem, flows)


def _residual_potentials(problem: FlowProblem, flows: NDArray[np.float64]) -> NDArray[np.float64]:
    """``-d``, ``d`` the shortest-path distances in the residual graph of ``flows`` (true costs)."""
    c = np.asarray(problem.costs.b, dtype=float)
    t, h = np.asarray(problem.tails), np.asarray(problem.heads)
    fwd = flows < problem.upper
    bwd = flows > problem.lower
    # slopes of the cost to the right and to the left of the flow (b|p| has its kink at 0)
    kink = problem.costs.kink
    right = c if kink is None else np.where(kink & (flows < 0), -c, c)
    left = c if kink is None else np.where(kink & (flows <= 0), -c, c)
    src = np.concatenate([t[fwd], h[bwd]])
    dst = np.concatenate([h[fwd], t[bwd]])
    w = np.concatenate([right[fwd], -left[bwd]])
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    d = np.zeros(problem.n_nodes)
    for _ in range(problem.n_nodes + 1):
        cand = d[src] + w
        new = d.copy()
        np.minimum.at(new, dst, cand)
        if np.array_equal(new, d):
            return -d
        d = new
    return np.full(problem.n_nodes, np.nan)


# ------------------------------------------------------------------------------ the verified solve
#: One way of solving: a label (said in ``info``) and a function that solves and returns a Solution.
Attempt = tuple[str, Callable[[], Solution]]


def _vertex_backend(backend: str) -> Any:
    """The first registered exact backend, other than ``backend``, that offers a simplex vertex
    (capability ``"vertex"``: a ``simplex_vertex(problem)`` method), or None. Found in the registry,
    so that this module imports no backend (no import cycle with the backends it verifies)."""
    from otmodel.backends import available, get

    for name in available():
        if name != backend and {"exact", "vertex"} <= get(name).capabilities:
            return get(name)
    return None


def _classified(problem: FlowProblem, backend: str, solver: str, message: str) -> Solution | None:
    """INFEASIBLE or UNBOUNDED with a certificate verified here, or ``None`` if neither is proven."""
    from otmodel.certificates import classify_failure

    sol = classify_failure(problem, "infeasible_or_unbounded", backend, solver, {}, message)
    return sol if sol.certificate is not None else None


def _no_variable_solution(problem: FlowProblem, backend: str) -> Solution | None:
    """The answer of a flow problem without arcs, which LP solvers call an empty model (D7).

    Without arcs the only point is ``p = ()``: optimal (objective 0, potentials 0) when every
    supply is zero, else infeasible, with the cut of a node whose supply has nowhere to go.
    """
    if isinstance(problem, SpatialFlowProblem) or problem.n_arcs:
        return None
    solver = "none (no arcs)"
    flows = np.zeros(0)
    if not np.any(balanced_supply(problem)):
        return Solution(
            problem=problem, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE, objective=0.0,
            flows=flows, potentials=np.zeros(problem.n_nodes), backend=backend, solver=solver,
            message="no arcs and no supply: the empty flow is optimal",
            info={"check": check_point(problem, flows).describe()},
        )
    return _classified(problem, backend, solver, "no arcs, but a node has non-zero supply")


def _annotated(sol: Solution, label: str, tried: list[str], seconds: float) -> Solution:
    info = dict(sol.info)
    info["attempt"] = label
    if tried:
        info["failed_attempts"] = list(tried)
    timings = dict(sol.timings)
    timings["total"] = max(float(timings.get("total", 0.0)), seconds)
    return dataclasses.replace(sol, info=info, timings=timings)


def solve_checked(
    problem: FlowProblem, attempts: Sequence[Attempt], backend: str, rtol: float = CHECK_RTOL
) -> Solution:
    """Run ``attempts`` in turn until one returns a point that passes ``check_point``.

    The rule every exact backend follows: no point is called OPTIMAL unless it satisfies flow
    conservation at every node within ``rtol`` of that node's own supply and throughput (its
    flows clipped into their bounds, its objective recomputed). An attempt whose answer fails the
    check, or that fails outright, is recorded (``info["failed_attempts"]``) and the next one runs;
    a verified INFEASIBLE or UNBOUNDED certificate, or a time or iteration limit, is returned as it
    is. After the backend's own attempts, a linear flow problem gets a HiGHS simplex vertex (for
    the backends that are not HiGHS already) and an exact network-flow solve on integer data
    (``network_flow_point``, OR-Tools), each verified the same way. When nothing
    passes, the problem's own cuts and cycles are searched (a verified certificate wins);
    otherwise the status is NUMERICAL_ERROR, with the last point (``INFEASIBLE_POINT``) and the
    node where it failed named in ``info["failing_node"]`` and the message.

    A problem without arcs never reaches a solver (HiGHS calls it an empty model): it is solved
    here (``_no_variable_solution``).
    """
    import time

    from otmodel.backends.base import no_point_solution

    t0 = time.perf_counter()
    trivial = _no_variable_solution(problem, backend)
    if trivial is not None:
        return _annotated(trivial, "no arcs", [], time.perf_counter() - t0)
    tried: list[str] = []
    last: Solution | None = None
    worst: PointCheck | None = None
    for label, run in attempts:
        sol = run()
        if sol.status is Status.OPTIMAL:
            sol, verdict = checked_solution(sol, rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(sol, label, tried, time.perf_counter() - t0)
            tried.append(f"{label}: {verdict.describe()}")
            last, worst = sol, verdict
            continue
        if sol.status in (Status.INFEASIBLE, Status.UNBOUNDED) and sol.certificate is not None:
            return _annotated(sol, label, tried, time.perf_counter() - t0)
        if sol.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT):
            return _annotated(sol, label, tried, time.perf_counter() - t0)  # the caller's limits
        tried.append(f"{label}: {sol.status.value} ({sol.message})")
        if last is None:
            last = sol
    # every attempt failed: is the problem infeasible or unbounded after all?
    solver = last.solver if last is not None else backend
    found = _classified(problem, backend, solver, "; ".join(tried))
    if found is not None:
        return _annotated(found, "certificate search", tried, time.perf_counter() - t0)
    offers = _vertex_backend(backend) if problem.is_linear and not isinstance(problem, SpatialFlowProblem) else None
    if offers is not None:
        # another backend: a simplex vertex in problem units (HiGHS's), its flows then recomputed
        # along its basis forest (checked_solution), which an interior point cannot offer
        vertex = offers.simplex_vertex(problem)
        if vertex.status is Status.OPTIMAL:
            vertex, verdict = checked_solution(dataclasses.replace(vertex, backend=backend), rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(vertex, "HiGHS simplex vertex (fallback)", tried, time.perf_counter() - t0)
            tried.append(f"HiGHS simplex vertex: {verdict.describe()}")
            worst = verdict
        else:
            tried.append(f"HiGHS simplex vertex: {vertex.status.value} ({vertex.message})")
    if problem.is_linear and not isinstance(problem, SpatialFlowProblem):
        exact = network_flow_point(problem)
        if exact is not None:
            flows, psi = exact
            sol = Solution(
                problem=problem, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE,
                objective=float(problem.objective(flows)), flows=flows, potentials=psi, backend=backend,
                solver="OR-Tools min-cost flow on integer-scaled data (fallback)",
                message="the backend's own answers failed the node-by-node check (see info)",
            )
            sol, verdict = checked_solution(sol, rtol)
            assert verdict is not None
            if verdict.ok:
                return _annotated(sol, "network flow", tried, time.perf_counter() - t0)
            tried.append(f"network flow: {verdict.describe()}")
            worst = verdict
    info: dict[str, Any] = {"failed_attempts": tried}
    if worst is not None:
        info["failing_node"] = worst.worst
        info["residual"] = worst.residual
        info["node_scale"] = worst.scale
    where = f"; worst node {worst.worst!r}" if worst is not None else ""
    message = f"no answer passed the node-by-node check{where}: " + "; ".join(tried)
    timings = {"total": time.perf_counter() - t0}
    if last is not None and last.has_point and last.status is Status.OPTIMAL:
        return dataclasses.replace(
            last, status=Status.NUMERICAL_ERROR, point_status=PointStatus.INFEASIBLE_POINT,
            message=message, info={**last.info, **info}, timings={**last.timings, **timings},
        )
    return no_point_solution(
        problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, backend, solver, timings, message, info=info
    )
