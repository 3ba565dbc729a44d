"""The conformance suite: run a backend over the known-answer catalogue and report, case by case.

The cases and the checks of an answer live in ``otmodel.validation.cases`` (one module per case
kind); this module runs them. ``run_conformance(name)`` uses what the backend declares about itself
(its ``conformance`` attribute, ``otmodel.backends.base.Conformance``): the case kinds it is checked
on, the options it is run with and its own tolerances. A backend that declares nothing, or a run in
which no case executed, does not pass (DESIGN.md, Testing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otmodel.certificates import primal_residual
from otmodel.errors import UnsupportedError
from otmodel.results import Status
from otmodel.validation.cases import (
    ConformanceCase,
    ConformanceConfig,
    KnownPoint,
    cases,
    check_answer,
    check_case,
    select,
)
from otmodel.validation.cases_wrong import accepted_wrong_answers
from otmodel.validation.pricing import dual_value

__all__ = [
    "ConformanceCase",
    "ConformanceConfig",
    "ConformanceReport",
    "ConformanceResult",
    "KnownPoint",
    "cases",
    "check_case",
    "dual_value",
    "primal_residual",
    "run_conformance",
    "select",
]


@dataclass(frozen=True)
class ConformanceResult:
    """One row of a report: a case, whether the backend passed it, and why not.

    Attributes
    ----------
    case : str
        The case's name.
    passed : bool
        Whether the backend's answer matched the known one (a skipped row counts as passed).
    reason : str
        ``"ok"``, why the case failed, or why it was skipped.
    expected_status : Status
        The case's known status (OPTIMAL, INFEASIBLE or UNBOUNDED).
    status : Status or None
        What the backend returned (``None`` when it raised or was not run).
    expected_objective : float
        The known optimum (NaN when there is none).
    objective : float
        The objective the backend reported.
    seconds : float
        Wall-clock time of the solve.
    skipped : bool, default False
        The case was not run (unsupported by the backend, excluded by tag, or in ``skip``).
    """

    case: str
    passed: bool
    reason: str
    expected_status: Status
    status: Status | None
    expected_objective: float
    objective: float
    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class ConformanceReport:
    """The result of ``run_conformance``: one ``ConformanceResult`` per case.

    ``passed`` is the verdict (false when no case ran), ``summary()`` the table.

    Attributes
    ----------
    backend : str
        The backend's registered name.
    rows : tuple of ConformanceResult
        One per case, in catalogue order.
    config : ConformanceConfig
        The configuration the run used.
    note : str, default ""
        A remark printed after the totals (e.g. that the backend declares no conformance).
    """

    backend: str
    rows: tuple[ConformanceResult, ...]
    config: ConformanceConfig
    note: str = ""

    @property
    def executed(self) -> int:
        """How many cases ran (were not skipped)."""
        return sum(1 for r in self.rows if not r.skipped)

    @property
    def passed(self) -> bool:
        """True when at least one case ran and no case failed (skipped cases do not fail).

        A run in which nothing executed -- no case selected, or every case skipped as unsupported
        -- proves nothing about the backend and does not pass (DESIGN.md, Testing).
        """
        return self.executed > 0 and all(r.passed for r in self.rows)

    @property
    def failures(self) -> list[ConformanceResult]:
        return [r for r in self.rows if not r.passed]

    @property
    def skipped(self) -> list[ConformanceResult]:
        return [r for r in self.rows if r.skipped]

    def summary(self) -> str:
        """A readable table, one line per case, then the totals."""
        w = max([len("case")] + [len(r.case) for r in self.rows])
        head = f"{'case':<{w}}  {'expected':<10}  {'got':<16}  {'objective':>14}  {'expected':>14}  {'time':>8}  result"
        lines = [f"conformance of backend {self.backend!r}", head, "-" * len(head)]
        for r in self.rows:
            got = r.status.value if r.status is not None else "-"
            res = "skipped" if r.skipped else "ok" if r.passed else "FAIL"
            if r.reason and not (r.passed and r.reason == "ok"):
                res += f": {r.reason}"
            lines.append(
                f"{r.case:<{w}}  {r.expected_status.value:<10}  {got:<16}  {r.objective:>14.8g}  "
                f"{r.expected_objective:>14.8g}  {r.seconds:>7.3f}s  {res}"
            )
        n_fail, n_skip = len(self.failures), len(self.skipped)
        lines.append("-" * len(head))
        lines.append(
            f"{len(self.rows) - n_fail - n_skip} passed, {n_fail} failed, {n_skip} skipped "
            f"of {len(self.rows)} cases: {'PASSED' if self.passed else 'FAILED'}"
            + ("" if self.executed else " (no case ran)")
            + (f" ({self.note})" if self.note else "")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()



def run_conformance(backend: str, config: ConformanceConfig | None = None) -> ConformanceReport:
    """Solve the conformance cases with ``backend`` and compare with the known answers.

    Without ``config``, the backend's own declaration is used
    (``ConformanceConfig.declared(backend.conformance)``): the case kinds it declares, its options
    and tolerances; a backend without a declaration gets a report that does not pass. Each case
    first checks that the configuration still rejects the case's planted wrong answers
    (``otmodel.validation.cases_wrong``: tolerances that accept one fail the case), then runs
    ``otmodel.solve(case.problem, backend=backend, **config.options)`` and checks

    * OPTIMAL cases: status (one of ``config.optimal_statuses``), objective, feasibility of the
      returned point, reported objective = objective of the returned point, flows, potentials up to
      a constant and cell masses where the case states them, and the dual value q(potentials) of
      eq. (4) equal to the optimum;
    * INFEASIBLE cases: status and a certificate that verifies from the problem data;
    * UNBOUNDED cases: status and a negative-cost cycle that verifies;
    * cases of a kind with its own answers (relocation, attraction steps): that kind's
      ``check_answer`` (``otmodel.validation.cases``).

    A case the backend declares unsupported (``UnsupportedError``) is skipped
    when ``config.allow_unsupported``; any other exception fails the case.

    Parameters
    ----------
    backend : str
        A registered backend name (``otmodel backends`` lists them).
    config : ConformanceConfig, optional
        Cases, options and tolerances; ``None`` uses the backend's own declaration.

    Returns
    -------
    ConformanceReport
        ``report.passed`` is the verdict (false when no case ran), ``report.summary()`` the table.

    Raises
    ------
    UnsupportedError
        ``backend`` is not a registered backend name.
    """
    from otmodel.backends import available, get, solve

    if backend not in available():
        get(backend)  # raises the UnsupportedError naming the backends there are (not a run of skipped cases)
    if config is None:
        declaration = getattr(get(backend), "conformance", None)
        if declaration is None:
            return ConformanceReport(backend, (), ConformanceConfig(cases=[]), note="the backend declares nothing")
        config = ConformanceConfig.declared(declaration)
    cfg = config
    selected: Sequence[ConformanceCase] = cfg.cases if cfg.cases is not None else cases(cfg.kinds)
    if cfg.kinds is not None:
        selected = [c for c in selected if c.kind in cfg.kinds]
    if cfg.names is not None:
        wanted = set(cfg.names)
        unknown = wanted - {c.name for c in selected}
        if unknown:
            raise ValueError(f"unknown conformance cases: {', '.join(sorted(unknown))}")
        selected = [c for c in selected if c.name in wanted]
    selected = [c for c in selected if not (c.tags & cfg.exclude_tags)]
    rows = []
    for case in selected:
        t0 = time.perf_counter()
        sol: Any = None
        skipped = False
        if case.name in cfg.skip:
            rows.append(
                ConformanceResult(
                    case.name, True, f"declared skip: {cfg.skip[case.name]}", case.expected_status, None,
                    case.expected_objective, math.nan, 0.0, skipped=True,
                )
            )
            continue
        loose = accepted_wrong_answers(case, cfg)
        if loose:  # tolerances that pass a planted wrong answer would prove nothing about the backend
            rows.append(
                ConformanceResult(
                    case.name, False, f"the tolerances accept planted wrong answers: {'; '.join(loose)}",
                    case.expected_status, None, case.expected_objective, math.nan, time.perf_counter() - t0,
                )
            )
            continue
        try:
            sol = solve(case.problem, backend=backend, **cfg.options)
        except UnsupportedError as exc:
            errs = [f"unsupported: {exc}"]
            skipped = cfg.allow_unsupported
        except Exception as exc:  # noqa: BLE001 -- a conformance run reports every failure as a row
            errs = [f"raised {type(exc).__name__}: {exc}"]
        else:
            try:
                errs = check_answer(case, sol, cfg)
            except Exception as exc:  # noqa: BLE001
                errs = [f"checking the solution raised {type(exc).__name__}: {exc}"]
        seconds = time.perf_counter() - t0
        rows.append(
            ConformanceResult(
                case=case.name,
                passed=skipped or not errs,
                reason="; ".join(errs) if errs else "ok",
                expected_status=case.expected_status,
                status=getattr(sol, "status", None),
                expected_objective=case.expected_objective,
                objective=float(getattr(sol, "objective", math.nan)),
                seconds=seconds,
                skipped=skipped,
            )
        )
    return ConformanceReport(backend, tuple(rows), cfg)
