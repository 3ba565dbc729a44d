r"""``kind: attraction``: an ``AttractionProblem`` (Arqué et al., Problem 1 and Algorithm 1) as a model file.

What is written is the problem's own data, so that it reads back as itself::

    kind: attraction
    nodes:                      # rho_0 and nu per node (probability vectors), storage (10e) when finite
      - {name: a, rho0: 1.0, storage: 2.0}
      - {name: b, nu: 1.0}
    edges:                      # the edge weights W[j, i] (length of j -> i), as the problem holds them
      - {tail: a, head: b, weight: 1.0}
    capacities:                 # the finite entries of edge_capacity (10d); tail == head: the mass that stays
      - {tail: a, head: b, capacity: 0.5}
    directed: false
    omega: 0.1                  # a number, "1/t" or "1/ln t"
    omega_first: 0.75           # optional: the first step's omega
    gamma: 0.1
    eps: 0.001
    schedule_start: 1.0

An undirected problem holds its weights already symmetrized (the smaller weight of the two
directions), so writing both directions and reading them back with ``directed: false`` gives the
same matrix. A schedule given as a Python callable cannot be written (``ModelFileError``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.errors import DuplicateNodeError, ModelFileError, UnknownNodeError
from otmodel.model.attraction import AttractionProblem, Schedule
from otmodel.model.io._fields import _Fields
from otmodel.model.io._schema import SCHEMA_VERSION, _show

_LAW_WORDS = ("1/t", "1/ln t")


# ============================================================================================ writing
def attraction_to_dict(problem: AttractionProblem) -> dict[str, Any]:
    """The problem as plain data of ``kind: attraction`` (see the module docstring)."""
    d: dict[str, Any] = {"otmodel": SCHEMA_VERSION}
    if problem.name:
        d["name"] = str(problem.name)
    d["kind"] = "attraction"
    nodes = []
    for k, name in enumerate(problem.node_names):
        e: dict[str, Any] = {"name": name}
        for key, vec in (("rho0", problem.rho0), ("nu", problem.nu), ("storage", problem.storage)):
            v = float(vec[k])
            if v != (math.inf if key == "storage" else 0.0):
                e[key] = v
        nodes.append(e)
    d["nodes"] = nodes
    names = problem.node_names
    w = sp.coo_matrix(problem.weights)
    d["edges"] = [
        {"tail": names[j], "head": names[i], "weight": float(x)}
        for j, i, x in sorted(zip(w.row.tolist(), w.col.tolist(), w.data.tolist(), strict=True))
    ]
    if problem.edge_capacity is not None:
        # the stored entries are the finite capacities, a zero capacity (kept explicitly) included
        cap = sp.coo_matrix(problem.edge_capacity)
        d["capacities"] = [
            {"tail": names[j], "head": names[i], "capacity": float(x)}
            for j, i, x in sorted(zip(cap.row.tolist(), cap.col.tolist(), cap.data.tolist(), strict=True))
        ]
    d["directed"] = bool(problem.directed)
    starts = {problem.omega.start} | ({problem.gamma.start} if problem.gamma.law != "constant" else set())
    if len(starts) > 1:
        raise ModelFileError("cannot write omega and gamma schedules that start at different values")
    d["omega"] = _schedule_out(problem.omega, "omega")
    if problem.omega.first is not None:
        d["omega_first"] = float(problem.omega.first)
    if problem.gamma.first is not None:
        raise ModelFileError("cannot write a gamma schedule with its own first value")
    d["gamma"] = _schedule_out(problem.gamma, "gamma")
    d["eps"] = float(problem.eps)
    d["schedule_start"] = float(problem.omega.start)
    return d


def _schedule_out(s: Schedule, what: str) -> float | str:
    if s.law == "constant":
        return float(s.c)
    if s.law in _LAW_WORDS:
        return s.law
    raise ModelFileError(f"cannot write {what} = {s.label()}: a model file names a number, '1/t' or '1/ln t'")


# ============================================================================================ reading
def read_attraction(r: _Fields, d: Mapping[str, Any]) -> AttractionProblem:
    """``kind: attraction`` -> ``AttractionProblem``; every independent error collected (``r.collect``)."""
    keys = ["otmodel", "name", "kind", "nodes", "edges", "capacities", "directed", "omega", "omega_first",
            "gamma", "eps", "schedule_start"]
    top = r.mapping(d, "", required=["nodes"], optional=keys)
    if "otmodel" in top:
        version = r.collect(r.integer, top["otmodel"], "otmodel")
        if version is not None and version != SCHEMA_VERSION:
            r.collect(r.fail, "otmodel", f"unsupported schema version {version}; this otmodel reads version {SCHEMA_VERSION}")
    name = "" if top.get("name") is None else r.collect(r.name, top["name"], "name") or ""
    rows = r.sequence(top["nodes"], "nodes")
    if not rows:
        r.fail("nodes", "expected a non-empty list of nodes")
    index: dict[str, int] = {}
    masses = np.zeros((3, len(rows)))
    masses[2] = math.inf
    for k, item in enumerate(rows):
        r.collect(_node, r, k, item, index, masses)
    node_errors = bool(r.errors)
    n = len(rows)
    matrices: dict[str, Any] = {"capacities": None}
    for key, value_key, inf in (("edges", "weight", ""), ("capacities", "capacity", "+")):
        items = [] if top.get(key) is None else r.collect(r.sequence, top[key], key) or []
        entries: list[tuple[int, int, float]] = []
        for k, item in enumerate(items):
            r.collect(_entry, r, f"{key}[{k}]", item, value_key, inf, index, node_errors, entries)
        j, i, x = (np.array([e[c] for e in entries], dtype=float if c == 2 else np.int64) for c in range(3))
        if key == "edges":
            matrices[key] = sp.csr_matrix((x, (j, i)), shape=(n, n))
        elif "capacities" in top:
            # dense, inf where none is given: a zero capacity stays an entry (the problem's cost
            # matrix is dense n x n anyway, so this costs no more)
            cap = np.full((n, n), math.inf)
            cap[j, i] = x
            matrices[key] = cap
    options: dict[str, Any] = {}
    for key in ("omega", "gamma"):
        if key in top:
            options[key] = r.collect(_schedule_in, r, top[key], key)
    for key, minimum in (("omega_first", 0.0), ("eps", None), ("schedule_start", None)):
        if key in top:
            options[key] = r.collect(r.number, top[key], key, minimum=minimum)
    if "directed" in top:
        options["directed"] = r.collect(r.boolean, top["directed"], "directed")
    r.raise_collected()
    return r.build(
        "",
        AttractionProblem,
        matrices["edges"],
        masses[0],
        masses[1],
        edge_capacity=matrices["capacities"],
        storage=masses[2],
        names=list(index),
        name=name,
        **options,
    )


def _node(r: _Fields, k: int, item: Any, index: dict[str, int], masses: np.ndarray) -> None:
    path = f"nodes[{k}]"
    nd = r.mapping(item, path, required=["name"], optional=["rho0", "nu", "storage"])
    name = r.name(nd["name"], f"{path}.name")
    if name in index or name in r.named:
        raise DuplicateNodeError(f"{r.source}: {path}: node {name!r} is defined twice")
    r.named.add(name)
    for row, key in enumerate(("rho0", "nu", "storage")):
        if key in nd:
            masses[row, k] = r.number(nd[key], f"{path}.{key}", inf="+" if key == "storage" else "", minimum=0.0)
    index[name] = k


def _entry(
    r: _Fields,
    path: str,
    item: Any,
    value_key: str,
    inf: str,
    index: Mapping[str, int],
    node_errors: bool,
    entries: list[tuple[int, int, float]],
) -> None:
    e = r.mapping(item, path, required=["tail", "head", value_key])
    ends = []
    for key in ("tail", "head"):
        end = r.name(e[key], f"{path}.{key}")
        if end not in index and not (end in r.named or node_errors):
            raise UnknownNodeError(f"{r.source}: {path}.{key}: unknown node {end!r}")
        ends.append(index.get(end))
    x = r.number(e[value_key], f"{path}.{value_key}", inf=inf, minimum=0.0)
    if ends[0] is not None and ends[1] is not None:
        entries.append((ends[0], ends[1], x))


def _schedule_in(r: _Fields, value: Any, path: str) -> float | str:
    if isinstance(value, str) and value.replace(" ", "") in ("1/t", "1/lnt"):
        return value
    if isinstance(value, str) and not any(ch.isdigit() for ch in value):
        r.fail(path, f"expected a number, '1/t' or '1/ln t', got {_show(value)}")
    return r.number(value, path)
