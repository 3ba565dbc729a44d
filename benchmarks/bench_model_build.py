#!/usr/bin/env python
r"""Building otmodel's network model from arrays and from networkx, against baselines in the same run (issue 12).

Measured, one process, medians of ``--repeat`` runs:

* *arrays*: ``FlowProblem(Network.from_arrays(None, supply, tails, heads, linear=..., upper=...))``
  on a grid graph of ``side x side`` nodes (arcs both ways between lattice neighbours, about
  ``4 side^2`` arcs; ``--arcs`` picks the size), i.e. the checks of every value, the columns, the
  incidence matrix and the balance check; also with names (``"v0"``, ``"v1"``, ...) given;
* *baseline (arrays)*: building the same node-arc incidence matrix with ``scipy.sparse`` from the
  same arrays (``coo_matrix((vals, (rows, cols))).tocsr()``), the least any model of the network does;
* *networkx*: ``Network.from_networkx(G)`` on a ``networkx.DiGraph`` of the same grid with
  ``demand``, ``weight`` and ``capacity`` attributes, and ``FlowProblem`` on it;
* *baseline (networkx)*: building that ``DiGraph`` itself (``add_nodes_from`` + ``add_edges_from``
  with the attribute dicts), the cost a networkx user has already paid.

Goals (issue 12): 1M arcs from arrays in under 0.5 s; ``from_networkx`` on a 100k-node graph in
under 2 s.

    nice -n 10 python benchmarks/bench_model_build.py --out benchmarks/results_model_build.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from otmodel.model.network import Network
from otmodel.model.problems import FlowProblem


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall-clock seconds of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def grid(side: int, seed: int = 0) -> dict[str, Any]:
    """A ``side x side`` lattice, arcs both ways between neighbours, integer costs 1..100,
    capacities 500..1500, 1% of the nodes sources and 1% sinks of 500 units each."""
    rng = np.random.default_rng(seed)
    n = side * side
    idx = np.arange(n).reshape(side, side)
    right = (idx[:, :-1].ravel(), idx[:, 1:].ravel())
    down = (idx[:-1, :].ravel(), idx[1:, :].ravel())
    tails = np.concatenate([right[0], right[1], down[0], down[1]])
    heads = np.concatenate([right[1], right[0], down[1], down[0]])
    m = tails.size
    supply = np.zeros(n)
    k = max(1, n // 100)
    pick = rng.choice(n, 2 * k, replace=False)
    supply[pick[:k]] = 500.0
    supply[pick[k:]] = -500.0
    return {
        "supply": supply,
        "tails": tails,
        "heads": heads,
        "linear": rng.integers(1, 101, m).astype(float),
        "upper": rng.integers(500, 1501, m).astype(float),
    }


def baseline_incidence(d: dict[str, Any]) -> sp.csr_matrix:
    t, h = d["tails"], d["heads"]
    m = t.size
    cols = np.arange(m)
    return sp.coo_matrix(
        (np.r_[np.ones(m), -np.ones(m)], (np.r_[t, h], np.r_[cols, cols])), shape=(d["supply"].size, m)
    ).tocsr()


def digraph(d: dict[str, Any], names: list[str]) -> Any:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from((names[i], {"demand": -s}) for i, s in enumerate(d["supply"].tolist()))
    g.add_edges_from(
        (names[t], names[h], {"weight": c, "capacity": u})
        for t, h, c, u in zip(d["tails"].tolist(), d["heads"].tolist(), d["linear"].tolist(), d["upper"].tolist(), strict=True)
    )
    return g


def main() -> int:
    ap = argparse.ArgumentParser(description="model build from arrays and networkx against baselines (issue 12)")
    ap.add_argument("--arcs", type=int, default=1_000_000, help="arcs of the array instance (about 4 side^2)")
    ap.add_argument("--nx-nodes", type=int, default=100_000, help="nodes of the networkx instance")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timed measurement (median kept)")
    ap.add_argument("--out", help="JSON file for the results")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    # a shared machine's load stretches every figure: it is printed (and saved) with them
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)

    side = int(round(math.sqrt(args.arcs / 4)))
    d = grid(side)
    m = int(d["tails"].size)
    names = [f"v{i}" for i in range(side * side)]

    def arrays(with_names: bool) -> FlowProblem:
        net = Network.from_arrays(names if with_names else None, d["supply"], d["tails"], d["heads"], linear=d["linear"], upper=d["upper"])
        return FlowProblem(net)

    t_base, E = timed(lambda: baseline_incidence(d), args.repeat)
    t_arr, p = timed(lambda: arrays(False), args.repeat)
    assert p.n_arcs == m and (p.incidence != E).nnz == 0
    t_named, p2 = timed(lambda: arrays(True), args.repeat)
    assert p2.node_names[:2] == ["v0", "v1"]
    rows.append({
        "instance": f"arrays, grid {side}x{side}", "nodes": side * side, "arcs": m,
        "otmodel_s": t_arr, "otmodel_named_s": t_named, "baseline_scipy_incidence_s": t_base,
        "ratio": t_arr / t_base, "goal_s": 0.5, "goal_met": t_arr < 0.5,
    })
    print(f"arrays {m} arcs: FlowProblem.from arrays {t_arr:.3f} s (names given {t_named:.3f} s), "
          f"scipy incidence {t_base:.3f} s, ratio {t_arr / t_base:.1f}x; goal < 0.5 s: {'PASS' if t_arr < 0.5 else 'FAIL'}")

    nside = int(round(math.sqrt(args.nx_nodes)))
    dn = grid(nside, seed=1)
    nnames = [f"v{i}" for i in range(nside * nside)]
    t_g, g = timed(lambda: digraph(dn, nnames), 1)
    t_nx, net = timed(lambda: Network.from_networkx(g), args.repeat)
    t_fp, q = timed(lambda: FlowProblem(net), args.repeat)
    assert net.n_arcs == g.number_of_edges() and np.array_equal(q.supply, dn["supply"])
    ok = t_nx < 2.0
    rows.append({
        "instance": f"networkx DiGraph, grid {nside}x{nside}", "nodes": nside * nside, "arcs": net.n_arcs,
        "from_networkx_s": t_nx, "flow_problem_s": t_fp, "baseline_build_digraph_s": t_g,
        "ratio": t_nx / t_g, "goal_s": 2.0, "goal_met": ok,
    })
    print(f"networkx {nside * nside} nodes, {net.n_arcs} arcs: from_networkx {t_nx:.3f} s (+ FlowProblem {t_fp:.3f} s), "
          f"building the DiGraph {t_g:.3f} s, ratio {t_nx / t_g:.2f}x; goal < 2 s: {'PASS' if ok else 'FAIL'}")
    if args.out:
        meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": sys.version.split()[0],
                "platform": platform.platform(), "argv": sys.argv[1:], "cpus": os.cpu_count(),
                "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
