r"""The ``admm`` backend: distributed ADMM for regularized OT on graphs (Mokhtari et al.).

Every node `i \in V` is an agent that keeps its own copy `\pi^i \in \mathbb R^{|\mathcal A|}`
of the *whole* flow vector, a multiplier `\alpha^i` of its own divergence constraint and a
consensus multiplier `\mathbf s^i \in \mathbb R^{|\mathcal A|}`; it talks to its neighbours
`N(i) = N^+(i) \cup N^-(i)` only. Starting from `\pi^i_0 = \mathbf s^i_0 = 0`,
`\alpha^i_0 = 0`, each agent repeats (3.1a)-(3.1c):

.. math::
    \pi^i_{k+1} &= \arg\min_{l \le \pi \le u}\ \delta^{-1} F_i(\pi) + \alpha^i_k \operatorname{div}(\pi)_i
        + \tfrac12 (\operatorname{div}(\pi)_i - \rho_i)^2 + (\mathbf s^i_k)^\top \pi
        + \tfrac12 \sum_{j\in N(i)} \big\|\pi - \tfrac12(\pi^i_k + \pi^j_k)\big\|^2 \qquad (3.1a)\\
    \alpha^i_{k+1} &= \alpha^i_k + \operatorname{div}(\pi^i_{k+1})_i - \rho_i \qquad (3.1b)\\
    \mathbf s^i_{k+1} &= \mathbf s^i_k + \tfrac12 \sum_{j\in N(i)} (\pi^i_{k+1} - \pi^j_{k+1}) \qquad (3.1c)

with the local objective `F_i(\pi) = f_i(\pi) + \frac{\gamma}{2}\|\pi\|^2`,
`f_i(\pi) = \sum_{j \in N^+(i)} c_{ij}\pi_{ij}` (split (2.4), `\gamma` the per-agent
coefficient), or `F_i(\pi) = \sum_{j\in N^+(i)} c_{ij}\pi_{ij} + \frac{\Gamma}{2}\pi_{ij}^2`
(split (2.6)). For a general ``FlowProblem`` with arc costs
`a_{ij}\pi^2 + b_{ij}\pi` the same two splits are used: (2.4) gives agent ``i`` the linear
costs of its outgoing arcs and `1/|V|` of every quadratic term; (2.6) gives it the whole cost of
its outgoing arcs. Both add up to the centralized objective at consensus.

Closed form of (3.1a). The objective of agent ``i`` is a separable quadratic plus the rank-one term
`\frac12 (d_i^\top\pi)^2`, where `d_i` is row ``i`` of the incidence matrix (+1 on the
agent's outgoing arcs, -1 on its incoming arcs, 0 elsewhere). Its optimality condition is

.. math:: h \odot \pi + t\, d_i = q, \qquad t = d_i^\top \pi, \qquad l \le \pi \le u,

with `h_a = |N(i)| + \delta^{-1} F_i''` (a positive diagonal) and
`q = \frac12 \sum_{j\in N(i)} (\pi^i_k + \pi^j_k) - \mathbf s^i_k - \delta^{-1}\nabla f_i + (\rho_i - \alpha^i_k) d_i`
(its linear part). Hence `\pi_a = \mathrm{clip}((q_a - t\,d_{i,a})/h_a, l_a, u_a)`: entries off the
agent's own arcs are a plain clip, and on its own arcs the scalar `t` solves

.. math:: \varphi_i(t) = \sum_{a \ni i} d_{i,a}\, \mathrm{clip}\big((q_a - t\,d_{i,a})/h_a, l_a, u_a\big) - t = 0,

a continuous, piecewise-linear, strictly decreasing equation (slope `\le -1`) with its root in
`[\min(0, \varphi_i(0)), \max(0, \varphi_i(0))]`. All agents' equations are solved at once by a
bracketed Newton iteration (exact on each linear piece, bisection when a step leaves the bracket),
warm-started at the previous `t`. One iteration costs a few passes over the
`|V|\times|\mathcal A|` copies plus one sparse product with the neighbour matrix; memory is
`O(|V|\,|\mathcal A|)` (the copies and their multipliers, which the algorithm needs).

Stopping rule (3.2): `\mathrm{Error}_k = \sum_i \|\mathbf s^i_{k+1} - \mathbf s^i_k\| +
\|\pi^i_{k+1} - \pi^i_k\| + |\alpha^i_{k+1} - \alpha^i_k| < \varepsilon` (``tol``), checked only once
every event has happened. The returned flow is the consensus plan, the mean of the active agents'
copies; the node potentials (the `\psi` of ``otmodel.validation``) are
`\psi_i = -\delta\,\alpha^i` (the unscaled multipliers of (3.5c), sign-converted). The status is
``CONVERGED`` or ``ITERATION_LIMIT``, never ``OPTIMAL``: certify the point.

Convergence (Theorem 3.3) needs finite bounds unless every local objective is strictly convex
(split (2.4) with every `a_{ij} > 0`, Remark 3.4), and a strongly connected graph for graph
transport (the paper's standing assumption). For a general flow problem the consensus needs only a
connected neighbour graph (its Laplacian, built on `N^+(i) \cup N^-(i)`, has the constant
vectors as kernel), so weakly connected graphs are accepted there.

Events (section 4.3): ``Departure`` (an agent leaves: it stops updating, its arcs are removed,
i.e. their flows are fixed to 0, supplies change as the caller says) and ``SupplyChange``.

Options
-------
delta : float
    Penalty `\delta > 0` (default 10, section 4).
tol : float
    `\varepsilon` of the stopping rule (3.2) (default 1e-4, section 4); ``tol <= 0`` disables it.
max_iter : int
    Iteration limit (default 20000).
time_limit : float, optional
    Seconds of wall-clock time, checked after every iteration: the run stops with status
    ``TIME_LIMIT`` (overshooting by at most one iteration).
split : {"2.4", "2.6"}
    How the regularization is spread over agents (default: the problem's ``split``, else "2.4").
neighbours : {"union", "arcs"}
    ``"union"`` (default): each neighbour counts once, as (3.1a) is written; ``"arcs"``: once per arc
    joining the two agents (the multiset of the derivation (3.6)-(3.13)).
events : sequence of Departure / SupplyChange
    Changes during the run, applied after ``k`` updates.
callback : callable
    ``callback(k, state)`` after each update with an ``AdmmState``; a true value stops the run.
verbose : bool or int
    Log a progress line (logger ``"otmodel"``) every ``verbose`` iterations (``True``: ten lines),
    shown on standard output when logging is not configured.
progress : bool or callable
    ``True``: a tqdm bar (when tqdm is installed); a callable: ``progress(k, max_iter, numbers)``.
trace_norms : bool or "auto"
    Record `\|\pi^i_k\|` per agent each iteration (Fig. 4); "auto": when `|V| \le 200`.
keep_copies : bool
    Return the final copies, multipliers and per-agent scalars in ``info["copies"]`` etc.
check_feasible : bool
    Before iterating, decide feasibility (Assumption 2.1) by one max-flow computation; an infeasible
    problem is returned as ``INFEASIBLE`` with a verified cut, without running ADMM (default True).
    Supplies changed by events are not checked.

Trace columns (one entry per update): ``error`` (Error_k of (3.2)), ``objective`` (the sum of
Theorem 3.3, `\sum_i F_i(\pi^i_k)` over active agents), ``plan_objective`` (objective of the
consensus plan), ``disagreement`` (`\max_i \|\pi^i_k - \bar\pi_k\|`), ``div_residual``
(`\max_i |\operatorname{div}(\pi^i_k)_i - \rho_i|`), ``plan_residual``
(`\|\operatorname{div}(\bar\pi_k) - \rho\|_\infty`), ``active`` (number of agents), and
``copy_norms`` when asked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._admm_events import (
    Departure,
    SupplyChange,
    graph_connected,
    needs_strong,
    new_supply,
    validate_events,
)
from otmodel.backends._loop import stop_status
from otmodel.backends._progress import Progress
from otmodel.backends.base import Conformance, Timer, no_point_solution
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem
from otmodel.results import PointStatus, Solution, Status, Trace

__all__ = ["AdmmBackend", "AdmmRun", "AdmmState", "Departure", "SupplyChange", "solve_local_scalar"]

SPLITS = ("2.4", "2.6")


# ================================================================================= events

@dataclass
class AdmmState:
    """What a callback sees after update ``k``: read-only views of the state, valid until the next
    update (the arrays are buffers that the next update overwrites; copy what you keep)."""

    k: int
    copies: NDArray[np.float64]
    s: NDArray[np.float64]
    alpha: NDArray[np.float64]
    active: NDArray[np.bool_]
    error: float


# ================================================================================= local solve
def solve_local_scalar(
    q: NDArray[np.float64],
    h: NDArray[np.float64],
    d: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    rows: NDArray[np.intp],
    n: int,
    t0: NDArray[np.float64] | None = None,
    tol: float = 1e-13,
    max_iter: int = 200,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    r"""Roots of `\varphi_i(t) = \sum_{e: \mathrm{row}_e = i} d_e\,\mathrm{clip}((q_e - d_e t)/h_e, l_e, u_e) - t`
    for all ``n`` agents at once.

    ``q, h, d, lower, upper, rows`` describe the entries of the agents' own arcs (one entry per
    (agent, arc) pair). `\varphi_i` is piecewise linear with slope `\le -1`, so the
    root is unique and lies between 0 and `\varphi_i(0)`. Newton steps are exact on a linear
    piece; a step that leaves the current bracket is replaced by bisection. Returns ``(t, x, iters)``
    with ``x`` the entries at the root.
    """
    dh = d / h
    d2h = d * dh

    def phi(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        z = q / h - dh * t[rows]
        x: NDArray[np.float64] = np.clip(z, lower, upper)
        free = (z > lower) & (z < upper)
        g = np.bincount(rows, weights=d * x, minlength=n)
        slope = np.asarray(-1.0 - np.bincount(rows, weights=np.where(free, d2h, 0.0), minlength=n), dtype=np.float64)
        return g - t, slope, x

    zero = np.zeros(n)
    g0 = phi(zero)[0]
    lo, hi = np.minimum(0.0, g0), np.maximum(0.0, g0)
    t = zero.copy() if t0 is None else np.clip(t0, lo, hi)
    scale = 1.0 + np.abs(lo) + np.abs(hi)
    x = np.empty_like(q)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 -- the count is returned
        f, slope, x = phi(t)
        done = (np.abs(f) <= tol * scale) | (hi - lo <= 4e-16 * scale)
        if done.all():
            break
        lo = np.where(f > 0, t, lo)
        hi = np.where(f < 0, t, hi)
        tn = t - f / slope
        tn = np.where((tn > lo) & (tn < hi), tn, 0.5 * (lo + hi))
        t = np.where(done, t, tn)
    return t, x, it


# ================================================================================= the iteration
def _communication(tails: NDArray[np.intp], heads: NDArray[np.intp], n: int, neighbours: str) -> sp.csr_matrix:
    """Symmetric neighbour matrix W: W_ij = 1 (union) or the number of arcs between i and j (arcs)."""
    rows = np.concatenate([tails, heads])
    cols = np.concatenate([heads, tails])
    w = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    w.sum_duplicates()
    if neighbours == "union":
        w.data[:] = 1.0
    return w



class AdmmRun:
    """The state of one run of (3.1a)-(3.1c), all agents vectorized; ``step`` makes one update.

    ``copies`` is the ``(|V|, |A|)`` array of the `\\pi^i`, ``s`` their consensus multipliers,
    ``alpha`` the scaled multipliers of the agents' divergence constraints.
    """

    def __init__(
        self, problem: FlowProblem, delta: float = 10.0, split: str = "2.4", neighbours: str = "union"
    ) -> None:
        if not (math.isfinite(delta) and delta > 0):
            raise InvalidDataError(f"delta = {delta!r} must be a positive finite number")
        if split not in SPLITS:
            raise InvalidDataError(f"split = {split!r} must be one of {SPLITS}")
        if neighbours not in ("union", "arcs"):
            raise InvalidDataError(f"neighbours = {neighbours!r} must be 'union' or 'arcs'")
        self.problem = problem
        self.delta = float(delta)
        self.split = split
        self.neighbours = neighbours
        n, m = problem.n_nodes, problem.n_arcs
        self.n, self.m = n, m
        self.tails = np.asarray(problem.tails, dtype=np.intp)
        self.heads = np.asarray(problem.heads, dtype=np.intp)
        self.qa = np.asarray(problem.costs.a, dtype=float)
        self.lb = np.asarray(problem.costs.b, dtype=float)
        self.lower = np.array(problem.lower, dtype=float)
        self.upper = np.array(problem.upper, dtype=float)
        self.rho = np.array(problem.supply, dtype=float)
        self.active = np.ones(n, dtype=bool)
        self.removed = np.zeros(m, dtype=bool)
        self.keep_frozen = np.zeros(n, dtype=bool)  # departed agents whose last copy neighbours keep
        # own entries: (tail(a), a) with d = +1 and (head(a), a) with d = -1
        self.own_r = np.concatenate([self.tails, self.heads])
        self.own_c = np.concatenate([np.arange(m), np.arange(m)])
        self.own_d = np.concatenate([np.ones(m), -np.ones(m)])
        self.is_tail = np.concatenate([np.ones(m, dtype=bool), np.zeros(m, dtype=bool)])
        self.W0 = _communication(self.tails, self.heads, n, neighbours)
        self._set_graph()
        self.copies = np.zeros((n, m))
        self.s = np.zeros((n, m))
        self.alpha = np.zeros(n)
        self.t = np.zeros(n)
        self.wp = np.zeros((n, m))  # W @ copies, reused between updates
        self._spare: NDArray[np.float64] | None = None  # buffers reused by step()
        self._ds: NDArray[np.float64] | None = None
        self.k = 0
        self.inner_iterations = 0

    # ------------------------------------------------------------------ graph and coefficients
    def _set_graph(self) -> None:
        """Neighbour matrix, degrees and Hessian diagonals for the current active agents/arcs."""
        n, delta = self.n, self.delta
        keep = self.active | self.keep_frozen
        mask = sp.diags(keep.astype(float))
        w = sp.csr_matrix(mask @ self.W0 @ mask)
        # a departed agent's row: its state is frozen below, but keep rows finite
        self.W = w
        deg = np.asarray(w.sum(axis=1)).reshape(-1)
        self.deg = np.where(self.active, deg, np.maximum(deg, 1.0))
        n_agents = float(n)
        if self.split == "2.4":
            col = 2.0 * self.qa / (delta * n_agents)
        else:
            col = np.zeros(self.m)
        self.h_col = col
        self.h_const = bool(np.all(col == col[0])) if col.size else True
        h_own = self.deg[self.own_r] + col[self.own_c]
        if self.split == "2.6":
            h_own = h_own + np.where(self.is_tail, 2.0 * self.qa[self.own_c] / delta, 0.0)
        self.h_own = h_own
        # linear part of delta^-1 grad F_i on own entries: the tail agent pays c_ij
        self.lin_own = np.where(self.is_tail, -self.lb[self.own_c] / delta, 0.0)
        lo = np.where(self.removed, 0.0, self.lower)
        up = np.where(self.removed, 0.0, self.upper)
        self.lo, self.up = lo, up
        self.lo_own, self.up_own = lo[self.own_c], up[self.own_c]

    # ------------------------------------------------------------------ one update
    def step(self) -> float:
        """One update (3.1a)-(3.1c) of every active agent; returns Error_k of (3.2).

        Works in place on three preallocated ``(|V|, |A|)`` buffers (the copies, the next copies and
        the multiplier increment): a fresh 32 MB array per operation costs more than the arithmetic.
        """
        P, S = self.copies, self.s
        X = self._spare if self._spare is not None and self._spare.shape == P.shape else np.empty_like(P)
        # q = 1/2 (n_i pi^i + sum_j pi^j) - s^i  (dense part, all agents at once)
        np.multiply(P, self.deg[:, None], out=X)
        X += self.wp
        X *= 0.5
        X -= S
        r, c, d = self.own_r, self.own_c, self.own_d
        q_own = X[r, c] + self.lin_own + (self.rho - self.alpha)[r] * d
        if self.h_const:
            X /= (self.deg + (self.h_col[0] if self.m else 0.0))[:, None]
        else:
            X /= self.deg[:, None] + self.h_col[None, :]
        np.clip(X, self.lo, self.up, out=X)
        t, x_own, it = solve_local_scalar(q_own, self.h_own, d, self.lo_own, self.up_own, r, self.n, self.t)
        self.inner_iterations = it
        X[r, c] = x_own
        div = np.bincount(r, weights=d * x_own, minlength=self.n)
        frozen = ~self.active
        any_frozen = bool(frozen.any())
        if any_frozen:
            X[frozen] = P[frozen]
            div[frozen] = self._div_of(P, frozen)
        d_alpha = np.where(self.active, div - self.rho, 0.0)
        self.alpha = self.alpha + d_alpha
        self.t = np.where(self.active, t, self.t)
        wp = np.asarray(self.W @ X)
        dS = self._ds if self._ds is not None and self._ds.shape == P.shape else np.empty_like(P)
        np.multiply(X, self.deg[:, None], out=dS)
        dS -= wp
        dS *= 0.5
        if any_frozen:
            dS[frozen] = 0.0
        S += dS
        dP = np.subtract(X, P, out=P)  # the old copies are no longer needed: reuse their buffer
        ns = np.sqrt(np.einsum("ij,ij->i", dS, dS))
        npi = np.sqrt(np.einsum("ij,ij->i", dP, dP))
        err = float(np.sum(ns[self.active]) + np.sum(npi[self.active]) + np.sum(np.abs(d_alpha)))
        self.copies = X
        self._spare = P
        self._ds = dS
        self.wp = wp
        self.div = div
        self.k += 1
        return err

    def _div_of(self, P: NDArray[np.float64], rows: NDArray[np.bool_]) -> NDArray[np.float64]:
        """div(pi^i)_i of the copies of the agents in ``rows``."""
        out = np.bincount(self.own_r, weights=self.own_d * P[self.own_r, self.own_c], minlength=self.n)
        return np.asarray(out[rows], dtype=float)

    # ------------------------------------------------------------------ read-outs
    def plan(self) -> NDArray[np.float64]:
        r"""The consensus plan `\bar\pi`: the mean of the active agents' copies."""
        mean = self.copies.mean(axis=0) if self.active.all() else self.copies[self.active].mean(axis=0)
        return np.where(self.removed, 0.0, mean)

    def agent_objective(self) -> float:
        r"""Theorem 3.3's `\sum_i F_i(\pi^i)` over active agents."""
        P = self.copies
        own = P[self.own_r, self.own_c]
        act = self.active[self.own_r] & self.is_tail
        val = float(np.sum(self.lb[self.own_c] * own * act))
        if self.split == "2.4":
            pa = P if self.active.all() else P[self.active]
            val += float(self.qa @ np.einsum("ij,ij->j", pa, pa)) / self.n
        else:
            val += float(np.sum(self.qa[self.own_c] * own * own * act))
        return val

    def effective_costs(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Quadratic and linear coefficients of the centralized problem the active agents solve."""
        a = self.qa.copy()
        if self.split == "2.4":
            a *= self.active.sum() / self.n
        return a, self.lb.copy()

    def measures(self, plan: NDArray[np.float64]) -> dict[str, float]:
        P = self.copies
        dev = self._ds if self._ds is not None and self._ds.shape == P.shape else np.empty_like(P)
        np.subtract(P, np.where(self.removed, 0.0, plan), out=dev)  # scratch: dS is not needed any more
        if self.removed.any():
            dev[:, self.removed] = 0.0
        sq = np.einsum("ij,ij->i", dev, dev)[self.active]
        disagreement = float(np.sqrt(np.max(sq, initial=0.0)))
        a, b = self.effective_costs()
        out = np.bincount(self.tails, weights=plan, minlength=self.n) - np.bincount(
            self.heads, weights=plan, minlength=self.n
        )
        res = np.abs(out - self.rho)[self.active]
        own = np.abs(self.div - self.rho)[self.active] if hasattr(self, "div") else np.abs(self.rho[self.active])
        return {
            "objective": self.agent_objective(),
            "plan_objective": float(np.sum(a * plan * plan + b * plan)),
            "disagreement": disagreement,
            "div_residual": float(np.max(own, initial=0.0)),
            "plan_residual": float(np.max(res, initial=0.0)),
        }

    # ------------------------------------------------------------------ events
    def apply(self, event: Departure | SupplyChange) -> None:
        """Apply an event (already validated by ``validate_events``)."""
        names = self.problem.node_names
        if isinstance(event, Departure):
            i = self.problem.node_index(str(event.node))
            self._hand_off(i)
            self.active[i] = False
            if event.keep_last_message:
                self.keep_frozen[i] = True
            self.removed |= (self.tails == i) | (self.heads == i)
            self.rho = new_supply(self.rho, event.supply, names, self.active, default_zero=i)
            self._set_graph()
            # neighbours' sums of copies must match the new neighbour matrix
            self.wp = np.asarray(self.W @ self.copies)
        else:
            self.rho = new_supply(self.rho, event.supply, names, self.active, default_zero=None)

    def _hand_off(self, i: int) -> None:
        r"""Agent ``i``'s last message: its consensus multiplier `\mathbf s^i`, split in equal
        shares among its active neighbours.

        (3.1c) keeps `\sum_i \mathbf s^i = 0` (the neighbour Laplacian has zero column sums),
        and a fixed point of (3.1a)-(3.1c) with consensus solves the centralized KKT conditions exactly
        because of that sum. Dropping a departed agent's `\mathbf s^i` would leave the remaining
        sum at `-\mathbf s^i \ne 0` and the run would converge to a biased plan (measured on
        section 4.3 at gamma = 1: objective 2.83417 against the optimum 2.83333 at ``tol=1e-8``). The
        hand-off is one message to each neighbour, so the method stays distributed. An agent with no
        active neighbour left hands it to all active agents.
        """
        row = self.W0.getrow(i).toarray().ravel() > 0
        row &= self.active
        row[i] = False
        if not row.any():
            row = self.active.copy()
            row[i] = False
        if row.any():
            self.s[row] += self.s[i] / float(row.sum())
        self.s[i] = 0.0

    def final_problem(self) -> FlowProblem:
        """The centralized problem the active agents solve now: removed arcs fixed to 0, the current
        supplies, and (split (2.4)) the quadratic coefficient of the remaining agents."""
        p = self.problem
        a, b = self.effective_costs()
        names = np.asarray(p.node_names, dtype=object)
        net = Network.from_arrays(
            p.node_names,
            self.rho,
            names[np.asarray(p.tails)],  # names, not indices: nodes may be called "1", "2", ...
            names[np.asarray(p.heads)],
            quadratic=a,
            linear=b,
            lower=self.lo,
            upper=self.up,
        )
        return FlowProblem(net, name=f"{p.name} after events".strip(), balance_rtol=1e-9)



# ================================================================================= backend
#: The options ``AdmmBackend.solve`` takes (docs/backend-options.md describes each).
OPTIONS = (
    "max_iter", "tol", "time_limit", "verbose", "progress", "callback", "seed",
    "delta", "split", "neighbours", "events", "trace_norms", "keep_copies", "check_feasible",
)


class AdmmBackend:
    """Distributed ADMM (3.1a)-(3.1c) of Mokhtari et al., vectorized over agents (see the module docstring)."""

    name = "admm"
    capabilities = frozenset({"flow", "linear", "quadratic", "iterative"})
    # checked where Theorem 3.3 applies (supports() refuses the rest), to its own accuracy
    conformance = Conformance(
        kinds=frozenset({"flow", "graph"}),
        options={"tol": 1e-10, "max_iter": 50000, "delta": 1.0},
        allow_unsupported=True,
        optimal_statuses=(Status.CONVERGED,),
        rtol=1e-5, atol=1e-6, point_rtol=1e-4, point_atol=1e-4, feas_tol=1e-5,
    )

    def supports(self, problem: FlowProblem, split: str | None = None) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        if getattr(problem, "kind", "flow") != "flow":
            return "the ADMM backend solves flow problems on graphs, not spatial problems"
        kinked = problem.costs.kinked_arcs()
        if kinked.size:
            return (
                f"arc {problem.arc_names[kinked[0]]} is a two-way arc charged b*|p| (lower < 0 < upper), "
                "whose kink at 0 the ADMM splits of Laurentin et al. do not model; solve it with an exact "
                "backend, or model the link as two one-way arcs"
            )
        split = split or getattr(problem, "split", "2.4")
        strict = split == "2.4" and bool(np.all(np.asarray(problem.costs.a) > 0))
        unbounded = np.flatnonzero(~np.isfinite(problem.lower) | ~np.isfinite(problem.upper))
        if unbounded.size and not strict:
            arc = problem.arc_names[unbounded[0]]
            why = (
                "the costs are linear (gamma = 0)"
                if problem.is_linear
                else f"split ({split}) leaves the local objectives not strictly convex"
            )
            return (
                f"arc {arc} has an infinite bound and {why}: Theorem 3.3 (Remark 3.4) needs finite "
                "capacities unless every local objective is strictly convex (split 2.4 with gamma > 0)"
            )
        if problem.n_nodes < 2:
            return "the graph needs at least two agents"
        n = problem.n_nodes
        strong = needs_strong(problem)
        if not graph_connected(np.asarray(problem.tails), np.asarray(problem.heads), np.arange(n), n, strong):
            if strong:
                return "the graph is not strongly connected (Theorem 3.3 needs it)"
            return "the graph is not connected: agents in different components cannot reach consensus"
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        from otmodel.backends import _options as opt

        opt.refuse_unknown("admm", options, OPTIONS)
        time_limit = options.pop("time_limit", None)
        if time_limit is not None:
            time_limit = opt.number("admm", "time_limit", time_limit, 0.0, strict=True, finite=False)
        delta = opt.number("admm", "delta", options.pop("delta", 10.0), 0.0, strict=True)
        tol = opt.number("admm", "tol", options.pop("tol", 1e-4), 0.0)
        max_iter = opt.integer("admm", "max_iter", options.pop("max_iter", 20000))
        split = str(options.pop("split", getattr(problem, "split", "2.4")))
        neighbours = str(options.pop("neighbours", "union"))
        events = options.pop("events", None)
        callback: Callable[[int, AdmmState], Any] | None = options.pop("callback", None)
        verbose = options.pop("verbose", False)
        progress = options.pop("progress", None)
        trace_norms = options.pop("trace_norms", "auto")
        keep_copies = bool(options.pop("keep_copies", False))
        check_feasible = bool(options.pop("check_feasible", True))
        options.pop("seed", None)  # deterministic: accepted for the common option set
        if split not in SPLITS:
            raise InvalidDataError(f"split = {split!r} must be one of {SPLITS}")
        reason = self.supports(problem, split)
        if reason is not None:
            raise UnsupportedError(f"backend {self.name!r} cannot solve {problem!r}: {reason}")
        if max_iter < 0:
            raise InvalidDataError(f"max_iter = {max_iter} must be >= 0")
        evs = validate_events(problem, events, split)
        norms = problem.n_nodes <= 200 if trace_norms == "auto" else bool(trace_norms)

        timer = Timer()
        if check_feasible:
            from otmodel.certificates import find_infeasible_cut

            with timer("check"):
                cut = find_infeasible_cut(problem)
            if cut is not None:
                # Assumption 2.1 fails: ADMM would iterate forever; report the verified cut instead
                return no_point_solution(
                    problem,
                    Status.INFEASIBLE,
                    PointStatus.CERTIFICATE,
                    self.name,
                    "distributed ADMM (not run)",
                    timer.done(),
                    message=f"infeasible (Assumption 2.1 fails), ADMM not run: {cut.describe()}",
                    certificate=cut,
                )
        with timer("build"):
            run = AdmmRun(problem, delta=delta, split=split, neighbours=neighbours)
        trace = Trace()
        converged = False
        reason_txt = "iteration limit"
        err = math.inf
        pending = list(evs)
        applied: list[str] = []
        # checked after every iteration (one clock read): the run overshoots by at most one
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        with timer("solve"), Progress(verbose, progress, max_iter, label="admm") as report:
            while run.k < max_iter:
                while pending and pending[0].k == run.k:
                    ev = pending.pop(0)
                    run.apply(ev)
                    applied.append(f"{type(ev).__name__} at k={ev.k}")
                err = run.step()
                plan = run.plan()
                rec = run.measures(plan)
                if norms:
                    trace.append(copy_norms=np.sqrt(np.einsum("ij,ij->i", run.copies, run.copies)))
                trace.append(error=err, active=int(run.active.sum()), **rec)
                report.line(
                    run.k - 1,
                    f"iter {run.k:6d}  Error {err:.3e}  objective {rec['plan_objective']:.8g}  "
                    f"disagreement {rec['disagreement']:.2e}",
                    {"error": err, **rec},
                )
                if not math.isfinite(err):
                    reason_txt = "non-finite iterate"
                    break
                if callback is not None and callback(
                    run.k, AdmmState(run.k, run.copies, run.s, run.alpha, run.active, err)
                ):
                    reason_txt = "stopped by callback"
                    break
                if tol > 0 and not pending and err < tol:
                    converged = True
                    reason_txt = "converged"
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    reason_txt = "time limit"
                    break
            report.done(f"stopped after {run.k} iterations: {reason_txt} (Error {err:.3g})")
        with timer("reconstruct"):
            plan = run.plan()
            final = run.final_problem() if applied else None
            judge = final if final is not None else problem
            objective = float(judge.objective(plan))
            psi = -delta * run.alpha
            psi = np.where(run.active, psi, 0.0)
            rec = run.measures(plan)
        status = stop_status(reason_txt, converged)
        info: dict[str, Any] = {
            "error": err,
            "delta": delta,
            "split": split,
            "neighbours": neighbours,
            "stopped_by": reason_txt,
            "events_applied": applied,
            "events_pending": [f"{type(e).__name__} at k={e.k}" for e in pending],
            "active": [nm for nm, a in zip(problem.node_names, run.active, strict=True) if a],
            **{k: v for k, v in rec.items()},
        }
        if final is not None:
            info["final_problem"] = final
        if keep_copies:
            info["copies"] = run.copies.copy()
            info["s"] = run.s.copy()
            info["alpha"] = run.alpha.copy()
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=objective,
            flows=plan,
            potentials=psi,
            backend=self.name,
            solver=f"distributed ADMM (3.1a)-(3.1c), delta={delta:g}, split ({split})",
            timings=timer.done(),
            trace=trace,
            iterations=run.k,
            message=f"{reason_txt} after {run.k} iterations (Error_k {err:.3g}, tol {tol:g})",
            info=info,
        )
