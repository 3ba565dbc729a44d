"""Every public function and class has a numpydoc docstring a user can act on (issue 15).

The public names are ``otmodel.__all__``, ``otmodel.validation.__all__``, ``otmodel.plot.__all__``
and the ``__all__`` of ``otmodel.plot_admm``, ``otmodel.plot_attraction`` and
``otmodel.plot_relocation``. The rules, read with numpydoc's own parser (``numpydoc.docscrape``):

* a function documents every parameter of its signature under Parameters (``*args`` and
  ``**kwargs`` by their names, with or without the stars) and has a Returns (or Yields) section
  unless it is annotated to return ``None``;
* a class documents its constructor's parameters under Parameters (in the class docstring or in
  ``__init__``'s); a class whose constructor takes no parameter, or a result dataclass, may list its
  fields under Attributes instead;
* an enum names every member in its docstring (an Attributes section or the member's name in the
  text);
* exceptions and warnings are exempt (their message is the documentation); modules and constants are
  not callables and are not checked here.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect

import pytest

MODULES = (
    "otmodel",
    "otmodel.validation",
    "otmodel.plot",
    "otmodel.plot_admm",
    "otmodel.plot_attraction",
    "otmodel.plot_relocation",
)


def _public() -> list[tuple[str, object]]:
    out: dict[str, tuple[str, object]] = {}
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if isinstance(obj, type) and issubclass(obj, (BaseException, Warning)):
                continue
            # one check per object, under the first public name it has
            out.setdefault(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', name)}",
                           (f"{modname}.{name}", obj))
    return sorted(out.values(), key=lambda item: item[0])


def _sections(doc: str) -> dict[str, list[str]]:
    """Section name -> the names documented in it, read by numpydoc if installed."""
    try:
        from numpydoc.docscrape import NumpyDocString
    except ImportError:  # pragma: no cover - numpydoc is in the docs extra and the test venv
        return _fallback_sections(doc)
    parsed = NumpyDocString(inspect.cleandoc(doc))
    out: dict[str, list[str]] = {}
    for key in ("Parameters", "Other Parameters", "Returns", "Yields", "Attributes"):
        items = parsed[key]
        if items:
            names: list[str] = []
            for item in items:
                # "a, b : float" documents both; "**options" documents the ``options`` mapping
                names += [n.strip().lstrip("*") for n in item.name.split(",")]
            out[key] = names
    return out


def _fallback_sections(doc: str) -> dict[str, list[str]]:
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, list[str]] = {}
    current = None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and set(nxt.strip()) == {"-"} and len(nxt.strip()) >= 3:
            current = line.strip()
            out[current] = []
        elif current and line and not line.startswith(" ") and set(line.strip()) != {"-"}:
            out[current] += [n.strip().lstrip("*") for n in line.split(":")[0].split(",")]
    return out


def _signature_names(func: object) -> list[str]:
    try:
        sig = inspect.signature(func)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.name not in ("self", "cls") and not p.name.startswith("_")]


def _returns_none(func: object) -> bool:
    try:
        ann = inspect.signature(func).return_annotation  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return ann is None or ann == "None"


def _problems(name: str, obj: object) -> list[str]:
    doc = inspect.getdoc(obj) if not isinstance(obj, type) else obj.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return [f"{name}: no docstring"]
    sections = _sections(doc)
    out: list[str] = []
    if isinstance(obj, type) and issubclass(obj, enum.Enum):
        text = doc
        missing = [m.name for m in obj if m.name not in text and str(m.value) not in text]
        if missing:
            out.append(f"{name}: enum values not documented: {missing}")
        return out
    if isinstance(obj, type):
        init = obj.__dict__.get("__init__")
        params = _signature_names(obj)
        documented = sections.get("Parameters", []) + sections.get("Other Parameters", [])
        if init is not None and init.__doc__:
            init_sections = _sections(init.__doc__)
            documented += init_sections.get("Parameters", []) + init_sections.get("Other Parameters", [])
        if dataclasses.is_dataclass(obj) or not params:
            documented += sections.get("Attributes", [])
        if params and not documented:
            out.append(f"{name}: no Parameters section (constructor takes {params})")
        else:
            missing = [p for p in params if p not in documented]
            if missing:
                out.append(f"{name}: constructor parameters not documented: {missing}")
        return out
    params = _signature_names(obj)
    documented = sections.get("Parameters", []) + sections.get("Other Parameters", [])
    if params and not documented:
        out.append(f"{name}: no Parameters section (signature takes {params})")
    else:
        missing = [p for p in params if p not in documented]
        if missing:
            out.append(f"{name}: parameters not documented: {missing}")
    if not _returns_none(obj) and not (sections.get("Returns") or sections.get("Yields")):
        out.append(f"{name}: no Returns section")
    return out


PUBLIC = _public()


@pytest.mark.parametrize("name,obj", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_name_has_numpydoc_parameters_and_returns(name: str, obj: object) -> None:
    problems = _problems(name, obj)
    assert not problems, "\n".join(problems)


def test_all_public_names_documented_at_once() -> None:
    """One list of every offender, so a reviewer sees the whole gap in one run."""
    problems = [p for name, obj in PUBLIC for p in _problems(name, obj)]
    assert not problems, f"{len(problems)} public names lack numpydoc sections:\n" + "\n".join(problems)


def test_the_check_catches_what_it_claims() -> None:
    """The rules refuse an undocumented parameter, a missing Returns and an undocumented enum value."""

    def f(a: int, b: int) -> int:
        """Add.

        Parameters
        ----------
        a : int
            First.
        """
        return a + b

    class E(enum.Enum):
        """Colours: RED only."""

        RED = "red"
        BLUE = "blue"

    problems = _problems("f", f) + _problems("E", E)
    assert any("parameters not documented: ['b']" in p for p in problems)
    assert any("f: no Returns section" in p for p in problems)
    assert any("enum values not documented: ['BLUE']" in p for p in problems)

    def g(a: int, *args: int, **options: int) -> None:
        """Do.

        Parameters
        ----------
        a, *args : int
            Numbers.
        **options : int
            Settings.
        """

    assert _problems("g", g) == []
