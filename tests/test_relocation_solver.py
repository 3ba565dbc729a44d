"""The relocation solver's parts (issue 13): the block-pruned search, the auction and its certificate.

Exact answers come from brute force over the dense cost matrix (searches) and from an independent
full LP over all pairs solved by HiGHS (optima); the end-to-end comparisons with the LP, for both
metrics and norms, with and without zones, are in ``tests/test_relocation.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import otmodel as om
import otmodel.backends._relocation_levels as L
import otmodel.model._relocation_kernels as K
from otmodel.backends._relocation_auction import auction
from otmodel.model.relocation import RelocationProblem, gaussian_mixture_instance

ZONES = [(0.1, 0.33, 0.2, 0.5), (0.52, 0.61, 0.3, 0.45)]


def lp_optimum(P: RelocationProblem) -> float:
    """The optimum of the transportation LP over all pairs (HiGHS)."""
    C = P.cost_matrix()
    n, B = C.shape
    ok = np.isfinite(C)
    rows, cols = np.nonzero(ok)
    m = rows.size
    A_eq = sp.csr_matrix((np.ones(m), (rows, np.arange(m))), shape=(n, m))
    A_ub = sp.csr_matrix((np.ones(m), (cols, np.arange(m))), shape=(B, m))
    res = linprog(C[ok], A_ub=A_ub, b_ub=P.slots.astype(float), A_eq=A_eq, b_eq=np.ones(n), bounds=(0, None),
                  method="highs")
    assert res.status == 0, res.message
    return float(res.fun) * P.mass


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("power", ["l1", "l2"])
def test_block_search_equals_brute_force(metric: str, power: str) -> None:
    """The K smallest c_ij + psi_j over bins with slots, exactly, with prices of every size (some
    very high, so that the search must go far), zones (bins with no slots) and ragged blocks."""
    rng = np.random.default_rng(1)
    P = gaussian_mixture_instance(1500, (19, 26), metric=metric, displacement=power, slack=1.3, seed=2,
                                  exclusions=ZONES)
    assert (P.slots == 0).any()  # bins wholly inside a zone take nobody
    C = np.where(P.slots.reshape(-1) > 0, P.cost_matrix(), np.inf)
    for scale in (0.0, 0.01, 0.5, 5.0):
        psi = rng.uniform(0, scale, P.n_bins) * (rng.uniform(size=P.n_bins) < 0.7)
        vals, idx = K.topk_bins(P.points, P.bin_index(P.points), psi, np.ascontiguousarray(P.slots), 3, *P.kernel_args())
        ref = np.sort(C + psi, axis=1)[:, :3]
        assert np.allclose(vals, ref, rtol=0, atol=1e-15)
        assert np.array_equal((C + psi)[np.arange(P.n_points), idx[:, 0]], vals[:, 0])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("power", ["l1", "l2"])
@pytest.mark.parametrize("bins", [(19, 26), (64, 5)])
def test_tree_search_equals_brute_force(metric: str, power: str, bins: tuple[int, int]) -> None:
    """The auction's search (planes fitted under the prices, ``_relocation_tree``): the K smallest
    c_ij + p_j over bins with slots, float for float, unseeded and seeded with K random bins, for
    random prices, prices along a steep slope (the planes' case), a bowl (curved: planes loose) and
    prices that rose after the fit (stale planes stay valid)."""
    import numba as nb

    import otmodel.model._relocation_tree as T

    @nb.njit
    def run(points, price, bd, geom, sv, si, seeded, ov, oi):  # type: ignore[no-untyped-def]
        stk = np.empty(T.stack_size(bd), dtype=np.int64)
        stv = np.empty(T.stack_size(bd))
        for i in range(points.shape[0]):
            ov[i] = sv[i]
            oi[i] = si[i]
            T.tree_search(points[i, 0], points[i, 1], price, bd, ov[i], oi[i], geom, seeded, stk, stv)

    rng = np.random.default_rng(3)
    P = gaussian_mixture_instance(1500, bins, metric=metric, displacement=power, slack=1.3, seed=2, exclusions=ZONES)
    slots = P.slots.reshape(-1)
    C = np.where(slots > 0, P.cost_matrix(), np.inf)
    geom = K.geometry(*P.kernel_args())
    bd = T.new_bounds(geom, 4)
    ix, iy = np.divmod(np.arange(P.n_bins), bins[1])
    cases = [rng.uniform(0, 0.5, P.n_bins), 0.05 * ix - 0.08 * iy, -0.002 * ((ix - 9) ** 2 + (iy - 3) ** 2), np.zeros(P.n_bins)]
    for k, psi in enumerate(cases):
        price = np.where(slots > 0, psi, np.inf)
        T.fit_bounds(price, geom, bd)
        if k == 3:
            price = price + rng.uniform(0, 0.3, P.n_bins)  # risen since the fit
        V = C + price[None, :]
        ref = np.sort(V, axis=1)[:, :4]
        out = np.empty((P.n_points, 4))
        idx = np.empty((P.n_points, 4), dtype=np.int64)
        run(P.points, price, bd, geom, out, idx, False, out, idx)
        assert np.array_equal(out, ref)
        assert np.array_equal(np.take_along_axis(V, idx, 1), out)
        si = np.array([rng.choice(np.flatnonzero(slots > 0), 4, replace=False) for _ in range(P.n_points)])
        sv = np.take_along_axis(V, si, 1)
        o = np.argsort(sv, axis=1)
        run(P.points, price, bd, geom, np.take_along_axis(sv, o, 1), np.take_along_axis(si, o, 1), True, out, idx)
        assert np.array_equal(out, ref)
        if k < 3:  # the flow stage's and the network's search over all points, from prices alone
            tv, _ = T.topk_bins(P.points, None, psi, P.slots, 4, *P.kernel_args())
            assert np.array_equal(tv, ref)


@pytest.mark.parametrize("metric,power,zones", [("euclidean", "l2", ZONES), ("manhattan", "l1", []),
                                                ("euclidean", "l1", ZONES)])
def test_auction_alone_brackets_the_lp_optimum(metric: str, power: str, zones: list) -> None:
    """Each phase ends with a feasible placement and prices whose D(psi) is a lower bound: the LP
    optimum lies between, and the gap reaches what was asked (spare capacity 30 %: without the
    dummy points, under-full bins would keep positive prices and the gap would stall)."""
    P = gaussian_mixture_instance(800, (12, 12), metric=metric, displacement=power, slack=1.3, seed=5,
                                  exclusions=zones)
    rows: list[dict] = []
    res = auction(P, stop_gap=1e-6, deadline=math.inf, warm_start=False, seed=0, log=lambda **r: rows.append(r))
    opt = lp_optimum(P)
    assert res.flat is not None
    assert np.all(np.bincount(res.flat, minlength=P.n_bins) <= P.slots)
    cost = P.objective(res.flat)
    assert cost == pytest.approx(res.primal * P.mass, rel=1e-12)
    dual = P.dual_value(res.psi)
    assert dual == pytest.approx(res.dual * P.mass, rel=1e-12)
    assert dual <= opt * (1 + 1e-9) and opt <= cost * (1 + 1e-9)
    assert (cost - dual) / cost <= 1e-6
    assert np.all(res.psi >= 0)
    gaps = [r["gap"] for r in rows if r["level"] == P.n_points]
    assert len(gaps) >= 2 and gaps[-1] < gaps[0]  # the gap falls from phase to phase


@pytest.fixture
def small_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Coarse instances down to 4 x 4 bins and 100 points (the solver's own floor is 16 x 16, 20k)."""
    monkeypatch.setattr(L, "MIN_SIDE", 2)
    monkeypatch.setattr(L, "MIN_POINTS", 100)


def test_coarse_instance_keeps_density_capacity_and_fine_costs(small_levels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Half the bins per side, a quarter of every fine bin's points (up to one), the mean capacity of
    the four fine bins, and costs to the fine-bin-sized box at each coarse centre."""
    P = gaussian_mixture_instance(4000, (16, 16), slack=1.1, seed=3, exclusions=ZONES)
    Pc = L.coarse_problem(P, 0)
    assert Pc is not None and Pc.bins == (8, 8) and Pc.n_points == 1000
    np.testing.assert_allclose(Pc.capacity, P.capacity.reshape(8, 2, 8, 2).sum(axis=(1, 3)) / 4, rtol=1e-12)
    per_fine = lambda Q: np.bincount(P.bin_index(Q.points) @ np.array([16, 1]), minlength=P.n_bins)  # noqa: E731
    assert np.abs(per_fine(Pc) - per_fine(P) / 4).max() <= 1.0
    # a bin no zone touches: the cost is the squared distance to the box of half sides w/2, h/2
    ix, iy = 5, 1
    j = ix * 8 + iy
    cx, cy = (ix + 0.5) * Pc.bin_width, (iy + 0.5) * Pc.bin_height
    gx = np.maximum(np.abs(Pc.points[:, 0] - cx) - P.bin_width / 2, 0.0)
    gy = np.maximum(np.abs(Pc.points[:, 1] - cy) - P.bin_height / 2, 0.0)
    got = Pc.cost(np.arange(Pc.n_points), np.full(Pc.n_points, j))
    np.testing.assert_allclose(got, np.hypot(gx, gy) ** 2, rtol=1e-12, atol=1e-15)
    # no coarse instance for odd sides or too few points
    assert L.coarse_problem(gaussian_mixture_instance(4000, (15, 16), slack=1.1, seed=3), 0) is None
    monkeypatch.setattr(L, "MIN_POINTS", 1001)
    assert L.coarse_problem(P, 0) is None


def test_prolong_interpolates_between_coarse_centres(small_levels: None) -> None:
    """A price field linear in the position is carried exactly to the fine centres between the
    coarse ones; bins without room take their nearest neighbour's price first."""
    P = gaussian_mixture_instance(4000, (16, 16), slack=1.1, seed=3, exclusions=[])
    Pc = L.coarse_problem(P, 0)
    cx = (np.arange(8) + 0.5) / 8
    psi_c = 3.0 * cx[:, None] + 1.5 * cx[None, :]
    fine = L.prolong(Pc, psi_c.ravel(), P).reshape(16, 16)
    fx = (np.arange(16) + 0.5) / 16
    want = 3.0 * fx[:, None] + 1.5 * fx[None, :]
    inner = slice(1, 15)
    np.testing.assert_allclose(fine[inner, inner] - fine[1, 1], want[inner, inner] - want[1, 1], rtol=0, atol=1e-12)
    room = np.ones((8, 8), dtype=bool)
    room[3, 4] = False
    filled = L._fill_roomless(psi_c, room)
    assert filled[3, 4] in {psi_c[2, 4], psi_c[4, 4], psi_c[3, 3], psi_c[3, 5]}
    np.testing.assert_array_equal(filled[room], psi_c[room])


@pytest.mark.parametrize("metric, power", [("euclidean", "l2"), ("manhattan", "l2")])
def test_auction_from_coarse_levels_is_exact(small_levels: None, metric: str, power: str) -> None:
    """With coarse instances allowed, the coarser levels run first (a row for each) and the answer
    is still the LP optimum."""
    P = gaussian_mixture_instance(2000, (16, 16), slack=1.1, seed=7, metric=metric, displacement=power)
    rows: list[dict] = []
    R = om.solve(P, warm_start=True, callback=rows.append)
    levels = [r["level"] for r in rows]
    assert levels[0] == 125 and 500 in levels and levels[-1] == 2000
    # every row of the auction reads as one certificate: its gap is its cost against its bound
    for r in rows:
        if r["bids"]:
            assert r["gap"] == pytest.approx((r["primal"] - r["dual"]) / r["primal"], rel=1e-12, abs=1e-15)
    assert R.objective == pytest.approx(lp_optimum(P), rel=1e-7)
    assert R.relative_gap <= 1e-9


def test_time_limit_in_the_flow_stage_returns_the_auction_certificate() -> None:
    """A deadline after the auction: the placement and bound of the auction return, certified."""
    P = gaussian_mixture_instance(3000, (16, 16), slack=1.05, seed=11, exclusions=ZONES)
    t = time.perf_counter()
    R0 = om.solve(P, auction_gap=1e-2, max_iter=0)
    assert time.perf_counter() - t < 60
    c = om.validation.certify(P, R0, rtol=1e-2)
    assert c.certified, c.reasons
    assert R0.status is om.Status.ITERATION_LIMIT
    assert c.dual_bound == pytest.approx(R0.dual_bound, rel=1e-12)


@pytest.mark.parametrize("metric,power", [("euclidean", "l2"), ("manhattan", "l1")])
def test_every_phase_ends_epsilon_satisfied(metric: str, power: str) -> None:
    """The auction's invariants, checked from outside against the full cost matrix: at the end of every
    phase each point's value at its own bin's price is within eps of its best value over all bins
    (c_ij + p_j with the current bin prices: the eps-complementary slackness the gap bound rests
    on), the slot price it pays is within eps of its best value over the *other* bins (the bid
    rule), and no bin holds more than its slots. Bids read the points' candidate lists, whose bound
    on the other bins must keep this true."""
    import otmodel.backends._relocation_auction as BA

    P = gaussian_mixture_instance(1200, (14, 14), metric=metric, displacement=power, slack=1.2, seed=7,
                                  exclusions=ZONES)
    C = np.where(P.slots.reshape(-1) > 0, P.cost_matrix(), np.inf)
    slots = np.ascontiguousarray(P.slots.reshape(-1), dtype=np.int64)
    lv = BA._Level(P, P.points, slots, np.zeros(P.n_bins))
    eps = BA._cost_unit(P) * 4.0
    n = P.n_points
    for first in (True, False, False, False):
        assert lv.phase(eps, first, math.inf)
        hp, hh, off, pos, owner, price = lv.st[:6]
        own = owner[:n]
        assert (own >= 0).all()
        assert (np.bincount(owner, minlength=P.n_bins) <= slots).all()
        paid = hp[pos[:n]]
        V = C + price[None, :]
        best = V.min(axis=1)
        mine = C[np.arange(n), own]
        assert (mine + price[own] <= best + eps * (1 + 1e-9)).all()
        V[np.arange(n), own] = np.inf
        assert (mine + paid <= V.min(axis=1) + eps * (1 + 1e-9)).all()
        assert (paid >= price[own]).all()
        # the bound of the phase (one pass that also serves the next phase's check) is D(psi)
        psi = lv.psi()
        D = float(np.sum((C + psi[None, :]).min(axis=1)) - psi @ slots)
        assert lv.dual(psi) == pytest.approx(D, rel=1e-13)
        assert lv.dual(psi) == P.dual_value(psi) / P.mass
        eps /= 5.0


@pytest.mark.parametrize("metric,power", [("euclidean", "l2"), ("manhattan", "l1")])
def test_time_limit_returns_no_worse_than_the_heuristics(metric: str, power: str) -> None:
    """Out of time before the auction's first phase ends: the answer is feasible, marked TIME_LIMIT, and
    costs no more than either heuristic (the greedy placement alone, returned before, lost to
    bisection on squared Euclidean instances like this one)."""
    P = gaussian_mixture_instance(3000, (16, 16), metric=metric, displacement=power, slack=1.1, seed=4,
                                  exclusions=ZONES)
    R = om.solve(P, time_limit=1e-9)
    assert R.status == om.Status.TIME_LIMIT
    loads = np.bincount(P.flat_bins(R.bin_of), minlength=P.n_bins)
    assert (loads <= P.slots.reshape(-1)).all()
    costs = [om.solve(P, backend=h).objective for h in ("relocation-bisection", "relocation-greedy")]
    assert R.objective <= min(costs) * (1 + 1e-12)


def test_zero_cost_optimum_ends() -> None:
    """Every point fits in its own bin, so the optimum costs 0: the auction must stop there (the relative
    gap of a zero cost was infinite, and eps fell without end). A hypothesis example found it."""
    rng = np.random.default_rng(3944)
    pts = rng.random((26, 2)) ** 2
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(5, 4), capacity=4, metric="manhattan", displacement="l1")
    R = om.solve(P, time_limit=60)
    assert R.status == om.Status.OPTIMAL
    assert R.objective == 0.0
    assert om.validation.certify(P, R).certified


def test_manhattan_default_meets_gap_tol_in_the_auction() -> None:
    """Manhattan L1 with ``method="auction"``: the auction alone runs to ``gap_tol`` (ties make the flow
    stage's proof take many rounds), and its answer is the LP optimum; on the Euclidean metric the
    flow stage takes over from the auction's 1e-5 and proves the optimum."""
    for metric, power, flows in (("manhattan", "l1", False), ("euclidean", "l2", True)):
        P = gaussian_mixture_instance(1500, (12, 12), metric=metric, displacement=power, slack=1.1, seed=3)
        rows: list[dict] = []
        R = om.solve(P, callback=rows.append, method="auction")
        assert "auction" in R.timings
        assert any(r["violated"] >= 0 for r in rows) is flows, metric
        assert R.relative_gap <= 1e-10
        assert R.objective == pytest.approx(lp_optimum(P), rel=1e-7)


@pytest.mark.parametrize("zones,bins", [(ZONES, (16, 16)), ([], (11, 13)), ([(0.05, 0.37, 0.61, 0.93), (0.5, 0.53, 0.1, 0.9)], (13, 9))])
def test_manhattan_l1_network_is_the_lp_optimum(zones: list, bins: tuple[int, int]) -> None:
    """Manhattan L1 by default: one min-cost flow on the grid network (exits, direction layers, stops;
    cut bins by one stop per free rectangle or a direct arc). Its placement is the LP optimum over all
    pairs, no bin over capacity, and its residual prices make D(psi) over all pairs meet the cost to
    the integer rounding (certified by the validation module, which prices every pair itself)."""
    P = gaussian_mixture_instance(900, bins, metric="manhattan", displacement="l1", slack=1.25, seed=4, exclusions=zones)
    R = om.solve(P)
    assert "network" in R.timings and "auction" not in R.timings
    assert R.objective == pytest.approx(lp_optimum(P), rel=1e-9)
    flat = P.flat_bins(R.bin_of)
    assert (np.bincount(flat, minlength=P.n_bins) <= P.slots.reshape(-1)).all()
    c = om.validation.certify(P, R, rtol=1e-10)
    assert c.certified, c.reasons
    assert R.status is om.Status.OPTIMAL


def test_method_option_is_checked() -> None:
    """``method="network"`` is for Manhattan L1 only; an unknown method is refused; a short time limit
    keeps Manhattan L1 on the auction (OR-Tools' solve cannot be interrupted)."""
    P = gaussian_mixture_instance(600, (10, 10), metric="euclidean", displacement="l2", slack=1.3, seed=2)
    with pytest.raises(om.InvalidDataError, match="Manhattan L1"):
        om.solve(P, method="network")
    with pytest.raises(om.InvalidDataError, match="expected 'auto'"):
        om.solve(P, method="simplex")
    Q = gaussian_mixture_instance(600, (10, 10), metric="manhattan", displacement="l1", slack=1.3, seed=2)
    assert "auction" in om.solve(Q, time_limit=0.05).timings


def test_auction_stopped_before_the_fine_level_keeps_the_coarse_bound(
    small_levels: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped before any phase of the full instance ends, the auction has no placement but still
    the interpolated coarse prices, whose exact bound is close to the optimum (not D(0) = 0), and
    that bound already evaluated: the auction's certified gap counts it from the first phase on."""
    import otmodel.backends._relocation_auction as RA

    P = gaussian_mixture_instance(2000, (16, 16), slack=1.1, seed=7)
    phase = RA._Level.phase
    monkeypatch.setattr(RA._Level, "phase", lambda self, *a: False if self.pts.shape[0] == 2000 else phase(self, *a))
    res = auction(P, stop_gap=1e-6, deadline=math.inf, warm_start=True, seed=0, log=lambda **r: None)
    assert res.flat is None and np.all(res.psi >= 0)
    opt = lp_optimum(P)
    bound = P.dual_value(res.psi.reshape(P.bins))
    assert 0.5 * opt < bound <= opt * (1 + 1e-9)
    assert res.dual == pytest.approx(bound / P.mass, rel=1e-12)


def test_lift_raises_a_bin_to_what_its_holders_would_bid() -> None:
    """``_lift``: once every other bin's price has risen by ``delta``, each holder of bin ``j`` would bid
    ``delta`` more for its slot; the lift raises the bin's cheapest slots to that (so the bin's price
    rises by at least ``delta - eps``), never above what a holder would pay (checked against the full
    cost matrix), keeps the bin's price the least of its slots and the segment tree in step, and a
    second lift changes nothing."""
    import otmodel.backends._relocation_auction as BA
    import otmodel.model._relocation_auction as A

    P = gaussian_mixture_instance(1500, (12, 12), metric="euclidean", displacement="l2", slack=1.1, seed=3)
    C = np.where(P.slots.reshape(-1) > 0, P.cost_matrix(), np.inf)
    slots = np.ascontiguousarray(P.slots.reshape(-1), dtype=np.int64)
    lv = BA._Level(P, P.points, slots, np.zeros(P.n_bins))
    eps = BA._cost_unit(P)
    assert lv.phase(eps, True, math.inf)
    hp, hh, off, pos, owner, price, tree, targ = lv.st
    n = P.n_points
    held = np.bincount(owner[:n], minlength=P.n_bins)
    j = int(np.argmax(np.where(held == slots, held, 0)))  # a bin full of points
    assert held[j] >= 4
    delta = 50.0 * eps
    other = np.ones(P.n_bins, dtype=bool)
    other[j] = False
    hp += np.repeat(np.where(other, delta, 0.0), slots)
    price[other & (slots > 0)] += delta
    lv.cl[2][:] += delta  # every other bin rose by delta: still a bound on the bins off each list
    tree[:], targ[:] = A.tree_build(price)
    before = price[j]
    A._lift(j, n, lv.pts, lv.st, eps, lv.geom, lv.cl)
    seg = hp[off[j]:off[j + 1]]
    assert price[j] == seg.min() and tree[1] == price[np.isfinite(price)].min()
    assert price[j] >= before + delta - eps
    who = hh[off[j]:off[j + 1]]
    V = C[who] + price[None, :]
    V[:, j] = np.inf
    assert (C[who, j] + seg <= V.min(axis=1) + eps * (1 + 1e-9)).all()
    kept = seg.copy()
    A._lift(j, n, lv.pts, lv.st, eps, lv.geom, lv.cl)
    assert np.array_equal(hp[off[j]:off[j + 1]], kept)
