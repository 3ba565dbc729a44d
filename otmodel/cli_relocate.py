"""``otmodel relocate POINTS.npy|.csv``: relocate a point set under a density threshold, certified.

Every input is checked before anything is solved (a solve at a million points takes minutes): the
points file, the grid, the threshold (exactly one of ``--capacity``, ``--density``, ``--slack``),
the zones, the backend and the output paths. Exit status as ``otmodel`` (``otmodel.cli.EXIT_CODES``):
0 the exact answer is certified (a heuristic: its placement is feasible), 1 it is not (a time limit
reached before the gap), 2 an input or usage error, 3 a solver failure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from otmodel.errors import InvalidDataError

__all__ = ["add_parser", "read_points"]

#: The relocation backends the command runs (the exact one first).
BACKENDS = ("relocation", "relocation-greedy", "relocation-bisection")
#: Output formats of ``--out`` by extension.
OUT_FORMATS = (".npy", ".csv", ".txt")

#: The relative gap that counts as certified when neither --rtol nor a larger --gap-tol is given.
_RTOL = 1e-6


def read_points(path: str) -> np.ndarray:
    """An (N, 2) array from ``.npy`` (no pickles) or ``.csv`` / ``.txt`` (two numeric columns, optional header)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"{path}: no such points file")
    ext = p.suffix.lower()
    if ext == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise InvalidDataError(f"{path}: not a plain numeric .npy array ({exc})") from None
    elif ext in (".csv", ".txt"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an empty file: reported below, in one line
            try:
                a = np.loadtxt(p, delimiter=",", ndmin=2)
            except ValueError:
                try:
                    a = np.loadtxt(p, delimiter=",", ndmin=2, skiprows=1)
                except ValueError as exc:
                    raise InvalidDataError(f"{path}: expected two numeric columns x,y ({exc})") from None
    else:
        raise InvalidDataError(f"{path}: unknown points format {ext!r}; use .npy or .csv")
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{path}: not a numeric array ({exc})") from None
    if a.size == 0:
        raise InvalidDataError(f"{path}: no points")
    if a.ndim != 2 or a.shape[1] != 2:
        raise InvalidDataError(f"{path}: points must have shape (N, 2), got {a.shape}")
    return a


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        v = [float(t) for t in text.split(",")]
    except ValueError:
        raise InvalidDataError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(v) != n or not all(math.isfinite(x) for x in v):
        raise InvalidDataError(f"{what} must be {n} comma-separated finite numbers, got {text!r}")
    return v


def _bins(text: str) -> tuple[int, int]:
    """``M`` (an M x M grid) or ``MX,MY``: positive integers."""
    parts = text.split(",")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise InvalidDataError(f"--bins must be M or MX,MY with positive integers, got {text!r}")
    return int(parts[0]), int(parts[1])


def _check_out(path: str | None, what: str, exts: tuple[str, ...]) -> None:
    """Refuse an output path before solving: unknown extension, missing folder, not writable."""
    if path is None:
        return
    p = Path(path)
    if p.suffix.lower() not in exts:
        raise InvalidDataError(f"{what} {path}: unknown extension {p.suffix!r}; use {' or '.join(exts)}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidDataError(f"{what} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InvalidDataError(f"{what} {path}: not writable")


def _cmd(args: argparse.Namespace) -> int:
    from otmodel.cli_solve import _solve  # a solver's error is exit status 3, an input error 2
    from otmodel.model._relocation_spread import place_points
    from otmodel.model.relocation import RelocationProblem
    from otmodel.validation import certify_relocation

    # ---------------------------------------------------------------- everything checked first
    if args.backend not in BACKENDS:
        raise InvalidDataError(f"--backend {args.backend!r} is not a relocation backend; use one of {', '.join(BACKENDS)}")
    if sum(v is not None for v in (args.capacity, args.density, args.slack)) > 1:
        raise InvalidDataError("give at most one of --capacity, --density and --slack (they all set the threshold)")
    for name, v in (("--time-limit", args.time_limit), ("--gap-tol", args.gap_tol), ("--rtol", args.rtol)):
        if v is not None and not (math.isfinite(v) and v >= 0 if name == "--gap-tol" else v > 0):
            raise InvalidDataError(f"{name} must be {'>= 0' if name == '--gap-tol' else 'positive'}, got {v}")
    _check_out(args.out, "--out", OUT_FORMATS)
    _check_out(args.json, "--json", (".json",))
    mx, my = _bins(args.bins)
    zones = [_floats(z, 4, "--exclude") for z in args.exclude]
    pts = read_points(args.points)
    if args.bounds:
        bounds = _floats(args.bounds, 4, "--bounds")
    else:
        bounds = [float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())]
        if not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):
            raise InvalidDataError(f"the points' bounding box {bounds} is flat: give --bounds xmin,xmax,ymin,ymax")
    kw: dict[str, Any] = {}
    if args.capacity is not None:
        kw["capacity"] = args.capacity
    elif args.density is not None:
        kw["density"] = args.density
    else:
        slack = 1.05 if args.slack is None else args.slack
        free = (bounds[1] - bounds[0]) * (bounds[3] - bounds[2]) - sum((z[1] - z[0]) * (z[3] - z[2]) for z in zones)
        if not free > 0:
            raise InvalidDataError("the exclusion zones cover the whole region (overlapping zones: give --density)")
        kw["density"] = slack * pts.shape[0] / free
    # a grid too fine for the threshold: every bin would hold less than one whole point (the model
    # would refuse it for its total capacity; the useful advice is about the grid)
    per_bin = kw.get("capacity", kw.get("density", 0.0) * (bounds[1] - bounds[0]) * (bounds[3] - bounds[2]) / (mx * my))
    if 0 <= per_bin < 1:
        raise InvalidDataError(
            f"a free bin holds {per_bin:.3g} points at this threshold, less than one whole point: "
            f"use fewer bins than {mx} x {my} (--bins) or a higher threshold"
        )
    P: Any = RelocationProblem(pts, bounds, bins=(mx, my), exclusions=zones, metric=args.metric,
                               displacement=args.displacement, **kw)
    print(f"{P!r}: threshold {float(np.max(P.capacity / (P.bin_width * P.bin_height))):.6g} points per unit area, "
          f"{int(P.slots.max())} points per free bin")
    # ---------------------------------------------------------------- solve
    opts: dict[str, Any] = {"progress": args.progress}
    if args.time_limit is not None:
        opts["time_limit"] = args.time_limit
    if args.gap_tol is not None:
        opts["gap_tol"] = args.gap_tol
    t = time.perf_counter()
    R: Any = _solve(P, args.backend, opts)
    elapsed = time.perf_counter() - t
    psi, bound_from = None, args.backend
    if args.backend != "relocation" and args.gap_to_optimum:
        # the heuristic judged by the optimum's prices: its gap bounds how far it is from the optimum
        t = time.perf_counter()
        E: Any = _solve(P, "relocation", {k: v for k, v in opts.items() if k != "progress"})
        psi, bound_from = E.potentials, f"relocation (exact, {time.perf_counter() - t:.3f} s, {E.status.value})"
    if args.spread:
        # same assignment (so the same certificate), positions spread inside each bin's free part
        R = replace(R, positions=place_points(P, P.flat_bins(R.bin_of), spread=True), spread=True)
    print(R.summary())
    # a gap asked for (--gap-tol) is what counts as certified, unless --rtol says otherwise
    rtol = args.rtol if args.rtol is not None else max(_RTOL, args.gap_tol or 0.0)
    c = certify_relocation(P, R, rtol=rtol, potentials=psi)
    print(c.summary())
    if args.backend != "relocation":
        print(f"bound from    {bound_from}" + ("" if psi is not None else
              " (a heuristic has no prices: --gap-to-optimum judges it by the optimum's bound)"))
    print(f"wall time     {elapsed:.3f} s")
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".npy":
            np.save(out, R.positions)
        else:
            np.savetxt(out, R.positions, delimiter=",", header="x,y", comments="", fmt="%.17g")
        print(f"positions written to {out}")
    if args.json:
        d = R.to_dict()
        d["certificate"] = {"certified": c.certified, "relative_gap": c.relative_gap, "dual_bound": c.dual_bound,
                            "objective": c.objective, "bound_from": bound_from, "reasons": list(c.reasons)}
        Path(args.json).write_text(json.dumps(d, indent=2) + "\n", encoding="utf-8")
        print(f"result written to {args.json}")
    feasible = c.overfull_bins == 0 and c.points_off_free == 0 and math.isfinite(c.objective)
    return 0 if (c.certified if args.backend == "relocation" else feasible) else 1


def add_parser(sub: Any) -> None:
    """Add the ``relocate`` command to the ``otmodel`` argument parser."""
    r = sub.add_parser(
        "relocate",
        help="relocate points under a bin density threshold (certified optimum, or a heuristic)",
        description=(
            "Move the points so that no bin of a uniform grid holds more than the threshold, with the least total "
            "displacement, outside exclusion rectangles; print the certified gap. Exit status: 0 the optimum is "
            "certified (a heuristic: its placement is feasible), 1 it is not, 2 an input error (checked before "
            "solving), 3 a solver failure."
        ),
        epilog=(
            "example: otmodel relocate cells.csv --bins 256 --bounds 0,1,0,1 --slack 1.05 "
            "--exclude 0.2,0.35,0.6,0.8 --displacement l2 --spread --out placed.csv"
        ),
    )
    r.add_argument("points", help="POINTS.npy or POINTS.csv (two columns x,y; a header line is skipped)")
    r.add_argument("--bins", default="64,64", help="M (an M x M grid) or MX,MY (default 64,64)")
    r.add_argument("--bounds", default=None, help="xmin,xmax,ymin,ymax (default: the points' bounding box)")
    r.add_argument("--capacity", type=float, default=None, help="points per fully free bin")
    r.add_argument("--density", type=float, default=None, help="points per unit area (the threshold)")
    r.add_argument("--slack", type=float, default=None,
                   help="threshold = SLACK x the mean density over the free area (default 1.05)")
    r.add_argument("--exclude", action="append", default=[], metavar="X0,X1,Y0,Y1", help="an exclusion rectangle (repeatable)")
    r.add_argument("--metric", choices=["euclidean", "manhattan"], default="euclidean")
    r.add_argument("--displacement", choices=["l1", "l2"], default="l1", help="sum of distances (l1) or of their squares (l2)")
    r.add_argument("--backend", default="relocation", help=" | ".join(BACKENDS) + " (default relocation, the certified optimum)")
    r.add_argument("--time-limit", type=float, default=None, help="seconds; the best certified answer so far is returned")
    r.add_argument("--gap-tol", type=float, default=None, help="stop at this relative gap (exact backend)")
    r.add_argument("--rtol", type=float, default=None,
                   help=f"relative gap that counts as certified (default {_RTOL:g}, or --gap-tol when that is larger)")
    r.add_argument("--gap-to-optimum", action="store_true",
                   help="with a heuristic: also solve to the optimum and certify the heuristic by its bound")
    r.add_argument("--spread", action="store_true",
                   help="spread the points inside their bins keeping their order (moves them more than the certified "
                        "cost; the summary gives both)")
    r.add_argument("--out", default=None, help="write the final positions, in input order (.npy, or .csv/.txt with header x,y)")
    r.add_argument("--json", default=None, help="write the result and its certificate (.json)")
    r.add_argument("--progress", action="store_true", help="a progress line per round on stderr")
    r.set_defaults(func=_cmd)


if __name__ == "__main__":  # pragma: no cover
    p = argparse.ArgumentParser(prog="otmodel")
    add_parser(p.add_subparsers(dest="command", required=True))
    a = p.parse_args()
    sys.exit(a.func(a))
