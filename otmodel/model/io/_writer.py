"""A problem -> plain data of the model-file schema (lists, strings, Python numbers), exactly.

Floats are written as Python floats (shortest round-tripping ``repr`` once dumped) and a grid demand
built from a named density as its recipe, so that reading the data back rebuilds the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from otmodel.errors import ModelFileError
from otmodel.model.attraction import AttractionProblem
from otmodel.model.costs import ArcCost
from otmodel.model.demand import AssignmentCost, Geodesic, Grid, Matrix, Points
from otmodel.model.io._attraction import attraction_to_dict
from otmodel.model.io._schema import _ASSIGNMENT_TYPES, _DENSITIES, _PLANAR_COSTS, SCHEMA_VERSION
from otmodel.model.problems import BALANCE_RTOL, FlowProblem, SpatialFlowProblem
from otmodel.model.transport import GraphTransportProblem


def problem_to_dict(problem: FlowProblem | AttractionProblem) -> dict[str, Any]:
    """The problem as a plain dict of the model-file schema (lists, strings, Python numbers).

    Infinite bounds and forbidden (infinite) assignment costs are written as the strings ``"inf"``
    and ``"-inf"`` so that the dict is valid JSON. A grid demand built from a named density is
    written as its recipe; any other demand as its points and masses.

    Raises
    ------
    ModelFileError
        The problem uses something a model file cannot name (a custom assignment-cost class).
    """
    if isinstance(problem, AttractionProblem):
        return attraction_to_dict(problem)
    if not isinstance(problem, FlowProblem):
        raise ModelFileError(f"expected an otmodel problem, got {type(problem).__name__}")
    d: dict[str, Any] = {"otmodel": SCHEMA_VERSION}
    if problem.name:
        d["name"] = str(problem.name)
    if isinstance(problem, GraphTransportProblem):
        return _transport_out(problem, d)
    d["kind"] = problem.kind
    nodes: list[dict[str, Any]] = []
    for nd in problem.network.nodes:
        e: dict[str, Any] = {"name": nd.name}
        if nd.supply != 0.0:
            e["supply"] = float(nd.supply)
        if nd.position is not None:
            e["position"] = [float(nd.position[0]), float(nd.position[1])]
        if nd.endpoint:
            e["endpoint"] = True
        nodes.append(e)
    d["nodes"] = nodes
    arcs: list[dict[str, Any]] = []
    for a in problem.network.arcs:
        e = {"tail": a.tail, "head": a.head, "cost": _arc_cost_out(a.cost)}
        if a.lower != 0.0:
            e["lower"] = _number_out(a.lower)
        if a.upper != math.inf:
            e["upper"] = _number_out(a.upper)
        arcs.append(e)
    d["arcs"] = arcs
    if isinstance(problem, SpatialFlowProblem):
        d["demand"] = _demand_out(problem.demand)
        d["assignment_cost"] = _assignment_out(problem.assignment_cost, problem.endpoint_names)
    if problem.balance_rtol != BALANCE_RTOL:
        d["options"] = {"balance_rtol": float(problem.balance_rtol)}
    return d


def _transport_out(problem: GraphTransportProblem, d: dict[str, Any]) -> dict[str, Any]:
    """``kind: graph_transport``: the distributions per node, cost and capacity per arc, gamma as given.

    The problem's own data are written (not its derived ``Quadratic`` arc costs), so that it reads
    back as a ``GraphTransportProblem`` with the same gamma settings and the same arrays.
    """
    d["kind"] = "graph_transport"
    nodes: list[dict[str, Any]] = []
    for name, r0, r1 in zip(problem.node_names, problem.rho0, problem.rho_inf, strict=True):
        e: dict[str, Any] = {"name": name}
        if r0 != 0.0:
            e["rho0"] = float(r0)
        if r1 != 0.0:
            e["rho_inf"] = float(r1)
        nodes.append(e)
    d["nodes"] = nodes
    d["arcs"] = [
        {"tail": t, "head": h, "cost": float(c), **({"capacity": float(u)} if u != math.inf else {})}
        for (t, h), c, u in zip(problem.edge_list(), problem.arc_cost, problem.capacity, strict=True)
    ]
    d["gamma"] = float(problem.gamma)
    d["gamma_scaling"] = problem.gamma_scaling
    d["split"] = problem.split
    if problem.balance_rtol != BALANCE_RTOL:
        d["options"] = {"balance_rtol": float(problem.balance_rtol)}
    return d


def _number_out(v: float) -> float | str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def _arc_cost_out(c: ArcCost) -> float | dict[str, Any]:
    if c.a == 0.0 and not c.signed:
        return float(c.b)  # a number is a linear cost
    if c.a == 0.0:
        return {"type": "linear", "c": float(c.b), "signed": True}
    d: dict[str, Any] = {"type": "quadratic", "a": float(c.a)}
    if c.b != 0.0:
        d["b"] = float(c.b)
    if c.signed:
        d["signed"] = True
    return d


def _demand_out(demand: Points) -> dict[str, Any]:
    if isinstance(demand, Grid) and demand.density is not None and type(demand.density) in _DENSITIES.values():
        return {
            "type": "grid",
            "bounds": [float(v) for v in demand.grid_bounds],
            "shape": [int(v) for v in demand.shape],
            "density": demand.density.to_dict(),
            "total": None if demand.requested_total is None else float(demand.requested_total),
        }
    # any other measure (a grid from a Python callable included) is written point by point, exactly
    return {"type": "points", "xy": demand.xy.tolist(), "mass": demand.mass.tolist()}


def _assignment_out(cost: AssignmentCost, endpoint_names: Sequence[str]) -> dict[str, Any]:
    if type(cost) in _PLANAR_COSTS.values():
        return {"type": cost.name}
    if type(cost) is Matrix:
        return {"type": "matrix", "C": [[v if v != math.inf else "inf" for v in row] for row in cost.C.tolist()]}
    if type(cost) is Geodesic:
        coo = cost.graph.tocoo()
        return {
            "type": "geodesic",
            "n_graph_nodes": int(cost.graph.shape[0]),
            "directed": bool(cost.directed),
            "edges": [[int(i), int(j), float(x)] for i, j, x in zip(coo.row, coo.col, coo.data, strict=True)],
            "point_nodes": [int(x) for x in cost.point_nodes],
            "endpoint_nodes": {e: int(cost.endpoint_nodes[e]) for e in endpoint_names},
        }
    raise ModelFileError(
        f"cannot write assignment cost {type(cost).__name__}: a model file names its cost from "
        f"{', '.join(_ASSIGNMENT_TYPES)}"
    )
