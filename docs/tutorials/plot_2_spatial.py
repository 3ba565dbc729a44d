"""
Space partitioning and network flow (Laurentin et al. 2025)
===========================================================

Demand spread over a region is served by the endpoints of a network: each demand point goes to one
endpoint (a Laguerre cell), and the supplies travel through the network. We solve the Kantorovich
relaxation (2) exactly and by the distributed dual ascent of Algorithm 1, and certify the latter.
"""

# %%
import matplotlib.pyplot as plt

import otmodel as om
from otmodel.instances import synthetic
from otmodel.plot import plot_cells

problem = synthetic(n=60)  # the synthetic instance of section V-A on a 60 x 60 demand grid
problem.formulation(part=["sets", "relaxation", "dual"])

# %%
# Exact answer, and the dual ascent with the local curvature step rule.
exact = om.solve(problem, backend="highs")
iterative = om.solve(problem, backend="dual-ascent", step_size=om.Curvature(), max_iter=30)
certificate = om.validation.certify(problem, iterative)
print(f"exact optimum {exact.objective:.8f}")
print(certificate.summary())

# %%
# The cells and flows of the certified point (the paper's Fig. 1(b)).
fig = plot_cells(problem, iterative)
plt.show()
