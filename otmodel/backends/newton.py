r"""A damped Newton step rule for the dual-ascent backend: second-order, and still local.

The dual (3)-(4) of Laurentin et al. (2025) is concave; a diagonal step (``Curvature``) cannot
see how the mass of one Laguerre cell moves with its neighbours' potentials, and at many endpoints
that coupling is everything. This module maximizes an entropic smoothing of (4),

.. math::
    q_\varepsilon(\psi) = \sum_k \mu_k\, \mathrm{softmin}_\varepsilon\{c(x_k,i) - \psi_i\}_{i\in C_k}
      + \sum_i \psi_i s_i + \sum_{(i,j)} \min_{p\in[l_{ij},u_{ij}]}\{c_{ij}(p) - (\psi_i-\psi_j)p\},
    \qquad \mathrm{softmin}_\varepsilon\{v_i\} = -\varepsilon \log\sum_i e^{-v_i/\varepsilon},

by damped Newton steps while the temperature `\varepsilon` falls as the residual closes
(`C_k` are the ``candidates`` endpoints of lowest `c(x_k,i)-\psi_i`; the others carry
weights below `e^{-\Delta/\varepsilon}` and are dropped). Its gradient is the supergradient (6)-(7)
with the hard cell masses replaced by soft ones, `m_i = \sum_k \mu_k P_{ki}`,
`P_{k\cdot} = \mathrm{softmax}(-(c(x_k,\cdot)-\psi)/\varepsilon)`, and its Hessian is
`-L` with `L` a weighted graph Laplacian,

.. math::
    L = \underbrace{\sum_k \frac{\mu_k}{\varepsilon}\big(\mathrm{diag}(P_k) - P_k P_k^\top\big)}_{\text{cells: weight }
      w_{ij} = \sum_k \mu_k P_{ki}P_{kj}/\varepsilon}
      + \underbrace{\sum_{(i,j)\ \text{free}} \frac{1}{2a_{ij}} (e_i - e_j)(e_i - e_j)^\top}_{\text{arcs}},

whose edges are the network's arcs whose response (5) is strictly inside its bounds and the pairs of
*adjacent* cells (cells that share points of positive weight on both sides: the soft boundary).

Why entropic smoothing. For demand given by points the dual (4) is piecewise linear: its Hessian
vanishes almost everywhere and a Newton step is undefined. Integrating a ``Grid`` exactly as the
piecewise-constant density it samples would give a `C^1` dual, but for the Euclidean cost of the
source paper the cells are bounded by hyperbola arcs (Apollonius diagrams), not the power-diagram
polygons of the squared Euclidean cost, so exact integration is not available in closed form for
the problems this backend serves. The entropic smoothing works for every assignment cost and
every demand, costs one pass over the points per evaluation (as Algorithm 1's line 9), and its
error is controlled: `q_\varepsilon \le q \le q_\varepsilon + \varepsilon\,\mu(X)\log|C|`.
The temperature starts at ``start_fraction`` times the median gap between a point's two best
endpoints and falls as the gap closes: it is divided by up to ``shrink`` (once per iteration, after
a full Newton step; less when the excess below is near its target) whenever the smoothed residual
`\|g_\varepsilon\|_1/(2\mu(X))` is below ``shrink_at`` (the smoothed problem is nearly solved) *and*
the soft plan still costs more than ``excess_rtol`` `|q(\psi)|` above the hard dual value
`q(\psi)` (its share of the certified gap, computed in the same pass), never below ``eps_min``
(``min_fraction`` times the median cost change between neighbouring demand points: colder, the soft
boundary holds too few points to carry curvature).

What is certified. The returned plan is the exact discrete finish of the soft plan
`\pi_{ki} = \mu_k P_{ki}` at the last potentials (``discrete_finish``: every point to its best
endpoint except the boundary points, whose split between their two best endpoints is one min-cost
flow between the cells, so that every cell receives exactly its mass; with ``finish=False``, or when
that flow is infeasible, the soft plan itself, entries below ``plan_floor`` dropped): a transport plan
of the *discrete* demand that splits boundary points, as optimal discrete plans do. Without arcs the
returned potentials are those of the flow where the exact dual (4) is higher there.
``otmodel.validation.certify`` judges it
exactly as any other answer: the dual bound is the exact, piecewise-linear `q(\psi)` of (4) over the
points, the upper bound the objective of the repaired point (this plan, the network flows
re-solved for its cell masses). So "certified to 1e-6" means: the optimum of the discretized problem
(2) lies within 1e-6 (relative) of the returned, repaired point. For a ``Grid`` this is the problem on
the cell-centred points (midpoint rule), not on the continuous density.

Damping (Kitagawa, Merigot and Thibert, 2019). A trial step `\psi + \tau d` is accepted when

1. every cell keeps a positive mass: `m_i(\psi+\tau d) \ge \kappa` for every endpoint with
   `m_i(\psi) \ge \kappa`, `\kappa` = ``kmt`` times the smallest cell mass at the start
   (and, for a pure semi-discrete problem, the smallest target mass): no cell collapses;
2. the smoothed dual increases enough (Armijo): `q_\varepsilon(\psi+\tau d) \ge q_\varepsilon(\psi)
   + \texttt{armijo}\,\tau\, g_\varepsilon^\top d`;

otherwise `\tau` is halved (at most ``max_halvings`` times).

Locality. What node ``i`` reads to take part in one Newton iteration:

* its row of `L`: for every arc at ``i``, whether its flow is strictly inside the bounds (the
  flow of Algorithm 1, line 6, which reads the two end potentials) and `a_{ij}`; at an endpoint,
  the points of its own soft cell (those with `P_{ki} > 0`) and, for each, the weights
  `P_{kj}` of the competing endpoints -- the potentials of the adjacent cells only;
* its gradient entry `g_i`: its supply, its arcs' flows and its soft cell mass (as (6)-(7));
* conjugate gradients on `(L + \delta I) d = g` (Jacobi preconditioner `\mathrm{diag}(L)_i`,
  local): each CG iteration is one product `(Lv)_i = \sum_{j\sim i} w_{ij}(v_i - v_j)`, an
  exchange of `v` with the graph neighbours, plus two scalar sums over all nodes (inner products:
  an all-reduce, the only non-neighbour communication, as in any distributed CG). In one
  process, systems of up to 400 nodes are solved directly (``linear_solver``): the same
  direction, computed centrally because that is faster there, not a different step;
* the line search: the same reads at the trial point, and two more scalar sums (the change of
  `q_\varepsilon` and the slope `g^\top d`) and a minimum (the mass test);
* the temperature update: two scalar sums (the residual norm and the excess) and a broadcast of the
  new `\varepsilon`;
* the exact finish (once, after the iterations): each boundary point reads its two best endpoints'
  potentials; the min-cost flow between the cells is one central LP over the cell graph (its rows are
  the endpoints, its columns the boundary points), the one step that is not neighbour-to-neighbour.

`\delta = 10^{-10}\max_i L_{ii}` makes the system definite on graph components whose
residual does not sum to zero (a cell with no soft boundary at a very low temperature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from otmodel.backends._discrete_finish import Finish, discrete_finish
from otmodel.backends._soft_cells import SoftCells
from otmodel.backends.oracle import local_flows
from otmodel.errors import InvalidDataError
from otmodel.model.problems import FlowProblem, SpatialFlowProblem

__all__ = ["Newton", "SoftCells", "pcg", "laplacian", "discrete_finish", "Finish"]


# ------------------------------------------------------------------------------ the rule
@dataclass(frozen=True)
class Newton:
    r"""Damped Newton steps on the entropically smoothed dual (see the module docstring).

    Parameters
    ----------
    eps0 : float, optional
        Starting temperature, in cost units (default: ``start_fraction`` times the median gap
        between the best and second-best endpoint of the points, at the starting potentials).
    eps_min : float, optional
        Final temperature (default: ``min_fraction`` times the median change of a point's best
        cost between neighbouring demand points).
    shrink : float, optional
        Factor dividing the temperature each time the smoothed residual is below ``shrink_at``, at
        most: the soft plan's excess falls about as `\varepsilon^2` (the boundary band's mass and
        each of its points' excess are both proportional to `\varepsilon`), so the factor is
        `\min(\texttt{shrink}, \max(2, 2\sqrt{\text{excess}/\text{target}}))` with the target
        of ``excess_rtol``: colder than the target needs, Newton steps are damped (the soft
        boundary holds too few points). Measured on ``benchmarks/bench_many_endpoints.py`` (with the
        default ``done_at``, which saves one more): 16 with the cap against 4, 6 iterations instead
        of 8 at 100 endpoints on 50 x 50 (8 instead of 9 on ``synthetic(200)``); pure SDOT at 1,000
        sites, 1000 x 1000: 10 Newton steps instead of 12 (18 without the cap, which cools past
        the target). Default 16, but 4 for a pure SDOT
        problem without ``finish``: its soft plan must cool to an excess of ``1e-7`` `|q|`, far below
        the point spacing, where larger factors stall (1,000 sites, 1000 x 1000: masses at 1e-6
        after 25 steps with 4, not within 30 with 8 or 16).
    shrink_at : float
        Relative smoothed residual `\|g_\varepsilon\|_1/(2\mu(X))` at which the temperature falls.
    start_fraction, min_fraction : float
        The fractions of the defaults of ``eps0`` and ``eps_min``.
    candidates : int
        Endpoints kept per point in the soft minimum (the ``candidates`` lowest `c - \psi`).
    cg_tol, cg_maxiter : float, int
        Relative residual and iteration cap of the conjugate gradients.
    linear_solver : {"auto", "cg", "direct"}
        How the Newton system is solved: conjugate gradients (the local form of the module
        docstring), a dense Cholesky factorisation (the same direction, fastest in one process for
        small networks), or ``"auto"``: direct up to 400 nodes, CG above.
    armijo, kmt, max_halvings : float, float, int
        Line search: sufficient increase, mass floor fraction, halvings (see the module docstring).
    plan_floor : float
        Plan entries with `P_{ki}` below this are dropped from the returned plan.
    excess_rtol : float, optional
        The temperature stops falling once the soft plan costs at most this much (relative to
        `|q|`) above the hard dual value: `\sum_k \mu_k \sum_i P_{ki}(c(x_k,i)-\psi_i - \min_j
        (c(x_k,j)-\psi_j)) \le` ``excess_rtol`` `|q(\psi)|` (the plan's share of the gap).
        Default: ``1e-4`` for a pure semi-discrete problem (no arcs) with ``finish``, whose
        potentials close the gap at that temperature; ``1e-7`` otherwise, where the certified gap rests
        on `q(\psi)` at the soft optimum (see ``finish``).
    curvature_fraction : float
        The Hessian's cell weights are taken at the temperature
        `\varepsilon_H = \max(\varepsilon, \texttt{curvature\_fraction}\cdot\Delta_h)`, with
        `\Delta_h` the cost change between neighbouring points (as for ``eps_min``). Below the
        spacing of the points the soft boundary holds too few points to carry curvature (the
        smoothed dual tends to the piecewise-linear one); at `\varepsilon_H` the weights are those of the mass
        spread over about one point spacing, the curvature of the density the points sample. The step is then
        a Newton step of that density's dual, checked (line search) on `q_\varepsilon`. Default 0
        (off): measured on the benchmark instances, the damped steps it causes at low temperature cost
        more iterations than the exact Hessian of `q_\varepsilon` (14 against 9 at 50 x 50, 100 endpoints).
    done_at : float, optional
        Smoothed residual at which, at the final temperature, the rule returns a zero step (the
        loop's ``tol`` rule then stops). Default ``1e-13`` for a pure SDOT problem without
        ``finish`` (its soft cell masses are the returned ones and must meet the certificate's
        feasibility tolerance), ``1e-10`` otherwise (the repair re-solves the network for the plan's
        masses, or the finish makes them exact): one Newton step fewer on every row of
        ``benchmarks/bench_many_endpoints.py``, same certified gaps.
    finish : bool, optional
        Return the exact discrete plan of ``discrete_finish`` (the soft plan's boundary points
        moved by one min-cost flow between the cells, so that every cell gets exactly its mass) and,
        where the exact dual (4) is higher there, that flow's potentials; otherwise (or if the flow
        is infeasible or costs more) the soft plan. Without arcs (pure SDOT) those potentials
        certify the plan at a moderate temperature (measured: gap 2.1e-9 at 1,000 sites on a 1000 x
        1000 grid, after 10 Newton steps, where the soft plan alone needs 27 for 5.6e-8); with arcs, shifting the endpoint potentials
        alone costs the network's curvature (measured: the lifted `q` lower in every row of
        ``benchmarks/bench_many_endpoints.py``), so the default ``excess_rtol`` keeps cooling there,
        where the finish changes the certified gap little (1.8e-8 either way at 100 endpoints on
        50 x 50; 8.3e-8 against 5.7e-9 on ``synthetic(200)``) for one more LP. Default: on for a
        problem without arcs, off otherwise.
    """

    eps0: float | None = None
    eps_min: float | None = None
    shrink: float | None = None
    shrink_at: float = 1e-3
    candidates: int = 8
    start_fraction: float = 0.5
    min_fraction: float = 1e-3
    cg_tol: float = 1e-10
    cg_maxiter: int = 500
    linear_solver: str = "auto"
    armijo: float = 1e-4
    kmt: float = 0.5
    max_halvings: int = 30
    plan_floor: float = 1e-12
    excess_rtol: float | None = None
    curvature_fraction: float = 0.0
    done_at: float | None = None
    finish: bool | None = None

    #: the backend lets this rule evaluate the cells itself (one pass per evaluation, no second oracle)
    whole_step = True

    def __post_init__(self) -> None:
        for name in ("eps0", "eps_min"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise InvalidDataError(f"Newton: {name}={v!r} must be a positive finite number")
        if self.shrink is not None and not (math.isfinite(self.shrink) and self.shrink > 1):
            raise InvalidDataError(f"Newton: shrink={self.shrink!r} must be > 1")
        if not (0 < self.shrink_at < 1):
            raise InvalidDataError(f"Newton: shrink_at={self.shrink_at!r} must lie in (0, 1)")
        if int(self.candidates) < 2:
            raise InvalidDataError(f"Newton: candidates={self.candidates!r} must be at least 2")
        if not (0 < self.armijo < 0.5):
            raise InvalidDataError(f"Newton: armijo={self.armijo!r} must lie in (0, 0.5)")
        if not (0 <= self.kmt < 1):
            raise InvalidDataError(f"Newton: kmt={self.kmt!r} must lie in [0, 1)")
        if self.linear_solver not in ("auto", "cg", "direct"):
            raise InvalidDataError(f"Newton: linear_solver={self.linear_solver!r} must be 'auto', 'cg' or 'direct'")
        if not (0 < self.start_fraction and 0 < self.min_fraction and 0 <= self.curvature_fraction):
            raise InvalidDataError("Newton: start_fraction and min_fraction must be positive, curvature_fraction >= 0")

    def start(self, problem: FlowProblem, chunk: int | None = None) -> _NewtonSteps:
        """The per-solve stepper (holds the temperature and the last evaluation)."""
        return _NewtonSteps(self, problem, chunk)


# ------------------------------------------------------------------------------ linear algebra
def laplacian(n: int, i: NDArray[np.int64], j: NDArray[np.int64], w: NDArray[np.float64]) -> sp.csr_matrix:
    r"""Graph Laplacian `\sum_e w_e (e_i - e_j)(e_i - e_j)^\top` of the edges ``(i, j, w)`` (``i != j``)."""
    keep = w > 0
    i, j, w = i[keep], j[keep], w[keep]
    deg = np.bincount(i, weights=w, minlength=n) + np.bincount(j, weights=w, minlength=n)
    r = np.concatenate([i, j, np.arange(n)])
    c = np.concatenate([j, i, np.arange(n)])
    return sp.csr_matrix((np.concatenate([-w, -w, deg]), (r, c)), shape=(n, n))


def pcg(
    L: sp.csr_matrix, b: NDArray[np.float64], shift: float, tol: float, maxiter: int
) -> tuple[NDArray[np.float64], int]:
    r"""Jacobi-preconditioned conjugate gradients on `(L + \text{shift}\,I)x = b`.

    One product with ``L`` per iteration (a neighbour exchange) and two inner products (global sums).
    """
    diag = L.diagonal() + shift
    inv = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 0.0)
    x = np.zeros_like(b)
    r = b.copy()
    z = inv * r
    p = z.copy()
    rz = float(r @ z)
    nb = float(np.linalg.norm(b))
    if nb == 0:
        return x, 0
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007 -- the count is returned
        Ap = L @ p + shift * p
        pAp = float(p @ Ap)
        if pAp <= 0:
            break
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        if float(np.linalg.norm(r)) <= tol * nb:
            break
        z = inv * r
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, it


# ------------------------------------------------------------------------------ the stepper
class _NewtonSteps:
    """Per-solve state of ``Newton``: the temperature and the last evaluations."""

    def __init__(self, rule: Newton, problem: FlowProblem, chunk: int | None = None) -> None:
        self.rule = rule
        self.problem = problem
        self.n = problem.n_nodes
        self.ns = int(getattr(problem, "n_endpoints", 0))
        self.supply = np.asarray(problem.supply, dtype=float)
        self.tails, self.heads = np.asarray(problem.tails), np.asarray(problem.heads)
        self.lower, self.upper = np.asarray(problem.lower), np.asarray(problem.upper)
        self.inv2a = 1.0 / (2.0 * np.asarray(problem.costs.a, dtype=float)) if problem.n_arcs else np.zeros(0)
        self.spatial = isinstance(problem, SpatialFlowProblem)
        self.cells = SoftCells(problem, rule.candidates, chunk) if isinstance(problem, SpatialFlowProblem) else None
        if self.cells is not None:
            self.cells.plan_floor = rule.plan_floor
        self.ends = np.asarray(problem.endpoints) if isinstance(problem, SpatialFlowProblem) else np.zeros(0, int)
        self.total = float(problem.demand.total) if isinstance(problem, SpatialFlowProblem) else 1.0
        # the finish's potentials certify a pure SDOT plan at a moderate temperature (see Newton.finish)
        pure = self.spatial and problem.n_arcs == 0
        self.finish = rule.finish if rule.finish is not None else pure
        self.excess_rtol = rule.excess_rtol if rule.excess_rtol is not None else (1e-4 if pure and self.finish else 1e-7)
        # the soft masses are the returned ones only for a pure SDOT plan without the finish: there they
        # must meet the certificate's 1e-8; elsewhere the repair (network re-solved) or the finish does
        self.shrink = rule.shrink if rule.shrink is not None else (4.0 if pure and not self.finish else 16.0)
        self.done_at = rule.done_at if rule.done_at is not None else (1e-13 if pure and not self.finish else 1e-10)
        self.eps: float | None = rule.eps0
        self.eps_min: float | None = rule.eps_min
        self.kappa: float | None = None
        self.eps_h: float | None = None  # curvature temperature (see Newton.curvature_fraction)
        self.last_tau = 1.0  # length of the last accepted step
        self.cache: dict[str, Any] | None = None  # evaluation at the current iterate
        self.history: list[dict[str, float]] = []

    # --------------------------------------------------------------- evaluation
    def _arcs(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        p = self.problem
        flows = local_flows(psi[self.tails], psi[self.heads], p.costs, self.lower, self.upper)
        t = psi[self.tails] - psi[self.heads]
        return flows, float(np.sum(p.costs.conjugate_term(t, self.lower, self.upper)))

    def evaluate(self, psi: NDArray[np.float64], eps: float, plan: bool = False, hessian: bool = True) -> dict[str, Any]:
        """Everything one iteration needs at ``psi``: hard and soft gradient and dual value, L.

        With ``hessian=False`` (a line-search trial) ``L`` is ``None`` until ``_hessian`` builds it
        from the stored edges (only for the trial that is accepted).
        """
        flows, arc_term = self._arcs(psi)
        net = np.bincount(self.tails, weights=flows, minlength=self.n) - np.bincount(
            self.heads, weights=flows, minlength=self.n
        )
        base = self.supply - net
        lin = float(psi @ self.supply) + arc_term
        free = (flows > self.lower) & (flows < self.upper)
        wa = np.where(free, self.inv2a, 0.0)
        out: dict[str, Any] = {"psi": psi.copy(), "eps": eps, "flows": flows}
        if self.cells is None:
            out.update(
                g_hard=base,
                q_hard=lin,
                g_soft=base,
                q_soft=lin,
                edges=(self.tails, self.heads, wa),
                L=laplacian(self.n, self.tails, self.heads, wa) if hessian else None,
                m_soft=None,
                m_hard=None,
                plan=None,
                excess=0.0,
                top=None,
            )
            return out
        ev, pl = self.cells.evaluate(psi[self.ends], eps, plan=plan, eps_h=self.eps_h)
        g_soft, g_hard = base.copy(), base.copy()
        g_soft[self.ends] -= ev.m_soft
        g_hard[self.ends] -= ev.m_hard
        er, ec, ew = ev.edges
        edges = (
            np.concatenate([self.tails, self.ends[er]]),
            np.concatenate([self.heads, self.ends[ec]]),
            np.concatenate([wa, ew]),
        )
        out.update(
            g_hard=g_hard,
            q_hard=lin + ev.sdot_hard,
            g_soft=g_soft,
            q_soft=lin + ev.sdot_soft,
            edges=edges,
            L=laplacian(self.n, *edges) if hessian else None,
            m_soft=ev.m_soft,
            m_hard=ev.m_hard,
            plan=pl,
            excess=ev.excess,
            sdot_hard=ev.sdot_hard,
            top=ev.top,
            soft=ev,
        )
        return out

    def _first_temperature(self, psi: NDArray[np.float64]) -> None:
        if self.cells is None:  # no cells: nothing to smooth, q is already piecewise quadratic
            self.eps = self.eps or 1.0
            self.eps_min = self.eps_min or self.eps
            return
        gap, change = self.cells.scales(psi[self.ends])
        self.eps_h = self.rule.curvature_fraction * change or None
        if self.eps_min is None:
            self.eps_min = self.rule.min_fraction * change
        if self.eps is None:
            self.eps = max(self.eps_min, self.rule.start_fraction * gap)

    def _factor(self, ev: dict[str, Any]) -> float:
        """The cooling factor: ``shrink``, or less when the excess is near its target (see ``Newton.shrink``)."""
        ratio = ev["excess"] / max(self.excess_rtol * abs(ev["q_hard"]), 1e-300)
        return min(self.shrink, max(2.0, 2.0 * math.sqrt(ratio)))

    def _too_warm(self, ev: dict[str, Any]) -> bool:
        """Whether the soft plan's excess cost is above ``excess_rtol`` of the dual value."""
        # relative to |q| itself: certify judges the gap relative to the optimum, however small it is
        return bool(ev["excess"] > self.excess_rtol * max(abs(ev["q_hard"]), 1e-300))

    def residual(self, ev: dict[str, Any]) -> float:
        """Relative smoothed residual `\\|g_\\varepsilon\\|_1 / (2\\mu(X))` (or the supply scale)."""
        scale = 2.0 * max(self.total, float(np.abs(self.supply).sum()) / 2.0, 1e-300)
        return float(np.abs(ev["g_soft"]).sum()) / scale

    # --------------------------------------------------------------- loop hooks
    def oracle(self, psi: NDArray[np.float64]) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """The loop's oracle: hard supergradient and q(psi) (for the trace) from the same pass."""
        if self.eps is None:
            self._first_temperature(psi)
        assert self.eps is not None and self.eps_min is not None
        ev = self.cache if self.cache is not None and np.array_equal(self.cache["psi"], psi) and self.cache["eps"] == self.eps else None
        if ev is None:
            ev = self.evaluate(psi, self.eps, hessian=False)
        # the temperature falls as the smoothed problem's gap closes (before the step is taken)
        # ... once per iteration and only after a full Newton step: colder in one go, the smoothed
        # problem can move beyond what the last Hessian saw (measured: stalls of damped steps)
        if self.eps > self.eps_min and self.last_tau == 1.0 and self.residual(ev) <= self.rule.shrink_at and self._too_warm(ev):
            self.eps = max(self.eps_min, self.eps / self._factor(ev))
            ev = self.evaluate(psi, self.eps, hessian=False)
        if self.kappa is None and ev["m_soft"] is not None:
            m0 = ev["m_soft"]
            floor = float(m0[m0 > 0].min()) if np.any(m0 > 0) else 0.0
            ends_supply = self.supply[self.ends]
            if self.problem.n_arcs == 0 and np.all(ends_supply > 0):  # pure SDOT: targets are known
                floor = min(floor, float(ends_supply.min()))
            self.kappa = self.rule.kmt * floor
        self.cache = ev
        g = ev["g_hard"]
        rec = {
            "dual_value": ev["q_hard"],
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
            "temperature": float(self.eps),
            "smoothed_residual": self.residual(ev),
            "excess": float(ev["excess"]),
        }
        if ev["m_soft"] is not None:
            # node balance at the endpoints relative to each cell's own mass (pure SDOT: the mass error)
            m = ev["m_soft"]
            rel = np.abs(ev["g_soft"][self.ends]) / np.where(m > 0, m, np.inf)
            rec["cell_residual"] = float(rel.max(initial=0.0))
        return g, rec

    def _direction(self, ev: dict[str, Any], rhs: NDArray[np.float64]) -> tuple[NDArray[np.float64], int]:
        r"""The Newton direction: `(L + \delta I) d = ` ``rhs``, by CG or, for small systems, directly.

        Both compute the same `d` (to ``cg_tol``); the direct solve (a dense Cholesky factorisation,
        ``linear_solver="direct"``, or ``"auto"`` up to ``DIRECT_MAX`` nodes) is what one process
        does fastest at a hundred endpoints (measured: 0.1 ms against 3 ms for 60 CG iterations at
        102 nodes); the CG is the neighbour-to-neighbour form of the module docstring. Returns the
        direction and the CG iterations (0 for the direct solve).
        """
        n = self.n
        i, j, w = ev["edges"]
        keep = w > 0
        i, j, w = i[keep], j[keep], w[keep]
        deg = np.bincount(i, weights=w, minlength=n) + np.bincount(j, weights=w, minlength=n)
        dmax = float(deg.max()) if n else 1.0
        shift = 1e-10 * (dmax if dmax > 0 else 1.0)
        mode = self.rule.linear_solver
        if mode == "direct" or (mode == "auto" and n <= self.DIRECT_MAX):
            from scipy.linalg import LinAlgError, cho_factor, cho_solve

            A = np.bincount(np.concatenate([i * n + j, j * n + i]), weights=np.concatenate([w, w]), minlength=n * n)
            M = np.asarray(-A.reshape(n, n), dtype=float)
            diag = np.arange(n)
            M[diag, diag] = M[diag, diag] + deg + shift
            try:
                return np.asarray(cho_solve(cho_factor(M, check_finite=False), rhs, check_finite=False)), 0
            except LinAlgError:  # not numerically definite: the CG below stops at a non-positive curvature
                pass
        if ev["L"] is None:
            ev["L"] = laplacian(n, *ev["edges"])
        return pcg(ev["L"], rhs, shift, self.rule.cg_tol, self.rule.cg_maxiter)

    #: ``linear_solver="auto"`` solves systems of up to this many nodes directly
    DIRECT_MAX = 400

    def update(self, k: int, state: Any) -> tuple[NDArray[np.float64], float, dict[str, float]]:
        """The increment of iteration ``k``: a damped Newton step on `q_\\varepsilon`."""
        ev = self.cache
        assert ev is not None and self.eps is not None and self.eps_min is not None
        psi = ev["psi"]
        if self.residual(ev) <= self.done_at and (self.eps <= self.eps_min or not self._too_warm(ev)):
            info0 = {"newton_step": 0.0, "cg_iterations": 0.0}
            self.history.append(info0)
            return np.zeros_like(psi), 0.0, info0  # converged at the final temperature: the loop stops
        g = ev["g_soft"]
        d, its = self._direction(ev, g - g.mean() if self.problem.n_arcs == 0 else g)
        slope = float(g @ d)
        tau = 1.0
        accepted = None
        for _ in range(self.rule.max_halvings + 1):
            trial = self.evaluate(psi + tau * d, self.eps, hessian=False)
            ok_mass = True
            if self.kappa and ev["m_soft"] is not None:
                watch = ev["m_soft"] >= self.kappa
                ok_mass = bool(np.all(trial["m_soft"][watch] >= self.kappa))
            # rounding slack: near the optimum the increase is below the sum's round-off
            slack = 1e-13 * max(1.0, abs(ev["q_soft"]))
            ok_q = trial["q_soft"] >= ev["q_soft"] + self.rule.armijo * tau * slope - slack
            if ok_mass and ok_q:
                accepted = trial
                break
            tau *= 0.5
        info = {"newton_step": tau if accepted is not None else 0.0, "cg_iterations": float(its)}
        self.history.append(info)
        self.last_tau = tau if accepted is not None else 0.0
        if accepted is None:
            return np.zeros_like(psi), 0.0, info
        self.cache = accepted
        return tau * d, tau, info

    def reconstruct(self, psi: NDArray[np.float64]) -> dict[str, Any]:
        r"""The returned point at the last potentials: the exact discrete finish of the soft plan, or the soft plan.

        Adds to the evaluation ``potentials`` (``psi``, or `\psi'` of ``discrete_finish`` where the
        exact dual (4) is higher there), ``cell_mass``, ``assignment_cost`` (`\sum\pi c`) and the
        node ``residual`` of the returned point, and ``finish`` (what the finish did, or why it was not used).
        """
        from otmodel.model.problems import assignment_cost_of

        assert self.eps is not None
        c = self.cache
        if c is not None and c.get("soft") is not None and c["eps"] == self.eps and np.array_equal(c["psi"], psi):
            # the last evaluation is at the returned point: its plan, without another pass
            assert self.cells is not None
            ev = dict(c)
            ev["plan"] = self.cells.plan_of(c["soft"])
            ev["top"] = c["soft"].top
        else:
            ev = self.evaluate(psi, self.eps, plan=True, hessian=False)
        ev["potentials"] = psi
        ev["cell_mass"] = ev["m_soft"]
        ev["residual"] = ev["g_soft"]  # supply less net outflow less cell mass, at the returned point
        if ev["plan"] is None:
            ev["assignment_cost"] = 0.0
            ev["finish"] = None
            return ev
        # sum_k mu_k sum_i P_ki c(x_k, i) = hard SDOT term + excess + psi_S . m, from the same pass
        ev["assignment_cost"] = ev["sdot_hard"] + ev["excess"] + float(psi[self.ends] @ ev["m_soft"])
        if not self.finish or ev["top"] is None or self.ns < 2:
            ev["finish"] = {"used": False, "why": "off" if not self.finish else "one endpoint"}
            return ev
        assert self.cells is not None
        # the masses the flows p(psi) deliver to the endpoints (pure SDOT: the site masses)
        target = ev["g_soft"][self.ends] + ev["m_soft"]
        fin = discrete_finish(self.cells.mass, ev["top"], self.eps, target, self.rule.plan_floor)
        if isinstance(fin, str):
            ev["finish"] = {"used": False, "why": fin}
            return ev
        cost = assignment_cost_of(self.problem, fin.plan)  # type: ignore[arg-type]
        info: dict[str, Any] = {"used": True, "boundary_points": fin.boundary, "seconds": fin.seconds}
        if not cost <= ev["assignment_cost"] + 1e-12 * abs(ev["assignment_cost"]):
            ev["finish"] = {**info, "used": False, "why": f"its plan costs more ({cost:.12g}) than the soft one"}
            return ev
        ev["plan"], ev["cell_mass"], ev["assignment_cost"] = fin.plan, fin.cell_mass, cost
        ev["residual"] = ev["g_soft"].copy()
        ev["residual"][self.ends] += ev["m_soft"] - fin.cell_mass
        # the flow's potentials, where they are the better dual point: without arcs (or with every
        # arc at a bound) they usually close the gap; otherwise moving the endpoints alone costs the
        # network's curvature (see Newton.finish) and the pass is not spent
        info["dual_lifted"] = False
        if not np.any((ev["flows"] > self.lower) & (ev["flows"] < self.upper)):
            lifted = psi.copy()
            lifted[self.ends] += fin.shift
            q2 = self.evaluate(lifted, self.eps, hessian=False)["q_hard"]
            if q2 > ev["q_hard"]:
                ev["potentials"], ev["q_hard"] = lifted, q2
                info["dual_lifted"] = True
        ev["finish"] = info
        return ev
