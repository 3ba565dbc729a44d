"""Backends: the registry and ``solve``.

Exact backends: ``network`` (OR-Tools min-cost flow), ``highs`` (highspy, from sparse matrices),
``cvxpy`` (Clarabel by default), ``pyomo`` (Pyomo with HiGHS). Iterative backends, one per source
paper, and the relocation backends register here too.

A backend is a class with ``name``, ``capabilities``, ``conformance`` (what the conformance suite
checks it on: ``base.Conformance``), ``supports(problem)`` and ``solve(problem, **options)``
(``base.Backend``). Adding one touches its own file and one call, ``register(name, "module:Class")``
(or an instance); ``unregister(name)`` removes it. tests/test_external_backend.py does exactly that
from outside the package and passes the conformance suite.

>>> import otmodel
>>> otmodel.backends.available()                     # doctest: +SKIP
['admm', 'cvxpy', 'dual-ascent', 'dykstra', 'highs', 'network', 'pyomo', 'relocation', ...]
"""

from __future__ import annotations

import importlib
from typing import Any, overload

from otmodel.backends._options import check_common
from otmodel.backends.base import Backend, Conformance, check_supported
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.attraction import AttractionProblem, AttractionStep
from otmodel.model.problems import FlowProblem
from otmodel.results import AttractionFlow, Solution, StepResult

__all__ = [
    "available", "get", "solve", "default_backend", "default_reason", "register", "unregister", "Backend",
    "Conformance", "exact_backends",
]

# name -> "module:Class"; imported lazily so that optional dependencies load only when used.
_REGISTRY: dict[str, str] = {
    "highs": "otmodel.backends.highs:HighsBackend",
    "cvxpy": "otmodel.backends.cvxpy:CvxpyBackend",
    "pyomo": "otmodel.backends.pyomo:PyomoBackend",
    "network": "otmodel.backends.network:NetworkBackend",
    "dual-ascent": "otmodel.backends.dual_ascent:DualAscentBackend",
    "admm": "otmodel.backends.admm:AdmmBackend",
    "dykstra": "otmodel.backends.dykstra:DykstraBackend",
    "attraction-lp": "otmodel.backends.attraction_lp:AttractionLPBackend",
    "attraction-flow": "otmodel.backends.attraction_flow:AttractionFlowBackend",
    "relocation": "otmodel.backends.relocation:RelocationBackend",
    "relocation-greedy": "otmodel.backends.relocation_heuristics:GreedyRelocationBackend",
    "relocation-bisection": "otmodel.backends.relocation_heuristics:BisectionRelocationBackend",
}
_INSTANCES: dict[str, Backend] = {}


def register(name: str, target: str | Backend) -> None:
    """Register a backend under ``name``: a class given as ``"module:Class"`` (imported when first
    used), or a backend instance. Replaces any backend of that name; ``unregister`` removes it.

    The backend provides ``name``, ``capabilities``, ``conformance`` (what the conformance suite
    checks it on), ``supports`` and ``solve`` (``otmodel.backends.base.Backend``).
    """
    if not isinstance(name, str) or not name:
        raise InvalidDataError(f"a backend name must be a non-empty string, got {name!r}")
    _INSTANCES.pop(name, None)
    if isinstance(target, str):
        if target.count(":") != 1:
            raise InvalidDataError(f"backend {name!r}: target {target!r} must read 'module:Class'")
        _REGISTRY[name] = target
    else:
        _REGISTRY[name] = f"<instance of {type(target).__name__}>"
        _INSTANCES[name] = target


def unregister(name: str) -> None:
    """Remove the backend registered under ``name`` (``UnsupportedError`` if there is none)."""
    if name not in _REGISTRY:
        raise UnsupportedError(f"unknown backend {name!r}; available: {', '.join(available())}")
    del _REGISTRY[name]
    _INSTANCES.pop(name, None)


def available() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def exact_backends() -> list[str]:
    """The registered exact solvers of flow problems (capabilities ``"exact"`` and ``"flow"``), in
    registration order; a backend whose module cannot be imported here (a missing optional
    dependency) is left out."""
    out = []
    for name in list(_REGISTRY):
        try:
            caps = get(name).capabilities
        except ImportError:
            continue
        if {"exact", "flow"} <= caps:
            out.append(name)
    return out


def get(name: str) -> Backend:
    """The backend registered under ``name``."""
    if name not in _REGISTRY:
        raise UnsupportedError(f"unknown backend {name!r}; available: {', '.join(available())}")
    if name not in _INSTANCES:
        module, cls = _REGISTRY[name].split(":")
        _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[name]


#: Quadratic arcs up to which ``network`` is the default for quadratic costs (its refinement
#: handles the breakpoints of each quadratic arc in a Python loop; measured on the paper's 8 arcs).
NETWORK_QUADRATIC_ARCS = 1000


def default_backend(problem: FlowProblem | AttractionProblem | AttractionStep) -> str:
    """The backend ``solve`` uses when none is named.

    See ``default_reason`` for why. Chosen by measurement (benchmarks/bench_network.py, same
    run): ``network`` (OR-Tools min-cost flow, certified on the float data) for linear problems,
    8-14x faster than ``highs`` end to end on the synthetic LP at 50-100 and faster on the grid
    MCF; and for quadratic arc costs on at most ``NETWORK_QUADRATIC_ARCS`` arcs, 3-9x faster
    than cvxpy/Clarabel on the synthetic QP. Larger quadratic problems: cvxpy (Clarabel), as
    measured in benchmarks/bench_exact.py.
    """
    return default_reason(problem)[0]


def default_reason(problem: FlowProblem | AttractionProblem | AttractionStep) -> tuple[str, str]:
    """``(backend, why)``: the default backend of ``problem`` and the measurement behind it."""
    if isinstance(problem, (AttractionProblem, AttractionStep)):
        return "dykstra", "an attraction flow: entropic steps by Dykstra's projections (11)-(15), as Algorithm 1 states"
    if getattr(problem, "kind", None) == "relocation":
        return "relocation", "a relocation problem: its own backend (column generation over bins, exact pricing)"
    if problem.is_linear:
        return "network", (
            "linear arc costs: a min-cost flow, solved by OR-Tools and certified on the float data "
            "(benchmarks/bench_network.py: 8-14x faster than highs end to end)"
        )
    n_quad = int((problem.costs.a > 0).sum())
    if n_quad <= NETWORK_QUADRATIC_ARCS:
        return "network", (
            f"quadratic costs on {n_quad} arcs (<= {NETWORK_QUADRATIC_ARCS}): piecewise-linear "
            "refinement with linear assignment (benchmarks/bench_network.py: 3-9x faster than cvxpy)"
        )
    return "cvxpy", (
        f"quadratic costs on {n_quad} arcs (> {NETWORK_QUADRATIC_ARCS}): Clarabel's interior point "
        "(benchmarks/bench_exact.py)"
    )


@overload
def solve(problem: AttractionProblem, backend: str | None = None, **options: Any) -> AttractionFlow: ...
@overload
def solve(problem: AttractionStep, backend: str | None = None, **options: Any) -> StepResult: ...
@overload
def solve(problem: FlowProblem, backend: str | None = None, **options: Any) -> Solution: ...
@overload
def solve(problem: Any, backend: str | None = None, **options: Any) -> Any: ...
def solve(problem: Any, backend: str | None = None, **options: Any) -> Any:
    """Solve ``problem`` with ``backend`` (default: ``default_backend``).

    An ``AttractionProblem`` runs Algorithm 1 (``otmodel.attraction_flow``) and an ``AttractionStep``
    one step, each with the step backend ``backend`` names (any backend declaring
    ``"attraction-step"``: ``"dykstra"``, ``"attraction-lp"`` or its engines ``"highs"``, ``"cvxpy"``;
    ``"attraction-flow"`` itself takes the step backend as its option ``solver``).

    Options shared by the backends that take them: ``max_iter``, ``tol`` (what it measures differs:
    an exact solver's optimality tolerance, an iterative method's stopping rule), ``time_limit``
    (seconds), ``verbose``, ``progress``, ``callback``, ``seed``; an option a backend does not take is
    refused with the list of those it does. The table per backend is the documentation page
    "Backend options" (``docs/backend-options.md``).

    Raises
    ------
    UnsupportedError
        Unknown backend, a problem it cannot solve, or an option it does not take (the message
        lists those it does).
    InvalidDataError
        An option of the wrong type or out of range (``tol="abc"``, ``max_iter=-1``), naming it.
    """
    if isinstance(problem, (AttractionProblem, AttractionStep)):
        # Algorithm 1 and its steps: the registered driver finds the step backend by capability (its
        # solve returns an AttractionFlow or a StepResult, not the Solution of the Backend protocol)
        driver: Any = get("attraction-flow")
        if backend is not None and backend != driver.name:
            options = {"backend": backend, **options}
        return driver.solve(problem, **options)
    if not isinstance(problem, FlowProblem) and getattr(problem, "kind", None) != "relocation":
        raise UnsupportedError(
            "solve() expects a FlowProblem, SpatialFlowProblem, GraphTransportProblem, RelocationProblem, "
            f"AttractionProblem or AttractionStep, got {type(problem).__name__}"
        )
    name = backend or default_backend(problem)
    b = get(name)
    if getattr(problem, "kind", None) == "relocation" and "relocation" not in b.capabilities:
        raise UnsupportedError(
            f"backend {name!r} does not solve a RelocationProblem; use a 'relocation' backend, or "
            "problem.to_spatial_flow() for the exact flow backends"
        )
    # the options every backend names alike are checked here, once, before anything is built;
    # each backend checks the rest (and refuses a name it does not take, listing those it does)
    check_common(name, options)
    check_supported(b, problem)
    return b.solve(problem, **options)
