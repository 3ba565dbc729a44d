"""``otmodel relocate POINTS.npy|.csv``: relocate a point set under a density threshold, certified."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from otmodel.errors import InvalidDataError

__all__ = ["add_parser", "read_points"]


def read_points(path: str) -> np.ndarray:
    """An (N, 2) array from ``.npy`` (no pickles) or ``.csv`` (two numeric columns, optional header)."""
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
        try:
            a = np.loadtxt(p, delimiter=",", ndmin=2)
        except ValueError:
            try:
                a = np.loadtxt(p, delimiter=",", ndmin=2, skiprows=1)
            except ValueError as exc:
                raise InvalidDataError(f"{path}: expected two numeric columns x,y ({exc})") from None
    else:
        raise InvalidDataError(f"{path}: unknown points format {ext!r}; use .npy or .csv")
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise InvalidDataError(f"{path}: points must have shape (N, 2), got {a.shape}")
    return a


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        v = [float(t) for t in text.split(",")]
    except ValueError:
        raise InvalidDataError(f"{what} must be {n} comma-separated numbers, got {text!r}") from None
    if len(v) != n:
        raise InvalidDataError(f"{what} must be {n} comma-separated numbers, got {text!r}")
    return v


def _cmd(args: argparse.Namespace) -> int:
    import otmodel as om
    from otmodel.model.relocation import RelocationProblem
    from otmodel.validation import certify

    pts = read_points(args.points)
    bounds = _floats(args.bounds, 4, "--bounds") if args.bounds else [
        float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())]
    mx, my = (int(v) for v in _floats(args.bins, 2, "--bins"))
    zones = [_floats(z, 4, "--exclude") for z in args.exclude]
    kw: dict[str, Any] = {}
    if args.capacity is not None:
        kw["capacity"] = args.capacity
    elif args.density is not None:
        kw["density"] = args.density
    else:
        free = (bounds[1] - bounds[0]) * (bounds[3] - bounds[2]) - sum((z[1] - z[0]) * (z[3] - z[2]) for z in zones)
        kw["density"] = args.slack * pts.shape[0] / free
    P: Any = RelocationProblem(pts, bounds, bins=(mx, my), exclusions=zones, metric=args.metric,
                          displacement=args.displacement, **kw)
    t = time.perf_counter()
    R: Any = om.solve(P, backend=args.backend, **({"time_limit": args.time_limit} if args.time_limit else {}),
                 **({"gap_tol": args.gap_tol} if args.gap_tol is not None else {}), progress=args.progress)
    elapsed = time.perf_counter() - t
    print(R.summary())
    c = certify(P, R, rtol=args.rtol)
    print(c.summary())
    print(f"wall time     {elapsed:.3f} s")
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".csv":
            np.savetxt(out, R.positions, delimiter=",", header="x,y", comments="")
        else:
            np.save(out, R.positions)
        print(f"positions written to {out}")
    if args.json:
        d = R.to_dict()
        d["certificate"] = {"certified": c.certified, "relative_gap": c.relative_gap, "dual_bound": c.dual_bound,
                            "objective": c.objective, "reasons": list(c.reasons)}
        Path(args.json).write_text(json.dumps(d, indent=2) + "\n", encoding="utf-8")
    return 0 if c.certified or R.backend != "relocation" else 1


def add_parser(sub: Any) -> None:
    """Add the ``relocate`` command to the ``otmodel`` argument parser."""
    r = sub.add_parser("relocate", help="relocate points under a bin density threshold (certified optimum)")
    r.add_argument("points", help="POINTS.npy or POINTS.csv, two columns x,y")
    r.add_argument("--bins", default="64,64", help="mx,my (default 64,64)")
    r.add_argument("--bounds", default=None, help="xmin,xmax,ymin,ymax (default: the points' bounding box)")
    r.add_argument("--capacity", type=float, default=None, help="mass per fully free bin")
    r.add_argument("--density", type=float, default=None, help="mass per unit area (the threshold)")
    r.add_argument("--slack", type=float, default=1.05, help="without --capacity/--density: threshold = slack x mean density")
    r.add_argument("--exclude", action="append", default=[], metavar="X0,X1,Y0,Y1", help="an exclusion rectangle (repeatable)")
    r.add_argument("--metric", choices=["euclidean", "manhattan"], default="euclidean")
    r.add_argument("--displacement", choices=["l1", "l2"], default="l1")
    r.add_argument("--backend", default="relocation", help="relocation | relocation-greedy | relocation-bisection")
    r.add_argument("--time-limit", type=float, default=None)
    r.add_argument("--gap-tol", type=float, default=None)
    r.add_argument("--rtol", type=float, default=1e-6, help="certification tolerance (default 1e-6)")
    r.add_argument("--out", default=None, help="write the final positions (.npy or .csv)")
    r.add_argument("--json", default=None, help="write the result and its certificate as JSON")
    r.add_argument("--progress", action="store_true", help="a progress line per round on stderr")
    r.set_defaults(func=_cmd)


if __name__ == "__main__":  # pragma: no cover
    p = argparse.ArgumentParser(prog="otmodel")
    add_parser(p.add_subparsers(dest="command", required=True))
    a = p.parse_args()
    sys.exit(a.func(a))
