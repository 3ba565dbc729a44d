r"""Networks: named nodes with supplies and arcs with convex costs and flow bounds.

A network is the directed graph :math:`G = (\mathcal N, \mathcal A)` of Laurentin et al. (2025),
section II: node :math:`i` has net supply :math:`s_i` (negative for a demand node), an optional
position in the plane and an *endpoint* flag (the set :math:`\mathcal S` of nodes that serve the
spatial demand); arc :math:`(i,j)` carries a flow :math:`p_{ij} \in [a_{ij}, b_{ij}]` (called
``lower`` and ``upper`` here; ``lower < 0`` allows flow against the arc's direction) at a convex cost
:math:`c_{ij}(p_{ij})`.

Names are used outside, integer indices inside: nodes are numbered in insertion order, arcs too.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import (
    AmbiguousArcError,
    DuplicateNodeError,
    InvalidBoundsError,
    InvalidDataError,
    NonConvexError,
    OTModelError,
    UnknownNodeError,
)
from otmodel.model import values
from otmodel.model.costs import ArcCost, ArcCosts, as_arc_cost

__all__ = ["Network", "Node", "Arc"]


def _finite(value: Any, what: str) -> float:
    return values.finite(value, what)


@dataclass(frozen=True)
class Node:
    """A node: its name, net supply, optional position and endpoint flag."""

    name: str
    supply: float = 0.0
    position: tuple[float, float] | None = None
    endpoint: bool = False


@dataclass(frozen=True)
class Arc:
    """An arc ``tail -> head`` with cost and flow bounds ``lower <= p <= upper``."""

    tail: str
    head: str
    cost: ArcCost = field(default_factory=lambda: as_arc_cost(0.0))
    lower: float = 0.0
    upper: float = math.inf

    @property
    def name(self) -> str:
        return f"{self.tail}->{self.head}"


class Network:
    """A directed network with supplies, endpoints, arc costs and flow bounds.

    Build it by calls::

        net = Network()
        net.add_node("S1", supply=0.5, position=(10, 20))
        net.add_node("I1", endpoint=True, position=(30, 60))
        net.add_arc("S1", "I1", cost=Quadratic(45.0), lower=-1, upper=1)

    or from a networkx ``DiGraph`` (:meth:`from_networkx`) or from arrays (:meth:`from_arrays`).
    Data are checked as they are added: a duplicate or unknown node name, a NaN or infinite supply,
    ``lower > upper`` and a non-convex cost each raise their typed error naming the item.
    """

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self._index: dict[str, int] = {}
        self._arcs: list[Arc] = []

    # ------------------------------------------------------------------ building
    def add_node(
        self,
        name: Hashable,
        supply: float = 0.0,
        position: Sequence[float] | None = None,
        endpoint: bool = False,
    ) -> Network:
        """Add a node; returns the network so that calls can be chained.

        ``name`` is written as ``str(name)`` and must be non-empty (a model file could not hold an
        empty name); ``supply`` and the two coordinates of ``position`` are finite real numbers;
        ``endpoint`` is a boolean (or 0/1).
        """
        key = values.name(name, "node name")
        if key in self._index:
            raise DuplicateNodeError(f"node {key!r} is defined twice")
        s = _finite(supply, f"node {key!r}: supply")
        pos: tuple[float, float] | None = None
        if position is not None:
            coords = values.float_array(position, f"node {key!r}: position", ndim=1)
            if coords.shape != (2,):
                raise InvalidDataError(f"node {key!r}: position must have 2 coordinates, got {coords.size}")
            pos = (
                _finite(coords[0], f"node {key!r}: position x"),
                _finite(coords[1], f"node {key!r}: position y"),
            )
        is_end = values.flag(endpoint, f"node {key!r}: endpoint")
        self._index[key] = len(self._nodes)
        self._nodes.append(Node(key, s, pos, is_end))
        return self

    def add_arc(
        self,
        tail: Hashable,
        head: Hashable,
        cost: ArcCost | float | None = None,
        lower: float = 0.0,
        upper: float = math.inf,
    ) -> Network:
        """Add arc ``tail -> head`` with ``cost`` (a number means :class:`Linear`) and bounds."""
        t, h = str(tail), str(head)
        label = f"arc {t}->{h}"
        for end in (t, h):
            if end not in self._index:
                raise UnknownNodeError(f"{label}: unknown node {end!r}")
        # t == h (a self-loop) is allowed: its flow circulates on one node, a column of zeros in
        # the conservation rows (1b)-(1c) that only its cost and bounds see -- networkx's network
        # simplex accepts it too (unbounded at negative cost without capacity, saturated with one)
        lo, up = _bound(lower, f"{label}: lower"), _bound(upper, f"{label}: upper")
        if lo > up:
            raise InvalidBoundsError(f"{label}: lower bound {lo} exceeds upper bound {up}")
        if lo == math.inf or up == -math.inf:
            raise InvalidBoundsError(f"{label}: bounds [{lo}, {up}] leave no finite flow")
        try:
            c = as_arc_cost(cost)
        except InvalidDataError as exc:
            raise type(exc)(f"{label}: {exc}") from None
        self._arcs.append(Arc(t, h, c, lo, up))
        return self

    @classmethod
    def from_networkx(
        cls,
        graph: Any,
        demand: Hashable | None = None,
        weight: Hashable | None = None,
        capacity: Hashable | None = None,
        *,
        supply: Hashable | None = None,
        cost: Hashable | None = None,
        lower: Hashable | None = None,
        upper: Hashable | None = None,
        position: Hashable = "pos",
        endpoint: Hashable = "endpoint",
    ) -> Network:
        r"""Build from a networkx graph, following networkx's min-cost-flow conventions by default.

        With default arguments the graph reads as :func:`networkx.network_simplex` reads it:

        * node attribute ``demand`` (default 0) is the node's net *demand*, so the supply is
          :math:`s_i = -\mathrm{demand}_i` (negative demand = supply);
        * edge attribute ``weight`` (default 0) is the linear cost per unit of flow;
        * edge attribute ``capacity`` is the upper bound :math:`u_{ij}`; a missing capacity means
          no bound (:math:`u_{ij} = +\infty`); the lower bound is 0;
        * a ``MultiDiGraph`` gives one arc per edge (parallel arcs, named ``tail->head`` each);
        * an undirected ``Graph``/``MultiGraph`` gives two arcs per edge, ``u->v`` and ``v->u``,
          with the same attributes (a two-way link; a self-loop stays one arc);
        * self-loops are arcs (their flow circulates on one node, at their cost).

        Every mapping is explicit through keyword arguments, which name the attribute to read:
        ``demand``, ``weight``, ``capacity`` (networkx's meanings, as above), or otmodel's own
        meanings, which take precedence when given: ``supply`` (net supply, positive = supply),
        ``cost`` (a number or an :class:`~otmodel.model.costs.ArcCost` such as ``Quadratic(2.0)``),
        ``lower`` and ``upper`` (flow bounds; ``lower`` defaults to 0, ``upper`` to infinity).
        ``position`` (a pair) and ``endpoint`` (a flag) are read if present. For example
        ``Network.from_networkx(G, supply="supply", cost="cost", lower="lower", upper="upper")``
        reads a graph written by :meth:`to_networkx`.

        Raises
        ------
        InvalidDataError
            If an attribute named explicitly by a keyword argument occurs on no node (``demand``,
            ``supply``) or no edge (``weight``, ``capacity``, ``cost``, ``lower``, ``upper``) of a
            graph that has some: a misspelt name would otherwise silently read as its default. Also
            for an object that is not a networkx graph, and for values that are not numbers (the
            message names the node or edge).
        """
        if not all(hasattr(graph, f) for f in ("is_directed", "is_multigraph", "nodes", "edges")):
            raise InvalidDataError(f"from_networkx expects a networkx graph, got {type(graph).__name__}")
        node_attr = {"demand": demand, "supply": supply}
        edge_attr = {"weight": weight, "capacity": capacity, "cost": cost, "lower": lower, "upper": upper}
        for key, val in {**node_attr, **edge_attr}.items():
            if val is not None and not isinstance(val, Hashable):
                raise InvalidDataError(f"from_networkx: {key}= must name an attribute, got {val!r}")
        multi = bool(graph.is_multigraph())
        edges = list(graph.edges(keys=True, data=True) if multi else graph.edges(data=True))
        node_data = [d for _, d in graph.nodes(data=True)]
        edge_data = [e[-1] for e in edges]
        for kind, named, datas in (("node", node_attr, node_data), ("edge", edge_attr, edge_data)):
            for key, attr in named.items():
                if attr is not None and datas and not any(attr in d for d in datas):
                    raise InvalidDataError(
                        f"from_networkx: {key}={attr!r} names an attribute that no {kind} of the graph has "
                        f"(a misspelt name would read as the default for every {kind})"
                    )
        net = cls()
        for n, data in graph.nodes(data=True):
            label = f"node {str(n)!r}"
            if supply is not None:
                s = data.get(supply, 0.0)
            else:
                d = data.get("demand" if demand is None else demand, 0.0)
                s = -_finite(d, f"{label}: demand")
            net.add_node(n, s, data.get(position), data.get(endpoint, False))
        weight_key = "weight" if weight is None else weight
        cap_key = "capacity" if capacity is None else capacity

        def arc(u: Any, v: Any, data: dict[Any, Any]) -> None:
            c = data.get(cost, 0.0) if cost is not None else data.get(weight_key, 0.0)
            lo = data.get(lower, 0.0) if lower is not None else 0.0
            up = data.get(upper, math.inf) if upper is not None else data.get(cap_key, math.inf)
            net.add_arc(u, v, c, lo, up)

        directed = bool(graph.is_directed())
        for e in edges:
            u, v, data = e[0], e[1], e[-1]
            arc(u, v, data)
            if not directed and u != v:
                arc(v, u, data)
        return net

    @classmethod
    def from_arrays(
        cls,
        names: Sequence[Hashable],
        supply: ArrayLike,
        tails: ArrayLike,
        heads: ArrayLike,
        quadratic: ArrayLike | None = None,
        linear: ArrayLike | None = None,
        lower: ArrayLike | None = None,
        upper: ArrayLike | None = None,
        positions: ArrayLike | None = None,
        endpoints: ArrayLike | None = None,
    ) -> Network:
        """Build from arrays: ``tails``/``heads`` are integer node indices or node names.

        ``quadratic`` and ``linear`` give ``a`` and ``b`` of ``a p^2 + b p`` per arc (default 0),
        ``lower``/``upper`` default to 0 and infinity, ``positions`` is ``(n, 2)``, ``endpoints`` is a
        boolean mask or a list of indices/names.
        """
        names = _labels(names, "names", any_label=True)
        n = len(names)
        s = values.float_array(supply, "supply").reshape(-1)
        if s.shape != (n,):
            raise InvalidDataError(f"supply has {s.size} entries for {n} nodes")
        pos = None if positions is None else values.float_array(positions, "positions")
        if pos is not None and pos.shape != (n, 2):
            raise InvalidDataError(f"positions must have shape ({n}, 2), got {pos.shape}")
        is_end = np.zeros(n, dtype=bool)
        if endpoints is not None:
            if _is_mask(endpoints):
                mask = np.asarray(endpoints, dtype=bool).reshape(-1)
                if mask.shape != (n,):
                    raise InvalidDataError(f"endpoint mask has {mask.size} entries for {n} nodes")
                is_end = mask
            else:
                tmp = cls._resolve_list([str(x) for x in names], _labels(endpoints, "endpoints"), "endpoints")
                is_end[tmp] = True
        net = cls()
        for k, name in enumerate(names):
            net.add_node(name, s[k], None if pos is None else pos[k], bool(is_end[k]))
        str_names = [nd.name for nd in net._nodes]
        t_idx = cls._resolve_list(str_names, _labels(tails, "tails"), "tails")
        h_idx = cls._resolve_list(str_names, _labels(heads, "heads"), "heads")
        m = len(t_idx)
        if len(h_idx) != m:
            raise InvalidDataError(f"tails has {m} entries but heads has {len(h_idx)}")

        def col(x: ArrayLike | None, default: float, what: str) -> NDArray[np.float64]:
            if x is None:
                return np.full(m, default)
            arr = values.float_array(x, what).reshape(-1)
            if arr.size == 1:
                return np.full(m, float(arr[0]))
            if arr.shape != (m,):
                raise InvalidDataError(f"{what} has {arr.size} entries for {m} arcs")
            return arr

        qa, lb = col(quadratic, 0.0, "quadratic"), col(linear, 0.0, "linear")
        lo, up = col(lower, 0.0, "lower"), col(upper, math.inf, "upper")
        for k in range(m):
            try:
                c = ArcCost(qa[k], lb[k])
            except (InvalidDataError, NonConvexError) as exc:
                raise type(exc)(f"arc {k} ({str_names[t_idx[k]]}->{str_names[h_idx[k]]}): {exc}") from None
            net.add_arc(str_names[t_idx[k]], str_names[h_idx[k]], c, lo[k], up[k])
        return net

    @staticmethod
    def _resolve_list(names: list[str], items: list[Any], what: str) -> list[int]:
        index = {nm: i for i, nm in enumerate(names)}
        out = []
        for k, it in enumerate(items):
            if isinstance(it, (int, np.integer)) and not isinstance(it, bool) and str(it) not in index:
                if not 0 <= int(it) < len(names):
                    raise UnknownNodeError(f"{what}[{k}]: node index {int(it)} out of range 0..{len(names) - 1}")
                out.append(int(it))
            elif str(it) in index:
                out.append(index[str(it)])
            else:
                raise UnknownNodeError(f"{what}[{k}]: unknown node {str(it)!r}")
        return out

    # ------------------------------------------------------------------ views
    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes)

    @property
    def arcs(self) -> tuple[Arc, ...]:
        return tuple(self._arcs)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self._nodes]

    @property
    def arc_names(self) -> list[str]:
        return [a.name for a in self._arcs]

    @property
    def n_nodes(self) -> int:
        return len(self._nodes)

    @property
    def n_arcs(self) -> int:
        return len(self._arcs)

    def index(self, name: Hashable) -> int:
        """Integer index of node ``name``."""
        try:
            return self._index[str(name)]
        except KeyError:
            raise UnknownNodeError(f"unknown node {name!r}") from None

    def arc_indices(self, tail: Hashable, head: Hashable) -> list[int]:
        """Indices of every arc ``tail -> head`` (several when arcs are parallel), in arc order."""
        t, h = str(tail), str(head)
        return [k for k, a in enumerate(self._arcs) if a.tail == t and a.head == h]

    def arc_index(self, tail: Hashable, head: Hashable) -> int:
        """Index of the arc ``tail -> head``.

        Raises :class:`~otmodel.errors.AmbiguousArcError` when parallel arcs join ``tail`` to
        ``head`` (use :meth:`arc_indices` and the index of the arc meant): answering with one of
        them would silently report another arc's data.
        """
        found = self.arc_indices(tail, head)
        if len(found) == 1:
            return found[0]
        t, h = str(tail), str(head)
        if found:
            raise AmbiguousArcError(
                f"{len(found)} parallel arcs join {t!r} to {h!r} (arc indices {found}); "
                "name the arc by its index"
            )
        for end in (t, h):
            self.index(end)
        raise UnknownNodeError(f"no arc {t}->{h}")

    @property
    def supply(self) -> NDArray[np.float64]:
        return np.array([n.supply for n in self._nodes], dtype=float)

    @property
    def endpoint_mask(self) -> NDArray[np.bool_]:
        return np.array([n.endpoint for n in self._nodes], dtype=bool)

    @property
    def endpoints(self) -> NDArray[np.intp]:
        """Indices of the endpoint nodes (the set S), in node order."""
        return np.flatnonzero(self.endpoint_mask)

    @property
    def endpoint_names(self) -> list[str]:
        return [n.name for n in self._nodes if n.endpoint]

    @property
    def tails(self) -> NDArray[np.intp]:
        return np.array([self._index[a.tail] for a in self._arcs], dtype=np.intp)

    @property
    def heads(self) -> NDArray[np.intp]:
        return np.array([self._index[a.head] for a in self._arcs], dtype=np.intp)

    @property
    def lower(self) -> NDArray[np.float64]:
        return np.array([a.lower for a in self._arcs], dtype=float)

    @property
    def upper(self) -> NDArray[np.float64]:
        return np.array([a.upper for a in self._arcs], dtype=float)

    @property
    def costs(self) -> ArcCosts:
        return ArcCosts(
            np.array([a.cost.a for a in self._arcs], dtype=float),
            np.array([a.cost.b for a in self._arcs], dtype=float),
        )

    def positions(self, nodes: Iterable[int] | None = None) -> NDArray[np.float64]:
        """Positions as an ``(n, 2)`` array, NaN where a node has none."""
        idx = range(self.n_nodes) if nodes is None else nodes
        return np.array(
            [self._nodes[i].position if self._nodes[i].position is not None else (np.nan, np.nan) for i in idx],
            dtype=float,
        ).reshape(-1, 2)

    def incidence(self) -> sp.csr_matrix:
        r"""Node-arc incidence matrix :math:`E` with :math:`E_{i,(i,j)} = +1`, :math:`E_{j,(i,j)} = -1`.

        ``(E @ p)[i]`` is the net outflow of node ``i``, the left-hand side of (1b)-(1c).
        """
        m = self.n_arcs
        rows = np.concatenate([self.tails, self.heads])
        cols = np.concatenate([np.arange(m), np.arange(m)])
        vals = np.concatenate([np.ones(m), -np.ones(m)])
        E = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_nodes, m))
        E.eliminate_zeros()  # a self-loop's +1 and -1 meet in one entry: its column is empty
        return E

    def to_networkx(self) -> Any:
        import networkx as nx

        g = nx.DiGraph()
        for nd in self._nodes:
            attrs: dict[str, Any] = {"supply": nd.supply, "endpoint": nd.endpoint}
            if nd.position is not None:
                attrs["pos"] = nd.position
            g.add_node(nd.name, **attrs)
        for a in self._arcs:
            g.add_edge(a.tail, a.head, cost=a.cost, lower=a.lower, upper=a.upper)
        return g

    def copy(self) -> Network:
        net = Network()
        net._nodes = list(self._nodes)
        net._index = dict(self._index)
        net._arcs = list(self._arcs)
        return net

    def __repr__(self) -> str:
        return (
            f"Network({self.n_nodes} nodes, {self.n_arcs} arcs, "
            f"{int(self.endpoint_mask.sum())} endpoints, total supply {self.supply.sum():g})"
        )


def number(value: Any, what: str, nan_error: type[OTModelError] = InvalidDataError) -> float:
    """``float(value)``, infinities allowed; a typed error naming ``what`` for text, NaN, ``bool``
    or an integer too large for a float (see :func:`otmodel.model.values.number`)."""
    return values.number(value, what, nan_error)


def _is_mask(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return bool(value.dtype == bool)
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(x, (bool, np.bool_)) for x in value)


def _labels(value: Any, what: str, any_label: bool = False) -> list[Any]:
    """A flat list of node labels (names or integer indices; any label if ``any_label``) from a
    sequence or a 1-d array."""
    if isinstance(value, np.ndarray):
        if value.ndim > 1:
            raise InvalidDataError(f"{what} must be a flat list of node names or indices, got shape {value.shape}")
        return list(value.reshape(-1).tolist())
    if isinstance(value, (str, bytes, dict, set, frozenset)) or not isinstance(value, Iterable):
        raise InvalidDataError(f"{what} must be a list of node names or indices, got {type(value).__name__}")
    items = list(value)
    for k, it in enumerate([] if any_label else items):
        if not isinstance(it, (str, int, np.integer)) or isinstance(it, (bool, np.bool_)):
            raise InvalidDataError(f"{what}[{k}] = {values._describe(it)} is neither a node name nor an index")
    return items


def _bound(value: Any, what: str) -> float:
    return number(value, what, InvalidBoundsError)
