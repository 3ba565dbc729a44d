"""The fields of a model file, read and checked one by one, each error naming its place (``arcs[3].upper``)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import ModelFileError, OTModelError
from otmodel.model.io._schema import (
    _INF_WORDS,
    _NUMBER_RE,
    _NUMBER_TYPES,
    MAX_POINTS,
    MAX_REPORTED_ERRORS,
    T,
    _join,
    _show,
)


class _Fields:
    """Reads the fields of a parsed model file; every check names its place in the file, errors may be collected.

    The problem readers (``_reader._Reader``) build on these: a mapping with its allowed keys, a
    number with its allowed infinities, a list of numbers checked at once, and the collection of
    independent errors (``collect`` / ``raise_collected``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[OTModelError] = []
        self.named: set[str] = set()  # every node name read, the bad nodes' included

    # ------------------------------------------------------------------------------------ reporting
    def fail(self, path: str, message: str) -> NoReturn:
        raise ModelFileError(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def build(self, path: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a model constructor; a model error keeps its type and gains the file and place."""
        try:
            return fn(*args, **kwargs)
        except ModelFileError:
            raise
        except OTModelError as exc:
            prefix = f"{self.source}: {path}: " if path else f"{self.source}: "
            raise type(exc)(prefix + str(exc)) from None

    def fail_as(self, error: type[OTModelError], path: str, message: str) -> NoReturn:
        """Raise a model error of type ``error`` at ``path``, named like ``fail`` names its place."""
        raise error(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def collect(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Read one independent piece; its error is recorded (``None`` returned) and reading goes on.

        After ``MAX_REPORTED_ERRORS`` errors reading stops: the report stays short and a file of a
        million bad lines costs no more than one of twenty.
        """
        try:
            return fn(*args, **kwargs)
        except OTModelError as exc:
            self.errors.append(exc)
            if len(self.errors) >= MAX_REPORTED_ERRORS:
                self.raise_collected()
            return None

    def raise_collected(self) -> None:
        """Raise what ``collect`` recorded: one error as itself (its own type), several as one ``ModelFileError``.

        The message lists every error on its own line, each starting with the file and its place,
        as compilers list theirs; the first line is the first error. A model error among several
        keeps its type's name at the end of its line.
        """
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        lines = [
            str(e) if isinstance(e, ModelFileError) else f"{e} ({type(e).__name__})" for e in self.errors
        ]
        more = " (reading stopped there)" if len(self.errors) >= MAX_REPORTED_ERRORS else ""
        lines.append(f"{self.source}: {len(self.errors)} errors in this model file{more}")
        raise ModelFileError("\n".join(lines))

    # ------------------------------------------------------------------------------------ structure
    def mapping(
        self, value: Any, path: str, required: Iterable[str] = (), optional: Iterable[str] = ()
    ) -> Mapping[str, Any]:
        """Check that ``value`` is a mapping with all ``required`` keys and no key outside both sets."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {_show(value)}")
        req, opt = list(required), list(optional)
        allowed = req + opt
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {_show(key)}")
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                did = f"did you mean {hint[0]!r}? " if hint else ""
                self.fail(_join(path, key), f"unknown key; {did}allowed keys here: {', '.join(allowed)}")
        for key in req:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def typed(self, value: Any, path: str, types: Sequence[str], what: str) -> tuple[str, Mapping[str, Any]]:
        """A mapping with a ``type`` key from ``types``; returns ``(type, mapping)``."""
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping with a 'type' ({' | '.join(types)}), got {_show(value)}")
        if "type" not in value:
            self.fail(path, f"missing required key 'type' ({' | '.join(types)})")
        kind = value["type"]
        if not isinstance(kind, str) or kind not in types:
            hint = difflib.get_close_matches(kind, types, n=1) if isinstance(kind, str) else []
            did = f"; did you mean {hint[0]!r}?" if hint else ""
            self.fail(_join(path, "type"), f"unknown {what} {_show(kind)}{did} (known: {', '.join(types)})")
        return kind, value

    def sequence(self, value: Any, path: str, what: str = "a list") -> Sequence[Any]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            self.fail(path, f"expected {what}, got {_show(value)}")
        return value

    # ------------------------------------------------------------------------------------ scalars
    def number(self, value: Any, path: str, inf: str = "", minimum: float | None = None) -> float:
        """A float; ``inf`` is ``""`` (finite only), ``"+"``, ``"-"`` or ``"+-"``: the infinities allowed."""
        words = {
            "": "a finite number",
            "+": "a number or 'inf'",
            "-": "a number or '-inf'",
            "+-": "a number, 'inf' or '-inf'",
        }[inf]
        if isinstance(value, _NUMBER_TYPES) and not isinstance(value, (bool, np.bool_)):
            try:
                v = float(value)
            except OverflowError:  # an integer literal of 310+ digits
                digits = int(int(value).bit_length() * math.log10(2)) + 1  # str() refuses 4300+ digits
                self.fail(path, f"expected {words}, got an integer too large for a float (about {digits} digits)")
        elif isinstance(value, str) and value.strip().lower() in _INF_WORDS:
            v = _INF_WORDS[value.strip().lower()]
        elif isinstance(value, str) and _NUMBER_RE.fullmatch(value.strip()):
            v = float(value)
        else:
            self.fail(path, f"expected {words}, got {_show(value)}")
        if math.isnan(v):
            self.fail(path, f"expected {words}, got NaN")
        if math.isinf(v) and ("+" if v > 0 else "-") not in inf:
            self.fail(path, f"expected {words}, got {_show(value)}")
        if minimum is not None and v < minimum:
            self.fail(path, f"must be >= {minimum:g}, got {v:g}")
        return v

    def integer(self, value: Any, path: str, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(value, (bool, np.bool_)):
            self.fail(path, f"expected an integer, got {_show(value)}")
        if isinstance(value, (int, np.integer)):
            k = int(value)
        elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            k = int(value)
        else:
            self.fail(path, f"expected an integer, got {_show(value)}")
        if minimum is not None and k < minimum:
            self.fail(path, f"must be >= {minimum}, got {k}")
        if maximum is not None and k > maximum:
            self.fail(path, f"must be <= {maximum}, got {k}")
        return k

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            self.fail(path, f"expected true or false, got {_show(value)}")
        return bool(value)

    def name(self, value: Any, path: str) -> str:
        """A node name: a non-empty string, or an integer (read as its decimal string)."""
        if isinstance(value, bool):
            # YAML 1.1 reads unquoted yes/no/on/off as booleans
            self.fail(path, f"expected a name, got {_show(value)} (quote names such as 'no' or 'on')")
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a non-empty name, got {_show(value)}")
        return value

    def pair(self, value: Any, path: str) -> tuple[float, float]:
        seq = self.sequence(value, path, "a pair of numbers [x, y]")
        if len(seq) != 2:
            self.fail(path, f"expected a pair of numbers [x, y], got {len(seq)} entries")
        return self.number(seq[0], f"{path}[0]"), self.number(seq[1], f"{path}[1]")

    # ------------------------------------------------------------------------------------ arrays
    def floats(self, value: Any, path: str, inf: str = "", minimum: float | None = None) -> NDArray[np.float64]:
        """A list of numbers as an array, each entry checked (first bad one named)."""
        seq = self.sequence(value, path)
        if all(type(v) is float or (type(v) is int and abs(v) < 2**1000) for v in seq):
            arr = np.array(seq, dtype=float)
            bad = ~np.isfinite(arr)
            if "+" in inf:
                bad &= ~(arr == math.inf)
            if minimum is not None:
                bad |= arr < minimum
            if not bad.any():
                return arr
            k = int(np.flatnonzero(bad)[0])
            self.number(seq[k], f"{path}[{k}]", inf=inf, minimum=minimum)  # raises, naming the entry
        return np.array([self.number(v, f"{path}[{k}]", inf=inf, minimum=minimum) for k, v in enumerate(seq)])

    def points_xy(self, value: Any, path: str) -> NDArray[np.float64]:
        rows = self.sequence(value, path, "a list of [x, y] pairs")
        if len(rows) > MAX_POINTS:
            self.fail(path, f"{len(rows):,} points, more than the limit of {MAX_POINTS:,}")
        if all(
            type(r) is list and len(r) == 2 and all(type(v) is float or (type(v) is int and abs(v) < 2**1000) for v in r)
            for r in rows
        ):
            arr = np.array(rows, dtype=float).reshape(len(rows), 2)
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:
                i, j = (int(v) for v in bad[0])
                self.fail(f"{path}[{i}][{j}]", f"expected a finite number, got {rows[i][j]!r}")
            return arr
        return np.array([self.pair(r, f"{path}[{k}]") for k, r in enumerate(rows)], dtype=float).reshape(-1, 2)

    def node_indices(self, value: Any, path: str, n: int) -> NDArray[np.intp]:
        seq = self.sequence(value, path)
        if all(type(v) is int and abs(v) < 2**62 for v in seq):
            arr = np.array(seq, dtype=np.int64)
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                k = int(bad[0])
                self.fail(f"{path}[{k}]", f"graph node {seq[k]} out of range 0..{n - 1}")
            return arr.astype(np.intp)
        return np.array([self.integer(v, f"{path}[{k}]", 0, n - 1) for k, v in enumerate(seq)], dtype=np.intp)
