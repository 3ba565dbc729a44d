"""`otmodel check FILE --backend A --against B`."""

from __future__ import annotations

from pathlib import Path

import pytest

from otmodel.cli import main

SMALL_FLOW = "examples/models/small_flow.yaml"

SPATIAL = """\
otmodel: 1
name: tiny spatial
kind: spatial
nodes:
  - {name: S1, supply: 0.5, position: [0, 0]}
  - {name: S2, supply: 0.5, position: [10, 0]}
  - {name: E1, position: [2, 8], endpoint: true}
  - {name: E2, position: [8, 8], endpoint: true}
arcs:
  - {tail: S1, head: E1, cost: {type: quadratic, per_length: 1.0}, lower: -1, upper: 1}
  - {tail: S2, head: E2, cost: {type: quadratic, per_length: 1.0}, lower: -1, upper: 1}
  - {tail: E1, head: E2, cost: {type: quadratic, per_length: 1.0}, lower: -1, upper: 1}
  - {tail: S1, head: E2, cost: {type: quadratic, per_length: 1.0}, lower: -1, upper: 1}
demand:
  type: grid
  bounds: [0, 10, 0, 10]
  shape: [6, 6]
  density: {type: gaussian, mean: [3, 7], std: 3}
  total: 1.0
assignment_cost: {type: euclidean}
"""


@pytest.fixture
def spatial_file(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    f.write_text(SPATIAL)
    return f


def test_small_flow_with_linear_arcs_is_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", SMALL_FLOW, "--backend", "dual-ascent", "--against", "highs"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "strictly convex" in err and "Traceback" not in err


def test_small_flow_exact_pair(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", SMALL_FLOW, "--backend", "highs", "--against", "cvxpy"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "CERTIFIED within rtol" in out and "AGREE" in out


def test_spatial_exact_pair(spatial_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", str(spatial_file), "--backend", "cvxpy", "--against", "highs"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "CERTIFIED within rtol" in out and "demand mass, same endpoint" in out


def test_spatial_dual_ascent_not_converged(spatial_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", str(spatial_file), "--backend", "dual-ascent", "--against", "highs", "--option", "max_iter=3"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "NOT certified" in out and "DISAGREE" in out


def test_spatial_dual_ascent_loose_rtol(spatial_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "check",
            str(spatial_file),
            "--backend",
            "dual-ascent",
            "--against",
            "highs",
            "--option",
            "max_iter=3000",
            "--option",
            "tol=1e-12",
            "--rtol",
            "1e-2",
        ]
    )
    out = capsys.readouterr().out
    assert "certificate for the dual-ascent answer" in out
    assert rc == 0, out
    assert "CERTIFIED within rtol = 0.01" in out and "AGREE" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "no/such/file.yaml"],
        ["check", SMALL_FLOW, "--backend", "nonexistent"],
        ["check", SMALL_FLOW, "--backend", "highs", "--option", "bogus=1"],
        ["check", SMALL_FLOW, "--rtol", "-1"],
    ],
)
def test_bad_input_gives_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("otmodel: error:") and "Traceback" not in err


def test_bad_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("otmodel: 1\nkind: spatial\nnodes: [1, 2\n")
    rc = main(["check", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and "otmodel: error" in err


def test_spatial_dual_ascent_curvature_rule_is_certified_and_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--option step_size=curvature` on the synthetic instance at 60 x 60: certified at the default
    rtol 1e-6 in 15 iterations; the cross-check compares the certified (repaired) point, which agrees
    with the exact answer, and says that the raw iterate is only nearly feasible."""
    from otmodel.instances import synthetic

    f = tmp_path / "syn60.yaml"
    synthetic(60).save(f)
    argv = ["check", str(f), "--option", "step_size=curvature", "--option", "max_iter=15"]
    rc = main(argv)
    out = capsys.readouterr().out
    assert "CERTIFIED within rtol = 1e-06" in out, out
    assert "AGREE" in out and "DISAGREE" not in out and "the certified point" in out
    assert rc == 0


@pytest.mark.parametrize("rule", ["bogus", "constant:x", "diminishing:1", "curvature:2", "constant"])
def test_unknown_step_rule_gives_a_message(rule: str, spatial_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["check", str(spatial_file), "--option", f"step_size={rule}"])
    err = capsys.readouterr().err
    assert rc == 2 and "step_size" in err and "curvature" in err and "Traceback" not in err
