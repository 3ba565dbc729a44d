"""A billion demand points on a Dask cluster: the synthetic instance of section V-A, certified.
==============================================================================================

Run from the repository root::

    python examples/distributed_billion.py                      # 31,623 x 31,623 grid: 1.0e9 points
    python examples/distributed_billion.py --side 3000          # 9 million points
    python examples/distributed_billion.py --density gaussian   # section V-A's demand density
    python examples/distributed_billion.py --scheduler tcp://127.0.0.1:8786   # a cluster already running

The synthetic instance of Laurentin et al. (2025), section V-A (``otmodel.instances.synthetic``),
with its demand discretized on a ``side x side`` grid instead of 200 x 200 (uniform by default, see
below). At the default side, a
billion points are 24 GB as one array (coordinates and masses in float64): more than this machine's
memory. Here no process ever holds them: ``DaskPoints.grid`` describes the grid as blocks of 4
million points, and each worker regenerates its blocks from the density inside every pass (each
pass sends the four endpoint potentials out and gets per-endpoint sums back).

Steps:

1. a warm start: the dual ascent with the ``Curvature`` step on a 250 x 250 grid in memory (a second);
2. ``--iterations`` dual-ascent iterations on the full grid, on the cluster (``client=``);
3. ``certify_distributed``: the proven dual bound at the returned potentials, the repaired point
   of Proposition 1 (every point to its Laguerre cell; a min-cost flow for the cells' masses) and
   the gap, with the demand's passes on the workers.

The Laguerre cells of the coarse and the fine grid are the same up to the discretization, so one
iteration from the warm start certifies a gap well under 1e-6 (measured at 1,000 x 1,000:
2.4e-9 after one iteration; at 2,000 x 2,000 on the cluster: 2.6e-9). The run makes four passes
over the points (normalization, one iteration, the final evaluation with the plan's cost, the
certificate). Measured per block of 4 million points on this machine (one core, loaded): generating
0.29 s (uniform; the truncated Gaussian's density costs about 1 s more), the iteration kernel
0.17 s, the certificate kernel 0.42 s. The billion uniform points ran in 569 s here, two cores shared with other
jobs (normalization 334 s, iteration and final pass 173 s, certificate 61 s): relative gap 5.3e-9,
peak memory 1.06 GB for client, scheduler and both workers together.

``--density gaussian`` keeps the section's truncated Gaussian demand (default ``uniform``: the same
network with uniform demand, three times cheaper to generate).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import otmodel as om
from otmodel.backends.steps import Curvature
from otmodel.instances import synthetic
from otmodel.model.dask_demand import DaskPoints, DaskSpatialFlowProblem
from otmodel.model.demand import Euclidean, Grid, TruncatedGaussian, Uniform
from otmodel.validation.distributed import certify_distributed

BOX = (0.0, 100.0, 0.0, 100.0)
DENSITY = TruncatedGaussian((50.0, 75.0), 25.0)  # the density of section V-A


def main(
    side: int = 31_623,
    density: str = "uniform",
    workers: int = 2,
    scheduler: str | None = None,
    iterations: int = 1,
    coarse: int = 250,
    rtol: float = 1e-6,
    processes: bool = True,
) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        # loopback only (threads: in-process transport, no socket at all), one thread per worker:
        # the passes are compiled loops and numpy, one core each
        where = {"host": "127.0.0.1"} if processes else {}
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address="127.0.0.1:0", **where
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        t0 = time.perf_counter()
        dens = DENSITY if density == "gaussian" else Uniform()
        base = synthetic(coarse)  # the network of section V-A, and the same density on a coarse grid
        coarse_problem = om.SpatialFlowProblem(base.network, Grid.from_density(dens, BOX, (coarse, coarse)), Euclidean())
        warm = om.solve(coarse_problem, backend="dual-ascent", step_size=Curvature(), max_iter=15, tol=0.0)
        t_warm = time.perf_counter() - t0

        t0 = time.perf_counter()
        points = DaskPoints.grid(dens, BOX, (side, side), client=client)
        problem = DaskSpatialFlowProblem(base.network, points, Euclidean(), name=f"synthetic V-A {side}x{side}")
        t_grid = time.perf_counter() - t0
        print(problem)
        print(points)

        t0 = time.perf_counter()
        sol = om.solve(
            problem,
            backend="dual-ascent",
            client=client,
            step_size=Curvature(),
            max_iter=iterations,
            tol=0.0,
            psi0=warm.potentials,
        )
        t_solve = time.perf_counter() - t0
        t0 = time.perf_counter()
        cert = certify_distributed(problem, sol, client, rtol=rtol)
        t_cert = time.perf_counter() - t0
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    print(f"\nwarm start on {coarse} x {coarse} points : {t_warm:8.1f} s")
    print(f"grid of {points.n:,} points (one pass)     : {t_grid:8.1f} s")
    print(f"dual ascent, {sol.iterations} iteration(s) + final  : {t_solve:8.1f} s  ({sol.message})")
    print(f"certificate (one pass + repair)         : {t_cert:8.1f} s")
    print(f"\ndual bound {cert.dual_bound:.12g}, upper bound {cert.upper_bound:.12g}")
    print(f"relative gap {cert.relative_gap:.3e}: {'certified' if cert.certified else 'NOT certified'} at rtol {rtol:g}")
    for name, node in zip(problem.endpoint_names, problem.endpoints, strict=True):
        print(f"  {name}: psi = {sol.potentials[node]: .9f}, cell mass = {sol.cell_mass[list(problem.endpoints).index(node)]:.9f}")
    return {
        "points": points.n,
        "relative_gap": cert.relative_gap,
        "certified": cert.certified,
        "seconds": {"warm": t_warm, "grid": t_grid, "solve": t_solve, "certify": t_cert},
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Dual ascent on a billion demand points generated on Dask workers, certified.")
    ap.add_argument("--side", type=int, default=31_623, help="grid side: side x side demand points (default 31,623: 1e9)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (one thread each)")
    ap.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (default: start a LocalCluster)")
    ap.add_argument("--iterations", type=int, default=1, help="dual-ascent iterations on the full grid (default 1)")
    ap.add_argument("--rtol", type=float, default=1e-6, help="certification tolerance (default 1e-6)")
    ap.add_argument("--density", choices=("uniform", "gaussian"), default="uniform",
                    help="demand density: uniform (default) or section V-A's truncated Gaussian")
    args = ap.parse_args()
    if os.environ.get("OTMODEL_DOCS_BUILD"):
        # the documentation executes every example: a 300 x 300 grid in threads keeps it to seconds
        main(side=300, density="gaussian", processes=False)
    else:
        main(args.side, args.density, args.workers, args.scheduler, args.iterations, rtol=args.rtol)
