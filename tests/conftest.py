import math
import os

import pytest
from hypothesis import settings

import otmodel as om

# The property tests draw the same examples on every run (CI cannot fail on a draw nobody can replay);
# ``HYPOTHESIS_PROFILE=explore`` (or ``--hypothesis-profile explore``) draws new ones.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def small_spatial(quadratic: bool = True) -> om.SpatialFlowProblem:
    """Two sources, two endpoints, 3 x 3 grid demand."""
    net = om.Network()
    net.add_node("S1", supply=0.5, position=(0, 0))
    net.add_node("S2", supply=0.5, position=(10, 0))
    net.add_node("E1", endpoint=True, position=(2, 8))
    net.add_node("E2", endpoint=True, position=(8, 8))
    for u, v in [("S1", "E1"), ("S2", "E2"), ("E1", "E2"), ("S1", "E2")]:
        (x0, y0), (x1, y1) = net.nodes[net.index(u)].position, net.nodes[net.index(v)].position
        d = math.hypot(x1 - x0, y1 - y0)
        net.add_arc(u, v, om.Quadratic(d) if quadratic else om.Linear(d), -1 if quadratic else 0, 1)
    g = om.Grid.from_density(om.Gaussian((3, 7), 3), (0, 10, 0, 10), (3, 3))
    return om.SpatialFlowProblem(net, g, om.Euclidean())


@pytest.fixture
def spatial_qp() -> om.SpatialFlowProblem:
    return small_spatial(True)


@pytest.fixture
def spatial_lp() -> om.SpatialFlowProblem:
    return small_spatial(False)
