r"""The dual oracle of Laurentin et al. (2025): `q(\psi)` (eq. (4)) and its supergradient (eq. (6)-(7)).

Every step of Algorithm 1 is vectorized over nodes, arcs and demand points; ``local_flows`` and
``node_supergradient`` keep the locality of the distributed algorithm visible (an arc's flow reads
only the potentials of its two end nodes; a node's update reads only its own arcs and, for an
endpoint, its cell mass, from ``otmodel.backends.cells``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.backends.cells import DEFAULT_CHUNK, CellPass
from otmodel.errors import InvalidDataError
from otmodel.model.costs import ArcCosts
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = ["local_flows", "node_supergradient", "arc_sums", "DualOracle", "dual_value", "supergradient", "psi_vector"]


def local_flows(
    psi_tail: NDArray[np.float64],
    psi_head: NDArray[np.float64],
    costs: ArcCosts,
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.float64]:
    r"""Algorithm 1, line 6 (eq. (5)), for every arc at once.

    `p_{ij} = \arg\min_{p\in[l_{ij},u_{ij}]} c_{ij}(p) - (\psi_i - \psi_j) p`: arc ``(i, j)``
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

    `g_i = s_i - \sum_{(i,j)} p_{ij} + \sum_{(j,i)} p_{ji} - m_i`, with `m_i` the mass
    of the Laguerre cell of endpoint ``i`` (line 9) and `m_i = 0` for other nodes (line 12).
    """
    return supply - outflow + inflow - cell_mass



def arc_sums(problem: FlowProblem, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per node: total flow on its outgoing arcs, total flow on its incoming arcs (line 7)."""
    n = problem.n_nodes
    out = np.bincount(problem.tails, weights=p, minlength=n).astype(float, copy=False)
    inn = np.bincount(problem.heads, weights=p, minlength=n).astype(float, copy=False)
    return out, inn



# ------------------------------------------------------------------------------ dual oracle
class DualOracle:
    """q(psi) and g(psi) of eq. (4), (6)-(7) in one pass."""

    def __init__(
        self,
        problem: FlowProblem,
        chunk: int | None,
        precompute: bool | str,
        prune: bool | str = "auto",
        samples: int | None = None,
        seed: Any = None,
    ) -> None:
        self.problem = problem
        self.supply = np.asarray(problem.supply, dtype=float)
        self.cells = (
            CellPass(problem, chunk, precompute, prune, samples, seed)
            if isinstance(problem, SpatialFlowProblem)
            else None
        )
        self.endpoints = problem.endpoints if isinstance(problem, SpatialFlowProblem) else None

    def flows(self, psi: NDArray[np.float64]) -> NDArray[np.float64]:
        p = self.problem
        return local_flows(psi[p.tails], psi[p.heads], p.costs, p.lower, p.upper)

    def evaluate(
        self, psi: NDArray[np.float64], exact: bool = False
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64] | None]:
        """``(g, q, flows, cell masses)`` at ``psi`` (``exact``: never sampled)."""
        p = self.problem
        flows = self.flows(psi)  # lines 5-6
        outflow, inflow = arc_sums(p, flows)  # line 7
        m_nodes = np.zeros(p.n_nodes)
        masses = None
        sdot = 0.0
        if self.cells is not None:
            cells = self.cells.exact if exact else self.cells
            masses, sdot = cells(psi[self.endpoints])  # line 9 (Remark 1: sampled when asked)
            m_nodes[self.endpoints] = masses
        g = node_supergradient(self.supply, outflow, inflow, m_nodes)  # lines 10 and 12
        t = psi[p.tails] - psi[p.heads]
        q = sdot + float(psi @ self.supply) + float(np.sum(p.costs.conjugate_term(t, p.lower, p.upper)))
        return g, q, flows, masses

    def __call__(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        g, q, flows, masses = self.evaluate(psi)
        m_nodes = np.zeros(self.problem.n_nodes)
        if masses is not None:
            m_nodes[self.endpoints] = masses
        return g, {
            "dual_value": q,
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
            # per-node data for a local step rule (Curvature); "_" keys are not traced
            "_flows": flows,
            "_cell_mass": m_nodes if masses is not None else None,
        }


def psi_vector(problem: FlowProblem, psi: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(psi, dtype=float).reshape(-1)
    if v.shape != (problem.n_nodes,):
        raise InvalidDataError(f"psi has {v.size} entries for {problem.n_nodes} nodes")
    if not np.all(np.isfinite(v)):
        raise InvalidDataError("psi must be finite")
    return v


def dual_value(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> float:
    r"""The dual function `q(\psi)` of eq. (4) (a lower bound on the optimum for every psi)."""
    return DualOracle(problem, chunk, precompute).evaluate(psi_vector(problem, psi))[1]


def supergradient(
    problem: FlowProblem, psi: ArrayLike, chunk: int | None = DEFAULT_CHUNK, precompute: bool | str = "auto"
) -> NDArray[np.float64]:
    r"""The supergradient `g(\psi)` of Proposition 2, eq. (6)-(7)."""
    return DualOracle(problem, chunk, precompute).evaluate(psi_vector(problem, psi))[0]

