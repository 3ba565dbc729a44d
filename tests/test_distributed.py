"""Dask scale-out of the dual ascent (issue 17), on a ``LocalCluster`` of 2 processes over loopback.

References are independent of the code under test: the single-process ``CellPass``, backend and
``certify`` (same data, in memory), and ``Grid.from_density`` for the generated grid. Agreement is
asked to 1e-12 relative: only the order of floating-point summation differs (measured: 7e-16 on
cell masses, 4e-15 on final potentials after 12 iterations).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is the optional 'distributed' extra: pip install 'otmodel[distributed]'")

import otmodel as om  # noqa: E402
from otmodel.backends.cells import CellPass  # noqa: E402
from otmodel.backends.distributed import DistributedCellPass, as_client  # noqa: E402
from otmodel.backends.steps import Curvature  # noqa: E402
from otmodel.errors import InvalidDataError, UnsupportedError  # noqa: E402
from otmodel.instances import synthetic  # noqa: E402
from otmodel.model import dask_demand  # noqa: E402
from otmodel.model.dask_demand import DaskPoints, DaskSpatialFlowProblem  # noqa: E402
from otmodel.model.demand import Grid, Matrix, Points, TruncatedGaussian  # noqa: E402
from otmodel.validation import certify  # noqa: E402
from otmodel.validation.distributed import certify_distributed  # noqa: E402

RTOL = 1e-12
BOX = (0.0, 100.0, 0.0, 100.0)
DENSITY = TruncatedGaussian((50.0, 75.0), 25.0)
PSIS = [np.zeros(4), np.array([0.3, -0.2, 1.0, 0.5]), np.array([5.0, -3.0, 2.0, 11.0])]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def problem():
    return synthetic(60)


@pytest.fixture(scope="module")
def dask_problem(problem, client):
    pts = DaskPoints.grid(DENSITY, BOX, (60, 60), rows=700, client=client)  # 6 blocks, the last one short
    return DaskSpatialFlowProblem(problem.network, pts, problem.assignment_cost, name=problem.name)


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) <= rtol


# ------------------------------------------------------------------------------ demand measures
def test_generated_grid_is_grid_from_density(dask_problem, problem):
    pts = dask_problem.points
    assert pts.n_blocks == 6 and pts.generated
    assert np.array_equal(pts.xy, problem.demand.xy)  # same centres, bit for bit
    assert close(pts.mass, problem.demand.mass)  # normalized by a sum in another order
    assert abs(pts.total - 1.0) < 1e-15
    assert np.array_equal(dask_problem.cost_block(650, 1500), problem.cost_block(650, 1500))


def test_random_blocks_are_seeded_per_block(client):
    a = DaskPoints.random(DENSITY, BOX, 5000, seed=7, rows=1024, client=client)
    b = DaskPoints.random(DENSITY, BOX, 5000, seed=7, rows=1024)  # Dask's local scheduler
    c = DaskPoints.random(DENSITY, BOX, 5000, seed=8, rows=1024, client=client)
    assert np.array_equal(a.xy, b.xy) and np.array_equal(a.mass, b.mass)
    assert not np.array_equal(a.xy, c.xy)
    # block 2 alone, drawn from its own seed in this process
    x2 = np.random.default_rng([7, 2]).random((1024, 2)) * 100.0
    assert np.allclose(a.rows(2048, 3072)[0], x2, rtol=0, atol=1e-12)
    assert abs(a.total - 1.0) < 1e-14 and np.all(a.mass > 0)


def test_bad_points_name_the_point(client):
    xy = np.random.default_rng(0).random((3000, 2))
    mass = np.full(3000, 1 / 3000)
    xy[2345, 1] = np.nan
    with pytest.raises(InvalidDataError, match="demand point 2345: non-finite"):
        DaskPoints.from_arrays(xy, mass, rows=1000, client=client)
    xy[2345, 1] = 0.5
    mass[1999] = -1.0
    with pytest.raises(InvalidDataError, match="demand point 1999: mass -1.0 is negative"):
        DaskPoints.from_arrays(xy, mass, rows=1000, client=client)
    with pytest.raises(InvalidDataError, match="shape"):
        DaskPoints.from_arrays(xy[:, :1], mass, client=client)


def test_matrix_cost_is_refused(problem, client):
    pts = DaskPoints.from_arrays(problem.demand.xy, problem.demand.mass, client=client)
    with pytest.raises(UnsupportedError, match="planar assignment cost"):
        DaskSpatialFlowProblem(problem.network, pts, Matrix(problem.cost_matrix()))
    small = om.SpatialFlowProblem(problem.network, Points(problem.demand.xy, problem.demand.mass), Matrix(problem.cost_matrix()))
    with pytest.raises(UnsupportedError, match="Euclidean, SquaredEuclidean and Manhattan"):
        DistributedCellPass(small, client)


def test_large_demand_is_not_gathered(dask_problem, monkeypatch):
    monkeypatch.setattr(dask_demand, "LOCAL_LIMIT", 1000)
    fresh = DaskPoints(dask_problem.points.parts, [{"n": int(b - a), "bad": None, "total": 0.25, "lo": [0, 0], "hi": [1, 1]}
                       for a, b in zip(dask_problem.points.starts[:-1], dask_problem.points.starts[1:], strict=True)], "test")
    with pytest.raises(UnsupportedError, match="more than 1,000 to hold in one process"):
        fresh.mass  # noqa: B018


def test_zarr_store(problem, client, tmp_path):
    zarr = pytest.importorskip("zarr", reason="reading Zarr needs the zarr package")
    store = str(tmp_path / "demand.zarr")
    root = zarr.open_group(store, mode="w")
    root.create_array("xy", data=np.asarray(problem.demand.xy), chunks=(1000, 2))
    root.create_array("mass", data=np.asarray(problem.demand.mass), chunks=(1000,))
    pts = DaskPoints.from_zarr(store, client=client)
    assert pts.n_blocks == 4 and np.array_equal(pts.xy, problem.demand.xy)
    dprob = DaskSpatialFlowProblem(problem.network, pts, problem.assignment_cost)
    psi = PSIS[1]
    m, sdot = DistributedCellPass(dprob, client)(psi)
    ref_m, ref_sdot = CellPass(problem)(psi)
    assert close(m, ref_m) and close(sdot, ref_sdot)
    with pytest.raises(InvalidDataError, match="nowhere.zarr"):
        DaskPoints.from_zarr(str(tmp_path / "nowhere.zarr"), client=client)


# ------------------------------------------------------------------------------ the cell pass
@pytest.mark.parametrize("prune", [False, True])
def test_cell_masses_match_single_process(problem, dask_problem, client, prune):
    ref = CellPass(problem, prune=prune)
    passes = [
        DistributedCellPass(problem, client, prune=prune, rows=1000),  # scattered from memory
        DistributedCellPass(dask_problem, client, prune=prune),  # regenerated in every pass
        DistributedCellPass(dask_problem, client, prune=prune, persist=True),  # generated once, kept
    ]
    for psi in PSIS:
        m0, s0 = ref(psi)
        for dp in passes:
            m, s = dp(psi)
            assert close(m, m0) and close(s, s0)
        assert np.array_equal(passes[1].labels(psi), ref.labels(psi))


def test_scheduler_address(problem, client):
    dp = DistributedCellPass(problem, client.scheduler.address)
    m, _ = dp(PSIS[2])
    assert close(m, CellPass(problem)(PSIS[2])[0])
    dp.close()
    assert dp.client.status == "closed"  # made from the address, so closed with the pass
    with pytest.raises(InvalidDataError, match="cannot connect"):
        as_client("tcp://127.0.0.1:9", timeout=1)


# ------------------------------------------------------------------------------ solve and certify
@pytest.mark.parametrize("options", [{"max_iter": 15}, {"step_size": Curvature(), "max_iter": 12}])
def test_same_iterates_and_certificate(problem, dask_problem, client, options):
    ref = om.solve(problem, backend="dual-ascent", **options)
    for prob in (problem, dask_problem):
        sol = om.solve(prob, backend="dual-ascent", client=client, **options)
        assert sol.iterations == ref.iterations
        assert close(sol.potentials, ref.potentials)
        assert close(sol.trace["dual_value"], ref.trace["dual_value"])
        assert close(sol.cell_mass, ref.cell_mass) and close(sol.objective, ref.objective)
        assert sol.info["distributed"]["workers"] == 2
    if "step_size" not in options:
        return  # the certificate of a point far from optimal: single-process certify alone takes seconds
    cert = certify(problem, ref)
    dist = certify_distributed(dask_problem, ref, client)
    for field in ("dual_bound", "upper_bound", "objective", "dual_value_raw"):
        assert close(getattr(dist, field), getattr(cert, field)), field
    assert abs(dist.gap - cert.gap) <= RTOL * abs(cert.upper_bound)
    assert dist.certified == cert.certified
    assert dist.certified  # Curvature: 1e-6 in 12 iterations


def test_certifier_rejects_wrong_answers(problem, client):
    sol = om.solve(problem, backend="dual-ascent", step_size=Curvature(), max_iter=12)
    assert certify_distributed(problem, sol, client).certified
    from dataclasses import replace

    lied = replace(sol, objective=sol.objective * 0.99)
    bad = certify_distributed(problem, lied, client)
    assert not bad.certified and any("reported objective" in r for r in bad.reasons)
    masses = replace(sol, cell_mass=sol.cell_mass[::-1].copy())
    assert not certify_distributed(problem, masses, client).certified
    far = replace(sol, potentials=sol.potentials + np.array([0, 0, 0.5, -0.5, 0.3, 0]))
    weak = certify_distributed(problem, far, client)
    assert not weak.certified and weak.dual_bound < certify_distributed(problem, sol, client).dual_bound


def test_what_does_not_distribute(problem, client):
    with pytest.raises(UnsupportedError, match="stochastic"):
        om.solve(problem, backend="dual-ascent", client=client, samples=100, max_iter=2)
    with pytest.raises(UnsupportedError, match="Newton"):
        om.solve(problem, backend="dual-ascent", client=client, step_size="newton", max_iter=2)
    with pytest.raises(InvalidDataError, match="client must be"):
        om.solve(problem, backend="dual-ascent", client=3.0, max_iter=2)


def test_import_otmodel_does_not_import_dask():
    code = "import sys, otmodel; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_grid_block_numbering_matches_grid():
    g = Grid.from_density(DENSITY, BOX, (7, 5), total=None)
    blk = dask_demand.GridBlock(DENSITY, BOX, (7, 5), 3, 31)
    xy, mass = blk.load()
    assert np.array_equal(xy, g.xy[3:31]) and np.array_equal(mass, g.mass[3:31])


def test_cli_scheduler(client, capsys, tmp_path):
    from pathlib import Path

    from otmodel.cli import main

    model = Path(__file__).resolve().parents[1] / "examples/models/synthetic.yaml"
    out = tmp_path / "sol.json"
    args = ["solve", str(model), "--scheduler", client.scheduler.address, "--json", str(out)]
    rc = main([*args, "--option", "step_size=curvature", "--option", "max_iter=12"])
    text = capsys.readouterr().out
    assert rc == 0 and "dual-ascent" in text and "certificate: CERTIFIED" in text  # certified on the cluster
    import json

    info = json.loads(out.read_text())
    ref = om.solve(om.load(model), backend="dual-ascent", step_size=Curvature(), max_iter=12)
    assert close(list(info["potentials"].values()) if isinstance(info["potentials"], dict) else info["potentials"], ref.potentials)
    assert main(["solve", str(model), "--scheduler", client.scheduler.address, "--backend", "highs"]) == 2
    assert "--scheduler runs the dual-ascent" in capsys.readouterr().err


def test_no_plan_above_the_local_limit(problem, dask_problem, client, monkeypatch):
    from otmodel.backends import distributed

    ref = om.solve(problem, backend="dual-ascent", step_size=Curvature(), max_iter=12)
    monkeypatch.setattr(distributed, "LOCAL_LIMIT", 1000)  # "more points than one process should gather"
    sol = om.solve(dask_problem, backend="dual-ascent", client=client, step_size=Curvature(), max_iter=12)
    assert sol.assignment is None
    assert close(sol.objective, ref.objective)  # the plan's cost summed on the workers
    cert = certify_distributed(dask_problem, sol, client)
    assert cert.certified and close(cert.upper_bound, certify(problem, ref).upper_bound)
