r"""Known-answer cases of kind ``relocation``: small ``RelocationProblem``\ s solved by hand.

The relocation problem (``otmodel.model.relocation``) is a transportation problem with capacitated
bins; its dual is `D(\psi) = m(\sum_i \min_j (c_{ij} + \psi_j) - \sum_j \psi_j u_j)`,
`\psi \ge 0`, a lower bound on every assignment's cost (weak duality). Each case states an
assignment and bin prices whose cost and `D(\psi)` are equal -- computed by hand in the derivation
and recomputed from the problem data by ``check_case`` -- which proves both optimal.

Answers are ``RelocationResult``\ s, judged by ``check_answer``: under ``claims="optimal"`` the
status, the recomputed cost against the optimum and the dual bound at the answer's prices; under
``claims="feasible"`` (a heuristic) only its status (one of ``optimal_statuses``: a heuristic does not
say OPTIMAL), that no bin is over capacity, every point is in a bin with a free part, the reported
cost is the cost of the assignment, and that cost is not below the proven optimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.model.relocation import RelocationProblem
from otmodel.results import Status
from otmodel.validation.cases import ConformanceCase, ConformanceConfig, close
from otmodel.validation.relocation import certify_relocation

__all__ = ["KnownRelocation", "cases", "check_answer", "check_case"]


@dataclass(frozen=True)
class KnownRelocation:
    """An optimal assignment ``bin_of`` ((N, 2) bin coordinates) and bin prices ``potentials`` ((mx, my), >= 0)."""

    bin_of: NDArray[np.int64]
    potentials: NDArray[np.float64]


def _case(name: str, problem: RelocationProblem, objective: float, derivation: str, bins: list[tuple[int, int]],
          psi: list[list[float]], tags: tuple[str, ...] = ()) -> ConformanceCase:
    witness = KnownRelocation(np.asarray(bins, dtype=np.int64), np.asarray(psi, dtype=float))
    case = ConformanceCase(
        name=name,
        problem=problem,
        expected_status=Status.OPTIMAL,
        expected_objective=float(objective),
        derivation=derivation,
        witness=witness,
        tags=frozenset({"relocation", problem.displacement, problem.metric, *tags}),
        kind="relocation",
    )
    check_case(case)
    return case


def _one_must_move() -> ConformanceCase:
    p = RelocationProblem([[0.5, 0.5], [0.9, 0.5]], (0, 2, 0, 1), (2, 1), capacity=1.0, name="one must move")
    return _case(
        "relocation_one_must_move",
        p,
        0.1,
        "Two unit points in bin (0, 0) = [0, 1] x [0, 1], one point per bin: one moves to bin (1, 0) = "
        "[1, 2] x [0, 1]. Moving x = 0.9 costs 0.1, moving x = 0.5 costs 0.5: optimum 0.1. Prices psi = "
        "(0.1, 0): D = min(0 + 0.1, 0.5) + min(0 + 0.1, 0.1) - 0.1 * 1 = 0.1 = the cost.",
        [(0, 0), (1, 0)],
        [[0.1], [0.0]],
    )


def _squared() -> ConformanceCase:
    p = RelocationProblem(
        [[0.5, 0.5], [0.9, 0.5]], (0, 2, 0, 1), (2, 1), capacity=1.0, displacement="l2", name="squared"
    )
    return _case(
        "relocation_squared_displacement",
        p,
        0.01,
        "relocation_one_must_move with squared displacement: moving x = 0.9 costs 0.1^2 = 0.01, x = 0.5 "
        "costs 0.25. Prices psi = (0.01, 0): D = min(0.01, 0.25) + min(0.01, 0.01) - 0.01 = 0.01.",
        [(0, 0), (1, 0)],
        [[0.01], [0.0]],
    )


def _two_leave() -> ConformanceCase:
    p = RelocationProblem(
        [[0.2, 0.5], [0.5, 0.5], [0.8, 0.5]], (0, 3, 0, 1), (3, 1), capacity=1.0, name="two must leave"
    )
    return _case(
        "relocation_two_leave_tie",
        p,
        1.7,
        "Three unit points at x = 0.2, 0.5, 0.8 in bin [0, 1], one point per bin, bins [1, 2] and [2, 3] "
        "free: moving x to [1, 2] costs 1 - x, to [2, 3] costs 2 - x, so the two that leave cost "
        "3 - (their x) and the two largest leave: 3 - 1.3 = 1.7 (either of them may take either bin: "
        "a tie). Prices psi = (1.8, 1, 0): D = 1.8 + 1.5 + 1.2 - 2.8 = 1.7.",
        [(0, 0), (2, 0), (1, 0)],
        [[1.8], [1.0], [0.0]],
        tags=("degenerate",),
    )


def _manhattan_grid() -> ConformanceCase:
    p = RelocationProblem(
        [[0.5, 0.5], [0.6, 0.7], [0.7, 0.6]], (0, 2, 0, 2), (2, 2), capacity=1.0, metric="manhattan",
        name="manhattan 2 x 2",
    )
    return _case(
        "relocation_manhattan_grid",
        p,
        0.6,
        "Three unit points a = (0.5, 0.5), b = (0.6, 0.7), c = (0.7, 0.6) in bin (0, 0) of a 2 x 2 grid of "
        "unit bins, one point per bin, Manhattan distance to a bin: a costs 0.5 to (0, 1) or (1, 0), 1 to "
        "(1, 1); b costs 0.3, 0.4, 0.7; c costs 0.4, 0.3, 0.7. Whoever stays, two move: keeping a and "
        "sending b to (0, 1), c to (1, 0) costs 0.6; keeping b or c costs at least 0.8. Prices psi = "
        "(0.5, 0.2, 0.2, 0) on bins (0,0), (0,1), (1,0), (1,1): D = 0.5 + 0.5 + 0.5 - 0.9 = 0.6.",
        [(0, 0), (0, 1), (1, 0)],
        [[0.5, 0.2], [0.2, 0.0]],
    )


def cases() -> list[ConformanceCase]:
    """The relocation cases, built fresh and checked (``otmodel.validation.cases.cases``)."""
    return [_one_must_move(), _squared(), _two_leave(), _manhattan_grid()]


def check_case(case: ConformanceCase, rtol: float = 1e-9) -> None:
    """Self-check: the witness assignment is feasible and its cost equals the expected optimum and
    `D(\\psi)` at the witness prices (strong duality, which proves the optimum)."""
    w, p = case.witness, case.problem
    if not isinstance(w, KnownRelocation):
        raise AssertionError(f"conformance case {case.name!r}: a relocation case needs a KnownRelocation witness")
    cert = certify_relocation(p, bin_of=w.bin_of, potentials=w.potentials, rtol=rtol)
    if cert.overfull_bins or not math.isfinite(cert.objective):
        raise AssertionError(f"conformance case {case.name!r}: the witness is not feasible ({'; '.join(cert.reasons)})")
    if not close(cert.objective, case.expected_objective, rtol, rtol):
        raise AssertionError(f"conformance case {case.name!r}: witness cost {cert.objective!r} != expected {case.expected_objective!r}")
    if not close(cert.dual_bound, case.expected_objective, rtol, rtol):
        raise AssertionError(
            f"conformance case {case.name!r}: D(psi) = {cert.dual_bound!r} != expected objective "
            f"{case.expected_objective!r} (no strong duality)"
        )


def check_answer(case: ConformanceCase, answer: Any, cfg: ConformanceConfig) -> list[str]:
    """What is wrong with a relocation ``answer`` (module docstring); empty when nothing is."""
    if getattr(answer, "bin_of", None) is None:
        return [f"the answer ({type(answer).__name__}) carries no assignment bin_of"]
    try:
        cert = certify_relocation(case.problem, answer, rtol=cfg.rtol)  # its gap verdict is ignored below
    except ValueError as exc:
        return [f"the assignment is malformed: {exc}"]
    errs = [r for r in cert.reasons if not r.startswith("relative gap")]
    want, cost = case.expected_objective, cert.objective
    floor = want - cfg.atol - cfg.rtol * max(1.0, abs(want))
    if cost < floor:
        errs.append(f"cost {cost:.10g} below the proven optimum {want:.10g}")
    # a heuristic's status is checked too: one that says OPTIMAL claims what it cannot prove
    if answer.status not in cfg.optimal_statuses:
        errs.append(f"status {answer.status.value}, expected {'/'.join(s.value for s in cfg.optimal_statuses)}")
    if cfg.claims == "feasible":
        return errs
    if not close(cost, want, cfg.rtol, cfg.atol):
        errs.append(f"cost {cost:.10g} != optimum {want:.10g}")
    if cfg.check_dual and not close(cert.dual_bound, want, cfg.rtol, cfg.atol):
        errs.append(f"D(potentials) = {cert.dual_bound:.10g} != optimum {want:.10g}")
    return errs
