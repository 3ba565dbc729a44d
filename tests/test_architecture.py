"""The package's layers, checked from the source (issue 11).

Every import inside ``otmodel/`` (module level and inside functions alike) is read with ``ast`` and
checked against the layer table below: a module may import from its own layer and the layers under
it, never from a layer above. The import graph must have no cycle at all (a submodule importing its
own package's ``__init__`` counts: that is a cycle at import time), and no module may grow past
``MAX_LINES``.

Imports under ``if TYPE_CHECKING:`` are not counted (they exist for annotations only). One
exception, stated so that it stays small: a function body may ``import otmodel`` (the package
root, the public facade) to offer a convenience such as ``problem.solve()`` without making its own
layer depend on any particular solver module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "otmodel"
MAX_LINES = 700

#: Bottom to top. A module belongs to the first layer whose prefix matches its dotted name.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors", ("otmodel.errors",)),
    ("model", ("otmodel.model",)),
    ("instances", ("otmodel.instances",)),
    ("results", ("otmodel.results",)),
    ("certificates", ("otmodel.certificates",)),
    ("backends", ("otmodel.backends", "otmodel.attraction")),
    ("validation", ("otmodel.validation",)),
    ("presentation", ("otmodel.formulation", "otmodel.plot", "otmodel.cli", "otmodel.__main__")),
    ("root", ("otmodel",)),
]

# Violations that existed when this test was written and are being removed (issue 11). The tests
# fail on any violation NOT covered here; a cycle is covered when its modules all lie in one known
# cycle. These sets must end empty.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[frozenset[str]] = set()
KNOWN_LONG: set[str] = set()


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _layer(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (
                module == prefix
                or module.startswith(prefix + ".")
                or (prefix != "otmodel" and module.startswith(prefix + "_"))
            ):
                return index
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py; add it")


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(importer, imported, in_function) for every import of an otmodel module."""
    edges: list[tuple[str, str, bool]] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        function_nodes: set[int] = set()
        typing_only: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function_nodes.update(id(inner) for inner in ast.walk(node) if inner is not node)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                typing_only.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
        for node in ast.walk(tree):
            targets: list[str] = []
            if id(node) in typing_only:
                continue  # annotations only: no import at run time, so neither a cycle nor a dependency
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base) + ("." + node.module if node.module else "")
                else:
                    module = node.module or ""
                # ``from pkg import sub`` imports pkg (its __init__) and then the submodule.
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges.append((name, target, id(node) in function_nodes))
    return edges


def _graph() -> tuple[dict[str, Path], list[tuple[str, str, bool]]]:
    modules = _modules()
    return modules, _imports(modules)


def _allowed(importer: str, imported: str, in_function: bool) -> bool:
    return in_function and imported == "otmodel"


def test_every_module_is_in_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_no_upward_import() -> None:
    modules, edges = _graph()
    upward = {(a, b) for a, b, in_function in edges if _layer(b) > _layer(a) and not _allowed(a, b, in_function)}
    new = sorted(upward - KNOWN_UPWARD)
    assert not new, "upward imports (importer -> imported):\n" + "\n".join(f"  {a} -> {b}" for a, b in new)


def test_no_import_cycle() -> None:
    modules, edges = _graph()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    graph.add_edges_from((a, b) for a, b, in_function in edges if not _allowed(a, b, in_function))
    cycles = {frozenset(c) for c in nx.strongly_connected_components(graph) if len(c) > 1}
    new = [sorted(c) for c in cycles if not any(c <= known for known in KNOWN_CYCLES)]
    if new:
        lines = []
        for component in new:
            sub = graph.subgraph(component)
            lines.append(f"  {len(component)} modules; e.g. {' -> '.join(nx.find_cycle(sub)[0])} ...: {component}")
        pytest.fail("import cycles:\n" + "\n".join(lines))


def test_no_module_over_max_lines() -> None:
    long = {name for name, path in _modules().items() if len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES}
    new = sorted(long - KNOWN_LONG)
    assert not new, f"modules over {MAX_LINES} lines: {new}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a model module importing a backend is upward.
    source = "def f():\n    from otmodel.backends import solve\n    return solve\n"
    tree = ast.parse(source)
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imported == ["otmodel.backends"]
    assert _layer("otmodel.backends") > _layer("otmodel.model.problems")
    assert not _allowed("otmodel.model.problems", "otmodel.backends", True)
    assert _allowed("otmodel.model.problems", "otmodel", True)
