"""Model-file text: files read safely, text parsed to plain data, plain data written as text, files replaced atomically.

Reading refuses anything but a regular file and never reads more than the size limit; parsing
goes through PyYAML's safe loader (plain scalars, lists and mappings) or ``json``, refusing
duplicate keys, nesting deeper than ``MAX_DEPTH`` and YAML aliases that would expand past
``MAX_ALIAS_EXPANSION`` nodes, before anything is built. Nothing here knows the problem schema.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml

from otmodel.errors import ModelFileError
from otmodel.model.io._schema import _FORMATS, MAX_ALIAS_EXPANSION, MAX_DEPTH, SCHEMA_VERSION, _show


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


def _not_unicode(source: str, exc: UnicodeEncodeError) -> ModelFileError:
    bad = exc.object[exc.start : exc.end]
    return ModelFileError(f"{source}: cannot write {_show(bad)} as UTF-8 text ({exc.reason}); rename it")


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


class _FlowMap(dict):  # type: ignore[type-arg]
    """A mapping written on one line (``{name: S1, supply: 0.5}``)."""


_BaseSafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseSafeDumper):  # type: ignore[valid-type,misc]
    pass


_Dumper.add_representer(
    _FlowMap, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)

_HEADER = "# otmodel model file, schema version {v} (see docs/model-files.md)\n"


#: The top-level lists written one entry per line (a node, an arc, an edge, a capacity).
_ONE_PER_LINE = ("nodes", "arcs", "edges", "capacities")


def _dump_yaml(d: dict[str, Any]) -> str:
    out = dict(d)
    for key in _ONE_PER_LINE:
        if key in d:
            out[key] = [_FlowMap(e) for e in d[key]]
    body = yaml.dump(out, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    return _HEADER.format(v=SCHEMA_VERSION) + body


def _dump_json(d: dict[str, Any]) -> str:
    """JSON with one top-level key per line and one node or arc per line, data arrays compact."""

    def compact(v: Any) -> str:
        return json.dumps(v, allow_nan=False, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in d.items():
        if key in _ONE_PER_LINE:
            items = ",\n".join(f"    {compact(e)}" for e in value)
            lines.append(f"  {compact(key)}: [\n{items}\n  ]" if value else f"  {compact(key)}: []")
        else:
            lines.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
