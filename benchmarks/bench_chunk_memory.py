#!/usr/bin/env python
"""Block size of the chunked cell-mass pass: the old fixed 65,536 points against the default
``block_rows(|S|)`` (at most 2**23 costs per block), one dual-ascent oracle call on N = 200,000
uniform points and |S| = 1,000 endpoints, Euclidean costs on the fly, no pruning.

Prints seconds per call (best of 3) and the tracemalloc peak of one call, and checks that both
block sizes give the same answer (up to summation round-off). About 1 minute::

    .venv/bin/python benchmarks/bench_chunk_memory.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

import otmodel as om
from otmodel.backends.oracle import DualOracle as _Oracle


def main(n: int = 200_000, s: int = 1000) -> None:
    rng = np.random.default_rng(0)
    net = om.Network()
    for k in range(s):
        net.add_node(f"E{k}", endpoint=True, position=tuple(rng.uniform(0, 1, 2)))
    net.add_node("S", supply=1.0, position=(0.5, 0.5))
    for k in range(s):
        net.add_arc("S", f"E{k}", om.Quadratic(1.0), lower=0, upper=1)
    pts = om.Points(rng.uniform(0, 1, (n, 2)), np.full(n, 1 / n))
    p = om.SpatialFlowProblem(net, pts, om.Euclidean())
    psi = np.zeros(p.n_nodes)
    psi[:s] = rng.uniform(0, 0.5 / np.sqrt(s), s)
    outs = []
    for label, chunk in (("fixed 65,536 points", 65536), ("default block_rows", None)):
        o = _Oracle(p, chunk, False, prune=False)
        o.evaluate(psi)
        best = min(_timed(o, psi) for _ in range(3))
        tracemalloc.start()
        outs.append(o.evaluate(psi))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert o.cells is not None
        print(f"{label:22s} {o.cells.chunk:6d} points per block  {best:6.3f} s per call  peak {peak / 2**20:7.1f} MB")
    diff = max(float(np.max(np.abs(np.asarray(x, float) - np.asarray(y, float)))) for x, y in zip(*outs, strict=True))
    print(f"largest difference between the two answers: {diff:.1e} (summation order only)")


def _timed(o: _Oracle, psi: np.ndarray) -> float:
    t = time.perf_counter()
    o.evaluate(psi)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
