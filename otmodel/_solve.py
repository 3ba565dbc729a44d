r"""``otmodel.solve``: the registry's ``solve``, plus a stop on a certified gap for iterative runs.

This lives at the package root (the facade) because it joins two layers that must not know each
other: the backends iterate, the validation certifies. With ``gap_tol``, every ``gap_every``
iterations the current potentials are certified from the problem data alone (``certify(problem,
potentials=psi)``: the proven dual bound `q(\psi)` of eq. (4) and the objective of the repaired
feasible point), and the run stops as soon as the relative gap is at most ``gap_tol``. What users care
about is that gap, not the change of the iterate between two steps.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import otmodel.backends as backends
from otmodel.errors import InvalidDataError
from otmodel.results import Status

__all__ = ["solve"]

#: Iterations between two gap checks when ``gap_every`` is not given.
GAP_EVERY = 10
#: Backends whose callback state carries the potentials (``state.x``): the ones a gap stop serves.
POTENTIAL_ITERATES = ("dual-ascent",)


def solve(
    problem: Any,
    backend: str | None = None,
    *,
    gap_tol: float | None = None,
    gap_every: int | None = None,
    **options: Any,
) -> Any:
    r"""Solve ``problem`` with ``backend`` (default: the fastest measured for its kind).

    Parameters
    ----------
    problem : FlowProblem, SpatialFlowProblem, GraphTransportProblem, RelocationProblem, ...
    backend : str, optional
        A registered backend (``otmodel.backends.available()``); default
        ``otmodel.backends.default_backend(problem)``.
    gap_tol : float, optional
        Iterative backends whose iterate is the potentials (``dual-ascent``): stop as soon as
        ``certify`` proves a relative gap `(\text{upper} - q(\psi)) / |f^*| \le` ``gap_tol``. The
        returned solution then has status ``CONVERGED``, ``info["stopped_by"]`` saying so and the
        certificate in ``info["certificate"]`` (it vouches for its repaired point). A backend with a
        gap rule of its own (``relocation``) receives ``gap_tol`` as its option; the others refuse it.
    gap_every : int, optional
        Iterations between two gap checks (default 10). Each check costs one certificate: a pass over
        the demand and the repair's exact sub-solve (``benchmarks/bench_gap_stop.py`` measures it
        against an iteration).
    **options
        The backend's own options (``max_iter``, ``tol``, ``step_size``, ``callback``, ``verbose``, ...).

    Returns
    -------
    Solution
        For a flow, spatial or graph transport problem; an ``AttractionProblem`` gives an
        ``AttractionFlow``, an ``AttractionStep`` a ``StepResult``, a ``RelocationProblem`` a
        ``RelocationResult`` (each with the same vocabulary: status, potentials, timings).

    Raises
    ------
    UnsupportedError
        Unknown backend, a problem it cannot solve, or an option it does not take (``gap_tol``
        included, for an exact backend).
    InvalidDataError
        An option of the wrong type or out of range, naming it.
    """
    name = backend or backends.default_backend(problem)
    if gap_tol is None or name not in POTENTIAL_ITERATES:
        # a backend with a gap rule of its own (relocation: its own bound) takes gap_tol itself; the
        # others refuse it with the list of the options they take
        extra = {k: v for k, v in (("gap_tol", gap_tol), ("gap_every", gap_every)) if v is not None}
        return backends.solve(problem, backend, **extra, **options)
    try:
        tol = float(gap_tol)
    except (TypeError, ValueError):
        raise InvalidDataError(f"gap_tol = {gap_tol!r} is not a number") from None
    if not (math.isfinite(tol) and tol > 0):
        raise InvalidDataError(f"gap_tol = {gap_tol!r} must be a finite number > 0")
    every = GAP_EVERY if gap_every is None else gap_every
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidDataError(f"gap_every = {gap_every!r} must be an integer >= 1")
    from otmodel.validation import certify

    user_callback = options.pop("callback", None)
    found: dict[str, Any] = {}

    def check(k: int, state: Any) -> bool:
        if user_callback is not None and user_callback(k, state):
            return True
        if k and k % every == 0:
            cert = certify(problem, potentials=state.x, rtol=tol)
            found["checks"] = found.get("checks", 0) + 1
            if cert.certified:
                found["certificate"], found["k"] = cert, k
                return True
        return False

    solution = backends.solve(problem, name, callback=check, **options)
    info = {**solution.info, "gap_checks": found.get("checks", 0)}
    if "certificate" not in found:
        return dataclasses.replace(solution, info=info)
    cert = found["certificate"]
    info.update(certificate=cert, stopped_by=f"certified gap <= gap_tol {tol:g}")
    return dataclasses.replace(
        solution,
        status=Status.CONVERGED,
        info=info,
        message=f"certified relative gap {cert.relative_gap:.3g} <= gap_tol {tol:g} after {found['k']} iterations "
        f"(gap checked every {every}); the certificate vouches for its repaired point",
    )
