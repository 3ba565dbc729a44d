r"""Ready-made instances from the source documents.

``synthetic`` is the synthetic example of Laurentin et al. (2025), section V-A: a square domain
of side 100, a demand discretized on an ``n x n`` cell-centred grid (the paper uses 200 x 200) with a
truncated Gaussian density of mean (50, 75) and standard deviation 25, two sources S1, S2 with supply
0.5 and four interconnection nodes I1..I4 (the endpoints), Euclidean assignment cost, arc costs
`d_{ij} p^2` with `d_{ij}` the length of the arc, and flow bounds [-1, 1].

The paper shows node positions and arcs only in its Fig. 1(a); the layout below is ours: the sources
sit low in the square, far from the demand peak, so that every unit of demand travels through the
network, and the interconnection nodes form a ring with a diagonal, so that routing has choices::

    I3 (25, 80) ---- I4 (75, 80)
      |       \\        |
    I1 (20, 45) ---- I2 (80, 45)
      |       \\        |
    S1 (15, 10)      S2 (85, 10)

Arcs: S1->I1, S1->I2, S2->I2, I1->I2, I1->I3, I2->I4, I3->I4, I1->I4.

With ``linear=True`` each link becomes two opposite arcs with flow in [0, 1] and linear cost
`d_{ij}` (the LP variant of the benchmark).

``power_network`` is the electric power network of section V-B: the same transmission network
(cost `r_{ij} p^2`, `r_{ij} = d_{ij}`), 1000 consumers at random positions with random
demands, and the shortest-path resistance through a random distribution graph as assignment cost
(``Geodesic``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from otmodel.model.costs import Linear, Quadratic
from otmodel.model.demand import Euclidean, Geodesic, Grid, Points, TruncatedGaussian
from otmodel.model.network import Network
from otmodel.model.problems import SpatialFlowProblem

__all__ = ["synthetic", "power_network", "SYNTHETIC_NODES", "SYNTHETIC_LINKS"]

#: name -> (supply, position, endpoint)
SYNTHETIC_NODES: dict[str, tuple[float, tuple[float, float], bool]] = {
    "S1": (0.5, (15.0, 10.0), False),
    "S2": (0.5, (85.0, 10.0), False),
    "I1": (0.0, (20.0, 45.0), True),
    "I2": (0.0, (80.0, 45.0), True),
    "I3": (0.0, (25.0, 80.0), True),
    "I4": (0.0, (75.0, 80.0), True),
}
SYNTHETIC_LINKS: list[tuple[str, str]] = [
    ("S1", "I1"),
    ("S1", "I2"),
    ("S2", "I2"),
    ("I1", "I2"),
    ("I1", "I3"),
    ("I2", "I4"),
    ("I3", "I4"),
    ("I1", "I4"),
]


def synthetic(n: int = 200, linear: bool = False) -> SpatialFlowProblem:
    """The synthetic instance of section V-A on an ``n x n`` grid (see the module docstring)."""
    net = Network()
    for name, (s, pos, end) in SYNTHETIC_NODES.items():
        net.add_node(name, supply=s, position=pos, endpoint=end)
    for u, v in SYNTHETIC_LINKS:
        (xu, yu), (xv, yv) = SYNTHETIC_NODES[u][1], SYNTHETIC_NODES[v][1]
        d = math.hypot(xu - xv, yu - yv)
        if linear:
            net.add_arc(u, v, Linear(d), 0.0, 1.0)
            net.add_arc(v, u, Linear(d), 0.0, 1.0)
        else:
            net.add_arc(u, v, Quadratic(d), -1.0, 1.0)
    demand = Grid.from_density(TruncatedGaussian((50.0, 75.0), 25.0), (0.0, 100.0, 0.0, 100.0), (n, n), total=1.0)
    name = f"synthetic V-A {n}x{n}" + (" (LP variant)" if linear else "")
    return SpatialFlowProblem(net, demand, Euclidean(), name=name)


def _transmission_network() -> Network:
    """The backbone of section V-A with quadratic losses ``d_ij p^2`` and bounds [-1, 1]."""
    net = Network()
    for name, (s, pos, end) in SYNTHETIC_NODES.items():
        net.add_node(name, supply=s, position=pos, endpoint=end)
    for u, v in SYNTHETIC_LINKS:
        (xu, yu), (xv, yv) = SYNTHETIC_NODES[u][1], SYNTHETIC_NODES[v][1]
        net.add_arc(u, v, Quadratic(math.hypot(xu - xv, yu - yv)), -1.0, 1.0)
    return net


def power_network(n_consumers: int = 1000, seed: int = 0, substation_links: int = 3) -> SpatialFlowProblem:
    r"""The electric power network of Laurentin et al. (2025), section V-B.

    * **Transmission network**: the nodes and links of ``synthetic`` (sources S1, S2 with supply
      0.5; substations I1..I4 are the endpoints), arc cost `r_{ij} p^2` with the resistance
      `r_{ij} = d_{ij}` (the arc's length), flow bounds [-1, 1].
    * **Consumers**: ``n_consumers`` points uniform in `[0, 100]^2`, demands uniform on
      [0, 1) normalized so that the total equals the total supply (1.0).
    * **Distribution graph** (undirected, edge weight = Euclidean length, read as the line's
      resistance): graph nodes ``0 .. n-1`` are the consumers, ``n .. n+3`` the substations
      I1..I4 at their transmission positions. Each consumer is linked to its 2 or 3 (drawn at random)
      geographically nearest consumers; each substation to its ``substation_links`` nearest
      consumers. A k-nearest-neighbour graph need not be connected: while it is not, each component
      that does not hold the first substation is joined to the rest of the graph by the shortest
      link between one of its nodes and a node outside it (so every consumer reaches every
      substation and every geodesic cost is finite). The number of links added this way is stored in
      ``problem.assignment_cost.bridges``.
    * **Assignment cost**: `c(x, i)` = shortest-path resistance from consumer `x` to
      substation `i` through the distribution graph
      (``Geodesic(graph, point_nodes=consumers, endpoint_nodes={"I1": n, ...})``), which makes every
      Laguerre cell connected along shortest paths (section V-B).

    Returns
    -------
    SpatialFlowProblem
        Its ``assignment_cost`` is the ``Geodesic`` object (graph,
        ``point_nodes``, ``endpoint_nodes``, ``path(point, endpoint)``).
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = int(n_consumers)
    if n < 4:
        raise ValueError(f"power_network needs at least 4 consumers, got {n_consumers!r}")
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 100.0, size=(n, 2))
    demand = rng.uniform(0.0, 1.0, size=n)
    net = _transmission_network()
    total_supply = float(sum(v[0] for v in SYNTHETIC_NODES.values()))
    demand = demand * (total_supply / demand.sum())

    subs = [name for name, (_, _, end) in SYNTHETIC_NODES.items() if end]
    sub_xy = np.array([SYNTHETIC_NODES[name][1] for name in subs], dtype=float)
    nodes_xy = np.vstack([xy, sub_xy])
    n_graph = n + len(subs)

    tree = cKDTree(xy)
    degree = rng.integers(2, 4, size=n)  # 2 or 3 nearest neighbours per consumer
    _, nbr = tree.query(xy, k=4)  # column 0 is the point itself
    rows = np.repeat(np.arange(n), degree)
    cols = np.concatenate([nbr[k, 1 : 1 + degree[k]] for k in range(n)])
    k_sub = min(int(substation_links), n)
    _, near = tree.query(sub_xy, k=k_sub)
    near = np.asarray(near).reshape(len(subs), k_sub)
    rows = np.concatenate([rows, np.repeat(np.arange(n, n_graph), k_sub)])
    cols = np.concatenate([cols, near.ravel()])

    def adjacency(r: np.ndarray, c: np.ndarray) -> sp.csr_matrix:
        w = np.linalg.norm(nodes_xy[r] - nodes_xy[c], axis=1)
        a = sp.coo_matrix((w, (r, c)), shape=(n_graph, n_graph)).tocsr()
        return a.maximum(a.T).tocsr()  # undirected; duplicates carry the same length

    graph = adjacency(rows, cols)
    bridges = 0
    ncomp, lab = connected_components(graph, directed=False)
    while ncomp > 1:
        main = lab[n]  # the component of substation I1
        other = int(next(c for c in range(ncomp) if c != main))
        inside = np.flatnonzero(lab == other)
        outside = np.flatnonzero(lab != other)
        dist, idx = cKDTree(nodes_xy[outside]).query(nodes_xy[inside])
        k = int(np.argmin(dist))
        rows = np.append(rows, inside[k])
        cols = np.append(cols, outside[idx[k]])
        bridges += 1
        graph = adjacency(rows, cols)
        ncomp, lab = connected_components(graph, directed=False)

    cost = Geodesic(graph, point_nodes=list(range(n)), endpoint_nodes={name: n + k for k, name in enumerate(subs)})
    cost.bridges = bridges  # type: ignore[attr-defined]
    name = f"power network V-B ({n} consumers, seed {seed})"
    return SpatialFlowProblem(net, Points(xy, demand), cost, name=name)
