r"""Manhattan L1 relocation as one exact min-cost flow on a grid network (``relocation``'s default there).

Under the Manhattan L1 displacement a move splits along the axes, and along an axis its cost to a
whole bin `j` is the gap from the point to the bin's near edge: with `o_x` the point's offset from
the left edge of its own column `b_x`, `d_x = (w - o_x) + (j_x - b_x - 1) w` to the right (and
`o_x + (b_x - j_x - 1) w` to the left, 0 in its own column). So every cost is an *exit* from the
point's bin into a neighbouring bin (`w - o_x` and/or `h - o_y`: the point's own offsets), then
whole bin-steps of `w` or `h`. The network:

* eight *layers*, one per exit direction `(s_x, s_y) \in \{-1, 0, 1\}^2 \setminus \{0\}`, each a
  copy of the grid whose arcs step one bin (and ``EXPRESS`` bins at once, for short paths) in the
  layer's directions only, at `w` or `h` per bin, and stop into the bin's node (cost 0);
* a point has a *stay* arc into its own bin's node (the distance to its free part: 0 when it lies
  in it) and an *exit* arc into each layer, at the neighbouring bin, costing its exit gaps;
* each bin's node drains into the sink through an arc of capacity its slots.

A path from a point through a layer to bin `j` costs exactly `c_{ij}` when `j` is whole (the
directions fix the step counts), and more when it is not the best layer; so the min-cost flow is the
transportation optimum over *all* pairs, with about 9 arcs per point instead of one per pair.

Bins cut by an exclusion zone (free part a union of rectangles `F_r`): mass arriving in a
diagonal layer comes from outside the bin's column and row, so its extra distance to `F_r` is a
constant per rectangle and direction (`x_0(F_r)` minus the bin's left edge, from the left, and so
on): one stop arc per rectangle. Mass in an axis layer has its other coordinate in the bin's row
(or column), where the distance depends on the point; those points get a *direct* arc to the bin at
its exact cost instead (every point in the column or row of a cut bin).

Costs are scaled to integers for OR-Tools (about `10^{11}` per unit of length: at 100k points
the rounding moves the optimum by about `10^{-11}` relative). The flow is decomposed into one bin
per point (the layers are acyclic: tokens pushed in topological order), and prices come from the
shortest distances `d` in the residual network on the same integer costs (no negative cycle: the
flow is optimal), `\psi_j = \max(0, d_T - d_{R_j})`: on every point's path the reduced costs
vanish, so its bin attains `\min_k (c_{ik} + \psi_k)` and `D(\psi)` meets the cost up to the
rounding. The bound is then evaluated exactly over all pairs, as for every other answer.

Measured at 100k points / 64 x 64 (no zones), OR-Tools' solve on the network with unit steps only
took 15.7-18.5 s, whatever the cost scale (2^12 to 2^30 per bin width); with express arcs of 8 bins
8.8 s (4: 9.7 s, 12: 8.7 s, 4 and 16: 10.5 s, 8 and 32: 13.2 s), against 13.6-21 s for OR-Tools on
each point's 32 nearest bins (3.2M arcs, not even optimal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

import otmodel.model._relocation_kernels as K
import otmodel.model._relocation_tree as T

__all__ = ["L1Flow", "solve_l1_network", "network_start", "EXPRESS"]

#: Bins stepped at once by a layer's express arcs (besides single steps).
EXPRESS = 8

#: Largest integer path cost handed to OR-Tools (as ``relocation._INT_COST_LIMIT``).
_INT_PATH_LIMIT = 2.0e11

_DIRS = [(sx, sy) for sx in (-1, 0, 1) for sy in (-1, 0, 1) if (sx, sy) != (0, 0)]


@dataclass
class L1Flow:
    """The network's optimal placement (flat bin per point), prices `\\psi \\ge 0`, and sizes."""

    flat: NDArray[np.int64]
    psi: NDArray[np.float64]
    arcs: int
    direct: int
    build_s: float
    solve_s: float
    post_s: float


def _network(P: Any) -> tuple[NDArray[np.int64], ...]:
    """Arcs (tail, head, capacity, integer cost) of the module's network, and the cost scale."""
    mx, my = P.bins
    B, N = mx * my, P.n_points
    w, h = P.bin_width, P.bin_height
    xmin, ymin = P.bounds[0], P.bounds[2]
    sc = _INT_PATH_LIMIT / (mx * w + my * h)
    geom = K.geometry(*P.kernel_args())
    slots = np.asarray(P.slots, dtype=np.int64).reshape(-1)
    full = T.new_bounds(geom, 1)[7]
    cut = (slots > 0) & ~full
    bij = P.bin_index(P.points)
    bx, by = bij[:, 0], bij[:, 1]
    ox = P.points[:, 0] - (xmin + bx * w)
    oy = P.points[:, 1] - (ymin + by * h)
    R, Tn = N + 8 * B, N + 9 * B
    jx, jy = np.divmod(np.arange(B), my)
    allb = np.arange(B)
    tl: list[NDArray[np.int64]] = []
    hd: list[NDArray[np.int64]] = []
    cp: list[NDArray[np.int64]] = []
    cs: list[NDArray[np.int64]] = []

    def add(t: Any, hh: Any, cap: Any, cost: Any) -> None:
        t = np.asarray(t, dtype=np.int64)
        tl.append(t)
        hd.append(np.asarray(hh, dtype=np.int64))
        cp.append(np.broadcast_to(np.asarray(cap, dtype=np.int64), t.shape).copy())
        cs.append(np.broadcast_to(np.rint(np.asarray(cost, dtype=np.float64) * sc).astype(np.int64), t.shape).copy())

    own = bx * my + by
    stay = slots[own] > 0
    i_stay = np.flatnonzero(stay)
    add(i_stay, R + own[stay], 1, K.pair_costs(P.points, i_stay, own[stay], *P.kernel_args()))
    for d, (sx, sy) in enumerate(_DIRS):
        tx, ty = bx + sx, by + sy
        ok = (tx >= 0) & (tx < mx) & (ty >= 0) & (ty < my)
        ex = (w - ox if sx > 0 else ox) if sx else np.zeros(N)
        ey = (h - oy if sy > 0 else oy) if sy else np.zeros(N)
        add(np.flatnonzero(ok), N + d * B + (tx * my + ty)[ok], 1, (ex + ey)[ok])
        base = N + d * B
        for L in (1, EXPRESS):
            if sx:
                nx = jx + sx * L
                m = (nx >= 0) & (nx < mx)
                add(base + allb[m], base + (nx * my + jy)[m], N, L * w)
            if sy:
                ny = jy + sy * L
                m = (ny >= 0) & (ny < my)
                add(base + allb[m], base + (jx * my + ny)[m], N, L * h)
        wh = np.flatnonzero(full & (slots > 0))
        add(base + wh, R + wh, N, 0.0)
        if sx and sy:
            # a cut bin, reached diagonally: one stop per free rectangle, at its constant extra
            for j in np.flatnonzero(cut):
                rr = P.rects[P.rect_ptr[j]:P.rect_ptr[j + 1]]
                x0, x1 = xmin + jx[j] * w, xmin + (jx[j] + 1) * w
                y0, y1 = ymin + jy[j] * h, ymin + (jy[j] + 1) * h
                extra = (rr[:, 0] - x0 if sx > 0 else x1 - rr[:, 1]) + (rr[:, 2] - y0 if sy > 0 else y1 - rr[:, 3])
                add(np.full(len(rr), base + j), np.full(len(rr), R + j), N, np.maximum(extra, 0.0))
    # cut bins, reached along an axis: a direct arc from every point in their column or row
    ci, cj = [], []
    if cut.any():
        by_col = np.argsort(bx, kind="stable")
        col_ptr = np.searchsorted(bx[by_col], np.arange(mx + 1))
        by_row = np.argsort(by, kind="stable")
        row_ptr = np.searchsorted(by[by_row], np.arange(my + 1))
        for j in np.flatnonzero(cut):
            pts = np.union1d(by_col[col_ptr[jx[j]]:col_ptr[jx[j] + 1]], by_row[row_ptr[jy[j]]:row_ptr[jy[j] + 1]])
            pts = pts[own[pts] != j]
            ci.append(pts)
            cj.append(np.full(pts.size, j, dtype=np.int64))
    di = np.concatenate(ci) if ci else np.zeros(0, dtype=np.int64)
    dj = np.concatenate(cj) if cj else np.zeros(0, dtype=np.int64)
    add(di, R + dj, 1, K.pair_costs(P.points, di, dj, *P.kernel_args()))
    use = np.flatnonzero(slots > 0)
    add(R + use, np.full(use.size, Tn), slots[use], 0.0)
    out = []
    for parts in (tl, hd, cp, cs):  # one array at a time, each list freed as it is joined (peak memory)
        out.append(np.concatenate(parts))
        parts.clear()
    return (*out, np.array([sc]), np.array([di.size]))


@nb.njit(cache=True, nogil=True)
def _decompose(
    N: int, B: int, mx: int, my: int, tail: NDArray[np.int64], head: NDArray[np.int64], flow: NDArray[np.int64],
    order: NDArray[np.int64],
) -> NDArray[np.int64]:
    """One bin per point from the flow: each point's token enters a layer (or a bin) by its arc with
    flow, then moves through the layer node by node in topological order (``order``: the 8 layers'
    bins, each sorted along its directions), as many tokens along each arc as its flow."""
    R = N + 8 * B
    V = N + 9 * B + 1
    flat = np.full(N, -1, dtype=np.int64)
    first = np.full(V, -1, dtype=np.int64)  # tokens waiting at a node: a linked list of points
    nxt = np.full(N, -1, dtype=np.int64)
    # arcs leaving layer nodes, grouped by tail
    cnt = np.zeros(V + 1, dtype=np.int64)
    for a in range(tail.shape[0]):
        u = tail[a]
        if u >= N and u < R and flow[a] > 0:
            cnt[u + 1] += 1
    for u in range(V):
        cnt[u + 1] += cnt[u]
    arcs = np.empty(cnt[V], dtype=np.int64)
    fill = cnt[:V].copy()
    for a in range(tail.shape[0]):
        u = tail[a]
        if u < N:
            if flow[a] > 0:
                v = head[a]
                if v >= R:
                    flat[u] = v - R
                else:
                    nxt[u] = first[v]
                    first[v] = u
        elif u < R and flow[a] > 0:
            arcs[fill[u]] = a
            fill[u] += 1
    for q in range(order.shape[0]):
        u = order[q]
        for e in range(cnt[u], cnt[u + 1]):
            a = arcs[e]
            v = head[a]
            for _ in range(flow[a]):
                i = first[u]
                first[u] = nxt[i]
                if v >= R:
                    flat[i] = v - R
                else:
                    nxt[i] = first[v]
                    first[v] = i
    return flat


def _residual_distances(
    V: int, tail: NDArray[np.int64], head: NDArray[np.int64], cap: NDArray[np.int64], cost: NDArray[np.int64],
    flow: NDArray[np.int64],
) -> tuple[NDArray[np.int64], bool]:
    """Shortest distances from a virtual root (0 to every node) in the residual network, on the integer
    costs (the ``network`` backend's ``spfa``); False on a negative cycle."""
    from otmodel.backends._network_kernels import spfa

    fw = flow < cap
    bw = flow > 0
    src = np.concatenate([tail[fw], head[bw]])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=V), out=indptr[1:])
    del src
    dst = np.concatenate([head[fw], tail[bw]])[order]
    wgt = np.concatenate([cost[fw], -cost[bw]])[order]
    del order, fw, bw
    d, ok = spfa(V, indptr, dst, wgt)
    return d, bool(ok)


def solve_l1_network(P: Any) -> L1Flow:
    """The exact Manhattan L1 placement of ``P`` and its prices, by one min-cost flow (module docstring)."""
    import time

    from ortools.graph.python import min_cost_flow

    from otmodel.errors import SolverError

    t0 = time.perf_counter()
    mx, my = P.bins
    B, N = mx * my, P.n_points
    tail, head, cap, cost, sc_a, nd_a = _network(P)
    V = N + 9 * B + 1
    f = min_cost_flow.SimpleMinCostFlow()
    f.add_arcs_with_capacity_and_unit_cost(tail, head, cap, cost)
    # OR-Tools keeps its own copy (about 120 bytes per arc): ours is dropped during the solve and
    # built again after it, the same arcs in the same order (peak memory at 1M points)
    del tail, head, cap, cost
    sup = np.zeros(V, dtype=np.int64)
    sup[:N] = 1
    sup[V - 1] = -N
    f.set_nodes_supplies(np.arange(V), sup)
    t1 = time.perf_counter()
    st = f.solve()
    t2 = time.perf_counter()
    if st != f.OPTIMAL:
        raise SolverError(f"relocation: OR-Tools min-cost flow on the Manhattan L1 network ended with status {st}")
    flow = np.asarray(f.flows(np.arange(f.num_arcs())), dtype=np.int64)
    del f
    tail, head, cap, cost, _, _ = _network(P)
    jx, jy = np.divmod(np.arange(B), my)
    order = np.concatenate([N + d * B + np.lexsort((sy * jy, sx * jx)) for d, (sx, sy) in enumerate(_DIRS)])
    flat = _decompose(N, B, mx, my, tail, head, flow, order.astype(np.int64))
    if (flat < 0).any():
        raise SolverError("relocation: the Manhattan L1 network's flow did not decompose into one bin per point")
    d, ok = _residual_distances(V, tail, head, cap, cost, flow)
    if not ok:
        raise SolverError("relocation: no prices from the Manhattan L1 network's flow (a negative residual cycle)")
    psi = np.maximum(0, d[V - 1] - d[N + 8 * B: N + 9 * B]).astype(np.float64) / float(sc_a[0])
    psi[np.asarray(P.slots).reshape(-1) == 0] = 0.0
    return L1Flow(flat, psi, int(tail.size), int(nd_a[0]), t1 - t0, t2 - t1, time.perf_counter() - t2)


def network_start(P: Any, timer: Any, log: Callable[..., Any]) -> Any:
    """The network's placement and prices as the auction's result type (``relocation``'s first stage),
    with the exact bound `D(\\psi)` over all pairs."""
    import math

    from otmodel.backends._relocation_auction import AuctionResult

    with timer("network"):
        net = solve_l1_network(P)
    with timer("pricing"):
        primal = P.objective(net.flat) / P.mass
        best, _ = T.topk_bins(P.points, None, net.psi, P.slots, 1, *P.kernel_args())
        dual = float(np.sum(best[:, 0])) - float(net.psi @ np.asarray(P.slots).reshape(-1))  # D(psi) / mass
    log(level=P.n_points, round=0, primal=primal, dual=dual, gap=(primal - dual) / max(abs(primal), 1e-300),
        columns=net.arcs)
    return AuctionResult(net.flat, primal, net.psi, dual, math.nan, 0)
