r"""Quadratically-regularized optimal transport on a directed graph (Mokhtari et al.).

Given a strongly connected digraph `G = (V, \mathcal A)`, two distributions
`\rho^0, \rho^\infty \in \mathbb R_+^{|V|}` of equal mass, arc costs `c_{ij} \ge 0` and
capacities `\pi^c_{ij} \in [0, +\infty]`, the 1-Wasserstein distance on the graph is the
min-cost flow (2.1)

.. math::
    \mathcal W_1(\rho^0, \rho^\infty) = \min_{0 \le \pi \le \pi^c} \Big\{ \sum_{(i,j)} c_{ij}\pi_{ij} :
      \operatorname{div}(\pi)_i = \rho^0_i - \rho^\infty_i\ \forall i \Big\},
    \qquad \operatorname{div}(\pi)_i = \sum_{j\in N^+(i)} \pi_{ij} - \sum_{j\in N^-(i)} \pi_{ji},

and its regularized version (2.4), written with one copy `\pi^i` of the flow per agent,

.. math::
    \mathcal W_1^\gamma = \min \Big\{ \sum_{i\in V} \Big(f_i(\pi^i) + \frac{\gamma}{2|V|}\|\pi^i\|^2\Big) :
      \operatorname{div}(\pi^i)_i = \rho_i,\ \pi^i = \pi^j\ \forall (i,j)\in\mathcal A \Big\},
    \qquad f_i(\pi) = \sum_{j\in N^+(i)} c_{ij}\pi_{ij}.

At consensus the `|V|` regularization terms add up to `\frac{\gamma}{2}\|\pi\|^2`, so the
centralized problem is the flow problem with arc costs `c_{ij}\pi + \frac{\gamma}{2}\pi^2`:
``GraphTransportProblem`` *is* a ``FlowProblem`` with
``Quadratic(a=gamma/2, b=c)`` arc costs (``Linear(c)`` when ``gamma = 0``), so every exact backend
solves (2.1) and (2.4) unchanged.

Scaling of gamma by |V|. In (2.4) each agent carries `\gamma/|V|`; the paper then renames
`\gamma/|V|` as `\gamma` ("for simplicity, we will henceforth denote the regularization
parameter as gamma instead of gamma/|V|"), so the `\gamma` of iteration (3.1a), of Theorem 3.3
and of the experiments of section 4 is the *per-agent* coefficient. Both readings are available:

* ``gamma_scaling="total"`` (default): ``gamma`` is the `\gamma` of (2.4); the centralized
  objective is `c^\top\pi + \frac{\gamma}{2}\|\pi\|^2` and each agent regularizes with
  `\gamma/|V|`;
* ``gamma_scaling="per_agent"``: ``gamma`` is the coefficient of (3.1a) (sections 3-4); each agent
  regularizes with `\gamma`, and the centralized objective is
  `c^\top\pi + \frac{\gamma|V|}{2}\|\pi\|^2`.

``regularized_gamma`` always holds the centralized coefficient `\Gamma` (objective
`c^\top\pi + \frac{\Gamma}{2}\|\pi\|^2`) and ``agent_gamma`` the per-agent one.

Splitting (2.6). ``split="2.6"`` keeps the same centralized problem but distributes the
regularization by arcs, `\sum_i (f_i(\pi) + \frac{\Gamma}{2}\sum_{j\in N^+(i)}\pi_{ij}^2)`:
each agent regularizes only its own outgoing arcs (only convex, not strongly convex, locally). The
split matters to the distributed ADMM backend only; ``split="2.4"`` (default) is the paper's choice.

Capacities. Theorem 3.3 needs finite capacities when `\gamma = 0` (Remark 3.4): a problem with
``gamma = 0`` and an infinite capacity is rejected. With nonnegative costs an optimal flow never needs
more than the total mass on an arc, so ``capacity = rho0.sum()`` is a capacity that never binds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidBoundsError, InvalidDataError, UnbalancedError, UnknownNodeError
from otmodel.model.costs import Linear, Quadratic
from otmodel.model.network import Network, number
from otmodel.model.problems import BALANCE_RTOL, FlowProblem
from otmodel.model.values import describe, float_array, label, option

__all__ = ["GraphTransportProblem", "SPLITS", "GAMMA_SCALINGS"]

SPLITS = ("2.4", "2.6")
GAMMA_SCALINGS = ("total", "per_agent")


class _Default(float):
    """A default argument that knows it was not given (a float, so it behaves exactly as its value)."""


#: The defaults of ``cost`` and ``capacity``: with a ``Network`` graph, left at default they are read
#: from the network's own arcs instead.
DEFAULT_COST = _Default(1.0)
DEFAULT_CAPACITY = _Default(math.inf)


def _network_edges(net: Network) -> tuple[list[Any], list[tuple[Any, Any, dict[str, Any]]]]:
    r"""Nodes and arcs of an otmodel ``Network`` (the same graph type the other problems take).

    Its arcs must have linear costs `c_{ij} p` (the quadratic part of (2.4) is ``gamma``), lower
    bounds 0 (`\pi \ge 0`) and its nodes no supply (the masses are ``rho0`` and ``rho_inf``).
    """
    names = net.node_names
    costs = net.costs
    quadratic = np.flatnonzero(np.asarray(costs.a) != 0)
    if quadratic.size:
        raise InvalidDataError(
            f"arc {net.arc_names[quadratic[0]]} has a quadratic cost: graph transport's arcs cost c_ij p "
            "(Linear); its quadratic part is the regularization gamma"
        )
    negative = np.flatnonzero(np.asarray(net.lower) != 0)
    if negative.size:
        raise InvalidBoundsError(
            f"arc {net.arc_names[negative[0]]} has lower bound {net.lower[negative[0]]:g}: graph transport "
            "needs pi >= 0 (give a two-way link as two arcs)"
        )
    supplied = np.flatnonzero(np.asarray(net.supply) != 0)
    if supplied.size:
        raise InvalidDataError(
            f"node {names[supplied[0]]!r} has supply {net.supply[supplied[0]]:g}: give the masses of graph "
            "transport as rho0 and rho_inf, not as supplies of the network"
        )
    arcs = [
        (names[t], names[h], {"cost": float(b), "capacity": float(u)})
        for t, h, b, u in zip(net.tails, net.heads, np.asarray(costs.b), np.asarray(net.upper), strict=True)
    ]
    return list(names), arcs


def _edges(graph: Any, order: Sequence[Any] | None = None) -> tuple[list[Any], list[tuple[Any, Any, dict[str, Any]]]]:
    """Nodes and arcs of a ``Network``, a networkx DiGraph or an edge list ``[(u, v), (u, v, attrs), ...]``
    (nodes in ``order`` if given, else in order of first appearance)."""
    if isinstance(graph, Network):
        if order is not None:
            raise InvalidDataError("nodes= orders an edge list; a Network has its own node order")
        return _network_edges(graph)
    if hasattr(graph, "is_directed") and hasattr(graph, "edges"):
        if not graph.is_directed():
            raise InvalidDataError("the graph must be directed (networkx.DiGraph); say which way each arc goes")
        if graph.is_multigraph():
            raise InvalidDataError("the graph must not have parallel arcs (a multigraph)")
        return list(graph.nodes), [(u, v, dict(d)) for u, v, d in graph.edges(data=True)]
    try:
        items = list(graph)
    except TypeError:
        raise InvalidDataError(
            f"graph must be a networkx.DiGraph or a list of (tail, head) pairs, got {type(graph).__name__}"
        ) from None
    nodes: dict[Any, None] = {}
    if order is not None:
        if isinstance(order, (str, bytes, Mapping)) or not isinstance(order, (Sequence, np.ndarray)):
            raise InvalidDataError(f"nodes must be a sequence of node labels, got {type(order).__name__}")
        for k, v in enumerate(order):
            _hashable(v, f"nodes[{k}]")
            nodes.setdefault(v, None)
    arcs = []
    seen: set[tuple[str, str]] = set()
    for k, e in enumerate(items):
        if not isinstance(e, (tuple, list)) or len(e) not in (2, 3):
            raise InvalidDataError(f"edge list item {k} = {describe(e)} is not a (tail, head) or (tail, head, attrs) tuple")
        u, v = e[0], e[1]
        _hashable(u, f"edge list item {k}: tail")
        _hashable(v, f"edge list item {k}: head")
        if len(e) == 3 and not isinstance(e[2], Mapping):
            raise InvalidDataError(f"edge list item {k}: attributes {describe(e[2])} must be a mapping (e.g. {{'cost': 1}})")
        attrs = dict(e[2]) if len(e) == 3 else {}
        if (str(u), str(v)) in seen:
            raise InvalidDataError(f"edge list item {k}: arc {u}->{v} is given twice")
        seen.add((str(u), str(v)))
        if order is not None and (u not in nodes or v not in nodes):
            raise UnknownNodeError(f"edge list item {k}: arc {u}->{v} joins a node not in `nodes`")
        nodes.setdefault(u, None)
        nodes.setdefault(v, None)
        arcs.append((u, v, attrs))
    return list(nodes), arcs


def _hashable(v: Any, what: str) -> None:
    try:
        hash(v)
    except TypeError:
        raise InvalidDataError(f"{what} = {describe(v)} cannot be a node label (unhashable {type(v).__name__})") from None
    label(v, what)  # node names are str(label): a label must have one


def _per_node(values: Any, names: list[str], what: str, default: float | None = None) -> NDArray[np.float64]:
    """A vector over nodes from a sequence (node order) or a mapping name -> value."""
    n = len(names)
    if isinstance(values, Mapping):
        index = {nm: i for i, nm in enumerate(names)}
        out = np.full(n, 0.0 if default is None else default)
        for key, val in values.items():
            if label(key, what) not in index:
                raise UnknownNodeError(f"{what}: unknown node {key!r}")
            out[index[str(key)]] = _num(val, f"{what}[{key!r}]")
        return out
    arr = float_array(values, what).reshape(-1)
    if arr.shape != (n,):
        raise InvalidDataError(f"{what} has {arr.size} entries for {n} nodes")
    for i in np.flatnonzero(~np.isfinite(arr)):
        raise InvalidDataError(f"{what} at node {names[i]!r} is {arr[i]}, not a finite number")
    return arr


def _num(v: Any, what: str) -> float:
    return number(v, what)


def _per_arc(values: Any, arcs: list[tuple[Any, Any, dict[str, Any]]], attr: str, what: str) -> NDArray[np.float64]:
    """A vector over arcs: a number, a sequence (arc order), a mapping (tail, head) -> value, or
    ``None`` meaning the edge attribute ``attr`` (which must then be on every arc)."""
    m = len(arcs)
    if values is None:
        out = np.empty(m)
        for k, (u, v, d) in enumerate(arcs):
            if attr not in d:
                raise InvalidDataError(f"arc {u}->{v}: no {what} given and no edge attribute {attr!r}")
            out[k] = _num(d[attr], f"arc {u}->{v}: {what}")
        return out
    if isinstance(values, Mapping):
        out = np.full(m, np.nan)
        index = {(str(u), str(v)): k for k, (u, v, _) in enumerate(arcs)}
        for key, val in values.items():
            try:
                u, v = key
            except (TypeError, ValueError):
                raise InvalidDataError(f"{what}: key {describe(key)} is not a (tail, head) pair") from None
            if (label(u, what), label(v, what)) not in index:
                raise UnknownNodeError(f"{what}: no arc {u}->{v} in the graph")
            out[index[(str(u), str(v))]] = _num(val, f"arc {u}->{v}: {what}")
        missing = np.flatnonzero(np.isnan(out))
        if missing.size:
            u, v, _ = arcs[missing[0]]
            raise InvalidDataError(f"{what}: arc {u}->{v} has no value ({missing.size} arc(s) missing)")
        return out
    arr = float_array(values, what).reshape(-1)
    if arr.size == 1:
        return np.full(m, _num(arr[0], what))
    if arr.shape != (m,):
        raise InvalidDataError(f"{what} has {arr.size} entries for {m} arcs")
    nan = np.flatnonzero(np.isnan(arr))
    if nan.size:
        u, v, _ = arcs[int(nan[0])]
        raise InvalidDataError(f"arc {u}->{v}: {what} is NaN")
    return arr


class GraphTransportProblem(FlowProblem):
    r"""Regularized optimal transport on a strongly connected digraph, problems (2.1) and (2.4).

    Parameters
    ----------
    graph : Network, networkx.DiGraph or list of (tail, head[, attrs]) pairs
        The graph `G`; it must be strongly connected (the paper's standing assumption) and
        have no loops or parallel arcs. Node names are kept as strings. A ``Network`` (the graph
        type of the other problems) gives each arc's cost (its ``Linear`` coefficient) and capacity
        (its upper bound) unless ``cost`` / ``capacity`` are given here; its arcs must have lower
        bound 0 and its nodes no supply.
    rho0, rho_inf : sequence (node order) or mapping node -> mass
        The initial and final distributions `\rho^0, \rho^\infty \ge 0`, of equal total mass
        (a probability each in the paper; any equal totals are accepted). Supplies are
        `\rho = \rho^0 - \rho^\infty`.
    cost : number, sequence (arc order), mapping (tail, head) -> cost, or None
        `c_{ij} \ge 0` (default 1: section 4 uses equal costs); ``None`` reads the edge
        attribute ``"cost"``.
    capacity : number, sequence, mapping, or None
        `\pi^c_{ij} \in [0, \infty]` (default ``inf``); ``None`` reads the edge attribute
        ``"capacity"``. Must be finite when ``gamma = 0`` (Theorem 3.3, Remark 3.4).
    gamma : float
        Regularization `\gamma \ge 0`, read according to ``gamma_scaling``.
    gamma_scaling : {"total", "per_agent"}
        ``"total"``: the `\gamma` of (2.4) (centralized `\frac{\gamma}{2}\|\pi\|^2`);
        ``"per_agent"``: the `\gamma` of (3.1a) and section 4 (centralized
        `\frac{\gamma|V|}{2}\|\pi\|^2`). See the module docstring.
    split : {"2.4", "2.6"}
        How the distributed ADMM backend spreads the regularization over agents.
    nodes : sequence, optional
        Node order for an edge-list ``graph`` (default: order of first appearance).
    name : str, default ""
        A label for reports, solutions and model files.
    balance_rtol : float, default 1e-9
        Supplies (and demand) must balance within ``balance_rtol * max(1, sum|s|)``; a larger
        imbalance raises ``UnbalancedError`` naming the totals.
    """

    kind = "flow"

    def __init__(
        self,
        graph: Any,
        rho0: Any,
        rho_inf: Any,
        *,
        cost: Any = DEFAULT_COST,
        capacity: Any = DEFAULT_CAPACITY,
        gamma: float = 0.0,
        gamma_scaling: str = "total",
        split: str = "2.4",
        name: str = "",
        balance_rtol: float = BALANCE_RTOL,
        nodes: Sequence[Any] | None = None,
    ) -> None:
        g = _num(gamma, "gamma")
        if not math.isfinite(g) or g < 0:
            raise InvalidDataError(f"gamma = {g!r} must be a finite number >= 0")
        # NaN would make the mass check below pass whatever the masses (NaN comparisons are false)
        balance_rtol = option(balance_rtol, "balance_rtol")
        if not isinstance(gamma_scaling, str) or gamma_scaling not in GAMMA_SCALINGS:
            raise InvalidDataError(f"gamma_scaling = {describe(gamma_scaling)} must be one of {GAMMA_SCALINGS}")
        if not isinstance(split, (str, float)) or str(split) not in SPLITS:
            raise InvalidDataError(f"split = {describe(split)} must be one of {SPLITS} (the paper's equation numbers)")
        raw_nodes, arcs = _edges(graph, nodes)
        if isinstance(graph, Network):
            # a network carries its arcs' costs and capacities: read them unless given here
            cost = None if cost is DEFAULT_COST else cost
            capacity = None if capacity is DEFAULT_CAPACITY else capacity
        names = [str(v) for v in raw_nodes]
        if len(set(names)) != len(names):
            raise InvalidDataError("two nodes of the graph have the same name once written as strings")
        if len(names) < 2:
            raise InvalidDataError(f"the graph needs at least 2 nodes, it has {len(names)}")
        for u, v, _ in arcs:
            if str(u) == str(v):
                raise InvalidDataError(f"arc {u}->{v} is a loop")
        r0 = _per_node(rho0, names, "rho0")
        r1 = _per_node(rho_inf, names, "rho_inf")
        for what, r in (("rho0", r0), ("rho_inf", r1)):
            bad = np.flatnonzero(r < 0)
            if bad.size:
                raise InvalidDataError(f"{what} at node {names[bad[0]]!r} is {r[bad[0]]:g} < 0: masses must be >= 0")
        with np.errstate(over="ignore"):
            t0, t1 = float(r0.sum()), float(r1.sum())
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise InvalidDataError(f"rho0 or rho_inf has a total mass past the float range ({t0:g}, {t1:g})")
        if abs(t0 - t1) > balance_rtol * max(1.0, t0, t1):
            raise UnbalancedError(
                f"rho0 has total mass {t0:.12g} but rho_inf has {t1:.12g}: the two distributions must have "
                f"the same mass (relative tolerance {balance_rtol:g})"
            )
        c = _per_arc(cost, arcs, "cost", "cost")
        cap = _per_arc(capacity, arcs, "capacity", "capacity")
        for k in np.flatnonzero(~np.isfinite(c) | (c < 0)):
            u, v, _ = arcs[k]
            raise InvalidDataError(f"arc {u}->{v}: cost {c[k]:g} must be a finite number >= 0 (c in R_+^|A|)")
        for k in np.flatnonzero(cap < 0):
            u, v, _ = arcs[k]
            raise InvalidBoundsError(f"arc {u}->{v}: capacity {cap[k]:g} must be >= 0")
        if g == 0:
            inf = np.flatnonzero(np.isinf(cap))
            if inf.size:
                u, v, _ = arcs[inf[0]]
                raise InvalidDataError(
                    f"gamma = 0 needs finite capacities (Theorem 3.3, Remark 3.4): arc {u}->{v} "
                    f"{'and ' + str(inf.size - 1) + ' other arc(s) have' if inf.size > 1 else 'has'} infinite "
                    f"capacity; e.g. capacity = {t0:g} (the total mass) never binds with nonnegative costs"
                )
        n = len(names)
        self.gamma = g
        self.gamma_scaling = gamma_scaling
        self.split = str(split)
        #: centralized coefficient: objective c.pi + regularized_gamma / 2 ||pi||^2
        self.regularized_gamma = g * n if gamma_scaling == "per_agent" else g
        if not math.isfinite(self.regularized_gamma):
            raise InvalidDataError(f"gamma = {g:g} per agent times {n} agents overflows a float")
        #: per-agent coefficient of (3.1a) under split (2.4)
        self.agent_gamma = self.regularized_gamma / n
        net = Network()
        for nm, a, b in zip(names, r0, r1, strict=True):
            net.add_node(nm, supply=float(a - b))
        half = self.regularized_gamma / 2.0
        for j, (u, v, _) in enumerate(arcs):
            arc_cost = Quadratic(half, float(c[j])) if half > 0 else Linear(float(c[j]))
            net.add_arc(str(u), str(v), arc_cost, 0.0, float(cap[j]))
        self._check_strongly_connected(net)
        super().__init__(net, name=name, balance_rtol=balance_rtol)
        self.rho0 = r0.copy()
        self.rho_inf = r1.copy()
        self.rho0.setflags(write=False)
        self.rho_inf.setflags(write=False)
        self.arc_cost = c.copy()
        self.arc_cost.setflags(write=False)
        self.capacity = cap.copy()
        self.capacity.setflags(write=False)

    @classmethod
    def from_supply(cls, graph: Any, rho: Any, **kwargs: Any) -> GraphTransportProblem:
        r"""Build from the supply vector `\rho = \rho^0 - \rho^\infty` directly (section 4.3 style):
        `\rho^0 = \max(\rho, 0)`, `\rho^\infty = \max(-\rho, 0)`. ``rho`` must sum to zero."""
        nodes, _ = _edges(graph, kwargs.get("nodes"))
        r = _per_node(rho, [str(v) for v in nodes], "rho")
        rtol = option(kwargs.get("balance_rtol", BALANCE_RTOL), "balance_rtol")
        with np.errstate(over="ignore"):
            total = float(r.sum())
            scale = max(1.0, float(np.abs(r).sum()))
        if not math.isfinite(scale):
            raise InvalidDataError("rho: the masses add up past the float range; scale them")
        if abs(total) > rtol * scale:
            raise UnbalancedError(f"rho sums to {total:.12g}, not zero: supplies and demands must balance")
        return cls(graph, np.maximum(r, 0.0), np.maximum(-r, 0.0), **kwargs)

    @staticmethod
    def _check_strongly_connected(net: Network) -> None:
        from otmodel.model.graphs import arc_components

        ncomp, lab = arc_components(net.tails, net.heads, net.n_nodes)
        if ncomp > 1:
            names = net.node_names
            other = int(np.flatnonzero(lab != lab[0])[0])
            raise InvalidDataError(
                f"the graph is not strongly connected ({ncomp} strongly connected components): "
                f"node {names[0]!r} and node {names[other]!r} cannot both reach each other"
            )

    # ------------------------------------------------------------------ the paper's quantities
    @property
    def rho(self) -> NDArray[np.float64]:
        r"""`\rho = \rho^0 - \rho^\infty` (the supplies)."""
        return np.asarray(self.supply)

    def transport_cost(self, flows: ArrayLike) -> float:
        r"""The unregularized cost `\sum c_{ij}\pi_{ij}` of (2.1)."""
        return float(np.dot(self.arc_cost, np.asarray(flows, dtype=float)))

    def regularized_objective(self, flows: ArrayLike) -> float:
        r"""The centralized objective of (2.4) at consensus, `c^\top\pi + \frac{\Gamma}{2}\|\pi\|^2`."""
        return self.flow_objective(flows)

    def with_gamma(self, gamma: float, **changes: Any) -> GraphTransportProblem:
        """The same graph, distributions, costs and capacities with another ``gamma`` (same scaling)."""
        kw: dict[str, Any] = {
            "cost": np.asarray(self.arc_cost),
            "capacity": np.asarray(self.capacity),
            "gamma": gamma,
            "gamma_scaling": self.gamma_scaling,
            "split": self.split,
            "name": self.name,
            "balance_rtol": self.balance_rtol,
        }
        kw.update(changes)
        return GraphTransportProblem(
            self.edge_list(), np.asarray(self.rho0), np.asarray(self.rho_inf), nodes=self.node_names, **kw
        )

    def edge_list(self) -> list[tuple[str, str]]:
        """The arcs as ``(tail, head)`` name pairs, in arc order."""
        return [(self.node_names[t], self.node_names[h]) for t, h in zip(self.tails, self.heads, strict=True)]

    def to_networkx(self) -> Any:
        """The graph with edge attributes ``cost`` and ``capacity`` and node attributes ``rho0``, ``rho_inf``."""
        import networkx as nx

        g = nx.DiGraph()
        for i, nm in enumerate(self.node_names):
            g.add_node(nm, rho0=float(self.rho0[i]), rho_inf=float(self.rho_inf[i]))
        for k, (u, v) in enumerate(self.edge_list()):
            g.add_edge(u, v, cost=float(self.arc_cost[k]), capacity=float(self.capacity[k]))
        return g

    def __repr__(self) -> str:
        return (
            f"GraphTransportProblem({self.n_nodes} nodes, {self.n_arcs} arcs, gamma={self.gamma:g} "
            f"({self.gamma_scaling}), split ({self.split}))"
        )
