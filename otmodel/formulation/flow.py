"""Flow, spatial and graph-transport problems as mathematics.

Problem (1) and its Kantorovich relaxation (2), the dual (3)-(4) with the conjugates of the arc costs in
use and Algorithm 1 of Laurentin et al. (2025); problems (2.1)/(2.4) and the ADMM iterations
(3.1a)-(3.1c) of Mokhtari et al.; the dual evaluated as written, for checking against the validation module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidDataError
from otmodel.formulation.document import MAX_LISTED_ARCS, Equation, Part, _count, _name, _num, _plain, _range, _set


# ==================================================================================== arc costs
def _conjugate(a: NDArray[np.float64], b: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64],
               t: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Per arc `\min_{p\in[l,u]} a p^2 + (b - t) p`, written out (not the model's own routine).

    Quadratic arcs (`a > 0`): `p^\star = \mathrm{clip}((t-b)/(2a), l, u)`. Linear arcs:
    `l(b-t)` when `t \le b`, `u(b-t)` when `t > b` (`-\infty` when that
    bound is infinite), with `0\cdot\infty = 0` at `t = b`.
    """
    out = np.empty_like(t)
    quad = a > 0
    if quad.any():
        p = np.clip((t[quad] - b[quad]) / (2 * a[quad]), lo[quad], hi[quad])
        out[quad] = a[quad] * p * p + (b[quad] - t[quad]) * p
    lin = ~quad
    if lin.any():
        slope = b[lin] - t[lin]
        with np.errstate(invalid="ignore"):
            down = np.where(slope > 0, slope * lo[lin], 0.0)
            up = np.where(slope < 0, slope * hi[lin], 0.0)
        out[lin] = down + up
    return out


def _kinked_conjugate(a: NDArray[np.float64], b: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64],
                      t: NDArray[np.float64], kink: NDArray[np.bool_] | None) -> NDArray[np.float64]:
    r"""``_conjugate``, with the two-way arcs charged `a p^2 + b|p|` (``kink``) written as the smaller
    of the two one-sided minima: over `[0, u]` with slope `b` and over `[l, 0]` with slope `-b`."""
    if kink is None or not kink.any():
        return _conjugate(a, b, lo, hi, t)
    out = _conjugate(a, b, np.where(kink, np.maximum(lo, 0.0), lo), hi, t)
    k = np.flatnonzero(kink)
    left = _conjugate(a[k], -b[k], lo[k], np.zeros(k.size), t[k])
    out[k] = np.minimum(out[k], left)
    return out


def _cost_lines(problem: Any) -> list[str]:
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    kink = problem.costs.kink
    two = np.zeros(a.shape, dtype=bool) if kink is None else np.asarray(kink, dtype=bool)
    quad = a > 0
    lines = []
    if (~quad & ~two).any():
        vals = b[~quad & ~two]
        lines.append(
            f"{int((~quad & ~two).sum())} linear arcs, $c_{{ij}}(p) = b_{{ij}}\\,p$ with $b_{{ij}} \\in [{_num(vals.min())}, {_num(vals.max())}]$"
        )
    if (~quad & two).any():
        vals = b[~quad & two]
        lines.append(
            f"{int((~quad & two).sum())} two-way linear arcs ($l_{{ij}} < 0 < u_{{ij}}$), $c_{{ij}}(p) = b_{{ij}}\\,|p|$ "
            f"(flow costs $b_{{ij}}$ per unit in either direction) with $b_{{ij}} \\in [{_num(vals.min())}, {_num(vals.max())}]$"
        )
    for sel, what, lin in ((quad & ~two, "quadratic arcs", "b_{ij}p"), (quad & two, "two-way quadratic arcs "
                           "($l_{ij} < 0 < u_{ij}$)", "b_{ij}|p|")):
        if sel.any():
            lines.append(
                f"{int(sel.sum())} {what}, $c_{{ij}}(p) = a_{{ij}}p^2 + {lin}$ with "
                f"$a_{{ij}} \\in [{_num(a[sel].min())}, {_num(a[sel].max())}]$"
                + (f", $b_{{ij}} \\in [{_num(b[sel].min())}, {_num(b[sel].max())}]$" if np.any(b[sel] != 0) else ", $b_{ij} = 0$")
            )
    lo, hi = np.asarray(problem.lower), np.asarray(problem.upper)
    signed = ~two & (lo < 0) & (hi > 0) & (b != 0)
    if signed.any():
        lines.append(
            f"{int(signed.sum())} two-way arcs with a signed cost ($c_{{ij}}(p) = a_{{ij}}p^2 + b_{{ij}}p$ as spelt: "
            "flow against the arc's direction is credited $b_{ij}$ per unit)"
        )
    lo, hi = np.asarray(problem.lower), np.asarray(problem.upper)
    lines.append(
        f"bounds: {int(np.isfinite(lo).sum())} finite lower bounds $l_{{ij}}$ (range "
        f"{_range(lo)}), {int(np.isfinite(hi).sum())} finite upper bounds $u_{{ij}}$ (range {_range(hi)})"
    )
    return lines


def _conjugate_equations(problem: Any) -> list[Equation]:
    a = np.asarray(problem.costs.a)
    eqs = []
    if problem.costs.kink is not None and np.any(problem.costs.kink):
        eqs.append(Equation(
            "\\min_{p \\in [l_{ij}, u_{ij}]} a_{ij}p^2 + b_{ij}|p| - t_{ij}\\,p = \\min\\Big\\{\\min_{p \\in [0, u_{ij}]} "
            "a_{ij}p^2 + (b_{ij} - t_{ij})\\,p,\\ \\min_{p \\in [l_{ij}, 0]} a_{ij}p^2 - (b_{ij} + t_{ij})\\,p\\Big\\}",
            note="for a two-way arc ($l_{ij} < 0 < u_{ij}$, cost $b_{ij}|p|$, kink at $p = 0$): no flow while "
            "$|t_{ij}| \\le b_{ij}$; for $a_{ij} > 0$ the response is "
            "$p^{\\star}_{ij} = \\mathrm{proj}_{[l_{ij}, u_{ij}]}(\\mathrm{sign}(t_{ij})(|t_{ij}| - b_{ij})^{+} / (2a_{ij}))$. "
            "An exact solver sees such an arc as two opposite one-way arcs of cost $b_{ij}$.",
        ))
    if np.any(a == 0):
        eqs.append(Equation(
            "\\min_{p \\in [l_{ij}, u_{ij}]} (b_{ij} - t_{ij})\\,p = l_{ij}\\,(b_{ij} - t_{ij})^{+} - u_{ij}\\,(t_{ij} - b_{ij})^{+}",
            note="for a linear arc, with $t_{ij} = \\psi_i - \\psi_j$ and $0 \\cdot \\infty = 0$: the term is "
            "$-\\infty$ when the price difference exceeds the cost on an arc without upper bound.",
        ))
    if np.any(a > 0):
        eqs.append(Equation(
            "\\min_{p \\in [l_{ij}, u_{ij}]} a_{ij}p^2 + (b_{ij} - t_{ij})\\,p = a_{ij}(p^{\\star}_{ij})^2 + (b_{ij} - t_{ij})\\,p^{\\star}_{ij},"
            "\\quad p^{\\star}_{ij} = \\mathrm{proj}_{[l_{ij}, u_{ij}]}\\left(\\frac{t_{ij} - b_{ij}}{2a_{ij}}\\right)",
            tag="(5)",
            note="for a quadratic arc: the local response $p_{ij}(\\psi)$ of eq. (5) in closed form.",
        ))
    return eqs


def _arc_name(problem: Any, k: int) -> str:
    t, h = problem.node_names[int(problem.tails[k])], problem.node_names[int(problem.heads[k])]
    return f"p_{{\\mathrm{{{_name(t)}}},\\mathrm{{{_name(h)}}}}}"


def _conservation_rows(problem: Any, assigned: dict[int, str] | None = None) -> list[Equation]:
    rows = []
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    supply = np.asarray(problem.supply)
    for i, name in enumerate(problem.node_names):
        terms = [f"+ {_arc_name(problem, int(k))}" for k in np.flatnonzero(tails == i)]
        terms += [f"- {_arc_name(problem, int(k))}" for k in np.flatnonzero(heads == i)]
        if assigned and i in assigned:
            terms.append(f"+ {assigned[i]}")
        lhs = " ".join(terms).lstrip("+ ").strip() or "0"
        rows.append(Equation(f"{lhs} = {_num(float(supply[i]))}", tag=f"(node {_plain(str(name))})"))
    for k in range(problem.n_arcs):
        lo, hi = float(problem.lower[k]), float(problem.upper[k])
        rows.append(Equation(f"{_num(lo)} \\leq {_arc_name(problem, k)} \\leq {_num(hi)}"))
    return rows


# ==================================================================================== problem kinds
def _flow_parts(problem: Any, spatial: bool) -> dict[str, Part]:
    n, m = problem.n_nodes, problem.n_arcs
    parts: dict[str, Part] = {}
    sets = [
        f"$\\mathcal{{N}} = {_set(problem.node_names)}$, $|\\mathcal{{N}}| = {_count(n)}$ nodes with supplies $s_i$ "
        f"(total supply {_num(float(np.clip(problem.supply, 0, None).sum()))});",
        f"$\\mathcal{{A}}$, $|\\mathcal{{A}}| = {_count(m)}$ arcs $(i, j)$ with flow $p_{{ij}} \\in [l_{{ij}}, u_{{ij}}]$;",
    ]
    sets += [f"{line};" for line in _cost_lines(problem)]
    if spatial:
        ends = problem.endpoint_names
        sets += [
            f"$\\mathcal{{S}} = {_set(ends)}$, $|\\mathcal{{S}}| = {_count(len(ends))}$ endpoint nodes;",
            f"the demand $\\mu = \\sum_k \\mu_k \\delta_{{x_k}}$ on $X$: {_count(problem.n_points)} points of total mass "
            f"{_num(float(problem.demand.total))};",
            f"the assignment cost $c(x, i)$: {problem.assignment_cost.name.replace('_', ' ')}.",
        ]
    parts["sets"] = Part("sets", "Sets and data of this instance", "\n".join(f"* {s}" for s in sets))

    flow_obj = "\\sum_{(i,j) \\in \\mathcal{A}} c_{ij}(p_{ij})"
    div = "\\sum_{j:(i,j) \\in \\mathcal{A}} p_{ij} - \\sum_{j:(j,i) \\in \\mathcal{A}} p_{ji}"
    bounds = Equation("l_{ij} \\leq p_{ij} \\leq u_{ij}, \\quad \\forall (i,j) \\in \\mathcal{A}", tag="(1d)" if spatial else "")
    if spatial:
        parts["primal"] = Part(
            "primal", "Primal: space partitioning and network flow (problem (1))",
            "Assign every demand point to one endpoint by a map $T: X \\to \\mathcal{S}$ and route the flows:",
            (
                Equation(f"\\min_{{T,\\,p}} \\int_X c(x, T(x))\\,d\\mu(x) + {flow_obj}", tag="(1a)"),
                Equation(f"{div} = s_i - \\mu(T^{{-1}}(i)), \\quad \\forall i \\in \\mathcal{{S}}", tag="(1b)"),
                Equation(f"{div} = s_i, \\quad \\forall i \\in \\mathcal{{N}} \\setminus \\mathcal{{S}}", tag="(1c)"),
                bounds,
            ),
        )
        parts["relaxation"] = Part(
            "relaxation", "Kantorovich relaxation (problem (2))",
            "The map becomes a transport plan $\\pi_{ki} \\geq 0$ (a point's mass may be split); with a discrete "
            f"demand this is a finite {'LP' if problem.is_linear else 'QP'} with "
            f"{_count(problem.n_points * problem.n_endpoints)} plan variables and {_count(m)} flows:",
            (
                Equation(
                    "\\min_{\\pi \\geq 0,\\,p} \\sum_k \\sum_{i \\in \\mathcal{S}} c(x_k, i)\\,\\pi_{ki} + " + flow_obj, tag="(2a)"
                ),
                Equation(f"{div} = s_i - \\sum_k \\pi_{{ki}}, \\quad \\forall i \\in \\mathcal{{S}}", tag="(2b)"),
                Equation(f"{div} = s_i, \\quad \\forall i \\in \\mathcal{{N}} \\setminus \\mathcal{{S}}"),
                Equation("\\sum_{i \\in \\mathcal{S}} \\pi_{ki} = \\mu_k, \\quad \\forall k", tag="(2c)"),
                Equation("l_{ij} \\leq p_{ij} \\leq u_{ij}, \\quad \\forall (i,j) \\in \\mathcal{A}", tag="(2d)"),
            ),
            "Proposition 1: at an optimal $\\psi$ the map $T(x) = \\arg\\min_{i \\in \\mathcal{S}} \\{c(x,i) - \\psi_i\\}$ "
            "(the Laguerre cells) and the flows $p_{ij}(\\psi)$ of eq. (5) solve (1).",
        )
    else:
        parts["primal"] = Part(
            "primal", "Primal: min-cost flow",
            "",
            (
                Equation(f"\\min_{{p}} {flow_obj}"),
                Equation(f"{div} = s_i, \\quad \\forall i \\in \\mathcal{{N}}"),
                bounds,
            ),
        )
    sdot = "\\sum_k \\mu_k \\min_{i \\in \\mathcal{S}} \\{c(x_k, i) - \\psi_i\\} + " if spatial else ""
    parts["dual"] = Part(
        "dual", "Dual (Theorem 1, eq. (3)-(4))",
        "One potential $\\psi_i$ per node (the price of flow conservation at $i$); $t_{ij} = \\psi_i - \\psi_j$:",
        (
            Equation("\\max_{\\psi \\in \\mathbb{R}^{|\\mathcal{N}|}} q(\\psi)", tag="(3)"),
            Equation(
                f"q(\\psi) = {sdot}\\sum_{{i \\in \\mathcal{{N}}}} \\psi_i s_i + "
                "\\sum_{(i,j) \\in \\mathcal{A}} \\min_{p \\in [l_{ij}, u_{ij}]} \\{c_{ij}(p) - t_{ij}\\,p\\}",
                tag="(4)",
            ),
            *_conjugate_equations(problem),
        ),
        "Weak duality: $q(\\psi)$ is at most the optimum for every $\\psi$; equality at a dual optimum. "
        "`otmodel.validation.dual_value` evaluates it from the data; `certify` reports it as the dual bound.",
    )
    step = (
        "Every node $i$ reads the potentials of its out-neighbours, sets its outgoing flows by eq. (5), "
        "reads its in-neighbours' flows, and moves its potential along the supergradient:"
    )
    cell = " - m_i" if spatial else ""
    eqs = [
        Equation("p_{ij} \\leftarrow \\arg\\min_{p \\in [l_{ij}, u_{ij}]} \\{c_{ij}(p) - (\\psi_i - \\psi_j)\\,p\\}", tag="(5)"),
    ]
    if spatial:
        eqs.append(Equation(
            "m_i \\leftarrow \\mu(\\mathrm{Lag}_i(\\psi)), \\quad \\mathrm{Lag}_i(\\psi) = "
            "\\{x : c(x,i) - \\psi_i \\leq c(x,j) - \\psi_j\\ \\forall j \\in \\mathcal{S}\\}",
            note="endpoints only: the mass of the Laguerre cell.",
        ))
    eqs += [
        Equation(f"g_i = s_i{cell} - \\sum_{{(i,j)}} p_{{ij}} + \\sum_{{(j,i)}} p_{{ji}}", tag="(6)-(7)"),
        Equation("\\psi_i \\leftarrow \\psi_i + \\gamma_k\\,g_i", tag="(8)"),
    ]
    parts["algorithm"] = Part(
        "algorithm", "Distributed dual ascent (Algorithm 1, backend `dual-ascent`)", step, tuple(eqs),
        "Step sizes $\\gamma_k$: the paper's $1/(1 + 0.01k)$ (`Diminishing`), `Constant`, or the local `Curvature` rule. "
        "The run stops on $|\\psi_i - \\psi_i^{\\mathrm{old}}| < \\varepsilon$; `certify` then says how good the point is.",
    )
    if m <= MAX_LISTED_ARCS and (not spatial or problem.n_endpoints <= MAX_LISTED_ARCS):
        assigned = None
        if spatial:
            assigned = {int(i): f"m_{{\\mathrm{{{_name(problem.node_names[int(i)])}}}}}" for i in problem.endpoints}
        parts["constraints"] = Part(
            "constraints", "Every constraint of this instance",
            "Flow conservation (one row per node; $m_i$ = demand mass assigned to endpoint $i$) and the arc bounds:"
            if spatial else "Flow conservation (one row per node) and the arc bounds:",
            tuple(_conservation_rows(problem, assigned)),
        )
    return parts


def _flow_dual(problem: Any) -> Any:
    from otmodel.model.problems import SpatialFlowProblem

    a, b = np.asarray(problem.costs.a, float), np.asarray(problem.costs.b, float)
    kink = problem.costs.kink
    lo, hi = np.asarray(problem.lower, float), np.asarray(problem.upper, float)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    supply = np.asarray(problem.supply, float)

    def q(psi: ArrayLike) -> float:
        y = np.asarray(psi, dtype=float).reshape(-1)
        if y.shape != (problem.n_nodes,):
            raise InvalidDataError(f"the dual takes {problem.n_nodes} potentials, got {y.size}")
        value = float(y @ supply) + float(np.sum(_kinked_conjugate(a, b, lo, hi, y[tails] - y[heads], kink)))
        if isinstance(problem, SpatialFlowProblem):
            ends = y[np.asarray(problem.endpoints)]
            mass = np.asarray(problem.demand.mass, float)
            for start in range(0, problem.n_points, 65536):
                stop = min(problem.n_points, start + 65536)
                red = problem.cost_block(start, stop) - ends[None, :]
                w = mass[start:stop]
                pos = w > 0
                value += float(w[pos] @ red[pos].min(axis=1))
        return value

    return q


def _transport_parts(problem: Any) -> dict[str, Part]:
    parts = _flow_parts(problem, spatial=False)
    G = float(problem.regularized_gamma)
    n, m = problem.n_nodes, problem.n_arcs
    parts["sets"] = Part(
        "sets", "Sets and data of this instance",
        "\n".join([
            f"* the digraph $G = (V, \\mathcal{{A}})$: $|V| = {_count(n)}$ agents, $|\\mathcal{{A}}| = {_count(m)}$ arcs;",
            f"* distributions $\\rho^0, \\rho^\\infty$ of mass {_num(float(problem.rho0.sum()))}, $\\rho = \\rho^0 - \\rho^\\infty$;",
            f"* arc costs $c_{{ij}}$ in {_range(np.asarray(problem.arc_cost, float))}, capacities $\\pi^c_{{ij}}$: "
            f"{int(np.isfinite(problem.capacity).sum())} finite;",
            f"* regularization $\\gamma = {_num(float(problem.gamma))}$ ({problem.gamma_scaling}), centralized "
            f"coefficient $\\Gamma = {_num(G)}$, per agent $\\Gamma/|V| = {_num(float(problem.agent_gamma))}$.",
        ]),
    )
    parts["primal"] = Part(
        "primal", "Primal: W1 on the graph (2.1) and its regularization (2.4)",
        "$\\mathrm{div}(\\pi)_i = \\sum_{j \\in N^+(i)} \\pi_{ij} - \\sum_{j \\in N^-(i)} \\pi_{ji}$:",
        (
            Equation("\\mathcal{W}_1(\\rho^0, \\rho^\\infty) = \\min_{0 \\leq \\pi \\leq \\pi^c} \\sum_{(i,j) \\in \\mathcal{A}} c_{ij}\\pi_{ij}"
                     "\\quad \\mathrm{s.t.} \\quad \\mathrm{div}(\\pi)_i = \\rho_i\\ \\forall i", tag="(2.1)"),
            Equation("\\mathcal{W}_1^\\gamma = \\min \\sum_{i \\in V} \\left(f_i(\\pi^i) + \\frac{\\Gamma}{2|V|}\\|\\pi^i\\|^2\\right)"
                     "\\quad \\mathrm{s.t.} \\quad \\mathrm{div}(\\pi^i)_i = \\rho_i,\\ \\pi^i = \\pi^j\\ \\forall (i,j) \\in \\mathcal{A}",
                     tag="(2.4)"),
            Equation("f_i(\\pi) = \\sum_{j \\in N^+(i)} c_{ij}\\pi_{ij}, \\quad 0 \\leq \\pi^i \\leq \\pi^c"),
        ),
        f"At consensus this is the flow problem with arc costs $c_{{ij}}\\pi + \\frac{{\\Gamma}}{{2}}\\pi^2$ "
        f"($\\Gamma = {_num(G)}$), which every exact backend solves.",
    )
    parts["algorithm"] = Part(
        "algorithm", "Distributed ADMM (iterations (3.1a)-(3.1c), backend `admm`)",
        "Every agent $i$ keeps a copy $\\pi^i$ of the whole plan, a multiplier $\\alpha^i$ and a vector $s^i$; "
        "it talks to its neighbours $N^+(i) \\cup N^-(i)$ only:",
        (
            Equation("\\pi^i_{k+1} = \\arg\\min_{0 \\leq \\pi \\leq \\pi^c} \\delta^{-1}f_i(\\pi) + \\frac{\\delta^{-1}\\Gamma}{2|V|}\\|\\pi\\|^2"
                     " + \\alpha^i_k\\,\\mathrm{div}(\\pi)_i + \\frac{1}{2}(\\mathrm{div}(\\pi)_i - \\rho_i)^2 + (s^i_k)^{\\top}\\pi"
                     " + \\frac{1}{2}\\sum_{j} \\|\\pi - \\frac{\\pi^i_k + \\pi^j_k}{2}\\|^2", tag="(3.1a)"),
            Equation("\\alpha^i_{k+1} = \\alpha^i_k + \\mathrm{div}(\\pi^i_{k+1})_i - \\rho_i", tag="(3.1b)"),
            Equation("s^i_{k+1} = s^i_k + \\frac{1}{2}\\sum_{j} (\\pi^i_{k+1} - \\pi^j_{k+1})", tag="(3.1c)"),
            Equation("\\mathrm{Error}_k = \\sum_i \\|s^i_{k+1} - s^i_k\\| + \\|\\pi^i_{k+1} - \\pi^i_k\\| + |\\alpha^i_{k+1} - \\alpha^i_k| < \\varepsilon",
                     tag="(3.2)"),
        ),
        "otmodel solves (3.1a) in closed form (one monotone scalar equation per agent).",
    )
    return parts
