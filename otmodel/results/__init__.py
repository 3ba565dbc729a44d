"""Results: statuses on two axes, the one ``Solution`` type of the flow problems, the step and flow
results of attraction flows, the relocation result, traces.

A result says *why its backend stopped* (``Status``) and *what the returned point is*
(``PointStatus``). An iterative backend never claims ``OPTIMAL`` on its own say-so; it reports
why it stopped and ``otmodel.validation`` says how good the point is.
"""

from __future__ import annotations

from otmodel.results.attraction import AttractionFlow, StepResult, abridged
from otmodel.results.relocation import RelocationResult
from otmodel.results.solution import (
    InfeasibilityCertificate,
    PointStatus,
    Solution,
    Status,
    Trace,
    UnboundedCertificate,
)

__all__ = [
    "Status",
    "PointStatus",
    "Solution",
    "Trace",
    "InfeasibilityCertificate",
    "UnboundedCertificate",
    "StepResult",
    "AttractionFlow",
    "RelocationResult",
    "abridged",
]
