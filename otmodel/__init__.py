"""otmodel: a modeling language for optimal transport on networks.

Describe a network with supplies, arcs with convex costs and bounds, and a spatial demand to be
assigned to endpoint nodes; solve it exactly (HiGHS, cvxpy, Pyomo) or with the distributed
iterative algorithms of the source papers; certify what an iterative method returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from otmodel import backends, errors, formulation, validation
from otmodel._solve import solve
from otmodel.backends.admm import Departure, SupplyChange
from otmodel.backends.attraction_flow import attraction_flow, solve_step
from otmodel.backends.newton import Newton
from otmodel.backends.steps import Constant, Curvature, Diminishing
from otmodel.errors import (
    AmbiguousArcError,
    DuplicateNodeError,
    InvalidBoundsError,
    InvalidDataError,
    ModelFileError,
    NonConvexError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
    UnsupportedError,
)
from otmodel.model import (
    Euclidean,
    FlowProblem,
    Gaussian,
    Geodesic,
    Grid,
    Linear,
    Manhattan,
    Matrix,
    Network,
    Points,
    Quadratic,
    SpatialFlowProblem,
    SquaredEuclidean,
    TruncatedGaussian,
    Uniform,
    graphs,
)
from otmodel.model.attraction import (
    AttractionProblem,
    AttractionStep,
    Schedule,
    StepInfeasibleWarning,
    graph_family,
)
from otmodel.model.io import save
from otmodel.model.relocation import RelocationProblem
from otmodel.model.sdot import SemiDiscreteProblem
from otmodel.model.transport import GraphTransportProblem
from otmodel.results import (
    AttractionFlow,
    InfeasibilityCertificate,
    PointStatus,
    Solution,
    Status,
    StepResult,
    Trace,
    UnboundedCertificate,
)
from otmodel.validation.attraction import FlowCertificate, StepCertificate, certify_flow, certify_step, graph_w1

__version__ = "0.1.0"


def load(path: str | Path) -> Any:
    """Read a problem from a YAML or JSON model file (see ``docs/model-files.md`` for the schema).

    ``otmodel.model.io.load`` with its default size limit (1 GiB); it also takes ``max_bytes``.

    Parameters
    ----------
    path : str or Path
        The model file: ``.yaml``/``.yml`` or ``.json`` (the extension selects the format). It
        must be a regular file; a directory, FIFO or device is refused before anything is read.

    Returns
    -------
    FlowProblem, SpatialFlowProblem, GraphTransportProblem, AttractionProblem or RelocationProblem
        As the file's ``kind`` says; a saved problem loads back as its own kind.

    Raises
    ------
    ModelFileError
        A malformed file; every error found is reported at once, each prefixed with ``path`` and
        its place in the file (``arcs[1].uper: unknown key; did you mean 'upper'?``).
    OTModelError
        A model error found while building (``UnbalancedError``, ``InvalidBoundsError``, ...), with
        the file path and place prefixed to its message.
    OSError
        The file cannot be opened.
    """
    from otmodel.model.io import load as _load

    return _load(path)


# The model layer offers ``problem.to_cvxpy()`` / ``problem.to_pyomo()`` by calling these: the
# backend module is imported here, at the top, so that the model never imports a backend.
def to_cvxpy(problem: Any) -> Any:
    """The problem compiled to cvxpy: a ``CvxpyModel`` whose ``.cvx`` is the ``cvxpy.Problem``, with named variables.

    See ``otmodel.backends.cvxpy.CvxpyModel``; add constraints in problem units, then ``solve()``.

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem to compile (``problem.to_cvxpy()`` calls this).

    Returns
    -------
    CvxpyModel
    """
    from otmodel.backends.cvxpy import to_cvxpy as _to_cvxpy

    return _to_cvxpy(problem)


def to_pyomo(problem: Any, scale: bool = True) -> Any:
    """The problem as a ``PyomoModel`` whose ``.model`` is the Pyomo ``ConcreteModel``.

    See ``otmodel.backends.pyomo.to_pyomo``.

    Parameters
    ----------
    problem : FlowProblem or SpatialFlowProblem
        The problem to build (``problem.to_pyomo()`` calls this).
    scale : bool
        ``False`` builds the model in problem units (no scaling of masses and costs).

    Returns
    -------
    PyomoModel
    """
    from otmodel.backends.pyomo import to_pyomo as _to_pyomo

    return _to_pyomo(problem, scale=scale)


__all__ = [
    "AmbiguousArcError",
    "formulation",
    "AttractionFlow",
    "AttractionProblem",
    "AttractionStep",
    "Constant",
    "Curvature",
    "Departure",
    "Diminishing",
    "DuplicateNodeError",
    "Euclidean",
    "FlowCertificate",
    "FlowProblem",
    "Gaussian",
    "Geodesic",
    "GraphTransportProblem",
    "Grid",
    "InfeasibilityCertificate",
    "InvalidBoundsError",
    "InvalidDataError",
    "Linear",
    "Manhattan",
    "Matrix",
    "ModelFileError",
    "Newton",
    "Network",
    "NonConvexError",
    "OTModelError",
    "PointStatus",
    "Points",
    "Quadratic",
    "RelocationProblem",
    "Schedule",
    "SemiDiscreteProblem",
    "Solution",
    "SpatialFlowProblem",
    "SquaredEuclidean",
    "Status",
    "StepCertificate",
    "StepInfeasibleWarning",
    "StepResult",
    "SupplyChange",
    "Trace",
    "TruncatedGaussian",
    "UnbalancedError",
    "UnboundedCertificate",
    "Uniform",
    "UnknownNodeError",
    "UnreachableError",
    "UnsupportedError",
    "attraction_flow",
    "backends",
    "certify_flow",
    "certify_step",
    "errors",
    "graph_family",
    "graph_w1",
    "graphs",
    "load",
    "save",
    "solve",
    "solve_step",
    "to_cvxpy",
    "to_pyomo",
    "validation",
    "__version__",
]
