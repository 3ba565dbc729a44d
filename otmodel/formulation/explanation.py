"""A solution explained in the notation of its formulation: tight constraints, potentials, certificate."""

from __future__ import annotations

from typing import Any

import numpy as np

from otmodel.errors import UnsupportedError
from otmodel.formulation.document import _CITE_LAURENTIN, MAX_LISTED_ARCS, Equation, Formulation, Part, _name, _num
from otmodel.formulation.flow import _arc_name


# ==================================================================================== explanations
def explain(solution: Any, certificate: Any = None) -> Formulation:
    r"""Explain a solution of a flow or spatial problem in the notation of its formulation.

    Which constraints are tight (arcs at a bound), what the potentials mean (prices of conservation
    at the nodes; for a spatial problem, the Laguerre cell and assigned mass of each endpoint), and why
    the certificate holds or fails: the dual bound `q(\psi)` at the returned potentials, the
    objective of a feasible (repaired) point, and the gap between them.

    Parameters
    ----------
    solution : Solution
        Any backend's answer to a ``FlowProblem`` or ``SpatialFlowProblem``.
    certificate : Certificate, optional
        The result of ``otmodel.validation.certify``; computed when not given.

    Returns
    -------
    Formulation
        Parts ``"point"``, ``"tight"``, ``"potentials"``, ``"certificate"``; ``str()`` gives Markdown.
    """
    from otmodel.model.problems import FlowProblem, SpatialFlowProblem
    from otmodel.results import Solution

    if not isinstance(solution, Solution) or not isinstance(solution.problem, FlowProblem):
        raise UnsupportedError("explain() takes a Solution of a FlowProblem or SpatialFlowProblem")
    problem = solution.problem
    spatial = isinstance(problem, SpatialFlowProblem)
    parts: list[Part] = [Part(
        "point", "The answer",
        f"Backend `{solution.backend}` stopped with status **{solution.status.value}**; the point is "
        f"**{solution.point_status.value}**, objective {float(solution.objective):.10g}.",
    )]
    if solution.has_point and problem.n_arcs:
        p = np.asarray(solution.flows, float)
        lo, hi = np.asarray(problem.lower, float), np.asarray(problem.upper, float)
        scale = max(1.0, float(np.abs(p).max(initial=0.0)))
        at_lo = np.flatnonzero(np.isfinite(lo) & (np.abs(p - lo) <= 1e-9 * scale))
        at_hi = np.flatnonzero(np.isfinite(hi) & (np.abs(p - hi) <= 1e-9 * scale))
        eqs = [Equation(f"{_arc_name(problem, int(k))} = l = {_num(float(lo[k]))}", tag="(lower bound tight)") for k in at_lo[:MAX_LISTED_ARCS]]
        eqs += [Equation(f"{_arc_name(problem, int(k))} = u = {_num(float(hi[k]))}", tag="(upper bound tight)") for k in at_hi[:MAX_LISTED_ARCS]]
        free = problem.n_arcs - at_lo.size - at_hi.size
        parts.append(Part(
            "tight", "Tight constraints",
            f"{at_lo.size} arcs sit at their lower bound and {at_hi.size} at their upper bound; the other {free} "
            "are strictly inside their bounds. Conservation rows are equalities: all tight.",
            tuple(eqs),
            "Complementary slackness: on an arc strictly inside its bounds the price difference equals the "
            "marginal cost, $\\psi_i - \\psi_j = c_{ij}'(p_{ij})$; at a lower bound $\\psi_i - \\psi_j \\leq c_{ij}'$, "
            "at an upper bound $\\geq$.",
        ))
    psi = np.asarray(solution.potentials, float)
    if psi.size == problem.n_nodes and np.all(np.isfinite(psi)):
        eqs = [Equation(f"\\psi_{{\\mathrm{{{_name(nm)}}}}} = {_num(float(v))}") for nm, v in
               list(zip(problem.node_names, psi, strict=True))[:MAX_LISTED_ARCS]]
        intro = ("$\\psi_i$ is the price of one more unit of supply at node $i$ (the multiplier of its conservation "
                 "row, sign of Laurentin et al. eq. (3)-(4)); only differences matter.")
        outro = ""
        if isinstance(problem, SpatialFlowProblem) and solution.cell_mass is not None:
            masses = ", ".join(f"{nm}: {float(m):.4g}" for nm, m in zip(problem.endpoint_names, solution.cell_mass, strict=True))
            outro = ("Endpoint $i$ serves its Laguerre cell $\\mathrm{Lag}_i(\\psi) = \\{x : c(x,i) - \\psi_i \\leq c(x,j) - \\psi_j\\ "
                     "\\forall j\\}$: a higher $\\psi_i$ widens the cell. Assigned masses $m_i$: " + masses + ".")
        parts.append(Part("potentials", "Potentials", intro, tuple(eqs), outro))
    if certificate is None and solution.has_point:
        from otmodel.validation import certify

        certificate = certify(problem, solution)
    if certificate is not None:
        lb, ub = float(certificate.dual_bound), float(certificate.upper_bound)
        verdict = "**CERTIFIED**" if certificate.certified else "**not certified**: " + "; ".join(certificate.reasons)
        parts.append(Part(
            "certificate", "Why the certificate holds" if certificate.certified else "Why there is no certificate",
            "Weak duality bounds the optimum from below by the dual function at the returned potentials; any feasible "
            f"point bounds it from above (here: the {certificate.upper_source}).",
            (
                Equation(f"q(\\psi) = {_num(lb, 10)} \\leq \\mathrm{{OPT}} \\leq {_num(ub, 10)}", tag="(4)"),
                Equation(f"\\mathrm{{gap}} = {_num(float(certificate.gap))}, \\quad \\mathrm{{relative}} = {_num(float(certificate.relative_gap))}"),
            ),
            verdict,
        ))
    return Formulation("spatial" if spatial else "flow", _CITE_LAURENTIN, tuple(parts), "markdown")
