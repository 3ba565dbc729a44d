"""Reading a network's columns from arrays, label lists and networkx graphs in vectorized passes.

The helpers of ``Network.from_arrays`` and ``Network.from_networkx`` (``otmodel.model.network``):
they turn what a user gives into the integer and float columns of a network, checking as arrays
what ``add_node``/``add_arc`` check item by item, and hand anything unusual (a value that is not a
plain number, a label that is neither a name nor an index) to the item-by-item rules, so that every
error is the typed error naming the first offending node or arc.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

import otmodel.model.values as values
from otmodel.errors import InvalidBoundsError, InvalidDataError, UnknownNodeError

__all__ = [
    "node_values", "arc_bounds", "first_bad_arc", "node_keys", "numeric_names", "resolve_ends", "networkx_columns", "labels", "edge_list", "edge_arrays"]

_BOOL = (bool, np.bool_)
_REAL = (int, float, np.integer, np.floating)


def labels(value: Any, what: str, any_label: bool = False) -> list[Any]:
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
        if not isinstance(it, (str, int, np.integer)) or isinstance(it, _BOOL) or (
            isinstance(it, int) and it.bit_length() > 63
        ):
            raise InvalidDataError(f"{what}[{k}] = {values._describe(it)} is neither a node name nor an index")
    return items


def node_keys(raw: list[Any]) -> list[str]:
    """Node names as ``values.name`` writes them (``str`` of each label, non-empty, UTF-8): checked in
    bulk when every label is already text, label by label otherwise (which names the bad one)."""
    if set(map(type, raw)) <= {str} and min(map(len, raw), default=1) > 0:
        try:
            "\n".join(raw).encode("utf-8")
            return list(raw)
        except UnicodeEncodeError:
            pass
    return [values.name(x, "node name") for x in raw]


def numeric_names(keys: list[str] | None) -> dict[int, int]:
    """``{int(name): index}`` for the names that are how Python writes an integer (``"7"``, ``"-2"``)
    and that do not name the node of that index: an integer label means such a node by its name,
    as ``add_arc(7, ...)`` does, before it means the node of index 7."""
    if not keys:
        return {}
    # one regular-expression pass over the names joined by newlines finds the candidates (a name
    # holding a newline may give a false one, never hide a true one: those are checked below)
    text = "\n".join(keys)
    # most networks name no node by a number: the first byte of every line tells (in UTF-8 no byte
    # of a multi-byte character is an ASCII digit or minus)
    code = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    after = np.flatnonzero(code == 10) + 1
    lead = code[np.concatenate([[0], after[after < code.size]])] if code.size else code
    if not np.any((lead == 45) | ((lead >= 48) & (lead <= 57))):
        return {}
    starts = np.zeros(len(keys), dtype=np.int64)
    np.cumsum(np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))[:-1] + 1, out=starts[1:])
    out: dict[int, int] = {}
    for match in _INTEGER.finditer(text):
        i = int(np.searchsorted(starts, match.start(), side="right")) - 1
        if starts[i] == match.start() and keys[i] == match.group():
            v = int(keys[i])
            if v != i:
                out[v] = i
    return out


_INTEGER = re.compile(r"^(?:0|-?[1-9][0-9]*)$", re.MULTILINE)


def _int_labels(value: Any) -> NDArray[np.int64] | None:
    """``value`` as an int64 array when it is an integer array or a list of plain integers (the fast
    path), else None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "i" and value.ndim <= 1:
            return value.reshape(-1).astype(np.int64, copy=False)
        if value.dtype.kind == "u" and value.ndim <= 1 and (value.size == 0 or int(value.max()) < 2**63):
            return value.reshape(-1).astype(np.int64)
        return None
    if isinstance(value, (list, tuple)) and value:
        types = set(map(type, value))
        if all(issubclass(t, (int, np.integer)) and not issubclass(t, _BOOL) for t in types):
            try:
                return np.array(value, dtype=np.int64)
            except OverflowError:
                return None
    return None


def resolve_ends(
    keys: list[str] | None,
    index: dict[str, int] | None,
    n: int,
    value: Any,
    what: str,
    numeric: dict[int, int] | None = None,
) -> NDArray[np.intp]:
    """Node indices of the labels ``value`` (integer indices or names) of a network of ``n`` nodes
    named ``keys`` (``None``: node ``i`` is ``"i"``); ``UnknownNodeError`` naming ``what[k]`` for the
    first label that is neither. ``numeric`` is ``numeric_names(keys)`` when the caller has it."""
    v = _int_labels(value)
    if v is not None:
        out = v.astype(np.intp)
        hit = np.zeros(v.size, dtype=bool)
        num = numeric_names(keys) if numeric is None else numeric
        if num:
            ks = np.fromiter(num.keys(), dtype=np.int64, count=len(num))
            vs = np.fromiter(num.values(), dtype=np.intp, count=len(num))
            order = np.argsort(ks)
            ks, vs = ks[order], vs[order]
            at = np.minimum(np.searchsorted(ks, v), ks.size - 1)
            hit = ks[at] == v
            out = np.where(hit, vs[at], out)
        bad = ~hit & ((v < 0) | (v >= n))
        if bad.any():
            k = int(np.argmax(bad))
            raise UnknownNodeError(f"{what}[{k}]: node index {int(v[k])} out of range 0..{n - 1}")
        return out
    items = labels(value, what)
    if index is None:
        index = {str(i) if keys is None else keys[i]: i for i in range(n)}
    found = np.empty(len(items), dtype=np.intp)
    for k, it in enumerate(items):
        name = str(it)
        if isinstance(it, (int, np.integer)) and not isinstance(it, bool) and name not in index:
            if not 0 <= int(it) < n:
                raise UnknownNodeError(f"{what}[{k}]: node index {int(it)} out of range 0..{n - 1}")
            found[k] = int(it)
        elif name in index:
            found[k] = index[name]
        else:
            raise UnknownNodeError(f"{what}[{k}]: unknown node {name!r}")
    return found


# ------------------------------------------------------------------------------------ networkx
def edge_list(graph: Any) -> list[Any]:
    """``graph.edges(data=True)`` (``keys=True`` for a multigraph) as a list, in networkx's order."""
    multi = bool(graph.is_multigraph())
    return list(graph.edges(keys=True, data=True) if multi else graph.edges(data=True))


def edge_arrays(graph: Any, nodes: list[Any]) -> tuple[NDArray[np.intp], NDArray[np.intp], list[Any]]:
    """``(tails, heads, data)`` of ``graph``'s edges in the order of ``edge_list``: node indices in the
    order of ``nodes`` (``graph.nodes(data=True)``) and the edges' attribute dicts.

    A simple graph is read from ``graph.adjacency()`` directly, in the order networkx's edge view
    uses (an undirected edge once, from the first of its ends in node order), without the view's
    per-edge calls and tuples: they were most of the cost of reading a 400k-edge graph."""
    where = {nd: i for i, (nd, _) in enumerate(nodes)}
    if graph.is_multigraph() or not hasattr(graph, "adjacency"):
        edges = edge_list(graph)
        m = len(edges)
        tails = np.fromiter((where[e[0]] for e in edges), dtype=np.intp, count=m)
        heads = np.fromiter((where[e[1]] for e in edges), dtype=np.intp, count=m)
        return tails, heads, [e[-1] for e in edges]
    own: list[int] = []
    deg: list[int] = []
    ends: list[int] = []
    data: list[Any] = []
    directed = bool(graph.is_directed())
    seen: set[Any] = set()
    for u, nbrs in graph.adjacency():
        own.append(where[u])
        if directed:
            deg.append(len(nbrs))
            ends.extend(map(where.__getitem__, nbrs))
            data.extend(nbrs.values())
        else:
            vs = [v for v in nbrs if v not in seen]
            deg.append(len(vs))
            ends.extend(map(where.__getitem__, vs))
            data.extend(map(nbrs.__getitem__, vs))
            seen.add(u)
    tails = np.repeat(np.array(own, dtype=np.intp), np.array(deg, dtype=np.intp))
    return tails, np.array(ends, dtype=np.intp).reshape(-1), data


def _numbers(vals: list[Any]) -> NDArray[np.float64] | None:
    """``vals`` as floats when every one is a plain real number (no ``bool``, no text), else None."""
    types = set(map(type, vals))
    if not all(issubclass(t, _REAL) and not issubclass(t, _BOOL) for t in types):
        return None
    try:
        return np.array(vals, dtype=float)
    except (OverflowError, TypeError, ValueError):
        return None


def _costs(vals: list[Any], cost_type: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """``(a, b)`` of costs given as numbers (linear) or ``cost_type`` (``ArcCost``) objects, else None."""
    b = _numbers(vals)
    if b is not None:
        return np.zeros(b.size), b
    qa = np.zeros(len(vals))
    lb = np.zeros(len(vals))
    for k, c in enumerate(vals):
        if isinstance(c, cost_type):
            if c.signed:  # a signed cost is not a column: the item-by-item reading keeps it
                return None
            qa[k], lb[k] = c.a, c.b
        elif isinstance(c, _REAL) and not isinstance(c, _BOOL):
            try:
                lb[k] = float(c)
            except OverflowError:
                return None
        else:
            return None
    return qa, lb


def networkx_columns(
    nodes: list[Any],
    edges: tuple[NDArray[np.intp], NDArray[np.intp], list[Any]],
    directed: bool,
    keys: dict[str, Any],
    cost_type: Any,
) -> tuple[Any, ...] | None:
    """The columns ``(names, supply, positions, endpoint, tails, heads, a, b, lower, upper)`` of a
    networkx graph's ``nodes(data=True)`` and edges (``edge_arrays``) read with the attribute names
    ``keys`` (see ``Network.from_networkx``; costs may be numbers or ``cost_type``, the ``ArcCost``
    class, passed in so that this module needs no import of the costs), or None when some value is not a plain number, flag or
    pair (the caller then reads item by item, which names it). Values are not checked here."""
    try:
        names = node_keys([nd for nd, _ in nodes])
    except InvalidDataError:
        return None
    ndata = [d for _, d in nodes]
    if keys["supply"] is not None:
        supply = _numbers([d.get(keys["supply"], 0.0) for d in ndata])
    else:
        dem = _numbers([d.get("demand" if keys["demand"] is None else keys["demand"], 0.0) for d in ndata])
        supply = None if dem is None else -dem
    if supply is None:
        return None
    n = len(nodes)
    pos = np.full((n, 2), math.nan)
    given = [d.get(keys["position"]) for d in ndata]
    has = np.fromiter((p is not None for p in given), dtype=bool, count=n)
    if has.any():
        try:
            xy = np.array([p for p in given if p is not None])
        except (ValueError, TypeError):
            return None
        if xy.dtype.kind not in "iuf" or xy.shape != (int(has.sum()), 2):
            return None
        pos[has] = xy
    flags = [d.get(keys["endpoint"], False) for d in ndata]
    if not all(issubclass(t, _BOOL) for t in set(map(type, flags))):
        return None
    endpoint = np.array(flags, dtype=bool).reshape(n)
    tails, heads, edata = edges
    m = len(edata)
    if keys["cost"] is not None:
        ab = _costs([d.get(keys["cost"], 0.0) for d in edata], cost_type)
    else:
        lin = _numbers([d.get("weight" if keys["weight"] is None else keys["weight"], 0.0) for d in edata])
        ab = None if lin is None else (np.zeros(m), lin)
    if ab is None:
        return None
    lower = np.zeros(m) if keys["lower"] is None else _numbers([d.get(keys["lower"], 0.0) for d in edata])
    up_key = keys["upper"] if keys["upper"] is not None else ("capacity" if keys["capacity"] is None else keys["capacity"])
    upper = _numbers([d.get(up_key, math.inf) for d in edata])
    if lower is None or upper is None:
        return None
    cols = [ab[0], ab[1], lower, upper]
    if not directed:
        # two arcs per edge, u->v then v->u, in edge order (a self-loop stays one arc)
        two = tails != heads
        rep = np.where(two, 2, 1)
        src = np.repeat(np.arange(m), rep)
        second = np.zeros(src.size, dtype=bool)
        second[(np.cumsum(rep) - 1)[two]] = True
        tails, heads = np.where(second, heads[src], tails[src]), np.where(second, tails[src], heads[src])
        cols = [c[src] for c in cols]
    return (names, supply.reshape(n), pos, endpoint, tails, heads, *cols)


# ------------------------------------------------------------------------------------ rules
def node_values(
    key: str, supply: Any, position: Any, endpoint: Any
) -> tuple[float, tuple[float, float] | None, bool]:
    """A node's supply, position and flag checked (the rules of ``add_node``), or its typed error."""
    s = values.finite(supply, f"node {key!r}: supply")
    pos: tuple[float, float] | None = None
    if position is not None:
        coords = values.float_array(position, f"node {key!r}: position", ndim=1)
        if coords.shape != (2,):
            raise InvalidDataError(f"node {key!r}: position must have 2 coordinates, got {coords.size}")
        pos = (
            values.finite(coords[0], f"node {key!r}: position x"),
            values.finite(coords[1], f"node {key!r}: position y"),
        )
    return s, pos, values.flag(endpoint, f"node {key!r}: endpoint")


def arc_bounds(label: str, lower: Any, upper: Any) -> tuple[float, float]:
    """An arc's bounds checked (NaN, ``lower > upper``, no finite flow), or the typed error."""
    lo, up = _bound(lower, f"{label}: lower"), _bound(upper, f"{label}: upper")
    if lo > up:
        raise InvalidBoundsError(f"{label}: lower bound {lo} exceeds upper bound {up}")
    if lo == math.inf or up == -math.inf:
        raise InvalidBoundsError(f"{label}: bounds [{lo}, {up}] leave no finite flow")
    return lo, up


def signed_column(signed: Any, m: int) -> NDArray[np.bool_]:
    """The per-arc ``signed`` flags of ``Network.from_arrays`` (None: none; a flag: all arcs)."""
    out = np.zeros(m, dtype=bool)
    if signed is not None:
        raw = np.asarray(signed)
        if raw.dtype != bool or raw.size not in (1, m):
            raise InvalidDataError(f"signed must be a flag or a boolean mask of {m} arcs")
        out[...] = raw.reshape(-1)
    return out


def first_bad_arc(
    a: NDArray[np.float64], b: NDArray[np.float64], lo: NDArray[np.float64], up: NDArray[np.float64],
    signed: NDArray[np.bool_] | None = None,
) -> int | None:
    """Index of the first arc whose cost (non-finite, ``a < 0``, ``b < 0`` unsigned on a two-way
    arc: ``b |p|`` is not convex) or bounds (NaN, ``lo > up``, no finite flow) break a rule, or None."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(a) & np.isfinite(b) & (a >= 0) & (lo <= up) & (lo < math.inf) & (up > -math.inf)
        two_way_negative = (b < 0) & (lo < 0) & (up > 0)
        ok &= ~(two_way_negative if signed is None else two_way_negative & ~signed)
    if ok.all():
        return None
    return int(np.argmin(ok))


def _bound(value: Any, what: str) -> float:
    return values.number(value, what, InvalidBoundsError)
