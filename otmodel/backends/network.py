r"""The ``network`` backend: exact min-cost flow on OR-Tools' network-flow solver, certified on float data.

Every problem with linear arc costs is a min-cost flow. ``FlowProblem`` directly; the spatial
problem (2) of Laurentin et al. (2025) once the demand points become sink nodes: sources -> network
-> endpoints -> demand points, with one arc `i \to k` of cost `c(x_k, i)` and capacity
`\mu_k` (a plan entry never exceeds its point's mass) per finite assignment cost, and supply
`-\mu_k` at point `k` (eq. (2b)-(2c): the plan `\pi_{ki}` is the flow on that arc). This backend compiles the problem into that
graph,

.. math::
    \min_x \sum_e c_e x_e \quad\text{s.t.}\quad \sum_{e \in \delta^+(v)} x_e - \sum_{e \in \delta^-(v)} x_e = b_v,
    \qquad 0 \le x_e \le \kappa_e,

and solves it with ``ortools.graph.python.min_cost_flow.SimpleMinCostFlow`` (cost-scaling push-relabel
on integers).

Compilation of the bounds (one place, ``compile_network``)
-------------------------------------------------------------
* finite lower bound `l`: `p = l + x`, `0 \le x \le u - l`, supplies shifted by
  `l` at both ends (negative lower bounds -- two-way links -- included);
* `l = -\infty`, `u` finite: `p = u - y`, one reversed arc of cost `-c`;
* free arcs: two opposite arcs of costs `c` and `-c`;
* infinite capacities: replaced by `2B + 1` with
  `B = \sum_v \max(b_v, 0) + \sum_{e: \kappa_e < \infty} \kappa_e` (scaled). If the problem is
  bounded, some optimal flow has every entry at most `B` (decompose it into paths, which carry
  at most `\sum \max(b_v,0)`, and cycles; a cycle through a capacitated arc carries at most that
  arc's capacity, a cycle of uncapacitated arcs has cost `\ge 0` and can be dropped). So an
  uncapacitated arc above `B` in the solver's answer means a negative cycle of unlimited
  arcs or a zero-cost one; the verified negative-cycle certificate decides which;
* quadratic arcs `a p^2 + b p` (see below): one arc per segment of a piecewise-linear secant.

Float data, exact answer
------------------------
The solver takes integers: flows are scaled by `S_f = 2^j` and costs by `S_c = 2^k`,
both chosen from the data (``choose_scales``): the smallest that keeps data exact where they
have few binary digits (integer data: `S = 1`), else as large as the integer ranges allow:
flows so that `(2B+1) S_f (D+1) \le 2^{50}` (`D` the largest number of uncapacitated
arcs at a node: the solver sums a node's capacities in int64), costs so that `\max|c| S_c (n+1) \le 2^{57}`
(the solver multiplies costs by `n + 1`; it rejects larger ones with ``BAD_COST_RANGE``,
which is caught and answered by a smaller `S_c`, never silently). Supplies are rounded by largest remainders so
that they still sum to exactly 0, capacities and costs to the nearest integer.

From the integer optimum the answer of the *original float* problem is built and certified:

1. potentials: shortest-path distances `d` in the residual graph of the integer flow (arc
   `v \to w` of cost `c` where `x < \kappa`, `w \to v` of cost `-c`
   where `x > 0`) from a virtual root joined to every node, by a label-correcting search on the
   integer costs (there is no negative cycle, the flow being optimal); `\psi = -d / S_c`. Then
   `\psi_v - \psi_w \le c_{vw}` on every residual arc: the paper's sign convention (eq. (3)-(5)),
   in which the arc term of eq. (4) is `\min_p c(p) - (\psi_i - \psi_j) p`;
2. a float-feasible point: the integer flow divided by `S_f`, arcs at an integer bound set to
   the float bound, demand points whose rounded mass is 0 sent to their cheapest endpoint
   (Proposition 1), then the conservation residual `r = b - E x` routed along a spanning forest
   of the arcs strictly between their bounds (subtree sums of `r`), checked against the bounds;
3. the certified gap: the objective of that point minus `q(\psi)` of eq. (4), both from the
   float data (the cost rounding, at most `1/S_c` per unit of flow, is forgiven on
   uncapacitated linear arcs when evaluating `q`). If it exceeds ``tol`` (relative, default
   1e-9), the linear problem is re-solved exactly by the ``highs`` backend and the answer says so
   (``info["repair"]``).

Quadratic arc costs
-------------------
A convex arc `a p^2 + b p` on `[l, u]` (clipped to `[-B, B]` where infinite)
becomes parallel arcs, one per segment `[z_k, z_{k+1}]` of a breakpoint list, of capacity
`z_{k+1} - z_k` and cost the secant slope `a (z_k + z_{k+1}) + b`; convexity makes the
segments fill in order, so the flow of the original arc is `l + \sum_k x_k` and its
piecewise-linear cost the secant interpolant, which lies above `a p^2 + b p` by at most
`a h^2 / 4` on a segment of width `h`. With `\psi` optimal for the piecewise
problem, the certified gap of the quadratic problem is at most the sum of these errors at the
minimizers, so the breakpoints are refined around the current flow and the local response
`\arg\min_p a p^2 + (b - \psi_i + \psi_j) p` each round (widths divided by 16) until the gap
computed from the float data is below ``tol``. The demand assignment stays linear.

Options
-------
tol : float
    Relative certified gap required (default 1e-9).
max_rounds : int
    Refinement rounds for quadratic costs (default 12).
time_limit, verbose :
    Accepted for compatibility; OR-Tools' min-cost flow has neither.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

# the compilation and the certificate pieces live in two private siblings (this module stays under
# 700 lines); their public names are importable from here as before
from otmodel.backends._network_certify import (
    dual_bound,
    float_point,
    point_potentials,
    primal_value,
    residual_potentials,
)
from otmodel.backends._network_compile import (
    _STATUS,
    COST_LIMIT,
    FLOW_LIMIT,
    I64,
    CompiledNetwork,
    IntegerData,
    _flow_bound,
    choose_scales,
    compile_network,
    fraction_bits,
    integer_data,
    kink_breakpoints,
    solve_min_cost_flow,
)
from otmodel.backends._standard import balanced_supply
from otmodel.backends.base import Conformance, Timer, no_point_solution
from otmodel.model.problems import FlowProblem, SpatialFlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "NetworkBackend", "CompiledNetwork", "IntegerData", "compile_network", "choose_scales", "integer_data",
    "fraction_bits", "solve_min_cost_flow", "residual_potentials", "float_point", "point_potentials",
    "dual_bound", "primal_value", "refine_breakpoints", "FLOW_LIMIT", "COST_LIMIT", "I64",
]



# ============================================================================ the backend
class NetworkBackend:
    """Exact min-cost flow on OR-Tools, answers certified on the float data (module docstring)."""

    name = "network"
    capabilities = frozenset({"flow", "spatial", "linear", "quadratic", "exact"})
    conformance = Conformance(kinds=frozenset({"flow", "spatial", "graph"}))

    def supports(self, problem: FlowProblem) -> str | None:
        if not isinstance(problem, FlowProblem):
            return f"not an otmodel flow problem: {type(problem).__name__}"
        if not problem.is_linear:
            return None
        return None

    def solve(self, problem: FlowProblem, **options: Any) -> Solution:
        from otmodel.backends import _options as check

        check.refuse_unknown("network", options, ("tol", "max_rounds", "time_limit", "verbose"))
        tol = check.number("network", "tol", options.get("tol", 1e-9), 0.0, strict=True)
        max_rounds = check.integer("network", "max_rounds", options.get("max_rounds", 12), 1)
        if options.get("time_limit") is not None:  # accepted, not enforced: OR-Tools has no limit
            check.number("network", "time_limit", options["time_limit"], 0.0, strict=True, finite=False)
        check.flag("network", "verbose", options.get("verbose", False))
        from otmodel.backends._checked import solve_checked

        def attempt() -> Solution:
            timer = Timer()
            if problem.is_linear:
                return self._solve_linear(problem, tol, timer)
            try:
                return self._solve_quadratic(problem, tol, max_rounds, timer)
            finally:
                _SF_CACHE.clear()

        # the rule of every exact backend (issue 18): an OPTIMAL point is verified node by node
        # (self-loops at their own optimum) before it is returned, with the shared fallbacks
        return solve_checked(problem, [("OR-Tools min-cost flow, certified", attempt)], self.name)

    # ------------------------------------------------------------------ one integer solve
    def _integer_solve(
        self, cn: CompiledNetwork, timer: Timer
    ) -> tuple[str, IntegerData | None, NDArray[np.int64] | None]:
        with timer("build"):
            sf, sc = choose_scales(cn)
        for _ in range(8):
            with timer("build"):
                ints = integer_data(cn, sf, sc)
            with timer("solve"):
                status, x = solve_min_cost_flow(cn.tails, cn.heads, ints.cap, ints.cost, ints.supply)
            if status == "BAD_COST_RANGE" and sc > 1.0:
                sc /= 2.0**4  # the range check of OR-Tools is stricter than ours: coarser costs
                continue
            if status == "BAD_CAPACITY_RANGE" and sf > 1.0:
                sf /= 2.0**4
                continue
            return status, ints, x
        return status, None, None

    def _failure(self, problem: FlowProblem, status: str, timer: Timer, solver: str) -> Solution:
        from otmodel.certificates import classify_failure

        timings = timer.done()
        if status in ("INFEASIBLE", "UNBALANCED"):
            return classify_failure(problem, "infeasible", self.name, solver, timings, f"OR-Tools: {status}")
        st = _STATUS.get(status, Status.UNKNOWN)
        return no_point_solution(problem, st, PointStatus.NO_POINT, self.name, solver, timings, f"OR-Tools: {status}")

    def _unbounded(self, problem: FlowProblem, timer: Timer, solver: str) -> Solution | None:
        from otmodel.certificates import find_unbounded_cycle, verify_unbounded_certificate

        cyc = find_unbounded_cycle(problem)
        if cyc is not None and verify_unbounded_certificate(problem, cyc, check_feasible=False):
            return no_point_solution(
                problem, Status.UNBOUNDED, PointStatus.CERTIFICATE, self.name, solver, timer.done(),
                "negative-cost cycle of unlimited arcs", cyc,
            )
        return None

    @staticmethod
    def _solver_name() -> str:
        import ortools

        return f"OR-Tools {ortools.__version__} SimpleMinCostFlow"

    def _certified_point(
        self, cn: CompiledNetwork, ints: IntegerData, x: NDArray[np.int64], timer: Timer, tol: float = -1.0
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float, float] | None:
        """(compiled float point, flows, psi of the network nodes, primal, q, residual) or None.

        When the float point leaves a bound the integer flow sat on, the potentials of the point's
        own residual graph replace those of the integer flow, unless the latter already certify a
        relative gap of at most ``tol`` (the second shortest-path search is then skipped; default:
        never skipped)."""
        with timer("potentials"):
            psi = residual_potentials(cn, ints, x)
        if psi is None:
            return None
        n_net = cn.problem.n_nodes
        price_tol = 2.0 / ints.sc
        with timer("certificate"):
            xf, resid = float_point(cn, ints, x, psi)
            primal, flows = primal_value(cn, xf)
            q = dual_bound(cn, psi[:n_net], price_tol=price_tol)
        moved = np.any((xf > 0) != (x > 0)) or np.any(np.isfinite(cn.cap) & ((xf < cn.cap) != (x < ints.cap)))
        if moved and not (primal - q) / max(1.0, abs(primal)) <= tol:
            # the float point left a bound the integer flow sat on (a residual routed along an arc
            # at its bound): the potentials of its own residual graph, if it has no negative cycle
            with timer("potentials"):
                again = residual_potentials(cn, ints, x, xf)
            if again is not None:
                psi = again
                with timer("certificate"):
                    q = dual_bound(cn, psi[:n_net], price_tol=price_tol)
        return xf, flows, psi[:n_net], primal, q, resid

    # ------------------------------------------------------------------ linear costs
    def _solve_linear(self, problem: FlowProblem, tol: float, timer: Timer) -> Solution:
        solver = self._solver_name()
        with timer("build"):
            cn = compile_network(problem)
        status, ints, x = self._integer_solve(cn, timer)
        if status != "OPTIMAL" or ints is None or x is None:
            out = self._failure(problem, status, timer, solver)
            if status in ("INFEASIBLE", "UNBALANCED") and out.status is Status.NUMERICAL_ERROR:
                # no verified cut: the float problem is feasible, or infeasible by less than the
                # certificate's tolerance, and the rounding tipped it over
                return self._repair(problem, timer, {"repair_reason": "rounded data infeasible, float data not"})
            return out
        if np.any(~np.isfinite(cn.cap) & (x > ints.bound)):
            unb = self._unbounded(problem, timer, solver)
            if unb is not None:
                return unb
        got = self._certified_point(cn, ints, x, timer, tol)
        info: dict[str, Any] = {"flow_scale": ints.sf, "cost_scale": ints.sc}
        if got is not None:
            xf, flows, psi, primal, q, resid = got
            gap = (primal - q) / max(1.0, abs(primal))
            info.update({"relative_gap": gap, "dual_bound": q, "residual": resid})
            if resid <= 1e-12 and gap <= tol:
                return self._solution(problem, cn, xf, flows, psi, primal, timer, solver, "optimal", info)
            info["repair_reason"] = f"relative gap {gap:.3g}, residual {resid:.3g}"
        else:
            info["repair_reason"] = "negative cycle in the residual graph of the integer flow"
        return self._repair(problem, timer, info)

    def _repair(self, problem: FlowProblem, timer: Timer, info: dict[str, Any]) -> Solution:
        """The exact LP of the float data by the ``highs`` backend, when the integer answer could
        not be certified to ``tol`` (module docstring)."""
        from otmodel.backends.highs import HighsBackend

        with timer("repair"):
            sol = HighsBackend().solve(problem)
        timings = timer.done()
        info = dict(info, repair="highs", highs_info=sol.info)
        return Solution(
            problem=problem, status=sol.status, point_status=sol.point_status, objective=sol.objective,
            flows=sol.flows, potentials=sol.potentials, assignment=sol.assignment, cell_mass=sol.cell_mass,
            backend=self.name, solver=f"{self._solver_name()}; repaired by {sol.solver}", timings=timings,
            certificate=sol.certificate, iterations=sol.iterations, message=sol.message, info=info,
        )

    def _solution(
        self,
        problem: FlowProblem,
        cn: CompiledNetwork,
        xf: NDArray[np.float64],
        flows: NDArray[np.float64],
        psi: NDArray[np.float64],
        primal: float,
        timer: Timer,
        solver: str,
        message: str,
        info: dict[str, Any],
        status: Status = Status.OPTIMAL,
    ) -> Solution:
        import scipy.sparse as sp

        assignment = cell_mass = None
        if isinstance(problem, SpatialFlowProblem):
            k0 = cn.n_net_arcs
            vals = xf[k0:]
            nz = vals != 0
            # the pairs are listed by point, then endpoint (compile_network): the plan's rows as
            # they are, without the sort a (row, col) construction does
            rows = cn.pair_point[nz]
            indptr = np.zeros(problem.n_points + 1, dtype=np.intp)
            np.cumsum(np.bincount(rows, minlength=problem.n_points), out=indptr[1:])
            assignment = sp.csr_matrix(
                (vals[nz], cn.pair_end[nz], indptr), shape=(problem.n_points, problem.n_endpoints)
            )
            cell_mass = np.asarray(np.bincount(cn.pair_end, weights=vals, minlength=problem.n_endpoints), float)
        return Solution(
            problem=problem,
            status=status,
            point_status=PointStatus.FEASIBLE,
            objective=primal,
            flows=flows,
            potentials=psi,
            assignment=assignment,
            cell_mass=cell_mass,
            backend=self.name,
            solver=solver,
            timings=timer.done(),
            message=message,
            info=info,
        )

    # ------------------------------------------------------------------ quadratic costs
    def _solve_quadratic(self, problem: FlowProblem, tol: float, max_rounds: int, timer: Timer) -> Solution:
        """Piecewise-linear secants refined around the flow and the local response (module docstring)."""
        solver = self._solver_name()
        a = np.asarray(problem.costs.a, float)
        kq = np.flatnonzero(a > 0)
        bq = _flow_bound(problem)
        qlo = np.maximum(np.asarray(problem.lower, float)[kq], -bq)
        qup = np.minimum(np.asarray(problem.upper, float)[kq], bq)
        bps = kink_breakpoints(problem, kq, [np.linspace(qlo[j], qup[j], INITIAL_SEGMENTS + 1) for j in range(kq.size)])
        history: list[float] = []
        best: tuple[Any, ...] | None = None
        for _ in range(max_rounds):
            with timer("build"):
                cn = compile_network(problem, bps, reuse=best[0] if best is not None else None)
            status, ints, x = self._integer_solve(cn, timer)
            if status != "OPTIMAL" or ints is None or x is None:
                return self._failure(problem, status, timer, solver)
            if np.any(~np.isfinite(cn.cap) & (x > ints.bound)):
                unb = self._unbounded(problem, timer, solver)
                if unb is not None:
                    return unb
            got = self._certified_point(cn, ints, x, timer)
            if got is None:
                break
            xf, flows, psi, primal, q, resid = got
            gap = (primal - q) / max(1.0, abs(primal))
            history.append(gap)
            if resid <= 1e-12 and (best is None or gap < best[-1]):
                best = (cn, xf, flows, psi, primal, gap)
            if resid <= 1e-12 and gap <= tol:
                break
            if resid <= 1e-12 and gap <= POLISH_FROM:
                # once the piecewise answer is close, its active set is usually the exact one:
                # one KKT solve (cheaper than a round) may finish the job
                done = self._polished_solution(problem, cn, xf, psi, tol, tol, timer, solver, history, bps)
                if done is not None:
                    return done
            with timer("build"):
                t = psi[problem.tails[kq]] - psi[problem.heads[kq]]
                response = np.clip(problem.costs.subset(kq).response(t, problem.lower[kq], problem.upper[kq]), qlo, qup)
                bps = kink_breakpoints(problem, kq, refine_breakpoints(bps, flows[kq], response, qlo, qup))
        info: dict[str, Any] = {"rounds": len(history), "gap_history": history, "segments": int(sum(z.size - 1 for z in bps))}
        if best is None:
            return no_point_solution(
                problem, Status.NUMERICAL_ERROR, PointStatus.NO_POINT, self.name, solver, timer.done(),
                "no float-feasible point could be built from the integer flows", info=info,
            )
        cn, xf, flows, psi, primal, gap = best
        # the objective is flat at the optimum: flows within sqrt(gap) only, hence a last polish
        done = self._polished_solution(problem, cn, xf, psi, gap, tol, timer, solver, history, bps)
        if done is not None:
            return done
        info["polished"] = False
        info.update({"relative_gap": gap, "dual_bound": primal - gap * max(1.0, abs(primal))})
        converged = gap <= tol
        status_out = Status.OPTIMAL if converged else Status.ITERATION_LIMIT
        msg = "optimal" if converged else f"certified relative gap {gap:.3g} > tol after {len(history)} rounds"
        return self._solution(problem, cn, xf, flows, psi, primal, timer, solver, msg, info, status_out)

    def _polished_solution(
        self,
        problem: FlowProblem,
        cn: CompiledNetwork,
        xf: NDArray[np.float64],
        psi: NDArray[np.float64],
        accept: float,
        tol: float,
        timer: Timer,
        solver: str,
        history: list[float],
        bps: list[NDArray[np.float64]],
    ) -> Solution | None:
        """The polished answer if its own certified gap is within ``max(accept, tol)``, else None.

        The active set of the piecewise answer (arcs at a bound, points served by one endpoint) fixes
        the exact optimum, found by one KKT solve; it is kept only if certified."""
        with timer("polish"):
            pol = self._polish(problem, cn, xf, psi)
        if pol is None:
            return None
        flows_p, psi_p, plan_p, primal_p, gap_p = pol
        if not gap_p <= max(accept, tol):
            return None
        info = {
            "rounds": len(history), "gap_history": list(history), "segments": int(sum(z.size - 1 for z in bps)),
            "polished": True, "relative_gap": gap_p, "piecewise_gap": history[-1] if history else None,
        }
        return Solution(
            problem=problem, status=Status.OPTIMAL if gap_p <= tol else Status.ITERATION_LIMIT,
            point_status=PointStatus.FEASIBLE, objective=primal_p, flows=flows_p, potentials=psi_p,
            assignment=plan_p, cell_mass=None if plan_p is None else np.asarray(plan_p.sum(axis=0)).reshape(-1),
            backend=self.name, solver=solver, timings=timer.done(), message="optimal (polished)", info=info,
        )

    @staticmethod
    def _polish(
        problem: FlowProblem, cn: CompiledNetwork, xf: NDArray[np.float64], psi: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None:
        """Exact active-set polish (``otmodel.backends._outer.polish_qp``) of the piecewise answer.

        Returns ``(flows, psi, plan, objective, certified relative gap)`` or None when the polish
        fails or its point leaves a conservation residual above ``POLISH_RESIDUAL`` (relative; a
        sparse LU solve leaves ~1e-13). Its potentials satisfy the linear arcs with an infinite bound
        to the same round-off, forgiven in q at ``POLISH_RESIDUAL`` times the largest linear cost.
        """
        from otmodel.backends._outer import polish_qp
        from otmodel.backends._standard import build_standard_form

        sf = _SF_CACHE.get(id(problem))
        if sf is None or sf.problem is not problem:
            sf = build_standard_form(problem)
            _SF_CACHE.clear()
            _SF_CACHE[id(problem)] = sf
        m = sf.n_flows
        flows = cn.original_flows(xf)
        x = np.concatenate([sf.split_flows(flows), xf[cn.n_net_arcs :]]) * sf.kappa
        if x.size != sf.n_vars:
            return None
        y = psi / sf.sigma
        best: tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None = None
        for _ in range(POLISH_STEPS):
            got = polish_qp(sf, x, y)
            if got is None:
                break
            checked = NetworkBackend._check_polished(problem, cn, sf, got[0], got[1])
            if checked is None:
                break
            if best is None or checked[-1] < best[-1]:
                best = checked
            if checked[-1] <= 1e-12:
                break
            # a Newton-like step on the active set: the one the polished potentials imply
            x, y = got[0].copy(), got[1]
            psi_p = checked[1]
            quad = problem.costs.a > 0
            t = psi_p[problem.tails] - psi_p[problem.heads]
            resp = problem.costs.response(t, problem.lower, problem.upper)
            x[:m] = sf.split_flows(np.where(quad, resp, sf.fold_flows(x[:m]) / sf.kappa)) * sf.kappa
            if sf.n_pairs and isinstance(problem, SpatialFlowProblem):
                red = sf.c[m:] * sf.sigma - psi_p[np.asarray(problem.endpoints)[sf.pair_end]]
                low = np.full(problem.n_points, math.inf)
                np.minimum.at(low, sf.pair_point, red)
                tie = 1e-11 * max(1.0, sf.sigma)
                x[m:] = np.where(red <= low[sf.pair_point] + tie, 1.0, 0.0)
        return best

    @staticmethod
    def _check_polished(
        problem: FlowProblem, cn: CompiledNetwork, sf: Any, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], Any, float, float] | None:
        out = sf.unscale(x, y)
        flows_p, psi_p = out["flows"], out["potentials"]
        plan = out.get("assignment")
        resid_scale = max(1.0, float(np.abs(cn.supply).sum()))
        net = problem.net_outflow(flows_p)
        supply = np.asarray(problem.supply, float) if isinstance(problem, SpatialFlowProblem) else balanced_supply(problem)
        if plan is not None and isinstance(problem, SpatialFlowProblem):
            net = net + _endpoint_inflow(problem, plan)
            rows = np.asarray(plan.sum(axis=1)).reshape(-1)
            if float(np.abs(rows - problem.demand.mass).max(initial=0.0)) > POLISH_RESIDUAL * resid_scale:
                return None
        if float(np.abs(net - supply).max(initial=0.0)) > POLISH_RESIDUAL * resid_scale:
            return None
        primal = float(out["objective"])
        q = dual_bound(cn, psi_p, price_tol=POLISH_RESIDUAL * max(1.0, float(np.abs(problem.costs.b).max(initial=0.0))))
        return flows_p, psi_p, plan, primal, (primal - q) / max(1.0, abs(primal))


#: The standard form of the problem being polished (built once per solve, not once per round).
_SF_CACHE: dict[int, Any] = {}


def _endpoint_inflow(problem: FlowProblem, plan: Any) -> NDArray[np.float64]:
    """Per network node: the plan mass it sends to demand points (eq. (2b))."""
    assert isinstance(problem, SpatialFlowProblem)
    out = np.zeros(problem.n_nodes)
    np.add.at(out, np.asarray(problem.endpoints), np.asarray(plan.sum(axis=0)).reshape(-1))
    return out


#: Segments of the first piecewise-linear secant of each quadratic arc.
#: Relative round-off accepted in the KKT polish (conservation residual, prices on unlimited arcs).
POLISH_RESIDUAL = 1e-10
#: KKT solves per polish, each on the active set the previous one's potentials imply.
POLISH_STEPS = 2
#: Relative gap of the piecewise answer from which a polish is tried each round.
POLISH_FROM = 1e-7
INITIAL_SEGMENTS = 256


def refine_breakpoints(
    bps: list[NDArray[np.float64]],
    flows: NDArray[np.float64],
    response: NDArray[np.float64],
    lo: NDArray[np.float64],
    up: NDArray[np.float64],
    factor: float = 64.0,
) -> list[NDArray[np.float64]]:
    """Add breakpoints at ``c + (h / factor) * (0, +-1, +-2, +-4, +-8)`` around the flow and the
    response ``c`` of each quadratic arc (and at +-16, +-32), ``h`` the width of the segment that holds it: the secant
    error near the optimum, at most ``a h^2 / 4``, drops by up to ``factor**2`` per round, and the
    wider points catch an optimum that moved by more than a new segment."""
    out = []
    steps = np.array([-32.0, -16.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    for j, z in enumerate(bps):
        parts = [z]
        for c in (flows[j], response[j]):
            i = int(np.searchsorted(z, c))
            left = z[max(i - 1, 0)]
            right = z[min(i + 1, z.size - 1)] if i < z.size and z[i] == c else z[min(i, z.size - 1)]
            h = max(right - left, 0.0)
            if h > 0:
                parts.append(c + (h / factor) * steps)
        w = np.unique(np.clip(np.concatenate(parts), lo[j], up[j]))
        # breakpoints closer than round-off would make empty segments
        keep = np.r_[True, np.diff(w) > 1e-13 * max(1.0, float(np.abs(w).max()))]
        keep[-1] = True
        w = w[keep]
        if w.size >= 2 and w[-2] == w[-1]:
            w = w[:-1]
        out.append(w)
    return out
