r"""The ``dual-ascent`` backend: the distributed supergradient method of Laurentin et al. (2025).

It maximizes the concave dual function (eq. (3)-(4))

.. math::
    q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_{i\in\mathcal N} \psi_i s_i
      + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

by the supergradient iteration (8), :math:`\psi^{k+1} = \psi^k + \gamma_k g(\psi^k)`, with the
supergradient of Proposition 2,

.. math::
    g_i(\psi) = s_i - \sum_{(i,j)} p_{ij}(\psi) + \sum_{(j,i)} p_{ji}(\psi)
      - [i\in\mathcal S]\, \mu(\mathrm{Lag}_i(\psi)),   \qquad (6)-(7)

where :math:`p_{ij}(\psi)` is the local response (5) and
:math:`\mathrm{Lag}_i(\psi) = \{x: c(x,i) - \psi_i \le c(x,j) - \psi_j\ \forall j\}` the generalized
Laguerre cell. Each step of Algorithm 1 is vectorized over nodes, arcs and demand points; the
functions :func:`local_flows` and :func:`node_supergradient` keep the locality of the distributed
algorithm visible (an arc's flow reads only the potentials of its two end nodes; a node's update
reads only its own arcs and, for an endpoint, its cell mass).

The primal point is reconstructed by Proposition 1 from the last potentials: flows
:math:`p(\psi)` and the assignment :math:`T(x) = \arg\min_i c(x,i) - \psi_i` (first index on ties).
It balances flow only approximately; the status is ``CONVERGED`` when the stopping rule of
Algorithm 1 (line 15) fired and ``ITERATION_LIMIT`` otherwise -- never ``OPTIMAL``: use
:func:`otmodel.validation.certify` to judge the point.

Requires strictly convex arc costs (Assumption 4): linear arcs make (5) set-valued and the
method is not applicable.

Options
-------
max_iter : int
    Number of supergradient steps (default 300, as in section V-A).
tol : float
    Stop when every :math:`|\psi_i^{k+1} - \psi_i^k| < tol` (Algorithm 1, line 15; default 1e-7).
step_size : StepSize or float
    Step-size rule (default ``Diminishing(1, 0.01)``: :math:`\gamma_k = 1/(1 + 0.01 k)`, the paper's);
    a number means a constant step.
psi0 : array, optional
    Starting potentials (default zeros), one per node.
chunk : int
    Demand points per block in the cell-mass pass (default 65536): memory ``O(chunk x |S| + N)``.
precompute : {"auto", True, False}
    Keep the whole ``N x |S|`` cost matrix in memory (faster). ``"auto"`` (default) does so when
    ``N |S| <= 20e6``.
callback : callable, optional
    ``callback(k, state)`` with a :class:`~otmodel.backends._loop.LoopState` whose ``x`` is psi and
    ``direction`` the supergradient; a true return value stops the iteration.
verbose : bool or int
    Print progress every ``verbose`` iterations (``True``: ten lines).

Trace columns (one entry per iteration, evaluated at :math:`\psi^k` before its update):
``step_size``, ``dual_value`` (:math:`q(\psi^k)`, eq. (4)), ``grad_norm`` (:math:`\|g\|_2`),
``residual`` (:math:`\max_i |g_i|`, the flow-balance residual), ``potentials`` (:math:`\psi^k`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from otmodel.backends._loop import Diminishing, as_step_size, iterate
from otmodel.backends.base import Timer
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.costs import ArcCosts
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "DualAscentBackend",
    "local_flows",
    "node_supergradient",
    "CellPass",
    "dual_value",
    "supergradient",
    "PRECOMPUTE_LIMIT",
]

#: "auto" keeps the N x |S| cost matrix in memory when it has at most this many entries (160 MB).
PRECOMPUTE_LIMIT = 20_000_000
DEFAULT_CHUNK = 65_536


# ------------------------------------------------------------------------------ local steps
def local_flows(
    psi_tail: NDArray[np.float64],
    psi_head: NDArray[np.float64],
    costs: ArcCosts,
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Algorithm 1, line 6 (eq. (5)), for every arc at once.

    :math:`p_{ij} = \arg\min_{p\in[l_{ij},u_{ij}]} c_{ij}(p) - (\psi_i - \psi_j) p`: arc ``(i, j)``
    reads only the potentials of its tail ``i`` and head ``j`` (lines 5 and 7 exchange exactly
    these values between neighbours).
    """
    return costs.response(psi_tail - psi_head, lower, upper)


def node_supergradient(
    supply: NDArray[np.float64],
    outflow: NDArray[np.float64],
    inflow: NDArray[np.float64],
    cell_mass: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Algorithm 1, lines 8-13 (eq. (6)-(7)), for every node at once.

    :math:`g_i = s_i - \sum_{(i,j)} p_{ij} + \sum_{(j,i)} p_{ji} - m_i`, with :math:`m_i` the mass
    of the Laguerre cell of endpoint ``i`` (line 9) and :math:`m_i = 0` for other nodes (line 12).
    """
    return supply - outflow + inflow - cell_mass


def _arc_sums(problem: FlowProblem, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per node: total flow on its outgoing arcs, total flow on its incoming arcs (line 7)."""
    n = problem.n_nodes
    out = np.bincount(problem.tails, weights=p, minlength=n).astype(float, copy=False)
    inn = np.bincount(problem.heads, weights=p, minlength=n).astype(float, copy=False)
    return out, inn


# ------------------------------------------------------------------------------ Laguerre cells
class CellPass:
    r"""Laguerre cells of the discretized demand, one pass over the points.

    For potentials :math:`\psi_S` of the endpoints, :meth:`__call__` returns the cell masses
    :math:`m_i = \mu(\mathrm{Lag}_i(\psi))` (Algorithm 1, line 9) and, in the same pass, the SDOT
    term of (4), :math:`\sum_k \mu_k \min_i \{c(x_k,i) - \psi_i\}`. Points are processed in blocks
    of ``chunk`` rows from :meth:`SpatialFlowProblem.cost_block` (memory ``O(chunk x |S| + N)``)
    unless the whole matrix is precomputed (``precompute=True``, or ``"auto"`` below
    :data:`PRECOMPUTE_LIMIT` entries). Ties go to the lowest endpoint index (Proposition 1 allows
    any tie-break).
    """

    def __init__(
        self, problem: SpatialFlowProblem, chunk: int = DEFAULT_CHUNK, precompute: bool | str = "auto"
    ) -> None:
        if int(chunk) < 1:
            raise InvalidDataError(f"chunk={chunk!r} must be a positive integer")
        self.problem = problem
        self.n = problem.n_points
        self.ns = problem.n_endpoints
        self.chunk = int(chunk)
        if precompute == "auto":
            precompute = self.n * self.ns <= PRECOMPUTE_LIMIT
        elif not isinstance(precompute, (bool, np.bool_)):
            raise InvalidDataError(f"precompute={precompute!r} must be 'auto', True or False")
        self.precomputed = bool(precompute)
        self.C: NDArray[np.float64] | None = (
            np.ascontiguousarray(problem.cost_matrix(), dtype=float) if self.precomputed else None
        )
        mass = np.asarray(problem.demand.mass, dtype=float)
        self.mass = mass
        # zero-mass points may have infinite cost to every endpoint; they carry no mass, so their
        # (possibly infinite) minimum must not turn the sum into NaN
        self._all_positive = bool(np.all(mass > 0))
        # one block for the precomputed matrix: blocks exist to bound memory, which it already took
        self._step = self.n if self.precomputed else self.chunk

    def _blocks(self) -> Any:
        for start in range(0, self.n, self._step):
            stop = min(self.n, start + self._step)
            block = self.C[start:stop] if self.C is not None else self.problem.cost_block(start, stop)
            yield start, stop, block

    def _argmin(
        self, block: NDArray[np.float64], psi_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        r = block - psi_s
        lab = np.argmin(r, axis=1)
        val = np.take_along_axis(r, lab[:, None], axis=1)[:, 0]
        return lab, val

    def __call__(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        """``(cell masses (|S|,), SDOT term of q)`` for endpoint potentials ``psi_s``."""
        m = np.zeros(self.ns)
        sdot = 0.0
        for start, stop, block in self._blocks():
            lab, val = self._argmin(block, psi_s)
            w = self.mass[start:stop]
            m += np.bincount(lab, weights=w, minlength=self.ns)
            if not self._all_positive:
                val = np.where(w > 0, val, 0.0)
            # einsum, not BLAS: a threaded BLAS dot costs milliseconds here on a loaded machine
            sdot += float(np.einsum("i,i->", w, val))
        return m, sdot

    def labels(self, psi_s: NDArray[np.float64]) -> NDArray[np.intp]:
        r"""Assignment :math:`T(x_k) = \arg\min_i c(x_k,i) - \psi_i` (column index), per point."""
        out = np.empty(self.n, dtype=np.intp)
        for start, stop, block in self._blocks():
            out[start:stop] = self._argmin(block, psi_s)[0]
        return out


# ------------------------------------------------------------------------------ dual oracle
class _Oracle:
    """q(psi) and g(psi) of eq. (4), (6)-(7) in one pass."""

    def __init__(self, problem: FlowProblem, chunk: int, precompute: bool | str) -> None:
        self.problem = problem
        self.supply = np.asarray(problem.supply, dtype=float)
        self.cells = CellPass(problem, chunk, precompute) if isinstance(problem, SpatialFlowProblem) else None
        self.endpoints = problem.endpoints if isinstance(problem, SpatialFlowProblem) else None

    def flows(self, psi: NDArray[np.float64]) -> NDArray[np.float64]:
        p = self.problem
        return local_flows(psi[p.tails], psi[p.heads], p.costs, p.lower, p.upper)

    def evaluate(
        self, psi: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64] | None]:
        """``(g, q, flows, cell masses)`` at ``psi``."""
        p = self.problem
        flows = self.flows(psi)  # lines 5-6
        outflow, inflow = _arc_sums(p, flows)  # line 7
        m_nodes = np.zeros(p.n_nodes)
        masses = None
        sdot = 0.0
        if self.cells is not None:
            masses, sdot = self.cells(psi[self.endpoints])  # line 9
            m_nodes[self.endpoints] = masses
        g = node_supergradient(self.supply, outflow, inflow, m_nodes)  # lines 10 and 12
        t = psi[p.tails] - psi[p.heads]
        q = sdot + float(psi @ self.supply) + float(np.sum(p.costs.conjugate_term(t, p.lower, p.upper)))
        return g, q, flows, masses

    def __call__(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        g, q, _, _ = self.evaluate(psi)
        return g, {
            "dual_value": q,
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
        }


def _psi(problem: FlowProblem, psi: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(psi, dtype=float).reshape(-1)
    if v.shape != (problem.n_nodes,):
        raise InvalidDataError(f"psi has {v.size} entries for {problem.n_nodes} nodes")
    if not np.all(np.isfinite(v)):
        raise InvalidDataError("psi must be finite")
    return v


def dual_value(
    problem: FlowProblem, psi: ArrayLike, chunk: int = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> float:
    r"""The dual function :math:`q(\psi)` of eq. (4) (a lower bound on the optimum for every psi)."""
    return _Oracle(problem, chunk, precompute).evaluate(_psi(problem, psi))[1]


def supergradient(
    problem: FlowProblem, psi: ArrayLike, chunk: int = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> NDArray[np.float64]:
    r"""The supergradient :math:`g(\psi)` of Proposition 2, eq. (6)-(7)."""
    return _Oracle(problem, chunk, precompute).evaluate(_psi(problem, psi))[0]


# ------------------------------------------------------------------------------ backend
class DualAscentBackend:
    """Supergradient ascent on the dual (3)-(4), Algorithm 1 of Laurentin et al. (2025)."""

    name = "dual-ascent"
    capabilities = frozenset({"flow", "spatial", "quadratic", "iterative"})

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        bad = problem.costs.nonstrict_arcs()
        if bad.size:
            names = [problem.arc_names[k] for k in bad[:5]]
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            return (
                "dual ascent needs strictly convex arc costs (Laurentin et al., Assumption 4); "
                f"arc{'s' if bad.size > 1 else ''} {', '.join(names)}{more} "
                f"{'have' if bad.size > 1 else 'has'} a linear cost"
            )
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        reason = self.supports(problem)
        if reason is not None:
            raise UnsupportedError(f"backend {self.name!r} cannot solve {problem!r}: {reason}")
        max_iter = int(options.pop("max_iter", 300))
        tol = float(options.pop("tol", 1e-7))
        step = as_step_size(options.pop("step_size", None), Diminishing(1.0, 0.01))
        psi0 = options.pop("psi0", None)
        chunk = int(options.pop("chunk", DEFAULT_CHUNK))
        precompute = options.pop("precompute", "auto")
        callback = options.pop("callback", None)
        verbose = options.pop("verbose", False)
        options.pop("seed", None)  # deterministic method: accepted for a uniform interface
        if options:
            raise UnsupportedError(f"dual-ascent backend: unknown option(s) {sorted(options)}")

        timer = Timer()
        with timer("build"):
            oracle = _Oracle(problem, chunk, precompute)
            x0 = np.zeros(problem.n_nodes) if psi0 is None else _psi(problem, psi0)
        with timer("solve"):
            run = iterate(
                oracle, x0, step, max_iter, tol, callback=callback, verbose=verbose, keep_iterates="potentials"
            )
        with timer("reconstruct"):
            psi = run.x
            # Proposition 1 / Algorithm 1 line 16: flows p(psi) and cells Lag_i(psi) at the last psi
            g, q, flows, masses = oracle.evaluate(psi)
            plan = None
            if oracle.cells is not None:
                # T*(x) = argmin_i c(x, i) - psi_i: each point sends its whole mass to one endpoint
                lab = oracle.cells.labels(psi[oracle.endpoints])
                n, ns = oracle.cells.n, oracle.cells.ns
                plan = sp.csr_matrix((oracle.cells.mass.copy(), lab, np.arange(n + 1)), shape=(n, ns))
            objective = problem.objective(flows, plan)
        status = Status.CONVERGED if run.converged else Status.ITERATION_LIMIT
        gnorm = float(np.linalg.norm(g))
        residual = float(np.max(np.abs(g))) if g.size else 0.0
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=float(objective),
            flows=flows,
            potentials=psi,
            backend=self.name,
            solver=f"supergradient ascent ({step!r})",
            assignment=plan,
            cell_mass=masses,
            timings=timer.done(),
            trace=run.trace,
            iterations=run.iterations,
            message=f"{run.reason} after {run.iterations} iterations (last max |psi change| {run.last_change:.3g})",
            info={
                "dual_value": q,
                "grad_norm": gnorm,
                "residual": residual,
                "stopped_by": run.reason,
                "precomputed": bool(oracle.cells.precomputed) if oracle.cells is not None else None,
            },
        )
