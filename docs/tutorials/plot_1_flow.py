"""
Min-cost flow, exactly and certified
====================================

A network with supplies, arcs with convex costs and bounds: the smallest otmodel problem. We build
it, look at it as mathematics, solve it exactly and ask the validation module for a certificate.
"""

# %%
# Build the network. A number as cost means ``Linear(c)``; ``Quadratic(a, b)`` is ``a p^2 + b p``
# on these one-way arcs. An arc given a negative ``lower`` runs both ways and is charged on the
# amount of flow, ``a p^2 + b |p|``: backward flow costs ``b`` per unit too (docs/model-files.md).
import otmodel as om

net = om.Network()
net.add_node("plant", supply=4.0).add_node("hub").add_node("city", supply=-3.0).add_node("town", supply=-1.0)
net.add_arc("plant", "hub", om.Linear(1.0), upper=3.0)
net.add_arc("plant", "city", om.Quadratic(0.5, 2.0))
net.add_arc("hub", "city", om.Linear(0.5))
net.add_arc("hub", "town", om.Linear(1.0))
problem = om.FlowProblem(net)

# %%
# The problem as mathematics: the sets of this instance, the primal, the dual with the conjugates of
# the costs in use, the update of the distributed algorithm, and (the instance is small) every
# constraint.
problem.formulation()

# %%
# Solve exactly. The potentials are the paper's :math:`\psi` (prices of conservation at the nodes).
solution = om.solve(problem, backend="highs")
print(solution.summary())

# %%
# Certify: the validation module recomputes everything from the data, evaluates the dual bound
# :math:`q(\psi)` and a feasible point, and says whether the gap closes.
certificate = om.validation.certify(problem, solution)
print(certificate.summary())

# %%
# And in words: which constraints are tight, what the potentials mean, why the certificate holds.
solution.explain(certificate)
