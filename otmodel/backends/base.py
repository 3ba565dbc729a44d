"""The backend protocol and helpers shared by backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

from otmodel.certificates import no_point_solution
from otmodel.errors import UnsupportedError
from otmodel.model.problems import FlowProblem
from otmodel.results import Solution

__all__ = ["Backend", "Timer", "no_point_solution", "check_supported"]


@runtime_checkable
class Backend(Protocol):
    """What every backend provides.

    ``name`` is the registry key; ``capabilities`` a set of words among ``"flow"``, ``"spatial"``,
    ``"linear"``, ``"quadratic"``, ``"exact"``, ``"iterative"``; ``supports(problem)`` returns
    ``None`` when the backend can solve the problem, else the reason it cannot; ``solve`` returns
    a ``Solution`` (or raises ``UnsupportedError``).
    """

    name: str
    capabilities: frozenset[str]

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
