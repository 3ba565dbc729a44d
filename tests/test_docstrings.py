"""Docstrings read cleanly in a terminal: help() shows no raw Sphinx roles.

Inline math is written between single backticks (the documentation's default role is math) and
references to other objects as double-backtick literals, so that ``help(otmodel.solve)`` reads as
plain text and the API reference still renders the math.
"""

from __future__ import annotations

import pydoc
import re

import pytest

import otmodel
import otmodel.validation

ROLE = re.compile(r":(math|class|func|meth|mod|attr|data|exc|obj|ref|doc):`")


def _public() -> list[tuple[str, object]]:
    out = [(f"otmodel.{n}", getattr(otmodel, n)) for n in otmodel.__all__ if not n.startswith("__")]
    out += [(f"otmodel.validation.{n}", getattr(otmodel.validation, n)) for n in otmodel.validation.__all__]
    return out


@pytest.mark.parametrize("name,obj", _public(), ids=[n for n, _ in _public()])
def test_help_shows_no_raw_roles(name: str, obj: object) -> None:
    text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
    raw = ROLE.findall(text)
    assert not raw, f"help({name}) shows raw Sphinx roles: {sorted(set(raw))}"
