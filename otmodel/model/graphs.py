r"""Graph families for optimal transport on directed graphs (Mokhtari et al., section 4).

Every function returns a ``networkx.DiGraph`` whose nodes are the integers ``1..n`` (the paper
numbers its agents from 1) and whose arcs carry no attributes; costs and capacities are given to
``GraphTransportProblem``. Section 4 states that "the directed graph
G is assumed to be bidirectional": every family below is bidirectional (both ``(i, j)`` and
``(j, i)``) by default, so it is strongly connected whenever the underlying undirected graph is
connected, as Theorem 3.3 requires. ``ring`` can also be a one-way cycle, and
``random_strongly_connected`` draws genuinely directed graphs.

Families (the complete, star, ring and line graphs of section 4.1, after Lewis [30, section 2.5]):

* ``complete`` -- every ordered pair, `|\mathcal A| = n(n-1)`;
* ``star`` -- node 1 is the hub, `|\mathcal A| = 2(n-1)`;
* ``ring`` -- cycle `1, 2, \dots, n, 1`, `|\mathcal A| = 2n` (``n`` one way);
* ``line`` -- path `1, \dots, n`, `|\mathcal A| = 2(n-1)`;
* ``complete_bipartite`` -- sources ``1..p``, sinks ``p+1..p+q``: section 4.2;
* ``random_strongly_connected`` -- a random Hamiltonian cycle plus random arcs (seeded);
* ``six_agents`` -- the graph of Fig. 3 (section 4.3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError

__all__ = [
    "complete",
    "star",
    "ring",
    "line",
    "complete_bipartite",
    "random_strongly_connected",
    "six_agents",
    "FAMILIES",
    "arc_components",
    "is_strongly_connected",
]


def _digraph(n: int, edges: Any, bidirectional: bool) -> Any:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(1, n + 1))
    for u, v in edges:
        g.add_edge(int(u), int(v))
        if bidirectional:
            g.add_edge(int(v), int(u))
    return g


def _size(n: int, least: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < least:
        raise InvalidDataError(f"{what}: n = {n!r} must be an integer >= {least}")
    return int(n)


def complete(n: int) -> Any:
    """Complete digraph on ``1..n``: every ordered pair ``(i, j)``, ``i != j``."""
    n = _size(n, 2, "complete graph")
    return _digraph(n, [(i, j) for i in range(1, n + 1) for j in range(i + 1, n + 1)], True)


def star(n: int) -> Any:
    """Star on ``1..n`` with hub 1, bidirectional: arcs ``(1, j)`` and ``(j, 1)``."""
    n = _size(n, 2, "star graph")
    return _digraph(n, [(1, j) for j in range(2, n + 1)], True)


def ring(n: int, bidirectional: bool = True) -> Any:
    """Cycle ``1 -> 2 -> ... -> n -> 1``; with ``bidirectional`` (default) also the reverse arcs."""
    n = _size(n, 3, "ring graph")
    return _digraph(n, [(i, i % n + 1) for i in range(1, n + 1)], bidirectional)


def line(n: int) -> Any:
    """Path ``1 - 2 - ... - n``, bidirectional (a one-way path is not strongly connected)."""
    n = _size(n, 2, "line graph")
    return _digraph(n, [(i, i + 1) for i in range(1, n)], True)


def complete_bipartite(p: int, q: int, bidirectional: bool = True) -> Any:
    """Sources ``1..p`` joined to sinks ``p+1..p+q`` (section 4.2); bidirectional by default.

    Without ``bidirectional`` the graph (sources -> sinks only) is not strongly connected: the
    classical discrete OT problem, solvable by the exact backends but not by the ADMM backend.
    """
    p = _size(p, 1, "complete bipartite graph (sources)")
    q = _size(q, 1, "complete bipartite graph (sinks)")
    return _digraph(p + q, [(i, p + j) for i in range(1, p + 1) for j in range(1, q + 1)], bidirectional)


def random_strongly_connected(n: int, mean_degree: float = 4.0, seed: Any = None) -> Any:
    r"""A random strongly connected digraph on ``1..n`` with about ``mean_degree * n`` arcs.

    A Hamiltonian cycle through a random permutation guarantees strong connectivity; the other
    arcs are drawn uniformly among the ordered pairs not yet used, without parallel arcs or loops,
    until `|\mathcal A| = \min(\text{round}(\text{mean\_degree}\cdot n), n(n-1))`.
    ``mean_degree`` is the mean *out*-degree `|\mathcal A| / |V|` (equal to the mean
    in-degree). Same ``seed``, same graph.
    """
    n = _size(n, 2, "random strongly connected graph")
    if not (np.isfinite(mean_degree) and mean_degree >= 1):
        raise InvalidDataError(f"random strongly connected graph: mean_degree = {mean_degree!r} must be >= 1")
    rng = np.random.default_rng(seed)
    target = min(int(round(mean_degree * n)), n * (n - 1))
    perm = rng.permutation(n)
    tails = perm
    heads = np.roll(perm, -1)
    codes = np.unique(tails * n + heads)
    while codes.size < target:
        need = target - codes.size
        t = rng.integers(0, n, size=2 * need + 16)
        h = rng.integers(0, n, size=2 * need + 16)
        keep = t != h
        new = np.setdiff1d(np.unique(t[keep] * n + h[keep]), codes)
        if new.size > need:
            new = rng.choice(new, size=need, replace=False)
        codes = np.union1d(codes, new)
    edges = [(int(c // n) + 1, int(c % n) + 1) for c in codes]
    return _digraph(n, edges, False)


def six_agents() -> Any:
    """The six-agent graph of section 4.3 (Fig. 3a), bidirectional.

    Fig. 3 itself is not in the text; its edges are read off Tables 1-2 (arcs 1-2, 1-6, 4-3, 4-5,
    5-3, 5-2, 5-6 carry flow) and the statement that agent 6 is linked to agents 1, 2 and 5
    (hence also 2-6). After agent 6 leaves, the remaining graph stays connected.
    """
    return _digraph(6, [(1, 2), (1, 6), (2, 5), (2, 6), (3, 4), (3, 5), (4, 5), (5, 6)], True)


#: The families of section 4.1, by name: ``FAMILIES["ring"](20)``.
FAMILIES = {"complete": complete, "star": star, "ring": ring, "line": line}


def is_strongly_connected(graph: Any) -> bool:
    """True when every node can reach every other one along arcs."""
    import networkx as nx

    return graph.number_of_nodes() > 0 and bool(nx.is_strongly_connected(graph))


def arc_components(
    tails: Any, heads: Any, n: int, nodes: Any = None, strong: bool = True
) -> tuple[int, NDArray[np.intp]]:
    """Strongly (``strong``) or weakly connected components of the digraph with arcs
    ``tails[k] -> heads[k]`` on nodes ``0..n-1``, restricted to ``nodes`` when given (an index array):
    the number of components and the component label of each (kept) node."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    t, h = np.asarray(tails, dtype=np.intp), np.asarray(heads, dtype=np.intp)
    adj = sp.csr_matrix((np.ones(t.size), (t, h)), shape=(n, n))
    if nodes is not None:
        idx = np.asarray(nodes, dtype=np.intp)
        adj = adj[idx][:, idx]
    if adj.shape[0] == 0:
        return 0, np.zeros(0, dtype=np.intp)
    ncomp, labels = connected_components(adj, directed=True, connection="strong" if strong else "weak")
    return int(ncomp), np.asarray(labels, dtype=np.intp)
