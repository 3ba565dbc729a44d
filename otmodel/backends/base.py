"""The backend protocol and helpers shared by backends."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from otmodel.certificates import no_point_solution
from otmodel.errors import UnsupportedError
from otmodel.model.problems import FlowProblem
from otmodel.results import PointStatus, Solution, Status

__all__ = [
    "Backend", "Conformance", "Tolerances", "CASE_KINDS", "Timer", "no_point_solution", "check_supported", "flag_unverified",
]


#: The kinds of known-answer cases of the conformance catalogue (``otmodel.validation.cases``):
#: flow problems, spatial flow problems, graph transport problems (Mokhtari et al.), relocation
#: problems, and single steps of an attraction flow.
CASE_KINDS = ("flow", "spatial", "graph", "relocation", "attraction-step")

#: What a backend's answers can be checked for: ``"optimal"`` (status, objective, point, duals and
#: certificates against the known answer) or ``"feasible"`` (a heuristic: its point is feasible,
#: its reported objective is that of its point, and no better than the proven optimum).
CLAIMS = ("optimal", "feasible")


@dataclass(frozen=True, kw_only=True)
class Tolerances:
    """How closely the conformance suite judges an answer against a known one.

    Attributes
    ----------
    claims : ``"optimal"`` (exact and iterative solvers: judged against the known optimum) or
        ``"feasible"`` (heuristics: a feasible point no better than the optimum, nothing more)
    exclude_tags : cases with any of these tags are outside what the method solves (e.g.
        ``{"linear"}`` for a method that needs strictly convex arc costs)
    optimal_statuses : statuses accepted where the answer is OPTIMAL (an iterative backend never
        says OPTIMAL on its own: e.g. CONVERGED)
    rtol, atol : objective tolerance, ``|f - f*| <= atol + rtol * max(1, |f*|)``; also for q(psi)
    point_rtol, point_atol : flows, potentials (up to a constant) and cell masses, relative to the
        largest expected magnitude (at least 1)
    feas_tol : largest primal residual of a returned point, relative to the mass scale
    price_tol : round-off forgiven on linear arcs with an infinite bound in q(psi), relative to the
        largest linear cost (see ``otmodel.validation.dual_value``)
    check_potentials, check_dual : whether to compare potentials and q(psi) (off for a backend
        that returns no duals)
    """

    claims: str = "optimal"
    exclude_tags: frozenset[str] = frozenset()
    optimal_statuses: tuple[Status, ...] = (Status.OPTIMAL,)
    rtol: float = 1e-6
    atol: float = 1e-7
    point_rtol: float = 1e-5
    point_atol: float = 1e-6
    feas_tol: float = 1e-6
    price_tol: float = 1e-7
    check_potentials: bool = True
    check_dual: bool = True

    def __post_init__(self) -> None:
        if self.claims not in CLAIMS:
            raise ValueError(f"claims={self.claims!r} must be one of {CLAIMS}")


@dataclass(frozen=True, kw_only=True)
class Conformance(Tolerances):
    """What a backend declares about itself to the conformance suite, and how closely it is judged.

    Every registered backend carries one as its ``conformance`` attribute; one parametrized test runs
    the suite over ``otmodel.backends.available()`` with each backend's own declaration (a backend
    that declares nothing, or whose run executes no case, fails). The tolerances are those of
    ``Tolerances``; besides them:

    Attributes
    ----------
    kinds : the case kinds it is checked on, among ``CASE_KINDS``
    options : passed to ``solve`` for every case (``tol``, ``max_iter``, ...)
    allow_unsupported : a case the backend refuses (``UnsupportedError``) is skipped (True) or failed
        (False: the declaration says exactly what it solves)
    skip : case name -> why it is not run (a measured limit of the method, stated, never silent:
        the report lists it as skipped with this reason)
    """

    kinds: frozenset[str]
    options: Mapping[str, Any] = field(default_factory=dict)
    allow_unsupported: bool = False
    skip: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.kinds) - set(CASE_KINDS)
        if unknown:
            raise ValueError(f"unknown conformance kinds {sorted(unknown)}; known: {', '.join(CASE_KINDS)}")


@runtime_checkable
class Backend(Protocol):
    """What every backend provides.

    ``name`` is the registry key; ``capabilities`` a set of words among ``"flow"``, ``"spatial"``,
    ``"linear"``, ``"quadratic"``, ``"exact"``, ``"iterative"``, ``"heuristic"``, ``"relocation"``,
    ``"vertex"`` (offers ``simplex_vertex(problem)``, a basic solution the verified solve falls back on);
    ``conformance`` what the conformance suite checks it on (``Conformance``);
    ``supports(problem)`` returns ``None`` when the backend can solve the problem, else the reason
    it cannot; ``solve`` returns a ``Solution`` (or raises ``UnsupportedError``).
    """

    name: str
    capabilities: frozenset[str]
    conformance: Conformance

    def supports(self, problem: FlowProblem) -> str | None: ...

    def solve(self, problem: FlowProblem, **options: Any) -> Solution: ...


def check_supported(backend: Backend, problem: FlowProblem) -> None:
    reason = backend.supports(problem)
    if reason is not None:
        raise UnsupportedError(f"backend {backend.name!r} cannot solve {problem!r}: {reason}")


class Timer:
    """Accumulates named wall-clock durations: ``with timer('solve'): ...``."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t

    def done(self) -> dict[str, float]:
        out = dict(self.times)
        out["total"] = time.perf_counter() - self.t0
        return out


def flag_unverified(sol: Solution, verdict: Any) -> Solution:
    """``sol`` as it is when ``verdict`` (a node-by-node check, ``_checked.check_point``) passed or
    was not taken; else NUMERICAL_ERROR with an INFEASIBLE_POINT, the failing node in
    ``info["failing_node"]`` and the verdict in the message (a model a user may have changed is
    reported, not repaired)."""
    if verdict is None or verdict.ok:
        return sol
    return dataclasses.replace(
        sol,
        status=Status.NUMERICAL_ERROR,
        point_status=PointStatus.INFEASIBLE_POINT,
        message=f"{sol.message}; {verdict.describe()}",
        info={**sol.info, "failing_node": verdict.worst},
    )
