"""Typed exceptions raised by otmodel.

Every error raised on bad input names the item at fault (node, arc, file path) and the rule it
breaks. All derive from :class:`OTModelError`, itself a ``ValueError`` so that generic callers that
catch ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "OTModelError",
    "UnbalancedError",
    "InvalidBoundsError",
    "UnknownNodeError",
    "AmbiguousArcError",
    "DuplicateNodeError",
    "InvalidDataError",
    "NonConvexError",
    "UnreachableError",
    "UnsupportedError",
    "ModelFileError",
    "SolverError",
]


class OTModelError(ValueError):
    """Base class of every error otmodel raises on purpose."""


class UnbalancedError(OTModelError):
    """Total supply and total demand differ by more than the stated tolerance."""


class InvalidBoundsError(OTModelError):
    """An arc has ``lower > upper`` (or a bound that is NaN)."""


class UnknownNodeError(OTModelError, KeyError):
    """A name refers to a node that does not exist."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class AmbiguousArcError(OTModelError, KeyError):
    """A ``(tail, head)`` pair names several parallel arcs; the message lists their indices."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DuplicateNodeError(OTModelError):
    """A node name is used twice."""


class InvalidDataError(OTModelError):
    """NaN or infinite data where a finite number is required, a negative mass, a wrong shape."""


class NonConvexError(OTModelError):
    """An arc cost is not convex (e.g. a negative quadratic coefficient)."""


class UnreachableError(InvalidDataError):
    """The assignment cost gives an endpoint (or a demand point) no finite cost at all."""


class UnsupportedError(OTModelError):
    """This backend cannot solve this problem; the message says why."""


class ModelFileError(OTModelError):
    """A declarative model file is malformed; the message names the place in it (``arcs[3].upper``)."""


class SolverError(OTModelError):
    """A solver failed in a way that could not be mapped to a status (raised only on request)."""
