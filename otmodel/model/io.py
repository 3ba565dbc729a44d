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
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import reprlib
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import numpy as np
import scipy.sparse as sp
import yaml
from numpy.typing import NDArray

from otmodel.errors import (
    InvalidDataError,
    ModelFileError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
)
from otmodel.model.costs import ArcCost, Linear, Quadratic
from otmodel.model.demand import (
    AssignmentCost,
    Density,
    Euclidean,
    Gaussian,
    Geodesic,
    Grid,
    Manhattan,
    Matrix,
    Points,
    SquaredEuclidean,
    TruncatedGaussian,
    Uniform,
)
from otmodel.model.network import Network
from otmodel.model.problems import BALANCE_RTOL, FlowProblem, SpatialFlowProblem

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
    FlowProblem or SpatialFlowProblem
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


def _read_capped(source: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``source``, refusing anything else and anything over ``max_bytes``.

    The file is opened without blocking (a FIFO would otherwise wait for a writer for ever) and its
    type is checked on the open descriptor, so that the check and the read see the same file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(source, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(f"{source}: not a regular file ({_file_kind(st.st_mode)}); a model file must be one")
        if st.st_size > max_bytes:
            raise ModelFileError(
                f"{source}: {st.st_size:,} bytes, more than the limit of {max_bytes:,} bytes for a model file"
            )
        chunks: list[bytes] = []
        left = max_bytes + 1  # one byte more than allowed tells a file that grew past the limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise ModelFileError(f"{source}: more than the limit of {max_bytes:,} bytes for a model file")
    return data


def _file_kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a plain file"


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


def save(problem: FlowProblem, path: str | Path) -> None:
    """Write ``problem`` as a model file; the extension (``.yaml``, ``.yml``, ``.json``) picks the format.

    The file reads back (``load``) into a problem with exactly the same arrays. Writing is
    atomic (``write_atomic``): the text is written to a temporary file next to ``path``, flushed
    to disk, then renamed over ``path``; an error or a crash while writing (a full disk, a killed
    process, a name that cannot be encoded) leaves any previous file at ``path`` as it was.

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


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Replace the file ``path`` by ``data`` (``str`` is written as UTF-8) atomically.

    The data go to a new temporary file in the same directory (same file system, so that the
    rename is atomic), which is flushed and ``fsync``-ed and then renamed over ``path`` with
    ``os.replace``; the directory is ``fsync``-ed too so that the rename survives a power cut.
    Readers see either the old file or the new one, never a part. A symbolic link at ``path`` is
    followed (its target is replaced); the permissions of a file replaced are kept. On any error
    the temporary file is removed and the error raised; a process killed while writing leaves a
    stray ``.NAME.*.tmp`` file beside ``path`` but the previous file intact.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    mode: int | None = None
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        pass
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            # 0o666 less the umask, as for a file opened by open(path, "w")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit random name taken
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable; not possible on every platform (Windows), hence best effort
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def dumps(problem: FlowProblem, fmt: str = "yaml", source: str = "<string>") -> str:
    """The text of the model file of ``problem`` in format ``fmt`` (``"yaml"`` or ``"json"``).

    Raises ``ModelFileError`` (its message starting with ``source``) when the problem holds a
    string that is not valid Unicode (a lone surrogate in a node name), which no file can hold.
    """
    if getattr(problem, "kind", None) == "relocation" and fmt in ("yaml", "json"):
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


def _not_unicode(source: str, exc: UnicodeEncodeError) -> ModelFileError:
    bad = exc.object[exc.start : exc.end]
    return ModelFileError(f"{source}: cannot write {_show(bad)} as UTF-8 text ({exc.reason}); rename it")


def problem_to_dict(problem: FlowProblem) -> dict[str, Any]:
    """The problem as a plain dict of the model-file schema (lists, strings, Python numbers).

    Infinite bounds and forbidden (infinite) assignment costs are written as the strings ``"inf"``
    and ``"-inf"`` so that the dict is valid JSON. A grid demand built from a named density is
    written as its recipe; any other demand as its points and masses.

    Raises
    ------
    ModelFileError
        The problem uses something a model file cannot name (a custom assignment-cost class).
    """
    if not isinstance(problem, FlowProblem):
        raise ModelFileError(f"expected an otmodel problem, got {type(problem).__name__}")
    d: dict[str, Any] = {"otmodel": SCHEMA_VERSION}
    if problem.name:
        d["name"] = str(problem.name)
    d["kind"] = problem.kind
    nodes: list[dict[str, Any]] = []
    for nd in problem.network.nodes:
        e: dict[str, Any] = {"name": nd.name}
        if nd.supply != 0.0:
            e["supply"] = float(nd.supply)
        if nd.position is not None:
            e["position"] = [float(nd.position[0]), float(nd.position[1])]
        if nd.endpoint:
            e["endpoint"] = True
        nodes.append(e)
    d["nodes"] = nodes
    arcs: list[dict[str, Any]] = []
    for a in problem.network.arcs:
        e = {"tail": a.tail, "head": a.head, "cost": _arc_cost_out(a.cost)}
        if a.lower != 0.0:
            e["lower"] = _number_out(a.lower)
        if a.upper != math.inf:
            e["upper"] = _number_out(a.upper)
        arcs.append(e)
    d["arcs"] = arcs
    if isinstance(problem, SpatialFlowProblem):
        d["demand"] = _demand_out(problem.demand)
        d["assignment_cost"] = _assignment_out(problem.assignment_cost, problem.endpoint_names)
    if problem.balance_rtol != BALANCE_RTOL:
        d["options"] = {"balance_rtol": float(problem.balance_rtol)}
    return d


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


# ============================================================================================ parsing
def _format_of(path: Path, source: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ModelFileError(f"{source}: unknown model file extension {path.suffix!r}; use .yaml, .yml or .json")
    return fmt


_BaseSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_BaseSafeLoader):  # type: ignore[valid-type,misc]
    """PyYAML's safe loader (libyaml-accelerated when available) that also rejects duplicate keys.

    It constructs exactly what ``yaml.safe_load`` constructs -- plain scalars, lists and mappings --
    and nothing else; the one addition is that a key repeated in a mapping is an error rather than
    silently overriding the first (a typo trap, like an unknown key).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class _DuplicateKey(Exception):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _parse(text: str, fmt: str, source: str) -> Any:
    """The plain data of a model file's text; any way the text can fail is a ``ModelFileError``.

    Before a YAML document is built, its node graph is measured (``_check_yaml_graph``): a few
    hundred bytes of nested aliases can stand for billions of nodes, which every later walk over
    the data would expand. JSON, which has no aliases, is measured for depth on its text.
    """
    try:
        if fmt == "yaml":
            return _parse_yaml(text, source)
        if fmt == "json":
            if _json_depth(text) > MAX_DEPTH:  # measured on the text: the parser never recurses that deep
                raise ModelFileError(f"{source}: lists or mappings nested more than {MAX_DEPTH} levels deep")
            return _parse_json(text, source)
    except RecursionError:  # nesting deeper than the parser's own stack allows
        raise ModelFileError(f"{source}: lists or mappings nested too deeply (the limit is {MAX_DEPTH})") from None
    except ModelFileError:
        raise
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (4300 by default)
        raise ModelFileError(f"{source}: {fmt.upper()} value not readable: {exc}") from None
    raise ModelFileError(f"{source}: unknown model file format {fmt!r}; use 'yaml' or 'json'")


def _parse_yaml(text: str, source: str) -> Any:
    loader = _SafeLoader(text)  # a SafeLoader: plain data only
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_graph(node, source, anchors="&" in text)  # no anchor, no alias: a tree
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = f"{problem} ({context})" if context else problem
        # a constructor error is well-formed YAML that is not plain data (a tag, a duplicate key)
        label = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise ModelFileError(f"{source}: {where}{label}: {what}") from None
    finally:
        loader.dispose()


def _check_yaml_graph(root: yaml.Node, source: str, anchors: bool = True) -> None:
    """Refuse a composed YAML document that aliases would blow up, or that is nested too deeply.

    An alias (``*a``) makes the composed graph share the node of its anchor (``&a``), so a
    document of ``n`` distinct nodes can stand for up to ``9^n`` nodes once expanded (the "billion
    laughs"). One post-order walk over the distinct *collections* -- iterative, each once; scalars
    are counted, not visited -- computes the expanded size ``size(v) = 1 + sum(size(children))``
    and the depth; a collection reached again while it is being walked is a recursive alias (an
    infinite document). The expanded size may exceed the size counted without sharing by at most
    ``MAX_ALIAS_EXPANSION`` (an alias to a scalar costs one node, as the scalar itself would).
    Without anchors (``anchors=False``: no ``&`` in the text) the graph is a tree and only its
    depth is measured.
    """
    if not anchors:  # a tree: one pass over the collections, scalars skipped in C where possible
        seq, mapping = yaml.SequenceNode, yaml.MappingNode
        level: list[tuple[yaml.Node, int]] = [(root, 1)]
        while level:
            node, depth = level.pop()
            cls = node.__class__
            if cls is seq:
                items = node.value
            elif cls is mapping:
                items = [x for pair in node.value for x in pair]
            else:
                continue
            kids = [x for x in items if x.__class__ is not _SCALAR_NODE]
            if kids:
                if depth >= MAX_DEPTH:
                    _too_deep(source, kids[0])
                level.extend([(k, depth + 1) for k in kids])
        return
    cap = 1 << 62  # sizes are capped (small ints): only "over the limit" matters
    size: dict[int, int] = {}
    deep: dict[int, int] = {}
    walking: set[int] = set()
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids, scalars = _yaml_collections(node)
        if done:
            walking.discard(key)
            size[key] = min(cap, 1 + scalars + sum(size[id(k)] for k in kids))
            deep[key] = 1 + max((deep[id(k)] for k in kids), default=0)
            if deep[key] > MAX_DEPTH:
                _too_deep(source, node)
            continue
        if key in size:
            continue
        if key in walking:
            mark = node.start_mark
            raise ModelFileError(
                f"{source}: line {mark.line + 1}, column {mark.column + 1}: a YAML alias refers to a node "
                "that contains it (a recursive document)"
            )
        walking.add(key)
        distinct += 1 + scalars
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)
    if size.get(id(root), 1) - max(distinct, 1) > MAX_ALIAS_EXPANSION:
        raise ModelFileError(
            f"{source}: YAML aliases repeat more than {MAX_ALIAS_EXPANSION:,} nodes (the document has "
            f"{distinct:,} distinct nodes); write the data out instead of nesting aliases"
        )


_SCALAR_NODE = yaml.ScalarNode


def _yaml_collections(node: yaml.Node) -> tuple[list[yaml.Node], int]:
    """The collection children of ``node`` and the number of its scalar children."""
    if isinstance(node, yaml.SequenceNode):
        items = node.value
    elif isinstance(node, yaml.MappingNode):
        items = [x for pair in node.value for x in pair]
    else:
        return [], 0
    kids = [x for x in items if x.__class__ is not _SCALAR_NODE]
    return kids, len(items) - len(kids)


def _too_deep(source: str, node: yaml.Node) -> NoReturn:
    mark = node.start_mark
    raise ModelFileError(
        f"{source}: line {mark.line + 1}, column {mark.column + 1}: lists or mappings nested "
        f"more than {MAX_DEPTH} levels deep"
    )


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{source}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise ModelFileError(f"{source}: duplicate key {_show(exc.args[0])} in a JSON object") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _json_depth(text: str, chunk: int = 1 << 24) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON ``text``, strings left out (vectorized, in chunks).

    Exact for valid JSON; for invalid JSON an upper bound of what a parser would reach before
    failing. Costs a small fraction of ``json.loads`` (one regular-expression pass to drop the
    strings, then a running sum over the brackets), where a walk over the parsed data cost twice
    ``json.loads`` (measured on a 3 MB file of 100,000 points).
    """
    # only the brackets matter: bytes.translate drops everything else at C speed
    bare = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    deepest, level = 0, 0
    for start in range(0, len(bare), chunk):
        b = np.frombuffer(bare, dtype=np.uint8, count=min(chunk, len(bare) - start), offset=start)
        run = np.cumsum(_BRACKET_STEP[b], dtype=np.int64) + level
        if run.size:
            deepest = max(deepest, int(run.max()))
            level = int(run[-1])
    return deepest


_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


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


class _Reader:
    """Reads a parsed model file; every check names its place in the file."""

    def __init__(self, source: str) -> None:
        self.source = source

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

    # ============================================================================ the problem
    def problem(self, d: Any) -> FlowProblem:
        if d is None:
            self.fail("", "the file is empty; expected a mapping with 'nodes' (see docs/model-files.md)")
        top = self.mapping(
            d,
            "",
            required=["nodes"],
            optional=["otmodel", "name", "kind", "arcs", "demand", "assignment_cost", "options"],
        )
        if "otmodel" in top:
            version = self.integer(top["otmodel"], "otmodel")
            if version != SCHEMA_VERSION:
                self.fail(
                    "otmodel", f"unsupported schema version {version}; this otmodel reads version {SCHEMA_VERSION}"
                )
        name = ""
        if isinstance(top.get("name"), str):
            name = top["name"]
        elif top.get("name") is not None:
            name = self.name(top["name"], "name")
        kind = top.get("kind", "spatial" if "demand" in top else "flow")
        if kind not in ("flow", "spatial"):
            self.fail("kind", f"expected 'flow' or 'spatial', got {_show(kind)}")
        if kind == "spatial" and "demand" not in top:
            self.fail("", "missing required key 'demand' (kind is 'spatial')")
        if kind == "flow":
            for key in ("demand", "assignment_cost"):
                if key in top:
                    self.fail(key, "only a spatial problem has this key (kind is 'flow')")
        balance_rtol = BALANCE_RTOL
        if "options" in top:
            opts = self.mapping(top["options"], "options", optional=["balance_rtol"])
            if "balance_rtol" in opts:
                balance_rtol = self.number(opts["balance_rtol"], "options.balance_rtol", minimum=0.0)

        net, positions = self.network(top["nodes"], top.get("arcs", []))
        if kind == "flow":
            return self.build("", FlowProblem, net, name=name, balance_rtol=balance_rtol)

        demand = self.demand(top["demand"], "demand")
        if not net.endpoint_names:
            raise UnreachableError(
                f"{self.source}: nodes: a spatial problem needs at least one endpoint node (endpoint: true)"
            )
        cost = self.assignment_cost(top.get("assignment_cost", {"type": "euclidean"}), "assignment_cost", demand, net)
        try:
            return SpatialFlowProblem(net, demand, cost, name=name, balance_rtol=balance_rtol)
        except UnbalancedError as exc:
            raise UnbalancedError(f"{self.source}: {exc}") from None
        except ModelFileError:
            raise
        except OTModelError as exc:
            # nodes, arcs and demand are already built and checked: what is left is binding the
            # assignment cost to the demand points and endpoints (positions, reachability, shapes)
            raise type(exc)(f"{self.source}: assignment_cost: {exc}") from None

    # ------------------------------------------------------------------------------------ network
    def network(self, nodes_value: Any, arcs_value: Any) -> tuple[Network, dict[str, tuple[float, float] | None]]:
        nodes = self.sequence(nodes_value, "nodes")
        if not nodes:
            self.fail("nodes", "expected a non-empty list of nodes")
        net = Network()
        positions: dict[str, tuple[float, float] | None] = {}
        for k, item in enumerate(nodes):
            path = f"nodes[{k}]"
            nd = self.mapping(item, path, required=["name"], optional=["supply", "position", "endpoint"])
            name = self.name(nd["name"], f"{path}.name")
            supply = self.number(nd["supply"], f"{path}.supply") if "supply" in nd else 0.0
            pos = None
            if nd.get("position") is not None:
                pos = self.pair(nd["position"], f"{path}.position")
            endpoint = self.boolean(nd["endpoint"], f"{path}.endpoint") if "endpoint" in nd else False
            self.build(path, net.add_node, name, supply=supply, position=pos, endpoint=endpoint)
            positions[name] = pos
        arcs = [] if arcs_value is None else self.sequence(arcs_value, "arcs")
        for k, item in enumerate(arcs):
            path = f"arcs[{k}]"
            a = self.mapping(item, path, required=["tail", "head"], optional=["cost", "lower", "upper"])
            ends = []
            for key in ("tail", "head"):
                end = self.name(a[key], f"{path}.{key}")
                if end not in positions:
                    raise UnknownNodeError(f"{self.source}: {path}.{key}: unknown node {end!r}")
                ends.append(end)
            tail, head = ends  # tail == head is a self-loop, a legitimate arc (Network.add_arc)
            cost = self.arc_cost(a.get("cost", 0.0), f"{path}.cost", positions[tail], positions[head], tail, head)
            # null means "no bound" on either side; an absent lower bound is 0 (flow along the arc only)
            lower, upper = 0.0, math.inf
            if "lower" in a:
                lower = -math.inf if a["lower"] is None else self.number(a["lower"], f"{path}.lower", inf="-")
            if a.get("upper") is not None:
                upper = self.number(a["upper"], f"{path}.upper", inf="+")
            self.build(path, net.add_arc, tail, head, cost, lower, upper)
        return net, positions

    def arc_cost(
        self,
        value: Any,
        path: str,
        tail_xy: tuple[float, float] | None,
        head_xy: tuple[float, float] | None,
        tail: str,
        head: str,
    ) -> ArcCost:
        if not isinstance(value, Mapping):
            if isinstance(value, str) or value is None or isinstance(value, (bool, list)):
                self.fail(
                    path,
                    f"expected a number (linear cost) or a mapping with a 'type' "
                    f"({' | '.join(_ARC_COST_TYPES)}), got {_show(value)}",
                )
            return self.build(path, Linear, self.number(value, path))
        kind, c = self.typed(value, path, _ARC_COST_TYPES, "arc cost type")
        coef = "c" if kind == "linear" else "a"
        self.mapping(c, path, required=["type"], optional=[coef, "per_length"] + (["b"] if kind == "quadratic" else []))
        if (coef in c) == ("per_length" in c):
            self.fail(path, f"give exactly one of {coef!r} and 'per_length'")
        if coef in c:
            x = self.number(c[coef], _join(path, coef))
        else:
            per = self.number(c["per_length"], _join(path, "per_length"))
            missing = [n for n, xy in ((tail, tail_xy), (head, head_xy)) if xy is None]
            if missing:
                self.fail(
                    _join(path, "per_length"), f"needs the positions of both end nodes; node {missing[0]!r} has none"
                )
            assert tail_xy is not None and head_xy is not None
            # same expression as otmodel.instances.synthetic, so that files reproduce it exactly
            x = per * math.hypot(tail_xy[0] - head_xy[0], tail_xy[1] - head_xy[1])
        if kind == "linear":
            return self.build(path, Linear, x)
        b = self.number(c["b"], _join(path, "b")) if "b" in c else 0.0
        return self.build(path, Quadratic, x, b)

    # ------------------------------------------------------------------------------------ demand
    def demand(self, value: Any, path: str) -> Points:
        kind, d = self.typed(value, path, ("grid", "points"), "demand type")
        if kind == "points":
            self.mapping(d, path, required=["type", "xy", "mass"])
            xy = self.points_xy(d["xy"], _join(path, "xy"))
            if isinstance(d["mass"], (list, tuple, np.ndarray)):
                if len(d["mass"]) != len(xy):
                    self.fail(_join(path, "mass"), f"has {len(d['mass'])} entries for {len(xy)} points (xy)")
                mass: Any = self.floats(d["mass"], _join(path, "mass"))
            else:
                mass = self.number(d["mass"], _join(path, "mass"))
            # a negative mass is a model rule (InvalidDataError from Points, naming the point), not a type error
            return self.build(path, Points, xy, mass)
        self.mapping(d, path, required=["type", "bounds", "shape", "density"], optional=["total"])
        bpath, spath = _join(path, "bounds"), _join(path, "shape")
        bounds = self.sequence(d["bounds"], bpath, "[xmin, xmax, ymin, ymax]")
        if len(bounds) != 4:
            self.fail(bpath, f"expected 4 numbers [xmin, xmax, ymin, ymax], got {len(bounds)}")
        b = [self.number(v, f"{bpath}[{k}]") for k, v in enumerate(bounds)]
        shape = self.sequence(d["shape"], spath, "[nx, ny]")
        if len(shape) != 2:
            self.fail(spath, f"expected 2 positive integers [nx, ny], got {len(shape)} entries")
        nx, ny = (self.integer(v, f"{spath}[{k}]", minimum=1) for k, v in enumerate(shape))
        if nx * ny > MAX_POINTS:
            self.fail(spath, f"{nx} x {ny} = {nx * ny:,} grid cells, more than the limit of {MAX_POINTS:,}")
        density = self.density(d["density"], _join(path, "density"))
        total: float | None = 1.0
        if "total" in d:
            total = None if d["total"] is None else self.number(d["total"], _join(path, "total"))
        return self.build(path, Grid.from_density, density, b, (nx, ny), total=total)

    def density(self, value: Any, path: str) -> Density:
        kind, d = self.typed(value, path, tuple(_DENSITIES), "density type")
        if kind == "uniform":
            self.mapping(d, path, required=["type"])
            return Uniform()
        self.mapping(d, path, required=["type", "mean", "std"])
        mean = self.pair(d["mean"], _join(path, "mean"))
        spath = _join(path, "std")
        std: Any
        if isinstance(d["std"], (list, tuple)):
            std = self.pair(d["std"], spath)
        else:
            std = self.number(d["std"], spath)
        return self.build(path, _DENSITIES[kind], mean, std)

    # ------------------------------------------------------------------------------------ assignment
    def assignment_cost(self, value: Any, path: str, demand: Points, net: Network) -> AssignmentCost:
        kind, d = self.typed(value, path, _ASSIGNMENT_TYPES, "assignment cost type")
        if kind in _PLANAR_COSTS:
            self.mapping(d, path, required=["type"])
            return _PLANAR_COSTS[kind]()
        ends = net.endpoint_names
        if kind == "matrix":
            self.mapping(d, path, required=["type", "C"])
            cpath = _join(path, "C")
            rows = self.sequence(d["C"], cpath, "a list of rows (one per demand point)")
            if len(rows) != demand.n:
                self.fail(cpath, f"has {len(rows)} rows for {demand.n} demand points")
            out = np.empty((demand.n, len(ends)), dtype=float)
            for k, row in enumerate(rows):
                r = self.sequence(row, f"{cpath}[{k}]")
                if len(r) != len(ends):
                    self.fail(
                        f"{cpath}[{k}]",
                        f"has {len(r)} entries, expected {len(ends)} (one per endpoint: {', '.join(ends)})",
                    )
                out[k] = self.floats(r, f"{cpath}[{k}]", inf="+")
            return self.build(path, Matrix, out)
        # geodesic
        self.mapping(
            d, path, required=["type", "edges", "point_nodes", "endpoint_nodes"], optional=["n_graph_nodes", "directed"]
        )
        edges = self.sequence(d["edges"], _join(path, "edges"), "a list of [u, v, weight] edges")
        if "n_graph_nodes" in d:
            n = self.integer(d["n_graph_nodes"], _join(path, "n_graph_nodes"), 1, MAX_GRAPH_NODES)
        else:
            n = self._graph_size(d, path, edges)
        u = np.empty(len(edges), dtype=np.intp)
        v = np.empty(len(edges), dtype=np.intp)
        w = np.empty(len(edges), dtype=float)
        seen: dict[tuple[int, int], int] = {}
        for k, e in enumerate(edges):
            epath = f"{_join(path, 'edges')}[{k}]"
            triple = self.sequence(e, epath, "an edge [u, v, weight]")
            if len(triple) != 3:
                self.fail(epath, f"expected an edge [u, v, weight], got {len(triple)} entries")
            u[k] = self.integer(triple[0], f"{epath}[0]", 0, n - 1)
            v[k] = self.integer(triple[1], f"{epath}[1]", 0, n - 1)
            w[k] = self.number(triple[2], f"{epath}[2]")
            if w[k] < 0:
                raise InvalidDataError(f"{self.source}: {epath}[2]: negative edge weight {w[k]:g}")
            key = (int(u[k]), int(v[k]))
            if key in seen:
                self.fail(epath, f"duplicate edge {list(key)} (also edges[{seen[key]}])")
            seen[key] = k
        pnpath = _join(path, "point_nodes")
        pn_list = self.sequence(d["point_nodes"], pnpath)
        if len(pn_list) != demand.n:
            self.fail(pnpath, f"has {len(pn_list)} entries for {demand.n} demand points")
        point_nodes = self.node_indices(pn_list, pnpath, n)
        enpath = _join(path, "endpoint_nodes")
        raw_en = d["endpoint_nodes"]
        if isinstance(raw_en, Mapping):  # a node named 1 is written `1: ...`, which YAML reads as an int key
            raw_en = {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: x for k, x in raw_en.items()}
        en = self.mapping(raw_en, enpath, optional=ends)
        endpoint_nodes = {str(k): self.integer(x, _join(enpath, str(k)), 0, n - 1) for k, x in en.items()}
        directed = self.boolean(d["directed"], _join(path, "directed")) if "directed" in d else False
        graph = sp.csr_matrix((w, (u, v)), shape=(n, n))
        return self.build(path, Geodesic, graph, point_nodes, endpoint_nodes, directed=directed)

    def _graph_size(self, d: Mapping[str, Any], path: str, edges: Sequence[Any]) -> int:
        """Default ``n_graph_nodes``: one more than the largest node index mentioned."""
        biggest = -1
        for e in edges:
            if isinstance(e, (list, tuple)):
                biggest = max([biggest] + [int(x) for x in e[:2] if isinstance(x, int) and not isinstance(x, bool)])
        for x in d["point_nodes"] if isinstance(d["point_nodes"], (list, tuple)) else []:
            if isinstance(x, int) and not isinstance(x, bool):
                biggest = max(biggest, x)
        if isinstance(d["endpoint_nodes"], Mapping):
            for x in d["endpoint_nodes"].values():
                if isinstance(x, int) and not isinstance(x, bool):
                    biggest = max(biggest, x)
        if biggest + 1 > MAX_GRAPH_NODES:
            self.fail(
                path,
                f"graph node {biggest} implies {biggest + 1:,} graph nodes, more than the limit of {MAX_GRAPH_NODES:,}",
            )
        return max(biggest + 1, 1)


# ============================================================================================ writing
def _number_out(v: float) -> float | str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def _arc_cost_out(c: ArcCost) -> float | dict[str, Any]:
    if c.a == 0.0:
        return float(c.b)  # a number is a linear cost
    d: dict[str, Any] = {"type": "quadratic", "a": float(c.a)}
    if c.b != 0.0:
        d["b"] = float(c.b)
    return d


def _demand_out(demand: Points) -> dict[str, Any]:
    if isinstance(demand, Grid) and demand.density is not None and type(demand.density) in _DENSITIES.values():
        return {
            "type": "grid",
            "bounds": [float(v) for v in demand.grid_bounds],
            "shape": [int(v) for v in demand.shape],
            "density": demand.density.to_dict(),
            "total": None if demand.requested_total is None else float(demand.requested_total),
        }
    # any other measure (a grid from a Python callable included) is written point by point, exactly
    return {"type": "points", "xy": demand.xy.tolist(), "mass": demand.mass.tolist()}


def _assignment_out(cost: AssignmentCost, endpoint_names: Sequence[str]) -> dict[str, Any]:
    if type(cost) in _PLANAR_COSTS.values():
        return {"type": cost.name}
    if type(cost) is Matrix:
        return {"type": "matrix", "C": [[v if v != math.inf else "inf" for v in row] for row in cost.C.tolist()]}
    if type(cost) is Geodesic:
        coo = cost.graph.tocoo()
        return {
            "type": "geodesic",
            "n_graph_nodes": int(cost.graph.shape[0]),
            "directed": bool(cost.directed),
            "edges": [[int(i), int(j), float(x)] for i, j, x in zip(coo.row, coo.col, coo.data, strict=True)],
            "point_nodes": [int(x) for x in cost.point_nodes],
            "endpoint_nodes": {e: int(cost.endpoint_nodes[e]) for e in endpoint_names},
        }
    raise ModelFileError(
        f"cannot write assignment cost {type(cost).__name__}: a model file names its cost from "
        f"{', '.join(_ASSIGNMENT_TYPES)}"
    )


class _FlowMap(dict):  # type: ignore[type-arg]
    """A mapping written on one line (``{name: S1, supply: 0.5}``)."""


_BaseSafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseSafeDumper):  # type: ignore[valid-type,misc]
    pass


_Dumper.add_representer(
    _FlowMap, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)

_HEADER = "# otmodel model file, schema version {v} (see docs/model-files.md)\n"


def _dump_yaml(d: dict[str, Any]) -> str:
    out = dict(d)
    for key in ("nodes", "arcs"):
        out[key] = [_FlowMap(e) for e in d[key]]
    body = yaml.dump(out, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    return _HEADER.format(v=SCHEMA_VERSION) + body


def _dump_json(d: dict[str, Any]) -> str:
    """JSON with one top-level key per line and one node or arc per line, data arrays compact."""

    def compact(v: Any) -> str:
        return json.dumps(v, allow_nan=False, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in d.items():
        if key in ("nodes", "arcs"):
            items = ",\n".join(f"    {compact(e)}" for e in value)
            lines.append(f"  {compact(key)}: [\n{items}\n  ]" if value else f"  {compact(key)}: []")
        else:
            lines.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
