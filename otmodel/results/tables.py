"""Tables out: a solution as pandas DataFrames and CSV files, and its JSON read back.

pandas is an optional dependency (the ``tables`` extra: ``pip install otmodel[tables]``), imported
only here and only when a table is asked for. Arcs are identified by their index (the arc order of
the problem), so parallel arcs keep their identity in every table and file; nodes by name (unique).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.errors import InvalidDataError, UnsupportedError

__all__ = ["solution_tables", "trace_table", "write_csv", "read_json"]

TABLES = ("arcs", "nodes", "points")


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - the extra is installed in the test environment
        raise UnsupportedError("tables need pandas: pip install 'otmodel[tables]'") from None
    return pd


def solution_tables(solution: Any) -> dict[str, Any]:
    """The tables of ``Solution.to_pandas`` (see there)."""
    pd = _pandas()
    p = solution.problem
    names = p.node_names
    costs = p.costs
    flows = np.asarray(solution.flows, dtype=float)
    a, b = np.asarray(costs.a, dtype=float), np.asarray(costs.b, dtype=float)
    arcs = pd.DataFrame(
        {
            "tail": [names[int(t)] for t in p.tails],
            "head": [names[int(h)] for h in p.heads],
            "flow": flows,
            "lower": np.asarray(p.lower, dtype=float),
            "upper": np.asarray(p.upper, dtype=float),
            "quadratic": a,
            "linear": b,
            "cost": np.asarray(costs.value(flows), dtype=float) if flows.size else np.zeros(0),
        },
        index=pd.RangeIndex(p.n_arcs, name="arc"),
    )
    outflow = np.bincount(p.tails, weights=flows, minlength=p.n_nodes)
    inflow = np.bincount(p.heads, weights=flows, minlength=p.n_nodes)
    assigned = np.zeros(p.n_nodes)
    endpoint = np.zeros(p.n_nodes, dtype=bool)
    if getattr(p, "kind", None) == "spatial":
        endpoint[p.endpoints] = True
        if solution.cell_mass is not None:
            assigned[p.endpoints] = np.asarray(solution.cell_mass, dtype=float)
    nodes = pd.DataFrame(
        {
            "supply": np.asarray(p.supply, dtype=float),
            "potential": np.asarray(solution.potentials, dtype=float),
            "endpoint": endpoint,
            "assigned_mass": assigned,
            "net_outflow": outflow - inflow,
        },
        index=pd.Index(names, name="node"),
    )
    tables = {"arcs": arcs, "nodes": nodes}
    if getattr(p, "kind", None) == "spatial":
        demand = p.demand
        xy = np.asarray(demand.xy, dtype=float)
        mass = np.asarray(demand.mass, dtype=float)
        points = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "mass": mass}, index=pd.RangeIndex(len(mass), name="point"))
        if solution.assignment is not None:
            plan = sp.csr_matrix(solution.assignment)
            main = np.asarray(plan.argmax(axis=1)).reshape(-1)
            ends = np.asarray(p.endpoint_names, dtype=object)
            points["endpoint"] = ends[main]
            share = np.asarray(plan[np.arange(plan.shape[0]), main]).reshape(-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                points["share"] = np.where(mass > 0, share / mass, 1.0)
        tables["points"] = points
    return tables


def trace_table(trace: Any) -> Any:
    """A trace as a DataFrame: one row per iteration, one column per scalar record (arrays such as
    the potentials per iteration stay in ``trace[...]``)."""
    pd = _pandas()
    columns = {}
    for key, values in trace.columns.items():
        if values and np.ndim(values[0]) == 0:
            columns[key] = np.asarray(values)
    frame = pd.DataFrame(columns)
    frame.index.name = "iteration"
    return frame


def write_csv(solution: Any, directory: str | Path) -> dict[str, Path]:
    """Write ``arcs.csv``, ``nodes.csv`` (and ``points.csv``) into ``directory``; returns the paths."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise InvalidDataError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in solution_tables(solution).items():
        path = out / f"{name}.csv"
        frame.to_csv(path)
        paths[name] = path
    return paths


def read_json(source: str | Path) -> dict[str, Any]:
    """A JSON object from a path or from JSON text."""
    text = str(source)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise InvalidDataError(f"{path}: no such solution file")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidDataError(f"not a JSON solution: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidDataError("a solution file holds a JSON object")
    return data
