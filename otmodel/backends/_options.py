"""Checks of solver options, shared by ``otmodel.backends.solve`` and each backend.

Options are validated like data (DESIGN.md, Names and conventions): a value of the wrong type or
out of range raises ``InvalidDataError`` naming the backend, the option and
the rule broken, before anything is built; an option a backend does not take raises
``UnsupportedError`` listing those it does. Values come from Python callers
and from the command line (``--option tol=1e-6``, parsed to numbers where they read as numbers),
so a string where a number is expected is the typical mistake these checks name.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otmodel.errors import InvalidDataError, UnsupportedError

__all__ = ["COMMON", "check_common", "choice", "flag", "integer", "number", "refuse_unknown"]


#: The options every backend names alike (DESIGN.md, Names and conventions): a backend that takes
#: one of these ideas takes it under this name, never a variant (``max_iters``, ``maxiter``, ``eps``).
COMMON = ("max_iter", "tol", "time_limit", "verbose", "progress", "callback", "seed")


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, bytes, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(backend: str, name: str, value: Any, rule: str) -> InvalidDataError:
    return InvalidDataError(f"{backend} backend: option {name}={_show(value)}: {rule}")


def number(
    backend: str,
    name: str,
    value: Any,
    minimum: float = -math.inf,
    strict: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a float: a real number (not a bool, not a string), ``>= minimum`` (``>`` if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(backend, name, value, "expected a number")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise _fail(backend, name, value, "expected a finite number")
    if v < minimum or (strict and v == minimum):
        raise _fail(backend, name, value, f"must be {'>' if strict else '>='} {minimum:g}")
    return v


def integer(backend: str, name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an int: an integer (or a float with an integral value, as ``1e3``), ``>= minimum``."""
    if isinstance(value, bool):
        raise _fail(backend, name, value, "expected an integer")
    if isinstance(value, numbers.Integral):
        k = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        k = int(float(value))
    else:
        raise _fail(backend, name, value, "expected an integer")
    if k < minimum:
        raise _fail(backend, name, value, f"must be >= {minimum}")
    return k


def flag(backend: str, name: str, value: Any) -> bool:
    """``value`` as a bool: ``True`` or ``False`` (numpy's too); ``"false"`` is not silently true."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):  # `--option verbose=1`
        return bool(value)
    raise _fail(backend, name, value, "expected True or False")


def choice(backend: str, name: str, value: Any, choices: Collection[str]) -> str:
    """``value``, which must be one of ``choices`` (else ``UnsupportedError``: not offered here)."""
    if not isinstance(value, str) or value not in choices:
        raise UnsupportedError(
            f"{backend} backend: option {name}={_show(value)}: expected one of {', '.join(repr(c) for c in choices)}"
        )
    return value


def _closest(name: str, known: list[str]) -> str | None:
    """The accepted name ``name`` most likely meant: one that is a prefix of it or it of one
    (``tolerance`` -> ``tol``), else the closest spelling (``max_iters`` -> ``max_iter``)."""
    prefixed = [k for k in known if name.startswith(k) or k.startswith(name)]
    if prefixed:
        return max(prefixed, key=len)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return close[0] if close else None


def refuse_unknown(backend: str, options: Iterable[str], accepted: Iterable[str]) -> None:
    """Raise ``UnsupportedError`` if ``options`` holds a name not in ``accepted``.

    The same refusal on every backend: the message names the backend and the unknown option, lists
    every accepted name (sorted), and ends with the closest accepted name where one is close:
    ``"admm backend: unknown option 'max_iters'; it takes: callback, delta, ...; did you mean
    'max_iter'?"``.
    """
    known = sorted(set(accepted))
    unknown = sorted(set(options) - set(known))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        hints = []
        for u in unknown:
            close = _closest(u, known)
            if close is not None:
                hints.append(f"{u!r} -> {close!r}" if len(unknown) > 1 else repr(close))
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise UnsupportedError(
            f"{backend} backend: unknown option{plural} {', '.join(repr(u) for u in unknown)}; "
            f"it takes: {', '.join(known)}{hint}"
        )


def check_common(backend: str, options: Mapping[str, Any]) -> None:
    """Check the options every backend names the same way (DESIGN.md): ``tol``, ``max_iter``,
    ``time_limit``, ``verbose``, ``callback``, ``seed``, when given.

    ``tol >= 0`` finite; ``max_iter`` an integer ``>= 0``; ``time_limit`` ``> 0`` (or None);
    ``verbose`` a bool or a non-negative integer (iterative backends print every ``verbose``
    iterations); ``callback`` callable (or None); ``seed`` None, an integer ``>= 0`` or a numpy
    generator/seed object. A backend checks its own range further (an exact backend needs ``tol > 0``).
    """
    if "tol" in options:
        number(backend, "tol", options["tol"], 0.0)
    if "max_iter" in options:
        integer(backend, "max_iter", options["max_iter"], 0)
    if options.get("time_limit") is not None:
        number(backend, "time_limit", options["time_limit"], 0.0, strict=True, finite=False)
    verbose = options.get("verbose", False)
    if not isinstance(verbose, bool) and type(verbose).__name__ != "bool_":
        if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or int(verbose) < 0:
            raise _fail(backend, "verbose", verbose, "expected True, False or an integer >= 0 (print every k iterations)")
    if options.get("callback") is not None and not callable(options["callback"]):
        raise _fail(backend, "callback", options["callback"], "expected a callable")
    seed = options.get("seed")
    if seed is not None and (isinstance(seed, (bool, str, float)) or (isinstance(seed, int) and seed < 0)):
        raise _fail(backend, "seed", seed, "expected None, an integer >= 0 or a numpy random generator")
