"""Declarative model files: exact round trips, the schema's checks, and the errors' messages."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

import otmodel
from otmodel.errors import (
    DuplicateNodeError,
    InvalidBoundsError,
    InvalidDataError,
    ModelFileError,
    NonConvexError,
    OTModelError,
    UnbalancedError,
    UnknownNodeError,
    UnreachableError,
)
from otmodel.instances import synthetic
from otmodel.model import (
    Euclidean,
    FlowProblem,
    Gaussian,
    Geodesic,
    Grid,
    Linear,
    Manhattan,
    Matrix,
    Network,
    Points,
    Quadratic,
    SpatialFlowProblem,
    SquaredEuclidean,
    Uniform,
)
from otmodel.model.attraction import AttractionProblem
from otmodel.model.io import dumps, load, loads, problem_from_dict, problem_to_dict, save
from otmodel.model.transport import GraphTransportProblem

ROOT = Path(__file__).resolve().parents[1]


# ============================================================================================ helpers
def assert_same(p: FlowProblem, q: FlowProblem) -> None:
    """Every array of the two problems is identical (bit for bit)."""
    assert type(p) is type(q)
    assert p.name == q.name
    assert p.balance_rtol == q.balance_rtol
    assert p.node_names == q.node_names
    assert p.arc_names == q.arc_names
    for f in ("supply", "tails", "heads", "lower", "upper"):
        a, b = getattr(p, f), getattr(q, f)
        assert a.dtype == b.dtype and np.array_equal(a, b), f
    assert np.array_equal(p.costs.a, q.costs.a)
    assert np.array_equal(p.costs.b, q.costs.b)
    assert np.array_equal(p.network.endpoint_mask, q.network.endpoint_mask)
    assert np.array_equal(p.network.positions(), q.network.positions(), equal_nan=True)
    if isinstance(p, SpatialFlowProblem):
        assert isinstance(q, SpatialFlowProblem)
        assert type(p.demand) is type(q.demand)
        assert np.array_equal(p.demand.xy, q.demand.xy)
        assert np.array_equal(p.demand.mass, q.demand.mass)
        assert type(p.assignment_cost) is type(q.assignment_cost)
        assert p.endpoint_names == q.endpoint_names
        assert np.array_equal(p.cost_matrix(), q.cost_matrix())


def round_trips(p: FlowProblem, tmp_path: Path) -> None:
    """Through a dict, YAML text, JSON text, and files of each extension."""
    assert_same(p, problem_from_dict(problem_to_dict(p)))
    assert_same(p, loads(dumps(p, "yaml"), "yaml"))
    assert_same(p, loads(dumps(p, "json"), "json"))
    for ext in (".yaml", ".yml", ".json"):
        path = tmp_path / f"model{ext}"
        save(p, path)
        assert_same(p, load(path))


def write(tmp_path: Path, text: str, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def prefix(path: Path, place: str) -> str:
    """The regex an error message starts with: the file path, then the place."""
    return "^" + re.escape(f"{path}: {place}")


SMALL = """\
otmodel: 1
name: small
kind: spatial
nodes:
  - {name: S, supply: 1.0, position: [0, 0]}
  - {name: A, position: [0, 1], endpoint: true}
  - {name: B, position: [1, 1], endpoint: true}
arcs:
  - {tail: S, head: A, cost: 1.0, upper: 1}
  - {tail: S, head: B, cost: {type: quadratic, a: 2.0}, lower: -1, upper: 1}
demand:
  type: points
  xy: [[0.0, 0.5], [1.0, 0.5]]
  mass: [0.5, 0.5]
assignment_cost: {type: euclidean}
"""


def small(tmp_path: Path, old: str = "", new: str = "", name: str = "model.yaml") -> Path:
    """The SMALL model with one substitution (which must apply)."""
    if old:
        assert old in SMALL, old
    return write(tmp_path, SMALL.replace(old, new), name)


def _network(positions: bool = True) -> Network:
    net = Network()
    net.add_node("S1", supply=0.7, position=(0.1, 0.2) if positions else None)
    net.add_node("S2", supply=0.3, position=(0.9, 0.15) if positions else None)
    net.add_node("hub")
    net.add_node("I1", position=(0.25, 0.8), endpoint=True)
    net.add_node("I2", position=(0.75, 0.7), endpoint=True)
    net.add_arc("S1", "I1", Quadratic(1 / 3, 0.1), -1.0, 1.0)
    net.add_arc("S2", "I2", Linear(2 / 7), 0.0, math.inf)
    net.add_arc("S1", "hub", Linear(0.0), -math.inf, math.inf)
    net.add_arc("hub", "I2", Quadratic(math.pi), -math.inf, 0.4)
    net.add_arc("I1", "I2", Linear(-0.5, signed=True), -0.25, 0.25)  # a credit backwards: spelt signed
    return net


# ============================================================================================ round trips
def test_round_trip_grid_demand(tmp_path: Path) -> None:
    p = synthetic(12)
    round_trips(p, tmp_path)
    d = problem_to_dict(p)
    assert d["demand"]["type"] == "grid"  # written as its recipe, not 144 points
    assert d["demand"]["density"] == {"type": "truncated_gaussian", "mean": [50.0, 75.0], "std": 25.0}


def test_round_trip_grid_variants(tmp_path: Path) -> None:
    net = _network()
    for density, total in ((Uniform(), 1.0), (Gaussian((0.3, 0.6), (0.2, 0.1)), None)):
        grid = Grid.from_density(density, (0, 1, 0, 1), (7, 5), total=total)
        supply = grid.total
        n2 = Network()
        for nd in net.nodes:
            n2.add_node(nd.name, supply=supply * nd.supply, position=nd.position, endpoint=nd.endpoint)
        for a in net.arcs:
            n2.add_arc(a.tail, a.head, a.cost, a.lower, a.upper)
        p = SpatialFlowProblem(n2, grid, SquaredEuclidean(), name="grid variant")
        round_trips(p, tmp_path)
        assert problem_to_dict(p)["demand"]["total"] == total


def test_round_trip_grid_from_callable_is_written_as_points(tmp_path: Path) -> None:
    grid = Grid.from_density(lambda xy: 1.0 + xy[:, 0] ** 2, (0, 1, 0, 1), (4, 3))
    p = SpatialFlowProblem(_network(), grid, Euclidean())
    assert problem_to_dict(p)["demand"]["type"] == "points"
    q = problem_from_dict(problem_to_dict(p))
    assert np.array_equal(q.demand.mass, p.demand.mass) and np.array_equal(q.demand.xy, p.demand.xy)


def test_round_trip_points_demand(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xy = rng.random((25, 2))
    mass = rng.random(25)
    mass /= mass.sum()
    p = SpatialFlowProblem(_network(), Points(xy, mass), Manhattan(), name="points", balance_rtol=1e-7)
    round_trips(p, tmp_path)
    d = problem_to_dict(p)
    assert d["options"] == {"balance_rtol": 1e-7}
    arcs = d["arcs"]
    assert "lower" not in arcs[1] and "upper" not in arcs[1]  # [0, inf): the defaults
    assert arcs[2]["lower"] == "-inf" and "upper" not in arcs[2]  # unbounded both ways
    assert arcs[3] == {
        "tail": "hub",
        "head": "I2",
        "cost": {"type": "quadratic", "a": math.pi},
        "lower": "-inf",
        "upper": 0.4,
    }
    assert arcs[0]["cost"] == {"type": "quadratic", "a": 1 / 3, "b": 0.1}
    assert arcs[1]["cost"] == 2 / 7  # a linear cost is a plain number
    assert d["nodes"][2] == {"name": "hub"}  # defaults are not written


def test_round_trip_matrix_cost_with_inf(tmp_path: Path) -> None:
    xy = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    C = np.array([[0.1, np.inf], [1 / 3, 0.7], [np.inf, 2.5]])
    p = SpatialFlowProblem(_network(positions=False), Points(xy, [0.2, 0.5, 0.3]), Matrix(C))
    round_trips(p, tmp_path)
    d = problem_to_dict(p)
    assert d["assignment_cost"] == {"type": "matrix", "C": [[0.1, "inf"], [1 / 3, 0.7], ["inf", 2.5]]}
    json.dumps(d, allow_nan=False)  # strict JSON: no Infinity literal
    assert "inf" in (tmp_path / "model.json").read_text()
    q = load(tmp_path / "model.json")
    assert np.isposinf(q.assignment_cost.C[0, 1]) and q.assignment_cost.C[1, 0] == 1 / 3


def test_round_trip_geodesic_cost(tmp_path: Path) -> None:
    # a path graph 0-1-2-3-4 with a shortcut 0-4; I1 at node 0, I2 at node 4
    rows, cols, w = [0, 1, 2, 3, 0], [1, 2, 3, 4, 4], [1.0, 0.5, 2.0, 1 / 3, 10.0]
    graph = sp.csr_matrix((w, (rows, cols)), shape=(5, 5))
    for directed in (False, True):
        # directed: every edge both ways (with the same weights), so that each point reaches both endpoints
        g = (graph + graph.T).tocsr() if directed else graph
        cost = Geodesic(g, [1, 2, 3], {"I1": 0, "I2": 4}, directed=directed)
        p = SpatialFlowProblem(_network(), Points([[0, 0], [1, 0], [2, 0]], [0.3, 0.3, 0.4]), cost)
        round_trips(p, tmp_path)
        q = problem_from_dict(problem_to_dict(p))
        assert q.assignment_cost.directed is directed
        assert np.array_equal(q.assignment_cost.point_nodes, [1, 2, 3])
        assert (q.assignment_cost.graph != p.assignment_cost.graph).nnz == 0
    assert np.isclose(p.cost_matrix()[0, 0], 1.0) and np.isclose(p.cost_matrix()[2, 1], 1 / 3)


def test_round_trip_flow_problem(tmp_path: Path) -> None:
    net = _network()
    net.add_node("sink", supply=-1.0)
    net.add_arc("I2", "sink", Linear(1.0), 0.0, math.inf)
    p = FlowProblem(net, name="flow")
    round_trips(p, tmp_path)
    d = p.to_dict()  # FlowProblem.to_dict goes through io.problem_to_dict
    assert d["kind"] == "flow" and "demand" not in d
    assert [n.get("endpoint", False) for n in d["nodes"]] == [False, False, False, True, True, False]
    p.save(tmp_path / "via_method.json")
    assert_same(p, otmodel.load(tmp_path / "via_method.json"))


def test_small_flow_example_file() -> None:
    p = otmodel.load(ROOT / "examples" / "models" / "small_flow.yaml")
    assert type(p) is FlowProblem and p.name == "small min-cost flow"
    assert p.node_names == ["A", "B", "C", "D", "E"]
    assert np.array_equal(p.supply, [4, 0, 0, -3, -1])
    assert np.array_equal(p.upper, [2, np.inf, np.inf, 1, np.inf, np.inf])
    assert np.array_equal(p.lower, [0, 0, 0, -1, 0, 0])
    assert np.array_equal(p.costs.a, [0, 0, 0, 0, 0.5, 0]) and np.array_equal(p.costs.b, [1, 3, 2, 0.5, 1, 1])


def test_synthetic_file_is_synthetic_200() -> None:
    p = otmodel.load(ROOT / "examples" / "models" / "synthetic.yaml")
    q = synthetic(200)
    assert type(p) is SpatialFlowProblem and p.name == q.name
    assert p.node_names == q.node_names and p.arc_names == q.arc_names
    for f in ("supply", "tails", "heads", "lower", "upper", "endpoints", "endpoint_xy"):
        assert np.array_equal(getattr(p, f), getattr(q, f)), f
    np.testing.assert_allclose(p.costs.a, q.costs.a, rtol=1e-12, atol=0)
    assert np.array_equal(p.costs.b, q.costs.b)
    assert p.demand.n == 40_000
    assert np.array_equal(p.demand.xy, q.demand.xy)
    assert np.array_equal(p.demand.mass, q.demand.mass)
    assert type(p.assignment_cost) is Euclidean
    assert p.balance_rtol == q.balance_rtol


def test_docs_examples_load(tmp_path: Path) -> None:
    """Every complete YAML model in docs/model-files.md loads (the docs cannot drift from the code)."""
    text = (ROOT / "docs" / "model-files.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("otmodel:")]
    assert blocks
    for b in blocks:
        p = loads(b, source="docs")
        assert isinstance(p, SpatialFlowProblem) and p.n_points == 2500
        assert p.upper[5] == math.inf and p.lower[2] == -math.inf and p.upper[2] == math.inf
        assert p.costs.a[0] == math.hypot(10, 50)  # per_length: 1.0
        assert_same(p, loads(dumps(p)))


def test_tutorial_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tutorial.py")], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "loaded: SpatialFlowProblem(5 nodes" in out.stdout
    assert "objective" in out.stdout


# ============================================================================================ reading rules
def test_infinite_bounds_spellings(tmp_path: Path) -> None:
    text = SMALL.replace("cost: 1.0, upper: 1}", "cost: 1.0, lower: -.inf, upper: .inf}").replace(
        "lower: -1, upper: 1}", "lower: null, upper: null}"
    )
    p = loads(text)
    assert np.array_equal(p.lower, [-np.inf, -np.inf]) and np.array_equal(p.upper, [np.inf, np.inf])
    for lo, up in (("'-inf'", "inf"), ("-Infinity", "+INF"), ("-inf", "'inf'")):
        p = loads(SMALL.replace("lower: -1, upper: 1}", f"lower: {lo}, upper: {up}}}"))
        assert p.lower[1] == -np.inf and p.upper[1] == np.inf
    # absent bounds: lower 0, upper inf
    p = loads(SMALL.replace(", lower: -1, upper: 1}", "}"))
    assert p.lower[1] == 0 and p.upper[1] == np.inf


def test_defaults_and_yaml11_exponent() -> None:
    text = (
        SMALL.replace("otmodel: 1\n", "")
        .replace("kind: spatial\n", "")
        .replace("assignment_cost: {type: euclidean}\n", "options: {balance_rtol: 1e-6}\n")
    )
    assert yaml.safe_load(text)["options"]["balance_rtol"] == "1e-6"  # YAML 1.1: a string...
    p = loads(text)
    assert p.balance_rtol == 1e-6  # ...read as the number it means
    assert isinstance(p, SpatialFlowProblem) and type(p.assignment_cost) is Euclidean


def test_per_length_costs() -> None:
    text = SMALL.replace("cost: 1.0, upper: 1}", "cost: {type: linear, per_length: 3.0}, upper: 1}").replace(
        "cost: {type: quadratic, a: 2.0}", "cost: {type: quadratic, per_length: 2.0, b: 0.5}"
    )
    p = loads(text)
    assert p.costs.a[0] == 0 and p.costs.b[0] == 3.0
    assert p.costs.a[1] == 2.0 * math.sqrt(2) and p.costs.b[1] == 0.5


def test_integer_node_names_and_mass_scalar() -> None:
    d = yaml.safe_load(SMALL)
    d["nodes"][1]["name"] = 7
    d["arcs"][0]["head"] = 7
    d["demand"]["mass"] = 0.5
    p = problem_from_dict(d)
    assert p.node_names == ["S", "7", "B"] and np.array_equal(p.demand.mass, [0.5, 0.5])
    # a dict built in Python may hold numpy arrays and numpy scalars
    d["demand"]["xy"] = np.array([[0.0, 0.5], [1.0, 0.5]])
    d["demand"]["mass"] = np.array([0.25, 0.75])
    d["nodes"][0]["supply"] = np.float64(1.0)
    d["name"] = ""
    p = problem_from_dict(d)
    assert np.array_equal(p.demand.mass, [0.25, 0.75]) and p.supply[0] == 1.0 and p.name == ""


# ============================================================================================ file errors
@pytest.mark.parametrize(
    ("old", "new", "place", "message"),
    [
        (
            "upper: 1}\n  - {tail: S, head: B",
            "upper: abc}\n  - {tail: S, head: B",
            "arcs[0].upper",
            "expected a number or 'inf', got 'abc'",
        ),
        ("lower: -1, upper: 1}", "lower: -1, upper: [1]}", "arcs[1].upper", "expected a number"),
        ("lower: -1,", "lower: x,", "arcs[1].lower", "expected a number or '-inf', got 'x'"),
        ("lower: -1, upper: 1}", "lower: -1, upper: -inf}", "arcs[1].upper", "expected a number or 'inf', got '-inf'"),
        ("lower: -1, upper: 1}", "lower: -1, uper: 1}", "arcs[1].uper", "unknown key; did you mean 'upper'?"),
        ("{tail: S, head: A,", "{tail: S,", "arcs[0]", "missing required key 'head'"),
        ("supply: 1.0,", "supply: lots,", "nodes[0].supply", "expected a finite number, got 'lots'"),
        ("supply: 1.0,", "supply: .inf,", "nodes[0].supply", "expected a finite number, got inf"),
        ("supply: 1.0,", "supply: .nan,", "nodes[0].supply", "expected a finite number, got NaN"),
        ("position: [0, 0]", "position: [0, 0, 1]", "nodes[0].position", "expected a pair of numbers"),
        (
            "position: [0, 1], endpoint: true",
            "position: [0, 1], endpoint: maybe",
            "nodes[1].endpoint",
            "expected true or false, got 'maybe'",
        ),
        ("{name: B,", "{name: no,", "nodes[2].name", "quote names"),
        ("cost: 1.0,", "cost: cheap,", "arcs[0].cost", "expected a number (linear cost) or a mapping"),
        ("type: quadratic, a: 2.0", "type: cubic, a: 2.0", "arcs[1].cost.type", "unknown arc cost type 'cubic'"),
        (
            "type: quadratic, a: 2.0",
            "type: quadratic, a: 2.0, per_length: 1",
            "arcs[1].cost",
            "give exactly one of 'a' and 'per_length'",
        ),
        ("type: quadratic, a: 2.0", "type: quadratic, c: 2.0", "arcs[1].cost.c", "unknown key"),
        ("type: quadratic, a: 2.0", "type: linear, c: 2.0, b: 1", "arcs[1].cost.b", "unknown key"),
        ("name: small", "name: small\ncolour: red", "colour", "unknown key"),
        ("kind: spatial", "kind: spatiall", "kind", "expected one of 'flow', 'spatial', 'graph_transport', 'attraction', 'relocation'"),
        ("otmodel: 1", "otmodel: 2", "otmodel", "unsupported schema version 2"),
        ("type: points", "type: cloud", "demand.type", "unknown demand type 'cloud'"),
        ("mass: [0.5, 0.5]", "mass: [0.5, 0.5, 0.0]", "demand.mass", "has 3 entries for 2 points (xy)"),
        ("xy: [[0.0, 0.5], [1.0, 0.5]]", "xy: [[0.0, 0.5], [1.0, x]]", "demand.xy[1][1]", "expected a finite"),
        ("xy: [[0.0, 0.5], [1.0, 0.5]]", "xy: [[0.0, 0.5], [1.0, .nan]]", "demand.xy[1][1]", "expected a finite"),
        ("mass: [0.5, 0.5]", "mass: [0.5, '?']", "demand.mass[1]", "expected a finite number, got '?'"),
        (
            "{type: euclidean}",
            "{type: euclidian}",
            "assignment_cost.type",
            "unknown assignment cost type 'euclidian'; did you mean 'euclidean'?",
        ),
        ("{type: euclidean}", "{type: euclidean, p: 2}", "assignment_cost.p", "unknown key"),
        ("{type: euclidean}", "{type: matrix, C: [[1, 2]]}", "assignment_cost.C", "has 1 rows for 2 demand points"),
        (
            "{type: euclidean}",
            "{type: matrix, C: [[1, 2], [3]]}",
            "assignment_cost.C[1]",
            "has 1 entries, expected 2 (one per endpoint: A, B)",
        ),
        (
            "{type: euclidean}",
            "{type: matrix, C: [[1, 2], [3, '-inf']]}",
            "assignment_cost.C[1][1]",
            "expected a number or 'inf', got '-inf'",
        ),
    ],
)
def test_file_errors(tmp_path: Path, old: str, new: str, place: str, message: str) -> None:
    path = small(tmp_path, old, new)
    with pytest.raises(ModelFileError, match=prefix(path, place + ": ") + ".*" + re.escape(message)):
        load(path)


def test_brief_example_message(tmp_path: Path) -> None:
    d = yaml.safe_load(SMALL)
    d["arcs"].extend([{"tail": "A", "head": "B"}, {"tail": "B", "head": "A", "upper": "abc"}])
    with pytest.raises(ModelFileError) as info:
        problem_from_dict(d, source="model.yaml")
    assert str(info.value) == "model.yaml: arcs[3].upper: expected a number or 'inf', got 'abc'"


def test_grid_errors(tmp_path: Path) -> None:
    grid = "type: grid\n  bounds: [0, 1, 0, 1]\n  shape: {shape}\n  density: {density}\n  total: 1.0\n  "
    pts = "type: points\n  xy: [[0.0, 0.5], [1.0, 0.5]]\n  mass: [0.5, 0.5]\n"

    def check(shape: str, density: str, place: str, message: str) -> None:
        path = small(tmp_path, pts, grid.format(shape=shape, density=density) + "\n")
        with pytest.raises(ModelFileError, match=prefix(path, place + ": ") + ".*" + re.escape(message)):
            load(path)

    # sizes are checked before memory is taken: 10^12 cells would not fit anywhere
    check("[1000000, 1000000]", "{type: uniform}", "demand.shape", "1000000 x 1000000 = 1,000,000,000,000 grid cells")
    check("[10000, 5001]", "{type: uniform}", "demand.shape", "more than the limit of 50,000,000")
    check("[10, 0]", "{type: uniform}", "demand.shape[1]", "must be >= 1, got 0")
    check("[10, 2.5]", "{type: uniform}", "demand.shape[1]", "expected an integer, got 2.5")
    check("[10]", "{type: uniform}", "demand.shape", "expected 2 positive integers")
    check(
        "[4, 4]",
        "{type: gausian, mean: [0, 0], std: 1}",
        "demand.density.type",
        "unknown density type 'gausian'; did you mean 'gaussian'?",
    )
    check("[4, 4]", "{type: gaussian, mean: [0, 0]}", "demand.density", "missing required key 'std'")
    check("[4, 4]", "{type: uniform, std: 1}", "demand.density.std", "unknown key")
    check("[4, 4]", "uniform", "demand.density", "expected a mapping with a 'type'")


def test_geodesic_errors(tmp_path: Path) -> None:
    def check(cost: str, place: str, message: str, error: type[OTModelError] = ModelFileError) -> None:
        path = small(tmp_path, "{type: euclidean}", cost)
        with pytest.raises(error, match=prefix(path, place + ": ") + ".*" + re.escape(message)):
            load(path)

    base = "{type: geodesic, edges: [[0, 1, 1.0], [1, 2, 1.0]], point_nodes: [0, 2], endpoint_nodes: {A: 0, B: 2}"
    assert isinstance(loads(SMALL.replace("{type: euclidean}", base + "}")).assignment_cost, Geodesic)
    check(base + ", n_graph_nodes: 2}", "assignment_cost.edges[1][1]", "must be <= 1, got 2")
    check(base + ", n_graph_nodes: 100000000000}", "assignment_cost.n_graph_nodes", "must be <= 50000000")
    check(base.replace("[0, 2]", "[0, 2, 1]") + "}", "assignment_cost.point_nodes", "has 3 entries for 2 demand")
    check(base.replace("B: 2", "B: 2, C: 1") + "}", "assignment_cost.endpoint_nodes.C", "unknown key")
    check(
        base.replace("[1, 2, 1.0]]", "[1, 2, 1.0], [0, 1, 5.0]]") + "}",
        "assignment_cost.edges[2]",
        "duplicate edge [0, 1] (also edges[0])",
    )
    check(
        base.replace("[1, 2, 1.0]]", "[1, 2, -1.0]]") + "}",
        "assignment_cost.edges[1][2]",
        "negative edge weight",
        InvalidDataError,
    )
    check(base.replace("{A: 0, B: 2}", "{A: 0}") + "}", "assignment_cost", "endpoint 'B' has no node", UnreachableError)
    # a graph too large to allocate is refused from the indices alone
    check(base.replace("[1, 2, 1.0]", "[1, 99999999999, 1.0]") + "}", "assignment_cost", "more than the limit")


def test_syntax_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "otmodel: 1\nnodes:\n  - {name: S, supply: [1\n  - {name: A}\n")
    with pytest.raises(ModelFileError, match=prefix(path, "line 4, column ") + r"\d+: YAML syntax error"):
        load(path)
    path = write(tmp_path, '{\n  "nodes": [\n    {"name": "S",}\n  ]\n}\n', "model.json")
    with pytest.raises(ModelFileError, match=prefix(path, "line 3, column ") + r"\d+: JSON syntax error"):
        load(path)


def test_duplicate_keys_rejected(tmp_path: Path) -> None:
    path = small(tmp_path, "lower: -1, upper: 1}", "lower: -1, upper: 1, upper: 5}")
    with pytest.raises(ModelFileError, match=prefix(path, "line 10, column ") + r".*duplicate key 'upper'"):
        load(path)
    d = json.dumps(yaml.safe_load(SMALL))
    path = write(tmp_path, d.replace('"otmodel": 1', '"otmodel": 1, "otmodel": 1'), "model.json")
    with pytest.raises(ModelFileError, match=prefix(path, "duplicate key 'otmodel'")):
        load(path)


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ModelFileError, match=prefix(path, "line 1, column 1: YAML error: could not determine")):
        load(path)
    assert not marker.exists()
    path = small(tmp_path, "name: small", "name: !!python/name:os.getcwd ''")
    with pytest.raises(ModelFileError, match=r"could not determine a constructor"):
        load(path)


def test_whole_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=prefix(write(tmp_path, ""), "the file is empty")):
        load(tmp_path / "model.yaml")
    with pytest.raises(ModelFileError, match=prefix(write(tmp_path, "- 1\n- 2\n"), "expected a mapping, got [1, 2]")):
        load(tmp_path / "model.yaml")
    with pytest.raises(ModelFileError, match=prefix(write(tmp_path, "name: x\n"), "missing required key 'nodes'")):
        load(tmp_path / "model.yaml")
    with pytest.raises(ModelFileError, match=prefix(write(tmp_path, "nodes: []\n"), "nodes: expected a non-empty")):
        load(tmp_path / "model.yaml")
    path = small(tmp_path, "kind: spatial", "kind: flow")
    with pytest.raises(ModelFileError, match=prefix(path, "demand: only a spatial problem has this key")):
        load(path)
    path = write(tmp_path, "kind: spatial\nnodes: [{name: S}]\n")
    with pytest.raises(ModelFileError, match=prefix(path, "missing required key 'demand'")):
        load(path)
    path = small(tmp_path, name="model.toml")
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: unknown model file extension '.toml'")):
        load(path)
    with pytest.raises(ModelFileError, match="unknown model file extension '.txt'"):
        save(synthetic(4), tmp_path / "model.txt")
    path = write(tmp_path, "")
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ModelFileError, match=prefix(path, "not UTF-8")):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.yaml")


def test_unwritable_assignment_cost() -> None:
    class Custom(Euclidean):
        name = "custom"

    p = SpatialFlowProblem(_network(), Points([[0, 0]], [1.0]), Custom())
    with pytest.raises(ModelFileError, match="cannot write assignment cost Custom"):
        problem_to_dict(p)


# ============================================================================================ model errors
@pytest.mark.parametrize(
    ("old", "new", "error", "place", "message"),
    [
        (
            "lower: -1, upper: 1}",
            "lower: 2, upper: 1}",
            InvalidBoundsError,
            "arcs[1]: ",
            "lower bound 2.0 exceeds upper bound 1.0",
        ),
        ("{tail: S, head: A,", "{tail: S, head: Z,", UnknownNodeError, "arcs[0].head: ", "unknown node 'Z'"),
        ("{name: B,", "{name: A,", DuplicateNodeError, "nodes[2]: ", "node 'A' is defined twice"),
        ("a: 2.0", "a: -2.0", NonConvexError, "arcs[1].cost: ", "not convex"),
        ("mass: [0.5, 0.5]", "mass: [1.5, -0.5]", InvalidDataError, "demand: ", "demand point 1: negative mass"),
        ("supply: 1.0", "supply: 2.0", UnbalancedError, "", "out of balance"),
        (
            "position: [1, 1], endpoint: true",
            "endpoint: true",
            UnreachableError,
            "assignment_cost: ",
            "endpoint 'B' has none",
        ),
        (
            "endpoint: true}\n  - {name: B, position: [1, 1], endpoint: true}",
            "endpoint: false}\n  - {name: B}",
            UnreachableError,
            "nodes: ",
            "at least one endpoint",
        ),
        (
            "{type: euclidean}",
            "{type: matrix, C: [[1, inf], [2, inf]]}",
            UnreachableError,
            "assignment_cost: ",
            "endpoint 'B' cannot be reached",
        ),
    ],
)
def test_model_errors_keep_their_type(
    tmp_path: Path, old: str, new: str, error: type[OTModelError], place: str, message: str
) -> None:
    for ext in ("model.yaml", "model.json"):
        path = small(tmp_path, old, new)
        if ext.endswith(".json"):  # the same content as JSON
            data = yaml.safe_load(path.read_text())
            path = write(tmp_path, json.dumps(data, allow_nan=True), ext)
        with pytest.raises(error, match=prefix(path, place) + ".*" + re.escape(message)) as info:
            load(path)
        assert type(info.value) is error  # not wrapped into ModelFileError


def test_grid_density_model_error(tmp_path: Path) -> None:
    path = small(
        tmp_path,
        "type: points\n  xy: [[0.0, 0.5], [1.0, 0.5]]\n  mass: [0.5, 0.5]\n",
        "type: grid\n  bounds: [0, 1, 0, 1]\n  shape: [2, 2]\n  density: {type: gaussian, mean: [0, 0], std: 0}\n",
    )
    with pytest.raises(InvalidDataError, match=prefix(path, "demand.density: ") + "gaussian std must be positive"):
        load(path)
    d = yaml.safe_load(SMALL)
    d["demand"] = {"type": "grid", "bounds": [0, 1, 1, 0], "shape": [2, 2], "density": {"type": "uniform"}}
    with pytest.raises(InvalidDataError, match=r"^<dict>: demand: grid bounds .* ymin < ymax"):
        problem_from_dict(d)


def test_json_and_yaml_read_the_same(tmp_path: Path) -> None:
    d = yaml.safe_load(SMALL)
    a = load(write(tmp_path, SMALL))
    b = load(write(tmp_path, json.dumps(d), "model.json"))
    assert_same(a, b)
    assert a.upper[0] == 1 and a.costs.a[1] == 2.0 and a.demand.n == 2


# ============================================================================================ issue 15 point 8
def _transport() -> GraphTransportProblem:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("b", "a")]
    return GraphTransportProblem(
        edges, [0.5, 0.5, 0.0], [0.0, 0.25, 0.75], cost=[1.0, 2.0, 0.3, 1 / 3], capacity=[math.inf, 1.0, 2.0, math.inf],
        gamma=0.1, gamma_scaling="per_agent", split="2.6", name="triangle", balance_rtol=1e-7,
    )


@pytest.mark.parametrize("ext", [".yaml", ".json"])
def test_graph_transport_problem_saves_and_loads_as_itself(tmp_path: Path, ext: str) -> None:
    # on the old main it came back a plain FlowProblem: gamma, its scaling and the split were lost
    p = _transport()
    p.save(tmp_path / f"g{ext}")
    q = load(tmp_path / f"g{ext}")
    assert type(q) is GraphTransportProblem
    assert (q.gamma, q.gamma_scaling, q.split, q.regularized_gamma) == (0.1, "per_agent", "2.6", 0.1 * 3)
    for f in ("rho0", "rho_inf", "arc_cost", "capacity"):
        assert np.array_equal(getattr(q, f), getattr(p, f)), f
    assert_same(p, q)
    assert_same(p, problem_from_dict(problem_to_dict(p)))


def test_graph_transport_file_by_hand() -> None:
    text = (
        "kind: graph_transport\nnodes:\n  - {name: a, rho0: 1}\n  - {name: b, rho_inf: 1}\n"
        "arcs:\n  - {tail: a, head: b, cost: 2}\n  - {tail: b, head: a, capacity: 5}\ngamma: 1e-1\nsplit: 2.4\n"
    )
    q = loads(text)
    assert type(q) is GraphTransportProblem and q.gamma == 0.1 and q.split == "2.4" and q.gamma_scaling == "total"
    # by hand: arc costs c p + (gamma / 2) p^2, default cost 1, default capacity inf
    assert q.costs.a.tolist() == [0.05, 0.05] and q.costs.b.tolist() == [2.0, 1.0]
    assert q.upper.tolist() == [math.inf, 5.0] and q.supply.tolist() == [1.0, -1.0]


@pytest.mark.parametrize(
    ("old", "new", "error", "place"),
    [
        ("{tail: a, head: b, cost: 2}", "{tail: a, head: z, cost: 2}", UnknownNodeError, "arcs[0].head: unknown node 'z'"),
        ("{name: a, rho0: 1}", "{name: a, rho0: -1}", ModelFileError, "nodes[0].rho0: must be >= 0"),
        ("{name: b, rho_inf: 1}", "{name: a, rho_inf: 1}", DuplicateNodeError, "nodes[1]: node 'a' is defined twice"),
        ("split: 2.4", "split: 2.5", ModelFileError, "split: expected one of 2.4, 2.6, got 2.5"),
        ("gamma: 0.1", "gamma: -1", ModelFileError, "gamma: must be >= 0"),
        ("capacity: 5", "capacity: -5", ModelFileError, "arcs[1].capacity: must be >= 0"),
        ("  - {tail: b, head: a, capacity: 5}\n", "", InvalidDataError, "the graph is not strongly connected"),
        ("{name: b, rho_inf: 1}", "{name: b, rho_inf: 2}", UnbalancedError, "rho0 has total mass 1"),
    ],
)
def test_graph_transport_file_errors(tmp_path: Path, old: str, new: str, error: type, place: str) -> None:
    text = (
        "kind: graph_transport\nnodes:\n  - {name: a, rho0: 1}\n  - {name: b, rho_inf: 1}\n"
        "arcs:\n  - {tail: a, head: b, cost: 2}\n  - {tail: b, head: a, capacity: 5}\ngamma: 0.1\nsplit: 2.4\n"
    )
    assert old in text
    path = write(tmp_path, text.replace(old, new))
    with pytest.raises(error, match=prefix(path, place)) as info:
        load(path)
    assert type(info.value) is error


def test_yaml_exponent_as_a_plain_arc_cost() -> None:
    # YAML 1.1 reads 1e-3 as a string: `cost: {type: linear, c: 1e-3}` was accepted, `cost: 1e-3` was not
    assert yaml.safe_load("c: 1e-3")["c"] == "1e-3"
    p = loads(SMALL.replace("cost: 1.0, upper: 1}", "cost: 1e-3, upper: 1}"))
    assert p.costs.a[0] == 0.0 and p.costs.b[0] == 0.001
    with pytest.raises(ModelFileError, match=r"arcs\[0\]\.cost: expected a number \(linear cost\)"):
        loads(SMALL.replace("cost: 1.0, upper: 1}", "cost: 1e-3x, upper: 1}"))


def test_model_file_errors_are_reported_all_at_once(tmp_path: Path) -> None:
    # the old reader stopped at the first error: fixing a file took one run per mistake
    text = (
        SMALL.replace("supply: 1.0,", "supply: lots,")
        .replace("upper: 1}\n  - {tail: S, head: B", "upper: abc}\n  - {tail: S, head: B")
        .replace("type: quadratic, a: 2.0", "type: cubic, a: 2.0")
        .replace("mass: [0.5, 0.5]", "mass: [0.5, '?']")
    )
    path = write(tmp_path, text)
    with pytest.raises(ModelFileError) as info:
        load(path)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{path}: nodes[0].supply: expected a finite number, got 'lots'",
        f"{path}: arcs[0].upper: expected a number or 'inf', got 'abc'",
        f"{path}: arcs[1].cost.type: unknown arc cost type 'cubic' (known: linear, quadratic)",
        f"{path}: demand.mass[1]: expected a finite number, got '?'",
        f"{path}: 4 errors in this model file",
    ]


def test_collected_errors_keep_model_error_names_and_skip_what_depends_on_a_bad_node(tmp_path: Path) -> None:
    # node B is bad: the arc S -> B is not reported again as "unknown node 'B'"
    path = small(tmp_path, "{name: B,", "{name: no,")
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert str(info.value).count("\n") == 0 and "nodes[2].name" in str(info.value)
    # two independent model errors: both named, each with its type
    path = small(tmp_path, "{tail: S, head: A,", "{tail: S, head: Z,")
    path.write_text(path.read_text().replace("lower: -1, upper: 1}", "lower: 2, upper: 1}"))
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert str(info.value).splitlines() == [
        f"{path}: arcs[0].head: unknown node 'Z' (UnknownNodeError)",
        f"{path}: arcs[1]: arc S->B: lower bound 2.0 exceeds upper bound 1.0 (InvalidBoundsError)",
        f"{path}: 2 errors in this model file",
    ]


def test_collected_errors_stop_at_the_limit() -> None:
    from otmodel.model.io._schema import MAX_REPORTED_ERRORS

    d = {"kind": "flow", "nodes": [{"name": f"n{k}", "supply": "x"} for k in range(10 * MAX_REPORTED_ERRORS)]}
    with pytest.raises(ModelFileError) as info:
        problem_from_dict(d)
    lines = str(info.value).splitlines()
    assert len(lines) == MAX_REPORTED_ERRORS + 1
    assert lines[-1] == f"<dict>: {MAX_REPORTED_ERRORS} errors in this model file (reading stopped there)"
    assert lines[MAX_REPORTED_ERRORS - 1].startswith(f"<dict>: nodes[{MAX_REPORTED_ERRORS - 1}].supply")


def test_docs_graph_transport_example_loads() -> None:
    text = (ROOT / "docs" / "model-files.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("kind: graph_transport")]
    assert len(blocks) == 1
    p = loads(blocks[0], source="docs")
    assert type(p) is GraphTransportProblem and p.name == "three agents" and p.split == "2.6"
    assert p.capacity.tolist() == [math.inf, 1.0, 2.0, math.inf] and p.arc_cost.tolist() == [1.0, 2.0, 0.3, 1.0]
    assert p.regularized_gamma == pytest.approx(0.3)  # per agent 0.1, three agents


def _attraction(directed: bool = False) -> AttractionProblem:
    W = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    cap = np.full((3, 3), math.inf)
    cap[0, 1], cap[1, 1] = 0.5, 0.0  # a zero capacity: nothing may stay at b
    return AttractionProblem(
        W, [1.0, 0.0, 0.0], [0.0, 0.25, 0.75], edge_capacity=cap, storage=[math.inf, 2.0, math.inf],
        omega="1/t", omega_first=0.75, gamma=0.05, eps=1e-4, directed=directed, names=["a", "b", "c"], name="line",
    )


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("ext", [".yaml", ".json"])
def test_attraction_problem_saves_and_loads_as_itself(tmp_path: Path, ext: str, directed: bool) -> None:
    p = _attraction(directed)
    otmodel.save(p, tmp_path / f"a{ext}")
    q = otmodel.load(tmp_path / f"a{ext}")
    assert type(q) is AttractionProblem and q.name == "line" and q.node_names == ("a", "b", "c")
    assert q.directed is directed and q.eps == 1e-4
    assert q.omega.label() == "0.75 then 1/t" and q.gamma.label() == "0.05"
    assert (q.weights != p.weights).nnz == 0 and np.array_equal(q.cost, p.cost)
    for f in ("rho0", "nu", "storage"):
        assert np.array_equal(getattr(q, f), getattr(p, f)), f
    assert np.array_equal(q.edge_capacity.toarray(), p.edge_capacity.toarray())
    # the zero capacity is kept as a capacity (not read as "no bound"): same allowed pairs per step
    j, i, cap = q.step(q.rho0).allowed()
    assert not np.any((j == 1) & (i == 1)) and cap[(j == 0) & (i == 1)].tolist() == [0.5]
    a, b = otmodel.attraction_flow(p), otmodel.attraction_flow(q)
    assert a.rhos.shape == b.rhos.shape and np.array_equal(a.rhos, b.rhos)


def test_attraction_problem_file_errors(tmp_path: Path) -> None:
    text = otmodel.model.io.dumps(_attraction())
    with pytest.raises(ModelFileError, match="cannot write omega"):
        otmodel.model.io.dumps(AttractionProblem(np.ones((2, 2)), [1, 0], [0, 1], omega=lambda t: 0.5))
    cases = [
        ("{tail: a, head: b, weight: 1.0}", "{tail: a, head: z, weight: 1.0}", UnknownNodeError, "edges[0].head: unknown node 'z'"),
        ("{tail: a, head: b, weight: 1.0}", "{tail: a, head: b, weight: -1.0}", ModelFileError, "edges[0].weight: must be >= 0"),
        ("omega: 1/t", "omega: fast", ModelFileError, "omega: expected a number, '1/t' or '1/ln t', got 'fast'"),
        ("{name: c, nu: 0.75}", "{name: c, nu: 0.5}", UnbalancedError, "nu sums to 0.75"),
        ("capacity: 0.5}", "capacity: -0.5}", ModelFileError, "capacities[0].capacity: must be >= 0"),
    ]
    for old, new, error, place in cases:
        assert old in text, old
        path = write(tmp_path, text.replace(old, new, 1))
        with pytest.raises(error, match=prefix(path, place)) as info:
            load(path)
        assert type(info.value) is error


def test_docs_attraction_example_loads() -> None:
    text = (ROOT / "docs" / "model-files.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("kind: attraction")]
    assert len(blocks) == 1
    p = loads(blocks[0], source="docs")
    assert type(p) is AttractionProblem and p.name == "a line of three" and p.omega.label() == "0.75 then 1/t"
    # undirected: a -> b -> c has length 1 + 2 both ways (by hand)
    assert p.cost[0, 2] == 3.0 and p.cost[2, 0] == 3.0 and p.storage.tolist() == [math.inf, 2.0, math.inf]
