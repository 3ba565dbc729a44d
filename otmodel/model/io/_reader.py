"""Plain data of a model file -> a problem, every check naming its place in the file (``arcs[3].upper``)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import (
    InvalidDataError,
    ModelFileError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
)
from otmodel.model.costs import ArcCost, Linear, Quadratic
from otmodel.model.demand import (
    AssignmentCost,
    Density,
    Geodesic,
    Grid,
    Matrix,
    Points,
    Uniform,
)
from otmodel.model.io._schema import (
    _ARC_COST_TYPES,
    _ASSIGNMENT_TYPES,
    _DENSITIES,
    _INF_WORDS,
    _NUMBER_RE,
    _NUMBER_TYPES,
    _PLANAR_COSTS,
    MAX_GRAPH_NODES,
    MAX_POINTS,
    SCHEMA_VERSION,
    T,
    _join,
    _show,
)
from otmodel.model.network import Network
from otmodel.model.problems import BALANCE_RTOL, FlowProblem, SpatialFlowProblem


class _Reader:
    """Reads a parsed model file; every check names its place in the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    # ------------------------------------------------------------------------------------ reporting
    def fail(self, path: str, message: str) -> NoReturn:
        raise ModelFileError(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def build(self, path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a model constructor; a model error keeps its type and gains the file and place."""
        try:
            return fn(*args, **kwargs)
        except ModelFileError:
            raise
        except OTModelError as exc:
            prefix = f"{self.source}: {path}: " if path else f"{self.source}: "
            raise type(exc)(prefix + str(exc)) from None

    # ------------------------------------------------------------------------------------ structure
    def mapping(
        self, value: Any, path: str, required: Iterable[str] = (), optional: Iterable[str] = ()
    ) -> Mapping[str, Any]:
        """Check that ``value`` is a mapping with all ``required`` keys and no key outside both sets."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {_show(value)}")
        req, opt = list(required), list(optional)
        allowed = req + opt
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {_show(key)}")
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                did = f"did you mean {hint[0]!r}? " if hint else ""
                self.fail(_join(path, key), f"unknown key; {did}allowed keys here: {', '.join(allowed)}")
        for key in req:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def typed(self, value: Any, path: str, types: Sequence[str], what: str) -> tuple[str, Mapping[str, Any]]:
        """A mapping with a ``type`` key from ``types``; returns ``(type, mapping)``."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping with a 'type' ({' | '.join(types)}), got {_show(value)}")
        if "type" not in value:
            self.fail(path, f"missing required key 'type' ({' | '.join(types)})")
        kind = value["type"]
        if not isinstance(kind, str) or kind not in types:
            hint = difflib.get_close_matches(kind, types, n=1) if isinstance(kind, str) else []
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            self.fail(_join(path, "type"), f"unknown {what} {_show(kind)}{did} (known: {', '.join(types)})")
        return kind, value

    def sequence(self, value: Any, path: str, what: str = "a list") -> Sequence[Any]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            self.fail(path, f"expected {what}, got {_show(value)}")
        return value

    # ------------------------------------------------------------------------------------ scalars
    def number(self, value: Any, path: str, inf: str = "", minimum: float | None = None) -> float:
        """A float; ``inf`` is ``""`` (finite only), ``"+"``, ``"-"`` or ``"+-"``: the infinities allowed."""
        words = {
            "": "a finite number",
            "+": "a number or 'inf'",
            "-": "a number or '-inf'",
            "+-": "a number, 'inf' or '-inf'",
        }[inf]
        if isinstance(value, _NUMBER_TYPES) and not isinstance(value, (bool, np.bool_)):
            try:
                v = float(value)
            except OverflowError:  # an integer literal of 310+ digits
                digits = int(int(value).bit_length() * math.log10(2)) + 1  # str() refuses 4300+ digits
                self.fail(path, f"expected {words}, got an integer too large for a float (about {digits} digits)")
        elif isinstance(value, str) and value.strip().lower() in _INF_WORDS:
            v = _INF_WORDS[value.strip().lower()]
        elif isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
            v = float(value)
        else:
            self.fail(path, f"expected {words}, got {_show(value)}")
        if math.isnan(v):
            self.fail(path, f"expected {words}, got NaN")
        if math.isinf(v) and ("+" if v > 0 else "-") not in inf:
            self.fail(path, f"expected {words}, got {_show(value)}")
        if minimum is not None and v < minimum:
            self.fail(path, f"must be >= {minimum:g}, got {v:g}")
        return v

    def integer(self, value: Any, path: str, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(value, (bool, np.bool_)):
            self.fail(path, f"expected an integer, got {_show(value)}")
        if isinstance(value, (int, np.integer)):
            k = int(value)
        elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            k = int(value)
        else:
            self.fail(path, f"expected an integer, got {_show(value)}")
        if minimum is not None and k < minimum:
            self.fail(path, f"must be >= {minimum}, got {k}")
        if maximum is not None and k > maximum:
            self.fail(path, f"must be <= {maximum}, got {k}")
        return k

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            self.fail(path, f"expected true or false, got {_show(value)}")
        return bool(value)

    def name(self, value: Any, path: str) -> str:
        """A node name: a non-empty string, or an integer (read as its decimal string)."""
        if isinstance(value, bool):
            # YAML 1.1 reads unquoted yes/no/on/off as booleans
            self.fail(path, f"expected a name, got {_show(value)} (quote names such as 'no' or 'on')")
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a non-empty name, got {_show(value)}")
        return value

    def pair(self, value: Any, path: str) -> tuple[float, float]:
        seq = self.sequence(value, path, "a pair of numbers [x, y]")
        if len(seq) != 2:
            self.fail(path, f"expected a pair of numbers [x, y], got {len(seq)} entries")
        return self.number(seq[0], f"{path}[0]"), self.number(seq[1], f"{path}[1]")

    # ------------------------------------------------------------------------------------ arrays
    def floats(self, value: Any, path: str, inf: str = "", minimum: float | None = None) -> NDArray[np.float64]:
        """A list of numbers as an array, each entry checked (first bad one named)."""
        seq = self.sequence(value, path)
        if all(type(v) is float or (type(v) is int and abs(v) < 2**1000) for v in seq):
            arr = np.array(seq, dtype=float)
            bad = ~np.isfinite(arr)
            if "+" in inf:
                bad &= ~(arr == math.inf)
            if minimum is not None:
                bad |= arr < minimum
            if not bad.any():
                return arr
            k = int(np.flatnonzero(bad)[0])
            self.number(seq[k], f"{path}[{k}]", inf=inf, minimum=minimum)  # raises, naming the entry
        return np.array([self.number(v, f"{path}[{k}]", inf=inf, minimum=minimum) for k, v in enumerate(seq)])

    def points_xy(self, value: Any, path: str) -> NDArray[np.float64]:
        rows = self.sequence(value, path, "a list of [x, y] pairs")
        if len(rows) > MAX_POINTS:
            self.fail(path, f"{len(rows):,} points, more than the limit of {MAX_POINTS:,}")
        if all(
            type(r) is list and len(r) == 2 and all(type(v) is float or (type(v) is int and abs(v) < 2**1000) for v in r)
            for r in rows
        ):
            arr = np.array(rows, dtype=float).reshape(len(rows), 2)
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:
                i, j = (int(v) for v in bad[0])
                self.fail(f"{path}[{i}][{j}]", f"expected a finite number, got {rows[i][j]!r}")
            return arr
        return np.array([self.pair(r, f"{path}[{k}]") for k, r in enumerate(rows)], dtype=float).reshape(-1, 2)

    def node_indices(self, value: Any, path: str, n: int) -> NDArray[np.intp]:
        seq = self.sequence(value, path)
        if all(type(v) is int and abs(v) < 2**62 for v in seq):
            arr = np.array(seq, dtype=np.int64)
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                k = int(bad[0])
                self.fail(f"{path}[{k}]", f"graph node {seq[k]} out of range 0..{n - 1}")
            return arr.astype(np.intp)
        return np.array([self.integer(v, f"{path}[{k}]", 0, n - 1) for k, v in enumerate(seq)], dtype=np.intp)

    # ============================================================================ the problem
    def problem(self, d: Any) -> FlowProblem:
        if d is None:
            self.fail("", "the file is empty; expected a mapping with 'nodes' (see docs/model-files.md)")
        top = self.mapping(
            d,
            "",
            required=["nodes"],
            optional=["otmodel", "name", "kind", "arcs", "demand", "assignment_cost", "options"],
        )
        if "otmodel" in top:
            version = self.integer(top["otmodel"], "otmodel")
            if version != SCHEMA_VERSION:
                self.fail(
                    "otmodel", f"unsupported schema version {version}; this otmodel reads version {SCHEMA_VERSION}"
                )
        name = ""
        if isinstance(top.get("name"), str):
            name = top["name"]
        elif top.get("name") is not None:
            name = self.name(top["name"], "name")
        kind = top.get("kind", "spatial" if "demand" in top else "flow")
        if kind not in ("flow", "spatial"):
            self.fail("kind", f"expected 'flow' or 'spatial', got {_show(kind)}")
        if kind == "spatial" and "demand" not in top:
            self.fail("", "missing required key 'demand' (kind is 'spatial')")
        if kind == "flow":
            for key in ("demand", "assignment_cost"):
                if key in top:
                    self.fail(key, "only a spatial problem has this key (kind is 'flow')")
        balance_rtol = BALANCE_RTOL
        if "options" in top:
            opts = self.mapping(top["options"], "options", optional=["balance_rtol"])
            if "balance_rtol" in opts:
                balance_rtol = self.number(opts["balance_rtol"], "options.balance_rtol", minimum=0.0)

        net, positions = self.network(top["nodes"], top.get("arcs", []))
        if kind == "flow":
            return self.build("", FlowProblem, net, name=name, balance_rtol=balance_rtol)

        demand = self.demand(top["demand"], "demand")
        if not net.endpoint_names:
            raise UnreachableError(
                f"{self.source}: nodes: a spatial problem needs at least one endpoint node (endpoint: true)"
            )
        cost = self.assignment_cost(top.get("assignment_cost", {"type": "euclidean"}), "assignment_cost", demand, net)
        try:
            return SpatialFlowProblem(net, demand, cost, name=name, balance_rtol=balance_rtol)
        except UnbalancedError as exc:
            raise UnbalancedError(f"{self.source}: {exc}") from None
        except ModelFileError:
            raise
        except OTModelError as exc:
            # nodes, arcs and demand are already built and checked: what is left is binding the
            # assignment cost to the demand points and endpoints (positions, reachability, shapes)
            raise type(exc)(f"{self.source}: assignment_cost: {exc}") from None

    # ------------------------------------------------------------------------------------ network
    def network(self, nodes_value: Any, arcs_value: Any) -> tuple[Network, dict[str, tuple[float, float] | None]]:
        nodes = self.sequence(nodes_value, "nodes")
        if not nodes:
            self.fail("nodes", "expected a non-empty list of nodes")
        net = Network()
        positions: dict[str, tuple[float, float] | None] = {}
        for k, item in enumerate(nodes):
            path = f"nodes[{k}]"
            nd = self.mapping(item, path, required=["name"], optional=["supply", "position", "endpoint"])
            name = self.name(nd["name"], f"{path}.name")
            supply = self.number(nd["supply"], f"{path}.supply") if "supply" in nd else 0.0
            pos = None
            if nd.get("position") is not None:
                pos = self.pair(nd["position"], f"{path}.position")
            endpoint = self.boolean(nd["endpoint"], f"{path}.endpoint") if "endpoint" in nd else False
            self.build(path, net.add_node, name, supply=supply, position=pos, endpoint=endpoint)
            positions[name] = pos
        arcs = [] if arcs_value is None else self.sequence(arcs_value, "arcs")
        for k, item in enumerate(arcs):
            path = f"arcs[{k}]"
            a = self.mapping(item, path, required=["tail", "head"], optional=["cost", "lower", "upper"])
            ends = []
            for key in ("tail", "head"):
                end = self.name(a[key], f"{path}.{key}")
                if end not in positions:
                    raise UnknownNodeError(f"{self.source}: {path}.{key}: unknown node {end!r}")
                ends.append(end)
            tail, head = ends  # tail == head is a self-loop, a legitimate arc (Network.add_arc)
            cost = self.arc_cost(a.get("cost", 0.0), f"{path}.cost", positions[tail], positions[head], tail, head)
            # null means "no bound" on either side; an absent lower bound is 0 (flow along the arc only)
            lower, upper = 0.0, math.inf
            if "lower" in a:
                lower = -math.inf if a["lower"] is None else self.number(a["lower"], f"{path}.lower", inf="-")
            if a.get("upper") is not None:
                upper = self.number(a["upper"], f"{path}.upper", inf="+")
            self.build(path, net.add_arc, tail, head, cost, lower, upper)
        return net, positions

    def arc_cost(
        self,
        value: Any,
        path: str,
        tail_xy: tuple[float, float] | None,
        head_xy: tuple[float, float] | None,
        tail: str,
        head: str,
    ) -> ArcCost:
        if not isinstance(value, Mapping):
            if isinstance(value, str) or value is None or isinstance(value, (bool, list)):
                self.fail(
                    path,
                    f"expected a number (linear cost) or a mapping with a 'type' "
                    f"({' | '.join(_ARC_COST_TYPES)}), got {_show(value)}",
                )
            return self.build(path, Linear, self.number(value, path))
        kind, c = self.typed(value, path, _ARC_COST_TYPES, "arc cost type")
        coef = "c" if kind == "linear" else "a"
        self.mapping(c, path, required=["type"], optional=[coef, "per_length"] + (["b"] if kind == "quadratic" else []))
        if (coef in c) == ("per_length" in c):
            self.fail(path, f"give exactly one of {coef!r} and 'per_length'")
        if coef in c:
            x = self.number(c[coef], _join(path, coef))
        else:
            per = self.number(c["per_length"], _join(path, "per_length"))
            missing = [n for n, xy in ((tail, tail_xy), (head, head_xy)) if xy is None]
            if missing:
                self.fail(
                    _join(path, "per_length"), f"needs the positions of both end nodes; node {missing[0]!r} has none"
                )
            assert tail_xy is not None and head_xy is not None
            # same expression as otmodel.instances.synthetic, so that files reproduce it exactly
            x = per * math.hypot(tail_xy[0] - head_xy[0], tail_xy[1] - head_xy[1])
        if kind == "linear":
            return self.build(path, Linear, x)
        b = self.number(c["b"], _join(path, "b")) if "b" in c else 0.0
        return self.build(path, Quadratic, x, b)

    # ------------------------------------------------------------------------------------ demand
    def demand(self, value: Any, path: str) -> Points:
        kind, d = self.typed(value, path, ("grid", "points"), "demand type")
        if kind == "points":
            self.mapping(d, path, required=["type", "xy", "mass"])
            xy = self.points_xy(d["xy"], _join(path, "xy"))
            if isinstance(d["mass"], (list, tuple, np.ndarray)):
                if len(d["mass"]) != len(xy):
                    self.fail(_join(path, "mass"), f"has {len(d['mass'])} entries for {len(xy)} points (xy)")
                mass: Any = self.floats(d["mass"], _join(path, "mass"))
            else:
                mass = self.number(d["mass"], _join(path, "mass"))
            # a negative mass is a model rule (InvalidDataError from Points, naming the point), not a type error
            return self.build(path, Points, xy, mass)
        self.mapping(d, path, required=["type", "bounds", "shape", "density"], optional=["total"])
        bpath, spath = _join(path, "bounds"), _join(path, "shape")
        bounds = self.sequence(d["bounds"], bpath, "[xmin, xmax, ymin, ymax]")
        if len(bounds) != 4:
            self.fail(bpath, f"expected 4 numbers [xmin, xmax, ymin, ymax], got {len(bounds)}")
        b = [self.number(v, f"{bpath}[{k}]") for k, v in enumerate(bounds)]
        shape = self.sequence(d["shape"], spath, "[nx, ny]")
        if len(shape) != 2:
            self.fail(spath, f"expected 2 positive integers [nx, ny], got {len(shape)} entries")
        nx, ny = (self.integer(v, f"{spath}[{k}]", minimum=1) for k, v in enumerate(shape))
        if nx * ny > MAX_POINTS:
            self.fail(spath, f"{nx} x {ny} = {nx * ny:,} grid cells, more than the limit of {MAX_POINTS:,}")
        density = self.density(d["density"], _join(path, "density"))
        total: float | None = 1.0
        if "total" in d:
            total = None if d["total"] is None else self.number(d["total"], _join(path, "total"))
        return self.build(path, Grid.from_density, density, b, (nx, ny), total=total)

    def density(self, value: Any, path: str) -> Density:
        kind, d = self.typed(value, path, tuple(_DENSITIES), "density type")
        if kind == "uniform":
            self.mapping(d, path, required=["type"])
            return Uniform()
        self.mapping(d, path, required=["type", "mean", "std"])
        mean = self.pair(d["mean"], _join(path, "mean"))
        spath = _join(path, "std")
        std: Any
        if isinstance(d["std"], (list, tuple)):
            std = self.pair(d["std"], spath)
        else:
            std = self.number(d["std"], spath)
        return self.build(path, _DENSITIES[kind], mean, std)

    # ------------------------------------------------------------------------------------ assignment
    def assignment_cost(self, value: Any, path: str, demand: Points, net: Network) -> AssignmentCost:
        kind, d = self.typed(value, path, _ASSIGNMENT_TYPES, "assignment cost type")
        if kind in _PLANAR_COSTS:
            self.mapping(d, path, required=["type"])
            return _PLANAR_COSTS[kind]()
        ends = net.endpoint_names
        if kind == "matrix":
            self.mapping(d, path, required=["type", "C"])
            cpath = _join(path, "C")
            rows = self.sequence(d["C"], cpath, "a list of rows (one per demand point)")
            if len(rows) != demand.n:
                self.fail(cpath, f"has {len(rows)} rows for {demand.n} demand points")
            out = np.empty((demand.n, len(ends)), dtype=float)
            for k, row in enumerate(rows):
                r = self.sequence(row, f"{cpath}[{k}]")
                if len(r) != len(ends):
                    self.fail(
                        f"{cpath}[{k}]",
                        f"has {len(r)} entries, expected {len(ends)} (one per endpoint: {', '.join(ends)})",
                    )
                out[k] = self.floats(r, f"{cpath}[{k}]", inf="+")
            return self.build(path, Matrix, out)
        # geodesic
        self.mapping(
            d, path, required=["type", "edges", "point_nodes", "endpoint_nodes"], optional=["n_graph_nodes", "directed"]
        )
        edges = self.sequence(d["edges"], _join(path, "edges"), "a list of [u, v, weight] edges")
        if "n_graph_nodes" in d:
            n = self.integer(d["n_graph_nodes"], _join(path, "n_graph_nodes"), 1, MAX_GRAPH_NODES)
        else:
            n = self._graph_size(d, path, edges)
        u = np.empty(len(edges), dtype=np.intp)
        v = np.empty(len(edges), dtype=np.intp)
        w = np.empty(len(edges), dtype=float)
        seen: dict[tuple[int, int], int] = {}
        for k, e in enumerate(edges):
            epath = f"{_join(path, 'edges')}[{k}]"
            triple = self.sequence(e, epath, "an edge [u, v, weight]")
            if len(triple) != 3:
                self.fail(epath, f"expected an edge [u, v, weight], got {len(triple)} entries")
            u[k] = self.integer(triple[0], f"{epath}[0]", 0, n - 1)
            v[k] = self.integer(triple[1], f"{epath}[1]", 0, n - 1)
            w[k] = self.number(triple[2], f"{epath}[2]")
            if w[k] < 0:
                raise InvalidDataError(f"{self.source}: {epath}[2]: negative edge weight {w[k]:g}")
            key = (int(u[k]), int(v[k]))
            if key in seen:
                self.fail(epath, f"duplicate edge {list(key)} (also edges[{seen[key]}])")
            seen[key] = k
        pnpath = _join(path, "point_nodes")
        pn_list = self.sequence(d["point_nodes"], pnpath)
        if len(pn_list) != demand.n:
            self.fail(pnpath, f"has {len(pn_list)} entries for {demand.n} demand points")
        point_nodes = self.node_indices(pn_list, pnpath, n)
        enpath = _join(path, "endpoint_nodes")
        raw_en = d["endpoint_nodes"]
        if isinstance(raw_en, Mapping):  # a node named 1 is written `1: ...`, which YAML reads as an int key
            raw_en = {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: x for k, x in raw_en.items()}
        en = self.mapping(raw_en, enpath, optional=ends)
        endpoint_nodes = {str(k): self.integer(x, _join(enpath, str(k)), 0, n - 1) for k, x in en.items()}
        directed = self.boolean(d["directed"], _join(path, "directed")) if "directed" in d else False
        graph = sp.csr_matrix((w, (u, v)), shape=(n, n))
        return self.build(path, Geodesic, graph, point_nodes, endpoint_nodes, directed=directed)

    def _graph_size(self, d: Mapping[str, Any], path: str, edges: Sequence[Any]) -> int:
        """Default ``n_graph_nodes``: one more than the largest node index mentioned."""
        biggest = -1
        for e in edges:
            if isinstance(e, (list, tuple)):
                biggest = max([biggest] + [int(x) for x in e[:2] if isinstance(x, int) and not isinstance(x, bool)])
        for x in d["point_nodes"] if isinstance(d["point_nodes"], (list, tuple)) else []:
            if isinstance(x, int) and not isinstance(x, bool):
                biggest = max(biggest, x)
        if isinstance(d["endpoint_nodes"], Mapping):
            for x in d["endpoint_nodes"].values():
                if isinstance(x, int) and not isinstance(x, bool):
                    biggest = max(biggest, x)
        if biggest + 1 > MAX_GRAPH_NODES:
            self.fail(
                path,
                f"graph node {biggest} implies {biggest + 1:,} graph nodes, more than the limit of {MAX_GRAPH_NODES:,}",
            )
        return max(biggest + 1, 1)
