#!/usr/bin/env python
r"""Exact backends against the plain hand-written models a user would write instead (issue 2, item 7).

The instance is the synthetic example of Laurentin et al. (2025), section V-A
(:func:`otmodel.instances.synthetic`) on an ``n x n`` grid: the QP of the paper (quadratic arc costs
``d_ij p^2``, flows in [-1, 1]) and its LP variant (each link as two opposite arcs, flows in [0, 1],
linear cost ``d_ij``). In one run, for each variant, it times build and solve of

* every otmodel exact backend through :func:`otmodel.solve` (``highs`` with ``method="ipm"`` and, for
  the LP, ``method="simplex"``; ``cvxpy`` with Clarabel; ``pyomo`` when importable);
* plain models written without otmodel, from the same data, with the same solvers and options:
  plain cvxpy (a ``(N, S)`` plan matrix variable, Clarabel at the tolerances otmodel's cvxpy backend
  passes), plain per-element Pyomo (one Var per (point, endpoint) pair and per arc, one Constraint
  rule per point and per node, the same HiGHS interface as otmodel's pyomo backend; for the QP a
  quadratic objective handed to HiGHS's QP solver under a 120 s limit) and plain highspy (the LP as
  matrices without otmodel's scaling or redundant-row removal; for the QP, HiGHS's own QP solver via
  ``passHessian`` under a 120 s limit).

Every objective is compared with the otmodel ``highs`` answer. Prints a table and the goals of
issue 2 as PASS/FAIL, and writes JSON::

    python benchmarks/bench_exact.py --n 200 --out results.json
    python benchmarks/bench_exact.py --n 50 --skip-slow        # quick check, no 120 s QP baselines
"""

# ruff: noqa: B023  (the lambdas handed to best_of are called at once, inside the loop)
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

import otmodel
from otmodel.instances import synthetic

#: Clarabel settings of otmodel's cvxpy backend (otmodel/backends/cvxpy.py, tol=1e-9 default)
CLARABEL_TOL = 1e-9
CLARABEL_KW = dict(tol_gap_abs=CLARABEL_TOL, tol_gap_rel=CLARABEL_TOL, tol_feas=CLARABEL_TOL, tol_ktratio=1e-7)
#: time limit of the plain QP baselines that hand HiGHS a quadratic objective
QP_TIME_LIMIT = 120.0


# ------------------------------------------------------------------------------------ instance data
def plain_data(problem: Any) -> dict[str, Any]:
    """The raw data a user would start from: positions, masses, supplies, arcs. No otmodel model."""
    return {
        "xy": np.asarray(problem.demand.xy, dtype=float),
        "mu": np.asarray(problem.demand.mass, dtype=float),
        "end_xy": np.asarray(problem.endpoint_xy, dtype=float),
        "ends": np.asarray(problem.endpoints, dtype=int),
        "supply": np.asarray(problem.supply, dtype=float),
        "tails": np.asarray(problem.tails, dtype=int),
        "heads": np.asarray(problem.heads, dtype=int),
        "lower": np.asarray(problem.lower, dtype=float),
        "upper": np.asarray(problem.upper, dtype=float),
        "a": np.asarray(problem.costs.a, dtype=float),
        "b": np.asarray(problem.costs.b, dtype=float),
        "n_nodes": problem.n_nodes,
    }


def cost_matrix(d: dict[str, Any]) -> np.ndarray:
    diff = d["xy"][:, None, :] - d["end_xy"][None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def incidence(d: dict[str, Any]) -> sp.csr_matrix:
    m = d["tails"].size
    rows = np.concatenate([d["tails"], d["heads"]])
    cols = np.concatenate([np.arange(m), np.arange(m)])
    vals = np.concatenate([np.ones(m), -np.ones(m)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(d["n_nodes"], m))


def true_objective(d: dict[str, Any], C: np.ndarray, Pi: np.ndarray, p: np.ndarray) -> float:
    return float((C * Pi).sum() + (d["a"] * p**2).sum() + d["b"] @ p)


# ------------------------------------------------------------------------------------ otmodel runs
def run_otmodel(problem: Any, backend: str, **options: Any) -> dict[str, Any]:
    t = time.perf_counter()
    sol = otmodel.solve(problem, backend=backend, **options)
    wall = time.perf_counter() - t
    tm = dict(sol.timings)
    return {
        "build": tm.get("build", math.nan),
        "solve": tm.get("solve", math.nan),
        "total": wall,
        "timings_total": tm.get("total", math.nan),
        "objective": sol.objective,
        "status": f"{sol.status.name}/{sol.point_status.name}",
        "solver": sol.solver,
        "message": sol.message,
    }


# ------------------------------------------------------------------------------------ plain cvxpy
def run_plain_cvxpy(d: dict[str, Any]) -> dict[str, Any]:
    import cvxpy as cp

    t0 = time.perf_counter()
    C = cost_matrix(d)
    E = incidence(d)
    N, S = C.shape
    m = d["tails"].size
    B = sp.csr_matrix((np.ones(S), (d["ends"], np.arange(S))), shape=(d["n_nodes"], S))
    Pi = cp.Variable((N, S), nonneg=True)
    p = cp.Variable(m)
    cons = [
        cp.sum(Pi, axis=1) == d["mu"],
        E @ p + B @ cp.sum(Pi, axis=0) == d["supply"],
        p >= d["lower"],
        p <= d["upper"],
    ]
    obj = cp.sum(cp.multiply(C, Pi)) + d["b"] @ p
    if np.any(d["a"] > 0):
        obj = obj + cp.sum(cp.multiply(d["a"], cp.square(p)))
    prob = cp.Problem(cp.Minimize(obj), cons)
    t1 = time.perf_counter()
    status, objective, msg = "", math.nan, ""
    try:
        prob.solve(solver="CLARABEL", **CLARABEL_KW)
        status = prob.status
        if Pi.value is not None:
            objective = true_objective(d, C, np.asarray(Pi.value), np.asarray(p.value))
    except Exception as exc:  # report, do not crash the benchmark
        status, msg = "error", f"{type(exc).__name__}: {exc}"
    t2 = time.perf_counter()
    return {"build": t1 - t0, "solve": t2 - t1, "total": t2 - t0, "objective": objective, "status": status,
            "solver": f"cvxpy {cp.__version__} / CLARABEL", "message": msg}


# ------------------------------------------------------------------------------------ plain highspy
def run_plain_highspy(d: dict[str, Any], method: str, quadratic: bool) -> dict[str, Any]:
    import highspy

    t0 = time.perf_counter()
    C = cost_matrix(d)
    E = incidence(d).tocoo()
    N, S = C.shape
    m = d["tails"].size
    n = d["n_nodes"]
    # x = [p (m), Pi.ravel() (N*S, row-major)]; rows: n node rows, then N point rows
    k = np.arange(N * S)
    rows = np.concatenate([E.row, d["ends"][k % S], n + k // S])
    cols = np.concatenate([E.col, m + k, m + k])
    vals = np.concatenate([E.data, np.ones(N * S), np.ones(N * S)])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(n + N, m + N * S))
    rhs = np.concatenate([d["supply"], d["mu"]])
    inf = highspy.kHighsInf
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if quadratic:
        h.setOptionValue("time_limit", QP_TIME_LIMIT)
    else:
        h.setOptionValue("solver", method)
    lp = highspy.HighsLp()
    lp.num_col_ = m + N * S
    lp.num_row_ = n + N
    lp.col_cost_ = np.concatenate([d["b"], C.ravel()])
    lp.col_lower_ = np.concatenate([d["lower"], np.zeros(N * S)])
    lp.col_upper_ = np.concatenate([d["upper"], np.full(N * S, inf)])
    lp.row_lower_ = rhs
    lp.row_upper_ = rhs
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    h.passModel(lp)
    if quadratic:
        # HiGHS minimizes c@x + x@Q@x/2: Q = diag(2a) on the flow columns
        q = np.flatnonzero(d["a"] > 0)
        hess = highspy.HighsHessian()
        hess.dim_ = m + N * S
        hess.format_ = highspy.HessianFormat.kTriangular
        start = np.zeros(m + N * S + 1, dtype=np.int32)
        cnt = np.zeros(m + N * S, dtype=np.int32)
        cnt[q] = 1
        start[1:] = np.cumsum(cnt)
        hess.start_ = start
        hess.index_ = q.astype(np.int32)
        hess.value_ = 2.0 * d["a"][q]
        h.passHessian(hess)
    t1 = time.perf_counter()
    h.run()
    st = h.getModelStatus()
    objective = math.nan
    if st == highspy.HighsModelStatus.kOptimal:
        x = np.asarray(h.getSolution().col_value)
        objective = true_objective(d, C, x[m:].reshape(N, S), x[:m])
    t2 = time.perf_counter()
    name = "QP (active set)" if quadratic else method
    return {"build": t1 - t0, "solve": t2 - t1, "total": t2 - t0, "objective": objective,
            "status": h.modelStatusToString(st), "solver": f"highspy {h.version()} {name}", "message": "",
            "timed_out": st == highspy.HighsModelStatus.kTimeLimit}


# ------------------------------------------------------------------------------------ plain Pyomo
def pyomo_options(quadratic: bool, method: str) -> dict[str, Any]:
    """The HiGHS options otmodel's pyomo backend passes on its first solve (otmodel/backends/pyomo.py)."""
    return {"output_flag": False} if quadratic else {"output_flag": False, "solver": method, "presolve": "choose"}


def run_plain_pyomo(d: dict[str, Any], quadratic: bool, method: str = "ipm") -> dict[str, Any]:
    import pyomo.environ as pyo

    t0 = time.perf_counter()
    C = cost_matrix(d)
    N, S = C.shape
    narcs = d["tails"].size
    mu, ends, tails, heads = d["mu"], d["ends"], d["tails"], d["heads"]
    end_of_node = {int(ends[s]): s for s in range(S)}
    out_arcs: dict[int, list[int]] = {i: [] for i in range(d["n_nodes"])}
    in_arcs: dict[int, list[int]] = {i: [] for i in range(d["n_nodes"])}
    for j in range(narcs):
        out_arcs[int(tails[j])].append(j)
        in_arcs[int(heads[j])].append(j)
    model = pyo.ConcreteModel()
    model.K = pyo.RangeSet(0, N - 1)
    model.S = pyo.RangeSet(0, S - 1)
    model.A = pyo.RangeSet(0, narcs - 1)
    model.V = pyo.RangeSet(0, d["n_nodes"] - 1)
    model.pi = pyo.Var(model.K, model.S, domain=pyo.NonNegativeReals)
    model.p = pyo.Var(model.A, bounds=lambda mdl, j: (float(d["lower"][j]), float(d["upper"][j])))

    def marginal(mdl: Any, k: int) -> Any:
        return sum(mdl.pi[k, s] for s in mdl.S) == float(mu[k])

    def balance(mdl: Any, i: int) -> Any:
        expr = sum(mdl.p[j] for j in out_arcs[i]) - sum(mdl.p[j] for j in in_arcs[i])
        if i in end_of_node:
            s = end_of_node[i]
            expr = expr + sum(mdl.pi[k, s] for k in mdl.K)
        return expr == float(d["supply"][i])

    model.marginal = pyo.Constraint(model.K, rule=marginal)
    model.balance = pyo.Constraint(model.V, rule=balance)
    a, b = d["a"], d["b"]
    model.obj = pyo.Objective(
        expr=sum(float(C[k, s]) * model.pi[k, s] for k in model.K for s in model.S)
        + sum(float(a[j]) * model.p[j] ** 2 for j in model.A if a[j] > 0)
        + sum(float(b[j]) * model.p[j] for j in model.A if b[j] != 0),
        sense=pyo.minimize,
    )
    t1 = time.perf_counter()
    # the interface otmodel's pyomo backend uses: pyomo.contrib.solver's HiGHS, stock (no otmodel patch)
    from pyomo.contrib.solver.common.results import TerminationCondition as T
    from pyomo.contrib.solver.solvers.highs import Highs

    opts = pyomo_options(quadratic, method)
    kw: dict[str, Any] = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False, "solver_options": opts}
    if quadratic:
        kw["time_limit"] = QP_TIME_LIMIT
    res = Highs().solve(model, **kw)
    status = str(res.termination_condition.name)
    timed_out = res.termination_condition == T.maxTimeLimit
    objective = math.nan
    if res.termination_condition == T.convergenceCriteriaSatisfied:
        res.solution_loader.load_vars()
        Pi = np.array([[model.pi[k, s].value for s in range(S)] for k in range(N)], dtype=float)
        p = np.array([model.p[j].value for j in range(narcs)], dtype=float)
        objective = true_objective(d, C, Pi, p)
    t2 = time.perf_counter()
    import pyomo

    name = "QP" if quadratic else opts.get("solver", "")
    return {"build": t1 - t0, "solve": t2 - t1, "total": t2 - t0, "objective": objective, "status": status,
            "solver": f"Pyomo {pyomo.version.version} contrib.solver highs {name}",
            "message": "", "timed_out": timed_out}


# ------------------------------------------------------------------------------------ driver
def best_of(repeat: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, Any] | None = None
    for _ in range(max(1, repeat)):
        gc.collect()
        try:
            r = fn()
        except Exception as exc:
            traceback.print_exc()
            r = {"build": math.nan, "solve": math.nan, "total": math.nan, "objective": math.nan,
                 "status": "error", "message": f"{type(exc).__name__}: {exc}"}
        if best is None or (np.isfinite(r["total"]) and not r["total"] >= best["total"]):
            best = r
    assert best is not None
    return best


def pyomo_backend_available() -> bool:
    try:
        import pyomo.environ  # noqa: F401

        otmodel.backends.get("pyomo")
        return True
    except Exception:
        return False


def fmt(x: Any, w: int = 9, p: int = 3) -> str:
    if isinstance(x, str):
        return x.rjust(w)
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-".rjust(w)
    return f"{x:{w}.{p}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="grid side (the paper: 200)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    ap.add_argument("--skip-slow", action="store_true", help=f"skip the {QP_TIME_LIMIT:g} s-limited QP baselines")
    ap.add_argument("--out", default="results.json", help="JSON output file")
    args = ap.parse_args(argv)

    have_pyomo = pyomo_backend_available()
    rows: list[dict[str, Any]] = []

    def record(variant: str, tool: str, r: dict[str, Any], pair: str | None = None) -> dict[str, Any]:
        r = dict(r, variant=variant, tool=tool, pair=pair)
        rows.append(r)
        print(f"  {variant} {tool:<28} build {fmt(r['build'])}  solve {fmt(r['solve'])}  total {fmt(r['total'])}"
              f"  obj {r['objective']:.10g}  [{r.get('status', '')}] {r.get('message', '')[:80]}", flush=True)
        return r

    # warm-up on a tiny instance: imports and first-call costs stay out of the measurements
    for linear in (True, False):
        small = synthetic(6, linear=linear)
        ds = plain_data(small)
        for be in ("highs", "cvxpy") + (("pyomo",) if have_pyomo else ()):
            otmodel.solve(small, backend=be)
        run_plain_cvxpy(ds)
        run_plain_highspy(ds, "ipm", not linear)
        run_plain_pyomo(ds, not linear)

    for variant, linear in (("LP", True), ("QP", False)):
        problem = synthetic(args.n, linear=linear)
        d = plain_data(problem)
        print(f"{variant}: {problem!r}", flush=True)
        rep = args.repeat
        if linear:
            record(variant, "otmodel highs (ipm)", best_of(rep, lambda: run_otmodel(problem, "highs", method="ipm")), "plain highspy (ipm)")
            record(variant, "otmodel highs (simplex)", best_of(rep, lambda: run_otmodel(problem, "highs", method="simplex")), "plain highspy (simplex)")
        else:
            record(variant, "otmodel highs (ipm)", best_of(rep, lambda: run_otmodel(problem, "highs", method="ipm")), "plain highspy (QP)")
        record(variant, "otmodel cvxpy (Clarabel)", best_of(rep, lambda: run_otmodel(problem, "cvxpy")), "plain cvxpy (Clarabel)")
        if have_pyomo:
            record(variant, "otmodel pyomo", best_of(rep, lambda: run_otmodel(problem, "pyomo")), "plain Pyomo")
        record(variant, "plain cvxpy (Clarabel)", best_of(rep, lambda: run_plain_cvxpy(d)))
        if linear:
            record(variant, "plain highspy (ipm)", best_of(rep, lambda: run_plain_highspy(d, "ipm", False)))
            record(variant, "plain highspy (simplex)", best_of(rep, lambda: run_plain_highspy(d, "simplex", False)))
            record(variant, "plain Pyomo", best_of(rep, lambda: run_plain_pyomo(d, False)))
        elif not args.skip_slow:
            record(variant, "plain highspy (QP)", best_of(1, lambda: run_plain_highspy(d, "ipm", True)))
            record(variant, "plain Pyomo", best_of(1, lambda: run_plain_pyomo(d, True)))
        gc.collect()

    # reference objective, ratios
    by = {(r["variant"], r["tool"]): r for r in rows}
    for r in rows:
        ref = by[(r["variant"], "otmodel highs (ipm)")]["objective"]
        r["rel_diff"] = abs(r["objective"] - ref) / max(1.0, abs(ref)) if np.isfinite(r["objective"]) else math.nan
        plain = by.get((r["variant"], r["pair"])) if r["pair"] else None
        r["ratio"] = math.nan
        r["ratio_note"] = ""
        if plain is not None and np.isfinite(plain["total"]):
            r["ratio"] = r["total"] / plain["total"]
            if plain.get("timed_out"):
                r["ratio_note"] = f"plain hit the {QP_TIME_LIMIT:g} s limit: ratio is an upper bound"
            elif not np.isfinite(plain["objective"]):
                r["ratio_note"] = f"plain returned no solution ({plain.get('status')})"

    # table
    print()
    print(f"Synthetic V-A, {args.n} x {args.n} ({args.n * args.n} demand points); times in s; "
          f"rel diff vs otmodel highs (ipm); ratio = otmodel total / plain total (same solver)")
    head = f"{'variant':<7} {'tool':<28} {'build':>9} {'solve':>9} {'total':>9} {'objective':>16} {'rel diff':>9} {'ratio':>7}  status"
    print("(wall-clock total around otmodel.solve; * = stopped by the time limit without a solution; "
          "'<' ratio = upper bound)")
    print(head)
    print("-" * len(head))
    for r in rows:
        total = fmt(r["total"])
        if r.get("timed_out"):
            total = (f"{r['total']:.1f}*").rjust(9)
        ratio = "-" if not np.isfinite(r["ratio"]) else (("<" if "limit" in r["ratio_note"] else "") + f"{r['ratio']:.2f}")
        obj = "-" if not np.isfinite(r["objective"]) else f"{r['objective']:.10g}"
        rd = "-" if not np.isfinite(r["rel_diff"]) else f"{r['rel_diff']:.1e}"
        tt = r.get("timings_total")
        extra = f" (Solution.timings total {tt:.3f})" if tt is not None and np.isfinite(tt) else ""
        print(f"{r['variant']:<7} {r['tool']:<28} {fmt(r['build'])} {fmt(r['solve'])} {total} {obj:>16} {rd:>9} {ratio:>7}  {r.get('status', '')}{extra}")

    # goals
    goals: list[dict[str, Any]] = []
    print("\nGoals (issue 2):")
    for r in rows:
        if not r["pair"]:
            continue
        plain = by.get((r["variant"], r["pair"]))
        if plain is None:
            goals.append({"goal": f"{r['variant']} {r['tool']} within 1.1x of {r['pair']}", "verdict": "NOT MEASURED",
                          "detail": "baseline skipped (--skip-slow)"})
        elif not np.isfinite(r["ratio"]):
            goals.append({"goal": f"{r['variant']} {r['tool']} within 1.1x of {r['pair']}", "verdict": "NOT MEASURED",
                          "detail": f"a run failed ({r.get('status')}, {plain.get('status')})"})
        else:
            ok = r["ratio"] <= 1.1 and np.isfinite(r["objective"])
            if plain.get("timed_out"):
                detail = f"{r['total']:.2f} s vs {plain['total']:.1f} s (plain stopped by the {QP_TIME_LIMIT:g} s limit, no solution)"
            elif not np.isfinite(plain["objective"]):
                detail = f"{r['total']:.2f} s vs {plain['total']:.2f} s = {r['ratio']:.2f}x, but plain returned no solution ({plain.get('status')})"
            else:
                detail = f"{r['total']:.2f} s vs {plain['total']:.2f} s = {r['ratio']:.2f}x"
            goals.append({"goal": f"{r['variant']} {r['tool']} within 1.1x of {r['pair']}",
                          "verdict": "PASS" if ok else "FAIL", "detail": detail})
    for v in ("LP", "QP"):
        om, pl = by.get((v, "otmodel pyomo")), by.get((v, "plain Pyomo"))
        g = f"{v} pyomo backend builds >= 2x faster than plain per-element Pyomo"
        if om is None or pl is None or not (np.isfinite(om["build"]) and np.isfinite(pl["build"])):
            goals.append({"goal": g, "verdict": "NOT MEASURED",
                          "detail": "pyomo backend not importable" if om is None else "baseline missing or failed"})
        else:
            sp_ = pl["build"] / om["build"] if om["build"] > 0 else math.inf
            goals.append({"goal": g, "verdict": "PASS" if sp_ >= 2 else "FAIL",
                          "detail": f"build {om['build']:.2f} s vs {pl['build']:.2f} s = {sp_:.1f}x faster"})
    ipm, spx = by[("LP", "otmodel highs (ipm)")], by[("LP", "otmodel highs (simplex)")]
    faster = "ipm" if ipm["total"] <= spx["total"] else "simplex"
    import inspect

    from otmodel.backends import highs as _hb

    default_method = "ipm" if 'options.pop("method", "ipm")' in inspect.getsource(_hb.HighsBackend.solve) else "?"
    goals.append({"goal": "LP default method chosen by measurement (highs ipm vs simplex)",
                  "verdict": "PASS" if faster == default_method else "FAIL",
                  "detail": f"ipm {ipm['total']:.2f} s, simplex {spx['total']:.2f} s ({spx['total'] / ipm['total']:.1f}x); "
                            f"faster: {faster}; default: {default_method}"})
    qp = {t: by[("QP", t)]["total"] for t in ("otmodel highs (ipm)", "otmodel cvxpy (Clarabel)", "otmodel pyomo")
          if ("QP", t) in by and np.isfinite(by[("QP", t)]["total"]) and np.isfinite(by[("QP", t)]["objective"])}
    probe = synthetic(4, linear=False)
    dflt = otmodel.backends.default_backend(probe)
    fastest = min(qp, key=qp.get) if qp else "?"
    goals.append({"goal": "QP default backend chosen by measurement",
                  "verdict": "PASS" if fastest.startswith(f"otmodel {dflt}") else "FAIL",
                  "detail": ", ".join(f"{k} {v:.2f} s" for k, v in qp.items()) + f"; fastest: {fastest}; default: {dflt}"})
    for g in goals:
        print(f"  [{g['verdict']}] {g['goal']}: {g['detail']}")

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "n": args.n, "points": args.n * args.n, "repeat": args.repeat, "skip_slow": args.skip_slow,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "processor": platform.processor()},
        "pyomo_interface": "pyomo.contrib.solver.solvers.highs.Highs (stock) for the plain model",
        "clarabel": CLARABEL_KW, "qp_time_limit": QP_TIME_LIMIT,
    }

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not np.isfinite(x):
            return None
        if isinstance(x, (np.floating, np.integer, np.bool_)):
            return clean(x.item())
        return x

    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": [{k: clean(v) for k, v in r.items()} for r in rows], "goals": goals}, f, indent=2)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
