"""Plain data of a model file -> a problem, every check naming its place in the file (``arcs[3].upper``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.errors import (
    DuplicateNodeError,
    InvalidDataError,
    ModelFileError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
)
from otmodel.model.costs import ArcCost, Linear, Quadratic
from otmodel.model.demand import AssignmentCost, Density, Geodesic, Grid, Matrix, Points, Uniform
from otmodel.model.io._attraction import read_attraction
from otmodel.model.io._fields import _Fields
from otmodel.model.io._schema import (
    _ARC_COST_TYPES,
    _ASSIGNMENT_TYPES,
    _DENSITIES,
    _NUMBER_RE,
    _PLANAR_COSTS,
    KINDS,
    MAX_GRAPH_NODES,
    MAX_POINTS,
    SCHEMA_VERSION,
    _join,
    _show,
)
from otmodel.model.network import Network
from otmodel.model.problems import BALANCE_RTOL, FlowProblem, SpatialFlowProblem
from otmodel.model.transport import GAMMA_SCALINGS, SPLITS, GraphTransportProblem


class _Reader(_Fields):
    """Reads a parsed model file into a problem; every check names its place in the file."""

    # ============================================================================ the problem
    def problem(self, d: Any) -> FlowProblem:
        """The problem a parsed file describes; every independent error is collected, then all raised at once.

        A file's errors are reported together (``collect`` / ``raise_collected``): one pass names
        every bad node, arc and section instead of one error per run. An item that depends on a
        bad one (an arc whose end node is bad, the assignment cost of a bad demand) is skipped, not
        reported, so that one mistake is reported once.
        """
        if d is None:
            self.fail("", "the file is empty; expected a mapping with 'nodes' (see docs/model-files.md)")
        if not isinstance(d, Mapping):
            self.fail("", f"expected a mapping, got {_show(d)}")
        kind = d.get("kind", "spatial" if "demand" in d else "flow")
        if kind not in KINDS:
            self.fail("kind", f"expected one of {', '.join(repr(k) for k in KINDS)}, got {_show(kind)}")
        if kind == "graph_transport":
            return self.graph_transport(d)
        if kind == "attraction":
            return read_attraction(self, d)  # type: ignore[return-value]
        top = self.mapping(
            d,
            "",
            required=["nodes"],
            optional=["otmodel", "name", "kind", "arcs", "demand", "assignment_cost", "options"],
        )
        name, balance_rtol = self.header(top)
        if kind == "spatial" and "demand" not in top:
            self.collect(self.fail, "", "missing required key 'demand' (kind is 'spatial')")
        if kind == "flow":
            for key in ("demand", "assignment_cost"):
                if key in top:
                    self.collect(self.fail, key, "only a spatial problem has this key (kind is 'flow')")
        net, positions = self.network(top["nodes"], top.get("arcs", []))
        if kind == "flow":
            self.raise_collected()
            return self.build("", FlowProblem, net, name=name, balance_rtol=balance_rtol)

        network_ok = not self.errors
        demand = self.collect(self.demand, top["demand"], "demand") if "demand" in top else None
        if network_ok and not net.endpoint_names:
            self.collect(self.fail_as, UnreachableError, "nodes",
                         "a spatial problem needs at least one endpoint node (endpoint: true)")
        cost = None
        if demand is not None and not self.errors:  # the cost is bound to the demand and the endpoints
            spec = top.get("assignment_cost", {"type": "euclidean"})
            cost = self.collect(self.assignment_cost, spec, "assignment_cost", demand, net)
        self.raise_collected()
        assert demand is not None and cost is not None
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

    def header(self, top: Mapping[str, Any]) -> tuple[str, float]:
        """The schema version (checked), the problem's name and ``options.balance_rtol``, errors collected."""
        if "otmodel" in top:
            version = self.collect(self.integer, top["otmodel"], "otmodel")
            if version is not None and version != SCHEMA_VERSION:
                self.collect(
                    self.fail,
                    "otmodel",
                    f"unsupported schema version {version}; this otmodel reads version {SCHEMA_VERSION}",
                )
        name = ""
        if isinstance(top.get("name"), str):
            name = top["name"]
        elif top.get("name") is not None:
            name = self.collect(self.name, top["name"], "name") or ""
        balance_rtol = BALANCE_RTOL
        if "options" in top:
            opts = self.collect(self.mapping, top["options"], "options", optional=["balance_rtol"])
            if opts is not None and "balance_rtol" in opts:
                rtol = self.collect(self.number, opts["balance_rtol"], "options.balance_rtol", minimum=0.0)
                balance_rtol = BALANCE_RTOL if rtol is None else rtol
        return name, balance_rtol

    # ------------------------------------------------------------------------------------ network
    def network(self, nodes_value: Any, arcs_value: Any) -> tuple[Network, dict[str, tuple[float, float] | None]]:
        nodes = self.sequence(nodes_value, "nodes")
        if not nodes:
            self.fail("nodes", "expected a non-empty list of nodes")
        net = Network()
        positions: dict[str, tuple[float, float] | None] = {}
        for k, item in enumerate(nodes):
            self.collect(self.node, k, item, net, positions)
        node_errors = bool(self.errors)
        arcs = [] if arcs_value is None else self.collect(self.sequence, arcs_value, "arcs") or []
        for k, item in enumerate(arcs):
            self.collect(self.arc, k, item, net, positions, node_errors)
        return net, positions

    def node(self, k: int, item: Any, net: Network, positions: dict[str, tuple[float, float] | None]) -> None:
        path = f"nodes[{k}]"
        nd = self.mapping(item, path, required=["name"], optional=["supply", "position", "endpoint"])
        name = self.name(nd["name"], f"{path}.name")
        self.named.add(name)  # known from here on, even if a later field of the node is bad
        supply = self.number(nd["supply"], f"{path}.supply") if "supply" in nd else 0.0
        pos = None
        if nd.get("position") is not None:
            pos = self.pair(nd["position"], f"{path}.position")
        endpoint = self.boolean(nd["endpoint"], f"{path}.endpoint") if "endpoint" in nd else False
        self.build(path, net.add_node, name, supply=supply, position=pos, endpoint=endpoint)
        positions[name] = pos

    def arc(
        self, k: int, item: Any, net: Network, positions: dict[str, tuple[float, float] | None], node_errors: bool
    ) -> None:
        path = f"arcs[{k}]"
        a = self.mapping(item, path, required=["tail", "head"], optional=["cost", "lower", "upper"])
        tail, head = (self.end(a[key], f"{path}.{key}", positions, node_errors) for key in ("tail", "head"))
        # an end at a node reported bad: the arc's own fields are still checked (its cost against a
        # stand-in position), but the arc is not built
        xy = [(0.0, 0.0) if e is None else positions[e] for e in (tail, head)]
        # tail == head is a self-loop, a legitimate arc (Network.add_arc)
        cost = self.arc_cost(a.get("cost", 0.0), f"{path}.cost", xy[0], xy[1], tail or "?", head or "?")
        # null means "no bound" on either side; an absent lower bound is 0 (flow along the arc only)
        lower, upper = 0.0, math.inf
        if "lower" in a:
            lower = -math.inf if a["lower"] is None else self.number(a["lower"], f"{path}.lower", inf="-")
        if a.get("upper") is not None:
            upper = self.number(a["upper"], f"{path}.upper", inf="+")
        if tail is not None and head is not None:
            self.build(path, net.add_arc, tail, head, cost, lower, upper)

    def end(self, value: Any, path: str, known: Mapping[str, Any], node_errors: bool) -> str | None:
        """An arc's end: a good node's name; ``None`` for a node reported bad (not reported again)."""
        end = self.name(value, path)
        if end in known:
            return end
        if end in self.named or node_errors:  # a bad node, or perhaps the one whose name was unreadable
            return None
        raise UnknownNodeError(f"{self.source}: {path}: unknown node {end!r}")

    # ------------------------------------------------------------------------------------ graph transport
    def graph_transport(self, d: Mapping[str, Any]) -> GraphTransportProblem:
        """``kind: graph_transport``: a ``GraphTransportProblem`` (Mokhtari et al. (2.1)/(2.4)), errors collected."""
        top = self.mapping(
            d,
            "",
            required=["nodes"],
            optional=["otmodel", "name", "kind", "arcs", "gamma", "gamma_scaling", "split", "options"],
        )
        name, balance_rtol = self.header(top)
        gamma = 0.0 if "gamma" not in top else self.collect(self.number, top["gamma"], "gamma", minimum=0.0)
        words = {"gamma_scaling": GAMMA_SCALINGS, "split": SPLITS}
        chosen = {"gamma_scaling": "total", "split": "2.4"}
        for key, allowed in words.items():
            if key in top:
                # YAML reads an unquoted 2.4 as a number: the split is named by its equation number
                word = str(top[key]) if isinstance(top[key], (str, float)) else top[key]
                if word not in allowed:
                    self.collect(self.fail, key, f"expected one of {', '.join(allowed)}, got {_show(top[key])}")
                else:
                    chosen[key] = word
        rows = self.sequence(top["nodes"], "nodes")
        if not rows:
            self.fail("nodes", "expected a non-empty list of nodes")
        names: list[str] = []
        masses: dict[str, tuple[float, float]] = {}
        for k, item in enumerate(rows):
            self.collect(self.transport_node, k, item, names, masses)
        node_errors = bool(self.errors)
        arcs = [] if top.get("arcs") is None else self.collect(self.sequence, top["arcs"], "arcs") or []
        edges: list[tuple[str, str]] = []
        cost: list[float] = []
        cap: list[float] = []
        for k, item in enumerate(arcs):
            self.collect(self.transport_arc, k, item, masses, node_errors, edges, cost, cap)
        self.raise_collected()
        assert gamma is not None
        return self.build(
            "",
            GraphTransportProblem,
            edges,
            np.array([masses[n][0] for n in names]),
            np.array([masses[n][1] for n in names]),
            nodes=names,
            cost=np.array(cost, dtype=float),
            capacity=np.array(cap, dtype=float),
            gamma=gamma,
            gamma_scaling=chosen["gamma_scaling"],
            split=chosen["split"],
            name=name,
            balance_rtol=balance_rtol,
        )

    def transport_node(self, k: int, item: Any, names: list[str], masses: dict[str, tuple[float, float]]) -> None:
        path = f"nodes[{k}]"
        nd = self.mapping(item, path, required=["name"], optional=["rho0", "rho_inf"])
        name = self.name(nd["name"], f"{path}.name")
        if name in masses:
            raise DuplicateNodeError(f"{self.source}: {path}: node {name!r} is defined twice")
        self.named.add(name)
        r0, r1 = (self.number(nd[key], f"{path}.{key}", minimum=0.0) if key in nd else 0.0 for key in ("rho0", "rho_inf"))
        names.append(name)
        masses[name] = (r0, r1)

    def transport_arc(
        self,
        k: int,
        item: Any,
        known: Mapping[str, Any],
        node_errors: bool,
        edges: list[tuple[str, str]],
        cost: list[float],
        cap: list[float],
    ) -> None:
        path = f"arcs[{k}]"
        a = self.mapping(item, path, required=["tail", "head"], optional=["cost", "capacity"])
        tail, head = (self.end(a[key], f"{path}.{key}", known, node_errors) for key in ("tail", "head"))
        c = self.number(a["cost"], f"{path}.cost", minimum=0.0) if "cost" in a else 1.0
        u = math.inf if a.get("capacity") is None else self.number(a["capacity"], f"{path}.capacity", inf="+", minimum=0.0)
        if tail is not None and head is not None:
            edges.append((tail, head))
            cost.append(c)
            cap.append(u)

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
            # a number spelled as text is a number here as everywhere in a file: YAML 1.1 reads
            # ``cost: 1e-3`` (an exponent without a dot) as a string, while ``c: 1e-3`` was accepted
            spelled = isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()) is not None
            if (isinstance(value, str) and not spelled) or value is None or isinstance(value, (bool, list)):
                self.fail(
                    path,
                    f"expected a number (linear cost) or a mapping with a 'type' "
                    f"({' | '.join(_ARC_COST_TYPES)}), got {_show(value)}",
                )
            return self.build(path, Linear, self.number(value, path))
        kind, c = self.typed(value, path, _ARC_COST_TYPES, "arc cost type")
        coef = "c" if kind == "linear" else "a"
        self.mapping(
            c, path, required=["type"], optional=[coef, "per_length", "signed"] + (["b"] if kind == "quadratic" else [])
        )
        # a signed cost (backward flow credited b per unit) must be asked for: docs/model-files.md
        signed = self.boolean(c["signed"], _join(path, "signed")) if "signed" in c else False
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
            return self.build(path, Linear, x, signed)
        b = self.number(c["b"], _join(path, "b")) if "b" in c else 0.0
        return self.build(path, Quadratic, x, b, signed)

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
