"""The README's example runs and says what it claims."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    sol = ns["solution"]
    assert sol.status.value == "optimal"
    assert abs(sol.mass("I1") + sol.mass("I2") - 1.0) < 1e-9
    assert (tmp_path / "my_model.yaml").exists()
    import otmodel as om

    again = om.load(tmp_path / "my_model.yaml")
    assert abs(om.solve(again).objective - sol.objective) < 1e-9 * abs(sol.objective)


def test_readme_commands_exist():
    text = (ROOT / "README.md").read_text()
    make = (ROOT / "Makefile").read_text()
    assert "make demo" in text and "make test" in text
    assert "\ndemo:" in make and "\ntest:" in make
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _python_block(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    part = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", part, re.S)[0]


def test_readme_admm_example_certifies_the_run_after_the_departure(capsys):
    exec(compile(_python_block("Transport on a directed graph by distributed ADMM"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "CERTIFIED within rtol" in out and "NOT certified" not in out
    assert "AGREE" in out


def test_readme_attraction_example_reaches_the_target_and_is_certified(capsys):
    exec(compile(_python_block("Wasserstein attraction flows"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "CERTIFIED (target reached)" in out
    assert "Running HiGHS" not in out  # the solver's banner stays off the user's terminal
    assert "more step(s)" not in out  # a 7-step flow is shown whole


# ------------------------------------------------------------------ the three users of issue 15
STORIES = "Three users, three short scripts"


def _blocks(title: str, lang: str = "python") -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", part, re.S)


def test_readme_shows_three_user_stories_each_in_a_few_lines() -> None:
    blocks = _blocks(STORIES)
    assert len(blocks) == 3
    assert all(len(b.strip().splitlines()) <= 25 for b in blocks), [len(b.splitlines()) for b in blocks]
    assert any(line.startswith("otmodel certify ") for line in _blocks(STORIES, "sh")[0].splitlines())


def test_readme_story_networkx_graph_solved_exactly_and_iteratively_flows_in_pandas(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    import numpy as np

    import otmodel as om

    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(_blocks(STORIES)[0], "README.md", "exec"), ns)
    problem, exact, iterative = ns["problem"], ns["exact"], ns["iterative"]
    # networkx's conventions were read: demand -1 is a supply of +1, capacity is the upper bound
    assert problem.supply[problem.node_index("plant")] == 1.0
    assert problem.upper[problem.arc_index("plant", "north")] == 0.6
    assert problem.n_points >= 2000
    assert exact.status == "optimal"
    # the exact answer against an independent solver (Clarabel through cvxpy)
    ref = om.solve(problem, backend="cvxpy")
    assert abs(exact.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    # the iterative run stopped on its certified gap, and an independent certificate agrees
    assert iterative.status == "converged"
    cert = om.validation.certify(problem, iterative)
    assert cert.certified and cert.relative_gap <= 1e-6
    assert cert.dual_bound <= ref.objective * (1 + 1e-6) and cert.upper_bound >= ref.objective * (1 - 1e-6)
    table = exact.to_pandas("arcs")
    assert list(zip(table["tail"], table["head"], strict=True)) == [
        ("plant", "north"), ("plant", "south"), ("north", "east"), ("south", "east")
    ]
    np.testing.assert_allclose(table["flow"].to_numpy(), exact.flows)
    assert bool((table["flow"] <= table["upper"] + 1e-9).all())
    assert abs(float(table["flow"][:2].sum()) - 1.0) < 1e-6  # all supply leaves the plant
    out = capsys.readouterr().out
    assert "converged" in out and "plant" in out


def test_readme_story_outside_answer_certified_from_arrays_and_from_the_cli(tmp_path, monkeypatch, capsys):
    import os
    import shlex
    import subprocess
    import sys

    import numpy as np

    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(_blocks(STORIES)[1], "README.md", "exec"), ns)
    cert = ns["cert"]
    # the optimum by hand: 5 units mine->port->mill (2 + 1 each), 1 unit mine->mill (7), and 2 of the
    # 6 units that reach the mill go on to the yard (1 each): 15 + 7 + 2 = 24
    assert cert.certified
    assert abs(cert.objective - 24.0) < 1e-9 and abs(cert.dual_bound - 24.0) < 1e-6
    assert "CERTIFIED" in capsys.readouterr().out
    line = next(x for x in _blocks(STORIES, "sh")[0].splitlines() if x.startswith("otmodel certify "))
    args = shlex.split(line.split("#", 1)[0])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "otmodel", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    run = cli(*args[1:])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "CERTIFIED within rtol" in run.stdout
    # the same command refuses an answer whose potentials have the other sign, and says so
    answer = np.load(tmp_path / "answer.npz")
    np.savez(tmp_path / "flipped.npz", flows=answer["flows"], potentials=-answer["potentials"])
    bad = cli("certify", "model.yaml", "flipped.npz")
    assert bad.returncode == 1 and "NOT certified" in bad.stdout
    assert "opposite sign convention" in bad.stdout


def test_readme_story_student_prints_the_formulation(capsys):
    exec(compile(_blocks(STORIES)[2], "README.md", "exec"), {})
    out = capsys.readouterr().out
    # the instance's primal, the dual with the paper's equation numbers, and the algorithm's update
    assert "Primal" in out and "(3)" in out and "(4)" in out and "(5)" in out
    assert r"q(\psi)" in out and "Algorithm 1" in out
    assert r"\mathrm{plant}" in out and "1.5" in out  # this instance's names and bound
