"""Threads: concurrent solves give the answers of a lone thread, and stdout survives (issue 10: T1, T2).

The end-to-end runs happen in a child process with a time limit: on the old code the Pyomo
backend deadlocked with four threads, and fd 1 could be left at /dev/null for the rest of the
process, which only a fresh process shows (once HiGHS has printed its banner, nothing redirects).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from otmodel.backends import highs

ROOT = Path(__file__).resolve().parents[1]

# The child: 4 threads x 3 solves of two instances with one backend (plus, for highs, the
# attraction flow of Arque et al. with HiGHS steps and certify(), which repairs through HiGHS);
# then it prints through sys.stdout and straight to fd 1, and reports the answers as JSON.
CHILD = """
import json, os, sys, threading
import numpy as np
import scipy.sparse as sp
import otmodel as om
from otmodel.instances import synthetic
from otmodel.validation import certify

backend = sys.argv[1]
problems = [synthetic(6), synthetic(8, linear=True)]  # a QP and an LP
answers, errors = {}, []

def attraction():
    n = 12
    r = list(range(n)) + [0, 3, 5]
    c = [(i + 1) % n for i in range(n)] + [6, 9, 11]
    w = sp.csr_matrix((np.linspace(1.0, 2.0, len(r)), (r, c)), shape=(n, n))
    rho0 = np.zeros(n); rho0[[0, 1, 2]] = [0.5, 0.3, 0.2]
    nu = np.zeros(n); nu[[6, 7, 8]] = [0.2, 0.3, 0.5]
    p = om.AttractionProblem(w, rho0, nu, omega=0.1, gamma=0.25, eps=1e-9)
    return om.attraction_flow(p, "highs", max_steps=15).total_cost

def work(k):
    try:
        for i in range(3):
            j = (k + i) % 2
            s = om.solve(problems[j], backend=backend)
            answers.setdefault(f"p{j}", []).append([s.status.value, s.objective, s.flows.tolist()])
            if backend == "highs":
                answers.setdefault(f"cert{j}", []).append(bool(certify(problems[j], s).certified))
                answers.setdefault("flow", []).append(attraction())
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")

threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
alone = {f"p{j}": om.solve(p, backend=backend) for j, p in enumerate(problems)}
print("PRINTED AFTER THE THREADS")
sys.stdout.flush()
os.write(1, b"WRITTEN TO FD 1 AFTER THE THREADS\\n")
out = {
    "errors": errors,
    "answers": answers,
    "alone": {k: [s.status.value, s.objective, s.flows.tolist()] for k, s in alone.items()},
}
os.write(1, ("RESULT " + json.dumps(out) + "\\n").encode())
"""


def run_threads(backend: str, timeout: float) -> tuple[str, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        res = subprocess.run(
            [sys.executable, "-c", CHILD, backend],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"4 threads solving with {backend!r}: still running after {timeout} s (deadlock)")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result on stdout (fd 1 lost?): {res.stdout[-2000:]!r} {res.stderr[-2000:]!r}"
    return res.stdout, json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize("backend", ["highs", "cvxpy", "pyomo"])
def test_concurrent_solves_agree_and_keep_stdout(backend: str) -> None:
    pytest.importorskip({"highs": "highspy", "cvxpy": "cvxpy", "pyomo": "pyomo"}[backend])
    stdout, out = run_threads(backend, timeout=300)
    assert out["errors"] == []
    # stdout intact: both the Python-level print and a raw write to fd 1 reached the pipe
    assert "PRINTED AFTER THE THREADS\n" in stdout
    assert "WRITTEN TO FD 1 AFTER THE THREADS\n" in stdout
    assert "Running HiGHS" not in stdout
    for key, (status, objective, flows) in out["alone"].items():
        runs = out["answers"][key]
        assert len(runs) == 6
        for s, obj, f in runs:
            assert s == status == "optimal"
            assert obj == pytest.approx(objective, rel=1e-9, abs=1e-12)
            assert f == pytest.approx(flows, rel=1e-6, abs=1e-9)
    if backend == "highs":
        assert all(all(v) for k, v in out["answers"].items() if k.startswith("cert"))
        costs = out["answers"]["flow"]
        assert len(costs) == 12 and max(costs) - min(costs) <= 1e-9 * max(costs)


def test_fd1_redirection_is_shared_by_threads() -> None:
    """Eight threads inside the silenced block at once, leaving in a different order than they
    came: fd 1 points at the null device while any is inside and at its own file afterwards."""
    before = os.fstat(1)
    null = os.stat(os.devnull)
    inside = threading.Barrier(8)
    seen: list[bool] = []
    order = threading.Semaphore(0)

    def enter(k: int) -> None:
        with highs._fd1_silenced():
            inside.wait(timeout=30)
            st = os.fstat(1)
            seen.append((st.st_dev, st.st_ino) == (null.st_dev, null.st_ino))
            if k % 2:  # odd threads wait for the even ones to leave first
                order.acquire(timeout=30)
            else:
                order.release()

    threads = [threading.Thread(target=enter, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    after = os.fstat(1)
    assert seen == [True] * 8
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert highs._fd1_users == 0 and highs._fd1_saved is None


def test_highs_banner_comes_once_per_process() -> None:
    """new_highs redirects fd 1 only until one silenced constructor has run, relying on HiGHS
    printing its banner once per process: a second, unsilenced constructor prints nothing."""
    code = textwrap.dedent(
        """
        import os, highspy
        from otmodel.backends.highs import new_highs
        new_highs()
        highspy.Highs()
        os.write(1, b"END\\n")
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "END\n"
