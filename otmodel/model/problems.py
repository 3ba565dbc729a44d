r"""Optimization problems.

``FlowProblem`` -- min-cost flow with convex arc costs:

.. math::
    \min_p \sum_{(i,j)\in\mathcal A} c_{ij}(p_{ij}) \quad\text{s.t.}\quad
    \sum_{j} p_{ij} - \sum_{j} p_{ji} = s_i \;\; \forall i \in \mathcal N, \qquad
    l_{ij} \le p_{ij} \le u_{ij}.

``SpatialFlowProblem`` -- the combined semi-discrete OT and min-cost flow problem (1) of
Laurentin et al. (2025) with a discretized demand `\mu = \sum_k \mu_k \delta_{x_k}`, in its
Kantorovich form (2), which is a finite LP/QP:

.. math::
    \min_{\pi \ge 0,\; p} \sum_{k}\sum_{i\in\mathcal S} c(x_k, i)\,\pi_{ki}
        + \sum_{(i,j)\in\mathcal A} c_{ij}(p_{ij})
    \quad\text{s.t.}\quad
    \begin{cases}
    \sum_j p_{ij} - \sum_j p_{ji} + \sum_k \pi_{ki} = s_i & i \in \mathcal S \quad (2b)\\
    \sum_j p_{ij} - \sum_j p_{ji} = s_i & i \in \mathcal N\setminus\mathcal S\\
    \sum_{i\in\mathcal S} \pi_{ki} = \mu_k & \forall k \quad (2c)\\
    l_{ij} \le p_{ij} \le u_{ij} & (2d)
    \end{cases}

Its dual (Theorem 1, eq. (3)-(4)) is `\max_\psi q(\psi)` with

.. math::
    q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_{i} \psi_i s_i
      + \sum_{(i,j)} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}.

The node potentials of every ``Solution`` are this `\psi`.

Problems are checked once, on construction, and are immutable afterwards.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import otmodel.model.values as values
from otmodel.errors import InvalidDataError, UnbalancedError, UnreachableError
from otmodel.model._demand_kernels import pair_costs, planar_kind
from otmodel.model.costs import ArcCosts
from otmodel.model.demand import AssignmentCost, Points
from otmodel.model.network import Network

if TYPE_CHECKING:  # pragma: no cover
    from otmodel.results import Solution

__all__ = ["FlowProblem", "SpatialFlowProblem", "BALANCE_RTOL"]

#: Relative tolerance of the supply/demand balance check: |sum s - mu(X)| <= BALANCE_RTOL * scale,
#: with scale = max(1, sum |s_i|, mu(X)).
BALANCE_RTOL = 1e-9


def _frozen(a: NDArray[Any]) -> NDArray[Any]:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


class FlowProblem:
    r"""Min-cost flow with convex (linear or quadratic) arc costs on a ``Network``.

    Endpoint flags of the network are ignored (there is no spatial demand). Supplies must balance:
    ``|sum(s)| <= balance_rtol * max(1, sum|s|)``. The problem is

    `\min_p \sum_{(i,j)} c_{ij}(p_{ij})` s.t. `E p = s`, `l \le p \le u`,

    the network part of Laurentin et al. (2025), problem (1), with `E` the node-arc incidence matrix.
    The network is copied: later edits to it do not change the problem.

    Parameters
    ----------
    network : Network
        Nodes with supplies, arcs with costs and bounds; at least one node (else
        ``InvalidDataError``).
    name : str, default ""
        A label for reports, solutions and model files.
    balance_rtol : float, default 1e-9
        Supplies (and demand) must balance within ``balance_rtol * max(1, sum|s|)``; a larger
        imbalance raises ``UnbalancedError`` naming the totals.
    """

    kind = "flow"

    def __init__(self, network: Network, name: str = "", balance_rtol: float = BALANCE_RTOL) -> None:
        if not isinstance(network, Network):
            raise InvalidDataError(f"expected a Network, got {type(network).__name__}")
        if network.n_nodes == 0:
            raise InvalidDataError("the network has no nodes")
        self.network = network.copy()
        self.name = _problem_name(name)
        # a NaN tolerance would make every balance check pass (NaN comparisons are false)
        self.balance_rtol = values.option(balance_rtol, "balance_rtol")
        # names are spelt out on first use: a network built from arrays need not spell a million
        self._node_names: list[str] | None = None
        self._arc_names: list[str] | None = None
        self.supply = _frozen(self.network.supply)
        self.tails = _frozen(self.network.tails)
        self.heads = _frozen(self.network.heads)
        self.lower = _frozen(self.network.lower)
        self.upper = _frozen(self.network.upper)
        c = self.network.costs
        self.costs = ArcCosts(_frozen(c.a), _frozen(c.b), None if c.kink is None else _frozen(c.kink))
        self.incidence = self.network.incidence()
        self._check_balance()

    # -------------------------------------------------------------------------------- checks
    def _demand_total(self) -> float:
        return 0.0

    def _check_balance(self) -> None:
        with np.errstate(over="ignore"):
            total_supply = float(self.supply.sum())
            scale = max(1.0, float(np.abs(self.supply).sum()))
        if not math.isfinite(scale):
            raise InvalidDataError(
                f"the supplies add up past the float range (largest |supply| {np.abs(self.supply).max():g}): "
                "scale the masses"
            )
        demand = self._demand_total()
        scale = max(scale, demand)
        if abs(total_supply - demand) > self.balance_rtol * scale:
            target = f"total demand mu(X) = {demand:.12g}" if self.kind == "spatial" else "zero"
            raise UnbalancedError(
                f"supply and demand are out of balance: total supply {total_supply:.12g} must equal "
                f"{target} within a relative tolerance of {self.balance_rtol:g} (x {scale:g})"
            )

    # -------------------------------------------------------------------------------- sizes
    @property
    def node_names(self) -> list[str]:
        """Node names in index order."""
        if self._node_names is None:
            self._node_names = self.network.node_names
        return self._node_names

    @property
    def arc_names(self) -> list[str]:
        """Arc names ``"tail->head"`` in index order."""
        if self._arc_names is None:
            self._arc_names = self.network.arc_names
        return self._arc_names

    @property
    def n_nodes(self) -> int:
        return int(self.supply.size)

    @property
    def n_arcs(self) -> int:
        return int(self.tails.size)

    @property
    def is_linear(self) -> bool:
        """True when every arc cost is linear (the problem is an LP)."""
        return self.costs.is_linear

    def arc_index(self, tail: str, head: str) -> int:
        return self.network.arc_index(tail, head)

    def node_index(self, name: str) -> int:
        return self.network.index(name)

    # -------------------------------------------------------------------------------- math
    def flow_objective(self, flows: ArrayLike) -> float:
        """Sum of arc costs of ``flows``."""
        return self.costs.total(flows)

    def objective(self, flows: ArrayLike, assignment: Any = None) -> float:
        """Primal objective of a point (flows, and the assignment plan for spatial problems)."""
        return self.flow_objective(flows)

    def net_outflow(self, flows: ArrayLike) -> NDArray[np.float64]:
        """Per node: outflow minus inflow, ``E @ p``."""
        return np.asarray(self.incidence @ np.asarray(flows, dtype=float))

    # -------------------------------------------------------------------------------- plumbing
    # Conveniences only: each goes through the package root (``import otmodel``), so that the model
    # layer imports no backend, no formulation and no file reader (DESIGN.md, Layout).
    def solve(self, backend: str | None = None, **options: Any) -> Solution:
        """Solve with ``backend`` (see ``otmodel.solve``)."""
        import otmodel

        return otmodel.solve(self, backend=backend, **options)

    def formulation(self, part: Any = "all", format: str = "markdown") -> Any:
        """The problem as mathematics for this instance (see ``otmodel.formulation.formulation``)."""
        import otmodel

        return otmodel.formulation.formulation(self, part=part, format=format)

    def save(self, path: str | Path) -> None:
        """Write the problem as a YAML or JSON model file (by extension; see ``otmodel.save``)."""
        import otmodel

        otmodel.save(self, path)

    def to_dict(self) -> dict[str, Any]:
        """The problem as a plain dict of the model-file schema (see ``otmodel.model.io.problem_to_dict``)."""
        import otmodel

        return otmodel.model.io.problem_to_dict(self)

    def to_cvxpy(self) -> Any:
        """The problem compiled to cvxpy, with named variables (see ``otmodel.to_cvxpy``)."""
        import otmodel

        return otmodel.to_cvxpy(self)

    def to_pyomo(self) -> Any:
        """The problem as a Pyomo model (see ``otmodel.to_pyomo``)."""
        import otmodel

        return otmodel.to_pyomo(self)

    def __repr__(self) -> str:
        lin = "linear" if self.is_linear else "quadratic"
        return f"FlowProblem({self.n_nodes} nodes, {self.n_arcs} arcs, {lin} costs)"


class SpatialFlowProblem(FlowProblem):
    """Problem (1)/(2) of Laurentin et al. (2025) with a discretized demand.

    Parameters
    ----------
    network : Network
        Must have at least one endpoint (the set S).
    demand : Points or Grid
        The discretized demand measure mu.
    assignment_cost : AssignmentCost
        c(x, i); every endpoint must be reachable (finite cost) from some demand point and every
        demand point with positive mass from some endpoint.
    name : str, default ""
        A label for reports, solutions and model files.
    balance_rtol : float, default 1e-9
        Supplies (and demand) must balance within ``balance_rtol * max(1, sum|s|)``; a larger
        imbalance raises ``UnbalancedError`` naming the totals.
    """

    kind = "spatial"

    def __init__(
        self,
        network: Network,
        demand: Points,
        assignment_cost: AssignmentCost,
        name: str = "",
        balance_rtol: float = BALANCE_RTOL,
    ) -> None:
        if not isinstance(demand, Points):
            raise InvalidDataError(f"demand must be Points or Grid, got {type(demand).__name__}")
        if not isinstance(assignment_cost, AssignmentCost):
            raise InvalidDataError(
                f"assignment_cost must be an AssignmentCost (Euclidean, ...), got {type(assignment_cost).__name__}"
            )
        self.demand = demand
        # each problem binds its own (shallow) copy: binding a Geodesic stores distances in the
        # order of this problem's endpoints, and the caller's object may serve other problems
        assignment_cost = copy.copy(assignment_cost)
        self.assignment_cost = assignment_cost
        super().__init__(network, name=name, balance_rtol=balance_rtol)
        ends = self.network.endpoints
        if ends.size == 0:
            raise UnreachableError("a spatial problem needs at least one endpoint node (endpoint: true)")
        self.endpoints = _frozen(ends)
        self.endpoint_names: list[str] = [self.node_names[i] for i in ends]
        self.endpoint_xy = _frozen(self.network.positions(ends))
        assignment_cost.bind(demand, self.endpoint_names, np.array(self.endpoint_xy))

    def _demand_total(self) -> float:
        return self.demand.total

    @property
    def n_points(self) -> int:
        return self.demand.n

    @property
    def n_endpoints(self) -> int:
        return int(self.endpoints.size)

    def cost_block(self, start: int = 0, stop: int | None = None) -> NDArray[np.float64]:
        """Assignment costs c(x_k, i) for points ``start:stop``, shape ``(rows, |S|)``."""
        return self.assignment_cost.block(self.demand, np.asarray(self.endpoint_xy), start, stop)

    def cost_matrix(self) -> NDArray[np.float64]:
        """The whole ``N x |S|`` assignment-cost matrix (exact backends only)."""
        return self.cost_block(0, self.n_points)

    def objective(self, flows: ArrayLike, assignment: Any = None) -> float:
        """Objective (2a): assignment cost of the plan plus arc costs of the flows."""
        val = self.flow_objective(flows)
        if assignment is not None:
            val += assignment_cost_of(self, assignment)
        return val

    def __repr__(self) -> str:
        lin = "linear" if self.is_linear else "quadratic"
        return (
            f"SpatialFlowProblem({self.n_nodes} nodes, {self.n_arcs} arcs, {self.n_endpoints} endpoints, "
            f"{self.n_points} demand points, {self.assignment_cost.name} assignment cost, {lin} arc costs)"
        )


def _problem_name(name: Any) -> str:
    """A problem's name: any text a model file can hold (the empty string means no name)."""
    if isinstance(name, str) and name == "":
        return ""
    if not isinstance(name, str):
        raise InvalidDataError(f"problem name must be a string, got {type(name).__name__}")
    return values.name(name, "problem name")


def assignment_cost_of(problem: SpatialFlowProblem, assignment: Any, chunk: int = 65536) -> float:
    """Sum over nonzeros of the plan of c(x, i) * pi(x, i), evaluated chunk by chunk."""
    import scipy.sparse as sp

    plan = sp.csr_matrix(assignment)
    total = 0.0
    n = problem.n_points
    if planar_kind(problem.assignment_cost) >= 0 and plan.shape == (n, problem.n_endpoints):
        # planar costs: evaluated at the plan's entries only (O(nnz), not O(N x |S|))
        rows = np.repeat(np.arange(n), np.diff(plan.indptr))
        c = pair_costs(problem, rows, plan.indices)
        with np.errstate(invalid="ignore"):
            total = float(np.sum(np.where(plan.data != 0, c * plan.data, 0.0)))
        return total if not math.isnan(total) else math.inf
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        sub = plan[start:stop]
        if sub.nnz == 0:
            continue
        coo = sub.tocoo()
        c = problem.cost_block(start, stop)[coo.row, coo.col]
        with np.errstate(invalid="ignore"):
            total += float(np.sum(np.where(coo.data != 0, c * coo.data, 0.0)))
    return total if not math.isnan(total) else math.inf
