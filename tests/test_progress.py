"""Progress of long runs through the ``otmodel`` logger, a bar or a callback (issue 15 point 7)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import otmodel as om
from otmodel.instances import synthetic

PACKAGE = Path(om.__file__).parent


def test_no_bare_print_in_library_code() -> None:
    # the command line prints (that is its job); the library reports through logging
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name.startswith("cli") or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"print() in library code: {offenders}"


def test_verbose_shows_ten_lines_when_logging_is_not_configured(capsys) -> None:
    om.solve(synthetic(8), backend="dual-ascent", max_iter=50, tol=0.0, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("iter ") for line in lines) == 10
    assert lines[-1].startswith("stopped after 50 iterations")
    # the temporary handler is gone after the run: the logger is as the user left it
    assert not logging.getLogger("otmodel").handlers


def test_verbose_goes_to_the_users_logging_when_configured(capsys, caplog) -> None:
    ring = [(0, 1), (1, 2), (2, 3), (3, 0), (1, 3)]
    problem = om.GraphTransportProblem(ring, [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], gamma=0.5)
    with caplog.at_level(logging.INFO, logger="otmodel"):
        om.solve(problem, backend="admm", max_iter=20, tol=0.0, verbose=5)
    records = [r for r in caplog.records if r.name == "otmodel"]
    assert sum(r.getMessage().startswith("iter ") for r in records) == 4
    assert any(r.getMessage().startswith("stopped after 20 iterations") for r in records)
    assert capsys.readouterr().out == ""  # nothing printed twice


def test_silent_by_default(capsys, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="otmodel"):
        om.solve(synthetic(8), backend="dual-ascent", max_iter=20)
    assert capsys.readouterr().out == ""
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_progress_callable_sees_every_iteration() -> None:
    seen: list[tuple[int, int, float]] = []
    om.solve(
        synthetic(8),
        backend="dual-ascent",
        max_iter=30,
        tol=0.0,
        progress=lambda k, total, numbers: seen.append((k, total, numbers["residual"])),
    )
    assert [k for k, _, _ in seen] == list(range(30))
    assert {total for _, total, _ in seen} == {30}
    assert all(r >= 0 for _, _, r in seen)
