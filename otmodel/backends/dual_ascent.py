r"""The ``dual-ascent`` backend: the distributed supergradient method of Laurentin et al. (2025).

It maximizes the concave dual function (eq. (3)-(4))

.. math::
    q(\psi) = \sum_k \mu_k \min_{i\in\mathcal S}\{c(x_k,i) - \psi_i\} + \sum_{i\in\mathcal N} \psi_i s_i
      + \sum_{(i,j)\in\mathcal A} \min_{p\in[l_{ij},u_{ij}]} \{c_{ij}(p) - (\psi_i - \psi_j) p\}

by the supergradient iteration (8), `\psi^{k+1} = \psi^k + \gamma_k g(\psi^k)`, with the
supergradient of Proposition 2,

.. math::
    g_i(\psi) = s_i - \sum_{(i,j)} p_{ij}(\psi) + \sum_{(j,i)} p_{ji}(\psi)
      - [i\in\mathcal S]\, \mu(\mathrm{Lag}_i(\psi)),   \qquad (6)-(7)

where `p_{ij}(\psi)` is the local response (5) and
`\mathrm{Lag}_i(\psi) = \{x: c(x,i) - \psi_i \le c(x,j) - \psi_j\ \forall j\}` the generalized
Laguerre cell. Each step of Algorithm 1 is vectorized over nodes, arcs and demand points; the
functions ``local_flows`` and ``node_supergradient`` keep the locality of the distributed
algorithm visible (an arc's flow reads only the potentials of its two end nodes; a node's update
reads only its own arcs and, for an endpoint, its cell mass).

The primal point is reconstructed by Proposition 1 from the last potentials: flows
`p(\psi)` and the assignment `T(x) = \arg\min_i c(x,i) - \psi_i` (first index on ties).
It balances flow only approximately; the status is ``CONVERGED`` when the stopping rule of
Algorithm 1 (line 15) fired, ``TIME_LIMIT`` when ``time_limit`` ran out, ``NUMERICAL_ERROR`` when
the potentials turned non-finite and ``ITERATION_LIMIT`` otherwise -- never ``OPTIMAL``: use
``otmodel.validation.certify`` to judge the point.

Requires strictly convex arc costs (Assumption 4): linear arcs make (5) set-valued and the
method is not applicable.

Options
-------
max_iter : int
    Number of supergradient steps (default 300, as in section V-A).
tol : float
    Stop when every `|\psi_i^{k+1} - \psi_i^k| < tol` (Algorithm 1, line 15; default 1e-7).
time_limit : float, optional
    Seconds of wall-clock time, checked after every update: the run stops with status
    ``TIME_LIMIT`` (overshooting by at most one update).
step_size : StepSize or float
    Step-size rule (default ``Diminishing(1, 0.01)``: `\gamma_k = 1/(1 + 0.01 k)`, the paper's);
    a number means a constant step; ``Curvature`` gives every node its own Newton-like step;
    ``Newton`` (``"newton"``) takes damped Newton steps on the
    entropically smoothed dual, a Laplacian system solved by neighbour exchanges (conjugate gradients),
    and returns its soft plan (see ``otmodel.backends.newton``; ``chunk``, ``precompute``, ``prune``
    and ``samples`` do not apply to it).
psi0 : array, optional
    Starting potentials (default zeros), one per node.
chunk : int
    Demand points per block in the cell-mass pass: memory ``O(chunk x |S| + N)``. Default
    ``min(65536, 2**23 // |S|)`` (at least 1024): one block of costs holds at most 64 MB.
precompute : {"auto", True, False}
    Keep the whole ``N x |S|`` cost matrix in memory (faster). ``"auto"`` (default) does so when
    ``N |S| <= 20e6``.
prune : {"auto", True, False}
    Find each point's argmin by a k-d tree over lifted endpoints (``PrunedArgmin``; Euclidean,
    squared Euclidean, Manhattan costs), exact. ``"auto"`` (default): for the chunked pass with at
    least ``PRUNE_MIN_ENDPOINTS`` endpoints.
samples : int, optional
    Stochastic variant (Remark 1): estimate the cell masses at every iteration from ``samples``
    fresh points drawn from mu (each carrying mu(X)/samples); the trace's ``dual_value`` is then
    the matching estimate of q. The final flows, masses and ``info["dual_value"]`` are exact.
seed : int, optional
    Seed of the sampling generator (same seed, same trace).
client : distributed.Client or str, optional
    Run each iteration's cell pass (line 9 and the assignment term of (4)) on a Dask cluster, or on
    the scheduler at this address (``otmodel.backends.distributed``): psi goes out, per-endpoint sums
    come back, node and arc updates stay here. Same iterates up to summation order. Needs a planar
    assignment cost and a first-order step rule; ``precompute`` and ``samples`` do not apply.
persist : {"auto", True, False}
    With ``client``: keep the demand's blocks on the workers (``"auto"``: unless they are generated
    from a recipe, which is then rerun inside every pass; see ``DistributedCellPass``).
callback : callable, optional
    ``callback(k, state)`` with a ``LoopState`` whose ``x`` is psi and
    ``direction`` the supergradient; a true return value stops the iteration.
verbose : bool or int
    Log progress (logger ``"otmodel"``) every ``verbose`` iterations (``True``: ten lines), shown on
    standard output when logging is not configured.
progress : bool or callable
    ``True``: a tqdm progress bar (when tqdm is installed); a callable: ``progress(k, max_iter, numbers)``
    after every iteration.

Trace columns (one entry per iteration, evaluated at `\psi^k` before its update):
``step_size``, ``dual_value`` (`q(\psi^k)`, eq. (4)), ``grad_norm`` (`\|g\|_2`),
``residual`` (`\max_i |g_i|`, the flow-balance residual), ``potentials`` (`\psi^k`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.backends._loop import iterate, stop_status
from otmodel.backends.base import Conformance, Timer, no_point_solution
from otmodel.backends.cells import DEFAULT_CHUNK, PRECOMPUTE_LIMIT, CellPass, PrunedArgmin, planar_costs
from otmodel.backends.oracle import DualOracle, dual_value, local_flows, node_supergradient, psi_vector, supergradient
from otmodel.backends.steps import Curvature, Diminishing, as_step_size
from otmodel.certificates import find_infeasible_cut, verify_infeasibility_certificate
from otmodel.errors import UnsupportedError
from otmodel.model.problems import FlowProblem
from otmodel.results import PointStatus, Solution, Status

# the public names of the method, wherever their code lives (cells.py, oracle.py, steps.py)
__all__ = [
    "DualAscentBackend",
    "local_flows",
    "node_supergradient",
    "CellPass",
    "Curvature",
    "PrunedArgmin",
    "planar_costs",
    "dual_value",
    "supergradient",
    "PRECOMPUTE_LIMIT",
    "DEFAULT_CHUNK",
    "DualOracle",
]


# ------------------------------------------------------------------------------ backend
#: The options ``DualAscentBackend.solve`` takes (docs/backend-options.md describes each).
OPTIONS = (
    "max_iter", "tol", "time_limit", "verbose", "progress", "callback", "seed",
    "step_size", "psi0", "chunk", "precompute", "prune", "samples", "client", "persist",
)


class DualAscentBackend:
    """Supergradient ascent on the dual (3)-(4), Algorithm 1 of Laurentin et al. (2025)."""

    name = "dual-ascent"
    capabilities = frozenset({"flow", "spatial", "quadratic", "iterative"})
    # strictly convex arc costs only (Assumption 4): the linear and mixed cases are outside the method;
    # the per-node Curvature step (measured: the 400-point paper layout in 56 steps, where 20,000
    # diminishing steps stop 1.6e-3 short of the optimum)
    conformance = Conformance(
        kinds=frozenset({"flow", "spatial", "graph"}),
        options={"tol": 1e-10, "max_iter": 20000, "step_size": Curvature()},
        exclude_tags=frozenset({"linear", "mixed"}),
        optimal_statuses=(Status.CONVERGED,),
        rtol=1e-5, atol=1e-6, point_rtol=1e-4, point_atol=1e-4, feas_tol=1e-5,
    )

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
        from otmodel.backends import _options as opt

        opt.refuse_unknown("dual-ascent", options, OPTIONS)
        max_iter = opt.integer("dual-ascent", "max_iter", options.pop("max_iter", 300))
        time_limit = options.pop("time_limit", None)
        if time_limit is not None:
            time_limit = opt.number("dual-ascent", "time_limit", time_limit, 0.0, strict=True, finite=False)
        tol = opt.number("dual-ascent", "tol", options.pop("tol", 1e-7), 0.0)
        step = as_step_size(options.pop("step_size", None), Diminishing(1.0, 0.01))
        psi0 = options.pop("psi0", None)
        chunk = options.pop("chunk", DEFAULT_CHUNK)
        precompute = options.pop("precompute", "auto")
        callback = options.pop("callback", None)
        verbose = options.pop("verbose", False)
        progress = options.pop("progress", None)
        prune = options.pop("prune", "auto")
        samples = options.pop("samples", None)
        seed = options.pop("seed", None)  # used by the stochastic variant (samples=M) only
        client = options.pop("client", None)  # issue 17: cell passes on a Dask cluster
        persist = options.pop("persist", "auto")

        timer = Timer()
        whole = bool(getattr(step, "whole_step", False))  # a second-order rule (Newton): its own cell pass
        if whole and samples is not None:
            raise UnsupportedError("dual-ascent backend: step_size=Newton needs exact cell masses, not samples=")
        with timer("feasibility"):
            # On an infeasible problem the dual (4) is unbounded above and the ascent would run to
            # max_iter without saying why; the cut check the exact backends use settles it first
            # (one max-flow over aggregated demand; measured on synthetic(200): 0.15 s, against
            # 3.0 s for the default 300 iterations) and returns the certificate it verified.
            # a Dask-backed demand is checked through its aggregate (same feasibility, one point)
            check = problem.aggregated() if hasattr(problem, "aggregated") else problem
            cut = find_infeasible_cut(check)
            proven = cut is not None and verify_infeasibility_certificate(check, cut)
        if proven:
            return no_point_solution(
                problem,
                Status.INFEASIBLE,
                PointStatus.CERTIFICATE,
                self.name,
                "cut check (max-flow) before iterating",
                timer.done(),
                "infeasible: a node set whose net supply exceeds what its cut can carry (verified)",
                cut,
            )
        with timer("build"):
            x0 = np.zeros(problem.n_nodes) if psi0 is None else psi_vector(problem, psi0)
            stepper = step.start(problem) if hasattr(step, "start") else step
            # the Newton rule evaluates soft and hard cells in one pass of its own: no second oracle
            cells = None
            if client is not None:
                from otmodel.backends.distributed import distributed_cells

                cells = distributed_cells(problem, client, chunk, prune, persist, samples=samples, newton=whole)
            oracle = None if whole else DualOracle(problem, chunk, precompute, prune, samples, seed, cells=cells)
        with timer("solve"):
            run = iterate(
                stepper.oracle if oracle is None else oracle,
                x0,
                stepper,
                max_iter,
                tol,
                callback=callback,
                verbose=verbose,
                keep_iterates="potentials",
                progress=progress,
                time_limit=time_limit,
            )
        if oracle is None:
            return self._newton_solution(problem, step, stepper, run, timer)
        with timer("reconstruct"):
            psi = run.x
            # Proposition 1 / Algorithm 1 line 16: flows p(psi) and cells Lag_i(psi) at the last psi
            plan = None
            distributed = None
            if cells is not None:  # one pass on the cluster: cells, SDOT term, the plan's cost (the plan if it fits)
                plan, assign = cells.plan_and_assignment(psi)
            g, q, flows, masses = oracle.evaluate(psi, exact=True)
            if cells is not None:
                objective = problem.flow_objective(flows) + assign
                distributed = cells.describe()
                cells.close()  # release the blocks held on the workers (and a client made from an address)
            elif oracle.cells is not None:
                # T*(x) = argmin_i c(x, i) - psi_i: each point sends its whole mass to one endpoint
                lab = oracle.cells.labels(psi[oracle.endpoints])
                n, ns = oracle.cells.n, oracle.cells.ns
                plan = sp.csr_matrix((oracle.cells.mass.copy(), lab, np.arange(n + 1)), shape=(n, ns))
            if cells is None:
                objective = problem.objective(flows, plan)
        return self._solution(
            problem,
            run,
            f"supergradient ascent ({step!r})",
            flows,
            plan,
            masses,
            float(objective),
            g,
            timer,
            "",
            {
                "dual_value": q,
                "precomputed": bool(oracle.cells.precomputed) if oracle.cells is not None else None,
                "pruned": oracle.cells is not None and oracle.cells.pruner is not None,
                "samples": samples,
                "seed": seed,
                "distributed": distributed,
            },
        )

    def _newton_solution(self, problem: FlowProblem, step: Any, stepper: Any, run: Any, timer: Timer) -> Solution:
        """The returned point of the Newton rule: flows p(psi) and the soft plan at the last psi."""
        with timer("reconstruct"):
            psi = run.x
            ev = stepper.reconstruct(psi)
            flows = ev["flows"]
            plan = ev["plan"]
            objective = problem.flow_objective(flows) + ev["assignment_cost"]
        return self._solution(
            problem,
            run,
            f"damped Newton on the smoothed dual ({step!r})",
            flows,
            plan,
            ev["cell_mass"],
            float(objective),
            ev["residual"],
            timer,
            f", temperature {stepper.eps:.3g}",
            {
                "finish": ev["finish"],
                "dual_value": ev["q_hard"],
                "smoothed_dual_value": ev["q_soft"],
                "temperature": float(stepper.eps),
                "precomputed": None,
                "pruned": stepper.cells is not None and stepper.cells.kind >= 0,  # tiled candidates
                "samples": None,
                "seed": None,
            },
            potentials=ev["potentials"],
        )

    def _solution(
        self,
        problem: FlowProblem,
        run: Any,
        solver: str,
        flows: Any,
        plan: Any,
        masses: Any,
        objective: float,
        g: Any,
        timer: Timer,
        note: str,
        info: dict[str, Any],
        potentials: Any = None,
    ) -> Solution:
        """The returned point at the last psi: never OPTIMAL on the method's own say-so (``certify`` judges it)."""
        info = {
            **info,
            "grad_norm": float(np.linalg.norm(g)),
            "residual": float(np.max(np.abs(g))) if g.size else 0.0,
            "stopped_by": run.reason,
        }
        return Solution(
            problem=problem,
            status=stop_status(run.reason, run.converged),
            point_status=PointStatus.NEARLY_FEASIBLE,
            objective=objective,
            flows=flows,
            potentials=run.x if potentials is None else potentials,
            backend=self.name,
            solver=solver,
            assignment=plan,
            cell_mass=masses,
            timings=timer.done(),
            trace=run.trace,
            iterations=run.iterations,
            message=f"{run.reason} after {run.iterations} iterations (last max |psi change| {run.last_change:.3g}{note})",
            info=info,
        )
