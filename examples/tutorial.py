"""A first otmodel session: build a spatial problem, save it, load it back, solve it.
==================================================================================

Run from the repository root::

    python examples/tutorial.py

The problem is the semi-discrete transport problem of Laurentin et al. (2025), eq. (1): two sources
send their supply through a small network to three endpoints, and each endpoint serves the demand of
its cell of the square, at the Euclidean distance cost. The model file format is documented in
docs/model-files.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import otmodel
from otmodel import Euclidean, Grid, Linear, Network, SpatialFlowProblem, TruncatedGaussian

# 1. The network: nodes with supplies and positions; endpoints serve the demand.
net = Network()
net.add_node("S1", supply=0.6, position=(10, 10))
net.add_node("S2", supply=0.4, position=(90, 10))
net.add_node("I1", position=(20, 60), endpoint=True)
net.add_node("I2", position=(80, 60), endpoint=True)
net.add_node("I3", position=(50, 90), endpoint=True)

# Arcs with convex costs and flow bounds; a negative lower bound lets flow run backwards. A two-way
# link is charged on the amount of flow, whichever way it runs: Linear(60) on I1->I2 costs 60 |p|,
# exactly as two one-way arcs I1->I2 and I2->I1 of cost 60 would (backward flow never earns money;
# the signed cost 60 p, which credits backward flow, must be asked for: Linear(60, signed=True)).
# (otmodel.Quadratic(a) gives the paper's line losses a * p**2; linear costs keep this an LP.)
net.add_arc("S1", "I1", cost=Linear(50.0), lower=0, upper=1)
net.add_arc("S2", "I2", cost=Linear(50.0), lower=0, upper=1)
net.add_arc("I1", "I2", cost=Linear(60.0), lower=-0.3, upper=0.3)
net.add_arc("I1", "I3", cost=Linear(40.0), lower=-1, upper=1)
net.add_arc("I2", "I3", cost=Linear(40.0), lower=-1, upper=1)

# 2. The demand: a truncated Gaussian on a 30 x 30 grid over [0, 100]^2, total mass 1 (= supply).
demand = Grid.from_density(TruncatedGaussian(mean=(50, 75), std=25), bounds=(0, 100, 0, 100), shape=(30, 30))

problem = SpatialFlowProblem(net, demand, Euclidean(), name="tutorial")
print(problem)

# 3. Save it as a declarative model file, and load it back: the round trip is exact.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "tutorial.yaml"
    problem.save(path)
    print(f"\n--- {path.name} ---")
    print(path.read_text())
    loaded = otmodel.load(path)

print("loaded:", loaded)
assert (loaded.demand.mass == problem.demand.mass).all() and (loaded.upper == problem.upper).all()

# 4. Solve (the default exact backend for the problem's cost type) and print the result.
solution = otmodel.solve(loaded)
print()
print(solution.summary())

# 5. What the arcs cost: c |p| per arc (no flow runs round a cycle to earn money).
for arc, p in zip(loaded.network.arcs, solution.flows, strict=True):
    print(f"{arc.tail}->{arc.head}: flow {p:+.4f}, cost {float(arc.cost.value(p)):.4f}")
print(f"arc costs {loaded.costs.total(solution.flows):.4f} of the objective {solution.objective:.4f}")
