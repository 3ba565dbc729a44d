r"""Certificates, failure classification, scales and residuals: what backends and validation share.

This module sits below both ``otmodel.backends`` and ``otmodel.validation`` (it imports only the
model, the results and the errors), so that each helper here exists once (issue 11):

* certificates of infeasibility (a cut) and unboundedness (a negative cycle), found without any LP
  solver -- by a max-flow computation and a negative-cycle search -- and verified against the
  problem data (``find_infeasible_cut``, ``verify_infeasibility_certificate``,
  ``find_unbounded_cycle``, ``verify_unbounded_certificate``);
* ``classify_failure``: a solver's "infeasible" or "unbounded" is believed only with such a
  certificate, verified here (DESIGN.md, Numerics), else the status is NUMERICAL_ERROR;
* ``problem_scale`` (the mass scale every relative residual is measured against) and
  ``primal_residual`` (the largest violation of (2b)-(2d) of Laurentin et al.);
* ``is_connected`` and ``is_forest`` of a set of node pairs (from ``model.graphs.arc_components``).

Infeasibility (Hoffman's circulation theorem, Gale's supply-demand theorem)
--------------------------------------------------------------------------
Write the constraints of ``FlowProblem`` (and of the spatial problem
(2) of Laurentin et al. (2025), see below) as a flow problem on a directed graph
`(V, A)` with net supplies `b_v`, `\sum_v b_v = 0`, and bounds
`l_a \le p_a \le u_a`, `l_a \in \mathbb R \cup \{-\infty\}`,
`u_a \in \mathbb R \cup \{+\infty\}`:

.. math::
    \sum_{a \in \delta^+(v)} p_a - \sum_{a \in \delta^-(v)} p_a = b_v \quad \forall v \in V, \qquad
    l \le p \le u.

For every node set `U \subseteq V`, summing the conservation rows over `U` gives
`b(U) = p(\delta^+(U)) - p(\delta^-(U)) \le u(\delta^+(U)) - l(\delta^-(U))`. Hoffman's
theorem (Gale's theorem for supplies and demands) states the converse: the constraints are
feasible **if and only if**

.. math::
    b(U) \;\le\; \sum_{a \in \delta^+(U)} u_a - \sum_{a \in \delta^-(U)} l_a
    \qquad \text{for every } U \subseteq V.

A violating `U` is the certificate (direction ``"out"``: too much net supply for what can
leave); its complement `W = V \setminus U` violates the same inequality read the other way,
`-b(W) > \sum_{\delta^-(W)} u - \sum_{\delta^+(W)} l` (direction ``"in"``: too much net
demand for what can enter). Such a set is found by one max-flow computation: substitute
`p = l + x` (or `p = u - y` where `l = -\infty`), which leaves capacities
`u - l \ge 0` and shifted supplies `b'`; join a super source to every node with
`b'_v > 0` (capacity `b'_v`) and every node with `b'_v < 0` to a super sink
(capacity `-b'_v`). The constraints are feasible iff the maximum flow saturates the source
arcs; otherwise the source side of a minimum cut, less the source, is a violating `U`.

Spatial problems. In (2) the plan `\pi_{ki} \ge 0` with `\sum_i \pi_{ki} = \mu_k` is a
flow from endpoint `i` to demand point `k` (supply `-\mu_k`) on an arc of bounds
`[0, +\infty)` wherever `c(x_k, i) < \infty`. Points with the same set of finite-cost
endpoints are interchangeable in every cut, so they are merged into one *demand group* of their
total mass, named ``demand[I1,I3]`` after its endpoints; the max-flow graph then has one node per
group (a handful in practice), never one per point.

Unboundedness
-------------
With convex costs `a p^2 + b p`, `a \ge 0`, a feasible problem is unbounded below iff
it has a recession direction of negative cost: a circulation `d` (`E d = 0`; the plan
of a spatial problem is bounded, so its part of `d` is 0) with `d_a \ge 0` unless
`l_a = -\infty`, `d_a \le 0` unless `u_a = +\infty`, `d_a = 0` where
`a_a > 0`, and `\sum_a b_a d_a < 0`. By the conformal decomposition of circulations into
cycles, such a `d` exists iff there is a directed cycle of negative cost in the graph of
*unlimited moves*: arc `(i,j)` forward at cost `b_{ij}` where `u_{ij} = +\infty`
and backward (from `j` to `i`) at cost `-b_{ij}` where `l_{ij} = -\infty`,
both only where `a_{ij} = 0`. The cycle is found by Bellman-Ford
(``networkx.find_negative_cycle``). Unboundedness presupposes feasibility: an infeasible
problem is INFEASIBLE, whatever its cycles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.model._demand_kernels import planar_kind
from otmodel.model.graphs import arc_components
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import InfeasibilityCertificate, PointStatus, Solution, Status, UnboundedCertificate

__all__ = [
    "find_infeasible_cut",
    "verify_infeasibility_certificate",
    "cut_values",
    "find_unbounded_cycle",
    "verify_unbounded_certificate",
    "demand_groups",
    "proven_failure",
    "classify_failure",
    "no_point_solution",
    "problem_scale",
    "primal_residual",
    "is_connected",
    "is_forest",
]

#: Relative tolerance with which a cut's excess must be positive to prove infeasibility.
RTOL = 1e-9

_GROUP = re.compile(r"^demand\[(.*)\]$")


# ------------------------------------------------------------------------------ aggregated graph
@dataclass(frozen=True)
class _Aggregate:
    """The constraints as one flow problem: network nodes, then one node per demand group."""

    names: list[str]
    supply: NDArray[np.float64]
    tails: NDArray[np.intp]
    heads: NDArray[np.intp]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    n_network: int


def demand_groups(problem: SpatialFlowProblem, chunk: int = 65536) -> tuple[list[tuple[int, ...]], NDArray[np.float64]]:
    """Group the positive-mass demand points by their set of finite-cost endpoints.

    Returns the groups (each a tuple of endpoint column indices, in endpoint order) and the total
    mass of each group. The cost matrix is read in row chunks (no dense ``N x |S|`` array).
    """
    mass = problem.demand.mass
    n = problem.n_points
    if planar_kind(problem.assignment_cost) >= 0:
        # a planar cost is finite at every pair (construction rejects an overflow): one group, no pass
        keep = mass > 0
        return ([tuple(range(problem.n_endpoints))], np.array([float(mass[keep].sum())])) if keep.any() else ([], np.zeros(0))
    index: dict[bytes, int] = {}
    groups: list[tuple[int, ...]] = []
    totals: list[float] = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = mass[start:stop]
        keep = m > 0
        if not keep.any():
            continue
        finite = np.isfinite(problem.cost_block(start, stop)[keep])
        packed = np.packbits(finite, axis=1)
        uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
        sums = np.bincount(inverse.reshape(-1), weights=m[keep], minlength=uniq.shape[0])
        for row, fin, tot in zip(uniq, _unpack(uniq, finite.shape[1]), sums, strict=True):
            key = row.tobytes()
            if key not in index:
                index[key] = len(groups)
                groups.append(tuple(int(c) for c in np.flatnonzero(fin)))
                totals.append(0.0)
            totals[index[key]] += float(tot)
    return groups, np.asarray(totals, dtype=float)


def _unpack(packed: NDArray[np.uint8], width: int) -> NDArray[np.bool_]:
    return np.unpackbits(packed, axis=1, count=width).astype(bool)


def _group_name(problem: SpatialFlowProblem, group: tuple[int, ...]) -> str:
    return "demand[" + ",".join(problem.endpoint_names[c] for c in group) + "]"


def _aggregate(problem: FlowProblem) -> _Aggregate:
    names = list(problem.node_names)
    supply = np.asarray(problem.supply, dtype=float)
    tails = np.asarray(problem.tails, dtype=np.intp)
    heads = np.asarray(problem.heads, dtype=np.intp)
    lower = np.asarray(problem.lower, dtype=float)
    upper = np.asarray(problem.upper, dtype=float)
    n = len(names)
    if isinstance(problem, SpatialFlowProblem):
        groups, totals = demand_groups(problem)
        ends = np.asarray(problem.endpoints, dtype=np.intp)
        g_tails: list[int] = []
        g_heads: list[int] = []
        for g, cols in enumerate(groups):
            names.append(_group_name(problem, cols))
            g_tails.extend(int(ends[c]) for c in cols)
            g_heads.extend([n + g] * len(cols))
        k = len(g_tails)
        supply = np.concatenate([supply, -totals])
        tails = np.concatenate([tails, np.asarray(g_tails, dtype=np.intp)])
        heads = np.concatenate([heads, np.asarray(g_heads, dtype=np.intp)])
        lower = np.concatenate([lower, np.zeros(k)])
        upper = np.concatenate([upper, np.full(k, math.inf)])
    return _Aggregate(names, supply, tails, heads, lower, upper, n)


def _cut(agg: _Aggregate, in_u: NDArray[np.bool_], direction: str) -> tuple[float, float, float]:
    """(net supply or demand, cut capacity, magnitude of the terms summed) of node set ``in_u``."""
    out_arcs = in_u[agg.tails] & ~in_u[agg.heads]
    in_arcs = ~in_u[agg.tails] & in_u[agg.heads]
    if direction == "out":
        net = float(agg.supply[in_u].sum())
        terms = np.concatenate([agg.upper[out_arcs], -agg.lower[in_arcs]])
    elif direction == "in":
        net = -float(agg.supply[in_u].sum())
        terms = np.concatenate([agg.upper[in_arcs], -agg.lower[out_arcs]])
    else:
        raise ValueError(f"certificate direction must be 'out' or 'in', got {direction!r}")
    # a +inf term makes the capacity infinite; -inf cannot occur (upper > -inf, lower < +inf)
    cap = float(terms.sum()) if terms.size else 0.0
    finite = terms[np.isfinite(terms)]
    mag = float(np.abs(agg.supply[in_u]).sum() + np.abs(finite).sum())
    return net, cap, mag


def problem_scale(problem: FlowProblem) -> float:
    r"""The mass scale of ``problem``: `\max(1, \sum_i |s_i|, \mu(\mathcal X))`.

    Residuals of conservation and certificate excesses are measured relative to it (the total mass
    moved is what a residual of a balance row can be compared with).
    """
    total = float(problem.demand.total) if isinstance(problem, SpatialFlowProblem) else 0.0
    return max(1.0, float(np.abs(problem.supply).sum()), total)


# ------------------------------------------------------------------------------ infeasibility
def _maximum_flow(g: Any, s: int, t: int) -> tuple[float, dict[Any, dict[Any, float]]]:
    """networkx's maximum flow; Edmonds-Karp when preflow-push trips on float capacities.

    Preflow-push (networkx's default) raised ``KeyError`` from its global relabelling on a graph with
    capacities of 1e-20 next to O(1) ones (found by the fuzz probe of issue 10); augmenting paths
    have no such state. It also raised ``ValueError`` ("min() arg is an empty sequence") on a random
    float network that hypothesis found (the network backend's equality property test).
    """
    import networkx as nx
    from networkx.algorithms.flow import edmonds_karp

    try:
        return nx.maximum_flow(g, s, t)  # type: ignore[no-any-return]
    except (KeyError, IndexError, ValueError, nx.NetworkXError):
        return nx.maximum_flow(g, s, t, flow_func=edmonds_karp)  # type: ignore[no-any-return]


def _minimum_cut(g: Any, s: int, t: int) -> Any:
    """networkx's minimum cut, with the same fallback as ``_maximum_flow``."""
    import networkx as nx
    from networkx.algorithms.flow import edmonds_karp

    try:
        return nx.minimum_cut(g, s, t)
    except (KeyError, IndexError, ValueError, nx.NetworkXError):
        return nx.minimum_cut(g, s, t, flow_func=edmonds_karp)


def _feasible_by_lp(agg: _Aggregate, allowed: float) -> bool:
    """``otmodel.certificates_lp.feasible_by_lp`` on the aggregated constraints."""
    from otmodel.certificates_lp import feasible_by_lp

    return feasible_by_lp(len(agg.names), agg.supply, agg.tails, agg.heads, agg.lower, agg.upper, allowed)


def find_infeasible_cut(problem: FlowProblem, rtol: float = RTOL) -> InfeasibilityCertificate | None:
    r"""A node set whose net supply exceeds what its cut can carry, or ``None`` if feasible.

    Decides feasibility of the constraints of ``problem`` -- flow conservation with supplies, the
    bounds `l \le p \le u` (negative or infinite bounds allowed) and, for a
    ``SpatialFlowProblem``, the assignment of every demand point's mass to endpoints of finite
    cost (eq. (2b)-(2d) of Laurentin et al.) -- by one maximum-flow computation (Hoffman's
    circulation theorem, see the module docstring):

    .. math:: \exists\, p:\; E p = b,\; l \le p \le u
        \iff b(U) \le u(\delta^+(U)) - l(\delta^-(U)) \;\; \forall U.

    Returns a certificate only when the violation exceeds ``rtol * scale`` (scale: the larger of 1,
    `\sum |s_i|`, `\mu(X)` and the magnitude of the terms summed), so that every
    certificate returned passes ``verify_infeasibility_certificate``. Of a violating set and its
    complement, the smaller is reported (``direction`` ``"out"`` or ``"in"``). Demand points appear
    as groups named ``demand[I1,I3]`` (the endpoints that can serve them).
    """
    import networkx as nx

    agg = _aggregate(problem)
    if _feasible_by_lp(agg, rtol * problem_scale(problem)):
        return None
    nv = len(agg.names)
    b = agg.supply.copy()
    caps: dict[tuple[int, int], float] = {}

    def add(i: int, j: int, cap: float) -> None:
        caps[(i, j)] = caps.get((i, j), 0.0) + cap

    for t, h, lo, up in zip(
        agg.tails.tolist(), agg.heads.tolist(), agg.lower.tolist(), agg.upper.tolist(), strict=True
    ):
        if t == h:
            continue  # a self-loop crosses no cut: its flow (any value in [lo, up]) leaves b alone
        if math.isfinite(lo):  # p = lo + x, 0 <= x <= up - lo
            b[t] -= lo
            b[h] += lo
            add(t, h, up - lo)
        elif math.isfinite(up):  # p = up - y, y >= 0: y flows h -> t without limit
            b[t] -= up
            b[h] += up
            add(h, t, math.inf)
        else:  # free arc: both directions without limit
            add(t, h, math.inf)
            add(h, t, math.inf)
    scale = problem_scale(problem)
    source, sink = nv, nv + 1
    g = nx.DiGraph()
    g.add_nodes_from(range(nv + 2))
    for (i, j), cap in caps.items():
        if math.isinf(cap):
            g.add_edge(i, j)  # no capacity attribute: unlimited (networkx convention)
        elif cap > 0:
            g.add_edge(i, j, capacity=cap)
    for v in range(nv):
        if b[v] > 0:
            g.add_edge(source, v, capacity=float(b[v]))
        elif b[v] < 0:
            g.add_edge(v, sink, capacity=float(-b[v]))
    need = float(b[b > 0].sum())
    if need <= rtol * scale:  # x = 0 is feasible
        return None
    value, flow = _maximum_flow(g, source, sink)
    if need - value <= rtol * scale:
        return None
    # source side of a minimum cut: nodes reachable in the residual graph (with a small tolerance,
    # since float flows may leave a saturated arc a hair below its capacity)
    eps = 1e-12 * max(scale, need)
    seen = np.zeros(nv + 2, dtype=bool)
    seen[source] = True
    stack = [source]
    while stack:
        u = stack.pop()
        for v, data in g.succ[u].items():
            if not seen[v] and data.get("capacity", math.inf) - flow[u][v] > eps:
                seen[v] = True
                stack.append(v)
        for v in g.pred[u]:
            if not seen[v] and flow[v][u] > eps:
                seen[v] = True
                stack.append(v)
    cert = _best_cut(problem, agg, seen[:nv], rtol)
    if cert is None:  # fall back to networkx's own partition
        _, (side, _) = _minimum_cut(g, source, sink)
        mask = np.zeros(nv, dtype=bool)
        mask[[v for v in side if v < nv]] = True
        cert = _best_cut(problem, agg, mask, rtol)
    return cert


def _best_cut(
    problem: FlowProblem, agg: _Aggregate, in_u: NDArray[np.bool_], rtol: float
) -> InfeasibilityCertificate | None:
    """Certificate from ``in_u`` or its complement, whichever violates and is smaller."""
    scale = problem_scale(problem)
    found = []
    for mask, direction in ((in_u, "out"), (~in_u, "in")):
        if not mask.any():
            continue
        net, cap, mag = _cut(agg, mask, direction)
        if net - cap > rtol * max(scale, mag):
            nodes = tuple(agg.names[v] for v in np.flatnonzero(mask))
            found.append(InfeasibilityCertificate(nodes, net, cap, direction))
    if not found:
        return None
    return min(found, key=lambda c: len(c.nodes))


def cut_values(problem: FlowProblem, nodes: tuple[str, ...] | list[str], direction: str = "out") -> tuple[float, float]:
    """Recompute ``(net supply, cut capacity)`` of a node set from the problem data.

    For ``direction="out"``: `b(U)` and `\\sum_{\\delta^+(U)} u - \\sum_{\\delta^-(U)} l`;
    for ``"in"``: `-b(U)` and `\\sum_{\\delta^-(U)} u - \\sum_{\\delta^+(U)} l`. Names
    are network node names or demand groups ``demand[I1,I3]``. Raises ``KeyError`` for a name that
    is neither.
    """
    agg = _aggregate(problem)
    net, cap, _ = _cut(agg, _mask(problem, agg, nodes), direction)
    return net, cap


def _mask(problem: FlowProblem, agg: _Aggregate, nodes: tuple[str, ...] | list[str]) -> NDArray[np.bool_]:
    index = {name: k for k, name in enumerate(agg.names[: agg.n_network])}
    groups = {name: k for k, name in enumerate(agg.names) if k >= agg.n_network}
    mask = np.zeros(len(agg.names), dtype=bool)
    for name in nodes:
        if name in index:
            mask[index[name]] = True
        elif name in groups:
            mask[groups[name]] = True
        elif isinstance(problem, SpatialFlowProblem) and _GROUP.match(name):
            # a well-formed group that no positive-mass point belongs to: an empty node, no effect
            ends = [e for e in _GROUP.match(name).group(1).split(",") if e]  # type: ignore[union-attr]
            if not all(e in problem.endpoint_names for e in ends):
                raise KeyError(f"{name!r} names an endpoint that does not exist")
        else:
            raise KeyError(f"{name!r} is neither a node nor a demand group of the problem")
    return mask


def verify_infeasibility_certificate(problem: FlowProblem, cert: InfeasibilityCertificate, rtol: float = RTOL) -> bool:
    r"""Check from the problem data alone that ``cert`` proves infeasibility.

    Recomputes the net supply of the node set `U` and its cut capacity (for ``direction``
    ``"out"``: `b(U) > \sum_{\delta^+(U)} u - \sum_{\delta^-(U)} l`; for ``"in"``:
    `-b(U) > \sum_{\delta^-(U)} u - \sum_{\delta^+(U)} l`) and requires the excess to exceed
    ``rtol`` times the scale of the data. The numbers stored in the certificate are not trusted.
    Returns ``False`` for an unknown node name or direction.
    """
    if not isinstance(cert, InfeasibilityCertificate) or cert.direction not in ("out", "in"):
        return False
    agg = _aggregate(problem)
    try:
        mask = _mask(problem, agg, tuple(cert.nodes))
    except KeyError:
        return False
    if not mask.any():
        return False
    net, cap, mag = _cut(agg, mask, cert.direction)
    return bool(net - cap > rtol * max(problem_scale(problem), mag))


# ------------------------------------------------------------------------------ unboundedness
def _unlimited_moves(problem: FlowProblem) -> list[tuple[int, int, float, int, int]]:
    """(from, to, unit cost, arc index, direction) of every move usable without limit."""
    a, b = problem.costs.a, problem.costs.b
    back = _backward_cost(problem)
    moves = []
    for k in range(problem.n_arcs):
        if a[k] != 0:
            continue
        t, h = int(problem.tails[k]), int(problem.heads[k])
        if problem.upper[k] == math.inf:
            moves.append((t, h, float(b[k]), k, +1))
        if problem.lower[k] == -math.inf:
            moves.append((h, t, float(back[k]), k, -1))
    return moves


def _backward_cost(problem: FlowProblem) -> NDArray[np.float64]:
    """Per arc: the cost per unit of pushing flow against its direction far enough: ``-b``, or
    ``+b`` on a two-way arc charged ``b |p|`` (``ArcCosts.kink``: backward flow costs too)."""
    b = np.asarray(problem.costs.b, dtype=float)
    kink = problem.costs.kink
    return -b if kink is None else np.where(kink, b, -b)


def find_unbounded_cycle(problem: FlowProblem) -> UnboundedCertificate | None:
    r"""A negative-cost cycle along which flow can grow without bound, or ``None``.

    Searches the graph of unlimited moves -- arc `(i,j)` forward at cost `b_{ij}` where
    `u_{ij} = +\infty`, backward at cost `-b_{ij}` (`+b_{ij}` on a two-way arc charged `b|p|`)
    where `l_{ij} = -\infty`, both
    only for linear arcs (`a_{ij} = 0`) -- for a cycle `C` with
    `\sum_{(i,j) \in C} \pm b_{ij} < 0` (Bellman-Ford from a virtual source joined to every
    node). If the problem is feasible, such a cycle exists iff the objective is unbounded below
    (module docstring). Feasibility is not checked here: see ``find_infeasible_cut``.
    """
    import networkx as nx

    moves = _unlimited_moves(problem)
    if not moves:
        return None
    # A self-loop is a cycle of one arc: unbounded on its own if an unlimited direction of it has
    # negative cost. Checked directly, since it needs no path search.
    loops = [mv for mv in moves if mv[0] == mv[1] and mv[2] < 0]
    if loops:
        i, _, w, k, d = min(loops, key=lambda mv: mv[2])
        return UnboundedCertificate((problem.node_names[i],), ((problem.arc_names[k], d),), w)
    moves = [mv for mv in moves if mv[0] != mv[1]]
    if not moves:
        return None
    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    for i, j, w, k, d in moves:
        if (i, j) not in best or w < best[(i, j)][0]:
            best[(i, j)] = (w, k, d)
    # a slight positive shift keeps zero-cost cycles (and an arc paired with itself) non-negative
    eps = 1e-12 * max(1.0, float(np.abs(problem.costs.b).max()) if problem.n_arcs else 1.0)
    g = nx.DiGraph()
    src = -1
    for (i, j), (w, _, _) in best.items():
        g.add_edge(i, j, weight=w + eps)
    for v in list(g.nodes):
        g.add_edge(src, v, weight=0.0)
    try:
        cycle = nx.find_negative_cycle(g, src)
    except nx.NetworkXError:
        return None
    if len(cycle) >= 2 and cycle[0] == cycle[-1]:
        cycle = cycle[:-1]
    arcs = []
    cost = 0.0
    for pos, u in enumerate(cycle):
        v = cycle[(pos + 1) % len(cycle)]
        w, k, d = best[(u, v)]
        arcs.append((problem.arc_names[k], d))
        cost += w
    if not cost < 0:
        return None
    return UnboundedCertificate(tuple(problem.node_names[v] for v in cycle), tuple(arcs), cost)


def verify_unbounded_certificate(
    problem: FlowProblem, cert: UnboundedCertificate, rtol: float = RTOL, check_feasible: bool = True
) -> bool:
    r"""Check from the problem data alone that ``cert`` proves the objective unbounded below.

    The cycle ``cert.nodes`` must close (one node: a self-loop), each listed arc must join consecutive nodes in the stated
    direction and allow unlimited flow that way (``+1``: `u = +\infty`; ``-1``:
    `l = -\infty`) at linear cost (`a = 0`), and the recomputed cost per unit,
    `\sum \pm b`, must be below `-\mathrm{rtol} \cdot \max(1, \sum |b|)`. With
    ``check_feasible`` (default) the problem must also be feasible (``find_infeasible_cut``
    finds no cut): an infeasible problem is not unbounded. Parallel arcs sharing a name are
    resolved to the cheapest one that qualifies.
    """
    if not isinstance(cert, UnboundedCertificate):
        return False
    nodes = list(cert.nodes)
    # one node is a self-loop (its arc's tail and head are that node); two or more, a cycle
    if len(nodes) < 1 or len(cert.arcs) != len(nodes) or len(set(nodes)) != len(nodes):
        return False
    try:
        idx = [problem.node_index(v) for v in nodes]
    except KeyError:
        return False
    by_name: dict[str, list[int]] = {}
    for k, name in enumerate(problem.arc_names):
        by_name.setdefault(name, []).append(k)
    a, b = problem.costs.a, problem.costs.b
    back = _backward_cost(problem)
    total = 0.0
    used: list[float] = []
    for pos, (name, d) in enumerate(cert.arcs):
        u, v = idx[pos], idx[(pos + 1) % len(idx)]
        best = math.inf
        for k in by_name.get(name, []):
            if a[k] != 0:
                continue
            t, h = int(problem.tails[k]), int(problem.heads[k])
            if d == 1 and (t, h) == (u, v) and problem.upper[k] == math.inf:
                best = min(best, float(b[k]))
            elif d == -1 and (t, h) == (v, u) and problem.lower[k] == -math.inf:
                best = min(best, float(back[k]))
        if not math.isfinite(best):
            return False
        used.append(best)
        total += best
    if not total < -rtol * max(1.0, float(np.abs(used).sum())):
        return False
    if check_feasible and find_infeasible_cut(problem) is not None:
        return False
    return True


# ------------------------------------------------------------------------------ failure classification
def proven_failure(
    problem: FlowProblem, claim: str = "infeasible_or_unbounded"
) -> InfeasibilityCertificate | UnboundedCertificate | None:
    """A verified certificate behind a solver's ``claim``, or ``None`` when none is found.

    ``claim`` is "infeasible", "unbounded" or "infeasible_or_unbounded". A cut is looked for first
    (an infeasible problem is INFEASIBLE whatever its cycles); a negative cycle only when the claim
    allows unboundedness. Both are found from the problem data and verified here, independently of
    the solver that made the claim.
    """
    if claim not in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        raise ValueError(f"claim must be 'infeasible', 'unbounded' or 'infeasible_or_unbounded', got {claim!r}")
    cut = find_infeasible_cut(problem)
    if cut is not None and verify_infeasibility_certificate(problem, cut):
        return cut
    if claim != "infeasible":
        cyc = find_unbounded_cycle(problem)
        if cyc is not None and verify_unbounded_certificate(problem, cyc):
            return cyc
    return None


def no_point_solution(
    problem: FlowProblem,
    status: Status,
    point_status: PointStatus,
    backend: str,
    solver: str,
    timings: dict[str, float],
    message: str = "",
    certificate: Any = None,
    info: dict[str, Any] | None = None,
) -> Solution:
    """A Solution that carries no primal point (infeasible, unbounded, failed): NaN flows and potentials."""
    return Solution(
        problem=problem,
        status=status,
        point_status=point_status,
        objective=float("nan"),
        flows=np.full(problem.n_arcs, np.nan),
        potentials=np.full(problem.n_nodes, np.nan),
        backend=backend,
        solver=solver,
        timings=timings,
        certificate=certificate,
        message=message,
        info=info or {},
    )


def classify_failure(
    problem: FlowProblem, claim: str, backend: str, solver: str, timings: dict[str, float], message: str
) -> Solution:
    """Turn a solver's claim of infeasibility/unboundedness into a status otmodel verified itself.

    ``claim`` is "infeasible", "unbounded" or "infeasible_or_unbounded". The claim is believed only
    with a certificate found and checked here (``proven_failure``); otherwise the status is
    NUMERICAL_ERROR (DESIGN.md, Numerics).
    """
    cert = proven_failure(problem, claim)
    if cert is not None:
        status = Status.INFEASIBLE if isinstance(cert, InfeasibilityCertificate) else Status.UNBOUNDED
        return no_point_solution(problem, status, PointStatus.CERTIFICATE, backend, solver, timings, message, cert)
    return no_point_solution(
        problem,
        Status.NUMERICAL_ERROR,
        PointStatus.NO_POINT,
        backend,
        solver,
        timings,
        f"{message} (solver claimed {claim.replace('_', ' ')}, but otmodel found no certificate)",
    )


# ------------------------------------------------------------------------------ residuals
def primal_residual(problem: FlowProblem, flows: ArrayLike, assignment: Any = None) -> float:
    r"""Largest violation of (2b)-(2d) by ``(flows, assignment)``, relative to ``problem_scale``.

    Bounds `l \le p \le u`, conservation `E p + \pi^\top 1 = s` (the plan term at the
    endpoints), marginals `\pi 1 = \mu`, `\pi \ge 0` (Laurentin et al. (2025), eq. (2));
    mass on a pair of infinite cost is an infinite violation. A spatial problem without an
    assignment, or flows of the wrong shape or not finite, are infinitely violated.

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem whose constraints are checked.
    flows : (n_arcs,) array of float
        Arc flows `p` in the problem's arc order.
    assignment : (n_points, n_endpoints) array or sparse matrix, optional
        Transport plan `\pi`, mass per point and endpoint (endpoints in the problem's endpoint
        order); needed for a spatial problem, ignored for a plain flow problem.

    Returns
    -------
    float
        `\max` of the bound, conservation, marginal and sign violations divided by
        `\max(1, \sum_i |s_i|, \mu(\mathcal X))`; 0 for a feasible point, ``inf`` for one that
        cannot be checked (wrong shape, not finite, missing plan, mass on a forbidden pair).
    """
    p = np.asarray(flows, dtype=float).reshape(-1)
    if p.shape != (problem.n_arcs,) or not np.all(np.isfinite(p)):
        return math.inf
    viol = [0.0]
    viol.append(float(np.max(np.maximum(problem.lower - p, p - problem.upper), initial=0.0)))
    r = problem.net_outflow(p) - problem.supply
    if isinstance(problem, SpatialFlowProblem):
        if assignment is None:
            return math.inf
        plan = sp.csr_matrix(assignment, dtype=float)
        if plan.shape != (problem.n_points, problem.n_endpoints):
            return math.inf
        r[np.asarray(problem.endpoints)] += np.asarray(plan.sum(axis=0)).reshape(-1)
        viol.append(float(np.max(np.abs(np.asarray(plan.sum(axis=1)).reshape(-1) - problem.demand.mass), initial=0.0)))
        viol.append(float(max(0.0, -plan.data.min(initial=0.0))))
        coo = plan.tocoo()
        nz = coo.data != 0
        if nz.any() and not np.all(np.isfinite(problem.cost_matrix()[coo.row[nz], coo.col[nz]])):
            return math.inf
    viol.append(float(np.max(np.abs(r), initial=0.0)))
    return max(viol) / problem_scale(problem)


# ------------------------------------------------------------------------------ connectivity
def _pairs(pairs: Sequence[tuple[int, int]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    a = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
    return a[:, 0], a[:, 1]


def is_connected(n: int, pairs: Sequence[tuple[int, int]]) -> bool:
    """True when the undirected graph on nodes ``0..n-1`` with edges ``pairs`` has at most one component."""
    return arc_components(*_pairs(pairs), n, strong=False)[0] <= 1


def is_forest(n: int, pairs: Sequence[tuple[int, int]]) -> bool:
    """True when the undirected multigraph on ``0..n-1`` with edges ``pairs`` has no cycle.

    A graph is a forest iff each edge joins two components, i.e. ``components = n - edges`` (a
    self-loop or a repeated pair is a cycle).
    """
    if len(pairs) >= max(n, 1):
        return False
    return arc_components(*_pairs(pairs), n, strong=False)[0] == n - len(pairs)
