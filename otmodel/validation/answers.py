r"""Answers computed elsewhere: plain arrays or a file, certified like any otmodel solution.

A practitioner with their own solver has flows, potentials, perhaps an assignment of demand points
to endpoints. ``certify(problem, flows=..., potentials=..., assignment=...)`` certifies any subset
that makes sense (this module builds the ``Solution`` it judges):

* **potentials alone** determine everything for a spatial problem with strictly convex arc costs:
  the dual bound `q(\psi)` (Laurentin et al. 2025, eq. (4)), the flows of the local responses
  `p_{ij}(\psi) = \arg\min_{p\in[l,u]} c_{ij}(p) - (\psi_i - \psi_j)p` (eq. (5)) and the assignment
  of every point to its Laguerre cell `\arg\min_i c(x,i) - \psi_i` (Proposition 1); the repair then
  builds the feasible point that gives the upper bound;
* **flows** (and, for a spatial problem, an **assignment**) alone are judged for feasibility and
  their objective; with no potentials the dual bound is `q(0)`, usually far below, so the answer is
  certified only when its potentials are given too;
* **both**: the usual certificate of ``certify``.

Potentials in the opposite sign convention (`-\psi`: some solvers report the duals of the
conservation rows with the other sign) give a poor bound; when `q(-\psi)` is clearly the better
bound the certificate says so in its ``notes``.

Inputs are checked before anything is computed: an array of the wrong length, a name that is not a
node or arc of the problem, a non-finite number or an unknown key is a typed error naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, UnknownNodeError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = ["answer_solution", "read_answer", "sign_convention_note"]

#: Keys an answer file may hold (``read_answer``); anything else is refused, naming the key.
ANSWER_KEYS = ("flows", "potentials", "assignment", "objective")
#: Keys of an otmodel solution file that an answer file may carry along and that are not read.
IGNORED_KEYS = ("problem", "backend", "solver", "status", "point_status", "timings", "iterations", "message",
                "cell_mass", "info", "dual_value", "certificate")


def _finite_vector(values: Any, n: int, what: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what}: expected {n} numbers, got {type(values).__name__}") from None
    if arr.shape != (n,):
        raise InvalidDataError(f"{what}: {arr.size} numbers for {n} entries")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InvalidDataError(f"{what}[{bad[0]}] = {arr[bad[0]]} is not finite")
    return arr


def _flows(problem: FlowProblem, flows: Any) -> NDArray[np.float64]:
    """Flows in arc order from an array, records ``{"arc"|"tail","head", "flow"}`` or a mapping by arc."""
    m = problem.n_arcs
    if not isinstance(flows, Mapping) and not (isinstance(flows, Sequence) and flows and isinstance(flows[0], Mapping)):
        return _finite_vector(flows, m, "flows")
    index: dict[str, list[int]] = {}  # arc name -> its arcs (several when parallel), built once
    for k, name in enumerate(problem.arc_names):
        index.setdefault(name, []).append(k)

    def by_name(name: str, where: str) -> int:
        arcs = index.get(name)
        if arcs is None:
            raise UnknownNodeError(f"{where}: {name!r} is not an arc of the problem (arcs are named 'tail->head')")
        if len(arcs) > 1:
            raise InvalidDataError(
                f"{where}: {name} names {len(arcs)} parallel arcs; give flows as a list in arc order or as "
                "records with an 'arc' index"
            )
        return arcs[0]

    out = np.zeros(m)
    if isinstance(flows, Mapping):
        for key, value in flows.items():
            name = f"{key[0]}->{key[1]}" if isinstance(key, tuple) and len(key) == 2 else str(key)
            out[by_name(name, "flows")] = _number(value, f"flows[{key!r}]")
        return out
    for j, rec in enumerate(flows):
        if "arc" in rec:
            k = int(rec["arc"])
            if not 0 <= k < m:
                raise InvalidDataError(f"flows[{j}]: arc index {k} is not in 0..{m - 1}")
        else:
            k = by_name(f"{rec.get('tail')}->{rec.get('head')}", f"flows[{j}]")
        out[k] = _number(rec.get("flow"), f"flows[{j}].flow")
    return out


def _number(value: Any, what: str) -> float:
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        value = float(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what} = {value!r} is not a number") from None
    if not math.isfinite(v):
        raise InvalidDataError(f"{what} = {v} is not finite")
    return v


def _potentials(problem: FlowProblem, potentials: Any) -> NDArray[np.float64]:
    names = problem.node_names
    if isinstance(potentials, Mapping):
        index = {name: i for i, name in enumerate(names)}
        out = np.zeros(len(names))
        missing = set(names) - {str(k) for k in potentials}
        if missing:
            raise InvalidDataError(f"potentials: no value for node(s) {sorted(missing)[:5]}")
        for key, value in potentials.items():
            if str(key) not in index:
                raise UnknownNodeError(f"potentials: {key!r} is not a node of the problem")
            out[index[str(key)]] = _number(value, f"potentials[{key!r}]")
        return out
    return _finite_vector(potentials, len(names), "potentials")


def _assignment(problem: SpatialFlowProblem, assignment: Any) -> sp.csr_matrix:
    """A plan ``(N, |S|)`` from a sparse/dense matrix, one endpoint per point (index or name), or
    ``(point, endpoint, mass)`` triples."""
    n, ns = problem.n_points, problem.n_endpoints
    mass = np.asarray(problem.demand.mass, dtype=float)
    if sp.issparse(assignment):
        plan = sp.csr_matrix(assignment, dtype=float)
    else:
        arr = np.asarray(assignment, dtype=object if not isinstance(assignment, np.ndarray) else None)
        if arr.ndim == 2 and arr.shape == (n, ns):
            plan = sp.csr_matrix(np.asarray(arr, dtype=float))
        elif arr.ndim == 1 and arr.shape == (n,):
            ends = problem.endpoint_names
            lookup = {name: i for i, name in enumerate(ends)}
            cols = np.empty(n, dtype=np.intp)
            for k, v in enumerate(arr.tolist()):
                if isinstance(v, str):
                    if v not in lookup:
                        raise UnknownNodeError(f"assignment[{k}] = {v!r} is not an endpoint ({', '.join(ends[:5])} ...)")
                    cols[k] = lookup[v]
                else:
                    i = int(v)
                    if not 0 <= i < ns:
                        raise InvalidDataError(f"assignment[{k}] = {v!r}: endpoint index not in 0..{ns - 1}")
                    cols[k] = i
            plan = sp.csr_matrix((mass.copy(), cols, np.arange(n + 1)), shape=(n, ns))
        elif arr.ndim == 2 and arr.shape[1] == 3:
            triples = np.asarray(arr, dtype=float)
            rows, cols = triples[:, 0].astype(np.intp), triples[:, 1].astype(np.intp)
            if rows.size and (rows.min() < 0 or rows.max() >= n or cols.min() < 0 or cols.max() >= ns):
                raise InvalidDataError(f"assignment: (point, endpoint, mass) triples outside {n} points x {ns} endpoints")
            plan = sp.csr_matrix((triples[:, 2], (rows, cols)), shape=(n, ns))
        else:
            raise InvalidDataError(
                f"assignment: expected an ({n}, {ns}) plan, {n} endpoint labels (one per point) or "
                f"(point, endpoint, mass) triples; got shape {arr.shape}"
            )
    if plan.shape != (n, ns):
        raise InvalidDataError(f"assignment: shape {plan.shape}, expected ({n}, {ns})")
    if plan.nnz and not np.all(np.isfinite(plan.data)):
        raise InvalidDataError("assignment: a plan entry is not finite")
    return plan


def answer_solution(
    problem: FlowProblem,
    flows: Any = None,
    potentials: Any = None,
    assignment: Any = None,
    objective: float | None = None,
    source: str = "outside",
) -> Solution:
    r"""A ``Solution`` of ``problem`` built from arrays computed anywhere (see the module docstring).

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
    flows : array (arc order), mapping ``"tail->head"`` or ``(tail, head)`` -> flow, or records
        ``{"arc": k, "flow": v}`` / ``{"tail", "head", "flow"}``; default: the local responses
        `p(\psi)` of eq. (5) at ``potentials``
    potentials : array (node order) or mapping node -> `\psi_i`, Laurentin et al.'s sign convention
        (eq. (3)-(4)); default 0
    assignment : spatial problems: an ``(N, |S|)`` plan, one endpoint per point (index or name), or
        ``(point, endpoint, mass)`` triples; default: each point in its Laguerre cell at ``potentials``
    objective : the objective the answer claims (checked against the recomputed one), optional; for a
        spatial problem only together with its ``assignment`` (the claim is about that plan)
    source : the name the answer's ``backend`` field takes

    Returns
    -------
    Solution
        status ``UNKNOWN`` (an outside answer claims nothing), point status ``NEARLY_FEASIBLE``:
        ``certify`` judges it.

    Raises
    ------
    InvalidDataError, UnknownNodeError
        Nothing given, an array of the wrong length, a non-finite number, an unknown node or arc.
    """
    if not isinstance(problem, FlowProblem):
        raise InvalidDataError(f"problem must be an otmodel FlowProblem, got {type(problem).__name__}")
    if flows is None and potentials is None and assignment is None:
        raise InvalidDataError("give at least one of flows, potentials, assignment")
    psi = np.zeros(problem.n_nodes) if potentials is None else _potentials(problem, potentials)
    if flows is None:
        p = problem
        flows_arr = p.costs.response(psi[p.tails] - psi[p.heads], p.lower, p.upper)
    else:
        flows_arr = _flows(problem, flows)
    plan = None
    cell_mass = None
    if isinstance(problem, SpatialFlowProblem):
        if assignment is None:
            from otmodel.backends.cells import CellPass

            cells = CellPass(problem)
            labels = cells.labels(psi[problem.endpoints])
            n, ns = problem.n_points, problem.n_endpoints
            plan = sp.csr_matrix((np.asarray(problem.demand.mass, float).copy(), labels, np.arange(n + 1)), shape=(n, ns))
        else:
            plan = _assignment(problem, assignment)
        cell_mass = np.asarray(plan.sum(axis=0)).reshape(-1)
    elif assignment is not None:
        raise InvalidDataError("assignment: a flow problem has no demand points to assign")
    recomputed = float(problem.objective(flows_arr, plan)) if isinstance(problem, SpatialFlowProblem) else float(
        problem.objective(flows_arr)
    )
    if objective is not None and isinstance(problem, SpatialFlowProblem) and assignment is None:
        # the claimed objective is that of a plan not given: no claim about the point rebuilt here
        objective = None
    claimed = recomputed if objective is None else _number(objective, "objective")
    given = [name for name, v in (("flows", flows), ("potentials", potentials), ("assignment", assignment)) if v is not None]
    return Solution(
        problem=problem,
        status=Status.UNKNOWN,
        point_status=PointStatus.NEARLY_FEASIBLE,
        objective=claimed,
        flows=np.asarray(flows_arr, dtype=float),
        potentials=psi,
        backend=source,
        solver=f"an answer computed elsewhere ({', '.join(given)} given)",
        assignment=plan,
        cell_mass=cell_mass,
        message=f"{', '.join(given)} given; the rest reconstructed from the potentials",
        info={"given": tuple(given)},
    )


def sign_convention_note(problem: FlowProblem, psi: NDArray[np.float64], here: float | None = None) -> list[str]:
    r"""A note when `q(-\psi)` is clearly a better bound than `q(\psi)` (the other sign convention);
    ``here`` is `q(\psi)` when the caller has it already."""
    from otmodel.validation.pricing import dual_value

    if not np.any(psi != 0):
        return []
    if here is None:
        here = dual_value(problem, psi)
    flipped = dual_value(problem, -psi)
    if math.isfinite(flipped) and (not math.isfinite(here) or flipped > here + 1e-9 * max(1.0, abs(flipped))):
        return [
            f"the potentials look like the opposite sign convention: q(psi) = {here:.10g} but q(-psi) = "
            f"{flipped:.10g}; otmodel's psi is that of Laurentin et al. eq. (3)-(4) (pass -psi if your "
            "solver reports the duals of the conservation rows with the other sign)"
        ]
    return []


def read_answer(path: str | Path) -> dict[str, Any]:
    """The arrays of an answer file: JSON (an otmodel solution file or ``{"flows", "potentials",
    "assignment", "objective"}``) or NumPy ``.npz`` with arrays of those names.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The keys found among ``flows``, ``potentials``, ``assignment``, ``objective``.

    Raises
    ------
    InvalidDataError
        An unreadable file, another suffix, an unknown key, or none of the keys.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"{p}: no such answer file")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                found = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise InvalidDataError(f"{p}: not a readable .npz file ({exc})") from None
        found = {k: (v.item() if k == "objective" else v) for k, v in found.items()}
    elif suffix == ".json":
        try:
            found = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidDataError(f"{p}: not a readable JSON file ({exc})") from None
        if not isinstance(found, dict):
            raise InvalidDataError(f"{p}: the JSON must be an object with keys {', '.join(ANSWER_KEYS)}")
    else:
        raise InvalidDataError(f"{p}: an answer file is .json or .npz, not {suffix or 'without a suffix'}")
    unknown = sorted(set(found) - set(ANSWER_KEYS) - set(IGNORED_KEYS))
    if unknown:
        raise InvalidDataError(f"{p}: unknown key(s) {unknown}; an answer has {', '.join(ANSWER_KEYS)}")
    answer = {k: found[k] for k in ANSWER_KEYS if k in found and found[k] is not None}
    plan = answer.get("assignment")
    if isinstance(plan, Mapping):
        if {"points", "endpoints", "mass"} <= set(plan):
            # an otmodel solution file: the plan as (point, endpoint, mass) columns
            answer["assignment"] = np.column_stack(
                [np.asarray(plan["points"], float), np.asarray(plan["endpoints"], float), np.asarray(plan["mass"], float)]
            ).reshape(-1, 3)
        else:
            raise InvalidDataError(f"{p}: assignment must be a list or the columns points, endpoints, mass")
    if not answer.keys() & {"flows", "potentials", "assignment"}:
        raise InvalidDataError(f"{p}: none of flows, potentials, assignment found")
    return answer
