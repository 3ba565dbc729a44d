r"""Declarative model files: YAML and JSON <-> problems.

A model file describes a ``FlowProblem`` or a
``SpatialFlowProblem`` as data: named nodes, arcs with costs and
bounds, and (for a spatial problem) the demand measure `\mu` and the assignment cost
`c(x, i)` of Laurentin et al. (2025), problem (1)-(2). The schema is documented field by field
in ``docs/model-files.md``; in short::

    otmodel: 1
    name: two sources, one endpoint
    kind: spatial
    nodes:
      - {name: S1, supply: 1.0, position: [0, 0]}
      - {name: I1, position: [1, 0], endpoint: true}
    arcs:
      - {tail: S1, head: I1, cost: {type: quadratic, per_length: 1.0}, lower: -1, upper: 1}
    demand: {type: grid, bounds: [0, 1, 0, 1], shape: [10, 10], density: {type: uniform}}
    assignment_cost: {type: euclidean}

A file is data, never code: YAML goes through PyYAML's safe loader (plain scalars, lists and
mappings only; no tags that build Python objects), densities and costs are named from a fixed
vocabulary, nothing is evaluated, and sizes (grid cells, point counts, cost-matrix shapes, graph
sizes) are checked before any array is allocated.

Errors name the place: a structurally bad file raises ``ModelFileError``
whose message starts with the file path and the place in it
(``model.yaml: arcs[3].upper: expected a number or 'inf', got 'abc'``); an error raised by the model
while it is built (``UnbalancedError``, ``InvalidBoundsError``,
...) keeps its type and gains the same prefix.

Writing is exact: ``problem_from_dict(problem_to_dict(p))`` rebuilds the same arrays bit for bit,
because floats are written with Python's shortest round-tripping ``repr`` and a grid demand is
written as its recipe (bounds, shape, density, total), which is recomputed deterministically.

The other kinds have their own keys: ``kind: graph_transport`` (a ``GraphTransportProblem``:
masses per node, cost and capacity per arc, gamma), ``kind: attraction`` (an ``AttractionProblem``:
distributions per node, edge weights, capacities, schedules; ``_attraction``) and ``kind:
relocation`` (``RelocationProblem.to_dict``). All the errors of a file are reported at once.

The package: ``_schema`` (version, limits, vocabulary), ``_text`` (files and text <-> plain data),
``_fields`` (one field at a time, errors naming the place and collected), ``_reader`` (plain data
-> problem), ``_writer`` (problem -> plain data), ``_attraction`` (both ways for attraction
flows); this module holds the public functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otmodel.errors import ModelFileError
from otmodel.model.attraction import AttractionProblem
from otmodel.model.io._reader import _Reader
from otmodel.model.io._schema import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_GRAPH_NODES,
    MAX_POINTS,
    SCHEMA_VERSION,
)
from otmodel.model.io._text import (
    _dump_json,
    _dump_yaml,
    _format_of,
    _not_unicode,
    _parse,
    _read_capped,
    write_atomic,
)
from otmodel.model.io._writer import problem_to_dict
from otmodel.model.problems import FlowProblem

__all__ = [
    "SCHEMA_VERSION",
    "MAX_POINTS",
    "MAX_GRAPH_NODES",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_ALIAS_EXPANSION",
    "load",
    "loads",
    "save",
    "write_atomic",
    "dumps",
    "problem_to_dict",
    "problem_from_dict",
]


# ============================================================================================ public
def load(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> FlowProblem:
    """Read a problem from a YAML (``.yaml``/``.yml``) or JSON (``.json``) model file.

    Parameters
    ----------
    path : str or Path
        The model file; its extension selects the format. It must be a regular file (a symbolic
        link to one is followed): a directory, a FIFO or a device (``/dev/zero``) is refused
        before anything is read, so that reading can neither block nor run without end.
    max_bytes : int
        Largest file accepted (default ``MAX_FILE_BYTES``, 1 GiB); a larger file is refused
        before it is read, and never more than ``max_bytes`` bytes are read (a file growing while
        it is read is refused too).

    Returns
    -------
    FlowProblem, SpatialFlowProblem, GraphTransportProblem, AttractionProblem or RelocationProblem
        As the file's ``kind`` says.

    Raises
    ------
    ModelFileError
        The file is not a regular file or is larger than ``max_bytes``, or it is malformed (syntax,
        nesting deeper than ``MAX_DEPTH``, YAML aliases that would repeat more than
        ``MAX_ALIAS_EXPANSION`` nodes, a missing or unknown key, wrong type, unknown
        vocabulary, excessive size); the message starts with ``path`` and names the place in the file.
    OTModelError
        Any model error (``UnbalancedError``, ``InvalidBoundsError``, ...) raised while building,
        with its own type and the file path and place prefixed to its message.
    OSError
        The file cannot be opened (``FileNotFoundError``, ``PermissionError``, ...).
    """
    source = str(path)
    fmt = _format_of(Path(path), source)
    raw = _read_capped(source, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    return loads(text, fmt=fmt, source=source)


def loads(text: str, fmt: str = "yaml", source: str = "<string>") -> FlowProblem:
    """Read a problem from the text of a model file.

    Parameters
    ----------
    text : str
        The file's content.
    fmt : {"yaml", "json"}
        Its format.
    source : str
        The name error messages start with.
    """
    return problem_from_dict(_parse(text, fmt, source), source=source)


def save(problem: FlowProblem | AttractionProblem, path: str | Path) -> None:
    """Write ``problem`` as a model file; the extension (``.yaml``, ``.yml``, ``.json``) picks the format.

    The file reads back (``load``) into a problem with exactly the same arrays. Writing is
    atomic (``write_atomic``): the text is written to a temporary file next to ``path``, flushed
    to disk, then renamed over ``path``; an error or a crash while writing (a full disk, a killed
    process, a name that cannot be encoded) leaves any previous file at ``path`` as it was.

    Parameters
    ----------
    problem : FlowProblem, SpatialFlowProblem, GraphTransportProblem, AttractionProblem or RelocationProblem
        Each kind is written with its own keys and reads back as itself (``docs/model-files.md``).
    path : str or Path
        The file to write; its extension picks the format.

    Raises
    ------
    ModelFileError
        The extension is unknown, or the problem cannot be written as a model file (a custom
        assignment cost, a name that is not valid Unicode).
    OSError
        The file cannot be written (no such directory, no permission, disk full); ``path`` is untouched.
    """
    source = str(path)
    fmt = _format_of(Path(path), source)
    text = dumps(problem, fmt=fmt, source=source)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in a name: refuse before touching the file
        raise _not_unicode(source, exc) from None
    write_atomic(path, data)


def dumps(problem: FlowProblem | AttractionProblem, fmt: str = "yaml", source: str = "<string>") -> str:
    """The text of the model file of ``problem`` in format ``fmt`` (``"yaml"`` or ``"json"``).

    Raises ``ModelFileError`` (its message starting with ``source``) when the problem holds a
    string that is not valid Unicode (a lone surrogate in a node name), which no file can hold.
    """
    if not isinstance(problem, AttractionProblem) and problem.kind == "relocation" and fmt in ("yaml", "json"):
        return _dump_json(problem.to_dict())  # its own schema; JSON text is valid YAML too
    d = problem_to_dict(problem)
    try:
        if fmt == "yaml":
            return _dump_yaml(d)
        if fmt == "json":
            return _dump_json(d)
    except UnicodeEncodeError as exc:
        raise _not_unicode(source, exc) from None
    raise ModelFileError(f"unknown model file format {fmt!r}; use 'yaml' or 'json'")


def problem_from_dict(d: Mapping[str, Any], source: str = "<dict>") -> FlowProblem:
    """Build a problem from a dict of the model-file schema (see ``docs/model-files.md``).

    Parameters
    ----------
    d : mapping
        The parsed file (or ``problem_to_dict``'s output).
    source : str
        The name error messages start with (the file path when called by ``load``).

    Raises
    ------
    ModelFileError
        A structural error, naming the place (``arcs[3].upper``).
    OTModelError
        A model error raised while building, with its own type and the place prefixed.
    """
    if isinstance(d, Mapping) and d.get("kind") == "relocation":
        from otmodel.model.relocation import RelocationProblem

        return RelocationProblem.from_dict(d, source=source)  # type: ignore[return-value]
    return _Reader(source).problem(d)
