"""Results: statuses on two axes, the one ``Solution`` type of every backend, traces.

A solution says *why its backend stopped* (``Status``) and *what the returned point is*
(``PointStatus``). An iterative backend never claims ``OPTIMAL`` on its own say-so; it reports
why it stopped and ``otmodel.validation.certify`` says how good the point is.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, UnknownNodeError, UnsupportedError

__all__ = [
    "Status",
    "PointStatus",
    "Solution",
    "Trace",
    "InfeasibilityCertificate",
    "UnboundedCertificate",
]


class Status(enum.StrEnum):
    """Why the backend stopped.

    A string enum: ``Status.OPTIMAL == "optimal"`` and ``f"{status}"`` is the value, so a status
    compares with, and prints as, the word the command line and the JSON files use.

    Attributes
    ----------
    OPTIMAL : "optimal"
        An exact solver proved optimality within its tolerances.
    CONVERGED : "converged"
        An iterative method met its stopping rule (not a proof of optimality: certify the point).
    ITERATION_LIMIT : "iteration_limit"
        ``max_iter`` was reached before the stopping rule.
    TIME_LIMIT : "time_limit"
        ``time_limit`` was reached.
    INFEASIBLE : "infeasible"
        No feasible point exists; ``Solution.certificate`` holds a cut otmodel verified itself.
    UNBOUNDED : "unbounded"
        The objective is unbounded below; ``Solution.certificate`` holds a negative-cost cycle.
    NUMERICAL_ERROR : "numerical_error"
        The solver failed, or claimed infeasibility/unboundedness otmodel could not verify.
    UNKNOWN : "unknown"
        The solver returned a code otmodel does not know; never read as optimal.
    """

    OPTIMAL = "optimal"
    """An exact solver proved optimality within its tolerances."""
    CONVERGED = "converged"
    """An iterative method met its stopping rule (not a proof of optimality: certify the point)."""
    ITERATION_LIMIT = "iteration_limit"
    """The iteration limit ``max_iter`` was reached before the stopping rule."""
    TIME_LIMIT = "time_limit"
    """The time limit was reached."""
    INFEASIBLE = "infeasible"
    """No feasible point exists; ``Solution.certificate`` holds a cut that otmodel verified itself."""
    UNBOUNDED = "unbounded"
    """The objective is unbounded below; ``Solution.certificate`` holds a negative-cost cycle."""
    NUMERICAL_ERROR = "numerical_error"
    """The solver failed, or claimed infeasibility/unboundedness that otmodel could not verify."""
    UNKNOWN = "unknown"
    """The solver returned a code otmodel does not know; never read as optimal."""


class PointStatus(enum.StrEnum):
    """What the returned point is (a string enum, like ``Status``).

    Attributes
    ----------
    FEASIBLE : "feasible"
        Satisfies every constraint within the solver's tolerance.
    NEARLY_FEASIBLE : "nearly_feasible"
        An iterate with small constraint residuals (e.g. flow balance of a dual method).
    INFEASIBLE_POINT : "infeasible_point"
        A point with significant constraint violations.
    CERTIFICATE : "certificate"
        No primal point: the solution carries a certificate of infeasibility or unboundedness.
    NO_POINT : "no_point"
        Nothing usable was returned.
    """

    FEASIBLE = "feasible"
    """Satisfies every constraint within the solver's tolerance."""
    NEARLY_FEASIBLE = "nearly_feasible"
    """An iterate with small constraint residuals (e.g. flow balance of a dual method)."""
    INFEASIBLE_POINT = "infeasible_point"
    """A point with significant constraint violations."""
    CERTIFICATE = "certificate"
    """No primal point: the solution carries a certificate of infeasibility or unboundedness."""
    NO_POINT = "no_point"
    """Nothing usable was returned."""


@dataclass(frozen=True)
class InfeasibilityCertificate:
    r"""A node set `U` whose net supply exceeds what its cut can carry.

    For every feasible flow, net supply of `U` = flow out of `U` - flow into `U`
    `\le \sum_{\delta^+(U)} u - \sum_{\delta^-(U)} l` (the *cut capacity*). ``excess`` is
    ``supply - capacity > 0``. For a spatial problem the node set may include *demand groups*
    (points that can be served by the same endpoints), named ``demand[...]``. ``direction`` is
    ``"out"`` when the set has too much supply for its outgoing capacity, ``"in"`` when it has too
    much demand for what can enter it.

    Attributes
    ----------
    nodes : tuple of str
        Names of the nodes in `U` (and demand groups ``demand[...]``).
    net_supply : float
        Net supply of `U` (``direction="out"``) or its net demand (``"in"``), in mass units.
    cut_capacity : float
        What the arcs out of (into) `U` can carry at most, in mass units.
    direction : {"out", "in"}, default "out"
        Which side of the cut is short of capacity.
    """

    nodes: tuple[str, ...]
    net_supply: float
    cut_capacity: float
    direction: str = "out"

    @property
    def excess(self) -> float:
        return self.net_supply - self.cut_capacity

    def describe(self) -> str:
        verb = "out of" if self.direction == "out" else "into"
        what = "net supply" if self.direction == "out" else "net demand"
        return (
            f"node set {{{', '.join(self.nodes)}}} has {what} {self.net_supply:.6g} but the arcs "
            f"{verb} it can carry at most {self.cut_capacity:.6g}"
        )


@dataclass(frozen=True)
class UnboundedCertificate:
    """A cycle along which flow can grow without bound at negative total cost.

    ``arcs`` lists the arcs of the cycle with the direction in which flow increases (+1 forward,
    -1 backward); ``cost`` is the cost of one unit around it (< 0).

    Attributes
    ----------
    nodes : tuple of str
        The nodes of the cycle in order (the last joins the first).
    arcs : tuple of (str, int)
        Arc name and direction (+1 or -1) of each arc of the cycle.
    cost : float
        Cost of sending one more unit around the cycle, `< 0`.
    """

    nodes: tuple[str, ...]
    arcs: tuple[tuple[str, int], ...]
    cost: float

    def describe(self) -> str:
        return f"cycle {' -> '.join(self.nodes + self.nodes[:1])} has cost {self.cost:.6g} per unit and no bound"


@dataclass
class Trace:
    """Per-iteration records of an iterative backend: column name -> list of values.

    ``trace["step_size"]`` is a column as an array; ``len(trace)`` the number of iterations recorded.

    Attributes
    ----------
    columns : dict of str to list
        Column name (``"step_size"`` and the measures the backend records, e.g. the dual value
        and residuals) -> one value per recorded iteration.
    """

    columns: dict[str, list[Any]] = field(default_factory=dict)

    def append(self, **values: Any) -> None:
        for k, v in values.items():
            self.columns.setdefault(k, []).append(v)

    def __len__(self) -> int:
        return max((len(v) for v in self.columns.values()), default=0)

    def __getitem__(self, key: str) -> NDArray[Any]:
        return np.asarray(self.columns[key])

    def __contains__(self, key: object) -> bool:
        return key in self.columns

    def __repr__(self) -> str:
        return f"Trace({len(self)} iterations; columns {', '.join(self.columns) or 'none'})"

    def to_pandas(self) -> Any:
        """One row per iteration, one column per scalar record (needs pandas, the ``tables`` extra).

        Returns
        -------
        pandas.DataFrame
            Indexed by iteration; per-node arrays (e.g. ``potentials``) stay in ``trace[...]``.
        """
        from otmodel.results.tables import trace_table

        return trace_table(self)


@dataclass(frozen=True, repr=False)
class Solution:
    """The result of every backend.

    Attributes
    ----------
    problem : the problem solved
    status : Status -- why the backend stopped
    point_status : PointStatus -- what the point is
    objective : float -- objective of the returned point (NaN if none)
    flows : (m,) array -- flow per arc (arc order of the problem)
    potentials : (n,) array -- node potentials psi in the sign convention of Laurentin et al.
        eq. (3)-(4): at an exact answer the dual function q(psi) equals the optimum
    assignment : scipy.sparse.csr_matrix ``(N, |S|)`` or None -- the transport plan pi(x_k, i)
    cell_mass : ``(|S|,)`` array or None -- mass assigned to each endpoint
    backend, solver : names
    timings : dict -- seconds spent in 'build', 'solve' and 'total'
    trace : Trace or None
    certificate : InfeasibilityCertificate, UnboundedCertificate or None
    iterations : int
    message : str -- the solver's own words
    info : dict -- anything else a backend reports
    """

    problem: Any
    status: Status
    point_status: PointStatus
    objective: float
    flows: NDArray[np.float64]
    potentials: NDArray[np.float64]
    backend: str
    solver: str
    assignment: sp.csr_matrix | None = None
    cell_mass: NDArray[np.float64] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    trace: Trace | None = None
    certificate: InfeasibilityCertificate | UnboundedCertificate | None = None
    iterations: int = 0
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ name-keyed views
    def flow(self, tail: str, head: str) -> float:
        """Flow on arc ``tail -> head``.

        Raises ``AmbiguousArcError`` when parallel arcs join ``tail`` to
        ``head``: read ``flows[k]`` with the index ``k`` of the arc meant (the message lists them).
        """
        return float(self.flows[self.problem.arc_index(tail, head)])

    def potential(self, node: str) -> float:
        """Potential psi of ``node``."""
        return float(self.potentials[self.problem.node_index(node)])

    def mass(self, endpoint: str) -> float:
        """Demand mass assigned to ``endpoint``."""
        if self.cell_mass is None:
            raise UnsupportedError("this solution has no assignment (not a spatial problem)")
        names = list(self.problem.endpoint_names)
        if str(endpoint) not in names:
            raise UnknownNodeError(f"{endpoint!r} is not an endpoint (endpoints: {', '.join(names[:10])})")
        return float(self.cell_mass[names.index(str(endpoint))])

    @property
    def has_point(self) -> bool:
        return self.point_status in (PointStatus.FEASIBLE, PointStatus.NEARLY_FEASIBLE, PointStatus.INFEASIBLE_POINT)

    def assigned_endpoint(self) -> NDArray[np.intp]:
        """For each demand point, the endpoint (column index) receiving most of its mass."""
        if self.assignment is None:
            raise UnsupportedError("this solution has no assignment (not a spatial problem)")
        return np.asarray(self.assignment.argmax(axis=1)).reshape(-1)

    # ------------------------------------------------------------------ reporting
    def explain(self, certificate: Any = None) -> Any:
        """Tight constraints, the meaning of the potentials, and why the certificate holds, as mathematics.

        See ``otmodel.formulation.explain``; ``str()`` of the result is Markdown.
        """
        import otmodel  # through the package root: results must not import the presentation layer

        return otmodel.formulation.explain(self, certificate)

    def __repr__(self) -> str:
        # one line: the arrays, the trace and the problem stay behind their attributes (summary()
        # gives the readable report)
        p = self.problem
        size = f"{getattr(p, 'n_arcs', '?')} arcs" + (
            f", {p.n_points} points" if getattr(p, "kind", None) == "spatial" else ""
        )
        its = f", {self.iterations} iterations" if self.iterations else ""
        return (
            f"Solution({self.status.value}, point {self.point_status.value}, objective {self.objective:.10g}, "
            f"backend {self.backend!r}{its}; {size})"
        )

    def summary(self) -> str:
        p = self.problem
        lines = [
            f"{type(p).__name__}{' ' + repr(p.name) if getattr(p, 'name', '') else ''}: "
            f"{p.n_nodes} nodes, {p.n_arcs} arcs"
            + (f", {p.n_points} demand points, {p.n_endpoints} endpoints" if p.kind == "spatial" else ""),
            f"backend {self.backend} ({self.solver}): {self.status.value}, point {self.point_status.value}",
        ]
        if self.message:
            lines.append(f"  solver says: {self.message}")
        if self.certificate is not None:
            lines.append(f"  certificate: {self.certificate.describe()}")
        if self.has_point:
            lines.append(f"objective     {self.objective:.10g}")
        t = self.timings
        if t:
            lines.append(
                "time          "
                + ", ".join(f"{k} {v:.3f} s" for k, v in t.items() if isinstance(v, (int, float)))
            )
        if self.iterations:
            lines.append(f"iterations    {self.iterations}")
        if self.has_point:
            w = max(8, max(len(n) for n in p.arc_names) if p.n_arcs else 8)
            lines.append("")
            lines.append(f"{'arc':<{w}}  {'flow':>12}  {'lower':>8}  {'upper':>8}")
            for k, name in enumerate(p.arc_names):
                lines.append(f"{name:<{w}}  {self.flows[k]:>12.6g}  {p.lower[k]:>8.3g}  {p.upper[k]:>8.3g}")
            lines.append("")
            wn = max(6, max(len(n) for n in p.node_names))
            head = f"{'node':<{wn}}  {'supply':>10}  {'potential':>12}"
            if p.kind == "spatial" and self.cell_mass is not None:
                head += f"  {'assigned':>10}"
            lines.append(head)
            ends = list(getattr(p, "endpoints", []))
            for i, name in enumerate(p.node_names):
                row = f"{name:<{wn}}  {p.supply[i]:>10.6g}  {self.potentials[i]:>12.6g}"
                if p.kind == "spatial" and self.cell_mass is not None and i in ends:
                    row += f"  {self.cell_mass[ends.index(i)]:>10.6g}"
                lines.append(row)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the assignment is summarized by endpoint, not written point by point).

        ``flows`` is a list in arc order, one record ``{"arc": k, "tail": ..., "head": ..., "flow": ...}``
        per arc: arcs are identified by their index, so parallel arcs and node names containing
        ``"->"`` keep their identity (a key ``"A->B"`` would merge or confuse them). Potentials are
        keyed by node name and cell masses by endpoint name (names are unique). Infinite or NaN
        numbers are written as the strings ``"inf"``, ``"-inf"``, ``"nan"``.
        """
        p = self.problem

        def num(v: float) -> float | str | None:
            if v is None:
                return None
            v = float(v)
            return v if math.isfinite(v) else str(v)

        out: dict[str, Any] = {
            "problem": getattr(p, "name", "") or type(p).__name__,
            "backend": self.backend,
            "solver": self.solver,
            "status": self.status.value,
            "point_status": self.point_status.value,
            "objective": num(self.objective),
            "timings": {k: float(v) for k, v in self.timings.items()},
            "iterations": self.iterations,
            "message": self.message,
            "flows": [
                {"arc": k, "tail": p.node_names[int(t)], "head": p.node_names[int(h)], "flow": num(self.flows[k])}
                for k, (t, h) in enumerate(zip(p.tails, p.heads, strict=True))
            ]
            if self.has_point
            else [],
            "potentials": {name: num(self.potentials[i]) for i, name in enumerate(p.node_names)}
            if self.has_point
            else {},
        }
        if self.cell_mass is not None:
            out["cell_mass"] = {name: num(self.cell_mass[k]) for k, name in enumerate(p.endpoint_names)}
        if self.assignment is not None and self.has_point:
            # the plan as (point, endpoint, mass) columns, so that the file round-trips (from_json)
            coo = sp.coo_matrix(self.assignment)
            out["assignment"] = {
                "points": coo.row.tolist(),
                "endpoints": coo.col.tolist(),
                "mass": [num(v) for v in coo.data.tolist()],
            }
        if self.certificate is not None:
            c = self.certificate
            if isinstance(c, InfeasibilityCertificate):
                out["certificate"] = {
                    "type": "infeasible",
                    "nodes": list(c.nodes),
                    "net_supply": c.net_supply,
                    "cut_capacity": c.cut_capacity,
                    "direction": c.direction,
                }
            else:
                out["certificate"] = {"type": "unbounded", "nodes": list(c.nodes), "cost": c.cost}
        return out

    def to_pandas(self, table: str | None = None) -> Any:
        """The solution as pandas tables (needs the ``tables`` extra: ``pip install otmodel[tables]``).

        Parameters
        ----------
        table : {"arcs", "nodes", "points"}, optional
            One table; default: a dict of all (``points`` for a spatial problem only).

        Returns
        -------
        pandas.DataFrame or dict of them
            ``arcs``: one row per arc, indexed by arc number (parallel arcs stay apart), with
            ``tail``, ``head``, ``flow``, ``lower``, ``upper``, the cost coefficients ``quadratic``
            (`a`) and ``linear`` (`b`) and the arc's ``cost`` `a p^2 + b p`; ``nodes``: indexed by
            name, ``supply``, ``potential`` (`\\psi`), ``endpoint``, ``assigned_mass``,
            ``net_outflow``; ``points``: ``x``, ``y``, ``mass``, the ``endpoint`` receiving most of
            the point's mass and that ``share``.
        """
        from otmodel.results.tables import TABLES, solution_tables

        tables = solution_tables(self)
        if table is None:
            return tables
        if table not in tables:
            raise UnsupportedError(f"table {table!r}: this solution has {', '.join(tables)} (of {', '.join(TABLES)})")
        return tables[table]

    def to_csv(self, directory: str | Any) -> dict[str, Any]:
        """Write the tables of ``to_pandas`` as ``arcs.csv``, ``nodes.csv`` (and ``points.csv``).

        Parameters
        ----------
        directory : str or Path -- created if missing

        Returns
        -------
        dict
            Table name -> path written.
        """
        from otmodel.results.tables import write_csv

        return write_csv(self, directory)

    @classmethod
    def from_json(cls, problem: Any, source: str | Any) -> Solution:
        """Read back what ``to_json`` wrote, for ``problem`` (the file names the problem, it does not hold it).

        Parameters
        ----------
        problem : the problem the solution belongs to (its arcs and nodes are checked against the file)
        source : a path, or the JSON text itself

        Returns
        -------
        Solution
            Flows, potentials, assignment, cell masses, statuses, objective, timings and message as
            written; the trace is not written to JSON and comes back empty.
        """
        from otmodel.results.tables import read_json

        return solution_from_dict(problem, read_json(source))

    def to_json(self, path: str | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text


def _json_number(value: Any, what: str) -> float:
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidDataError(f"{what} = {value!r} is not a number")
    return float(value)


def solution_from_dict(problem: Any, data: dict[str, Any]) -> Solution:
    """The ``Solution`` of ``problem`` written by ``Solution.to_dict`` (see ``Solution.from_json``)."""
    if not isinstance(data, dict):
        raise InvalidDataError("a solution file holds a JSON object")
    for key in ("status", "point_status", "objective", "flows", "potentials"):
        if key not in data:
            raise InvalidDataError(f"a solution file needs {key!r}")
    try:
        status, point_status = Status(data["status"]), PointStatus(data["point_status"])
    except ValueError as exc:
        raise InvalidDataError(f"unknown status in the solution file: {exc}") from None
    m, n = problem.n_arcs, problem.n_nodes
    flows = np.full(m, math.nan)
    records = data["flows"]
    if records:
        if len(records) != m:
            raise InvalidDataError(f"the file has {len(records)} flows for {m} arcs: is it a solution of this problem?")
        names = problem.node_names
        for rec in records:
            k = int(rec["arc"])
            if not 0 <= k < m or names[int(problem.tails[k])] != rec["tail"] or names[int(problem.heads[k])] != rec["head"]:
                raise InvalidDataError(f"arc {k} of the file ({rec.get('tail')}->{rec.get('head')}) is not arc {k} of the problem")
            flows[k] = _json_number(rec["flow"], f"flows[{k}]")
    psi = np.full(n, math.nan)
    if data["potentials"]:
        index = {name: i for i, name in enumerate(problem.node_names)}
        if set(data["potentials"]) != set(index):
            raise InvalidDataError("the file's potentials name other nodes than the problem's")
        for name, value in data["potentials"].items():
            psi[index[name]] = _json_number(value, f"potentials[{name!r}]")
    plan = None
    cell_mass = None
    if data.get("assignment") is not None:
        coo = data["assignment"]
        shape = (problem.n_points, problem.n_endpoints)
        rows, cols = np.asarray(coo["points"], dtype=np.intp), np.asarray(coo["endpoints"], dtype=np.intp)
        mass = np.asarray(coo["mass"], dtype=float)
        if rows.size and (rows.max() >= shape[0] or cols.max() >= shape[1] or min(rows.min(), cols.min()) < 0):
            raise InvalidDataError(f"the file's assignment does not fit {shape[0]} points x {shape[1]} endpoints")
        plan = sp.csr_matrix((mass, (rows, cols)), shape=shape)
    if data.get("cell_mass") is not None:
        cell_mass = np.array([_json_number(data["cell_mass"][e], f"cell_mass[{e!r}]") for e in problem.endpoint_names])
    return Solution(
        problem=problem,
        status=status,
        point_status=point_status,
        objective=_json_number(data["objective"], "objective") if data["objective"] is not None else math.nan,
        flows=flows,
        potentials=psi,
        backend=str(data.get("backend", "")),
        solver=str(data.get("solver", "")),
        assignment=plan,
        cell_mass=cell_mass,
        timings={k: float(v) for k, v in data.get("timings", {}).items()},
        iterations=int(data.get("iterations", 0)),
        message=str(data.get("message", "")),
        info={"read_from": "json"},
    )
