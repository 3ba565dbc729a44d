#!/usr/bin/env python
r"""What a certified-gap stop costs and saves (issue 15 point 6).

``otmodel.solve(..., gap_tol=g, gap_every=m)`` certifies the potentials every ``m`` iterations
(``certify(problem, potentials=psi)``: a pass over the demand for `q(\psi)`, the cells, and the
repair's exact sub-solve). In one run on ``synthetic(n)`` (Laurentin et al. 2025, section V-A) with the
per-node curvature rule, this measures the time of one iteration and of one gap check (medians), and
the iterations and seconds of a fixed 300-iteration run against the same run stopped at ``gap_tol``.

::

    python benchmarks/bench_gap_stop.py --n 100
"""

from __future__ import annotations

import argparse
import statistics
import time

import otmodel as om
from otmodel.instances import synthetic
from otmodel.validation import certify


def main() -> None:
    ap = argparse.ArgumentParser(description="cost and saving of the certified-gap stop")
    ap.add_argument("--n", type=int, default=100, help="grid side (n*n demand points; default 100)")
    ap.add_argument("--gap-tol", type=float, default=1e-6)
    ap.add_argument("--gap-every", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    p = synthetic(args.n)
    fixed, stopped, checks = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        full = om.solve(p, backend="dual-ascent", step_size="curvature", max_iter=300, tol=0.0)
        fixed.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        early = om.solve(
            p, backend="dual-ascent", step_size="curvature", max_iter=300, tol=0.0,
            gap_tol=args.gap_tol, gap_every=args.gap_every,
        )
        stopped.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        certify(p, potentials=full.potentials, rtol=args.gap_tol)
        checks.append(time.perf_counter() - t0)
    per_iter = statistics.median(fixed) / 300
    check = statistics.median(checks)
    print(f"synthetic({args.n}): {p.n_points} points, curvature steps, gap_tol {args.gap_tol:g} every {args.gap_every}")
    print(f"  one iteration {per_iter * 1e3:.2f} ms; one gap check {check * 1e3:.1f} ms = {check / per_iter:.1f} iterations")
    print(f"  fixed 300 iterations: {statistics.median(fixed):.2f} s, {full.status.value}")
    print(
        f"  stopped at the gap:   {statistics.median(stopped):.2f} s, {early.iterations} iterations, "
        f"{early.info['gap_checks']} checks, {early.status.value} "
        f"(relative gap {early.info['certificate'].relative_gap:.2e})"
        if "certificate" in early.info
        else f"  stopped at the gap: not reached in 300 iterations ({statistics.median(stopped):.2f} s)"
    )
    print(f"  ratio stopped / fixed: {statistics.median(stopped) / statistics.median(fixed):.2f}")


if __name__ == "__main__":
    main()
