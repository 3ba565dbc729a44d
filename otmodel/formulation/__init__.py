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

The package: ``document`` (the ``Formulation`` type and its rendering), one module per problem
family (``flow``, ``attraction``, ``relocation``), ``explanation`` (``explain``); this module picks the
family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.formulation.attraction import _step_dual, _step_parts
from otmodel.formulation.document import (
    _CITE_ARQUE,
    _CITE_LAURENTIN,
    _CITE_MOKHTARI,
    MAX_LISTED_ARCS,
    PARTS,
    Equation,
    Formulation,
    Part,
    _pick,
)
from otmodel.formulation.explanation import explain
from otmodel.formulation.flow import _flow_dual, _flow_parts, _transport_parts
from otmodel.formulation.relocation import _relocation_parts

__all__ = ["Equation", "Part", "Formulation", "formulation", "explain", "PARTS", "MAX_LISTED_ARCS"]


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
