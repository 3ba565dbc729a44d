#!/usr/bin/env python
r"""What the node-by-node verification costs next to the solve it verifies (issue 18).

Every exact backend verifies each point it calls optimal (``otmodel.backends._checked.checked_solution``:
clip into bounds, per-node conservation relative to each node's own supply and throughput, the LP
duality gap for network LPs). This measures, in one run, for each exact backend and instance, the
time of ``otmodel.solve`` and the time of the check alone on its answer, and prints the ratio:

* ``synthetic(n)`` LP and QP (Laurentin et al. 2025, section V-A; spatial, n*n demand points);
* networkx's ``netgen-2`` min-cost-flow instance (400 nodes, 1,416 arcs, supplies up to 1e5);
* networkx's ``faux_infinity`` instance (supplies 1e9 and 4, the case that motivated the check).

::

    python benchmarks/bench_checked.py --n 100
"""

from __future__ import annotations

import argparse
import bz2
import importlib.resources
import pickle
import time
import warnings
from collections.abc import Callable
from typing import Any

import otmodel as om
from otmodel.backends import exact_backends
from otmodel.backends._checked import checked_solution
from otmodel.instances import synthetic


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def netgen() -> om.FlowProblem:
    path = importlib.resources.files("networkx.algorithms.flow.tests") / "netgen-2.gpickle.bz2"
    with bz2.BZ2File(str(path), "rb") as f:
        return om.FlowProblem(om.Network.from_networkx(pickle.load(f)))


def faux() -> om.FlowProblem:
    net = om.Network()
    for name, s in [("s0", 1e9), ("s1", 4.0), ("ns", 0.0), ("nc", 0.0), ("c0", -4.0), ("c1", -1e9)]:
        net.add_node(name, supply=s)
    for t, h, c in [("s0", "ns", 1.0), ("s1", "ns", 1e9), ("ns", "nc", 1.0), ("nc", "c0", 1.0), ("nc", "c1", 1.0)]:
        net.add_arc(t, h, c)
    return om.FlowProblem(net)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="grid side of the synthetic instance")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    instances = {
        f"synthetic({args.n}) LP": synthetic(args.n, linear=True),
        f"synthetic({args.n}) QP": synthetic(args.n, linear=False),
        "netgen-2": netgen(),
        "faux_infinity": faux(),
    }
    om.solve(faux(), backend="highs")  # warm-up: imports and first calls
    print(f"{'instance':22s} {'backend':8s} {'status':10s} {'attempt':34s} {'solve s':>9s} {'check s':>9s} {'check/solve':>11s}")
    for label, p in instances.items():
        for b in exact_backends():
            t_solve, sol = best_of(args.repeat, lambda: om.solve(p, backend=b))  # noqa: B023
            t_check, _ = best_of(args.repeat, lambda: checked_solution(sol))  # noqa: B023
            print(
                f"{label:22s} {b:8s} {sol.status.name:10s} {str(sol.info.get('attempt'))[:34]:34s} "
                f"{t_solve:9.3f} {t_check:9.4f} {t_check / t_solve:11.3%}"
            )


if __name__ == "__main__":
    main()
