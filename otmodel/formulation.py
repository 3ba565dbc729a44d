r"""The mathematics of a problem, instantiated: primal, relaxation, dual and algorithm, for teaching.

``problem.formulation()`` (or ``formulation``) writes the optimization problem an otmodel problem
object stands for, in the notation of its source document and with the source's equation numbers:

* ``"sets"`` -- the sets and their sizes for this instance, the cost functions in use, the bounds;
* ``"primal"`` -- the problem as the source states it (problem (1) of Laurentin et al. 2025, (2.1) /
  (2.4) of Mokhtari et al., Problem 1 (10a)-(10f) of Arqué et al.);
* ``"relaxation"`` -- the Kantorovich relaxation (2) of a spatial problem (other kinds have none);
* ``"dual"`` -- the dual function, with the conjugates of the arc costs *actually used* written out;
* ``"algorithm"`` -- the update the iterative backend performs (Algorithm 1's supergradient step,
  ADMM (3.1a)-(3.1c), Dykstra's KL projections (11)-(15));
* ``"constraints"`` -- for a small instance (at most ``MAX_LISTED_ARCS`` arcs), every constraint
  with its numbers.

The result is a ``Formulation``: ``str()`` gives Markdown (math between ``$$``) or LaTeX, and
Jupyter shows it by itself (``_repr_markdown_`` / ``_repr_latex_``). Every formula is kept to the
subset of TeX that MathJax and matplotlib's mathtext both parse (one equation per line), so a test can
parse each one.

``Formulation.dual`` evaluates the dual exactly as it is written here (its own closed forms for the
conjugates), so the statement can be checked against ``otmodel.validation.dual_value`` and against
an exact primal optimum: by strong duality they agree at optimal potentials.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidDataError, UnsupportedError

__all__ = ["Equation", "Part", "Formulation", "formulation", "explain", "PARTS", "MAX_LISTED_ARCS"]

#: The parts a formulation can show, in order.
PARTS = ("sets", "primal", "relaxation", "dual", "algorithm", "constraints")

#: Instances with at most this many arcs (pairs, for an attraction step) list every constraint.
MAX_LISTED_ARCS = 12

_CITE_LAURENTIN = "Laurentin, Coirault, Moulay, Lesage-Landry, Le Ny (2025), arXiv 2509.00279"
_CITE_MOKHTARI = "Mokhtari, Moulay, Coirault, Le Ny, *Quadratically-regularized distributed optimal transport on graphs*"
_CITE_ARQUE = "Arqué, Uribe, Ocampo-Martinez, *Application of Wasserstein attraction flows for optimal transport in network systems*"


@dataclass(frozen=True)
class Equation:
    """One displayed formula: its TeX, the source's equation number (``tag``) and a plain gloss."""

    tex: str
    tag: str = ""
    note: str = ""


@dataclass(frozen=True)
class Part:
    """A titled block of a formulation: text before, equations, text after."""

    key: str
    title: str
    intro: str = ""
    equations: tuple[Equation, ...] = ()
    outro: str = ""


@dataclass(frozen=True)
class Formulation:
    """A problem's mathematics for one instance; ``str()`` renders it in ``format``.

    Attributes
    ----------
    kind : str
        The problem kind ("flow", "spatial", "graph transport", "attraction step").
    source : str
        The source document the equation numbers refer to.
    parts : tuple of Part
        The parts asked for, in the order of ``PARTS``.
    format : str
        ``"markdown"`` or ``"latex"``.
    """

    kind: str
    source: str
    parts: tuple[Part, ...]
    format: str = "markdown"
    _dual: Any = field(default=None, repr=False, compare=False)

    # -------------------------------------------------------------------------------- rendering
    def equations(self) -> list[str]:
        """Every formula of the formulation as a TeX string (for parsing checks)."""
        return [eq.tex for part in self.parts for eq in part.equations]

    def to_markdown(self) -> str:
        """Markdown with display math between ``$$`` (MathJax, Jupyter, GitHub)."""
        out = [f"**{self.kind.capitalize()} problem** ({self.source})", ""]
        for part in self.parts:
            out += [f"### {part.title}", ""]
            if part.intro:
                out += [part.intro, ""]
            for eq in part.equations:
                tag = f" \\qquad {eq.tag}" if eq.tag else ""
                out += [f"$$ {eq.tex}{tag} $$", ""]
                if eq.note:
                    out += [eq.note, ""]
            if part.outro:
                out += [part.outro, ""]
        return "\n".join(out).rstrip() + "\n"

    def to_latex(self) -> str:
        """A LaTeX fragment (``\\paragraph`` headings, one ``equation*`` per formula)."""
        out = [f"% {self.kind} problem -- {_plain(self.source)}"]
        for part in self.parts:
            out.append(f"\\paragraph{{{_latex_text(part.title)}}}")
            if part.intro:
                out.append(_latex_text(part.intro))
            for eq in part.equations:
                tag = f"\\tag*{{{eq.tag}}}" if eq.tag else ""
                out.append(f"\\begin{{equation*}}{eq.tex}{tag}\\end{{equation*}}")
                if eq.note:
                    out.append(_latex_text(eq.note))
            if part.outro:
                out.append(_latex_text(part.outro))
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """HTML with MathJax delimiters (``\\(..\\)``, ``\\[..\\]``), as Sphinx writes math: for Jupyter and the docs."""
        out = [f"<div class='otmodel-formulation'><p><strong>{html.escape(self.kind.capitalize())} problem</strong> "
               f"({_html_text(self.source)})</p>"]
        for part in self.parts:
            out.append(f"<h4>{_html_text(part.title)}</h4>")
            if part.intro:
                out.append(_html_block(part.intro))
            for eq in part.equations:
                tag = f" \\qquad {eq.tag}" if eq.tag else ""
                out.append(f"<div class='math notranslate nohighlight'>\\[{html.escape(eq.tex + tag)}\\]</div>")
                if eq.note:
                    out.append(_html_block(eq.note))
            if part.outro:
                out.append(_html_block(part.outro))
        out.append("</div>")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_latex() if self.format == "latex" else self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        # Jupyter's LaTeX display is MathJax over one math block: give it the formulas only
        return "$$\n" + " \\\\\n".join(self.equations()) + "\n$$"

    # -------------------------------------------------------------------------------- the dual
    def dual(self, *multipliers: ArrayLike) -> float:
        r"""Evaluate the dual function exactly as this formulation writes it.

        Flow, spatial and graph-transport problems take the node potentials `\psi` (one per
        node); an attraction step takes the two coupling multipliers `(h, k)`. By weak duality
        the value is a lower bound on the primal optimum for every argument.
        """
        if self._dual is None:  # pragma: no cover - every kind sets one
            raise UnsupportedError(f"no dual evaluator for a {self.kind} problem")
        return float(self._dual(*multipliers))


# ==================================================================================== helpers
def _plain(s: str) -> str:
    return s.replace("*", "")


def _latex_text(s: str) -> str:
    """Markdown-ish prose to LaTeX text: inline math stays, emphasis and code become plain."""
    s = re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", s)
    s = re.sub(r"\*(.+?)\*", r"\\emph{\1}", s)
    s = re.sub(r"`([^`]+)`", lambda m: "\\texttt{" + m.group(1).replace("_", "\\_") + "}", s)
    return s.replace("%", "\\%").replace("#", "\\#")


def _html_text(s: str) -> str:
    """Prose to HTML: inline ``$..$`` math to MathJax spans, ``**bold**``, ``*emphasis*``, ```code```."""
    pieces = re.split(r"(\$[^$]+\$)", s)
    out = []
    for piece in pieces:
        if len(piece) > 1 and piece.startswith("$") and piece.endswith("$"):
            out.append(f"<span class='math notranslate nohighlight'>\\({html.escape(piece[1:-1])}\\)</span>")
        else:
            t = html.escape(piece)
            t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
            t = re.sub(r"\*(.+?)\*", r"<em>\1</em>", t)
            t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
            out.append(t)
    return "".join(out)


def _html_block(s: str) -> str:
    """A paragraph, or a bullet list when every line starts with ``* ``."""
    lines = [ln for ln in s.splitlines() if ln.strip()]
    if lines and all(ln.startswith("* ") for ln in lines):
        return "<ul>" + "".join(f"<li>{_html_text(ln[2:])}</li>" for ln in lines) + "</ul>"
    return f"<p>{_html_text(s)}</p>"


def _num(x: float, digits: int = 4) -> str:
    """A number as TeX: ``digits`` significant digits, scientific notation as a power of ten."""
    if math.isinf(x):
        return "+\\infty" if x > 0 else "-\\infty"
    if x == 0:
        return "0"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        return f"{mant} \\times 10^{{{int(exp)}}}"
    return s


def _name(s: str) -> str:
    """A node name usable inside ``\\mathrm{}`` (letters, digits; anything else is escaped)."""
    safe = re.sub(r"[^A-Za-z0-9]", lambda m: "\\_" if m.group(0) == "_" else "", str(s))
    return safe or "?"


def _set(names: Sequence[str], limit: int = 8) -> str:
    shown = [f"\\mathrm{{{_name(n)}}}" for n in names[:limit]]
    if len(names) > limit:
        shown.append("\\ldots")
    return "\\{" + ", ".join(shown) + "\\}"


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


def _pick(parts: str | Sequence[str], available: Sequence[str]) -> list[str]:
    wanted = list(PARTS) if parts == "all" else [parts] if isinstance(parts, str) else list(parts)
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        raise InvalidDataError(f"unknown formulation part {unknown[0]!r}; the parts are {', '.join(PARTS)} or 'all'")
    missing = [p for p in wanted if p not in available]
    if missing and parts != "all":
        raise UnsupportedError(
            f"this problem has no {missing[0]!r} part (it has: {', '.join(p for p in PARTS if p in available)})"
        )
    return [p for p in PARTS if p in wanted and p in available]


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


def _cost_lines(problem: Any) -> list[str]:
    a, b = np.asarray(problem.costs.a), np.asarray(problem.costs.b)
    quad = a > 0
    lines = []
    if (~quad).any():
        vals = b[~quad]
        lines.append(
            f"{int((~quad).sum())} linear arcs, $c_{{ij}}(p) = b_{{ij}}\\,p$ with $b_{{ij}} \\in [{_num(vals.min())}, {_num(vals.max())}]$"
        )
    if quad.any():
        lines.append(
            f"{int(quad.sum())} quadratic arcs, $c_{{ij}}(p) = a_{{ij}}p^2 + b_{{ij}}p$ with "
            f"$a_{{ij}} \\in [{_num(a[quad].min())}, {_num(a[quad].max())}]$"
            + (f", $b_{{ij}} \\in [{_num(b[quad].min())}, {_num(b[quad].max())}]$" if np.any(b[quad] != 0) else ", $b_{ij} = 0$")
        )
    lo, hi = np.asarray(problem.lower), np.asarray(problem.upper)
    lines.append(
        f"bounds: {int(np.isfinite(lo).sum())} finite lower bounds $l_{{ij}}$ (range "
        f"{_range(lo)}), {int(np.isfinite(hi).sum())} finite upper bounds $u_{{ij}}$ (range {_range(hi)})"
    )
    return lines


def _range(x: NDArray[np.float64]) -> str:
    fin = x[np.isfinite(x)]
    if fin.size == 0:
        return "none"
    return f"${_num(float(fin.min()))}$ to ${_num(float(fin.max()))}$"


def _conjugate_equations(problem: Any) -> list[Equation]:
    a = np.asarray(problem.costs.a)
    eqs = []
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
    lo, hi = np.asarray(problem.lower, float), np.asarray(problem.upper, float)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    supply = np.asarray(problem.supply, float)

    def q(psi: ArrayLike) -> float:
        y = np.asarray(psi, dtype=float).reshape(-1)
        if y.shape != (problem.n_nodes,):
            raise InvalidDataError(f"the dual takes {problem.n_nodes} potentials, got {y.size}")
        value = float(y @ supply) + float(np.sum(_conjugate(a, b, lo, hi, y[tails] - y[heads])))
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


# ==================================================================================== entry point
def formulation(problem: Any, part: str | Sequence[str] = "all", format: str = "markdown") -> Formulation:
    """The mathematics of ``problem`` for this instance.

    Parameters
    ----------
    problem : FlowProblem, SpatialFlowProblem, GraphTransportProblem, AttractionProblem or AttractionStep
        An ``AttractionProblem`` is shown through its first step (``problem.step(rho0)``).
    part : str or sequence of str
        ``"all"`` (default) or one or more of ``PARTS``; asking for a part the kind does not have
        (``"relaxation"`` of a plain flow problem) raises ``UnsupportedError``.
    format : {"markdown", "latex"}
        How ``str()`` renders the result.

    Returns
    -------
    Formulation
        Parts with their equations (source equation numbers as tags); ``Formulation.dual``
        evaluates the stated dual.
    """
    from otmodel.model.attraction import AttractionProblem, AttractionStep
    from otmodel.model.problems import FlowProblem, SpatialFlowProblem
    from otmodel.model.transport import GraphTransportProblem

    if format not in ("markdown", "latex"):
        raise InvalidDataError(f"format must be 'markdown' or 'latex', got {format!r}")
    if getattr(problem, "kind", None) == "relocation":
        parts = _relocation_parts(problem)
        keys = _pick(part, list(parts))
        return Formulation("relocation", "density-constrained relocation of planar points (VLSI placement)",
                           tuple(parts[k] for k in keys), format, lambda psi: problem.dual_value(psi))
    if isinstance(problem, AttractionProblem):
        problem = problem.step(problem.rho0, 0)
    if isinstance(problem, AttractionStep):
        parts, kind, source, dual = _step_parts(problem), "attraction step", _CITE_ARQUE, _step_dual(problem)
    elif isinstance(problem, GraphTransportProblem):
        parts, kind, source, dual = _transport_parts(problem), "graph transport", _CITE_MOKHTARI, _flow_dual(problem)
    elif isinstance(problem, SpatialFlowProblem):
        parts, kind, source, dual = _flow_parts(problem, True), "spatial", _CITE_LAURENTIN, _flow_dual(problem)
    elif isinstance(problem, FlowProblem):
        parts, kind, source, dual = _flow_parts(problem, False), "flow", _CITE_LAURENTIN, _flow_dual(problem)
    else:
        raise UnsupportedError(f"no formulation for {type(problem).__name__}: expected an otmodel problem")
    keys = _pick(part, list(parts))
    return Formulation(kind, source, tuple(parts[k] for k in keys), format, dual)


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
