"""Wasserstein attraction flows (Arqué et al.): the names this module has always offered.

Algorithm 1 lives in ``otmodel.backends.attraction_flow`` (over any registered step backend) and
its results in ``otmodel.results``; ``otmodel.attraction_flow`` and ``otmodel.solve`` are the
public entry points. Kept so that ``from otmodel.attraction import attraction_flow`` still works.
"""

from __future__ import annotations

from otmodel.backends.attraction_flow import attraction_flow, solve_step
from otmodel.results import AttractionFlow, StepResult

__all__ = ["StepResult", "AttractionFlow", "attraction_flow", "solve_step"]
