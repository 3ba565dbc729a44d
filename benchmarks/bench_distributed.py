"""Dual ascent on a Dask ``LocalCluster`` (issue 17): time per iteration, scheduler overhead, a billion points.

For N uniform random demand points in the unit square (masses 1/N) and |S| endpoints at random
positions (Euclidean cost, endpoint potentials uniform in [0, 0.5/sqrt(|S|)], about half an endpoint
spacing, as ``bench_dual_ascent.py``), one iteration of the dual ascent (``DualOracle``: flows, cell
masses, SDOT term, q, g) is timed

* ``single``: the single-process backend (``CellPass``: numpy blocks, k-d tree pruning from 64
  endpoints), points in memory;
* ``kernel``: the distributed pass's compiled block kernel run over the same blocks in this process,
  without Dask (what the cluster runs, minus the cluster);
* ``dask``: ``DistributedCellPass`` on a 2-worker ``LocalCluster`` (processes, one thread each,
  loopback), points generated on the workers and kept there (``persist=True``);
* ``dask regen``: the same, blocks regenerated inside every pass (how a billion points run).

The scheduler's overhead per iteration is the wall time of a ``dask`` pass minus the time its tasks
spent computing divided by the number of workers (each task reports its own time).
Time: best of ``--repeat`` passes after one warm-up pass (which also compiles the kernel).

``--billion`` then solves the network of section V-A's synthetic instance with its demand on a
31,623 x 31,623 grid (1.0e9 points, generated on the workers in every pass; ``--density``: the
section's truncated Gaussian or uniform) from a warm start (the same on a 250 x 250 grid), certifies it with
``certify_distributed`` and records the peak resident memory of the client (which runs the
scheduler) and the workers together, sampled every 0.2 s, and the sum of each process's own peak.

Usage (the machine of this project has 2 cores, shared: run under nice)::

    nice -n 10 python benchmarks/bench_distributed.py --sizes 1e7 1e8 --ends 4 100 --billion
    nice -n 10 python benchmarks/bench_distributed.py --sizes 1e6 --ends 4      # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import otmodel as om  # noqa: E402
from otmodel.backends.distributed import DistributedCellPass, block_pass  # noqa: E402
from otmodel.backends.oracle import DualOracle  # noqa: E402
from otmodel.model.dask_demand import DaskPoints, DaskSpatialFlowProblem  # noqa: E402
from otmodel.model.demand import Euclidean, Points, Uniform  # noqa: E402

BOX = (0.0, 1.0, 0.0, 1.0)


def network(ns: int, seed: int = 0) -> om.Network:
    rng = np.random.default_rng(seed)
    net = om.Network()
    for i in range(ns):
        net.add_node(f"e{i}", supply=1.0 / ns, position=tuple(rng.random(2)), endpoint=True)
    for i in range(ns - 1):  # a path of quadratic arcs: every node has a flow term
        net.add_arc(f"e{i}", f"e{i + 1}", om.Quadratic(1.0), -1, 1)
    return net


def potentials(ns: int, n_nodes: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    psi = np.zeros(n_nodes)
    psi[:ns] = rng.uniform(0, 0.5 / math.sqrt(ns), ns)
    return psi


def best(f: Any, repeat: int) -> float:
    f()  # warm-up (compiles the kernel, imports on the workers)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def case(client: Any, n: int, ns: int, repeat: int, single: bool) -> dict[str, Any]:
    net = network(ns)
    pts = DaskPoints.random(Uniform(), BOX, n, seed=0, client=client)
    dprob = DaskSpatialFlowProblem(net, pts, Euclidean())
    psi = potentials(ns, dprob.n_nodes)
    row: dict[str, Any] = {"N": n, "S": ns, "blocks": pts.n_blocks}
    ref = None
    if single:
        xy = np.concatenate([pts.block(b)[0] for b in range(pts.n_blocks)])
        mass = np.concatenate([pts.block(b)[1] for b in range(pts.n_blocks)])
        prob = om.SpatialFlowProblem(net, Points(xy, mass), Euclidean())
        del xy, mass
        oracle = DualOracle(prob, None, "auto")
        row["single_s"] = best(lambda o=oracle: o(psi), 1 if n >= 50_000_000 else repeat)
        row["single_pruned"] = oracle.cells is not None and oracle.cells.pruner is not None
        ref = oracle.evaluate(psi)[3]
        del oracle, prob
    yxy = np.asarray(dprob.endpoint_xy)
    psi_s = psi[np.asarray(dprob.endpoints)]

    def kernel() -> None:
        for part in pts.parts:
            block_pass(part, psi_s, yxy, dprob.assignment_cost, 16_384, False, "cells")

    # the in-process kernel regenerates each block (as "dask regen" does); its generation time is
    # measured apart and subtracted so that it compares with the persisted "dask" pass
    row["kernel_regen_s"] = best(kernel, 1 if n >= 50_000_000 else repeat)
    t = time.perf_counter()
    for part in pts.parts:
        part.load()
    row["generate_s"] = time.perf_counter() - t
    row["kernel_s"] = max(row["kernel_regen_s"] - row["generate_s"], 0.0)
    workers = len(client.scheduler_info()["workers"])
    for label, persist in (("dask", True), ("dask_regen", False)):
        cells = DistributedCellPass(dprob, client, persist=persist)
        oracle = DualOracle(dprob, None, "auto", cells=cells)
        row[f"{label}_s"] = best(lambda o=oracle: o(psi), repeat)
        row[f"{label}_overhead_s"] = row[f"{label}_s"] - cells.task_seconds / workers
        if ref is not None and label == "dask":
            m = oracle.evaluate(psi)[3]
            row["max_rel_diff_masses"] = float(np.max(np.abs(m - ref) / np.maximum(np.abs(ref), 1e-300)))
        cells.close()
        del oracle, cells
    if single:
        row["dask_over_single"] = row["dask_s"] / row["single_s"]
    return row


class PeakRSS:
    """Peak of the summed resident memory of this process and all its descendants, sampled."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self.proc = psutil.Process()
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 -- a process that just exited
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _maxrss() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def billion(client: Any, side: int, iterations: int, density_name: str) -> dict[str, Any]:
    from otmodel.backends.steps import Curvature
    from otmodel.instances import synthetic
    from otmodel.model.demand import Grid, TruncatedGaussian
    from otmodel.validation.distributed import certify_distributed

    density = TruncatedGaussian((50.0, 75.0), 25.0) if density_name == "gaussian" else Uniform()
    out: dict[str, Any] = {"side": side, "N": side * side, "density": repr(density)}
    with PeakRSS() as rss:
        t = time.perf_counter()
        base = synthetic(250)  # its network; the warm start on a 250 x 250 grid of the same density
        coarse = om.SpatialFlowProblem(base.network, Grid.from_density(density, (0.0, 100.0, 0.0, 100.0), (250, 250)), Euclidean())
        warm = om.solve(coarse, backend="dual-ascent", step_size=Curvature(), max_iter=15, tol=0.0)
        out["warm_s"] = time.perf_counter() - t
        print(json.dumps(out), f"peak RSS so far {rss.peak / 1e9:.2f} GB", flush=True)  # partial results survive a kill
        t = time.perf_counter()
        pts = DaskPoints.grid(density, (0.0, 100.0, 0.0, 100.0), (side, side), client=client)
        prob = DaskSpatialFlowProblem(base.network, pts, Euclidean(), name=f"synthetic V-A {side}x{side}")
        out["grid_s"] = time.perf_counter() - t
        out["blocks"] = pts.n_blocks
        print(json.dumps(out), f"peak RSS so far {rss.peak / 1e9:.2f} GB", flush=True)  # partial results survive a kill
        t = time.perf_counter()
        sol = om.solve(prob, backend="dual-ascent", client=client, step_size=Curvature(), max_iter=iterations, tol=0.0,
                       psi0=warm.potentials)
        out["solve_s"] = time.perf_counter() - t
        out["iterations"] = sol.iterations
        print(json.dumps(out), f"peak RSS so far {rss.peak / 1e9:.2f} GB", flush=True)  # partial results survive a kill
        t = time.perf_counter()
        cert = certify_distributed(prob, sol, client, rtol=1e-6)
        out["certify_s"] = time.perf_counter() - t
    out.update(
        dual_bound=cert.dual_bound,
        upper_bound=cert.upper_bound,
        relative_gap=cert.relative_gap,
        certified=cert.certified,
        potentials=sol.potentials.tolist(),
        peak_rss_sampled_gb=rss.peak / 1e9,
        peak_rss_sum_of_process_peaks_gb=(_maxrss() + sum(client.run(_maxrss).values())) / 1e9,
        one_array_gb=side * side * 24 / 1e9,  # xy and mass in float64, the single-process backend's input
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Dask scale-out of the dual ascent: time per iteration and a billion points.")
    ap.add_argument("--sizes", type=float, nargs="*", default=[1e7, 1e8])
    ap.add_argument("--ends", type=int, nargs="*", default=[4, 100])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-single", action="store_true", help="skip the single-process backend (memory)")
    ap.add_argument("--single-max", type=float, default=2e9,
                    help="time the single-process backend only where N x |S| <= this (else extrapolate linearly in N)")
    ap.add_argument("--billion", action="store_true", help="also solve and certify 1e9 points")
    ap.add_argument("--side", type=int, default=31_623, help="grid side of the --billion run")
    ap.add_argument("--iterations", type=int, default=1, help="iterations of the --billion run (warm start)")
    ap.add_argument("--density", choices=("gaussian", "uniform"), default="gaussian",
                    help="demand density of the --billion run (section V-A's truncated Gaussian, or uniform: 3x cheaper to generate)")
    ap.add_argument("--json", default=str(HERE / "results_distributed.json"))
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start",
        "command": " ".join(sys.argv),
        "cases": [],
    }
    try:
        for ns in args.ends:
            for n in sorted(args.sizes):
                single = not args.no_single and n * ns <= args.single_max
                row = case(client, int(n), ns, args.repeat, single)
                done = [r for r in results["cases"] if r["S"] == ns and "single_s" in r]
                if not single and done:
                    # linear in N (one pass over the points): from the largest size measured at this |S|
                    ref = max(done, key=lambda r: r["N"])
                    row["single_s_extrapolated"] = ref["single_s"] * n / ref["N"]
                    row["dask_over_single_extrapolated"] = row["dask_s"] / row["single_s_extrapolated"]
                print(json.dumps(row), flush=True)
                results["cases"].append(row)
        if args.billion:
            results["billion"] = billion(client, args.side, args.iterations, args.density)
            print(json.dumps(results["billion"]), flush=True)
    finally:
        results["load_at_end"] = os.getloadavg()[0]
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
