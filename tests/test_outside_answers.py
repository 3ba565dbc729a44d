"""Answers computed elsewhere, certified from plain arrays and from the command line (issue 15 point 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import otmodel as om
from otmodel.cli import main
from otmodel.instances import synthetic
from otmodel.validation import certify

MODEL = Path(__file__).parents[1] / "examples" / "models" / "synthetic.yaml"


@pytest.fixture(scope="module")
def spatial_and_exact():
    p = synthetic(30)
    return p, om.solve(p, backend="highs")


def test_potentials_alone_are_enough_for_a_spatial_problem(spatial_and_exact) -> None:
    p, exact = spatial_and_exact
    cert = certify(p, potentials=exact.potentials)
    assert cert.certified
    assert cert.dual_bound <= exact.objective * (1 + 1e-9) + 1e-12
    assert cert.upper_bound >= exact.objective * (1 - 1e-6)
    # the same from a mapping keyed by node name, as a user's own solver would write it
    by_name = dict(zip(p.node_names, exact.potentials.tolist(), strict=True))
    assert certify(p, {"potentials": by_name}).certified


def test_flows_and_assignment_without_potentials_are_not_certified(spatial_and_exact) -> None:
    p, exact = spatial_and_exact
    cert = certify(p, flows=exact.flows, assignment=exact.assignment)
    # feasible and optimal, but nothing proves it: q(0) is far below
    assert not cert.certified
    assert cert.upper_bound == pytest.approx(exact.objective, rel=1e-7)
    with_psi = certify(p, flows=exact.flows, assignment=exact.assignment, potentials=exact.potentials)
    assert with_psi.certified


def test_a_wrong_outside_answer_is_not_certified(spatial_and_exact) -> None:
    p, exact = spatial_and_exact
    rng = np.random.default_rng(0)
    bad = exact.potentials + rng.normal(scale=0.5, size=exact.potentials.size)
    assert not certify(p, potentials=bad).certified


def test_opposite_sign_convention_is_pointed_out(spatial_and_exact) -> None:
    p, exact = spatial_and_exact
    cert = certify(p, potentials=-exact.potentials)
    assert not cert.certified
    assert any("opposite sign convention" in note for note in cert.notes)
    assert not any("opposite sign" in note for note in certify(p, potentials=exact.potentials).notes)


def test_flow_problem_answers_by_arc_name_and_parallel_arcs() -> None:
    net = om.Network()
    net.add_node("s", supply=2.0)
    net.add_node("t", supply=-2.0)
    net.add_arc("s", "t", om.Linear(1.0), 0, 1)
    net.add_arc("s", "t", om.Linear(3.0), 0, 5)  # parallel, dearer
    p = om.FlowProblem(net)
    exact = om.solve(p, backend="highs")
    assert certify(p, flows=[1.0, 1.0], potentials=exact.potentials).certified
    # records with arc indices keep parallel arcs apart; a name that means two arcs is refused
    records = [{"arc": 0, "flow": 1.0}, {"arc": 1, "flow": 1.0}]
    assert certify(p, flows=records, potentials=exact.potentials).certified
    with pytest.raises(om.InvalidDataError, match="parallel arcs"):
        certify(p, flows={"s->t": 2.0})
    with pytest.raises(om.InvalidDataError, match=r"flows\[0\]: s->t names 2 parallel arcs"):
        certify(p, flows=[{"tail": "s", "head": "t", "flow": 2.0}])
    with pytest.raises(om.UnknownNodeError, match="t->s"):
        certify(p, flows=[{"tail": "t", "head": "s", "flow": 2.0}])
    with pytest.raises(om.InvalidDataError, match="3 numbers for 2"):
        certify(p, flows=[1.0, 1.0, 0.0])
    with pytest.raises(om.UnknownNodeError, match="'u'"):
        certify(p, potentials={"s": 0.0, "t": 1.0, "u": 2.0})
    with pytest.raises(om.InvalidDataError, match="not both"):
        certify(p, exact, flows=[1.0, 1.0])
    with pytest.raises(om.InvalidDataError, match="at least one"):
        certify(p)


def test_cli_certify_json_and_npz(tmp_path, capsys) -> None:
    p = om.load(MODEL)
    exact = om.solve(p, backend="highs")
    good = tmp_path / "answer.json"
    good.write_text(json.dumps({"potentials": dict(zip(p.node_names, exact.potentials.tolist(), strict=True))}))
    assert main(["certify", str(MODEL), str(good)]) == 0
    assert "CERTIFIED" in capsys.readouterr().out
    npz = tmp_path / "answer.npz"
    np.savez(npz, potentials=exact.potentials + 0.3 * np.arange(p.n_nodes))
    assert main(["certify", str(MODEL), str(npz)]) == 1
    capsys.readouterr()
    # an otmodel solution file is an answer file too
    sol_file = tmp_path / "solution.json"
    sol_file.write_text(exact.to_json())
    assert main(["certify", str(MODEL), str(sol_file)]) == 0
    capsys.readouterr()
    odd = tmp_path / "answer.json"
    odd.write_text(json.dumps({"potentialz": [0.0]}))
    assert main(["certify", str(MODEL), str(odd)]) == 2
    assert "potentialz" in capsys.readouterr().err
    assert main(["certify", str(MODEL), str(tmp_path / "answer.csv")]) == 2
