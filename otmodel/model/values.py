r"""The one place where values given by a user become numbers.

Every constructor of the model (networks, arc costs, demand measures, assignment costs, problems and
their options) turns what it is given into floats, integers, names and arrays through these helpers,
so that every kind of bad value meets the same rule wherever it is given:

* a number is a real number: a Python ``int`` or ``float``, a numpy integer or floating scalar (or
  anything else with ``__float__`` that is not text); ``bool`` is *not* a number (``True`` as a
  supply is a slip, not a 1), nor is text (``"1.5"``: a model file is read by
  :mod:`otmodel.model.io`, which parses its own text), nor a complex number;
* an integer too large for a float (``10**400``) is an error naming the place, not an
  ``OverflowError``: :math:`|x| > 1.8 \times 10^{308}` has no float;
* NaN is never a number; infinities only where the caller allows them;
* an array is a rectangular, numeric array of the expected rank: text, ragged lists, mappings and
  complex values are refused with :class:`~otmodel.errors.InvalidDataError` naming the argument.

Nothing here emits a numpy ``RuntimeWarning``: conversions are checked before they could warn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, OTModelError

__all__ = ["number", "finite", "integer", "option", "flag", "name", "float_array"]

_TEXT = (str, bytes, bytearray)


def _describe(value: Any, limit: int = 60) -> str:
    """A short ``repr`` for a message (never the repr of a huge value in full)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        # not str(value): Python refuses to write integers of more than 4300 digits as text
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not replace the error we are raising
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number(value: Any, what: str, nan_error: type[OTModelError] = InvalidDataError) -> float:
    """``value`` as a float; infinities allowed, NaN refused (with ``nan_error``).

    Raises :class:`~otmodel.errors.InvalidDataError` naming ``what`` when ``value`` is not a real
    number (text, ``bool``, ``None``, a sequence, a complex number) or is an integer too large for a
    float.
    """
    v = _real(value, what)
    if math.isnan(v):
        raise nan_error(f"{what} is NaN")
    return v


def _real(value: Any, what: str) -> float:
    """``float(value)`` for a real number (NaN included); a typed error for anything else."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, _TEXT) or value is None:
        raise InvalidDataError(f"{what} = {_describe(value)} is not a number")
    if isinstance(value, (complex, np.complexfloating)):
        raise InvalidDataError(f"{what} = {_describe(value)} is a complex number; a real number is required")
    if isinstance(value, np.ndarray) and value.ndim != 0:
        raise InvalidDataError(f"{what} is an array of shape {value.shape}; a single number is required")
    try:
        v = float(value)
    except OverflowError:
        raise InvalidDataError(f"{what} = {_describe(value)} is too large for a float (|x| > 1.8e308)") from None
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what} = {_describe(value)} is not a number") from None
    return v


def finite(value: Any, what: str, minimum: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite float, optionally ``>= minimum`` or ``> 0``; a typed error naming ``what``."""
    v = _real(value, what)
    if not math.isfinite(v):
        raise InvalidDataError(f"{what} must be a finite number, got {v}")
    if positive and not v > 0:
        raise InvalidDataError(f"{what} must be > 0, got {v:g}")
    if minimum is not None and v < minimum:
        raise InvalidDataError(f"{what} must be >= {minimum:g}, got {v:g}")
    return v


def option(value: Any, what: str) -> float:
    """A tolerance or similar option: a finite number ``>= 0`` (NaN would silently disable a check)."""
    return finite(value, what, minimum=0.0)


def integer(value: Any, what: str, minimum: int | None = None) -> int:
    """``value`` as an ``int``: an integer, or a float with an integral value; never ``bool``, never
    truncated (``2.5`` is refused, not read as 2)."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, _TEXT) or value is None:
        raise InvalidDataError(f"{what} = {_describe(value)} is not an integer")
    if isinstance(value, (int, np.integer)):
        k = int(value)
    else:
        v = number(value, what)
        if not (math.isfinite(v) and v.is_integer()):
            raise InvalidDataError(f"{what} = {_describe(value)} is not an integer")
        k = int(v)
    if minimum is not None and k < minimum:
        raise InvalidDataError(f"{what} = {k} must be >= {minimum}")
    return k


def flag(value: Any, what: str) -> bool:
    """A yes/no option: ``True``/``False``, numpy's bool, or the integers 0 and 1; nothing else
    (the text ``"no"`` would be truthy)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value in (0, 1):
        return bool(value)
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidDataError(f"{what} = {_describe(value)} must be True or False")
    return bool(value)


def name(value: Any, what: str) -> str:
    """A name as it will be written to a model file: a non-empty string that UTF-8 can encode.

    Any hashable label is accepted and written as ``str(value)`` (so the integer 3 names node
    ``"3"``); the empty string and text with lone surrogates are refused, because a model file
    could not hold them and the problem would save but never load again.
    """
    if isinstance(value, (bool, np.bool_)):
        # the file schema refuses booleans as names (YAML reads an unquoted `no` as False)
        raise InvalidDataError(f"{what} {value!r} is a boolean, not a name")
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        raise InvalidDataError(f"{what} of type {type(value).__name__} cannot be written as text") from None
    if not text:
        raise InvalidDataError(f"{what} is empty; a name must have at least one character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDataError(f"{what} {_describe(text)} is not valid Unicode text (a lone surrogate)") from None
    return text


def float_array(value: Any, what: str, ndim: int | None = None) -> NDArray[np.float64]:
    """``value`` as a float array (a new array; never a view of the caller's), checked for form.

    Refuses, with :class:`~otmodel.errors.InvalidDataError` naming ``what``: text, mappings, sets,
    ragged nested lists, booleans, complex values, integers too large for a float, and (when
    ``ndim`` is given) any other rank. Values are not checked for NaN or sign: the caller does, as
    it knows the rule and how to name the entry.
    """
    if isinstance(value, _TEXT) or isinstance(value, (dict, set, frozenset)) or value is None:
        raise InvalidDataError(f"{what} must be an array of numbers, got {type(value).__name__}")
    try:
        raw = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidDataError(f"{what} must be a rectangular array of numbers (a ragged list?)") from None
    kind = raw.dtype.kind
    if kind in "US":
        raise InvalidDataError(f"{what} holds text, not numbers")
    if kind == "b":
        raise InvalidDataError(f"{what} holds booleans, not numbers")
    if kind == "c":
        raise InvalidDataError(f"{what} holds complex numbers; real numbers are required")
    if kind == "O":
        if raw.ndim == 0:
            raise InvalidDataError(f"{what} must be an array of numbers, got {type(value).__name__}")
        flat = raw.reshape(-1)
        out = np.empty(flat.size, dtype=float)
        for k, item in enumerate(flat):  # only object arrays (big ints, Fractions, mixtures) come here
            out[k] = number(item, f"{what}[{_flat_index(k, raw.shape)}]")
        arr = out.reshape(raw.shape)
    elif kind in "iuf":
        arr = np.array(raw, dtype=float)
    else:
        raise InvalidDataError(f"{what} must be an array of numbers, got dtype {raw.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise InvalidDataError(f"{what} must be a {ndim}-d array, got shape {arr.shape}")
    return arr


def _flat_index(k: int, shape: tuple[int, ...]) -> str:
    if len(shape) <= 1:
        return str(k)
    return ", ".join(str(int(i)) for i in np.unravel_index(k, shape))
