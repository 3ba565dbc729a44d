"""Validation: certificates, cross-checks, the dual function and known-answer conformance problems.

Validation recomputes everything it certifies from the problem data and trusts nothing a backend
reports (DESIGN.md).
"""

from otmodel.validation.attraction import FlowCertificate, StepCertificate, certify_flow, certify_step, graph_w1
from otmodel.validation.certificate import Certificate, certify, dual_value, repair_point
from otmodel.validation.conformance import (
    ConformanceCase,
    ConformanceConfig,
    ConformanceReport,
    ConformanceResult,
    KnownPoint,
    cases,
    check_case,
    primal_residual,
    run_conformance,
)
from otmodel.validation.crosscheck import CrossCheck, RegularizationPath, cross_check, regularization_path
from otmodel.validation.relocation import RelocationCertificate, certify_relocation

__all__ = [
    "FlowCertificate",
    "StepCertificate",
    "certify_flow",
    "certify_step",
    "graph_w1",
    "Certificate",
    "ConformanceCase",
    "ConformanceConfig",
    "ConformanceReport",
    "ConformanceResult",
    "CrossCheck",
    "KnownPoint",
    "RegularizationPath",
    "cases",
    "certify",
    "check_case",
    "cross_check",
    "dual_value",
    "primal_residual",
    "regularization_path",
    "RelocationCertificate",
    "certify_relocation",
    "repair_point",
    "run_conformance",
]
