"""An attraction step (Problem 1 (10a)-(10f) of Arqué et al.) as mathematics: its LP, its dual, Dykstra's projections."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from otmodel.errors import InvalidDataError
from otmodel.formulation.document import MAX_LISTED_ARCS, Equation, Part, _count, _name, _num, _range


# ------------------------------------------------------------------------------- attraction step
def _step_data(step: Any) -> tuple[Any, ...]:
    prob = step.problem
    rows, cols, cap = step.allowed()
    C = np.asarray(prob.cost, float)
    rho = np.asarray(step.rho, float)
    pbar = np.minimum(np.asarray(prob.storage, float), np.asarray(step.neighbour_mass(), float))
    return prob, rows, cols, cap, C, rho, pbar


def _step_parts(step: Any) -> dict[str, Part]:
    prob, rows, cols, cap, C, rho, pbar = _step_data(step)
    n = prob.n_nodes
    w = float(step.omega)
    g = float(step.gamma)
    n_cap = int(np.isfinite(cap).sum())
    parts: dict[str, Part] = {}
    parts["sets"] = Part(
        "sets", "Sets and data of this step",
        "\n".join([
            f"* $|V| = {_count(n)}$ nodes, $\\bar A = A + I$ ({_count(prob.n_edges)} edges); $C$ = shortest-path costs, range {_range(C[C > 0]) if np.any(C > 0) else 'all 0'};",
            f"* $\\rho_t$ with support of {_count(int(np.sum(rho > 0)))} nodes, target $\\nu$ with {_count(int(np.sum(np.asarray(prob.nu) > 0)))};",
            f"* weights $\\omega = {_num(w)}$, $1 - \\omega = {_num(1 - w)}$; entropic temperature $\\gamma = {_num(g)}$;",
            f"* {_count(rows.size)} pairs $(j, i)$ allowed by the support rule (15), {n_cap} with a finite capacity $\\tilde C_{{ji}}$;",
            "* node bound $\\bar p_i = \\min(\\bar\\rho_i, \\sum_{j: \\bar A_{ji} = 1} [\\rho_t]_j)$ ((10e)-(10f)).",
        ]),
    )
    parts["primal"] = Part(
        "primal", "Primal: constrained entropic barycenter (Problem 1)",
        "$\\pi_1[j, i]$ moves mass from $j$ (holding $\\rho_t$) to $i$; $\\pi_2[k, i]$ couples $\\nu_k$ with $p_i$; $\\rho_{t+1} = p$:",
        (
            Equation("\\min_{\\pi_1, \\pi_2 \\geq 0} \\omega\\,\\mathrm{KL}(\\pi_1 | \\xi) + (1 - \\omega)\\,\\mathrm{KL}(\\pi_2 | \\xi),"
                     "\\quad \\xi = e^{-C/\\gamma}", tag="(10a)"),
            Equation("\\pi_1 \\mathbf{1} = \\rho_t, \\quad \\pi_2 \\mathbf{1} = \\nu", tag="(10b)"),
            Equation("\\pi_1^{\\top} \\mathbf{1} = \\pi_2^{\\top} \\mathbf{1} = p", tag="(10c)"),
            Equation("\\pi_1 \\leq \\tilde{C}", tag="(10d)"),
            Equation("p \\leq \\bar\\rho", tag="(10e)"),
            Equation("p_i \\leq \\sum_{j: \\bar{A}_{ji} = 1} [\\rho_t]_j", tag="(10f)"),
        ),
        "As $\\gamma \\to 0$ the KL terms become the transport costs $\\omega\\langle C, \\pi_1\\rangle + (1-\\omega)\\langle C, \\pi_2\\rangle$: "
        "the exact step LP (`solver=\"highs\"`), which the dual below describes.",
    )
    parts["dual"] = Part(
        "dual", "Dual of the exact step (gamma -> 0), by relaxing the coupling (10c)",
        "Multipliers $h_i$ for $\\pi_1^{\\top}\\mathbf{1} = p$ and $k_i$ for $\\pi_2^{\\top}\\mathbf{1} = p$; every row of $\\pi_1$ is then a "
        "fractional knapsack (fill the cheapest allowed pairs up to their capacities):",
        (
            Equation("q(h, k) = \\sum_j \\min_{\\pi_{j\\cdot} \\in P_j} \\sum_i (\\omega C_{ji} - h_i)\\,\\pi_{ji}"
                     " + \\sum_k \\nu_k \\min_i \\{(1 - \\omega) C_{ki} - k_i\\} + \\sum_i \\bar p_i \\min(0, h_i + k_i)"),
            Equation("P_j = \\{\\pi_{j\\cdot} \\geq 0 : \\sum_i \\pi_{ji} = [\\rho_t]_j,\\ \\pi_{ji} \\leq \\tilde{C}_{ji},\\ \\pi_{ji} = 0 \\mathrm{\\ off\\ the\\ allowed\\ pairs}\\}"),
        ),
        "Weak duality: $q(h, k)$ is at most the step LP's optimum for all $(h, k)$, with equality at the LP's multipliers.",
    )
    parts["algorithm"] = Part(
        "algorithm", "Dykstra's KL projections (11)-(15), step solver `dykstra`",
        "Start from $\\pi_1 = \\pi_2 = \\xi$ and cycle through the KL proximal operators, with Dykstra's corrections:",
        (
            Equation("\\pi_l \\leftarrow \\mathrm{diag}\\left(\\frac{P_l}{\\pi_l \\mathbf{1}}\\right) \\pi_l, \\quad P_1 = \\rho_t,\\ P_2 = \\nu", tag="(11)"),
            Equation("\\pi_l \\leftarrow \\pi_l\\,\\mathrm{diag}\\left(\\frac{p}{\\mathbf{1}^{\\top}\\pi_l}\\right), \\quad "
                     "p = \\prod_l (\\mathbf{1}^{\\top}\\pi_l)^{\\omega_l}", tag="(12)"),
            Equation("\\pi_1 \\leftarrow \\min(\\pi_1, \\tilde{C})", tag="(13)"),
            Equation("\\pi_l \\leftarrow \\pi_l\\,\\mathrm{diag}\\left(\\min\\left(\\frac{\\bar\\rho}{\\pi_l^{\\top}\\mathbf{1}}, \\mathbf{1}\\right)\\right)", tag="(14)"),
            Equation("\\tilde{C}_{ji} = 0 \\quad \\mathrm{if}\\ j \\in \\mathrm{supp}(\\rho_t)\\ \\mathrm{and}\\ \\bar{A}_{ji} = 0", tag="(15)"),
        ),
        "otmodel runs them in the log domain (no underflow of $e^{-C/\\gamma}$); pairs ruled out by (15) are never stored.",
    )
    if rows.size <= MAX_LISTED_ARCS:
        names = prob.node_names
        eqs = []
        for j in np.unique(rows):
            terms = " + ".join(f"\\pi_{{{_name(names[j])},{_name(names[i])}}}" for i in cols[rows == j])
            eqs.append(Equation(f"{terms} = {_num(float(rho[j]))}", note=f"row {names[j]} of $\\pi_1$ (10b)"))
        for r, c, u in zip(rows, cols, cap, strict=True):
            if np.isfinite(u):
                eqs.append(Equation(f"\\pi_{{{_name(names[r])},{_name(names[c])}}} \\leq {_num(float(u))}", tag="(10d)"))
        for i in range(n):
            if np.isfinite(pbar[i]):
                eqs.append(Equation(f"p_{{{_name(names[i])}}} \\leq {_num(float(pbar[i]))}", tag="(10e)-(10f)"))
        parts["constraints"] = Part("constraints", "Every constraint of this step on $\\pi_1$ and $p$", "", tuple(eqs))
    return parts


def _step_dual(step: Any) -> Any:
    prob, rows, cols, cap, C, rho, pbar = _step_data(step)
    w = float(step.omega)
    nu = np.asarray(prob.nu, float)
    n = prob.n_nodes
    tgt = np.flatnonzero(nu > 0)

    def q(h: ArrayLike, k: ArrayLike) -> float:
        hv, kv = np.asarray(h, float).reshape(-1), np.asarray(k, float).reshape(-1)
        if hv.shape != (n,) or kv.shape != (n,):
            raise InvalidDataError(f"the step dual takes two vectors of {n} multipliers")
        total = 0.0
        red = w * C[rows, cols] - hv[cols]
        for j in np.unique(rows):  # a fractional knapsack per source row (small, teaching-sized data)
            sel = np.flatnonzero(rows == j)
            order = sel[np.argsort(red[sel], kind="stable")]
            left = float(rho[j])
            for e in order:
                take = min(left, float(cap[e]))
                total += take * float(red[e])
                left -= take
                if left <= 0:
                    break
            if left > 1e-12 * max(1.0, float(rho[j])):
                return -math.inf  # the row cannot be served within its capacities
        total += float(nu[tgt] @ np.min((1 - w) * C[tgt][:, :] - kv[None, :], axis=1))
        with np.errstate(invalid="ignore"):
            total += float(np.sum(np.where(hv + kv < 0, pbar * (hv + kv), 0.0)))
        return total

    return q
