"""Issue 13, item 5 at scale: the relocation heuristics and the spreading at 1M points / 256 x 256 bins.

Measures, each in its own child process (so that its peak resident memory is its own):

* ``greedy``: ``relocation-greedy`` (nearest free bin, quadtree search of the free room), solve time;
* ``bisection``: ``relocation-bisection`` (capacity-weighted medians), solve time;
* ``spread``: ``place_points(..., spread=True)`` on the bisection's assignment;
* ``greedy-rings`` (the baseline, ``--baseline``): the bin-by-bin ring search kernel
  (``otmodel.model._relocation_kernels.greedy_nearest``) that the greedy backend used before, on the
  same instance; the report gives the ratio and checks that both give the same assignment cost.

Each child also reports the peak resident memory of the process (instance included) and the instance
alone, so that the O(N + bins) claim is read off the difference. Compile time is excluded (one warm-up
call on a small instance first; the kernels are cached on disk).

    python benchmarks/bench_relocation_heuristics.py                       # 1M points, 256 x 256
    python benchmarks/bench_relocation_heuristics.py --baseline            # + the old greedy (about 90 s)
    python benchmarks/bench_relocation_heuristics.py --n 100000 --bins 64  # smaller
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    """Current resident memory of this process (Linux), MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(method: str, n: int, bins: int, points: str) -> dict[str, float | str]:
    import numpy as np

    import otmodel as om
    from otmodel.model import _relocation_kernels as K
    from otmodel.model._relocation_spread import place_points
    from otmodel.model.relocation import RelocationProblem, gaussian_mixture_instance

    # warm-up on a small instance: compile (or load from the cache) every kernel used below
    S = gaussian_mixture_instance(2000, (16, 16), slack=1.2, seed=1)
    R = om.solve(S, backend="relocation-bisection")
    place_points(S, S.flat_bins(R.bin_of), spread=True)
    om.solve(S, backend="relocation-greedy")
    K.greedy_nearest(S.points, S.bin_index(S.points), np.arange(S.n_points), np.ascontiguousarray(S.slots), *S.kernel_args())
    # the instance from the parent's file: drawing it (rejection sampling) peaks higher than any method
    pts = np.load(points)
    zones = [(0.2, 0.35, 0.6, 0.8), (0.6, 0.9, 0.15, 0.25)]
    P = RelocationProblem(pts, (0, 1, 0, 1), bins=(bins, bins), density=1.05 * n / (1 - 0.15 * 0.2 - 0.3 * 0.1),
                          exclusions=zones, displacement="l2")
    base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base_rss = _rss_mb()
    t = time.perf_counter()
    if method in ("greedy", "bisection"):
        R = om.solve(P, backend=f"relocation-{method}")
        secs, cost = R.timings["solve"], R.objective
    elif method == "spread":
        R = om.solve(P, backend="relocation-bisection")
        t = time.perf_counter()
        q = place_points(P, P.flat_bins(R.bin_of), spread=True)
        secs = time.perf_counter() - t
        d = q - P.points
        cost = float(np.sum(np.hypot(d[:, 0], d[:, 1]) ** P.power))
    elif method == "greedy-rings":
        flat = K.greedy_nearest(P.points, P.bin_index(P.points), np.arange(P.n_points), np.ascontiguousarray(P.slots), *P.kernel_args())
        secs, cost = time.perf_counter() - t, P.objective(flat)
    else:
        raise SystemExit(f"unknown method {method}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "seconds": secs, "cost": cost, "peak_rss_mb": peak, "peak_before_mb": base_peak,
            "rss_before_mb": base_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--bins", type=int, default=256)
    ap.add_argument("--baseline", action="store_true", help="also run the old bin-by-bin greedy (about 90 s at 1M)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--points", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="write the rows as JSON")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.n, a.bins, a.points)))
        return
    import tempfile

    import numpy as np

    from otmodel.model.relocation import gaussian_mixture_instance

    tmp = tempfile.TemporaryDirectory()
    points = f"{tmp.name}/points.npy"
    np.save(points, gaussian_mixture_instance(a.n, (a.bins, a.bins)).points)
    methods = ["greedy", "bisection", "spread"] + (["greedy-rings"] if a.baseline else [])
    rows = []
    for m in methods:
        out = subprocess.run([sys.executable, __file__, "--child", m, "--n", str(a.n), "--bins", str(a.bins), "--points", points],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{m:13s} {r['seconds']:8.2f} s   cost {r['cost']:.8g}   peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(instance loaded: {r['rss_before_mb']:.0f} MB, peak so far {r['peak_before_mb']:.0f} MB)", flush=True)
    by = {r["method"]: r for r in rows}
    if "greedy-rings" in by:
        g, o = by["greedy"], by["greedy-rings"]
        print(f"greedy: quadtree {g['seconds']:.2f} s vs rings {o['seconds']:.2f} s: {o['seconds'] / g['seconds']:.1f}x faster; "
              f"costs {g['cost']:.10g} vs {o['cost']:.10g}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump({"n": a.n, "bins": a.bins, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
