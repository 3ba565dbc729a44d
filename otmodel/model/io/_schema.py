"""The model-file schema's constants and vocabulary, and the helpers that name a place in a file.

Every other part of ``otmodel.model.io`` reads its limits and names from here: the schema version, the
size limits checked before memory is taken, the fixed vocabularies of densities and costs (a file
names them; nothing is evaluated), and ``_show`` / ``_join``, which write values and places into
error messages.
"""

from __future__ import annotations

import math
import re
import reprlib
from typing import Any, TypeVar

import numpy as np

from otmodel.model.demand import (
    AssignmentCost,
    Density,
    Euclidean,
    Gaussian,
    Manhattan,
    SquaredEuclidean,
    TruncatedGaussian,
    Uniform,
)

#: The schema version this module reads and writes (the ``otmodel:`` key of a file).
SCHEMA_VERSION = 1
#: Largest demand (grid cells or listed points) a file may ask for; checked before allocating.
MAX_POINTS = 50_000_000
#: Largest geodesic graph (``n_graph_nodes``) a file may ask for; checked before allocating.
MAX_GRAPH_NODES = 50_000_000
#: Largest model file ``load`` reads, in bytes (1 GiB); checked before reading, and no more is read.
MAX_FILE_BYTES = 1 << 30
#: Deepest nesting of lists and mappings a model file may have (the schema itself needs 4 levels).
MAX_DEPTH = 64
#: Most nodes that YAML aliases may add to a document by repetition, counted before it is built.
MAX_ALIAS_EXPANSION = 1_000_000
#: Most errors one reading collects and reports together; reading stops at this many.
MAX_REPORTED_ERRORS = 20
#: The problem kinds a model file can describe (its ``kind`` key; ``relocation`` has its own reader).
KINDS = ("flow", "spatial", "graph_transport", "attraction", "relocation")

_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_DENSITIES: dict[str, type[Density]] = {
    "uniform": Uniform,
    "gaussian": Gaussian,
    "truncated_gaussian": TruncatedGaussian,
}
_PLANAR_COSTS: dict[str, type[AssignmentCost]] = {
    "euclidean": Euclidean,
    "squared_euclidean": SquaredEuclidean,
    "manhattan": Manhattan,
}
_ASSIGNMENT_TYPES = (*_PLANAR_COSTS, "matrix", "geodesic")
_ARC_COST_TYPES = ("linear", "quadratic")
_INF_WORDS = {
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    ".inf": math.inf,
    "+.inf": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
    "-.inf": -math.inf,
}
# YAML 1.1 (PyYAML) reads ``1e-9`` -- an exponent without a dot -- as a string; accept such spellings.
_NUMBER_RE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_NUMBER_TYPES = (int, float, np.integer, np.floating)

T = TypeVar("T")


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3  # bounded work whatever the value: at most 12**3 items are looked at
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxfrozenset = 12
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 200


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of ``value`` for an error message.

    Built by ``reprlib``, which looks at a bounded part of the value (a few items per level, a
    few levels), so that a huge value -- a list of millions of entries, a document expanded by
    aliases -- costs no more to show than a small one.
    """
    try:
        text = _SHORT.repr(value)
    except ValueError:  # an int of more digits than Python will convert to text
        text = f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
