"""The ``otmodel`` command.

    otmodel solve FILE [--backend NAME] [--json OUT] [--option KEY=VALUE ...] [--scheduler ADDRESS]
    otmodel demo [--n N] [--backend NAME] [--compare]
    otmodel check FILE --backend NAME --against NAME [--option KEY=VALUE ...] [--rtol R]
    otmodel backends [FILE]
    otmodel formulate FILE [--part PART ...] [--format markdown|latex]
    otmodel certify FILE ANSWER.json|ANSWER.npz [--rtol R] [--exact NAME]

Exit status (``EXIT_CODES``): 0 the answer is optimal (``solve``) or certified and agreeing
(``check``); 1 an answer that is not that (infeasible, unbounded, an iteration or time limit, not
certified, disagreeing); 2 a usage or input error (bad arguments, options or model file, an output
path that cannot be written), reported before anything is solved; 3 the solver failed (numerical
error, unknown status, an error inside the backend). Every error is a one-line message on stderr
starting ``otmodel: error:``, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from otmodel.cli_solve import _solve, _SolverFailure, _UsageError  # shared with otmodel.cli_relocate

__all__ = ["main", "EXIT_CODES"]

#: The exit status of ``otmodel``, by meaning (see the module docstring and ``otmodel --help``).
EXIT_CODES = {
    0: "optimal (solve), certified and agreeing (check)",
    1: "an answer that is not optimal or not certified: infeasible, unbounded, a limit reached, disagreeing",
    2: "usage or input error: arguments, options, model file, output path (checked before solving)",
    3: "solver failure: numerical error, unknown status, an error inside the backend",
}
_FAILED = ("numerical_error", "unknown")  # statuses that mean "the solver gave no answer"


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a dict; values that read as int, float or true/false are converted."""
    out: dict[str, Any] = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k.strip():
            raise _UsageError(f"--option expects KEY=VALUE, got {it!r}")
        val: Any = v
        for conv in (int, float):
            try:
                val = conv(v)
                break
            except ValueError:
                continue
        if v.lower() in ("true", "false"):
            val = v.lower() == "true"
        out[k.strip().replace("-", "_")] = val
    return out


def _check_model_path(path: Path) -> None:
    if not path.exists():
        raise _UsageError(f"no such file: {path}")
    if path.is_dir():
        raise _UsageError(f"{path}: is a directory, not a model file")


def _check_options(backend: str | None, options: dict[str, Any]) -> None:
    """The checks of the options every backend shares, before the model file is read."""
    from otmodel.backends import _options

    _options.check_common(backend or "the default", options)


def _check_output_path(out: str | None) -> None:
    """Refuse an output path that cannot be written, before any time is spent solving."""
    if out is None:
        return
    path = Path(out)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise _UsageError(f"--json {out}: is a directory")
    if not folder.is_dir():
        raise _UsageError(f"--json {out}: no such directory: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _UsageError(f"--json {out}: not writable")


def _cmd_solve(args: argparse.Namespace) -> int:
    import otmodel
    from otmodel.model.io import write_atomic

    path = Path(args.file)
    _check_model_path(path)
    options = _parse_options(args.option)
    _check_options(args.backend, options)
    if args.scheduler is not None:  # issue 17: the dual ascent's cell passes on a Dask cluster
        if args.backend not in (None, "dual-ascent"):
            raise _UsageError(f"--scheduler runs the dual-ascent backend's cell passes on a cluster, not {args.backend!r}")
        args.backend = "dual-ascent"
        options["client"] = args.scheduler
    _check_output_path(args.json)
    if not (args.rtol > 0):
        raise _UsageError(f"--rtol must be positive, got {args.rtol}")
    problem = otmodel.load(path)
    print(f"loaded {problem!r} from {path}")
    sol = _solve(problem, args.backend, options)
    print(sol.summary())
    if args.json:
        write_atomic(args.json, sol.to_json() + "\n")
        print(f"\nwrote {args.json}")
    if sol.status.value in _FAILED:
        return 3
    if "iterative" in otmodel.backends.get(sol.backend).capabilities and sol.status.value in ("converged", "iteration_limit"):
        # an iterative run says why it stopped, not how good its point is: the certificate says that,
        # and a run certified within --rtol is a success whatever stopped it
        from otmodel.validation import certify

        if args.scheduler is not None:  # the certificate's demand passes on the same cluster
            from otmodel.validation.distributed import certify_distributed

            cert = certify_distributed(problem, sol, args.scheduler, rtol=args.rtol)
        else:
            cert = certify(problem, sol, rtol=args.rtol)
        verdict = "CERTIFIED" if cert.certified else "not certified"
        print(f"\ncertificate: {verdict}, relative gap {cert.relative_gap:.3g} (--rtol {args.rtol:g})")
        return 0 if cert.certified else 1
    return 0 if sol.status.value in ("optimal", "converged") else 1


def _demo_iterative_runs() -> list[tuple[str, dict[str, Any]]]:
    """The dual-ascent runs the demo shows: the paper's schedule, and the fast local rule if present."""
    from otmodel.backends import steps

    runs: list[tuple[str, dict[str, Any]]] = [
        ("dual ascent, paper's step 1/(1+0.01k), 300 it.", {"max_iter": 300, "tol": 0.0, "step_size": steps.Diminishing(1.0, 0.01)})
    ]
    from otmodel.backends import dual_ascent

    fast = getattr(dual_ascent, "Curvature", None)
    if fast is not None:
        runs.append(("dual ascent, local curvature step, <= 15 it.", {"max_iter": 15, "tol": 0.0, "step_size": fast()}))
    return runs


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    import otmodel
    from otmodel.instances import synthetic
    from otmodel.validation import certify, cross_check

    print(f"Synthetic instance of Laurentin et al. (2025), section V-A, on a {args.n} x {args.n} grid")
    t = time.perf_counter()
    problem = synthetic(args.n)
    print(f"built {problem!r} in {time.perf_counter() - t:.2f} s\n")
    sol = otmodel.solve(problem, backend=args.backend)
    print(sol.summary())
    if args.compare:
        print("\nexact backends side by side:")
        ref = sol
        print(f"{'backend':<8} {'status':<10} {'objective':>18} {'time (s)':>9} {'max |dflow| vs ' + ref.backend:>22}")
        for name in otmodel.backends.exact_backends():
            s = sol if name == sol.backend else otmodel.solve(problem, backend=name)
            diff = float(np.max(np.abs(s.flows - ref.flows))) if s.has_point else float("nan")
            print(f"{name:<8} {s.status.value:<10} {s.objective:>18.12g} {s.timings['total']:>9.2f} {diff:>22.2e}")
    if args.exact_only:
        return 0

    print("\nthe distributed algorithm (Algorithm 1), certified and cross-checked against the exact answer:")
    rows = []
    last = None
    for label, opts in _demo_iterative_runs():
        it = otmodel.solve(problem, backend="dual-ascent", **opts)
        cert = certify(problem, it, rtol=args.rtol)
        cc = cross_check(problem, it, sol)
        rows.append((label, it, cert, cc))
        last = it
    head = f"{'method':<46} {'iter':>5} {'time s':>7} {'dual bound q':>14} {'certified gap':>13} {'same cell':>9}  verdict"
    print(head)
    print("-" * len(head))
    print(f"{'exact: ' + sol.backend:<46} {'':>5} {sol.timings['total']:>7.2f} {sol.objective:>14.9g} {'':>13} {'100%':>9}  optimal")
    for label, it, cert, cc in rows:
        share = "" if cc.same_endpoint_share is None else f"{100 * cc.same_endpoint_share:.2f}%"
        verdict = f"CERTIFIED (rtol {args.rtol:g})" if cert.certified else "not certified"
        print(
            f"{label:<46} {it.iterations:>5} {it.timings['total']:>7.2f} {cert.dual_bound:>14.9g} "
            f"{cert.relative_gap:>13.2e} {share:>9}  {verdict}"
        )
    if args.figure and last is not None:
        from otmodel.plot import plot_cells, plot_convergence

        out = Path(args.figure)
        out.parent.mkdir(parents=True, exist_ok=True)
        best = min(rows, key=lambda r: r[2].relative_gap)[1]
        plot_cells(problem, best, path=out)
        conv = out.with_name(out.stem + "_convergence" + out.suffix)
        plot_convergence(rows[0][1], exact=sol, path=conv)
        print(f"\nwrote {out} (cells and flows) and {conv} (convergence of the paper's schedule)")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """Solve with two backends, certify the first, cross-check both: 0 iff certified and agreeing."""
    import otmodel
    from otmodel.validation import certify, cross_check

    path = Path(args.file)
    _check_model_path(path)
    if not (args.rtol > 0):
        raise _UsageError(f"--rtol must be positive, got {args.rtol}")
    options = _parse_options(args.option)
    _check_options(args.backend, options)
    problem = otmodel.load(path)
    print(f"loaded {problem!r} from {path}")
    sol = _solve(problem, args.backend, options)
    ref = _solve(problem, args.against, {})
    took = sol.timings.get("total", 0.0)
    print(f"\n{sol.backend}: {sol.status.value} after {sol.iterations} iteration(s), {took:.3f} s")
    print(f"{ref.backend}: {ref.status.value}, {ref.timings.get('total', 0.0):.3f} s\n")
    cert = certify(problem, sol, rtol=args.rtol, exact_backend=args.exact)
    print(cert.summary())
    print()
    point = _certified_point(sol, cert)
    cc = cross_check(problem, point, ref, rtol=args.rtol)
    if point is not sol:
        raw = cross_check(problem, sol, ref, rtol=args.rtol)
        print(
            f"the point as returned is only nearly feasible: it differs from {ref.backend}'s by "
            f"{raw.objective_diff:.3e} in objective and {raw.max_flow_diff:.3e} in flow;\n"
            f"cross-checked below is the certified point (the repair of {sol.backend}'s answer)\n"
        )
    print(cc.summary())
    if sol.status.value in _FAILED or ref.status.value in _FAILED:
        return 3
    return 0 if cert.certified and cc.agree else 1


def _cmd_certify(args: argparse.Namespace) -> int:
    """Certify an answer file against a model file: 0 certified, 1 not certified, 2 bad input."""
    import otmodel
    from otmodel.validation import certify
    from otmodel.validation.answers import read_answer

    path = Path(args.file)
    _check_model_path(path)
    if not (args.rtol > 0):
        raise _UsageError(f"--rtol must be positive, got {args.rtol}")
    answer = read_answer(args.answer)
    problem = otmodel.load(path)
    print(f"loaded {problem!r} from {path}")
    print(f"answer {args.answer}: {', '.join(sorted(answer))}\n")
    cert = certify(problem, answer, rtol=args.rtol, exact_backend=args.exact)
    print(cert.summary())
    return 0 if cert.certified else 1


def _certified_point(sol: Any, cert: Any) -> Any:
    """The point a certificate vouches for: the repair when it built one, else the answer itself."""
    import dataclasses

    import numpy as np

    from otmodel.results import PointStatus

    if cert.upper_source != "repair" or cert.repaired_flows is None:
        return sol
    plan = cert.repaired_assignment if cert.repaired_assignment is not None else sol.assignment
    mass = None if plan is None else np.asarray(plan.sum(axis=0)).reshape(-1)
    return dataclasses.replace(
        sol,
        flows=np.asarray(cert.repaired_flows, dtype=float),
        assignment=plan,
        cell_mass=mass,
        objective=float(cert.repaired_objective),
        point_status=PointStatus.FEASIBLE,
        backend=f"{sol.backend} (repaired)",
    )


def _cmd_backends(args: argparse.Namespace) -> int:
    import otmodel

    for name in otmodel.backends.available():
        try:
            b = otmodel.backends.get(name)
            caps = ", ".join(sorted(b.capabilities))
        except ImportError as exc:  # an optional dependency is missing
            caps = f"unavailable ({exc})"
        print(f"{name:<12} {caps}")
    if args.file:
        path = Path(args.file)
        if not path.exists():
            print(f"otmodel: error: no such file: {path}", file=sys.stderr)
            return 2
        problem = otmodel.load(path)
        name, why = otmodel.backends.default_reason(problem)
        print(f"\n{path}: {problem!r}\ndefault backend: {name} -- {why}")
    return 0


def _cmd_formulate(args: argparse.Namespace) -> int:
    import otmodel

    problem = otmodel.load(args.file)
    parts = args.part or "all"
    print(otmodel.formulation.formulation(problem, part=parts, format=args.format), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {k}  {v}" for k, v in EXIT_CODES.items())
    p = argparse.ArgumentParser(
        prog="otmodel",
        description="Optimal transport on networks: model, solve, certify.",
        epilog=f"exit status:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from otmodel import __version__

    p.add_argument("--version", action="version", version=f"otmodel {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="solve a YAML/JSON model file and print a summary")
    s.add_argument("file")
    s.add_argument("--backend", default=None, help="backend name (default: chosen from the problem)")
    s.add_argument("--json", default=None, metavar="OUT", help="also write the solution as JSON")
    s.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="backend option")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler (tcp://host:port): run the dual ascent's cell passes there")
    s.add_argument("--rtol", type=float, default=1e-6,
                   help="iterative backends: the run succeeds (exit 0) when certified within this relative gap")
    s.set_defaults(func=_cmd_solve)
    d = sub.add_parser("demo", help="solve the synthetic instance of Laurentin et al., section V-A")
    d.add_argument("--n", type=int, default=200, help="grid resolution n (n x n points, default 200)")
    d.add_argument("--backend", default=None)
    d.add_argument("--compare", action="store_true", help="also solve with every exact backend and compare")
    d.add_argument("--exact-only", action="store_true", help="skip the dual-ascent runs")
    d.add_argument("--rtol", type=float, default=1e-6, help="certification tolerance (default 1e-6)")
    d.add_argument("--figure", default="out/demo_cells.png", help="figure path ('' for none)")
    d.set_defaults(func=_cmd_demo)
    c = sub.add_parser("check", help="solve with two backends, certify the first and cross-check them")
    c.add_argument("file")
    c.add_argument("--backend", default="dual-ascent", help="backend under test (default dual-ascent)")
    c.add_argument("--against", default="highs", help="reference backend (default highs)")
    c.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="option of --backend")
    c.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance of certificate and cross-check")
    c.add_argument("--exact", default="auto", help="exact backend for the certificate's repair (default auto: the fastest for the sub-problem)")
    c.set_defaults(func=_cmd_check)
    b = sub.add_parser("backends", help="list the backends; with FILE, say which one its problem gets and why")
    b.add_argument("file", nargs="?", default=None, help="a model file (YAML/JSON)")
    b.set_defaults(func=_cmd_backends)
    f = sub.add_parser("formulate", help="print the model file's problem as mathematics (primal, dual, algorithm)")
    f.add_argument("file")
    f.add_argument("--part", action="append", default=[], metavar="PART",
                   help="sets, primal, relaxation, dual, algorithm or constraints (repeatable; default all)")
    f.add_argument("--format", choices=("markdown", "latex"), default="markdown")
    f.set_defaults(func=_cmd_formulate)
    a = sub.add_parser(
        "certify",
        help="certify an answer computed elsewhere (flows / potentials / assignment in a JSON or .npz file)",
    )
    a.add_argument("file", help="the model file (YAML/JSON)")
    a.add_argument("answer", help="the answer: .json (keys flows, potentials, assignment) or .npz (arrays of those names)")
    a.add_argument("--rtol", type=float, default=1e-6, help="relative gap to certify (default 1e-6)")
    a.add_argument("--exact", default="auto", help="exact backend of the repair's sub-solve (default auto)")
    a.set_defaults(func=_cmd_certify)
    from otmodel.cli_relocate import add_parser as _add_relocate

    _add_relocate(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from otmodel.errors import OTModelError

    args = build_parser().parse_args(argv)  # argparse's own usage errors exit with 2 as well
    try:
        return int(args.func(args))
    except (_UsageError, OTModelError) as exc:
        print(f"otmodel: error: {exc}", file=sys.stderr)
        return 2
    except _SolverFailure as exc:
        print(f"otmodel: error: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except OSError as exc:  # a model file that cannot be read, an output that cannot be written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"otmodel: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("otmodel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
