r"""Networks: named nodes with supplies and arcs with convex costs and flow bounds.

A network is the directed graph `G = (\mathcal N, \mathcal A)` of Laurentin et al. (2025),
section II: node `i` has net supply `s_i` (negative for a demand node), an optional
position in the plane and an *endpoint* flag (the set `\mathcal S` of nodes that serve the
spatial demand); arc `(i,j)` carries a flow `p_{ij} \in [a_{ij}, b_{ij}]` (called
``lower`` and ``upper`` here; ``lower < 0`` allows flow against the arc's direction) at a convex cost
`c_{ij}(p_{ij}) = a_{ij} p_{ij}^2 + b_{ij} |p_{ij}|`: on a two-way arc flow costs `b_{ij}` per
unit whichever way it runs (``otmodel.model.costs``); a cost spelt ``signed`` is `a p^2 + b p`.

Storage is by columns (DESIGN.md, Layout): numpy arrays of supplies, positions (NaN where a node has
none) and endpoint flags per node; of tails, heads (integer node indices), cost coefficients ``a``,
``b`` and bounds per arc. Names are labels over the integer indices: nodes are numbered in insertion
order, arcs too, and a network built from arrays without names calls node ``i`` ``"i"`` without
spelling the names out until they are asked for. ``add_node``/``add_arc`` (small hand-built models)
collect rows that join the columns on the next read; ``from_arrays`` and ``from_networkx`` build the
columns in one vectorized pass, with the same typed errors naming the offending node or arc.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

import otmodel.model.values as values
from otmodel.errors import (
    AmbiguousArcError,
    DuplicateNodeError,
    InvalidDataError,
    NonConvexError,
    OTModelError,
    UnknownNodeError,
)
from otmodel.model._network_read import (
    arc_bounds,
    edge_arrays,
    edge_list,
    first_bad_arc,
    networkx_columns,
    node_keys,
    node_values,
    numeric_names,
    resolve_ends,
    signed_column,
)
from otmodel.model._network_read import labels as _labels
from otmodel.model.costs import ArcCost, ArcCosts, Linear, Quadratic, as_arc_cost, two_way_message

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


_FLUSH_LOCK = threading.Lock()


class Network:
    """A directed network with supplies, endpoints, arc costs and flow bounds.

    Build it by calls::

        net = Network()
        net.add_node("S1", supply=0.5, position=(10, 20))
        net.add_node("I1", endpoint=True, position=(30, 60))
        net.add_arc("S1", "I1", cost=Quadratic(45.0), lower=-1, upper=1)

    or from a networkx ``DiGraph`` (``from_networkx``) or from arrays (``from_arrays``, the fast way
    for large networks: a million arcs in a fraction of a second).
    Data are checked as they are added: a duplicate or unknown node name, a NaN or infinite supply,
    ``lower > upper`` and a non-convex cost each raise their typed error naming the item.
    """

    def __init__(self) -> None:
        # node columns; names None means node i is called str(i) (from_arrays without names)
        self._names: list[str] | None = []
        self._index: dict[str, int] | None = {}  # name -> index, rebuilt lazily when None
        self._n = 0
        self._supply = np.zeros(0)
        self._pos = np.zeros((0, 2))  # NaN row: no position
        self._end = np.zeros(0, dtype=bool)
        # arc columns
        self._tails = np.zeros(0, dtype=np.intp)
        self._heads = np.zeros(0, dtype=np.intp)
        self._a = np.zeros(0)
        self._b = np.zeros(0)
        self._signed = np.zeros(0, dtype=bool)  # cost spelt signed: a p^2 + b p, not a p^2 + b |p|
        self._lower = np.zeros(0)
        self._upper = np.zeros(0)
        # rows added one by one, joined to the columns on the next read (appending to numpy arrays
        # call by call would copy them each time)
        self._new_nodes: list[tuple[float, float, float, bool]] = []
        self._new_arcs: list[tuple[int, int, float, float, float, float, bool]] = []
        self._arc_names: list[str] | None = None
        self._views: dict[str, tuple[Any, ...]] = {}  # the nodes/arcs records, until the next addition

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
        index = self._lookup()
        if key in index:
            raise DuplicateNodeError(f"node {key!r} is defined twice")
        s, pos, is_end = node_values(key, supply, position, endpoint)
        if self._names is None:
            self._names = [str(i) for i in range(self._n)]
        self._names.append(key)
        index[key] = self._n
        self._n += 1
        self._new_nodes.append((s, pos[0], pos[1], is_end) if pos is not None else (s, math.nan, math.nan, is_end))
        self._views = {}
        return self

    def add_arc(
        self,
        tail: Hashable,
        head: Hashable,
        cost: ArcCost | float | None = None,
        lower: float = 0.0,
        upper: float = math.inf,
    ) -> Network:
        """Add arc ``tail -> head`` with ``cost`` (a number means ``Linear``) and bounds."""
        t, h = values.label(tail, "arc tail"), values.label(head, "arc head")
        label = f"arc {t}->{h}"
        index = self._lookup()
        for end in (t, h):
            if end not in index:
                raise UnknownNodeError(f"{label}: unknown node {end!r}")
        # t == h (a self-loop) is allowed: its flow circulates on one node, a column of zeros in
        # the conservation rows (1b)-(1c) that only its cost and bounds see -- networkx's network
        # simplex accepts it too (unbounded at negative cost without capacity, saturated with one)
        lo, up = arc_bounds(label, lower, upper)
        try:
            c = as_arc_cost(cost)
        except InvalidDataError as exc:
            raise type(exc)(f"{label}: {exc}") from None
        if not c.signed and c.b < 0 and lo < 0 < up:
            raise NonConvexError(f"{label}: {two_way_message(c.b)}")
        self._new_arcs.append((index[t], index[h], c.a, c.b, lo, up, c.signed))
        self._arc_names = None
        self._views = {}
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

        With default arguments the graph reads as ``networkx.network_simplex`` reads it:

        * node attribute ``demand`` (default 0) is the node's net *demand*, so the supply is
          `s_i = -\mathrm{demand}_i` (negative demand = supply);
        * edge attribute ``weight`` (default 0) is the linear cost per unit of flow;
        * edge attribute ``capacity`` is the upper bound `u_{ij}`; a missing capacity means
          no bound (`u_{ij} = +\infty`); the lower bound is 0;
        * a ``MultiDiGraph`` gives one arc per edge (parallel arcs, named ``tail->head`` each);
        * an undirected ``Graph``/``MultiGraph`` gives two arcs per edge, ``u->v`` and ``v->u``,
          with the same attributes (a two-way link; a self-loop stays one arc);
        * self-loops are arcs (their flow circulates on one node, at their cost).

        Every mapping is explicit through keyword arguments, which name the attribute to read:
        ``demand``, ``weight``, ``capacity`` (networkx's meanings, as above), or otmodel's own
        meanings, which take precedence when given: ``supply`` (net supply, positive = supply),
        ``cost`` (a number or an ``ArcCost`` such as ``Quadratic(2.0)``),
        ``lower`` and ``upper`` (flow bounds; ``lower`` defaults to 0, ``upper`` to infinity).
        ``position`` (a pair) and ``endpoint`` (a flag) are read if present. For example
        ``Network.from_networkx(G, supply="supply", cost="cost", lower="lower", upper="upper")``
        reads a graph written by ``to_networkx``.

        The attributes are read into columns in one pass over the graph and checked as arrays (a
        100k-node grid reads in well under a second); a graph with a bad value is read again item by
        item, which names the first offending node or edge.

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
        nodes = list(graph.nodes(data=True))
        ends = edge_arrays(graph, nodes)
        node_data = [d for _, d in nodes]
        edge_data = ends[2]
        for kind, named, datas in (("node", node_attr, node_data), ("edge", edge_attr, edge_data)):
            for key, attr in named.items():
                if attr is not None and datas and not any(attr in d for d in datas):
                    raise InvalidDataError(
                        f"from_networkx: {key}={attr!r} names an attribute that no {kind} of the graph has "
                        f"(a misspelt name would read as the default for every {kind})"
                    )
        directed = bool(graph.is_directed())
        keys = dict(demand=demand, weight=weight, capacity=capacity, supply=supply, cost=cost, lower=lower,
                    upper=upper, position=position, endpoint=endpoint)
        cols = networkx_columns(nodes, ends, directed, keys, ArcCost)
        if cols is not None:
            net = cls._checked_columns(*cols)
            if net is not None:
                return net
        # some value is not a plain number, or breaks a rule: read item by item, which raises the
        # typed error naming the first offending node or edge
        return cls._from_networkx_items(nodes, edge_list(graph), directed, keys)

    @classmethod
    def _from_networkx_items(
        cls, nodes: list[Any], edges: list[Any], directed: bool, keys: dict[str, Any]
    ) -> Network:
        """``from_networkx`` node by node and edge by edge (the reference reading; see there)."""
        supply, demand, position, endpoint = keys["supply"], keys["demand"], keys["position"], keys["endpoint"]
        cost, lower, upper = keys["cost"], keys["lower"], keys["upper"]
        net = cls()
        for n, data in nodes:
            label = f"node {str(n)!r}"
            if supply is not None:
                s = data.get(supply, 0.0)
            else:
                d = data.get("demand" if demand is None else demand, 0.0)
                s = -_finite(d, f"{label}: demand")
            net.add_node(n, s, data.get(position), data.get(endpoint, False))
        weight_key = "weight" if keys["weight"] is None else keys["weight"]
        cap_key = "capacity" if keys["capacity"] is None else keys["capacity"]

        def arc(u: Any, v: Any, data: dict[Any, Any]) -> None:
            c = data.get(cost, 0.0) if cost is not None else data.get(weight_key, 0.0)
            lo = data.get(lower, 0.0) if lower is not None else 0.0
            up = data.get(upper, math.inf) if upper is not None else data.get(cap_key, math.inf)
            net.add_arc(u, v, c, lo, up)

        for e in edges:
            u, v, data = e[0], e[1], e[-1]
            arc(u, v, data)
            if not directed and u != v:
                arc(v, u, data)
        return net

    @classmethod
    def from_arrays(
        cls,
        names: Sequence[Hashable] | None,
        supply: ArrayLike,
        tails: ArrayLike,
        heads: ArrayLike,
        quadratic: ArrayLike | None = None,
        linear: ArrayLike | None = None,
        lower: ArrayLike | None = None,
        upper: ArrayLike | None = None,
        positions: ArrayLike | None = None,
        endpoints: ArrayLike | None = None,
        signed: ArrayLike | None = None,
    ) -> Network:
        """Build from arrays: ``tails``/``heads`` are integer node indices or node names.

        ``names`` may be ``None``: node ``i`` is then called ``"i"`` (and the names are not spelt out
        until asked for). ``quadratic`` and ``linear`` give ``a`` and ``b`` of ``a p^2 + b |p|`` per
        arc (default 0; a single number applies to every arc; ``|p| = p`` on a one-way arc),
        ``lower``/``upper`` default to 0 and infinity, ``positions`` is ``(n, 2)``, ``endpoints`` is
        a boolean mask or a list of indices/names, ``signed`` (a flag, or a boolean mask over arcs)
        charges ``a p^2 + b p`` instead (backward flow credited ``b`` per unit).

        Every check is vectorized (an integer array of a million tails and heads is checked in
        milliseconds); the first offending node or arc is named in the typed error, as
        ``add_node``/``add_arc`` name it. An integer label that is also the name of a node (a node
        called ``"7"``) means that node, as in ``add_arc``.
        """
        raw = None if names is None else _labels(names, "names", any_label=True)
        s = values.float_array(supply, "supply").reshape(-1)
        if raw is None:
            keys: list[str] | None = None
            n = int(s.size)
            index: dict[str, int] | None = None
        else:
            n = len(raw)
            if s.shape != (n,):
                raise InvalidDataError(f"supply has {s.size} entries for {n} nodes")
            keys = node_keys(raw)
            index = dict(zip(keys, range(n), strict=True))
            if len(index) != n:
                seen: set[str] = set()
                for key in keys:
                    if key in seen:
                        raise DuplicateNodeError(f"node {key!r} is defined twice")
                    seen.add(key)
        pos = None if positions is None else values.float_array(positions, "positions")
        if pos is not None and pos.shape != (n, 2):
            raise InvalidDataError(f"positions must have shape ({n}, 2), got {pos.shape}")
        numeric = numeric_names(keys)
        is_end = np.zeros(n, dtype=bool)
        if endpoints is not None:
            if _is_mask(endpoints):
                mask = np.asarray(endpoints, dtype=bool).reshape(-1)
                if mask.shape != (n,):
                    raise InvalidDataError(f"endpoint mask has {mask.size} entries for {n} nodes")
                is_end = mask.copy()
            else:
                is_end[resolve_ends(keys, index, n, endpoints, "endpoints", numeric)] = True
        pos_cols = np.full((n, 2), math.nan) if pos is None else pos
        bad = ~np.isfinite(s)
        if pos is not None:
            bad |= ~np.isfinite(pos).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            node_values(str(i) if keys is None else keys[i], s[i], None if pos is None else pos[i], bool(is_end[i]))
        t_idx = resolve_ends(keys, index, n, tails, "tails", numeric)
        h_idx = resolve_ends(keys, index, n, heads, "heads", numeric)
        m = int(t_idx.size)
        if h_idx.size != m:
            raise InvalidDataError(f"tails has {m} entries but heads has {h_idx.size}")

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
        sg = signed_column(signed, m)
        net = cls._columns(keys, index, s, pos_cols, is_end, t_idx, h_idx, qa, lb, lo, up, sg)
        first = first_bad_arc(qa, lb, lo, up, sg)
        if first is not None:
            k = first
            t, h = net._name(int(t_idx[k])), net._name(int(h_idx[k]))
            try:
                ArcCost(qa[k], lb[k])
            except (InvalidDataError, NonConvexError) as exc:
                raise type(exc)(f"arc {k} ({t}->{h}): {exc}") from None
            arc_bounds(f"arc {t}->{h}", lo[k], up[k])
            raise NonConvexError(f"arc {k} ({t}->{h}): {two_way_message(float(lb[k]))}")
        return net

    @classmethod
    def _columns(
        cls,
        keys: list[str] | None,
        index: dict[str, int] | None,
        supply: NDArray[np.float64],
        pos: NDArray[np.float64],
        endpoint: NDArray[np.bool_],
        tails: NDArray[np.intp],
        heads: NDArray[np.intp],
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
        signed: NDArray[np.bool_] | None = None,
    ) -> Network:
        """A network holding these columns as they are (the caller has checked them)."""
        net = cls()
        net._names, net._index, net._n = keys, index, int(supply.size)
        net._supply, net._pos, net._end = supply, pos, endpoint
        net._tails, net._heads = tails.astype(np.intp, copy=False), heads.astype(np.intp, copy=False)
        net._a, net._b, net._lower, net._upper = a, b, lower, upper
        net._signed = np.zeros(a.size, dtype=bool) if signed is None else signed.astype(bool, copy=False)
        return net

    @classmethod
    def _checked_columns(
        cls,
        keys: list[str],
        supply: NDArray[np.float64],
        pos: NDArray[np.float64],
        endpoint: NDArray[np.bool_],
        tails: NDArray[np.intp],
        heads: NDArray[np.intp],
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
    ) -> Network | None:
        """The network of these columns, or None when a node name repeats or a value breaks a rule
        (the caller then reads item by item to name it)."""
        index = dict(zip(keys, range(len(keys)), strict=True))
        if len(index) != len(keys) or not np.isfinite(supply).all():
            return None
        has = ~np.isnan(pos).any(axis=1)
        if not np.isfinite(pos[has]).all() or first_bad_arc(a, b, lower, upper) is not None:
            return None
        return cls._columns(keys, index, supply, pos, endpoint, tails, heads, a, b, lower, upper)

    # ------------------------------------------------------------------ internals
    def _flush(self) -> None:
        """Join the rows added one by one to the columns.

        Under a lock (one for all networks: a lock per network would not pickle), so that two
        threads reading one network cannot both append the same rows."""
        if not (self._new_nodes or self._new_arcs):
            return
        with _FLUSH_LOCK:
            if self._new_nodes:
                rows = np.array(self._new_nodes, dtype=float).reshape(-1, 4)
                self._supply = np.concatenate([self._supply, rows[:, 0]])
                self._pos = np.concatenate([self._pos, rows[:, 1:3]])
                self._end = np.concatenate([self._end, rows[:, 3] != 0])
                self._new_nodes = []
            if self._new_arcs:
                rows = np.array(self._new_arcs, dtype=float).reshape(-1, 7)
                self._tails = np.concatenate([self._tails, rows[:, 0].astype(np.intp)])
                self._heads = np.concatenate([self._heads, rows[:, 1].astype(np.intp)])
                self._a = np.concatenate([self._a, rows[:, 2]])
                self._b = np.concatenate([self._b, rows[:, 3]])
                self._lower = np.concatenate([self._lower, rows[:, 4]])
                self._upper = np.concatenate([self._upper, rows[:, 5]])
                self._signed = np.concatenate([self._signed, rows[:, 6] != 0])
                self._new_arcs = []

    def _lookup(self) -> dict[str, int]:
        if self._index is None:
            self._index = {nm: i for i, nm in enumerate(self.node_names)}
        return self._index

    def _name(self, i: int) -> str:
        return str(i) if self._names is None else self._names[i]

    # ------------------------------------------------------------------ views
    @property
    def nodes(self) -> tuple[Node, ...]:
        """The nodes as ``Node`` records (built on first use after an addition: the network is
        stored as columns)."""
        if "nodes" not in self._views:
            self._flush()
            pos = self._pos.tolist()
            self._views["nodes"] = tuple(
                Node(nm, s, None if math.isnan(p[0]) else (p[0], p[1]), e)
                for nm, s, p, e in zip(self.node_names, self._supply.tolist(), pos, self._end.tolist(), strict=True)
            )
        return self._views["nodes"]

    @property
    def arcs(self) -> tuple[Arc, ...]:
        """The arcs as ``Arc`` records (``Linear`` or ``Quadratic`` costs; built on first use after
        an addition)."""
        if "arcs" not in self._views:
            self._flush()
            names = self.node_names
            self._views["arcs"] = tuple(
                Arc(names[t], names[h], Quadratic(a, b, sg) if a > 0 else Linear(b, sg), lo, up)
                for t, h, a, b, lo, up, sg in zip(
                    self._tails.tolist(), self._heads.tolist(), self._a.tolist(), self._b.tolist(),
                    self._lower.tolist(), self._upper.tolist(), self._signed.tolist(), strict=True,
                )
            )
        return self._views["arcs"]

    @property
    def node_names(self) -> list[str]:
        if self._names is None:
            return [str(i) for i in range(self._n)]
        return list(self._names)

    @property
    def arc_names(self) -> list[str]:
        """``"tail->head"`` per arc (spelt out on first use, then kept)."""
        if self._arc_names is None:
            self._flush()
            names = self.node_names
            self._arc_names = [f"{names[t]}->{names[h]}" for t, h in zip(self._tails.tolist(), self._heads.tolist(), strict=True)]
        return list(self._arc_names)

    @property
    def n_nodes(self) -> int:
        return self._n

    @property
    def n_arcs(self) -> int:
        return int(self._tails.size) + len(self._new_arcs)

    def index(self, name: Hashable) -> int:
        """Integer index of node ``name``."""
        try:
            return self._lookup()[values.label(name, "node")]
        except KeyError:
            raise UnknownNodeError(f"unknown node {values.describe(name)}") from None

    def arc_indices(self, tail: Hashable, head: Hashable) -> list[int]:
        """Indices of every arc ``tail -> head`` (several when arcs are parallel), in arc order."""
        t, h = values.label(tail, "arc tail"), values.label(head, "arc head")
        index = self._lookup()
        if t not in index or h not in index:
            return []
        self._flush()
        return np.flatnonzero((self._tails == index[t]) & (self._heads == index[h])).tolist()

    def arc_index(self, tail: Hashable, head: Hashable) -> int:
        """Index of the arc ``tail -> head``.

        Raises ``AmbiguousArcError`` when parallel arcs join ``tail`` to
        ``head`` (use ``arc_indices`` and the index of the arc meant): answering with one of
        them would silently report another arc's data.
        """
        found = self.arc_indices(tail, head)
        if len(found) == 1:
            return found[0]
        t, h = values.label(tail, "arc tail"), values.label(head, "arc head")
        if found:
            raise AmbiguousArcError(
                f"{len(found)} parallel arcs join {t!r} to {h!r} (arc indices {found}); "
                "name the arc by its index"
            )
        for end in (t, h):
            self.index(end)
        raise UnknownNodeError(f"no arc {t}->{h}")

    # the array views are copies: a caller may change them without changing the network
    @property
    def supply(self) -> NDArray[np.float64]:
        self._flush()
        return self._supply.copy()

    @property
    def endpoint_mask(self) -> NDArray[np.bool_]:
        self._flush()
        return self._end.copy()

    @property
    def endpoints(self) -> NDArray[np.intp]:
        """Indices of the endpoint nodes (the set S), in node order."""
        return np.flatnonzero(self.endpoint_mask)

    @property
    def endpoint_names(self) -> list[str]:
        return [self._name(int(i)) for i in self.endpoints]

    @property
    def tails(self) -> NDArray[np.intp]:
        self._flush()
        return self._tails.copy()

    @property
    def heads(self) -> NDArray[np.intp]:
        self._flush()
        return self._heads.copy()

    @property
    def lower(self) -> NDArray[np.float64]:
        self._flush()
        return self._lower.copy()

    @property
    def upper(self) -> NDArray[np.float64]:
        self._flush()
        return self._upper.copy()

    @property
    def costs(self) -> ArcCosts:
        """The arc costs, two-way arcs charged ``b |p|`` unless signed (``ArcCosts.for_arcs``)."""
        self._flush()
        return ArcCosts.for_arcs(self._a.copy(), self._b.copy(), self._signed, self._lower, self._upper)

    @property
    def signed(self) -> NDArray[np.bool_]:
        """Per arc: True where the cost is spelt signed (``a p^2 + b p``, backward flow credited)."""
        self._flush()
        return self._signed.copy()

    def positions(self, nodes: Iterable[int] | None = None) -> NDArray[np.float64]:
        """Positions as an ``(n, 2)`` array, NaN where a node has none."""
        self._flush()
        if nodes is None:
            return self._pos.copy()
        idx = np.fromiter((int(i) for i in nodes), dtype=np.intp)
        return self._pos[idx].reshape(-1, 2)

    def incidence(self) -> sp.csr_matrix:
        r"""Node-arc incidence matrix `E` with `E_{i,(i,j)} = +1`, `E_{j,(i,j)} = -1`.

        ``(E @ p)[i]`` is the net outflow of node ``i``, the left-hand side of (1b)-(1c). A
        self-loop's +1 and -1 meet in one entry: its column is empty.
        """
        self._flush()
        m, t, h = self.n_arcs, self._tails, self._heads
        # column by column (the tail's +1, then the head's -1), then to rows: linear in the arcs,
        # no sort of the 2m entries, and each row's columns come out in increasing order
        keep = t != h
        if not keep.all():
            t, h = t[keep], h[keep]
        rows = np.empty(2 * t.size, dtype=np.intp)
        rows[0::2], rows[1::2] = t, h
        data = np.empty(2 * t.size)
        data[0::2], data[1::2] = 1.0, -1.0
        if t.size == m:
            indptr = np.arange(0, 2 * m + 1, 2, dtype=np.intp)
        else:
            indptr = np.zeros(m + 1, dtype=np.intp)
            np.cumsum(np.where(keep, 2, 0), out=indptr[1:])
        return sp.csc_matrix((data, rows, indptr), shape=(self.n_nodes, m)).tocsr()

    def to_networkx(self) -> Any:
        import networkx as nx

        g = nx.DiGraph()
        for nd in self.nodes:
            attrs: dict[str, Any] = {"supply": nd.supply, "endpoint": nd.endpoint}
            if nd.position is not None:
                attrs["pos"] = nd.position
            g.add_node(nd.name, **attrs)
        for a in self.arcs:
            g.add_edge(a.tail, a.head, cost=a.cost, lower=a.lower, upper=a.upper)
        return g

    def copy(self) -> Network:
        """An independent network with the same data (the columns are shared until either side adds
        to them: additions make new arrays, never write into old ones)."""
        self._flush()
        net = Network()
        net._names = None if self._names is None else list(self._names)
        net._index = None  # rebuilt on first lookup: a copy need not pay for a million-name dict
        net._n = self._n
        net._supply, net._pos, net._end = self._supply, self._pos, self._end
        net._tails, net._heads, net._a, net._b = self._tails, self._heads, self._a, self._b
        net._lower, net._upper, net._signed = self._lower, self._upper, self._signed
        net._arc_names = self._arc_names
        net._views = dict(self._views)  # immutable records: shared
        return net

    def __repr__(self) -> str:
        return (
            f"Network({self.n_nodes} nodes, {self.n_arcs} arcs, "
            f"{int(self.endpoint_mask.sum())} endpoints, total supply {self.supply.sum():g})"
        )


def number(value: Any, what: str, nan_error: type[OTModelError] = InvalidDataError) -> float:
    """``float(value)``, infinities allowed; a typed error naming ``what`` for text, NaN, ``bool``
    or an integer too large for a float (see ``otmodel.model.values.number``)."""
    return values.number(value, what, nan_error)


def _is_mask(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return bool(value.dtype == bool)
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(x, (bool, np.bool_)) for x in value)
