"""Fuzz tests (issue 10): the API and the model-file reader on random, partly hostile input.

Every call either succeeds or raises one of otmodel's typed errors (:mod:`otmodel.errors`); any
other exception, any warning, and any example slower than the deadline fails the test. What is
accepted must also be usable: a problem the API builds saves to YAML and JSON and loads back with
the same arrays (F2), and an attraction problem gives a first step.

The budget is small by default (a few seconds); set ``OTMODEL_FUZZ_EXAMPLES`` for more, e.g.::

    OTMODEL_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py -q

``OTMODEL_FUZZ_DEADLINE`` (seconds, default 5) bounds one example.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.errors import OTModelError
from otmodel.model.io import dumps, loads, problem_to_dict

EXAMPLES = int(os.environ.get("OTMODEL_FUZZ_EXAMPLES", "50"))
DEADLINE = timedelta(seconds=float(os.environ.get("OTMODEL_FUZZ_DEADLINE", "5")))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=EXAMPLES <= 100,  # the default run in CI is reproducible; a large local run explores
    database=None,
)


# ------------------------------------------------------------------------------------- values
GOOD_FLOATS = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_subnormal=False)
EDGE_NUMBERS = st.sampled_from(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        5e-324,
        -5e-324,
        1e-300,
        1e300,
        1e308,
        -1e308,
        1e155,
        2**53 + 1,
        2**63,
        10**400,
        -(10**400),
        10**5000,
    ]
)
ODD_NUMBERS = st.sampled_from(
    [np.int64(2), np.float32(0.5), np.float64(1.5), np.int8(-3), Fraction(1, 3), Decimal("2.5"), Decimal("1e400")]
)
NOT_NUMBERS = st.sampled_from(
    [
        True,
        False,
        np.bool_(True),
        None,
        "1",
        "abc",
        "",
        "inf",
        b"1",
        1j,
        np.complex128(1 + 0j),
        [1.0],
        (1.0, 2.0),
        {"a": 1},
        set(),
        np.array([1.0, 2.0]),
        object(),  # no __float__ (an object whose own __float__ raises is the caller's code failing)
    ]
)
SPECIALS = st.sampled_from([math.nan, math.inf, -math.inf, np.float64("nan")])
HOSTILE = st.one_of(EDGE_NUMBERS, ODD_NUMBERS, NOT_NUMBERS, SPECIALS, st.floats(), st.integers())


#: One flag per example, shared by every draw of it: a *clean* example draws no hostile value at all
#: (so that valid problems get built, saved and loaded), a dirty one draws a hostile value for each
#: field about once in 7 (deep enough to reach every check).
CLEAN = st.shared(st.booleans(), key="clean")


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = HOSTILE) -> st.SearchStrategy[Any]:
    """``good`` in a clean example; in a dirty one ``good`` about 6 times in 7, ``bad`` otherwise."""
    dirty = st.one_of(good, good, good, good, good, good, bad)
    return CLEAN.flatmap(lambda clean: good if clean else dirty)


NUM = mostly(GOOD_FLOATS)
POS = mostly(st.floats(min_value=0.01, max_value=10.0))
NONNEG = mostly(st.floats(min_value=0.0, max_value=10.0))
LABELS = mostly(
    st.one_of(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 4)),
    st.one_of(st.text(max_size=4), st.sampled_from(["", "\ud800", "a->b", True, None, 1.5, ("t",), ["l"]])),
)


def arrays(elements: st.SearchStrategy[Any], n: int, dims: int = 1) -> st.SearchStrategy[Any]:
    """A list (or numpy array) of ``n`` values, or of ``n`` rows for ``dims=2``; sometimes malformed."""
    if dims == 1:
        good = st.lists(elements, min_size=n, max_size=n)
    else:
        good = st.lists(st.lists(elements, min_size=n, max_size=n), min_size=n, max_size=n)
    malformed = st.one_of(
        st.lists(elements, max_size=n + 1),
        st.lists(st.lists(elements, max_size=3), max_size=3),  # ragged
        st.sampled_from(["abc", {"a": 1}, None, 3.0, [], [[]], np.zeros((0, 2)), np.array(["x", "y"])]),
    )
    as_numpy = good.map(lambda v: _try_array(v))
    dirty = st.one_of(good, good, good, as_numpy, malformed)
    return CLEAN.flatmap(lambda clean: st.one_of(good, as_numpy) if clean else dirty)


def _is_hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _try_array(v: Any) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's own ComplexWarning while the test builds input
            return np.asarray(v, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return v


# --------------------------------------------------------------------------------- the harness
def run(fn: Callable[[], Any]) -> Any:
    """Call ``fn``: a typed error is fine (returns None); any other exception, or a warning, fails."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
        except OTModelError:
            out = None
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not leaked, f"warnings leaked: {leaked}"
    return out


def check_round_trip(problem: om.FlowProblem) -> None:
    """F2: what the API accepts, a model file holds: it saves and loads back with the same arrays."""
    event(f"built {type(problem).__name__} (round trip checked)")  # --hypothesis-show-statistics
    for fmt in ("yaml", "json"):
        text = run(lambda fmt=fmt: dumps(problem, fmt=fmt))
        assert text is not None, f"an accepted problem could not be written as {fmt}"
        back = run(lambda fmt=fmt, text=text: loads(text, fmt=fmt))
        assert back is not None, f"an accepted problem was written as {fmt} but does not load:\n{text[:2000]}"
        assert back.node_names == problem.node_names
        np.testing.assert_array_equal(back.supply, problem.supply)
        np.testing.assert_array_equal(back.lower, problem.lower)
        np.testing.assert_array_equal(back.upper, problem.upper)
        np.testing.assert_array_equal(back.costs.a, problem.costs.a)
        np.testing.assert_array_equal(back.costs.b, problem.costs.b)
        if isinstance(problem, om.SpatialFlowProblem):
            assert isinstance(back, om.SpatialFlowProblem)
            np.testing.assert_array_equal(back.demand.xy, problem.demand.xy)
            np.testing.assert_array_equal(back.demand.mass, problem.demand.mass)
            np.testing.assert_array_equal(back.cost_matrix(), problem.cost_matrix())


# ------------------------------------------------------------------------------------ the API
@st.composite
def networks(draw: st.DrawFn, endpoints: bool = False, total: float = 0.0) -> om.Network:
    """A network built call by call with partly hostile values; failed calls are typed and skipped."""
    net = om.Network()
    clean = draw(CLEAN)
    n = draw(st.integers(1, 5))
    labels = [draw(LABELS) for _ in range(n)]
    supplies = [draw(NUM) for _ in range(n)]
    if clean or draw(st.booleans()):  # balanced, so that problems get built and round-tripped
        good = [s for s in supplies if isinstance(s, float) and abs(s) < 1e300]  # fsum must not overflow
        supplies = good + [total - math.fsum(good)] if len(good) < n else good[:-1] + [total - math.fsum(good[:-1])]
        supplies = (supplies + [0.0] * n)[:n]
    for k in range(n):
        if clean:  # a spatial problem needs the positions of its endpoints
            position = draw(
                st.tuples(GOOD_FLOATS, GOOD_FLOATS) if endpoints else st.one_of(st.none(), st.tuples(NUM, NUM))
            )
        else:
            position = draw(st.one_of(st.none(), st.tuples(NUM, NUM), arrays(NUM, 2), HOSTILE))
        endpoint = (k == 0 or draw(mostly(st.booleans()))) if endpoints else False
        run(lambda k=k, position=position, endpoint=endpoint: net.add_node(labels[k], supplies[k], position, endpoint))
    for _ in range(draw(st.integers(0, 6))):
        tail, head = draw(LABELS), draw(LABELS)
        cost = draw(
            st.one_of(
                NUM,
                st.builds(om.Linear, GOOD_FLOATS),
                st.builds(om.Quadratic, st.floats(0.0, 10.0), GOOD_FLOATS),
                st.tuples(NUM, NUM),
                st.none(),
            )
        )
        if isinstance(cost, tuple):
            cost = run(lambda cost=cost: om.Quadratic(*cost))
        lower = draw(mostly(st.sampled_from([0.0, -1.0, -math.inf, -5.0])))
        upper = draw(mostly(st.sampled_from([math.inf, 1.0, 10.0, 0.0])))
        run(lambda t=tail, h=head, c=cost, lo=lower, up=upper: net.add_arc(t, h, c, lo, up))
    return net


@given(data=st.data())
@FUZZ
def test_fuzz_flow_problem(data: st.DataObject) -> None:
    net = data.draw(networks())
    rtol = data.draw(mostly(st.sampled_from([1e-9, 0.0, 1e-3])))
    name = data.draw(mostly(st.sampled_from(["", "p", "a problem"]), LABELS))
    p = run(lambda: om.FlowProblem(net, name=name, balance_rtol=rtol))
    if p is not None:
        check_round_trip(p)
        run(lambda: p.net_outflow(np.zeros(p.n_arcs)))


@given(data=st.data())
@FUZZ
def test_fuzz_network_from_arrays(data: st.DataObject) -> None:
    clean = data.draw(CLEAN)
    n = data.draw(st.integers(1, 4))
    m = data.draw(st.integers(0, 4))
    unique = st.lists(LABELS, min_size=n, max_size=n, unique_by=str)
    names = data.draw(st.one_of(st.just([f"n{k}" for k in range(n)]), unique if clean else arrays(LABELS, n)))
    supply = data.draw(arrays(NUM, n))
    idx = mostly(st.integers(0, n - 1), LABELS)
    tails = data.draw(arrays(idx, m))
    if clean:  # no loops: head = tail + 1 (mod n) or an index drawn apart from the tail
        tails = [k % n for k in range(m)] if n > 1 else []
        heads: Any = [(t + data.draw(st.integers(1, n - 1))) % n for t in tails] if n > 1 else []
    else:
        heads = data.draw(arrays(idx, m))
    kw = {}
    for key in ("quadratic", "linear", "lower", "upper"):
        if data.draw(st.booleans()):
            good = {"quadratic": NONNEG, "linear": NUM, "lower": st.floats(-5.0, 0.0), "upper": st.floats(0.0, 5.0)}[
                key
            ]
            kw[key] = data.draw(st.one_of(arrays(good, m), good))
    if data.draw(st.booleans()):
        kw["positions"] = data.draw(
            arrays(arrays(NUM, 2), n) if clean else st.one_of(arrays(arrays(NUM, 2), n), HOSTILE)
        )
    if data.draw(st.booleans()):
        kw["endpoints"] = data.draw(st.one_of(arrays(st.booleans(), n), arrays(idx, 1)))
    net = run(lambda: om.Network.from_arrays(names, supply, tails, heads, **kw))
    if net is not None:
        p = run(lambda: om.FlowProblem(net, balance_rtol=1e300))
        if p is not None:
            check_round_trip(p)


def _shift(origin: Any, width: Any) -> Any:
    """``origin + width`` when both are plain floats (a valid interval), else the hostile value as is."""
    return origin + width if isinstance(origin, float) and isinstance(width, float) else width


@st.composite
def demands(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["points", "grid", "grid-callable", "hostile"]))
    if kind == "points":
        n = draw(st.integers(1, 4))
        xy = draw(arrays(arrays(NUM, 2), n))
        mass = draw(st.one_of(arrays(NONNEG, n), NONNEG))
        return run(lambda: om.Points(xy, mass))
    if kind.startswith("grid"):
        x0, y0 = draw(NUM), draw(NUM)
        bounds = draw(
            st.one_of(
                st.tuples(
                    st.just(x0),
                    POS.map(lambda w: _shift(x0, w)),
                    st.just(y0),
                    POS.map(lambda w: _shift(y0, w)),
                ),
                arrays(NUM, 4),
            )
        )
        shape = draw(st.one_of(st.tuples(st.integers(1, 3), st.integers(1, 3)), arrays(mostly(st.integers(1, 3)), 2)))
        total = draw(st.one_of(st.none(), NONNEG))
        if kind == "grid":
            density = draw(
                st.one_of(
                    st.just(om.Uniform()),
                    st.builds(lambda m, s: run(lambda: om.Gaussian(m, s)), st.tuples(NUM, NUM), POS),
                    st.builds(lambda m, s: run(lambda: om.TruncatedGaussian(m, s)), st.tuples(NUM, NUM), POS),
                )
            )
        else:
            value = draw(mostly(st.floats(0.0, 10.0)))
            density = lambda xy, value=value: np.full(len(xy), value)  # noqa: E731
        if density is None:
            return None
        return run(lambda: om.Grid.from_density(density, bounds, shape, total=total))
    bad = draw(HOSTILE)
    return run(lambda: om.Points(bad, bad))


@given(data=st.data())
@FUZZ
def test_fuzz_spatial_problem(data: st.DataObject) -> None:
    demand = data.draw(demands())
    if demand is None:
        return
    net = data.draw(networks(endpoints=True, total=demand.total))
    n_ends = len(net.endpoint_names)
    kind = data.draw(st.sampled_from(["euclidean", "squared", "manhattan", "matrix", "geodesic"]))
    cost: Any
    if kind == "euclidean":
        cost = om.Euclidean()
    elif kind == "squared":
        cost = om.SquaredEuclidean()
    elif kind == "manhattan":
        cost = om.Manhattan()
    elif kind == "matrix":
        rows = data.draw(
            arrays(
                arrays(mostly(st.floats(0.0, 10.0), st.sampled_from([math.inf, math.nan, -1.0])), max(n_ends, 1)),
                demand.n,
            )
        )
        cost = run(lambda: om.Matrix(rows))
    else:
        g = data.draw(st.integers(1, 4))
        adj = data.draw(arrays(NONNEG, g, dims=2))
        if data.draw(st.booleans()):
            adj = _try_array(adj)
            adj = sp.csr_matrix(adj) if isinstance(adj, np.ndarray) and adj.ndim == 2 else adj
        pn = data.draw(arrays(mostly(st.integers(0, g - 1)), demand.n))
        en = data.draw(
            st.one_of(st.fixed_dictionaries({e: mostly(st.integers(0, g - 1)) for e in net.endpoint_names}), HOSTILE)
        )
        directed = data.draw(mostly(st.booleans()))
        cost = run(lambda: om.Geodesic(adj, pn, en, directed=directed))
    if cost is None:
        return
    rtol = data.draw(mostly(st.sampled_from([1e-9, 1e-6])))
    p = run(lambda: om.SpatialFlowProblem(net, demand, cost, balance_rtol=rtol))
    if p is not None:
        check_round_trip(p)


@given(data=st.data())
@FUZZ
def test_fuzz_graph_transport_problem(data: st.DataObject) -> None:
    clean = data.draw(CLEAN)
    n = data.draw(st.integers(2, 4))
    unique = st.lists(LABELS, min_size=n, max_size=n, unique_by=str)
    labels = data.draw(
        st.one_of(st.just(list(range(n))), unique if clean else st.lists(LABELS, min_size=n, max_size=n))
    )
    cycle = [(labels[k], labels[(k + 1) % n]) for k in range(n)]
    extra = data.draw(st.lists(st.tuples(st.sampled_from(labels), st.sampled_from(labels)), max_size=3))
    if clean:  # a strongly connected simple digraph: the cycle, plus chords that are neither loops nor repeats
        chords = {(str(u), str(v)): (u, v) for u, v in extra if str(u) != str(v)}
        graph = cycle + [a for key, a in chords.items() if key not in {(str(u), str(v)) for u, v in cycle}]
    else:
        graph = data.draw(st.one_of(st.just(cycle + extra), st.just(cycle), HOSTILE, st.lists(HOSTILE, max_size=3)))
    rho0 = data.draw(st.one_of(arrays(NONNEG, n), st.dictionaries(LABELS.filter(_is_hashable), NONNEG, max_size=n)))
    rho_inf = data.draw(st.one_of(arrays(NONNEG, n), HOSTILE))
    if (
        (clean or data.draw(st.booleans()))
        and isinstance(rho0, list)
        and all(isinstance(v, float) and math.isfinite(v) for v in rho0)
    ):
        rho_inf = list(reversed(rho0))  # balanced, so that the problem gets built
    kw: dict[str, Any] = {
        "gamma": data.draw(mostly(st.sampled_from([0.0, 0.5, 1.0]))),
        "capacity": data.draw(st.one_of(st.just(math.inf), NONNEG, arrays(NONNEG, n))),
        "cost": data.draw(st.one_of(st.just(1.0), NONNEG, arrays(NONNEG, n))),
        "gamma_scaling": data.draw(mostly(st.sampled_from(["total", "per_agent"]))),
        "split": data.draw(mostly(st.sampled_from(["2.4", "2.6"]))),
        "balance_rtol": data.draw(mostly(st.sampled_from([1e-9, 1e-3]))),
    }
    if clean and kw["gamma"] == 0:
        kw["capacity"] = 10.0  # Theorem 3.3 needs finite capacities when gamma = 0
    if data.draw(st.booleans()):
        if (
            isinstance(rho0, list)
            and isinstance(rho_inf, list)
            and len(rho0) == len(rho_inf)
            and all(isinstance(v, float) for v in rho0 + rho_inf)
        ):
            rho0 = [a - b for a, b in zip(rho0, rho_inf, strict=True)]  # a supply vector summing to 0
        p = run(lambda: om.GraphTransportProblem.from_supply(graph, rho0, **kw))
    else:
        p = run(lambda: om.GraphTransportProblem(graph, rho0, rho_inf, **kw))
    if p is not None:
        check_round_trip(p)
        q = run(lambda: p.with_gamma(data.draw(NONNEG)))
        if q is not None:
            assert q.n_arcs == p.n_arcs


@given(data=st.data())
@FUZZ
def test_fuzz_attraction_problem(data: st.DataObject) -> None:
    clean = data.draw(CLEAN)
    n = data.draw(st.integers(1, 4))
    # a clean example has a complete graph (every weight positive): connected, so it gets built
    weights = data.draw(arrays(st.floats(0.1, 10.0) if clean else NONNEG, n, dims=2))
    if data.draw(st.booleans()):
        w = _try_array(weights)
        weights = sp.csr_matrix(w) if isinstance(w, np.ndarray) and w.ndim == 2 else w
    one = [0.0] * n
    one[0] = 1.0
    rho0 = one if clean else data.draw(st.one_of(st.just(one), arrays(NONNEG, n)))
    nu = list(reversed(one)) if clean else data.draw(st.one_of(st.just(list(reversed(one))), arrays(NONNEG, n)))
    kw: dict[str, Any] = {}
    options: dict[str, st.SearchStrategy[Any]] = {
        "edge_capacity": arrays(mostly(st.sampled_from([0.0, 0.5, 1.0, math.inf, 1e308])), n, dims=2),
        "storage": arrays(mostly(st.sampled_from([0.5, 1.0, math.inf, 1e308, 1.7976931348623157e308])), n),
        "omega": mostly(st.sampled_from([0.1, 0.5, "1/t", lambda t: 0.5]), st.sampled_from(["1/ln t", 2.0, "x"])),
        "omega_first": mostly(st.floats(0.0, 1.0)),
        "gamma": mostly(st.sampled_from([0.1, 1.0, "1/t"]), st.sampled_from([lambda t: "x", 0.0, -1.0])),
        "eps": mostly(st.sampled_from([1e-3, 1e-6, np.int64(1)])),
        "directed": mostly(st.booleans()),
        "names": st.lists(LABELS, min_size=n, max_size=n, unique_by=str) if clean else arrays(LABELS, n),
        "schedule_start": mostly(st.sampled_from([1.0, 0.0, 3.0])),
        "mass_tol": mostly(st.sampled_from([1e-9, 1e-3])),
        "name": mostly(st.sampled_from(["", "x"])),
    }
    for key, strategy in options.items():
        if data.draw(st.booleans()):
            kw[key] = data.draw(strategy)
    p = run(lambda: om.AttractionProblem(weights, rho0, nu, **kw))
    if p is not None:
        event("built AttractionProblem")
        step = run(lambda: p.step(p.rho0, t=data.draw(mostly(st.integers(0, 5)))))
        if step is not None:
            run(step.check)
            run(step.allowed)


# ------------------------------------------------------------------------------------ model files
NODE_NAMES = ["S1", "S2", "E1", "E2", "n5"]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid model-file document of the schema (docs/model-files.md), before mutation."""
    n = draw(st.integers(2, 5))
    names = NODE_NAMES[:n]
    spatial = draw(st.booleans())
    nodes: list[dict[str, Any]] = []
    for k, nm in enumerate(names):
        node: dict[str, Any] = {"name": nm}
        if k == 0:
            node["supply"] = 1.0
        elif k == 1 and not spatial:
            node["supply"] = -1.0
        if spatial or draw(st.booleans()):
            node["position"] = [float(k), draw(st.floats(0.0, 1.0))]
        if spatial and k >= 1:
            node["endpoint"] = True
        nodes.append(node)
    arcs = []
    for k in range(1, n):
        arc: dict[str, Any] = {"tail": names[0], "head": names[k]}
        arc["cost"] = draw(
            st.one_of(
                st.floats(0.0, 5.0),
                st.builds(lambda c: {"type": "linear", "c": c}, st.floats(0.0, 5.0)),
                st.builds(
                    lambda a, b: {"type": "quadratic", "a": a, "b": b}, st.floats(0.0, 5.0), st.floats(-1.0, 1.0)
                ),
                st.builds(lambda c: {"type": "quadratic", "per_length": c}, st.floats(0.0, 5.0)),
            )
        )
        if draw(st.booleans()):
            arc["upper"] = draw(st.sampled_from([2.0, "inf", 10]))
        if draw(st.booleans()):
            arc["lower"] = draw(st.sampled_from([0, -1.0, None, "-inf"]))
        arcs.append(arc)
    doc: dict[str, Any] = {
        "otmodel": 1,
        "name": "fuzz",
        "kind": "spatial" if spatial else "flow",
        "nodes": nodes,
        "arcs": arcs,
    }
    if spatial:
        ends = names[1:]
        if draw(st.booleans()):
            doc["demand"] = {
                "type": "grid",
                "bounds": [0, 1, 0, 1],
                "shape": [draw(st.integers(1, 3)), draw(st.integers(1, 3))],
                "density": draw(
                    st.sampled_from(
                        [
                            {"type": "uniform"},
                            {"type": "gaussian", "mean": [0.5, 0.5], "std": 0.3},
                            {"type": "truncated_gaussian", "mean": [0.2, 0.8], "std": [0.3, 0.1]},
                        ]
                    )
                ),
                "total": 1.0,
            }
            npts = doc["demand"]["shape"][0] * doc["demand"]["shape"][1]
        else:
            npts = draw(st.integers(1, 3))
            doc["demand"] = {"type": "points", "xy": [[0.1 * k, 0.5] for k in range(npts)], "mass": [1.0 / npts] * npts}
        kind = draw(st.sampled_from(["euclidean", "squared_euclidean", "manhattan", "matrix", "geodesic"]))
        if kind == "matrix":
            doc["assignment_cost"] = {"type": "matrix", "C": [[1.0 + j for j in range(len(ends))] for _ in range(npts)]}
        elif kind == "geodesic":
            doc["assignment_cost"] = {
                "type": "geodesic",
                "edges": [[0, 1, 1.0], [1, 2, 2.0]],
                "point_nodes": [k % 3 for k in range(npts)],
                "endpoint_nodes": {e: k % 3 for k, e in enumerate(ends)},
                "directed": False,
            }
        else:
            doc["assignment_cost"] = {"type": kind}
    if draw(st.booleans()):
        doc["options"] = {"balance_rtol": 1e-9}
    return doc


FILE_HOSTILE = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            "",
            "abc",
            "1e-3",
            "inf",
            "-inf",
            "nan",
            ".nan",
            10**400,
            -(10**400),
            1e308,
            -1e308,
            5e-324,
            0,
            -1,
            2.5,
            [],
            {},
            [1, 2, 3],
            {"type": "bogus"},
            "\ud800"[:0] + "é",
            "a->b",
            2**63,
            "0x10",
            "1_000",
        ]
    ),
    st.floats(),
    st.integers(),
    st.text(max_size=6),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            out += _paths(v, prefix + (k,))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = draw(documents())
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "wrap", "duplicate"]))
        if action == "replace":
            parent[last] = draw(FILE_HOSTILE)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "type", "name", "upper", "Supply"]))] = draw(FILE_HOSTILE)
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[last])))
    return doc


def _text(doc: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc)
    return yaml.safe_dump(doc, allow_unicode=True)


@given(doc=mutated_documents(), fmt=st.sampled_from(["yaml", "json"]))
@FUZZ
def test_fuzz_model_files(doc: Any, fmt: str) -> None:
    p = run(lambda: loads(_text(doc, fmt), fmt=fmt, source="fuzz." + fmt))
    if p is not None:
        check_round_trip(p)
        assert problem_to_dict(p)["nodes"]


@given(
    doc=documents(),
    fmt=st.sampled_from(["yaml", "json"]),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.text(max_size=3)), min_size=1, max_size=4),
)
@FUZZ
def test_fuzz_model_file_text(doc: Any, fmt: str, edits: list[tuple[int, str]]) -> None:
    """Character-level damage (insertions and deletions) of a valid file's text."""
    text = _text(doc, fmt)
    for pos, ins in edits:
        k = pos % (len(text) + 1)
        text = text[:k] + ins + text[k + len(ins) % 2 :]
    p = run(lambda: loads(text, fmt=fmt, source="fuzz." + fmt))
    if p is not None:
        check_round_trip(p)


@pytest.mark.parametrize(
    "doc", [{"nodes": [{"name": "a", "supply": 10**400}]}, {"nodes": [{"name": "a", "position": [10**400, 0]}]}]
)
def test_file_integers_too_large_for_a_float(doc: dict[str, Any]) -> None:
    """D3 through a file: a 400-digit number is a typed error naming the place."""
    for fmt in ("yaml", "json"):
        with pytest.raises(OTModelError, match=r"nodes\[0\]"):
            loads(_text(doc, fmt), fmt=fmt)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_file_integer_literals_python_will_not_read(fmt: str) -> None:
    """Python refuses to read integer literals of more than 4300 digits (a plain ValueError)."""
    big = "1" * 5000
    text = (
        f"nodes:\n- {{name: a, supply: {big}}}\n"
        if fmt == "yaml"
        else f'{{"nodes": [{{"name": "a", "supply": {big}}}]}}'
    )
    with pytest.raises(OTModelError, match="4300 digits"):
        loads(text, fmt=fmt)
