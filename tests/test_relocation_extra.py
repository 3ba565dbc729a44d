"""Relocation (issue 13) around the exact solver: spreading inside bins, the heuristics at scale.

Expected positions are computed by hand; the greedy placement is checked against a replay of its
definition on the dense cost matrix (every point takes a cheapest bin with room at its turn).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import otmodel as om
from otmodel.errors import InvalidDataError, UnbalancedError
from otmodel.model._relocation_spread import place_points, spread_in_bins
from otmodel.model.relocation import RelocationProblem, gaussian_mixture_instance
from otmodel.validation import certify_relocation


# ------------------------------------------------------------------------------ spreading by hand
def test_spread_one_free_bin_by_hand() -> None:
    # one bin [0, 2] x [0, 1]; 4 points: x ranks 0..3 -> x' = (r + 1/2) * 2 / 4, same for y on [0, 1]
    pts = np.array([[0.1, 0.2], [0.3, 0.9], [1.5, 0.5], [1.9, 0.1]])
    P = RelocationProblem(pts, (0, 2, 0, 1), bins=(1, 1), capacity=4)
    q = place_points(P, np.zeros(4, dtype=np.int64), spread=True)
    np.testing.assert_allclose(q[:, 0], [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_allclose(q[:, 1], [0.375, 0.875, 0.625, 0.125])


def test_spread_piles_on_an_edge_become_distinct() -> None:
    # 3 points left of bin 1 all enter it at its left edge x = 1 (nearest free point): one x for all
    pts = np.array([[0.2, 0.5], [0.5, 0.5], [0.9, 0.5], [1.5, 0.5]])
    P = RelocationProblem(pts, (0, 2, 0, 1), bins=(2, 1), capacity=4)
    flat = np.array([1, 1, 1, 1])
    near = place_points(P, flat, spread=False)
    np.testing.assert_allclose(near[:3, 0], 1.0)
    q = place_points(P, flat, spread=True)
    np.testing.assert_allclose(q[:, 0], [1.125, 1.375, 1.625, 1.875])  # x order kept, evenly spaced
    # equal y: ranks by index, evenly spaced levels
    np.testing.assert_allclose(q[:, 1], [0.125, 0.375, 0.625, 0.875])


def test_spread_around_a_zone_by_hand() -> None:
    # bin [0, 1]^2 with the zone (0.4, 1) x (0.5, 1) cut out: bands [0, 0.5] (x in [0, 1], area 0.5)
    # and [0.5, 1] (x in [0, 0.4], area 0.2); 7 points -> shares round(7 * 5/7) = 5 and 2
    pts = np.array([[0.9, 0.05], [0.1, 0.1], [0.5, 0.2], [0.3, 0.3], [0.7, 0.4], [0.2, 0.45], [0.35, 0.48]])
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(1, 1), capacity=20, exclusions=[(0.4, 1.0, 0.5, 1.0)])
    q = place_points(P, np.zeros(7, dtype=np.int64), spread=True)
    # the 5 lowest in y fill the lower band at y' = (t + 1/2) / 10, x ranks among them over [0, 1]
    np.testing.assert_allclose(q[:5, 1], [0.05, 0.15, 0.25, 0.35, 0.45])
    np.testing.assert_allclose(q[:5, 0], [0.9, 0.1, 0.5, 0.3, 0.7])  # x ranks 4, 0, 2, 1, 3 of 5
    # the two highest go to the upper band [0, 0.4] x [0.5, 1]
    np.testing.assert_allclose(q[5:, 1], [0.625, 0.875])
    np.testing.assert_allclose(q[5:, 0], [0.1, 0.3])


def test_spread_refuses_a_bin_without_free_part() -> None:
    pts = np.array([[0.2, 0.2], [0.7, 0.7]])
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(2, 1), capacity=4, exclusions=[(0.5, 1.0, 0.0, 1.0)])
    with pytest.raises(InvalidDataError, match="bin 1 .*no free part"):
        spread_in_bins(P.points, np.array([0, 1]), P.rect_ptr, P.rects)
    with pytest.raises(InvalidDataError, match="point 1 is assigned to bin 7"):
        spread_in_bins(P.points, np.array([0, 7]), P.rect_ptr, P.rects)


# ------------------------------------------------------------------------------ spreading, properties
def _rect_of(P: RelocationProblem, j: int, q: np.ndarray) -> int:
    """Index (into P.rects) of the free rectangle of bin j that holds q strictly inside."""
    for r in range(P.rect_ptr[j], P.rect_ptr[j + 1]):
        x0, x1, y0, y1 = P.rects[r]
        if x0 < q[0] < x1 and y0 < q[1] < y1:
            return r
    raise AssertionError(f"{q} is strictly inside no free rectangle of bin {j}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 80),
    mx=st.integers(1, 5),
    my=st.integers(1, 5),
    zones=st.lists(
        st.tuples(st.floats(0, 0.8), st.floats(0.05, 0.5), st.floats(0, 0.8), st.floats(0.05, 0.5)), max_size=3
    ),
    ties=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_spread_properties_on_random_instances(n, mx, my, zones, ties, seed) -> None:
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) ** 2
    if ties:
        pts = np.round(pts * 4) / 4  # many equal coordinates
    zl = [(x, min(x + wx, 1.0), y, min(y + wy, 1.0)) for x, wx, y, wy in zones]
    try:  # zones cut the capacity in proportion to the free area; too little room is refused
        P = RelocationProblem(pts, (0, 1, 0, 1), bins=(mx, my), capacity=n + 1, exclusions=zl)
    except UnbalancedError:
        reject()
    usable = np.flatnonzero(P.slots > 0)
    flat = rng.choice(usable, size=n)  # any assignment to bins with a free part (spreading ignores capacity)
    q = place_points(P, flat, spread=True)
    # inside the bin, strictly inside a free rectangle of it, outside every (open) zone
    for i in range(n):
        _rect_of(P, int(flat[i]), q[i])
    for x0, x1, y0, y1 in zl:
        assert not np.any((q[:, 0] > x0) & (q[:, 0] < x1) & (q[:, 1] > y0) & (q[:, 1] < y1))
    c = certify_relocation(P, bin_of=np.stack(np.divmod(flat, my), axis=1), positions=q, rtol=math.inf)
    assert c.points_off_free == 0
    # order: y kept for every pair of a bin; x kept for every pair of a band (the whole bin without zones)
    for j in np.unique(flat):
        idx = np.flatnonzero(flat == j)
        band = np.array([tuple(P.rects[_rect_of(P, int(j), q[i])][2:]) for i in idx])
        for a in idx:
            for b in idx:
                if pts[a, 1] < pts[b, 1]:
                    assert q[a, 1] < q[b, 1]
        for u, a in enumerate(idx):
            for v, b in enumerate(idx):
                if pts[a, 0] < pts[b, 0] and np.array_equal(band[u], band[v]):
                    assert q[a, 0] < q[b, 0]
        # no two points of a bin coincide (the nearest free points pile up on edges)
        assert np.unique(q[idx], axis=0).shape[0] == idx.size
        # each band holds its share of the points, within one, by area
        bands = {tuple(r): 0.0 for r in P.rects[P.rect_ptr[j] : P.rect_ptr[j + 1], 2:]}
        for r in P.rects[P.rect_ptr[j] : P.rect_ptr[j + 1]]:
            bands[tuple(r[2:])] += (r[1] - r[0]) * (r[3] - r[2])
        for key, area in bands.items():
            got = sum(np.array_equal(bd, key) for bd in band)
            assert abs(got - idx.size * area / P.free_area[j]) <= 1.0 + 1e-9


def test_spread_option_on_the_backends_keeps_the_certified_cost() -> None:
    P = gaussian_mixture_instance(3000, (12, 12), slack=1.2, seed=5, displacement="l1")
    for backend in ("relocation-greedy", "relocation-bisection"):
        A = om.solve(P, backend=backend)
        B = om.solve(P, backend=backend, spread=True)
        assert not A.spread and B.spread
        np.testing.assert_array_equal(A.bin_of, B.bin_of)
        assert B.objective == A.objective
        # nearest free points move exactly the assignment's cost; spread positions move more
        assert A.position_displacement() == pytest.approx(A.objective, rel=1e-9)
        assert B.position_displacement() > A.objective
        c = certify_relocation(P, B, rtol=math.inf)
        assert c.points_off_free == 0 and c.overfull_bins == 0 and c.objective == pytest.approx(B.objective, rel=1e-12)
        assert "spread inside their bins" in B.summary() and B.to_dict()["spread"] is True
        # far fewer coincident positions once spread
        assert np.unique(B.positions, axis=0).shape[0] == P.n_points
        assert np.unique(A.positions, axis=0).shape[0] < P.n_points


# ------------------------------------------------------------------------------ heuristics
def _replay_greedy(P: RelocationProblem, flat: np.ndarray) -> None:
    """Every point in index order took a cheapest bin with room left (own bin first when free)."""
    C = P.cost_matrix()
    left = P.slots.astype(np.int64).copy()
    own = P.flat_bins(P.bin_index(P.points))
    first = np.zeros(P.n_points, bool)
    for i in range(P.n_points):
        if left[own[i]] > 0 and C[i, own[i]] == 0.0:
            assert flat[i] == own[i]
            left[own[i]] -= 1
            first[i] = True
    for i in range(P.n_points):
        if first[i]:
            continue
        room = left > 0
        assert room[flat[i]], f"point {i} sent to a full bin"
        assert C[i, flat[i]] <= C[i, room].min() * (1 + 1e-12) + 1e-15, f"point {i} did not take a cheapest bin"
        left[flat[i]] -= 1


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("displacement", ["l1", "l2"])
def test_greedy_takes_a_cheapest_bin_with_room(metric, displacement) -> None:
    P = gaussian_mixture_instance(2500, (20, 13), slack=1.1, seed=2, metric=metric, displacement=displacement)
    R = om.solve(P, backend="relocation-greedy")
    _replay_greedy(P, P.flat_bins(R.bin_of))


def test_zero_price_bound_of_the_heuristics_is_exact() -> None:
    P = gaussian_mixture_instance(2000, (10, 10), slack=1.2, seed=7)
    R = om.solve(P, backend="relocation-bisection")
    assert R.dual_bound == pytest.approx(P.dual_value(np.zeros(P.bins)), rel=1e-12, abs=1e-12)
    # a point inside a zone is 0.05 from the nearest free point (the zone's edge x = 0.35 in its own
    # bin [0.25, 0.5] x [0.5, 0.75], 76 % free: 1 slot; the edge y = 0.6 is 0.1 away): D(0) = 0.05
    Z1 = RelocationProblem([[0.3, 0.7]], (0, 1, 0, 1), bins=(4, 4), capacity=2, exclusions=[(0.2, 0.35, 0.6, 0.8)])
    Z = om.solve(Z1, backend="relocation-greedy")
    assert Z.dual_bound == pytest.approx(0.05, rel=1e-9) and Z.objective == pytest.approx(0.05, rel=1e-9)


# ------------------------------------------------------------------------------ the command line
def _points_csv(tmp_path, n: int = 400):
    rng = np.random.default_rng(1)
    pts = np.clip(rng.normal(0.45, 0.12, (n, 2)), 0, 1)
    path = tmp_path / "cells.csv"
    np.savetxt(path, pts, delimiter=",", header="x,y", comments="")
    return path, pts


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--bins", "3.5,4"], "--bins must be M or MX,MY"),
        (["--bins", "6", "--capacity", "30", "--density", "40"], "at most one of --capacity, --density and --slack"),
        (["--bins", "6", "--backend", "highs"], "not a relocation backend"),
        (["--bins", "64"], "less than one whole point: use fewer bins"),
        (["--bins", "6", "--out", "{tmp}/nowhere/pos.npy"], "no such directory"),
        (["--bins", "6", "--out", "{tmp}/pos.dat"], "unknown extension '.dat'"),
        (["--bins", "6", "--json", "{tmp}/r.txt"], "unknown extension '.txt'"),
        (["--bins", "6", "--gap-tol", "-1"], "--gap-tol must be >= 0"),
        (["--bins", "6", "--time-limit", "0"], "--time-limit must be positive"),
        (["--bins", "6", "--exclude", "0.1,0.2,0.3"], "--exclude must be 4 comma-separated"),
        (["--bins", "6", "--bounds", "0,0.5,0,1"], "lies outside the region"),
        (["--bins", "6", "--slack", "0.8"], "total capacity is below the total mass"),
    ],
)
def test_cli_relocate_refuses_bad_input_with_status_2(tmp_path, capsys, extra, words) -> None:
    from otmodel.cli import main

    path, _ = _points_csv(tmp_path)
    rc = main(["relocate", str(path), *[e.replace("{tmp}", str(tmp_path)) for e in extra]])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and err.startswith("otmodel: error:") and "Traceback" not in err


@pytest.mark.parametrize("content, words", [("", "no points"), ("x,y\n1,2\nfoo,3\n", "two numeric columns"), ("1,2,3\n", "shape (N, 2)")])
def test_cli_relocate_refuses_bad_points_files(tmp_path, capsys, content, words) -> None:
    from otmodel.cli import main

    (tmp_path / "p.csv").write_text(content)
    assert main(["relocate", str(tmp_path / "p.csv"), "--bounds", "0,1,0,1", "--bins", "2"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Warning" not in err


def test_cli_relocate_heuristic_judged_by_the_optimum_and_spread(tmp_path, capsys) -> None:
    import json

    from otmodel.cli import main

    path, pts = _points_csv(tmp_path)
    out, js = tmp_path / "placed.csv", tmp_path / "r.json"
    args = ["relocate", str(path), "--bins", "6", "--bounds", "0,1,0,1", "--slack", "1.1", "--exclude", "0.3,0.5,0.3,0.5",
            "--displacement", "l2"]
    rc = main([*args, "--backend", "relocation-bisection", "--gap-to-optimum", "--spread", "--out", str(out), "--json", str(js)])
    text = capsys.readouterr().out
    assert rc == 0 and "spread inside their bins" in text and "bound from    relocation (exact" in text
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(6, 6), density=1.1 * 400 / 0.96, exclusions=[(0.3, 0.5, 0.3, 0.5)],
                          displacement="l2")
    opt = om.solve(P)
    d = json.loads(js.read_text())
    cert = d["certificate"]
    # the heuristic's gap is measured against the optimum's bound, which equals the optimum here
    assert cert["dual_bound"] == pytest.approx(opt.objective, rel=1e-7)
    assert cert["relative_gap"] == pytest.approx((d["objective"] - opt.objective) / d["objective"], rel=1e-6)
    assert d["spread"] is True and d["position_displacement"] > d["objective"]
    q = np.loadtxt(out, delimiter=",", skiprows=1)
    assert q.shape == (400, 2)
    assert not np.any((q[:, 0] > 0.3) & (q[:, 0] < 0.5) & (q[:, 1] > 0.3) & (q[:, 1] < 0.5))
    assert np.unique(q, axis=0).shape[0] == 400  # spread: no two points on the same spot
    # the exact backend, same instance: certified, exit status 0
    assert main([*args, "--out", str(tmp_path / "opt.npy")]) == 0
    assert "certified     True" in capsys.readouterr().out
    assert np.load(tmp_path / "opt.npy").shape == (400, 2)


# ------------------------------------------------------------------------------ figures and the example
def test_figures_mark_over_full_bins_and_spread_positions(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from otmodel.plot_relocation import plot_relocation, plot_spread

    P = gaussian_mixture_instance(1500, (8, 8), slack=1.2, seed=4)
    R = om.solve(P, backend="relocation-bisection")
    fig = plot_relocation(P, {"bisection": R}, path=str(tmp_path / "r.png"))
    titles = [ax.get_title() for ax in fig.axes]
    # bins over the threshold, counted here from the raw points: mass per free area above capacity per free area
    load = np.bincount(P.flat_bins(P.bin_index(P.points)), minlength=P.n_bins)
    n_over = int(np.sum(load > P.capacity.reshape(-1) * (1 + 1e-9)))
    before = next(t for t in titles if t.startswith("before"))
    assert f"{n_over} bins over" in before and n_over > 0
    assert "0 bins over" in next(t for t in titles if t.startswith("bisection"))
    assert (tmp_path / "r.png").stat().st_size > 10_000
    plt.close(fig)
    spread = place_points(P, P.flat_bins(R.bin_of), spread=True)
    fig = plot_spread(P, R, spread, window=(2, 5, 2, 5), path=str(tmp_path / "s.png"))
    sel = np.flatnonzero((R.bin_of[:, 0] >= 2) & (R.bin_of[:, 0] < 5) & (R.bin_of[:, 1] >= 2) & (R.bin_of[:, 1] < 5))
    assert f"input positions of the {sel.size:,} points" in fig.axes[0].get_title()
    assert f"{sel.size:,} distinct positions" in fig.axes[2].get_title()
    plt.close(fig)


def test_example_writes_the_table_and_figures(tmp_path, monkeypatch) -> None:
    import importlib.util
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    src = Path(__file__).resolve().parents[1] / "examples" / "relocation_vlsi.py"
    spec = importlib.util.spec_from_file_location("relocation_vlsi", src)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--n", "1500", "--bins", "8", "--out", str(tmp_path)])
    table = (tmp_path / "table.md").read_text()
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r]
    assert [r.split("|")[1].strip() for r in rows[1:]] == [
        "input (no move)", "optimum (relocation)", "recursive bisection", "greedy nearest free bin",
        "optimum, spread inside bins",
    ]
    # the heuristics are feasible and measurably above the certified bound, the optimum is at it
    assert "gap to the optimum's bound" in rows[0]
    cells = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in rows[1:]}
    assert float(cells["optimum (relocation)"][4]) <= 1e-6
    assert float(cells["recursive bisection"][4]) > 1e-3 and cells["recursive bisection"][5] == "True"
    assert float(cells["optimum, spread inside bins"][1]) > float(cells["optimum, spread inside bins"][0])
    assert (tmp_path / "relocation.png").exists() and (tmp_path / "spread.png").exists()


def _reference_bisection(P: RelocationProblem) -> np.ndarray:
    """The seed's recursive bisection written plainly: a full sort per block, recursion by a list."""
    mx, my = P.bins
    S = P.slots.reshape(mx, my)
    out = np.empty(P.n_points, dtype=np.int64)
    todo = [(0, mx, 0, my, np.arange(P.n_points), 0)]
    while todo:
        x0, x1, y0, y1, idx, depth = todo.pop()
        if x1 - x0 == 1 and y1 - y0 == 1:
            out[idx] = x0 * my + y0
            continue
        axis = 1 if x1 - x0 == 1 else 0 if y1 - y0 == 1 else depth % 2
        mid = (x0 + x1) // 2 if axis == 0 else (y0 + y1) // 2
        a = (x0, mid, y0, y1) if axis == 0 else (x0, x1, y0, mid)
        b = (mid, x1, y0, y1) if axis == 0 else (x0, x1, mid, y1)
        ca, cb = int(S[a[0] : a[1], a[2] : a[3]].sum()), int(S[b[0] : b[1], b[2] : b[3]].sum())
        n = idx.size
        k = min(max(math.floor(n * ca / max(ca + cb, 1) + 0.5), n - cb), ca)
        o = idx[np.argsort(P.points[idx, axis], kind="stable")]
        todo += [(*a, o[:k], depth + 1), (*b, o[k:], depth + 1)]
    return out


@pytest.mark.parametrize("n, bins", [(3000, (7, 10)), (8000, (16, 16)), (5000, (1, 9))])
def test_bisection_equals_the_plain_recursion(n, bins) -> None:
    P = gaussian_mixture_instance(n, bins, slack=1.2, seed=n)
    R = om.solve(P, backend="relocation-bisection")
    np.testing.assert_array_equal(P.flat_bins(R.bin_of), _reference_bisection(P))
    assert (R.loads().reshape(-1) <= P.slots).all()


def test_cli_relocate_solver_failure_is_status_3(tmp_path, capsys, monkeypatch) -> None:
    from otmodel.cli import main
    from otmodel.errors import SolverError

    path, _ = _points_csv(tmp_path)

    def broken(*args, **kwargs):
        raise SolverError("OR-Tools min-cost flow returned BAD_RESULT")

    monkeypatch.setattr(om, "solve", broken)
    assert main(["relocate", str(path), "--bins", "6", "--slack", "1.3"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("otmodel: error: OR-Tools min-cost flow returned BAD_RESULT")


def test_exact_backend_spreads_on_request() -> None:
    """``om.solve(P, spread=True)`` on the default (exact) backend: same certified assignment, the
    positions spread inside each bin's free part (distinct, outside the zone), the cost unchanged."""
    rng = np.random.default_rng(1)
    pts = rng.random((300, 2)) ** 2
    zone = (0.2, 0.4, 0.2, 0.5)
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(6, 6), density=1.1 * 300, exclusions=[zone])
    plain, spread = om.solve(P), om.solve(P, spread=True)
    assert spread.spread and not plain.spread
    np.testing.assert_array_equal(plain.bin_of, spread.bin_of)
    assert spread.objective == plain.objective
    # nearest-free-point placement piles points onto shared spots; spreading separates them
    assert len(np.unique(spread.positions, axis=0)) > len(np.unique(plain.positions, axis=0))
    q = spread.positions
    assert not np.any((q[:, 0] > zone[0]) & (q[:, 0] < zone[1]) & (q[:, 1] > zone[2]) & (q[:, 1] < zone[3]))
    assert om.validation.certify(P, spread).certified
    with pytest.raises(InvalidDataError, match="spread"):
        om.solve(P, spread="yes")


def test_cli_relocate_certifies_at_the_gap_asked_for(tmp_path, capsys) -> None:
    """``--gap-tol`` looser than the default rtol: the answer certified within it is certified (exit 0);
    an explicit ``--rtol`` still rules (exit 1 at the same answer)."""
    import json

    from otmodel.cli import main

    rng = np.random.default_rng(0)
    path = tmp_path / "p.csv"
    np.savetxt(path, np.clip(rng.normal(0.4, 0.15, (3000, 2)), 0, 1), delimiter=",")
    args = ["relocate", str(path), "--bins", "16", "--bounds", "0,1,0,1", "--displacement", "l2", "--json", str(tmp_path / "r.json")]
    assert main([*args, "--gap-tol", "0.05"]) == 0
    gap = json.loads((tmp_path / "r.json").read_text())["certificate"]["relative_gap"]
    assert 1e-6 < gap <= 0.05  # stopped above the default rtol, within the gap asked for
    assert "certified     True" in capsys.readouterr().out
    assert main([*args, "--gap-tol", "0.05", "--rtol", "1e-6"]) == 1
    assert "certified     False" in capsys.readouterr().out
