"""One vocabulary of options across backends (issue 15, point 5).

- ``time_limit`` stops the iterative loops (dual ascent, ADMM) with status ``TIME_LIMIT``;
- an option a backend does not take is refused the same way on every registered backend: a typed
  ``UnsupportedError`` naming the backend and the option, listing those it takes, and suggesting the
  closest name;
- docs/backend-options.md lists every registered backend and every option each one takes.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import otmodel as om
from otmodel import backends
from otmodel.backends._options import refuse_unknown
from otmodel.errors import UnsupportedError
from otmodel.instances import synthetic
from otmodel.model.transport import GraphTransportProblem
from otmodel.results import Status

DOCS = Path(__file__).resolve().parents[1] / "docs" / "backend-options.md"


@functools.cache
def _problem_for(name: str) -> Any:
    """The first case of the conformance catalogue that backend ``name`` declares and supports."""
    cases = importlib.import_module("otmodel.validation.cases")
    b = backends.get(name)
    for kind in sorted(b.conformance.kinds):
        for case in importlib.import_module(cases.CATALOGUE[kind]).cases():
            if b.supports(case.problem) is None:
                return case.problem
    raise AssertionError(f"no conformance case that {name} supports")


@functools.cache
def _refusal(name: str, option: str = "max_iters") -> str:
    with pytest.raises(UnsupportedError) as err:
        backends.solve(_problem_for(name), backend=name, **{option: 5})
    return str(err.value)


def _taken(message: str) -> tuple[str, list[str]]:
    """``(backend, options)`` from a refusal: the backend that refused and the list it gives."""
    m = re.match(r"(\S+) backend: unknown option '[^']+'; it takes: ([a-z0-9_, ]+)", message)
    assert m is not None, f"refusal not in the common form: {message!r}"
    return m.group(1), [s.strip() for s in m.group(2).split(",")]


# ------------------------------------------------------------------------------------ time_limit
def test_time_limit_stops_dual_ascent_with_status_time_limit() -> None:
    p = synthetic(50)
    # tol=0 disables the stopping rule: without the deadline this runs 10^7 updates (hours)
    t = time.perf_counter()
    sol = om.solve(p, backend="dual-ascent", tol=0.0, max_iter=10**7, time_limit=0.3)
    elapsed = time.perf_counter() - t
    assert sol.status == Status.TIME_LIMIT
    assert 0 < sol.iterations < 10**7
    assert elapsed < 30.0  # the deadline plus the set-up and the reconstruction, generously
    assert sol.info["stopped_by"] == "time limit"


def test_time_limit_stops_admm_with_status_time_limit() -> None:
    rng = np.random.default_rng(3)
    g = nx.cycle_graph(12, create_using=nx.DiGraph)
    rho0, rho1 = rng.random(12) + 0.1, rng.random(12) + 0.1
    p = GraphTransportProblem(g, rho0 / rho0.sum(), rho1 / rho1.sum(), gamma=0.5, cost=rng.uniform(0.5, 2, 12))
    t = time.perf_counter()
    sol = om.solve(p, backend="admm", tol=0.0, max_iter=10**7, time_limit=0.3)
    elapsed = time.perf_counter() - t
    assert sol.status == Status.TIME_LIMIT
    assert 0 < sol.iterations < 10**7
    assert elapsed < 30.0
    assert "time limit" in sol.message


def test_time_limit_is_checked_like_data() -> None:
    with pytest.raises(om.InvalidDataError, match="time_limit"):
        om.solve(synthetic(5), backend="dual-ascent", time_limit=-1.0)


# ----------------------------------------------------------------------------- unknown options
@pytest.mark.parametrize("name", backends.available())
def test_an_unknown_option_is_refused_with_the_list_on_every_backend(name: str) -> None:
    msg = _refusal(name)
    refuser, taken = _taken(msg)
    # attraction-flow hands the options it does not take to its step backend (dykstra by default)
    assert refuser == (backends.default_backend(_problem_for(name)) if name == "attraction-flow" else name)
    assert "max_iters" not in taken and taken == sorted(taken) and taken
    if "max_iter" in taken:
        assert msg.endswith("did you mean 'max_iter'?")


def test_the_closest_name_is_suggested() -> None:
    accepted = ("max_iter", "tol", "time_limit", "delta")
    for wrong, right in [("maxiter", "max_iter"), ("tolerance", "tol"), ("timelimit", "time_limit"), ("delt", "delta")]:
        with pytest.raises(UnsupportedError, match=rf"it takes: delta, max_iter, time_limit, tol; did you mean '{right}'\?$"):
            refuse_unknown("admm", {wrong: 1}, accepted)
    with pytest.raises(UnsupportedError) as err:  # nothing close: no guess
        refuse_unknown("admm", ["colour"], accepted)
    assert "did you mean" not in str(err.value)


# --------------------------------------------------------------------------------------- docs
def _sections() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^## `([^`]+)`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)} | {"": parts[0]}


def test_the_options_page_is_in_the_toctree() -> None:
    index = (DOCS.parent / "index.rst").read_text()
    assert re.search(r"^\s+backend-options\s*$", index, flags=re.M)


@pytest.mark.parametrize("name", backends.available())
def test_the_options_page_lists_every_option_each_backend_takes(name: str) -> None:
    sections = _sections()
    assert f"| `{name}` |" in sections[""], f"{name} missing from the summary table"
    assert name in sections, f"no section for {name}"
    refuser, taken = _taken(_refusal(name))
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", sections[refuser], flags=re.M))
    assert set(taken) <= rows, f"{refuser}: options not documented: {sorted(set(taken) - rows)}"
    if name == "attraction-flow":  # its own options, besides those it hands to the step backend
        from otmodel.backends.attraction_flow import attraction_flow

        own = {
            k for k, v in inspect.signature(attraction_flow).parameters.items()
            if k != "problem" and v.kind is not inspect.Parameter.VAR_KEYWORD
        }
        assert own <= set(re.findall(r"^\| `([a-z0-9_]+)` \|", sections[name], flags=re.M))
