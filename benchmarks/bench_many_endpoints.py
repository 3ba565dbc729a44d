"""Dual ascent at many endpoints: today's Curvature rule beside the damped Newton rule (issue 14).

Instances (``instance(n, ns)``): the synthetic demand of Laurentin et al. (2025), section V-A (truncated
Gaussian, mean (50, 75), std 25, on [0, 100]^2, an n x n grid, total 1), |S| endpoints uniform at random
in the square (seed 0) joined by the edges of their Delaunay triangulation, the two sources S1 (15, 10) and
S2 (85, 10) of supply 0.5 each joined to their three nearest endpoints; arc cost d p^2 (d the arc length),
bounds [-1, 1]; Euclidean assignment cost.
"""

from __future__ import annotations

import math

import numpy as np

import otmodel as om
from otmodel.model.demand import Euclidean, Grid, TruncatedGaussian


def instance(n: int, ns: int, seed: int = 0) -> om.SpatialFlowProblem:
    """Synthetic demand on an n x n grid, ``ns`` endpoints joined by their Delaunay edges."""
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    ys = rng.uniform(0.0, 100.0, size=(ns, 2))
    net = om.Network()
    for i, (x, y) in enumerate(ys):
        net.add_node(f"E{i}", position=(float(x), float(y)), endpoint=True)
    src = {"S1": (15.0, 10.0), "S2": (85.0, 10.0)}
    for name, pos in src.items():
        net.add_node(name, supply=0.5, position=pos)
    links: set[tuple[int, int]] = set()
    if ns >= 3:
        for simplex in Delaunay(ys).simplices:
            for a in range(3):
                u, v = sorted((int(simplex[a]), int(simplex[(a + 1) % 3])))
                links.add((u, v))
    else:
        links.update((i, i + 1) for i in range(ns - 1))
    for u, v in sorted(links):
        d = math.dist(ys[u], ys[v])
        net.add_arc(f"E{u}", f"E{v}", om.Quadratic(d), -1.0, 1.0)
    for name, pos in src.items():
        near = np.argsort(np.hypot(ys[:, 0] - pos[0], ys[:, 1] - pos[1]))[:3]
        for e in near:
            net.add_arc(name, f"E{int(e)}", om.Quadratic(math.dist(pos, ys[e])), -1.0, 1.0)
    dem = Grid.from_density(TruncatedGaussian((50.0, 75.0), 25.0), (0.0, 100.0, 0.0, 100.0), (n, n), total=1.0)
    return om.SpatialFlowProblem(net, dem, Euclidean(), name=f"synthetic {n}x{n}, {ns} endpoints")
