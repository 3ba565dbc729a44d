r"""Wasserstein attraction flows on a network (Arqué, Uribe, Ocampo-Martinez).

A distribution `\rho_t` over the nodes of a graph moves towards a target `\nu` in
discrete steps; each step is the constrained, entropy-regularized Wasserstein barycenter of
`\rho_t` (weight `\omega`) and `\nu` (weight `1-\omega`), Problem 1 of the
paper:

.. math::

    \min_{\pi_1,\pi_2 \ge 0}\; \omega\,\mathrm{KL}(\pi_1|\xi) + (1-\omega)\,\mathrm{KL}(\pi_2|\xi),
    \qquad \xi = e^{-C/\gamma}                                                         \quad (10a)

    \pi_1 \mathbf 1 = \rho_t,\quad \pi_2 \mathbf 1 = \nu                                 \quad (10b)

    \pi_1^\top \mathbf 1 = \pi_2^\top \mathbf 1 = p                                     \quad (10c)

    \pi_1 \le \tilde C                                                                   \quad (10d)

    p \le \bar\rho \ \ (\text{storage})                                                 \quad (10e)

    p_i \le \textstyle\sum_{j:\,\bar A_{ji}=1} [\rho_t]_j                                \quad (10f)

and `\rho_{t+1} = p`. ``C`` is the shortest-path metric of the weighted graph, ``A-bar = A + I``
(a node may keep its mass). The support rule (15) sets `\tilde C_{ji} = 0` when
`j \in \mathrm{supp}(\rho_t)` and `\bar A_{ji} = 0`: mass moves at most one edge per step.

Index convention (this module, all backends): ``plan[j, i]`` is the mass moved from node ``j``
(holding `\rho_t`) to node ``i`` (in `\rho_{t+1}`); ``edge_capacity[j, i]`` bounds it;
``target_plan[k, i]`` couples `\nu_k` with `p_i`. (The paper writes the transpose in
section II-A and this orientation in Problem 1; we follow Problem 1.)

The problem is validated once, on construction, and is immutable afterwards. ``AttractionProblem.step``
builds one instance of Problem 1 (``AttractionStep``) for a given `\rho_t`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import shortest_path

import otmodel.model.values as values
from otmodel.errors import DuplicateNodeError, InvalidDataError, UnbalancedError, UnreachableError
from otmodel.model.attraction_graphs import GRAPH_FAMILIES, graph_family
from otmodel.model.network import Network

__all__ = [
    "AttractionProblem",
    "AttractionStep",
    "Schedule",
    "StepInfeasibleWarning",
    "as_schedule",
    "total_variation",
    "graph_family",
    "GRAPH_FAMILIES",
]

#: masses below this are treated as zero when the support of rho_t is taken (support rule (15))
SUPPORT_EPS = 0.0


class StepInfeasibleWarning(UserWarning):
    """A step of Algorithm 1 is infeasible (or could not be solved): Lemma 1's conditions fail.

    The message names the step, the condition and the node.
    """


def total_variation(a: ArrayLike, b: ArrayLike) -> float:
    r"""Total-variation distance `\tfrac12 \|a - b\|_1` (the stopping rule of Algorithm 1)."""
    return 0.5 * float(np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


# ----------------------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class Schedule:
    r"""A parameter that may change with the step: `\omega(t)` or `\gamma(t)`.

    ``value(t)`` is evaluated at the 0-based step index ``t`` (the step from `\rho_t` to
    `\rho_{t+1}`). Built-in laws are evaluated at `s = t + \text{start}`:

    * ``"constant"``: ``c``
    * ``"1/t"``: `1/s`
    * ``"1/ln t"``: `1/\ln s`

    The paper does not say where its index starts. ``start`` must keep the weights in [0, 1]
    (``1/ln s <= 1`` needs ``s >= e``). ``first`` overrides the value of the very first step (the
    paper's "0.75 then 0.1" of Fig. 2).

    Parameters
    ----------
    law : {"constant", "1/t", "1/ln t", "callable"}, default "constant"
        The law above; ``"callable"`` evaluates ``func(t)``. Another string raises
        ``InvalidDataError`` listing these.
    c : float, default 0.1
        The value of a ``"constant"`` law (finite).
    start : float, default 1.0
        The law's argument `s` at the first step (`t = 0`), finite.
    first : float, optional
        Value used for the first step only, whatever the law (finite).
    func : callable, optional
        ``func(t) -> float`` for ``law="callable"`` (required then).
    """

    law: str = "constant"
    c: float = 0.1
    start: float = 1.0
    first: float | None = None
    func: Callable[[int], float] | None = None

    def __post_init__(self) -> None:
        if self.law not in _LAWS:
            raise InvalidDataError(f"unknown schedule law {values.describe(self.law)}; use one of {', '.join(_LAWS)}")
        object.__setattr__(self, "c", values.finite(self.c, "schedule constant c"))
        object.__setattr__(self, "start", values.finite(self.start, "schedule start"))
        if self.first is not None:
            object.__setattr__(self, "first", values.finite(self.first, "schedule first value"))
        if self.law == "callable" and not callable(self.func):
            raise InvalidDataError(f"a 'callable' schedule needs a function of t, got {values.describe(self.func)}")

    def value(self, t: int) -> float:
        if t == 0 and self.first is not None:
            return float(self.first)
        s = t + self.start
        if self.law == "constant":
            return float(self.c)
        if self.law == "1/t":
            return 1.0 / s if s != 0 else math.inf
        if self.law == "1/ln t":
            return 1.0 / math.log(s) if s > 1 else math.inf
        if self.law == "callable" and self.func is not None:
            return values.number(self.func(t), f"schedule {getattr(self.func, '__name__', 'callable')}({t})")
        raise InvalidDataError(f"unknown schedule law {values.describe(self.law)}")

    def __call__(self, t: int) -> float:
        return self.value(t)

    def label(self) -> str:
        base = {
            "constant": f"{self.c:g}",
            "1/t": "1/t",
            "1/ln t": "1/ln t",
            "callable": getattr(self.func, "__name__", "callable"),
        }[self.law]
        return f"{self.first:g} then {base}" if self.first is not None else base

    def with_first(self, first: float) -> Schedule:
        """The same law with the first step's value overridden."""
        return Schedule(self.law, self.c, self.start, first, self.func)


_LAWS = ("constant", "1/t", "1/ln t", "callable")
ScheduleLike = float | int | str | Callable[[int], float] | Schedule


def as_schedule(x: ScheduleLike, name: str, start: float = 1.0, first: float | None = None) -> Schedule:
    """A ``Schedule`` from a number, a law name (``"1/t"``, ``"1/ln t"``) or a callable of ``t``."""
    start = values.finite(start, "schedule_start")
    if first is not None:
        first = values.finite(first, f"{name}_first")
    if isinstance(x, Schedule):
        return x if first is None else x.with_first(first)
    if isinstance(x, (bool, np.bool_)):
        raise InvalidDataError(f"{name} must be a number, '1/t', '1/ln t' or a callable, got {values.describe(x)}")
    if isinstance(x, (int, float, np.floating, np.integer)):
        return Schedule("constant", values.finite(x, name), start, first)
    if isinstance(x, str):
        key = x.replace(" ", "").lower()
        law = {"1/t": "1/t", "1/lnt": "1/ln t", "1/log(t)": "1/ln t", "1/ln(t)": "1/ln t"}.get(key)
        if law is None:
            raise InvalidDataError(f"{name}: unknown schedule {values.describe(x)}; use a number, '1/t', '1/ln t' or a callable")
        return Schedule(law, 0.0, start, first)
    if callable(x):
        return Schedule("callable", 0.0, start, first, x)
    raise InvalidDataError(f"{name} must be a number, '1/t', '1/ln t' or a callable, got {type(x).__name__}")


# ------------------------------------------------------------------------------------ helpers
def _square(x: Any, n: int, what: str, names: Sequence[str], allow_inf: bool) -> sp.csr_matrix | NDArray[np.float64]:
    if sp.issparse(x):
        m = _sparse(x, what)
        vals = m.data
    else:
        m = values.float_array(x, what)
        vals = m.reshape(-1)
    if m.shape != (n, n):
        raise InvalidDataError(f"{what} has shape {m.shape}, expected ({n}, {n})")
    bad = np.isnan(vals) | (vals < 0) | (~allow_inf & np.isinf(vals))
    if bad.any():
        if sp.issparse(m):
            coo = sp.coo_matrix(m)
            k = int(np.flatnonzero(bad)[0])
            j, i, v = int(coo.row[k]), int(coo.col[k]), float(coo.data[k])
        else:
            j, i = (int(z) for z in np.unravel_index(int(np.flatnonzero(bad)[0]), (n, n)))
            v = float(m[j, i])
        rule = "must be non-negative" + ("" if allow_inf else " and finite")
        raise InvalidDataError(f"{what}[{names[j]!r}, {names[i]!r}] = {v:g}: {rule}")
    return m


def _sparse(x: Any, what: str) -> sp.csr_matrix:
    """A scipy sparse matrix as a float CSR matrix, its stored values checked like any array."""
    coo = sp.coo_matrix(x)
    data = values.float_array(coo.data, what)
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=coo.shape)


def _vector(x: ArrayLike, n: int, what: str, names: Sequence[str], allow_inf: bool = False) -> NDArray[np.float64]:
    v = values.float_array(x, what)
    if v.ndim != 1 or v.shape[0] != n:
        raise InvalidDataError(f"{what} has shape {v.shape}, expected ({n},) (one value per node)")
    bad = np.isnan(v) | (v < 0) | (np.isinf(v) & (not allow_inf))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        rule = "must be non-negative" + ("" if allow_inf else " and finite")
        raise InvalidDataError(f"{what}[{names[k]!r}] = {float(v[k]):g}: {rule}")
    return v


def _from_network(net: Network, directed: bool) -> tuple[sp.csr_matrix, sp.coo_matrix | None, list[str]]:
    """Edge weights, capacities and node names of a ``Network`` read as an attraction graph.

    Arc ``j -> i`` with linear cost ``b > 0`` is an edge of length ``b``; a finite ``upper`` is its
    capacity (10d), and ``lower < 0`` lets mass go ``i -> j`` too, up to ``-lower`` (the network's
    two-way link; an undirected graph's one-way arc too, with the same capacity). A self-loop's
    ``upper`` bounds the mass that stays (its cost is ignored: staying is free). Supplies must be 0:
    the masses are ``rho0`` and ``nu``.
    """
    names, t, h, n = net.node_names, net.tails, net.heads, net.n_nodes
    costs, lo, up, supply = net.costs, net.lower, net.upper, net.supply
    # the edge length is the arc's own coefficient b: ArcCosts stores -b on an unsigned arc that
    # runs only backwards (b|p| = -b p there), which is not a length
    costs = type(costs)(costs.a, np.where(~net.signed & (up <= 0), -costs.b, costs.b), costs.kink)
    if (supply != 0).any():
        k = int(np.flatnonzero(supply != 0)[0])
        raise InvalidDataError(f"node {names[k]!r}: supply {supply[k]:g}; the masses are rho0 and nu (supplies must be 0)")
    for bad, rule in (
        (costs.a != 0, "a quadratic cost; an attraction edge has a length (a linear cost per unit)"),
        ((t != h) & ~(costs.b > 0), "cost {b:g}; an edge's length must be positive (networkx: its 'weight')"),
        (lo > 0, "lower bound {lo:g} > 0; mass is never forced along an edge"),
    ):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidDataError(f"arc {names[t[k]]}->{names[h[k]]}: " + rule.format(b=costs.b[k], lo=lo[k]))
    back = np.flatnonzero(lo < 0)  # two-way links: the reverse direction, up to -lower
    r, c = np.r_[t, h[back]], np.r_[h, t[back]]
    w, cap = np.r_[costs.b, costs.b[back]], np.r_[up, -lo[back]]
    key = r * n + c
    uniq, count = np.unique(key, return_counts=True)
    if (count > 1).any():
        a, b = divmod(int(uniq[count > 1][0]), n)
        raise InvalidDataError(f"two arcs join {names[a]!r} to {names[b]!r}; mass moves between two nodes along one edge")
    if not directed:  # the reverse of a one-way arc, with its capacity
        rev = ~np.isin(c * n + r, key)
        r, c, w, cap = np.r_[r, c[rev]], np.r_[c, r[rev]], np.r_[w, w[rev]], np.r_[cap, cap[rev]]
    loop = r == c
    W = sp.csr_matrix((w[~loop], (r[~loop], c[~loop])), shape=(n, n))
    fin = np.isfinite(cap)
    caps = sp.coo_matrix((cap[fin], (r[fin], c[fin])), shape=W.shape) if fin.any() else None
    return W, caps, names


# ------------------------------------------------------------------------------------- problem
class AttractionProblem:
    r"""A Wasserstein attraction flow on a weighted graph (Arqué et al., Problem 1 and Algorithm 1).

    Parameters
    ----------
    graph : Network, networkx graph, or (n, n) array or scipy.sparse matrix
        The graph, as the other problems take it: a ``Network`` (or a networkx graph, read by
        ``Network.from_networkx``: edge ``weight`` is the length), in which arc ``j -> i`` with
        linear cost ``b > 0`` is an edge of length ``b``, a finite ``upper`` its capacity (10d),
        ``lower < 0`` a two-way link (``i -> j`` up to ``-lower``), a self-loop's ``upper`` the mass
        that may stay, and supplies are 0. Or edge weights as a matrix: ``graph[j, i] > 0`` is the
        cost of one unit of mass on edge ``j -> i``; zero (or absent in a sparse matrix) means no
        edge. Diagonal entries (self-loops) are allowed and ignored: every node is linked to itself
        (``A-bar = A + I``) at cost 0.
    rho0, nu : (n,) arrays
        Initial and target distributions (probability vectors: non-negative, finite, sum 1 within ``mass_tol``).
    edge_capacity : (n, n) array or sparse matrix, optional
        ``edge_capacity[j, i]`` bounds the mass moved ``j -> i`` in one step (10d); ``inf`` (or an
        absent entry of a sparse matrix) means unbounded. The diagonal bounds the mass that stays.
    storage : (n,) array, optional
        Node storage capacities `\bar\rho` (10e); ``inf`` means unbounded.
    omega : number, "1/t", "1/ln t", callable or Schedule
        Weight of `\rho_t` in the barycenter (``omega_first`` overrides the first step).
    gamma : positive number, callable or Schedule
        Entropic regularization `\gamma(t)` (same units as the edge weights); ignored by exact steps.
    eps : float
        Accuracy of Algorithm 1: stop when `\tfrac12\|\nu-\rho_t\|_1 \le \varepsilon`.
    directed : bool
        If False (default) every edge may be used both ways (the weight matrix is symmetrized with
        the smaller non-zero weight of the two directions).
    names : node names of a matrix (default "0", "1", ...); a network names its own nodes
    schedule_start : float
        Value of the schedule argument at the first step (see ``Schedule``).
    omega_first : float, optional
        Value of `\omega` at the very first step only (the paper's "0.75 then 0.1", Fig. 2).
    mass_tol : float, default 1e-9
        Tolerance on `\sum \rho_0 = \sum \nu = 1`.
    name : str, default ""
        A label for reports and model files.

    Raises
    ------
    InvalidDataError  negative/NaN weights, wrong shapes, negative or non-finite masses, bad capacities
    UnbalancedError   rho0 or nu does not sum to 1
    UnreachableError  the graph is not (strongly) connected: some node cannot reach another
    DuplicateNodeError  a node name is used twice
    """

    kind = "attraction"

    def __init__(
        self,
        graph: Any,
        rho0: ArrayLike,
        nu: ArrayLike,
        *,
        edge_capacity: Any = None,
        storage: ArrayLike | None = None,
        omega: ScheduleLike = 0.1,
        omega_first: float | None = None,
        gamma: ScheduleLike = 0.1,
        eps: float = 1e-3,
        directed: bool = False,
        names: Sequence[str] | None = None,
        schedule_start: float = 1.0,
        mass_tol: float = 1e-9,
        name: str = "",
    ) -> None:
        if not isinstance(graph, Network) and all(hasattr(graph, a) for a in ("is_directed", "nodes", "edges")):
            graph = Network.from_networkx(graph)
        self._network = graph if isinstance(graph, Network) else None
        if isinstance(graph, Network):
            if names is not None:
                raise InvalidDataError("names: a network names its own nodes; leave names out")
            if edge_capacity is not None and graph.n_arcs and np.isfinite(graph.upper).any():
                raise InvalidDataError("give edge capacities once: as the arcs' upper bounds or as edge_capacity")
            W, caps, names = _from_network(graph, values.flag(directed, "directed"))
            edge_capacity = caps if edge_capacity is None else edge_capacity
        else:
            W = _sparse(graph, "weights") if sp.issparse(graph) else values.float_array(graph, "weights")
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise InvalidDataError(f"weights has shape {W.shape}, expected a square (n, n) matrix")
        n = int(W.shape[0])
        if n < 1:
            raise InvalidDataError("the graph has no node")
        if not isinstance(name, str):
            raise InvalidDataError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        if names is not None and (
            isinstance(names, (str, bytes, Mapping)) or not isinstance(names, (Sequence, np.ndarray))
        ):
            raise InvalidDataError(f"names must be a sequence of node names, got {type(names).__name__}")
        self.node_names: tuple[str, ...] = tuple(
            values.name(s, f"names[{k}]") for k, s in enumerate(names if names is not None else range(n))
        )
        if len(self.node_names) != n:
            raise InvalidDataError(f"names has {len(self.node_names)} entries, expected {n}")
        if len(set(self.node_names)) != n:
            seen: set[str] = set()
            dup = next(s for s in self.node_names if s in seen or seen.add(s))  # type: ignore[func-returns-value]
            raise DuplicateNodeError(f"node name {dup!r} is used twice")
        nm = self.node_names
        directed = values.flag(directed, "directed")
        mass_tol = values.option(mass_tol, "mass_tol")
        W = _square(W, n, "weights", nm, allow_inf=False)
        with np.errstate(over="ignore"):
            if not math.isfinite(float(W.sum())):
                # path lengths would overflow to inf and read as "unreachable"
                raise InvalidDataError("weights are so large that path lengths overflow a float; scale them")
        Ws = sp.csr_matrix(W)
        Ws.setdiag(0.0)
        Ws.eliminate_zeros()
        if not directed:
            coo = sp.coo_matrix(Ws)
            r = np.concatenate([coo.row, coo.col])
            c = np.concatenate([coo.col, coo.row])
            w = np.concatenate([coo.data, coo.data])
            order = np.lexsort((-w, c, r))  # per pair, the smallest weight comes last and wins
            key = r[order] * n + c[order]
            last = np.r_[key[1:] != key[:-1], True] if key.size else np.zeros(0, dtype=bool)
            Ws = sp.csr_matrix((w[order][last], (r[order][last], c[order][last])), shape=(n, n))
        self.directed = bool(directed)
        self.weights: sp.csr_matrix = Ws
        #: adjacency with self-loops, A-bar = A + I, as a boolean CSR matrix
        self.adjacency: sp.csr_matrix = sp.csr_matrix((Ws != 0) + sp.identity(n, dtype=bool, format="csr"))
        C = shortest_path(Ws, method="D", directed=True)
        if not np.isfinite(C).all():
            j, i = (int(z) for z in np.argwhere(~np.isfinite(C))[0])
            raise UnreachableError(
                f"node {nm[i]!r} cannot be reached from node {nm[j]!r}: the graph must be connected"
                + (" (strongly, since directed=True)" if directed else "")
            )
        #: cost matrix C[j, i] = d(j, i), the shortest-path metric of the graph
        self.cost: NDArray[np.float64] = C
        self.rho0 = self._distribution(rho0, "rho0", mass_tol)
        self.nu = self._distribution(nu, "nu", mass_tol)
        if edge_capacity is None:
            self.edge_capacity: sp.csr_matrix | None = None
        else:
            cap = _square(edge_capacity, n, "edge_capacity", nm, allow_inf=True)
            if sp.issparse(cap):
                # (no copy is made and compacted here: one shared with the user's matrix dropped its
                # explicit zeros and turned its infinite entries into zero capacities)
                # keep explicit zeros of the user's sparse matrix: they are zero capacities
                coo = sp.coo_matrix(cap)
                fin = np.isfinite(coo.data)
                self.edge_capacity = sp.csr_matrix((coo.data[fin], (coo.row[fin], coo.col[fin])), shape=(n, n))
                self._cap_pattern = sp.csr_matrix(
                    (np.ones(int(fin.sum()), bool), (coo.row[fin], coo.col[fin])), shape=(n, n)
                )
            else:
                fin = np.isfinite(cap)
                r, c = np.nonzero(fin)
                self.edge_capacity = sp.csr_matrix((cap[r, c], (r, c)), shape=(n, n))
                self._cap_pattern = sp.csr_matrix((np.ones(r.size, bool), (r, c)), shape=(n, n))
        self.storage = np.full(n, np.inf) if storage is None else _vector(storage, n, "storage", nm, allow_inf=True)
        with np.errstate(over="ignore"):  # a storage near the float limit times (1 + 1e-12) is inf
            slack = self.storage * (1 + 1e-12) + 1e-15
        over = self.nu > slack
        if over.any():
            k = int(np.flatnonzero(over)[0])
            raise InvalidDataError(
                f"nu[{nm[k]!r}] = {self.nu[k]:.6g} exceeds the storage capacity {self.storage[k]:.6g} of that node"
            )
        over = self.rho0 > slack
        if over.any():
            k = int(np.flatnonzero(over)[0])
            raise InvalidDataError(
                f"rho0[{nm[k]!r}] = {self.rho0[k]:.6g} exceeds the storage capacity {self.storage[k]:.6g} of that node"
            )
        self.omega = as_schedule(omega, "omega", schedule_start, omega_first)
        self.gamma = as_schedule(gamma, "gamma", schedule_start)
        self.eps = values.finite(eps, "eps", positive=True)
        self.omega_at(0)
        self.gamma_at(0)

    def _distribution(self, x: ArrayLike, what: str, tol: float) -> NDArray[np.float64]:
        v = _vector(x, self.n_nodes, what, self.node_names)
        with np.errstate(over="ignore"):
            s = float(v.sum())
        if not s > 0:
            raise UnbalancedError(f"{what} has no mass (it sums to {s!r}); expected a probability vector")
        if abs(s - 1.0) > tol:
            raise UnbalancedError(f"{what} sums to {s!r}, expected 1 (a probability vector) within {tol:g}")
        v = v / s
        v.setflags(write=False)
        return v

    # -------------------------------------------------------------------- basic views
    @property
    def network(self) -> Network:
        """The graph as a ``Network``: the one given, or one built from the weight matrix (an arc per
        direction of each edge, capacities as upper bounds, a self-loop per capped stay)."""
        if self._network is None:
            n, W = self.n_nodes, sp.coo_matrix(self.weights)  # CSR order: keys row * n + col ascend
            r, c, lin, up = W.row, W.col, W.data, np.full(W.nnz, np.inf)
            if self.edge_capacity is not None:
                pat = sp.coo_matrix(self._cap_pattern)  # finite capacities, explicit zeros included
                cap = np.asarray(self.edge_capacity[pat.row, pat.col]).reshape(-1)
                keys, want = np.r_[r * n + c, -1], pat.row * n + pat.col  # -1: no pair matches it
                k = np.searchsorted(keys[:-1], want)
                up[k[keys[k] == want]] = cap[keys[k] == want]
                stay = pat.row == pat.col
                r, c = np.r_[r, pat.row[stay]], np.r_[c, pat.col[stay]]
                lin, up = np.r_[lin, np.zeros(int(stay.sum()))], np.r_[up, cap[stay]]
            self._network = Network.from_arrays(self.node_names, np.zeros(n), r, c, linear=lin, upper=up)
        return self._network

    @property
    def n_nodes(self) -> int:
        return len(self.node_names)

    @property
    def n_edges(self) -> int:
        """Number of directed edges (both directions counted for an undirected graph), no self-loops."""
        return int(self.weights.nnz)

    def node_index(self, name: str) -> int:
        from otmodel.errors import UnknownNodeError

        try:
            return self.node_names.index(values.label(name, "node"))
        except ValueError:
            raise UnknownNodeError(f"unknown node {values.describe(name)}") from None

    def omega_at(self, t: int) -> float:
        """The weight `\\omega(t)` of the step from rho_t, checked to lie in [0, 1]."""
        w = self.omega.value(t)
        if not (0.0 <= w <= 1.0):
            raise InvalidDataError(
                f"omega at step {t} is {w!r}; the barycenter weights omega, 1 - omega must lie in [0, 1]"
                " (shift the schedule with schedule_start)"
            )
        return w

    def gamma_at(self, t: int) -> float:
        """The regularization `\\gamma(t)` of the step from rho_t (must be > 0 and finite)."""
        g = self.gamma.value(t)
        if not (math.isfinite(g) and g > 0):
            raise InvalidDataError(f"gamma at step {t} is {g!r}; it must be positive and finite")
        return g

    def __repr__(self) -> str:
        return (
            f"AttractionProblem({self.name + ', ' if self.name else ''}{self.n_nodes} nodes, "
            f"{self.n_edges} directed edges, omega={self.omega.label()}, gamma={self.gamma.label()}, eps={self.eps:g})"
        )

    def formulation(self, part: Any = "all", format: str = "markdown") -> Any:
        """Problem 1 at the first step, as mathematics (see ``otmodel.formulation.formulation``)."""
        import otmodel

        return otmodel.formulation.formulation(self, part=part, format=format)

    # -------------------------------------------------------------------- one step
    def step(
        self, rho: ArrayLike, t: int = 0, omega: float | None = None, gamma: float | None = None
    ) -> AttractionStep:
        """Problem 1 at `\\rho_t` = ``rho`` (step index ``t`` selects omega(t), gamma(t))."""
        r = values.float_array(rho, "rho_t")
        if r.shape != (self.n_nodes,) or not np.isfinite(r).all() or (r < 0).any():
            raise InvalidDataError("rho_t must be a finite non-negative vector with one entry per node")
        t = values.integer(t, "step index t", minimum=0)
        w = self.omega_at(t) if omega is None else values.number(omega, "omega")
        if not 0.0 <= w <= 1.0:
            raise InvalidDataError(f"omega = {w!r} must lie in [0, 1]")
        g = self.gamma_at(t) if gamma is None else values.finite(gamma, "gamma", positive=True)
        return AttractionStep(self, r, w, g, t)


@dataclass(frozen=True)
class AttractionStep:
    r"""One instance of Problem 1: the constrained barycenter of `\rho_t` and `\nu`.

    The effective capacity after the support rule (15) is exposed as the allowed pattern of
    `\pi_1` (``allowed``: pairs ``(j, i)`` with `j\in\mathrm{supp}\,\rho_t`,
    `\bar A_{ji}=1` and a capacity that is not 0) and the capacities on those pairs.
    Every other pair is *forbidden*: it carries exactly zero mass.

    Built by ``AttractionProblem.step`` for each step of Algorithm 1 and solved by ``solve_step``;
    it is rarely built by hand.

    Parameters
    ----------
    problem : AttractionProblem
        The flow this step belongs to (graph, capacities, target `\nu`).
    rho : (n,) array of float
        The current distribution `\rho_t` (a probability vector).
    omega : float
        Weight `\omega \in [0, 1]` of `\rho_t` in the barycenter (10a).
    gamma : float
        Entropic regularization `\gamma > 0` of the step (same units as the edge weights); the
        exact LP step ignores it.
    t : int, default 0
        The 0-based step index.
    """

    kind: ClassVar[str] = "attraction-step"
    problem: AttractionProblem
    rho: NDArray[np.float64]
    omega: float
    gamma: float
    t: int = 0
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n(self) -> int:
        return self.problem.n_nodes

    @property
    def sources(self) -> NDArray[np.intp]:
        """Nodes of supp(rho_t): the rows of pi_1."""
        return np.flatnonzero(self.rho > SUPPORT_EPS)

    @property
    def targets(self) -> NDArray[np.intp]:
        """Nodes of supp(nu): the rows of pi_2."""
        return np.flatnonzero(self.problem.nu > 0)

    def allowed(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
        """Pairs (j, i) that pi_1 may use, after the support rule (15), and their capacities (inf = none).

        Sorted by row then column. A pair with capacity exactly 0 is forbidden, not allowed.
        """
        if "allowed" not in self._cache:
            p = self.problem
            S = np.zeros(self.n, bool)
            S[self.sources] = True
            A = sp.csr_matrix(sp.diags(S.astype(float)) @ p.adjacency.astype(float))
            A.eliminate_zeros()
            coo = sp.coo_matrix(A)
            j, i = coo.row.astype(np.intp), coo.col.astype(np.intp)
            order = np.lexsort((i, j))
            j, i = j[order], i[order]
            cap = np.full(j.size, np.inf)
            if p.edge_capacity is not None:
                has = np.asarray(p._cap_pattern[j, i]).reshape(-1).astype(bool)
                cap[has] = np.asarray(p.edge_capacity[j[has], i[has]]).reshape(-1)
            keep = cap > 0
            self._cache["allowed"] = (j[keep], i[keep], cap[keep])
        return self._cache["allowed"]  # type: ignore[no-any-return]

    def formulation(self, part: Any = "all", format: str = "markdown") -> Any:
        """This step as mathematics: Problem 1, the exact step's dual, Dykstra's projections."""
        import otmodel

        return otmodel.formulation.formulation(self, part=part, format=format)

    def reachable(self) -> NDArray[np.intp]:
        """Nodes that can receive mass in this step (columns of the plans); p is 0 elsewhere."""
        _, i, _ = self.allowed()
        return np.unique(i)

    def neighbour_mass(self) -> NDArray[np.float64]:
        r"""Right-hand side of (10f): `\sum_{j:\bar A_{ji}=1} [\rho_t]_j` for every node i."""
        return np.asarray(self.problem.adjacency.T.astype(float) @ self.rho).reshape(-1)

    def check(self) -> list[str]:
        """Conditions of Lemma 1 (non-strict forms) and necessary feasibility conditions that fail.

        Returns messages; an entry starting with ``"infeasible:"`` proves the step infeasible
        (a necessary condition fails), the others say only that Lemma 1's hypothesis fails.
        """
        p = self.problem
        nm = p.node_names
        j, i, cap = self.allowed()
        out: list[str] = []
        src = self.sources
        outcap = np.zeros(self.n)
        with np.errstate(over="ignore"):  # capacities near the float limit add up to inf: room enough
            np.add.at(outcap, j, cap)
        short = src[outcap[src] < self.rho[src] * (1 - 1e-12)]
        for k in short[:3]:
            out.append(
                f"infeasible: Lemma 1 (capacity out of a node, staying included, >= its mass) fails at node "
                f"{nm[k]!r}: capacity {outcap[k]:.6g} < mass {self.rho[k]:.6g} at step {self.t}"
            )
        incap = np.zeros(self.n)
        with np.errstate(over="ignore"):
            np.add.at(incap, i, cap)
            room = np.minimum(incap, p.storage)
            total_room = float(room.sum())
        if total_room < self.rho.sum() * (1 - 1e-12):
            out.append(
                f"infeasible: the nodes reachable in one step can store at most {total_room:.6g} "
                f"(storage and edge capacities), less than the mass {self.rho.sum():.6g} at step {self.t}"
            )
        with np.errstate(over="ignore"):  # a storage near the float limit times (1 + 1e-12) is inf
            over = np.flatnonzero(self.rho > p.storage * (1 + 1e-12))
        for k in over[:3]:
            out.append(
                f"Lemma 1 (rho_t <= storage) fails at node {nm[k]!r}: mass {self.rho[k]:.6g} > storage "
                f"{p.storage[k]:.6g} at step {self.t}"
            )
        return out

    def warn_if_infeasible(self) -> str | None:
        """Warn (``StepInfeasibleWarning``) and return the message if the step is proven infeasible."""
        bad = [m for m in self.check() if m.startswith("infeasible:")]
        if not bad:
            return None
        msg = "; ".join(m[len("infeasible: ") :] for m in bad)
        warnings.warn(f"step {self.t} is infeasible: {msg}", StepInfeasibleWarning, stacklevel=3)
        return msg
