"""A formulation as a document: equations, titled parts, rendering to Markdown, LaTeX and HTML.

The pieces every problem kind builds its formulation from (``Equation``, ``Part``, ``Formulation``), the
parts and size limit shared by all kinds, the sources cited, and the small TeX/HTML text helpers.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otmodel.errors import InvalidDataError, UnsupportedError

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

    def _blocks(
        self, title: Callable[[str], str], text: Callable[[str], str], math: Callable[[str, str], str]
    ) -> list[str]:
        """The parts in order, each piece written by the renderer's own ``title``, ``text`` and ``math``."""
        out = []
        for part in self.parts:
            out.append(title(part.title))
            if part.intro:
                out.append(text(part.intro))
            for eq in part.equations:
                out.append(math(eq.tex, eq.tag))
                if eq.note:
                    out.append(text(eq.note))
            if part.outro:
                out.append(text(part.outro))
        return out

    def to_markdown(self) -> str:
        """Markdown with display math between ``$$`` (MathJax, Jupyter, GitHub)."""
        head = f"**{self.kind.capitalize()} problem** ({self.source})"
        body = self._blocks(
            lambda t: f"### {t}", lambda t: t, lambda tex, tag: f"$$ {tex}{_qquad(tag)} $$"
        )
        return "\n\n".join([head, *body]).rstrip() + "\n"

    def to_latex(self) -> str:
        """A LaTeX fragment (``\\paragraph`` headings, one ``equation*`` per formula)."""
        head = f"% {self.kind} problem -- {_plain(self.source)}"
        body = self._blocks(
            lambda t: f"\\paragraph{{{_latex_text(t)}}}",
            _latex_text,
            lambda tex, tag: "\\begin{equation*}" + tex + ("\\tag*{" + tag + "}" if tag else "") + "\\end{equation*}",
        )
        return "\n".join([head, *body]) + "\n"

    def to_html(self) -> str:
        """HTML with MathJax delimiters (``\\(..\\)``, ``\\[..\\]``), as Sphinx writes math: for Jupyter and the docs."""
        head = (f"<div class='otmodel-formulation'><p><strong>{html.escape(self.kind.capitalize())} problem</strong> "
                f"({_html_text(self.source)})</p>")
        body = self._blocks(
            lambda t: f"<h4>{_html_text(t)}</h4>",
            _html_block,
            lambda tex, tag: "<div class='math notranslate nohighlight'>\\["
            + html.escape(tex + _qquad(tag)) + "\\]</div>",
        )
        return "\n".join([head, *body, "</div>"])

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
def _qquad(tag: str) -> str:
    """An equation's tag set off to its right, as Markdown and HTML display it (empty when none)."""
    return f" \\qquad {tag}" if tag else ""


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


def _range(x: NDArray[np.float64]) -> str:
    fin = x[np.isfinite(x)]
    if fin.size == 0:
        return "none"
    return f"${_num(float(fin.min()))}$ to ${_num(float(fin.max()))}$"
