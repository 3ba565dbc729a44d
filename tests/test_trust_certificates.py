"""Certificates that are never wrong (issue 10, "False certificates"; issue 18, per-node conservation).

Planted wrong answers -- perturbed flows, potentials, plans, cell masses, objectives, status claims,
chained steps -- at tiny optima and at scales from 1e-9 to 1e9: ``certify``, ``cross_check`` and
``certify_flow`` never vouch for them, and the proven dual bound never exceeds the exact optimum.

Exact optima come from outside the certifier: by hand, from networkx's network simplex on integer
data (exact arithmetic), or from HiGHS on O(1) data cross-checked against cvxpy/Clarabel and then
scaled (the optimum of a problem whose masses are multiplied by alpha and costs by beta is exactly
alpha * beta times the original's; so are the scaled optimal flows and potentials). Feasibility is
re-checked here node by node with an implementation of its own.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from typing import Any

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import small_spatial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.attraction import AttractionFlow, attraction_flow, solve_step
from otmodel.errors import InvalidDataError, OTModelError
from otmodel.model.attraction import AttractionProblem, total_variation
from otmodel.results import PointStatus, Status
from otmodel.validation import certify, certify_flow, cross_check, dual_value

RTOL = 1e-6
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# =============================================================================== helpers
def _claim(sol: om.Solution, **changes: Any) -> om.Solution:
    """The same solution with changed fields, still claiming optimality."""
    return dataclasses.replace(sol, status=Status.OPTIMAL, point_status=PointStatus.FEASIBLE, **changes)


def two_arcs(c1: float, c2: float, mass: float) -> om.FlowProblem:
    """S(+mass) -> T(-mass) over two uncapacitated arcs of linear costs c1 <= c2: optimum mass * c1."""
    net = om.Network()
    net.add_node("S", supply=mass)
    net.add_node("T", supply=-mass)
    net.add_arc("S", "T", cost=om.Linear(c1))
    net.add_arc("S", "T", cost=om.Linear(c2))
    return om.FlowProblem(net)


def relative_infeasibility(p: om.FlowProblem, flows: np.ndarray, plan: Any = None) -> float:
    """Largest residual of (2b)-(2d), each node against |supply| + throughput + assigned mass, each
    demand point against its mass, each bound against its arc's nodes (written here from scratch)."""
    n = p.n_nodes
    t, h = np.asarray(p.tails), np.asarray(p.heads)
    f = np.asarray(flows, dtype=float)
    net = np.zeros(n)
    np.add.at(net, t, f)
    np.add.at(net, h, -f)
    thr = np.zeros(n)
    np.add.at(thr, t, np.abs(f))
    np.add.at(thr, h, np.abs(f))
    r = np.asarray(p.supply, dtype=float) - net
    scale = np.abs(p.supply) + thr
    worst = 0.0
    if plan is not None:
        P = sp.csr_matrix(plan).toarray()
        ends = np.asarray(p.endpoints)
        r[ends] -= P.sum(axis=0)
        scale[ends] += np.abs(P).sum(axis=0)
        mass = p.demand.mass
        rowscale = np.maximum(mass, np.abs(P).sum(axis=1))
        dm = np.abs(P.sum(axis=1) - mass)
        worst = max(worst, float(np.max(np.where(dm > 0, dm / np.where(rowscale > 0, rowscale, 1e-300), 0.0))))
        if np.any(P < 0):
            worst = math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        node = np.where(np.abs(r) > 0, np.abs(r) / scale, 0.0)
        viol = np.maximum(np.maximum(p.lower - f, f - p.upper), 0.0)
        arc = np.where(viol > 0, viol / np.minimum(scale[t], scale[h]), 0.0)
    return max(worst, float(np.max(node, initial=0.0)), float(np.max(arc, initial=0.0)))


def assert_sound(p: om.FlowProblem, sol: om.Solution, c: Any, f_ref: float, ref_err: float) -> None:
    """What a certificate says is true: the dual bound is a bound, and a certified answer is right."""
    if math.isfinite(c.dual_bound):
        assert c.dual_bound <= f_ref + ref_err, (c.dual_bound, f_ref, c.summary())
    if not c.certified:
        assert c.reasons
        return
    slack = RTOL * abs(f_ref) + c.gap_atol + ref_err
    assert c.upper_bound >= f_ref - slack, (c.upper_bound, f_ref)
    assert c.upper_bound - c.dual_bound <= slack + RTOL * abs(f_ref)
    if sol.status is Status.OPTIMAL or sol.point_status is PointStatus.FEASIBLE:
        plan = sol.assignment if p.kind == "spatial" else None
        obj = p.objective(sol.flows, plan) if plan is not None else p.objective(sol.flows)
        assert abs(obj - f_ref) <= slack, (obj, f_ref, c.summary())
        assert abs(sol.objective - f_ref) <= 2 * slack, (sol.objective, f_ref)
        assert relative_infeasibility(p, sol.flows, plan) <= c.feas_tol, c.summary()
        if p.kind == "spatial" and sol.cell_mass is not None:
            col = np.asarray(sp.csr_matrix(sol.assignment).sum(axis=0)).reshape(-1)
            assert np.allclose(sol.cell_mass, col, rtol=1e-7, atol=0.0)
    assert sol.status not in (Status.INFEASIBLE, Status.UNBOUNDED)


def assert_agreement_sound(p: om.FlowProblem, a: om.Solution, cc: Any, f_ref: float, ref_err: float) -> None:
    """cross_check(a, exact) agrees only if a is feasible (as it claims) and as good as the optimum."""
    if not cc.agree:
        assert cc.reasons
        return
    assert abs(cc.objective_a - f_ref) <= 2 * RTOL * abs(f_ref) + cc.atol + ref_err
    claims = a.status is Status.OPTIMAL or a.point_status is PointStatus.FEASIBLE
    plan = a.assignment if p.kind == "spatial" else None
    assert relative_infeasibility(p, a.flows, plan) <= (1e-8 if claims else max(1e-8, cc.rtol))


# =============================================================================== scaled instances
def scaled(p: om.FlowProblem, alpha: float, beta: float) -> om.FlowProblem:
    """``p`` with every mass (supplies, bounds, demand) times alpha and every cost times beta."""
    names = list(p.node_names)
    nm = np.asarray(names, dtype=object)
    spatial = p.kind == "spatial"
    net = om.Network.from_arrays(
        names,
        alpha * np.asarray(p.supply),
        nm[np.asarray(p.tails)],
        nm[np.asarray(p.heads)],
        quadratic=np.asarray(p.costs.a) * beta / alpha,
        linear=np.asarray(p.costs.b) * beta,
        lower=alpha * np.asarray(p.lower),
        upper=alpha * np.asarray(p.upper),
        positions=p.network.positions() if spatial else None,
        endpoints=np.asarray(p.endpoints) if spatial else None,
    )
    if not spatial:
        return om.FlowProblem(net, name=p.name)
    demand = om.Points(p.demand.xy, alpha * p.demand.mass)
    return om.SpatialFlowProblem(net, demand, om.Matrix(beta * p.cost_matrix()), name="scaled")


def scaled_answer(base: om.Solution, q: om.FlowProblem, alpha: float, beta: float) -> om.Solution:
    """The base's exact answer, scaled: optimal for ``scaled(base.problem, alpha, beta)``."""
    plan = None if base.assignment is None else sp.csr_matrix(base.assignment) * alpha
    cm = None if base.cell_mass is None else np.asarray(base.cell_mass) * alpha
    return dataclasses.replace(
        base,
        problem=q,
        flows=alpha * np.asarray(base.flows),
        potentials=beta * np.asarray(base.potentials),
        objective=alpha * beta * base.objective,
        assignment=plan,
        cell_mass=cm,
    )


def _capacitated_qp() -> om.FlowProblem:
    net = om.Network()
    for name, s in (("a", 3.0), ("b", -1.0), ("c", 0.0), ("d", -2.0)):
        net.add_node(name, supply=s)
    net.add_arc("a", "b", cost=om.Quadratic(1.0, 0.5), lower=-1.0, upper=2.0)
    net.add_arc("a", "c", cost=om.Linear(2.0), upper=2.5)
    net.add_arc("b", "d", cost=om.Quadratic(0.3, 1.0))
    net.add_arc("c", "d", cost=om.Linear(0.7))
    net.add_arc("c", "b", cost=om.Quadratic(2.0))
    return om.FlowProblem(net, name="capacitated_qp")


BASES = ["small_flow", "two_arcs", "capacitated_qp", "spatial_qp", "spatial_lp"]


@cache
def base(name: str) -> tuple[om.FlowProblem, om.Solution, float]:
    """(problem, exact answer, optimum) with the optimum confirmed by a second exact backend."""
    if name == "small_flow":
        p = om.load("examples/models/small_flow.yaml")
        p = om.FlowProblem(p.network, name=name)
    elif name == "two_arcs":
        p = om.FlowProblem(two_arcs(1.0, 2.0, 1.0).network, name=name)
    elif name == "capacitated_qp":
        p = _capacitated_qp()
    else:
        p = small_spatial(name == "spatial_qp")
    sol = om.solve(p, backend="highs")
    other = om.solve(p, backend="cvxpy")
    assert sol.status is Status.OPTIMAL and other.status is Status.OPTIMAL
    assert other.objective == pytest.approx(sol.objective, rel=1e-7)
    if name == "two_arcs":
        assert sol.objective == 1.0  # by hand: everything on the arc of cost 1
    return p, sol, float(sol.objective)


#: A cycle of each base (arc index, direction): pushing flow around it keeps every node balanced, so
#: the point stays feasible (for small pushes) and only its objective can give it away.
CYCLES = {
    "small_flow": [(2, 1), (3, -1), (4, -1)],  # B->D up, B->C and C->D down
    "two_arcs": [(0, 1), (1, -1)],
    "capacitated_qp": [(0, 1), (1, -1), (2, 1), (3, -1)],  # a->b->d up, a->c->d down
    "spatial_qp": [(0, 1), (2, 1), (3, -1)],  # S1->E1->E2 up, S1->E2 down
    "spatial_lp": [(0, 1), (2, 1), (3, -1)],
}

KINDS = [
    "exact",
    "cycle",
    "flow",
    "flow_recomputed_objective",
    "flows_scaled",
    "potentials_noise",
    "potential_single",
    "objective",
    "status_infeasible",
    "point_infeasible",
    "drop_smallest_node",
    "plan_move",
    "cell_mass",
]


def plant(p: om.FlowProblem, sol: om.Solution, kind: str, delta: float, rng: np.random.Generator) -> om.Solution:
    """A wrong (or, for "exact" and tiny deltas, a right) answer derived from the exact one."""
    flows = np.array(sol.flows, dtype=float)
    psi = np.array(sol.potentials, dtype=float)
    plan = None if sol.assignment is None else sp.csr_matrix(sol.assignment, dtype=float, copy=True)
    fscale = max(float(np.max(np.abs(flows), initial=0.0)), float(np.max(np.abs(p.supply))), 1e-300)
    pscale = max(float(np.max(np.abs(psi), initial=0.0)), 1e-300)
    if kind == "exact":
        return sol
    if kind == "cycle":
        name = p.name if p.kind == "flow" else ("spatial_qp" if not p.is_linear else "spatial_lp")
        for k, sign in CYCLES[name]:
            flows[k] += sign * delta * fscale
        return _claim(sol, flows=flows, objective=p.objective(flows, plan) if plan is not None else p.objective(flows))
    if kind in ("flow", "flow_recomputed_objective"):
        k = int(rng.integers(p.n_arcs))
        flows[k] += delta * max(abs(flows[k]), fscale * 1e-3)
        if kind == "flow":
            return _claim(sol, flows=flows)
        return _claim(sol, flows=flows, objective=p.objective(flows, plan) if plan is not None else p.objective(flows))
    if kind == "flows_scaled":
        return _claim(sol, flows=flows * (1 + delta))
    if kind == "potentials_noise":
        return _claim(sol, potentials=psi + delta * pscale * rng.standard_normal(p.n_nodes))
    if kind == "potential_single":
        psi[int(rng.integers(p.n_nodes))] += delta * pscale * (1 if rng.random() < 0.5 else -1)
        return _claim(sol, potentials=psi)
    if kind == "objective":
        return _claim(sol, objective=sol.objective * (1 + delta) + (delta if sol.objective == 0 else 0.0))
    if kind == "status_infeasible":
        return dataclasses.replace(sol, status=Status.INFEASIBLE)
    if kind == "point_infeasible":
        return dataclasses.replace(sol, point_status=PointStatus.INFEASIBLE_POINT)
    if kind == "drop_smallest_node":
        nz = np.flatnonzero(np.asarray(p.supply) != 0)
        i = int(nz[np.argmin(np.abs(np.asarray(p.supply)[nz]))])
        flows[(np.asarray(p.tails) == i) | (np.asarray(p.heads) == i)] = 0.0
        obj = p.objective(flows, plan) if plan is not None else p.objective(flows)
        return _claim(sol, flows=flows, objective=obj)
    if kind == "plan_move" and plan is not None:
        P = plan.toarray()
        k = int(rng.integers(P.shape[0]))
        j = int(np.argmax(P[k]))
        moved = delta * P[k, j]
        P[k, j] -= moved
        P[k, (j + 1) % P.shape[1]] += moved
        newplan = sp.csr_matrix(P)
        return _claim(
            sol,
            assignment=newplan,
            cell_mass=np.asarray(newplan.sum(axis=0)).reshape(-1),
            objective=p.objective(flows, newplan),
        )
    if kind == "cell_mass" and sol.cell_mass is not None:
        cm = np.array(sol.cell_mass, dtype=float)
        cm[int(rng.integers(cm.size))] *= 1 + delta
        return dataclasses.replace(sol, cell_mass=cm)
    return sol


def is_wrong(p: om.FlowProblem, planted: om.Solution, f_ref: float) -> bool:
    """Whether a planted answer is wrong by more than the tolerances: infeasible, or off the optimum,
    or a status/field that misreports (judged here without the certifier)."""
    plan = planted.assignment if p.kind == "spatial" else None
    if planted.status in (Status.INFEASIBLE, Status.UNBOUNDED):
        return True
    if planted.status is Status.OPTIMAL and planted.point_status is not PointStatus.FEASIBLE:
        return True
    if relative_infeasibility(p, planted.flows, plan) > 1e-8:
        return True
    obj = p.objective(planted.flows, plan) if plan is not None else p.objective(planted.flows)
    if abs(obj - f_ref) > 10 * RTOL * abs(f_ref) or abs(planted.objective - obj) > 10 * RTOL * abs(obj):
        return True
    if plan is not None and planted.cell_mass is not None:
        col = np.asarray(sp.csr_matrix(plan).sum(axis=0)).reshape(-1)
        if np.any(np.abs(planted.cell_mass - col) > 1e-6 * np.abs(col)):
            return True
    return False


# =============================================================================== the planted suite
@SETTINGS
@given(
    name=st.sampled_from(BASES),
    kind=st.sampled_from(KINDS),
    delta=st.sampled_from([1e-9, 1e-7, 1e-5, 1e-3, 0.1, 0.5]),
    alpha_exp=st.integers(-9, 9),
    beta_exp=st.integers(-9, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_planted_answers_are_never_certified(
    name: str, kind: str, delta: float, alpha_exp: int, beta_exp: int, seed: int
) -> None:
    p0, sol0, f0 = base(name)
    alpha, beta = 10.0**alpha_exp, 10.0**beta_exp
    p = scaled(p0, alpha, beta)
    exact = scaled_answer(sol0, p, alpha, beta)
    f_ref = alpha * beta * f0
    ref_err = 1e-7 * abs(f_ref)  # the base optimum agrees between HiGHS and cvxpy to 1e-7
    planted = plant(p, exact, kind, delta, np.random.default_rng(seed))
    c = certify(p, planted)
    assert_sound(p, planted, c, f_ref, ref_err)
    if is_wrong(p, planted, f_ref):
        assert not c.certified, c.summary()
    cc = cross_check(p, planted, exact)
    assert_agreement_sound(p, planted, cc, f_ref, ref_err)
    if is_wrong(p, planted, f_ref):
        assert not cc.agree, cc.summary()
    if kind == "exact":
        # the right answer, at any scale, is recognised (and the interval is tight around f_ref)
        assert c.certified, c.summary()


@pytest.mark.parametrize("name", BASES)
@pytest.mark.parametrize("alpha_exp", [-9, 0, 9])
@pytest.mark.parametrize("beta_exp", [-9, 0, 9])
def test_a_solver_answer_at_every_scale_is_certified_only_if_right(name: str, alpha_exp: int, beta_exp: int) -> None:
    """HiGHS solves the scaled problem itself; whatever it returns, a certificate is never wrong."""
    p0, _, f0 = base(name)
    alpha, beta = 10.0**alpha_exp, 10.0**beta_exp
    p = scaled(p0, alpha, beta)
    sol = om.solve(p, backend="highs")
    c = certify(p, sol)
    assert_sound(p, sol, c, alpha * beta * f0, 1e-7 * abs(alpha * beta * f0))


# ------------------------------------------------------------------------------ mixed scales, exact
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exps=st.lists(st.integers(0, 9), min_size=2, max_size=4),
    digits=st.lists(st.integers(1, 9), min_size=4, max_size=4),
    weights=st.lists(st.integers(1, 20), min_size=16, max_size=16),
    seed=st.integers(0, 2**32 - 1),
)
def test_mixed_scale_supplies_against_networkx(exps: list[int], digits: list[int], weights: list[int], seed: int) -> None:
    """Supplies from 1 to 9e9 in one network (issue 18); networkx's network simplex on the integer
    data is the exact optimum. A point that drops the smallest source is never certified (HiGHS's own
    answer may already have dropped one: then the first node found is named)."""
    rng = np.random.default_rng(seed)
    k = len(exps)
    sup = [digits[i] * 10**e for i, e in enumerate(exps)]
    dem = list(rng.permutation(sup))
    G = nx.DiGraph()
    net = om.Network()
    for i in range(k):
        G.add_node(f"s{i}", demand=-int(sup[i]))
        G.add_node(f"c{i}", demand=int(dem[i]))
        net.add_node(f"s{i}", supply=float(sup[i]))
    for i in range(k):
        net.add_node(f"c{i}", supply=-float(dem[i]))
    for i in range(k):
        for j in range(k):
            w = weights[(4 * i + j) % 16]
            G.add_edge(f"s{i}", f"c{j}", weight=w)
            net.add_arc(f"s{i}", f"c{j}", cost=om.Linear(float(w)))
    f_ref = float(nx.min_cost_flow_cost(G))
    p = om.FlowProblem(net)
    sol = om.solve(p, backend="highs")
    c = certify(p, sol)
    assert_sound(p, sol, c, f_ref, 1e-9 * f_ref)
    # the answer with the smallest source's shipments dropped: never certified, the source named
    i = int(np.argmin(sup))
    flows = np.array(sol.flows, dtype=float)
    flows[np.asarray(p.tails) == p.node_index(f"s{i}")] = 0.0
    wrong = _claim(sol, flows=flows, objective=p.objective(flows))
    cw = certify(p, wrong)
    assert not cw.certified
    assert any("flow conservation (2b) at node '" in r for r in cw.reasons), cw.reasons
    assert_sound(p, wrong, cw, f_ref, 1e-9 * f_ref)
    cc = cross_check(p, wrong, sol)
    assert not cc.agree


# =============================================================================== regression: C1
def _c1() -> tuple[om.FlowProblem, om.Solution]:
    p = two_arcs(1e-6, 2e-6, 1e6)  # optimum 1.0, by hand
    sol = om.solve(p, backend="highs")
    flows = np.array([1e6 * (1 - 9e-4), 900.0])
    wrong = _claim(sol, flows=flows, potentials=np.array([1e-6 + 0.9e-9, 0.0]), objective=p.objective(flows))
    return p, wrong


def test_c1_a_forgiven_price_is_not_a_bound() -> None:
    """Issue 10, C1: main certified this point, "the optimum lies in [1.0009, 1.0009]" (optimum 1.0):
    q(psi) = -inf was forgiven as price round-off and evaluated at the arc's cost."""
    p, wrong = _c1()
    c = certify(p, wrong)
    assert not c.certified, c.summary()
    assert c.dual_value_raw == -math.inf
    assert c.dual_bound <= 1.0  # proven: q at potentials shifted onto dual feasibility
    assert c.dual_bound == pytest.approx(1.0, rel=1e-9)
    assert c.dual_potentials is not None and c.dual_potentials[0] - c.dual_potentials[1] <= 1e-6
    assert any("certified gap" in r for r in c.reasons)
    assert "shifted down onto dual feasibility" in " ".join(c.notes)


def test_c1_dual_value_with_price_tol_never_exceeds_the_optimum() -> None:
    """dual_value's round-off forgiveness shifts potentials instead of pretending the price fits:
    main returned 1.0009 here, above the optimum 1.0."""
    p, wrong = _c1()
    q = dual_value(p, wrong.potentials, price_tol=1e-8)
    assert q <= 1.0
    assert q == pytest.approx(1.0, rel=1e-9)
    assert dual_value(p, wrong.potentials) == -math.inf
    assert dual_value(p, wrong.potentials, price_tol=1e-10) == -math.inf  # the violation is 9e-10 > 1e-10


@SETTINGS
@given(
    scale=st.integers(-9, 9),
    bump=st.floats(1e-14, 1e-3),
    seed=st.integers(0, 2**32 - 1),
)
def test_c1_class_proven_bound_below_optimum(scale: int, bump: float, seed: int) -> None:
    """Any potentials, dual feasible or not: the certificate's dual bound never exceeds the optimum."""
    c1 = 10.0**scale
    p = two_arcs(c1, 2 * c1, 10.0 ** (-scale))  # optimum 1 at every scale
    rng = np.random.default_rng(seed)
    psi = np.array([c1 * (1 + bump * rng.uniform(-1, 1)), 0.0]) + c1 * rng.uniform(-5, 5)
    sol = _claim(om.solve(p, backend="highs"), potentials=psi)
    c = certify(p, sol)
    assert c.dual_bound <= 1.0
    q = dual_value(p, psi, price_tol=abs(bump) * c1 * 10)
    assert q <= 1.0 + 4 * np.finfo(float).eps  # q itself, evaluated in floating point (no rounding bound)


# =============================================================================== regression: C2
def test_c2_cell_mass_is_checked() -> None:
    """Issue 10, C2: reversed and scaled cell masses were CERTIFIED while mass("E1") read them."""
    p = small_spatial(True)
    sol = om.solve(p, backend="highs")
    assert certify(p, sol).certified
    bad = dataclasses.replace(sol, cell_mass=sol.cell_mass[::-1] * 1.1)
    assert bad.mass("E1") != pytest.approx(sol.mass("E1"))
    c = certify(p, bad)
    assert not c.certified
    assert any(r.startswith("cell_mass") and "'E1'" in r for r in c.reasons), c.reasons


def test_c2_every_field_a_user_reads() -> None:
    p = small_spatial(True)
    sol = om.solve(p, backend="highs")
    flow = om.load("examples/models/small_flow.yaml")
    fsol = om.solve(flow, backend="highs")
    cases = {
        "reported objective": _claim(sol, objective=sol.objective * (1 + 1e-4)),
        "status claim": dataclasses.replace(sol, status=Status.UNBOUNDED),
        "cell_mass": dataclasses.replace(sol, cell_mass=sol.cell_mass[:1]),
    }
    for what, wrong in cases.items():
        c = certify(p, wrong)
        assert not c.certified and any(r.startswith(what) for r in c.reasons), (what, c.reasons)
    c = certify(flow, dataclasses.replace(fsol, cell_mass=np.ones(2)))
    assert not c.certified and any("cell_mass" in r for r in c.reasons)
    # a solution whose own problem orders the nodes differently: its name-keyed views read other numbers
    net = flow.network.copy()
    names = list(reversed(flow.node_names))
    nm = np.asarray(flow.node_names, dtype=object)
    other = om.FlowProblem(
        om.Network.from_arrays(
            names,
            [flow.supply[flow.node_index(n)] for n in names],
            nm[flow.tails],
            nm[flow.heads],
            quadratic=flow.costs.a,
            linear=flow.costs.b,
            lower=flow.lower,
            upper=flow.upper,
        )
    )
    assert net.n_nodes == other.n_nodes
    c = certify(flow, dataclasses.replace(fsol, problem=other))
    assert not c.certified and any("the solution's problem" in r for r in c.reasons)


# =============================================================================== regression: C3
N_ATTR = 10


def _attraction_problem() -> AttractionProblem:
    rng = np.random.default_rng(7)
    rows = list(range(N_ATTR))  # a ring: mass moves one edge per step (support rule (15))
    cols = [(i + 1) % N_ATTR for i in range(N_ATTR)]
    W = sp.csr_matrix((rng.uniform(1.0, 2.0, len(rows)), (rows, cols)), shape=(N_ATTR, N_ATTR))
    rho0 = np.zeros(N_ATTR)
    rho0[[0, 1, 2]] = [0.5, 0.3, 0.2]
    nu = np.zeros(N_ATTR)
    nu[[5, 6, 7]] = [0.2, 0.5, 0.3]
    return AttractionProblem(W, rho0, nu, omega=0.3, gamma=0.25, eps=0.01)


@cache
def _exact_flow() -> AttractionFlow:
    return attraction_flow(_attraction_problem(), "highs", max_steps=6)


def _rechained(flow: AttractionFlow, k: int, moved: float) -> AttractionFlow:
    """Step k replaced by an exact step from a distribution where ``moved`` of the mass went back to
    node 0, the later steps recomputed from there; rhos and tv follow the steps' ends."""
    prob = flow.problem
    steps = list(flow.steps[:k])
    rho = np.array(steps[-1].rho_next if steps else prob.rho0, dtype=float)
    j = 1 + int(np.argmax(rho[1:]))  # the heaviest node other than 0
    assert rho[j] >= moved
    rho[j] -= moved
    rho[0] += moved
    for t in range(k, flow.n_steps):
        res = solve_step(prob.step(rho, t), "highs")
        assert res.ok
        steps.append(res)
        rho = np.array(res.rho_next, dtype=float)
    ends = [np.asarray(prob.rho0, dtype=float)] + [np.asarray(s.rho_next, dtype=float) for s in steps]
    return dataclasses.replace(
        flow, steps=steps, rhos=np.array(ends), tv=np.array([total_variation(e, prob.nu) for e in ends])
    )


def test_c3_steps_must_chain() -> None:
    """Issue 10, C3: a step replaced by an exact step from another distribution was CERTIFIED."""
    flow = _exact_flow()
    assert flow.n_steps >= 4
    good = certify_flow(flow, exact=False)
    assert good.ok, good.summary()
    bad = certify_flow(_rechained(flow, 2, 0.05), exact=False)
    assert all(s.ok for s in bad.steps)  # every step is right on its own ...
    assert not bad.ok  # ... but they are not one flow
    assert good.chained and not bad.chained
    assert "step 2 does not start from where step 1 ended" in bad.verdict
    assert bad.chain[2] == pytest.approx(0.1, rel=1e-9)  # 0.05 taken from one node, given to another


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("moved", [1e-5, 1e-3, 0.05])
def test_planted_flows_are_never_certified(k: int, moved: float) -> None:
    flow = _exact_flow()
    assert not certify_flow(_rechained(flow, k, moved), exact=False).ok
    s = flow.steps[1]
    wrong_fields = {
        "transport cost": dataclasses.replace(
            flow, steps=[*flow.steps[:1], dataclasses.replace(s, transport_cost=s.transport_cost * 1.01), *flow.steps[2:]]
        ),
        "objective": dataclasses.replace(
            flow, steps=[*flow.steps[:1], dataclasses.replace(s, objective=s.objective * 0.99), *flow.steps[2:]]
        ),
        "rhos": dataclasses.replace(flow, rhos=flow.rhos[::-1]),
        "tv": dataclasses.replace(flow, tv=flow.tv * 0.5),
        "status converged": dataclasses.replace(
            flow, steps=flow.steps[:2], rhos=flow.rhos[:3], tv=flow.tv[:3], status=Status.CONVERGED
        ),
    }
    for what, wrong in wrong_fields.items():
        fc = certify_flow(wrong, exact=False)
        assert not fc.ok and any(what in e for e in fc.field_errors), (what, fc.field_errors)


# =============================================================================== regression: C4
def test_c4_a_relative_gap_is_relative() -> None:
    """Issue 10, C4: optimum 1e-7, a point at 1.3e-7 (30 % worse) claimed OPTIMAL was CERTIFIED
    (the gap was divided by max(1, |upper|))."""
    p = two_arcs(1e-7, 1.3e-7, 1.0)
    sol = om.solve(p, backend="highs")
    assert sol.objective == pytest.approx(1e-7, rel=1e-12)
    c = certify(p, sol)
    assert c.certified and c.dual_bound <= 1e-7 <= c.upper_bound
    wrong = _claim(sol, flows=np.array([0.0, 1.0]), objective=1.3e-7)
    c = certify(p, wrong)
    assert not c.certified
    assert c.relative_gap == pytest.approx(0.3, rel=1e-6)
    assert c.gap_atol == pytest.approx(1e-12 * 2 * 1.3e-7)  # 1e-12 x the natural cost scale, stated
    assert "gap_atol" in c.summary()
    # the floor is the user's: with a floor above the gap the same point passes the gap test
    assert certify(p, wrong, gap_atol=1e-7).certified


def test_c4_cross_check_objectives_relative() -> None:
    p = two_arcs(1e-7, 1.3e-7, 1.0)
    sol = om.solve(p, backend="highs")
    worse = _claim(sol, flows=np.array([0.0, 1.0]), objective=1.3e-7)
    cc = cross_check(p, worse, sol)
    assert not cc.agree and any("objectives differ" in r for r in cc.reasons)


# =============================================================================== cross_check feasibility
def test_cross_check_refuses_points_that_violate_conservation() -> None:
    """Issue 10: cross_check agreed with points violating conservation by 1e-6 to 1.4e-5."""
    p = om.load("examples/models/small_flow.yaml")
    sol = om.solve(p, backend="highs")
    for eps in (1e-6, 1.4e-5):
        flows = sol.flows.copy()
        flows[p.arc_index("C", "E")] += eps
        wrong = _claim(sol, flows=flows, objective=p.objective(flows))
        cc = cross_check(p, wrong, sol, rtol=1e-4)
        assert not cc.agree
        assert any("point a" in r and "node 'E'" in r for r in cc.reasons), cc.reasons
        assert "not checked" in cc.summary() and "feasibility of a" in cc.summary()


# =============================================================================== issue 18
def _faux_infinity() -> tuple[om.FlowProblem, float]:
    """networkx's faux_infinity supplies: s0 1e9, s1 4, c0 demand 4, c1 demand 1e9."""
    G = nx.DiGraph()
    net = om.Network()
    for name, s in (("s0", 10**9), ("s1", 4), ("c0", -4), ("c1", -(10**9))):
        G.add_node(name, demand=-s)
        net.add_node(name, supply=float(s))
    for u, v, w in (("s0", "c1", 3), ("s1", "c0", 3), ("s0", "c0", 5), ("s1", "c1", 5)):
        G.add_edge(u, v, weight=w)
        net.add_arc(u, v, cost=om.Linear(float(w)))
    return om.FlowProblem(net, name="faux_infinity"), float(nx.min_cost_flow_cost(G))


def test_issue18_a_node_that_ships_nothing_is_not_certified() -> None:
    p, f_ref = _faux_infinity()
    assert f_ref == 3_000_000_012
    sol = om.solve(p, backend="highs")
    flows = np.zeros(p.n_arcs)
    flows[p.arc_index("s0", "c1")] = 1e9  # s1 ships nothing, c0 receives nothing
    wrong = _claim(sol, flows=flows, objective=3e9)
    c = certify(p, wrong)
    assert not c.certified
    assert any("node 's1'" in r or "node 'c0'" in r for r in c.reasons), c.reasons
    assert c.primal_residual == 1.0  # all of its supply 4 (and it carries nothing else)
    assert_sound(p, wrong, c, f_ref, 0.0)
    cc = cross_check(p, wrong, sol)
    assert not cc.agree and any("node 's1'" in r or "node 'c0'" in r for r in cc.reasons), cc.reasons


# =============================================================================== typed errors
def test_wrong_argument_types_raise_typed_errors() -> None:
    p = two_arcs(1.0, 2.0, 1.0)
    sol = om.solve(p, backend="highs")
    calls = [
        lambda: certify(p, "x"),  # type: ignore[arg-type]
        lambda: certify("x", sol),  # type: ignore[arg-type]
        lambda: certify(p, sol, rtol=float("nan")),
        lambda: certify(p, sol, feas_tol=-1.0),
        lambda: certify(p, sol, gap_atol="big"),  # type: ignore[arg-type]
        lambda: cross_check(p, sol, "x"),  # type: ignore[arg-type]
        lambda: cross_check(p, sol, sol, rtol=float("inf")),
        lambda: certify_flow("x"),  # type: ignore[arg-type]
        lambda: dual_value(p, "abc"),
        lambda: dual_value(p, [0.0]),
        lambda: dual_value(p, [0.0, 0.0], price_tol=float("nan")),
    ]
    for call in calls:
        with pytest.raises(OTModelError):
            call()
    with pytest.raises(InvalidDataError, match="solution must be an otmodel Solution, got str"):
        certify(p, "x")  # type: ignore[arg-type]
