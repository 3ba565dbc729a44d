r"""Ready-made instances from the source documents.

:func:`synthetic` is the synthetic example of Laurentin et al. (2025), section V-A: a square domain
of side 100, a demand discretized on an ``n x n`` cell-centred grid (the paper uses 200 x 200) with a
truncated Gaussian density of mean (50, 75) and standard deviation 25, two sources S1, S2 with supply
0.5 and four interconnection nodes I1..I4 (the endpoints), Euclidean assignment cost, arc costs
:math:`d_{ij} p^2` with :math:`d_{ij}` the length of the arc, and flow bounds [-1, 1].

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
:math:`d_{ij}` (the LP variant of the benchmark).
"""

from __future__ import annotations

import math

from otmodel.model.costs import Linear, Quadratic
from otmodel.model.demand import Euclidean, Grid, TruncatedGaussian
from otmodel.model.network import Network
from otmodel.model.problems import SpatialFlowProblem

__all__ = ["synthetic", "SYNTHETIC_NODES", "SYNTHETIC_LINKS"]

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
