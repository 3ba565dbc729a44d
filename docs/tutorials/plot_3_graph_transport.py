"""
Transport on a directed graph by distributed ADMM (Mokhtari et al.)
===================================================================

Two distributions on a strongly connected digraph, the 1-Wasserstein distance as a min-cost flow,
regularized quadratically so that every agent's local problem is strongly convex.
"""

# %%
import otmodel as om
from otmodel.model import graphs

problem = om.GraphTransportProblem.from_supply(graphs.six_agents(), [1, -1, -1, 1, 1, -1], gamma=1.0)
problem.formulation(part=["sets", "primal", "algorithm"])

# %%
# Every agent holds a copy of the plan and talks to its neighbours only; the run is certified against
# the dual (4) and cross-checked with an exact solver.
run = om.solve(problem, backend="admm", delta=10, tol=1e-9)
exact = om.solve(problem, backend="cvxpy")
print(om.validation.certify(problem, run).summary())
print(om.validation.cross_check(problem, run, exact).summary())
