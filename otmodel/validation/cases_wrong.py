"""Planted wrong answers: for each known-answer case, answers that ``check_answer`` must reject.

The catalogue is only as good as the checks run against it. ``wrong_answers(case)`` plants, next to
the case's right answer (``right_answer``), answers that are wrong in one way each -- flows moved off
the optimum, potentials of the wrong sign, an objective that is not the point's, a wrong status, a
certificate that proves nothing, an over-full relocation bin -- so that a test can show that every
one of them is caught, and that the right answer is not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.certificates import no_point_solution, primal_residual
from otmodel.results import InfeasibilityCertificate, PointStatus, Solution, Status, UnboundedCertificate
from otmodel.results.relocation import RelocationResult
from otmodel.validation.cases import ConformanceCase, ConformanceConfig, KnownPoint, check_answer, kind_module
from otmodel.validation.pricing import dual_value

__all__ = ["WrongAnswer", "right_answer", "wrong_answers", "accepted_wrong_answers"]


@dataclass(frozen=True)
class WrongAnswer:
    """An answer to a case that is wrong in one way (``what``).

    ``needs`` says which checks catch it: ``"any"`` (every configuration), ``"optimal"`` (only a
    run judging optimality, not a heuristic's ``claims="feasible"``), ``"duals"`` (only a run that
    also checks the dual value of the returned potentials or prices).
    """

    what: str
    answer: Any
    needs: str = "any"

    def applies(self, cfg: ConformanceConfig) -> bool:
        """Whether a run configured by ``cfg`` must reject this answer."""
        if self.needs == "any":
            return True
        optimal = cfg.claims == "optimal"
        return optimal if self.needs == "optimal" else optimal and cfg.check_dual


def accepted_wrong_answers(case: ConformanceCase, cfg: ConformanceConfig) -> list[str]:
    """The planted wrong answers of ``case`` that ``cfg`` should reject but accepts: tolerances so
    loose that they would pass a wrong answer make the run fail (``run_conformance``)."""
    return [w.what for w in wrong_answers(case) if w.applies(cfg) and not check_answer(case, w.answer, cfg)]


def right_answer(case: ConformanceCase) -> Any:
    """The answer a correct backend returns for ``case`` (built from its witness)."""
    w, p = case.witness, case.problem
    own = getattr(kind_module(case.kind), "right_answer", None)
    if own is not None:  # a kind whose answers are not flow Solutions plants its own
        return own(case)
    if case.kind == "relocation":
        return _relocation(case, w.bin_of, w.potentials, Status.OPTIMAL)
    if case.expected_status is not Status.OPTIMAL:
        return no_point_solution(p, case.expected_status, PointStatus.CERTIFICATE, "planted", "planted", {}, certificate=w)
    assert isinstance(w, KnownPoint)
    return _flow(case, w.flows, w.potentials)


def wrong_answers(case: ConformanceCase) -> list[WrongAnswer]:
    """Wrong answers to ``case``, each of which ``check_answer`` must reject (where it ``applies``).

    A kind module may plant its own (a ``wrong_answers(case)`` function returning ``WrongAnswer``s);
    flow, spatial, graph and relocation cases are planted here; any other kind has none.
    """
    own = getattr(kind_module(case.kind), "wrong_answers", None)
    if own is not None:
        # a kind module may give (what, answer) pairs: wrong for every configuration
        return [w if isinstance(w, WrongAnswer) else WrongAnswer(*w) for w in own(case)]
    if case.kind == "relocation":
        return _wrong_relocation(case)
    if case.kind not in ("flow", "spatial", "graph"):
        return []  # a kind that plants none (its module defines no wrong_answers)
    return [WrongAnswer(*w) for w in _wrong_flow(case)]


def _wrong_flow(case: ConformanceCase) -> list[tuple[str, Any] | tuple[str, Any, str]]:
    p, w = case.problem, case.witness
    if case.expected_status is Status.INFEASIBLE:
        bogus = InfeasibilityCertificate(tuple(p.node_names), 1.0, 0.0, "out")
        return [
            ("a certificate naming every node (its cut carries everything)", _no_point(case, Status.INFEASIBLE, bogus)),
            ("infeasible reported as unbounded", _no_point(case, Status.UNBOUNDED, None)),
            ("infeasible without a certificate", _no_point(case, Status.INFEASIBLE, None)),
        ]
    if case.expected_status is Status.UNBOUNDED:
        assert isinstance(w, UnboundedCertificate)
        reversed_cycle = UnboundedCertificate(
            tuple(reversed(w.nodes)), tuple((a, -d) for a, d in reversed(w.arcs)), -w.cost
        )
        return [
            ("the cycle walked backwards (positive cost)", _no_point(case, Status.UNBOUNDED, reversed_cycle)),
            ("unbounded reported as infeasible", _no_point(case, Status.INFEASIBLE, None)),
        ]
    assert isinstance(w, KnownPoint)
    flows = w.flows + 0.01 * (-1.0) ** np.arange(w.flows.size)
    right = _flow(case, w.flows, w.potentials)
    out: list[tuple[str, Any] | tuple[str, Any, str]] = [
        # a feasible move (parallel arcs) is wrong only for a run that judges optimality
        ("flows moved by 0.01 (objective recomputed from the moved point)", _flow(case, flows, w.potentials),
         "optimal" if primal_residual(p, flows, w.assignment) <= 1e-12 else "any"),
        ("the objective reported 1% above the point's", dataclasses.replace(right, objective=right.objective * 1.01 + 0.01)),
        ("status ITERATION_LIMIT", dataclasses.replace(right, status=Status.ITERATION_LIMIT)),
        ("status INFEASIBLE for a feasible problem", _no_point(case, Status.INFEASIBLE, None)),
    ]
    if abs(dual_value(p, -w.potentials) - case.expected_objective) > 1e-6 * max(1.0, abs(case.expected_objective)):
        out.append(("potentials of the wrong sign", _flow(case, w.flows, -w.potentials), "duals"))
    if w.assignment is not None:
        plan = sp.csr_matrix(w.assignment) * 0.9
        out.append(("a plan serving 90% of each point's mass", _flow(case, w.flows, w.potentials, plan)))
    return out


def _flow(case: ConformanceCase, flows: Any, psi: Any, plan: Any = None) -> Solution:
    p = case.problem
    plan = case.witness.assignment if plan is None else plan
    cell = None if plan is None else np.asarray(sp.csr_matrix(plan).sum(axis=0)).reshape(-1)
    return Solution(
        problem=p,
        status=Status.OPTIMAL,
        point_status=PointStatus.FEASIBLE,
        objective=p.objective(flows, plan),
        flows=np.asarray(flows, dtype=float),
        potentials=np.asarray(psi, dtype=float),
        backend="planted",
        solver="planted",
        assignment=plan,
        cell_mass=cell,
    )


def _no_point(case: ConformanceCase, status: Status, cert: Any) -> Solution:
    point = PointStatus.CERTIFICATE if cert is not None else PointStatus.NO_POINT
    return no_point_solution(case.problem, status, point, "planted", "planted", {}, certificate=cert)


def _relocation(case: ConformanceCase, bin_of: Any, psi: Any, status: Status, objective: float | None = None) -> RelocationResult:
    p = case.problem
    b = np.asarray(bin_of, dtype=np.int64)
    cost = p.objective(b)
    return RelocationResult(
        problem=p,
        status=status,
        point_status=PointStatus.FEASIBLE,
        objective=cost if objective is None else objective,
        bin_of=b,
        positions=_moved(p, b),
        potentials=np.asarray(psi, dtype=float),
        backend="planted",
        solver="planted",
    )


def _wrong_relocation(case: ConformanceCase) -> list[WrongAnswer]:
    w = case.witness
    right = _relocation(case, w.bin_of, w.potentials, Status.OPTIMAL)
    home = np.zeros_like(w.bin_of)  # every point in bin (0, 0): over its capacity of one point
    return [
        WrongAnswer("every point left in one bin (over capacity)", _relocation(case, home, w.potentials, Status.OPTIMAL)),
        WrongAnswer("the cost reported below the assignment's", dataclasses.replace(right, objective=right.objective * 0.5)),
        WrongAnswer("prices of zero: no bound", _relocation(case, w.bin_of, np.zeros_like(w.potentials), Status.OPTIMAL), "duals"),
        WrongAnswer("status ITERATION_LIMIT", dataclasses.replace(right, status=Status.ITERATION_LIMIT)),
    ]


def _moved(p: Any, bin_of: Any) -> Any:
    """Each point moved to the nearest point of its bin's rectangle (the cases have no exclusion zones)."""
    x0, _, y0, _ = p.bounds
    lo = np.column_stack([x0 + bin_of[:, 0] * p.bin_width, y0 + bin_of[:, 1] * p.bin_height])
    hi = lo + np.array([p.bin_width, p.bin_height])
    return np.clip(np.asarray(p.points, dtype=float), lo, hi)
