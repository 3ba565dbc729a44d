"""The pruned demand pass (otmodel.model._demand_kernels) against the full cost matrix, and certify without it."""

from __future__ import annotations

import numpy as np
import pytest

import otmodel as om
from otmodel.model._demand_kernels import best_two, max_cost, pair_costs
from otmodel.model.demand import Euclidean, Grid, Manhattan, Points, SquaredEuclidean, Uniform
from otmodel.model.problems import SpatialFlowProblem
from otmodel.validation import certify, dual_value
from otmodel.validation.pricing import cost_scale


def _problem(cost: om.model.demand.AssignmentCost, ns: int, demand: Points, seed: int = 0) -> SpatialFlowProblem:
    rng = np.random.default_rng(seed)
    net = om.Network()
    ys = rng.uniform(0.0, 10.0, size=(ns, 2))
    for i, (x, y) in enumerate(ys):
        net.add_node(f"E{i}", position=(float(x), float(y)), endpoint=True)
    net.add_node("S", supply=demand.total, position=(5.0, 5.0))
    for i in range(ns):
        net.add_arc("S", f"E{i}", om.Quadratic(1.0 + i % 3), -10.0, 10.0)
    return SpatialFlowProblem(net, demand, cost)


def _brute(p: SpatialFlowProblem, psi_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best value, lowest-index argmin and second-best value from the whole matrix, in the test."""
    xy, yxy = np.asarray(p.demand.xy), np.asarray(p.endpoint_xy)
    dx = xy[:, 0:1] - yxy[None, :, 0]
    dy = xy[:, 1:2] - yxy[None, :, 1]
    if isinstance(p.assignment_cost, Manhattan):
        c = np.abs(dx) + np.abs(dy)
    else:
        c = dx * dx + dy * dy
        if not isinstance(p.assignment_cost, SquaredEuclidean):
            c = np.sqrt(c)
    v = c - psi_s
    s = np.sort(v, axis=1)
    return s[:, 0], np.argmin(v, axis=1), (s[:, 1] if v.shape[1] > 1 else np.full(v.shape[0], np.inf))


@pytest.mark.parametrize("cost", [Euclidean(), SquaredEuclidean(), Manhattan()])
@pytest.mark.parametrize("ns", [1, 2, 7, 150])
@pytest.mark.parametrize("serial_work", [10**12, 0])
def test_best_two_equals_the_full_matrix(
    cost: om.model.demand.AssignmentCost, ns: int, serial_work: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both compiled variants (one thread for small passes, all cores above ``SERIAL_WORK``)."""
    import otmodel.model._demand_kernels as dk

    monkeypatch.setattr(dk, "SERIAL_WORK", serial_work)
    dem = Grid.from_density(Uniform(), (0.0, 10.0, 0.0, 10.0), (61, 47))
    p = _problem(cost, ns, dem)
    rng = np.random.default_rng(ns)
    for scale in (0.0, 1.0, 30.0):
        psi = rng.normal(size=ns) * scale
        v1, lab, v2 = best_two(p, psi)
        b1, bl, b2 = _brute(p, psi)
        assert np.array_equal(v1, b1)  # bit for bit: same arithmetic, exact pruning
        assert np.array_equal(lab, bl)
        assert np.array_equal(v2, b2)


def test_ties_go_to_the_lowest_index() -> None:
    """Endpoints placed symmetrically about grid points: many exact ties, and duplicate endpoints."""
    dem = Grid.from_density(Uniform(), (0.0, 4.0, 0.0, 4.0), (4, 4))  # centres at 0.5, 1.5, ...
    net = om.Network()
    for i, pos in enumerate([(2.0, 2.0), (1.0, 2.0), (3.0, 2.0), (2.0, 2.0), (2.0, 1.0)]):
        net.add_node(f"E{i}", position=pos, endpoint=True)
    net.add_node("S", supply=1.0, position=(0.0, 0.0))
    for i in range(5):
        net.add_arc("S", f"E{i}", om.Quadratic(1.0), -5.0, 5.0)
    for cost in (Euclidean(), SquaredEuclidean(), Manhattan()):
        p = SpatialFlowProblem(net, dem, cost)
        v1, lab, v2 = best_two(p, np.zeros(5))
        b1, bl, b2 = _brute(p, np.zeros(5))
        assert np.array_equal(lab, bl) and np.array_equal(v1, b1) and np.array_equal(v2, b2)
        assert np.all(lab != 3)  # E3 duplicates E0: it never wins a tie
        assert np.all(v2[lab == 0] == v1[lab == 0])  # the duplicate is the second best at value equality


def test_max_cost_is_the_largest_entry() -> None:
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(500, 2))
    mass = rng.uniform(0.0, 1.0, size=500)
    mass[np.argmax(np.hypot(*pts.T))] = 0.0  # the farthest point carries no mass: not counted
    for cost in (Euclidean(), SquaredEuclidean(), Manhattan()):
        p = _problem(cost, 9, Points(pts, mass))
        xy, yxy = pts[mass > 0], np.asarray(p.endpoint_xy)
        dx, dy = xy[:, 0:1] - yxy[:, 0], xy[:, 1:2] - yxy[:, 1]
        ref = np.abs(dx) + np.abs(dy) if isinstance(cost, Manhattan) else dx * dx + dy * dy
        if isinstance(cost, Euclidean):
            ref = np.sqrt(ref)
        assert max_cost(p) == pytest.approx(float(ref.max()), rel=1e-15)
    # collinear points (no convex hull): the ends of the segment
    line = np.column_stack([np.linspace(0, 1, 50), np.linspace(0, 1, 50) * 2.0])
    p = _problem(Euclidean(), 3, Points(line, 1.0))
    yxy = np.asarray(p.endpoint_xy)
    ref = np.hypot(line[:, 0:1] - yxy[:, 0], line[:, 1:2] - yxy[:, 1]).max()
    assert max_cost(p) == pytest.approx(ref, rel=1e-15)


def test_pair_costs_match_the_matrix() -> None:
    p = _problem(Euclidean(), 12, Grid.from_density(Uniform(), (0.0, 10.0, 0.0, 10.0), (9, 8)))
    rows = np.array([0, 5, 71, 33])
    cols = np.array([11, 0, 3, 3])
    xy, yxy = np.asarray(p.demand.xy), np.asarray(p.endpoint_xy)
    ref = np.hypot(xy[rows, 0] - yxy[cols, 0], xy[rows, 1] - yxy[cols, 1])
    assert np.allclose(pair_costs(p, rows, cols), ref, rtol=1e-15, atol=0)


def test_certify_never_builds_a_cost_block_for_a_planar_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The certificate of a planar-cost problem reads no (points x endpoints) block (issue 14, 1M x 1,000)."""
    dem = Grid.from_density(Uniform(), (0.0, 10.0, 0.0, 10.0), (30, 30))
    p = _problem(Euclidean(), 40, dem)
    s = om.solve(p, backend="dual-ascent", step_size=om.Newton(), max_iter=30, tol=1e-12)
    ref = certify(p, s)
    q_ref, scale_ref = dual_value(p, s.potentials), cost_scale(p)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a full cost block was built")

    monkeypatch.setattr(SpatialFlowProblem, "cost_block", forbidden)
    c = certify(p, s)
    assert c.certified and ref.certified
    assert c.dual_bound == ref.dual_bound and c.upper_bound == ref.upper_bound
    assert dual_value(p, s.potentials) == q_ref and cost_scale(p) == scale_ref
    # an outside answer: potentials alone (argmin cells, and q(-psi) for the sign-convention note)
    assert certify(p, potentials=s.potentials).dual_bound == c.dual_bound


def test_tile_bounds_stay_within_their_memory_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """More points x endpoints than TILE_ENTRIES: larger tiles, same (exact) answer."""
    import otmodel.model._demand_kernels as dk

    p = _problem(Euclidean(), 50, Grid.from_density(Uniform(), (0.0, 10.0, 0.0, 10.0), (40, 40)))
    assert dk.tiles_of(p).lo.shape == (9, 50)  # 1,600 points in tiles of 256: a 3 x 3 layout
    monkeypatch.setattr(dk, "TILE_ENTRIES", 150)
    t = dk.DemandTiles(p.demand.xy, p.endpoint_xy, 0)
    assert t.lo.shape == (4, 50)  # tiles of >= 1600 * 50 / 150 = 534 points: a 2 x 2 layout
    psi = np.random.default_rng(2).normal(size=50)
    v1, lab, v2 = dk.best_two_xy(p.demand.xy, p.endpoint_xy, 0, psi)  # tiles built under the small cap
    b1, bl, b2 = _brute(p, psi)
    assert np.array_equal(v1, b1) and np.array_equal(lab, bl) and np.array_equal(v2, b2)


def test_tiles_are_built_once_per_problem() -> None:
    from otmodel.model._demand_kernels import tiles_of

    p = _problem(Manhattan(), 5, Grid.from_density(Uniform(), (0.0, 10.0, 0.0, 10.0), (8, 8)))
    assert tiles_of(p) is tiles_of(p)


@pytest.mark.parametrize("cost", [Euclidean(), SquaredEuclidean(), Manhattan()])
def test_dual_value_equals_eq4_from_the_full_matrix(cost: om.model.demand.AssignmentCost) -> None:
    """q(psi) through the pruned pass against eq. (4) computed here from the whole matrix (points of zero
    mass, far away, count for nothing)."""
    rng = np.random.default_rng(5)
    pts = np.vstack([rng.uniform(0.0, 10.0, size=(400, 2)), [[1e4, -1e4], [-3e3, 5e3]]])
    mass = np.r_[rng.uniform(0.1, 1.0, size=400), 0.0, 0.0]
    mass /= mass.sum()
    p = _problem(cost, 23, Points(pts, mass))
    psi = rng.normal(size=p.n_nodes)
    ends = np.asarray(p.endpoints)
    v1 = _brute(p, psi[ends])[0]
    t = psi[np.asarray(p.tails)] - psi[np.asarray(p.heads)]
    a, b = np.asarray(p.costs.a), np.asarray(p.costs.b)
    flow = np.clip((t - b) / (2 * a), np.asarray(p.lower), np.asarray(p.upper))  # argmin of a p^2 + b p - t p
    arcs = a * flow**2 + (b - t) * flow
    q = float(np.sum(mass[:400] * v1[:400])) + float(psi @ np.asarray(p.supply)) + float(arcs.sum())
    assert dual_value(p, psi) == pytest.approx(q, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("cost", [Euclidean(), SquaredEuclidean(), Manhattan()])
def test_distributed_block_pruned_equals_the_full_scan(cost: om.model.demand.AssignmentCost, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask block's share of the certificate: the pruned pass gives the full scan's sums (issue 14)."""
    pytest.importorskip("dask")
    import otmodel.validation.distributed as dist

    rng = np.random.default_rng(7)
    xy = rng.uniform(0.0, 10.0, size=(3000, 2))
    mass = rng.uniform(0.0, 1.0, size=3000)
    mass[::7] = 0.0  # points without mass count for nothing
    yxy = rng.uniform(0.0, 10.0, size=(120, 2))
    y_s = rng.normal(size=120) * 3.0
    monkeypatch.setattr(dist, "PRUNE_FROM", 10**9)
    full = dist.certificate_block((xy, mass), y_s, yxy, cost, 1024)
    monkeypatch.setattr(dist, "PRUNE_FROM", 1)
    pruned = dist.certificate_block((xy, mass), y_s, yxy, cost, 1024)
    assert pruned["q"] == full["q"] and pruned["assign"] == full["assign"]  # same terms, same runs, same order
    assert np.array_equal(pruned["m"], full["m"])
    assert pruned["cmax"] == pytest.approx(full["cmax"], rel=1e-15)
    assert pruned["err"] == pytest.approx(full["err"], rel=1e-12)
    assert pruned["q_abs"] == pytest.approx(full["q_abs"], rel=1e-15)
