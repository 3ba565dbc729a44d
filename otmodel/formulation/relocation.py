"""The relocation problem (points to capacitated bins) as mathematics: transportation primal, bin-price dual."""

from __future__ import annotations

from typing import Any

import numpy as np

from otmodel.formulation.document import Equation, Part, _count, _num


# ------------------------------------------------------------------------------- relocation
def _relocation_parts(problem: Any) -> dict[str, Part]:
    mx, my = problem.bins
    metric = "Manhattan" if problem.metric == "manhattan" else "Euclidean"
    power = "" if problem.displacement == "l1" else "^2"
    dist = "\\|x_i - y\\|_1" if problem.metric == "manhattan" else "\\|x_i - y\\|_2"
    parts: dict[str, Part] = {}
    parts["sets"] = Part(
        "sets", "Sets and data of this instance",
        "\n".join([
            f"* $N = {_count(problem.n_points)}$ points $x_i$ of mass {_num(float(problem.mass))} in the region "
            f"$[{_num(problem.bounds[0])}, {_num(problem.bounds[1])}] \\times [{_num(problem.bounds[2])}, {_num(problem.bounds[3])}]$;",
            f"* a grid of $|B| = {mx} \\times {my} = {_count(problem.n_bins)}$ bins $j$ with capacities $\\kappa_j$ "
            f"(whole points; total {_count(int(np.sum(problem.slots)))});",
            f"* {len(problem.exclusions)} exclusion zones: a bin keeps its free part $F_j$ and capacity in proportion to its free area;",
            f"* cost $c_{{ij}} = \\min_{{y \\in F_j}} {dist}{power}$ ({metric} distance{', squared' if power else ''}) to the nearest free point of bin $j$.",
        ]),
    )
    parts["primal"] = Part(
        "primal", "Primal: a transportation problem with capacitated sinks",
        "Assign every point to one bin; the LP has an integral optimum (its matrix is totally unimodular):",
        (
            Equation("\\min_{x \\geq 0} \\sum_i \\sum_j c_{ij}\\,x_{ij}"),
            Equation("\\sum_j x_{ij} = 1, \\quad \\forall i"),
            Equation("\\sum_i x_{ij} \\leq \\kappa_j, \\quad \\forall j"),
        ),
        "It is a `SpatialFlowProblem` in disguise (`problem.to_spatial_flow()`): bins are endpoints fed by one source "
        "through arcs of capacity $\\kappa_j$, so every exact backend and `certify` apply to small instances.",
    )
    parts["dual"] = Part(
        "dual", "Dual: one price per bin",
        "A price $\\psi_j \\geq 0$ on every bin's capacity; each point picks its cheapest priced bin:",
        (
            Equation("\\max_{\\psi \\geq 0} D(\\psi), \\quad D(\\psi) = \\sum_i \\min_j \\{c_{ij} + \\psi_j\\} - \\sum_j \\kappa_j \\psi_j"),
        ),
        "Because $c_{ij}$ grows with the distance to bin $j$, the inner minimum is exact when the bins are searched in "
        "rings outward from the point's own bin, stopping when a ring's lower bound exceeds the best found: "
        "`problem.dual_value(psi)` is a proven lower bound over all pairs.",
    )
    parts["algorithm"] = Part(
        "algorithm", "Backend `relocation`: restricted flows and exact pricing",
        "Start from prices of a smaller instance; restrict each point to a few cheapest bins under the prices; solve the "
        "restricted min-cost flow; read the bin prices off the flow; price all pairs:",
        (
            Equation("\\bar c_{ij} = c_{ij} + \\psi_j - u_i \\geq 0 \\quad \\forall (i, j)"),
        ),
        "A pair with $\\bar c_{ij} < 0$ joins the restriction and the flow is solved again; when none is left the "
        "assignment is optimal, and the certificate is the gap between its cost and $D(\\psi)$.",
    )
    return parts
