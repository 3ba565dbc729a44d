"""Infeasibility and unboundedness certificates, found and verified without any LP solver."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import otmodel as om
from otmodel.certificates import (
    cut_values,
    demand_groups,
    find_infeasible_cut,
    find_unbounded_cycle,
    verify_infeasibility_certificate,
    verify_unbounded_certificate,
)
from otmodel.instances import synthetic
from otmodel.results import InfeasibilityCertificate, UnboundedCertificate

INF = math.inf


def flow_problem(nodes, arcs):
    net = om.Network()
    for name, s in nodes:
        net.add_node(name, s)
    for t, h, c, lo, up in arcs:
        net.add_arc(t, h, c, lo, up)
    return om.FlowProblem(net)


def spatial_problem(nodes, arcs, mass, C):
    net = om.Network()
    for name, s, end in nodes:
        net.add_node(name, s, endpoint=end)
    for t, h, c, lo, up in arcs:
        net.add_arc(t, h, c, lo, up)
    n = len(mass)
    pts = om.Points(np.column_stack([np.arange(n), np.zeros(n)]), mass)
    return om.SpatialFlowProblem(net, pts, om.Matrix(C))


# ----------------------------------------------------------------------------- feasible -> None
def test_feasible_flow_problems_give_none():
    p = flow_problem([("A", 2), ("B", 0), ("C", -2)], [("A", "B", 1, 0, INF), ("B", "C", 1, 0, 2)])
    assert find_infeasible_cut(p) is None
    # exactly at capacity is still feasible
    p = flow_problem([("S", 2), ("T", -2)], [("S", "T", 1, 0, 1), ("S", "T", 1, 0, 1)])
    assert find_infeasible_cut(p) is None
    # negative and infinite bounds: flow against the arc
    p = flow_problem([("A", -1), ("B", 1)], [("A", "B", 1, -INF, 0)])
    assert find_infeasible_cut(p) is None
    # a forced circulation that can close
    p = flow_problem([("A", 0), ("B", 0)], [("A", "B", 0, 1, 2), ("B", "A", 0, 0, 1.5)])
    assert find_infeasible_cut(p) is None


def test_feasible_spatial_problems_give_none():
    assert find_infeasible_cut(synthetic(12)) is None
    assert find_infeasible_cut(synthetic(8, linear=True)) is None
    p = spatial_problem(
        [("S", 1, False), ("E1", 0, True), ("E2", 0, True)],
        [("S", "E1", 0, 0, 0.5), ("S", "E2", 0, 0, 0.5)],
        [0.5, 0.5],
        [[INF, 1.0], [1.0, INF]],
    )
    assert find_infeasible_cut(p) is None


# ----------------------------------------------------------------------------- infeasible -> verified cut
def test_capacity_cut():
    p = flow_problem([("S", 3), ("M", 0), ("T", -3)], [("S", "T", 1, 0, 1), ("S", "M", 1, 0, 1), ("M", "T", 1, 0, 5)])
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert c.excess == pytest.approx(1.0)
    assert set(c.nodes) in ({"S"}, {"M", "T"})
    assert "can carry at most" in c.describe()


def test_negative_lower_bounds_cut():
    p = flow_problem(
        [("A", 0), ("B", 0), ("C", 0)], [("A", "B", 1, -2, -1), ("A", "C", 1, 0, 0.5), ("C", "B", 1, 0, INF)]
    )
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert c.excess == pytest.approx(0.5)


def test_infinite_bounds_cut():
    # lower = -inf, upper = -1: at least 1 unit must enter A, which has no way out
    p = flow_problem([("A", 0), ("B", 0)], [("A", "B", 1, -INF, -1), ("B", "A", 1, 0, INF)])
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    # supply at a node whose only arcs point inwards, with infinite capacity
    p = flow_problem([("A", 1), ("B", -1)], [("B", "A", 1, 0, INF)])
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert c.cut_capacity == 0 and c.net_supply == pytest.approx(1)


def test_spatial_group_cut():
    p = spatial_problem(
        [("S", 1, False), ("E1", 0, True), ("E2", 0, True)],
        [("S", "E1", 1, 0, INF), ("S", "E2", 1, 0, 0.2)],
        [0.6, 0.4],
        [[INF, 1.0], [1.0, 1.0]],
    )
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert "demand[E2]" in c.nodes or "demand[E1,E2]" in c.nodes
    assert c.excess == pytest.approx(0.4)
    # the hand-written certificate of the conformance case verifies too
    assert verify_infeasibility_certificate(p, InfeasibilityCertificate(("E2", "demand[E2]"), 0.6, 0.2, "in"))
    assert verify_infeasibility_certificate(p, InfeasibilityCertificate(("S", "E1", "demand[E1,E2]"), 0.6, 0.2, "out"))


def test_spatial_group_two_endpoints():
    # points that only E1 or E2 can serve need 0.8; E1 and E2 can receive 0.3 each
    C = [[1.0, 1.0, INF], [1.0, 1.0, INF], [INF, INF, 1.0]]
    p = spatial_problem(
        [("S", 1, False), ("E1", 0, True), ("E2", 0, True), ("E3", 0, True)],
        [("S", "E1", 1, 0, 0.3), ("S", "E2", 1, 0, 0.3), ("S", "E3", 1, 0, INF)],
        [0.4, 0.4, 0.2],
        C,
    )
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert c.excess == pytest.approx(0.2)
    # the cut separates the group that needs E1 or E2 from the source (either side may be reported)
    assert ("demand[E1,E2]" in c.nodes) != ("S" in c.nodes)


def test_groups_are_few_for_many_points():
    n = 20_000
    rng = np.random.default_rng(0)
    C = rng.uniform(1, 2, (n, 3))
    pattern = rng.integers(3, size=n)
    C[pattern == 0, 2] = INF  # group {E1, E2}
    C[pattern == 1, 0] = INF  # group {E2, E3}
    mass = rng.uniform(0, 1, n)
    mass *= 1 / mass.sum()
    p = spatial_problem(
        [("S", 1, False), ("E1", 0, True), ("E2", 0, True), ("E3", 0, True)],
        [("S", "E1", 0, 0, 0.1), ("S", "E2", 0, 0, 0.1), ("S", "E3", 0, 0, INF)],
        mass,
        C,
    )
    groups, totals = demand_groups(p)
    assert len(groups) == 3 and totals.sum() == pytest.approx(1.0)
    t = time.perf_counter()
    c = find_infeasible_cut(p)
    assert time.perf_counter() - t < 5
    assert c is not None and verify_infeasibility_certificate(p, c)
    # the group that needs E1 or E2 (about a third of the mass) cannot be served by 0.2
    assert ("demand[E1,E2]" in c.nodes) != ("S" in c.nodes)


# ----------------------------------------------------------------------------- wrong certificates are rejected
def test_wrong_certificates_do_not_verify():
    p = flow_problem([("S", 3), ("M", 0), ("T", -3)], [("S", "T", 1, 0, 1), ("S", "M", 1, 0, 1), ("M", "T", 1, 0, 5)])
    # {S, M}: net supply 3, cut S->T (1) + M->T (5) = 6 can carry it
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("S", "M"), 3.0, 2.0, "out"))
    # the numbers in the certificate are not trusted
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("S", "M"), 10.0, 0.0, "out"))
    # the right set in the wrong direction
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("S",), 3.0, 2.0, "in"))
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("S",), 3.0, 2.0, "sideways"))
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("X",), 3.0, 2.0, "out"))
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate((), 3.0, 2.0, "out"))
    # the right one does
    assert verify_infeasibility_certificate(p, InfeasibilityCertificate(("S",), 3.0, 2.0, "out"))
    assert verify_infeasibility_certificate(p, InfeasibilityCertificate(("M", "T"), 3.0, 2.0, "in"))
    assert cut_values(p, ["S"]) == (3.0, 2.0)
    # a certificate of a feasible problem never verifies, whatever set it names
    q = flow_problem([("S", 2), ("T", -2)], [("S", "T", 1, 0, 2)])
    for nodes in [("S",), ("T",), ("S", "T")]:
        for d in ("out", "in"):
            assert not verify_infeasibility_certificate(q, InfeasibilityCertificate(nodes, 2.0, 0.0, d))


def test_excess_within_tolerance_does_not_verify():
    p = flow_problem([("S", 1 + 1e-12), ("T", -1 - 1e-12)], [("S", "T", 1, 0, 1)])
    assert find_infeasible_cut(p) is None
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("S",), 1.0, 1.0, "out"))


def test_wrong_spatial_certificates():
    p = spatial_problem(
        [("S", 1, False), ("E1", 0, True), ("E2", 0, True)],
        [("S", "E1", 1, 0, INF), ("S", "E2", 1, 0, 0.2)],
        [0.6, 0.4],
        [[INF, 1.0], [1.0, 1.0]],
    )
    # without E2 the group's demand can come from E2 -> demand[E2], an arc of unlimited capacity
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("demand[E2]",), 0.6, 0.0, "in"))
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("E2", "demand[E9]"), 0.6, 0.2, "in"))
    assert not verify_infeasibility_certificate(p, InfeasibilityCertificate(("E2", "demand[E1,E2]"), 0.6, 0.2, "in"))


# ----------------------------------------------------------------------------- unboundedness
def test_unbounded_cycle_found_and_verified():
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", -3, 0, INF), ("C", "A", 1, 0, INF)]
    )
    c = find_unbounded_cycle(p)
    assert c is not None and verify_unbounded_certificate(p, c)
    assert c.cost == pytest.approx(-1.0)
    assert set(c.nodes) == {"A", "B", "C"}


def test_unbounded_backward_arc():
    # a signed cost credits flow pushed against the arc: 3 per unit, and A->B->C costs 2
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)],
        [("A", "B", 1, 0, INF), ("B", "C", 1, 0, INF), ("A", "C", om.Linear(3, signed=True), -INF, 0)],
    )
    c = find_unbounded_cycle(p)
    assert c is not None and verify_unbounded_certificate(p, c)
    assert ("A->C", -1) in c.arcs
    assert c.cost == pytest.approx(-1.0)
    # charged 3|p| (issue 15), the backward move costs 3 too: the cycle costs 5, nothing is unbounded
    honest = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", 1, 0, INF), ("A", "C", 3, -INF, 0)]
    )
    assert find_unbounded_cycle(honest) is None
    assert not verify_unbounded_certificate(honest, c)
    assert om.solve(honest, backend="highs").objective == pytest.approx(2.0)  # A->B->C (2) beats A->C backwards (3)


def test_free_arc_alone_is_not_a_cycle():
    # a free arc (-inf, inf) used forward and backward costs 0: no cycle
    p = flow_problem([("A", 1), ("B", -1)], [("A", "B", om.Linear(-2, signed=True), -INF, INF)])
    assert find_unbounded_cycle(p) is None
    # nor charged 2|p|, forward and backward 2 each
    assert find_unbounded_cycle(flow_problem([("A", 1), ("B", -1)], [("A", "B", 2, -INF, INF)])) is None


def test_bounded_problems_give_none():
    # finite capacity on the cycle
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", -3, 0, 5), ("C", "A", 1, 0, INF)]
    )
    assert find_unbounded_cycle(p) is None
    # a quadratic arc on the cycle bounds it
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)],
        [("A", "B", 1, 0, INF), ("B", "C", om.Quadratic(1e-3, -3), 0, INF), ("C", "A", 1, 0, INF)],
    )
    assert find_unbounded_cycle(p) is None
    # zero-cost cycle
    p = flow_problem([("A", 1), ("B", -1)], [("A", "B", 0, 0, INF), ("B", "A", 0, 0, INF)])
    assert find_unbounded_cycle(p) is None
    assert find_unbounded_cycle(synthetic(6)) is None


def test_wrong_unbounded_certificates():
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", -3, 0, 5), ("C", "A", 1, 0, INF)]
    )
    fake = UnboundedCertificate(("A", "B", "C"), (("A->B", 1), ("B->C", 1), ("C->A", 1)), -1.0)
    assert not verify_unbounded_certificate(p, fake)  # B->C has a finite upper bound
    q = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", -1, 0, INF), ("C", "A", 1, 0, INF)]
    )
    assert not verify_unbounded_certificate(q, fake)  # cost +1, not negative
    r = flow_problem(
        [("A", 1), ("B", 0), ("C", -1)], [("A", "B", 1, 0, INF), ("B", "C", -3, 0, INF), ("C", "A", 1, 0, INF)]
    )
    assert verify_unbounded_certificate(r, fake)
    assert not verify_unbounded_certificate(r, UnboundedCertificate(("A", "B"), (("A->B", 1), ("B->C", 1)), -1.0))
    assert not verify_unbounded_certificate(
        r, UnboundedCertificate(("A", "B", "C"), (("A->B", -1), ("B->C", 1), ("C->A", 1)), -1.0)
    )
    assert not verify_unbounded_certificate(
        r, UnboundedCertificate(("A", "B", "X"), (("A->B", 1), ("B->C", 1), ("C->A", 1)), -1.0)
    )


def test_unbounded_needs_feasibility():
    # a negative cycle, but the supply cannot leave A
    p = flow_problem(
        [("A", 1), ("B", 0), ("C", 0), ("D", -1)],
        [("B", "C", -1, 0, INF), ("C", "B", 0, 0, INF), ("D", "A", 0, 0, INF)],
    )
    c = find_unbounded_cycle(p)
    assert c is not None
    assert find_infeasible_cut(p) is not None
    assert not verify_unbounded_certificate(p, c)
    assert verify_unbounded_certificate(p, c, check_feasible=False)


# ----------------------------------------------------------------------------- against an LP feasibility test
def _random_bounds(rng):
    kind = rng.choice(["std", "neg", "inf_up", "inf_lo", "free", "forced"])
    u = float(rng.uniform(0.2, 2.0))
    if kind == "std":
        return 0.0, u
    if kind == "neg":
        return -float(rng.uniform(0.2, 2.0)), u
    if kind == "inf_up":
        return float(rng.uniform(-1.0, 1.0)), INF
    if kind == "inf_lo":
        return -INF, float(rng.uniform(-1.0, 1.0))
    if kind == "free":
        return -INF, INF
    lo = float(rng.uniform(0.1, 1.0))
    return lo, lo + u


def _random_problem(rng, spatial):
    n = int(rng.integers(3, 8))
    net = om.Network()
    ends = set(rng.choice(n, size=int(rng.integers(1, min(n, 3) + 1)), replace=False).tolist()) if spatial else set()
    if spatial:
        N = int(rng.integers(2, 7))
        mass = rng.uniform(0.0, 1.0, N)
        mass[rng.random(N) < 0.15] = 0.0
        if mass.sum() == 0:
            mass[0] = 0.5
        k = len(ends)
        C = rng.uniform(0.0, 3.0, (N, k))
        C[rng.random((N, k)) < 0.4] = INF
        for r in range(N):
            if not np.isfinite(C[r]).any():
                C[r, rng.integers(k)] = 1.0
        for col in range(k):
            if not np.isfinite(C[:, col]).any():
                C[rng.integers(N), col] = 1.0
        total = float(mass.sum())
    else:
        total = 0.0
    s = rng.normal(0.0, 1.5, n)
    s += (total - s.sum()) / n
    for i in range(n):
        net.add_node(f"v{i}", float(s[i]), endpoint=i in ends)
    m = int(rng.integers(n - 1, 2 * n + 2))
    for _ in range(m):
        i, j = rng.choice(n, size=2, replace=False)
        lo, up = _random_bounds(rng)
        net.add_arc(f"v{i}", f"v{j}", abs(float(rng.normal())), lo, up)  # b|p| needs b >= 0 two-way
    if spatial:
        pts = om.Points(np.column_stack([np.arange(N), np.zeros(N)]), mass)
        return om.SpatialFlowProblem(net, pts, om.Matrix(C))
    return om.FlowProblem(net)


def _lp_feasible(p):
    """Feasibility of the same constraints by scipy's linprog (an LP, not a max flow)."""
    A = sp.csr_matrix(p.incidence)
    rhs = np.asarray(p.supply, dtype=float)
    bounds = [(None if lo == -INF else lo, None if up == INF else up) for lo, up in zip(p.lower, p.upper, strict=True)]
    if p.kind == "spatial":
        C = p.cost_matrix()
        rows, cols = np.nonzero(np.isfinite(C) & (p.demand.mass[:, None] > 0))
        npair = rows.size
        ends = np.asarray(p.endpoints)
        B = sp.csr_matrix((np.ones(npair), (ends[cols], np.arange(npair))), shape=(p.n_nodes, npair))
        pos = np.flatnonzero(p.demand.mass > 0)
        rowmap = {int(k): r for r, k in enumerate(pos)}
        P = sp.csr_matrix((np.ones(npair), ([rowmap[int(k)] for k in rows], np.arange(npair))), shape=(pos.size, npair))
        A = sp.vstack([sp.hstack([A, B]), sp.hstack([sp.csr_matrix((pos.size, p.n_arcs)), P])]).tocsr()
        rhs = np.concatenate([rhs, p.demand.mass[pos]])
        bounds += [(0, None)] * npair
    res = linprog(np.zeros(A.shape[1]), A_eq=A, b_eq=rhs, bounds=bounds, method="highs")
    assert res.status in (0, 2), res.message
    return res.status == 0


@pytest.mark.parametrize("spatial", [False, True])
def test_verdict_agrees_with_lp(spatial):
    rng = np.random.default_rng(1234 + spatial)
    verdicts = []
    for _ in range(50):
        p = _random_problem(rng, spatial)
        cert = find_infeasible_cut(p)
        lp = _lp_feasible(p)
        assert (cert is None) == lp, (p, cert)
        if cert is not None:
            assert verify_infeasibility_certificate(p, cert)
            net, cap = cut_values(p, cert.nodes, cert.direction)
            assert net == pytest.approx(cert.net_supply) and cap == pytest.approx(cert.cut_capacity)
        verdicts.append(lp)
    # the generator produces both kinds
    assert 5 <= sum(verdicts) <= 45


# ------------------------------------------------------------------------------ the shared helpers (issue 11)
def test_forest_and_connectivity_agree_with_networkx():
    import networkx as nx

    from otmodel.certificates import is_connected, is_forest

    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        pairs = [tuple(int(v) for v in rng.integers(0, n, 2)) for _ in range(int(rng.integers(0, 8)))]
        g = nx.MultiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(pairs)
        assert is_connected(n, pairs) == nx.is_connected(g), (n, pairs)
        assert is_forest(n, pairs) == nx.is_forest(g), (n, pairs)  # a loop or a repeated pair is a cycle
    assert is_connected(0, []) and is_forest(0, [])


def test_a_claim_without_a_certificate_is_a_numerical_error():
    from otmodel.certificates import classify_failure, proven_failure

    p = flow_problem([("A", 1), ("B", -1)], [("A", "B", 1.0, 0.0, 2.0)])  # feasible and bounded
    sol = classify_failure(p, "infeasible_or_unbounded", "x", "y", {}, "solver said so")
    assert sol.status is om.Status.NUMERICAL_ERROR and sol.certificate is None
    assert "found no certificate" in sol.message
    cut = flow_problem([("A", 2), ("B", -2)], [("A", "B", 1.0, 0.0, 1.0)])
    cert = proven_failure(cut, "unbounded")  # a cut is looked for whatever the claim
    assert isinstance(cert, InfeasibilityCertificate) and verify_infeasibility_certificate(cut, cert)
    assert classify_failure(cut, "unbounded", "x", "y", {}, "").status is om.Status.INFEASIBLE
    cyc = flow_problem([("A", 0), ("B", 0)], [("A", "B", -1.0, 0.0, INF), ("B", "A", 0.0, 0.0, INF)])
    assert proven_failure(cyc, "infeasible") is None  # an 'infeasible' claim is not turned into unbounded
    assert isinstance(proven_failure(cyc), UnboundedCertificate)
    with pytest.raises(ValueError, match="claim"):
        proven_failure(cyc, "broken")


def test_problem_scale_and_primal_residual():
    from otmodel.certificates import primal_residual, problem_scale

    p = flow_problem([("A", 3), ("B", -3)], [("A", "B", 1.0, 0.0, 5.0)])
    assert problem_scale(p) == 6.0
    assert primal_residual(p, [3.0]) == 0.0
    assert primal_residual(p, [2.4]) == pytest.approx(0.6 / 6.0)
    assert primal_residual(p, [6.0]) == pytest.approx(3.0 / 6.0)  # conservation off by 3, bound by 1
    assert primal_residual(p, [np.nan]) == INF and primal_residual(p, [1.0, 2.0]) == INF


def test_cut_search_falls_back_when_preflow_push_fails(monkeypatch):
    # networkx's preflow-push raised ValueError("min() arg is an empty sequence") on a random float
    # network (found by hypothesis); the cut search must fall back to augmenting paths, not crash
    import networkx as nx
    from networkx.algorithms.flow import edmonds_karp

    real_max, real_cut = nx.maximum_flow, nx.minimum_cut

    def flaky(real):
        def call(g, s, t, flow_func=None, **kw):
            if flow_func is not edmonds_karp:
                raise ValueError("min() arg is an empty sequence")
            return real(g, s, t, flow_func=flow_func, **kw)

        return call

    monkeypatch.setattr(nx, "maximum_flow", flaky(real_max))
    monkeypatch.setattr(nx, "minimum_cut", flaky(real_cut))
    p = flow_problem([("S", 3), ("M", 0), ("T", -3)], [("S", "T", 1, 0, 1), ("S", "M", 1, 0, 1), ("M", "T", 1, 0, 5)])
    c = find_infeasible_cut(p)
    assert c is not None and verify_infeasibility_certificate(p, c)
    assert c.excess == pytest.approx(1.0)
