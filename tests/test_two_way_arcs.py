"""Two-way arcs (lower < 0 < upper) charge their linear cost on the amount of flow: b|p| (issue 15, 1).

Expected answers come from outside otmodel: the tutorial's network as a hand-built HiGHS LP (scipy's
``linprog``) with every two-way link written as two one-way arcs, random networks from
``networkx.network_simplex`` on the split graph and from a direct cvxpy model with ``cp.abs``, the
local response and the conjugate term from a brute-force minimum over a fine grid of flows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import otmodel as om
from otmodel import Euclidean, Grid, Linear, Network, Quadratic, SpatialFlowProblem, TruncatedGaussian
from otmodel.errors import NonConvexError, UnsupportedError
from otmodel.model.costs import ArcCosts

EXACT = ("highs", "network", "cvxpy", "pyomo")

# the tutorial's network (examples/tutorial.py): (tail, head, cost, lower, upper)
TUTORIAL_ARCS = [
    ("S1", "I1", 50.0, 0.0, 1.0),
    ("S2", "I2", 50.0, 0.0, 1.0),
    ("I1", "I2", 60.0, -0.3, 0.3),
    ("I1", "I3", 40.0, -1.0, 1.0),
    ("I2", "I3", 40.0, -1.0, 1.0),
]
NODES = [("S1", 0.6, (10, 10), False), ("S2", 0.4, (90, 10), False), ("I1", 0.0, (20, 60), True),
         ("I2", 0.0, (80, 60), True), ("I3", 0.0, (50, 90), True)]


def _tutorial(signed: bool = False) -> SpatialFlowProblem:
    net = Network()
    for name, s, pos, end in NODES:
        net.add_node(name, supply=s, position=pos, endpoint=end)
    for t, h, c, lo, up in TUTORIAL_ARCS:
        net.add_arc(t, h, cost=Linear(c, signed=True) if signed else Linear(c), lower=lo, upper=up)
    demand = Grid.from_density(TruncatedGaussian(mean=(50, 75), std=25), bounds=(0, 100, 0, 100), shape=(30, 30))
    return SpatialFlowProblem(net, demand, Euclidean(), name="tutorial")


def _split_lp_optimum(problem: SpatialFlowProblem) -> float:
    """The tutorial's problem (2) with every two-way link as two one-way arcs, as a HiGHS LP built
    here from the raw data (no otmodel compilation)."""
    from scipy.optimize import linprog

    names = [n for n, *_ in NODES]
    idx = {n: i for i, n in enumerate(names)}
    arcs = []  # (tail, head, cost, upper) one-way
    for t, h, c, lo, up in TUTORIAL_ARCS:
        arcs.append((idx[t], idx[h], c, up))
        if lo < 0:
            arcs.append((idx[h], idx[t], c, -lo))
    ends = [idx[n] for n, _, _, e in NODES if e]
    xy = problem.demand.xy
    mass = problem.demand.mass
    ends_xy = np.array([NODES[i][2] for i in ends], dtype=float)
    C = np.hypot(xy[:, None, 0] - ends_xy[None, :, 0], xy[:, None, 1] - ends_xy[None, :, 1])
    N, S, m = len(mass), len(ends), len(arcs)
    cost = np.concatenate([[a[2] for a in arcs], C.reshape(-1)])
    rows, cols, vals = [], [], []
    for k, (t, h, _, _) in enumerate(arcs):
        rows += [t, h]
        cols += [k, k]
        vals += [1.0, -1.0]
    for k in range(N):  # plan entry (k, e): endpoint e's row gets +1, point k's row gets +1
        for e in range(S):
            col = m + k * S + e
            rows += [ends[e], len(names) + k]
            cols += [col, col]
            vals += [1.0, 1.0]
    A = sp.csr_matrix((vals, (rows, cols)), shape=(len(names) + N, m + N * S))
    rhs = np.concatenate([[s for _, s, _, _ in NODES], mass])
    bounds = [(0.0, a[3]) for a in arcs] + [(0.0, None)] * (N * S)
    res = linprog(cost, A_eq=A, b_eq=rhs, bounds=bounds, method="highs")
    assert res.status == 0
    return float(res.fun)


# ------------------------------------------------------------------------------------ the tutorial
def test_tutorial_signed_reading_earned_money_on_backward_flow() -> None:
    """The old meaning, now spelt signed=True: the optimum runs a cycle at -60 per unit on I1->I2."""
    p = _tutorial(signed=True)
    sol = om.solve(p, backend="highs")
    assert sol.flows[2] == pytest.approx(-0.3)  # I2 -> I1 against the arc, credited 60 per unit
    assert float(np.sum(np.array([c for *_, c, _, _ in TUTORIAL_ARCS]) * sol.flows)) == pytest.approx(32.2255, abs=1e-3)
    honest = float(np.sum(np.array([c for *_, c, _, _ in TUTORIAL_ARCS]) * np.abs(sol.flows)))
    assert honest == pytest.approx(100.0, abs=0.01)  # the same flows charged c|p| (issue 15)


@pytest.mark.parametrize("backend", EXACT)
def test_tutorial_optimum_equals_two_one_way_arcs(backend: str) -> None:
    p = _tutorial()
    expected = _split_lp_optimum(p)
    assert expected == pytest.approx(75.73, abs=0.005)  # the figure quoted in issue 15
    sol = om.solve(p, backend=backend)
    assert sol.status is om.Status.OPTIMAL
    assert sol.objective == pytest.approx(expected, rel=1e-7)
    # the objective is recomputed from the flows with c|p| on every arc
    arc_part = float(np.sum(np.array([c for *_, c, _, _ in TUTORIAL_ARCS]) * np.abs(sol.flows)))
    assert p.costs.total(sol.flows) == pytest.approx(arc_part, rel=1e-12)
    if backend != "cvxpy":  # Clarabel's plan misses tiny points' masses by ~1e-13 (4e-8 relative,
        # over feas_tol): so it does on the signed problem too, before and after issue 15
        cert = om.validation.certify(p, sol)
        assert cert.certified, cert.reasons


def test_tutorial_old_optimum_is_not_optimal_now() -> None:
    """The signed optimum's point, certified against the honest problem, is worse than the bound."""
    old = om.solve(_tutorial(signed=True), backend="highs")
    p = _tutorial()
    assert p.objective(old.flows, old.assignment) == pytest.approx(57.248 - 32.2255 + 100.0, abs=0.01)
    assert p.objective(old.flows, old.assignment) > _split_lp_optimum(p) + 49


# ------------------------------------------------------------------------------------ the kink
def _brute_argmin(a: float, b: float, lo: float, up: float, t: float, signed: bool = False) -> tuple[float, float]:
    grid = np.union1d(np.linspace(lo, up, 400_001), [0.0])  # the kink is a candidate
    vals = a * grid * grid + b * (grid if signed else np.abs(grid)) - t * grid
    k = int(np.argmin(vals))
    return float(grid[k]), float(vals[k])


@pytest.mark.parametrize(
    ("a", "b", "t", "expected"),
    [
        (0.0, 2.0, 1.5, 0.0),  # |t| < b: no flow either way
        (0.0, 2.0, -1.9, 0.0),
        (0.0, 2.0, 2.5, 3.0),  # t > b: up to the upper bound
        (0.0, 2.0, -2.5, -1.0),  # t < -b: down to the lower bound (the old reading gave -1 for any t < b)
        (1.0, 2.0, 1.0, 0.0),  # soft threshold: sign(t) max(|t| - b, 0) / (2a)
        (1.0, 2.0, 3.0, 0.5),
        (1.0, 2.0, -3.0, -0.5),
        (1.0, 2.0, -9.0, -1.0),  # clipped at l
        (0.5, 0.0, -1.0, -1.0),  # b = 0: no kink, (t - b) / (2a) clipped
    ],
)
def test_response_kink(a: float, b: float, t: float, expected: float) -> None:
    cost = Quadratic(a, b) if a > 0 else Linear(b)
    got = float(cost.response(t, -1.0, 3.0)[0])
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx(_brute_argmin(a, b, -1.0, 3.0, t)[0], abs=2e-5)


def test_response_and_conjugate_against_a_grid() -> None:
    rng = np.random.default_rng(7)
    m = 60
    a = np.where(rng.random(m) < 0.5, 0.0, rng.uniform(0.1, 3.0, m))
    b = rng.uniform(0.0, 3.0, m)
    lo = -rng.uniform(0.1, 2.0, m)
    up = rng.uniform(0.1, 2.0, m)
    t = rng.uniform(-6.0, 6.0, m)
    costs = ArcCosts.for_arcs(a, b, None, lo, up)
    assert costs.has_kinks and costs.kinked_arcs().size == m
    resp = costs.response(t, lo, up)
    conj = costs.conjugate_term(t, lo, up)
    for k in range(m):
        p_star, v_star = _brute_argmin(a[k], b[k], lo[k], up[k], t[k])
        assert conj[k] == pytest.approx(v_star, abs=1e-9)  # grid step 1e-5: value error a step^2 / 4
        if a[k] > 0 or abs(abs(t[k]) - b[k]) > 1e-9:  # a linear tie is set-valued
            assert resp[k] == pytest.approx(p_star, abs=2e-5)
    # the conjugate term is the arc's value minus t p at the response
    assert np.allclose(conj, costs.value(resp) - t * resp)


def test_signed_cost_keeps_the_old_algebra() -> None:
    c = Linear(2.0, signed=True)
    assert float(c.value(-1.0)) == -2.0
    assert float(c.response(1.0, -1.0, 3.0)[0]) == -1.0  # t < b: the lower bound, as before
    assert float(Linear(2.0).value(-1.0)) == 2.0
    assert _brute_argmin(1.0, 2.0, -1.0, 3.0, 1.0, signed=True)[0] == pytest.approx(
        float(Quadratic(1.0, 2.0, signed=True).response(1.0, -1.0, 3.0)[0]), abs=2e-5
    )


def test_one_way_and_backward_only_arcs() -> None:
    """|p| = p on a one-way arc; an arc with upper <= 0 runs backwards only: b|p| = -b p there."""
    costs = ArcCosts.for_arcs(np.zeros(3), np.array([2.0, 2.0, -1.0]), None, np.array([0.0, -3.0, 0.0]),
                              np.array([4.0, -1.0, 4.0]))
    assert not costs.has_kinks
    assert np.allclose(costs.value(np.array([1.0, -2.0, 1.0])), [2.0, 4.0, -1.0])


# ------------------------------------------------------------------------------------ refusals
def test_negative_cost_on_two_way_arc_is_refused() -> None:
    net = Network()
    net.add_node("A", 1.0)
    net.add_node("B", -1.0)
    with pytest.raises(NonConvexError, match=r"arc A->B: .*two-way arc.*signed"):
        net.add_arc("A", "B", Linear(-1.0), lower=-1, upper=1)
    net.add_arc("A", "B", Linear(-1.0), lower=0, upper=1)  # one-way: a reward is convex
    net.add_arc("A", "B", Linear(-1.0, signed=True), lower=-1, upper=1)  # spelt out
    with pytest.raises(NonConvexError, match=r"arc 1 \(B->A\)"):
        Network.from_arrays(["A", "B"], [1.0, -1.0], [0, 1], [1, 0], linear=[1.0, -1.0], lower=-1.0, upper=1.0)
    Network.from_arrays(["A", "B"], [1.0, -1.0], [0, 1], [1, 0], linear=[1.0, -1.0], lower=-1.0, upper=1.0,
                        signed=np.array([False, True]))


def test_admm_refuses_two_way_kinks() -> None:
    net = Network()
    for n, s in (("A", 1.0), ("B", -1.0)):
        net.add_node(n, s)
    net.add_arc("A", "B", Quadratic(1.0, 0.5), lower=-2, upper=2)
    net.add_arc("B", "A", Quadratic(1.0), lower=0, upper=2)
    with pytest.raises(UnsupportedError, match="two-way arc"):
        om.solve(om.FlowProblem(net), backend="admm")


# ------------------------------------------------------------------------------------ files
def test_signed_cost_saves_and_loads(tmp_path: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    net = Network()
    net.add_node("A", 1.0)
    net.add_node("B", -1.0)
    net.add_arc("A", "B", Linear(-2.0, signed=True), lower=-1, upper=1)
    net.add_arc("A", "B", Quadratic(1.0, 3.0, signed=True), lower=-1, upper=1)
    net.add_arc("B", "A", 3.0, lower=-1, upper=1)
    p = om.FlowProblem(net)
    path = tmp_path / "m.yaml"
    p.save(path)
    text = path.read_text()
    assert text.count("signed: true") == 2
    q = om.load(path)
    assert [a.cost for a in q.network.arcs] == [Linear(-2.0, signed=True), Quadratic(1.0, 3.0, signed=True), Linear(3.0)]
    assert np.array_equal(q.network.signed, [True, True, False])
    # without the flag the first arc's -2|p| is refused, naming the file place
    path.write_text(text.replace("signed: true", "signed: false", 1))
    with pytest.raises(NonConvexError, match=r"arcs\[0\].*two-way"):
        om.load(path)


# ------------------------------------------------------------------------------------ random networks
def _random_two_way(seed: int, quadratic: bool) -> tuple[om.FlowProblem, list[tuple[int, int, float, float, float, float]]]:
    rng = np.random.default_rng(seed)
    n = 9
    arcs = []
    for i in range(n):  # a ring of two-way arcs (feasible for any balanced supply) plus chords
        arcs.append((i, (i + 1) % n))
    for _ in range(10):
        i, j = rng.choice(n, 2, replace=False)
        arcs.append((int(i), int(j)))
    ring = len(arcs) - 10
    supply = rng.integers(-4, 5, n).astype(float)
    supply[-1] -= supply.sum()
    rows = []
    net = Network()
    for i in range(n):
        net.add_node(f"v{i}", float(supply[i]))
    for k, (t, h) in enumerate(arcs):
        b = float(rng.integers(1, 10))
        lo = -float(rng.integers(1, 6)) if k < ring or rng.random() < 0.6 else 0.0
        up = 40.0 if k < ring else float(rng.integers(1, 6)) if rng.random() < 0.8 else math.inf
        lo = -40.0 if k < ring else lo
        a = float(rng.uniform(0.2, 2.0)) if quadratic else 0.0
        rows.append((t, h, a, b, lo, up))
        net.add_arc(f"v{t}", f"v{h}", Quadratic(a, b) if quadratic else Linear(b), lower=lo, upper=up)
    return om.FlowProblem(net), rows


def _networkx_split_optimum(problem: om.FlowProblem, rows: list[tuple[int, int, float, float, float, float]]) -> float:
    import networkx as nx

    g = nx.MultiDiGraph()
    for i, s in enumerate(problem.supply):
        g.add_node(i, demand=-int(s))
    for t, h, _, b, lo, up in rows:
        cap = {} if math.isinf(up) else {"capacity": int(up)}
        g.add_edge(t, h, weight=int(b), **cap)
        if lo < 0:
            g.add_edge(h, t, weight=int(b), capacity=int(-lo))
    cost, _ = nx.network_simplex(g)
    return float(cost)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_backends_agree_on_random_two_way_linear_networks(seed: int) -> None:
    p, rows = _random_two_way(seed, quadratic=False)
    assert p.costs.has_kinks
    expected = _networkx_split_optimum(p, rows)
    for backend in EXACT:
        sol = om.solve(p, backend=backend)
        assert sol.status is om.Status.OPTIMAL, backend
        assert sol.objective == pytest.approx(expected, rel=1e-8, abs=1e-8), backend
        assert p.costs.total(sol.flows) == pytest.approx(expected, rel=1e-8, abs=1e-8), backend
        assert om.validation.certify(p, sol).certified, backend


@pytest.mark.parametrize("seed", [4, 5])
def test_exact_backends_agree_on_random_two_way_quadratic_networks(seed: int) -> None:
    import cvxpy as cp

    p, rows = _random_two_way(seed, quadratic=True)
    x = cp.Variable(len(rows))
    E = p.incidence
    obj = sum(r[2] * cp.square(x[k]) + r[3] * cp.abs(x[k]) for k, r in enumerate(rows))
    cons = [E @ x == np.asarray(p.supply)]
    cons += [x[k] >= r[4] for k, r in enumerate(rows)]
    cons += [x[k] <= r[5] for k, r in enumerate(rows) if math.isfinite(r[5])]
    expected = cp.Problem(cp.Minimize(obj), cons).solve(solver=cp.CLARABEL)
    for backend in (*EXACT, "dual-ascent", "newton"):
        opts: dict[str, object] = {"max_iter": 20000, "tol": 1e-10} if backend in ("dual-ascent", "newton") else {}
        if backend == "newton":  # the dual ascent's Newton step: 1/(2a) curvature also at the kink
            backend, opts["step_size"] = "dual-ascent", om.Newton()
        sol = om.solve(p, backend=backend, **opts)
        assert sol.objective == pytest.approx(expected, rel=1e-6), backend
        cert = om.validation.certify(p, sol)
        assert cert.certified, (backend, cert.reasons)


def test_formulation_dual_matches_the_validation_dual() -> None:
    """Two implementations of q(psi) with the kinked conjugate: the formulation's and validation's."""
    p, _ = _random_two_way(6, quadratic=False)
    from otmodel.formulation import formulation

    q = formulation(p).dual
    rng = np.random.default_rng(0)
    for _ in range(5):
        psi = rng.uniform(-8, 8, p.n_nodes)
        assert q(psi) == pytest.approx(om.validation.dual_value(p, psi), rel=1e-12, abs=1e-9)
    text = formulation(p).to_markdown()
    assert "b_{ij}\\,|p|" in text and "two-way" in text


def test_spatial_quadratic_two_way_network_agrees_with_a_direct_model() -> None:
    """Problem (2) with costs a p^2 + b|p| on the tutorial's two-way links, against cvxpy with cp.abs."""
    import cvxpy as cp

    net = Network()
    for name, s, pos, end in NODES:
        net.add_node(name, supply=s, position=pos, endpoint=end)
    quad = [(t, h, 0.02 * c, 0.2 * c, lo, up) for t, h, c, lo, up in TUTORIAL_ARCS]
    for t, h, a, b, lo, up in quad:
        net.add_arc(t, h, Quadratic(a, b), lower=lo, upper=up)
    demand = Grid.from_density(TruncatedGaussian(mean=(50, 75), std=25), bounds=(0, 100, 0, 100), shape=(10, 10))
    p = SpatialFlowProblem(net, demand, Euclidean())
    assert p.costs.kinked_arcs().tolist() == [2, 3, 4]
    C = p.cost_matrix()
    x = cp.Variable(len(quad))
    pi = cp.Variable(C.shape, nonneg=True)
    ends = np.asarray(p.endpoints)
    assigned = cp.hstack([cp.sum(pi[:, j]) for j in range(len(ends))])
    inflow = [sum(assigned[j] for j in range(len(ends)) if ends[j] == i) for i in range(p.n_nodes)]
    cons = [p.incidence @ x + cp.hstack(inflow) == np.asarray(p.supply), cp.sum(pi, axis=1) == p.demand.mass]
    cons += [x >= np.array([r[4] for r in quad]), x <= np.array([r[5] for r in quad])]
    obj = cp.sum(cp.multiply(C, pi)) + sum(r[2] * cp.square(x[k]) + r[3] * cp.abs(x[k]) for k, r in enumerate(quad))
    expected = cp.Problem(cp.Minimize(obj), cons).solve(solver=cp.CLARABEL)
    for backend in EXACT:
        sol = om.solve(p, backend=backend)
        assert sol.objective == pytest.approx(expected, rel=1e-6), backend
    sol = om.solve(p, backend="dual-ascent", step_size=om.Curvature(), max_iter=3000, tol=1e-10)
    cert = om.validation.certify(p, sol)
    assert cert.certified and cert.upper_bound == pytest.approx(expected, rel=1e-6)


def test_attraction_reads_a_backward_only_arc_length_as_given() -> None:
    """An unsigned arc that runs only backwards (upper <= 0) is stored as -b (b|p| = -b p there);
    an attraction graph must still read its length b, not refuse it as a negative length."""
    net = Network()
    for n in "ABC":
        net.add_node(n)
    net.add_arc("A", "B", cost=Linear(2.0), lower=-1.0, upper=0.0)
    net.add_arc("B", "C", cost=Linear(1.0), upper=1.0)
    p = om.AttractionProblem(net, rho0=[1.0, 0.0, 0.0], nu=[0.0, 0.0, 1.0])
    names = list(p.node_names)
    w = p.weights.tocsr()
    assert w[names.index("B"), names.index("A")] == pytest.approx(2.0)
