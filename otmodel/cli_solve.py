"""What every ``otmodel`` subcommand shares: its two error kinds and the call into ``otmodel.solve``.

In a module of its own so that ``otmodel.cli`` (which registers ``otmodel relocate``) and
``otmodel.cli_relocate`` both import it without importing each other (no import cycle).
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


class _UsageError(Exception):
    """A command-line mistake: reported in one line, exit status 2."""


class _SolverFailure(Exception):
    """An error raised inside a backend that is not one of otmodel's typed input errors: exit status 3."""


def _solve(problem: Any, backend: str | None, options: dict[str, Any]) -> Any:
    """``otmodel.solve``; an error that is not a typed input error is a solver failure (exit 3)."""
    import otmodel
    from otmodel.errors import OTModelError, SolverError

    try:
        return otmodel.solve(problem, backend=backend, **options)
    except SolverError as exc:
        raise _SolverFailure(str(exc)) from exc
    except (OTModelError, KeyboardInterrupt):
        raise
    except (TypeError, ValueError) as exc:  # an option the backend could not take (e.g. step_size)
        raise _UsageError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 -- reported as a failure of the backend, in one line
        name = backend or otmodel.backends.default_backend(problem)
        raise _SolverFailure(f"backend {name!r} failed: {type(exc).__name__}: {exc}") from exc
