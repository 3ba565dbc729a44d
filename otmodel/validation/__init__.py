"""Validation: known-answer conformance problems, the dual function, and (later) certify/cross_check.

Validation recomputes everything it certifies from the problem data and trusts nothing a backend
reports (DESIGN.md).
"""

from otmodel.validation.conformance import (
    ConformanceCase,
    ConformanceConfig,
    ConformanceReport,
    ConformanceResult,
    KnownPoint,
    cases,
    check_case,
    dual_value,
    primal_residual,
    run_conformance,
)

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
]
