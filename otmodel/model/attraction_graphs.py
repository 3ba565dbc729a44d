"""Named families of weighted undirected graphs for Wasserstein attraction flows (Arqué et al., Fig. 5).

``graph_family`` draws a connected graph of a named family and its edge weights, as the weight
matrix ``AttractionProblem`` takes and node positions for drawing. Moved whole from
``otmodel.model.attraction`` (which re-exports both names) to keep that module under the length
limit of the architecture test.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

import otmodel.model.values as values
from otmodel.errors import InvalidDataError

__all__ = ["GRAPH_FAMILIES", "graph_family"]

GRAPH_FAMILIES = ("geometric", "small-world", "scale-free", "grid", "erdos-renyi")


def graph_family(
    family: str, n: int, seed: int = 0, weights: tuple[float, float] = (1.0, 1.0)
) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
    """A connected undirected graph of ``n`` nodes of a named family (networkx generators), with
    edge weights uniform in ``weights`` (the families of Arqué et al., Fig. 5).

    Families: ``"geometric"`` (random geometric graph in the unit square, radius just above the
    connectivity threshold; weight lo + (hi - lo) x edge length / radius), ``"small-world"``
    (Watts-Strogatz, 4 neighbours, rewiring 0.1), ``"scale-free"`` (Barabasi-Albert, 2 edges per
    new node), ``"grid"`` (the nearest square grid, trimmed to n nodes), ``"erdos-renyi"``
    (G(n, p) with mean degree 4, resampled until connected).

    Parameters
    ----------
    family : {"geometric", "small-world", "scale-free", "grid", "erdos-renyi"}
        The family; another name raises ``InvalidDataError`` listing these.
    n : int
        Number of nodes.
    seed : int, default 0
        Seed of the random graph and of the weights (same seed, same graph).
    weights : (float, float), default (1.0, 1.0)
        ``(lo, hi)``: edge weights (costs per unit of mass moved along the edge) are drawn
        uniformly in ``[lo, hi]``.

    Returns
    -------
    W : (n, n) scipy.sparse.csr_matrix
        Symmetric weight matrix, ``W[i, j] > 0`` on each edge; the ``graph`` of
        ``AttractionProblem``.
    xy : (n, 2) array of float
        Node positions for drawing (the generator's own for ``"geometric"`` and ``"grid"``, a
        spring layout otherwise).
    """
    import networkx as nx

    rng = np.random.default_rng(seed)
    if family == "geometric":
        r = 1.6 * math.sqrt(math.log(n) / (math.pi * n))
        for _ in range(100):
            pos0 = rng.uniform(0, 1, (n, 2))
            G = nx.random_geometric_graph(n, r, pos={i: tuple(pos0[i]) for i in range(n)})
            if nx.is_connected(G):
                break
        else:  # pragma: no cover
            raise InvalidDataError("could not draw a connected geometric graph")
    elif family == "small-world":
        G = nx.connected_watts_strogatz_graph(n, 4, 0.1, seed=seed)
    elif family == "scale-free":
        G = nx.barabasi_albert_graph(n, 2, seed=seed)
    elif family == "grid":
        side = math.ceil(math.sqrt(n))
        G = nx.convert_node_labels_to_integers(nx.grid_2d_graph(side, side))
        G = G.subgraph(range(n)).copy()
    elif family == "erdos-renyi":
        for k in range(1000):
            G = nx.gnp_random_graph(n, 4.0 / n, seed=seed * 1000 + k)
            if nx.is_connected(G):
                break
    else:
        raise InvalidDataError(f"unknown graph family {values.describe(family)}; use one of {', '.join(GRAPH_FAMILIES)}")
    if family == "geometric":
        pos = pos0
    elif family == "grid":
        side = math.ceil(math.sqrt(n))
        pos = np.c_[np.arange(n) // side, np.arange(n) % side].astype(float) / max(side - 1, 1)
    else:
        lay = nx.spring_layout(G, seed=seed)
        pos = np.array([lay[i] for i in range(n)])
    e = np.array(list(G.edges()), dtype=np.intp).reshape(-1, 2)
    lo, hi = weights
    w = rng.uniform(lo, hi, len(e))
    if family == "geometric":  # pipe-like: weight grows with the edge length, within [lo, hi]
        ln = np.hypot(*(pos[e[:, 0]] - pos[e[:, 1]]).T) / r
        w = lo + (hi - lo) * np.clip(ln, 0.0, 1.0)
    W = sp.csr_matrix((np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
    return W, pos
