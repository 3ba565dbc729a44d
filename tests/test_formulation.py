"""problem.formulation(): the stated mathematics parses, and the stated dual is the right one.

The dual a formulation writes out (its own closed forms of the arc conjugates, the fractional knapsack
of an attraction step) is evaluated at exact optimal multipliers from an independent solver and must
equal the exact primal optimum (strong duality); at arbitrary multipliers it must equal the validation
module's q(psi) and stay below the optimum (weak duality).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from matplotlib.mathtext import MathTextParser
from scipy.optimize import linprog

import otmodel as om
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.formulation import PARTS, Formulation, formulation
from otmodel.model import graphs
from otmodel.validation import dual_value

_PARSER = MathTextParser("path")


def _parses(tex: str) -> None:
    _PARSER.parse(f"${tex}$")  # raises ValueError on TeX that mathtext cannot read


def _tiny_flow(quadratic: bool) -> om.FlowProblem:
    net = om.Network()
    net.add_node("s", supply=3.0).add_node("a").add_node("b").add_node("t", supply=-3.0)
    cost = (lambda c: om.Quadratic(c, 0.5)) if quadratic else om.Linear
    net.add_arc("s", "a", cost(1.0), upper=2.0)
    net.add_arc("s", "b", cost(2.0))
    net.add_arc("a", "t", cost(1.0), lower=0.5)
    net.add_arc("b", "t", cost(1.5), upper=4.0)
    net.add_arc("a", "b", cost(0.25))
    return om.FlowProblem(net)


def _tiny_spatial() -> om.SpatialFlowProblem:
    net = om.Network()
    net.add_node("S", supply=1.0, position=(0.5, 0.0))
    net.add_node("I1", endpoint=True, position=(0.0, 1.0))
    net.add_node("I2", endpoint=True, position=(1.0, 1.0))
    net.add_arc("S", "I1", om.Linear(0.3), upper=0.8)
    net.add_arc("S", "I2", om.Linear(0.5))
    rng = np.random.default_rng(3)
    demand = om.Points(rng.uniform(0, 1, (30, 2)), np.full(30, 1 / 30))
    return om.SpatialFlowProblem(net, demand, om.Euclidean())


def _tiny_transport() -> om.GraphTransportProblem:
    return om.GraphTransportProblem.from_supply(graphs.six_agents(), [1, -1, -1, 1, 1, -1], gamma=1.0)


def _tiny_step() -> om.AttractionStep:
    W = np.array([[0, 1, 0, 0], [1, 0, 2, 0], [0, 2, 0, 1], [0, 0, 1, 0]], float)
    cap = np.where(W > 0, 0.1, np.inf)
    p = om.AttractionProblem(W, [0.7, 0.3, 0, 0], [0, 0, 0.4, 0.6], omega=0.3, gamma=0.1,
                             edge_capacity=cap, storage=np.full(4, 0.8))
    return p.step(p.rho0, 0)


KINDS = {
    "flow-linear": lambda: _tiny_flow(False),
    "flow-quadratic": lambda: _tiny_flow(True),
    "spatial": _tiny_spatial,
    "graph-transport": _tiny_transport,
    "attraction-step": _tiny_step,
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_every_formula_parses(kind: str, fmt: str) -> None:
    f = KINDS[kind]().formulation(format=fmt)
    assert isinstance(f, Formulation)
    eqs = f.equations()
    assert len(eqs) >= 6
    for tex in eqs:
        _parses(tex)
    for part in f.parts:  # tags are rendered next to the formula: they must parse too
        for eq in part.equations:
            if eq.tag:
                _parses(f"{eq.tex} \\qquad {eq.tag}")
    text = str(f)
    assert ("\\begin{equation*}" in text) == (fmt == "latex")
    assert ("$$" in text) == (fmt == "markdown")


def test_instance_sizes_and_citations_are_stated() -> None:
    p = om.load("examples/models/synthetic.yaml")
    text = p.formulation().to_markdown()
    assert "|\\mathcal{N}| = 6" in text and "|\\mathcal{A}| = 8" in text and "|\\mathcal{S}| = 4" in text
    assert "40{,}000 points" in text
    for tag in ("(1a)", "(2a)", "(2b)", "(2c)", "(2d)", "(3)", "(4)", "(5)", "(8)"):
        assert tag in text
    assert "quadratic arcs" in text and "linear arcs" not in text  # the costs actually used


def test_small_instances_list_every_constraint() -> None:
    p = _tiny_flow(False)
    f = p.formulation(part="constraints")
    eqs = f.equations()
    assert len(eqs) == p.n_nodes + p.n_arcs
    assert "p_{\\mathrm{s},\\mathrm{a}} + p_{\\mathrm{s},\\mathrm{b}} = 3" in eqs
    assert "0.5 \\leq p_{\\mathrm{a},\\mathrm{t}} \\leq +\\infty" in eqs


def test_parts_selection_and_errors() -> None:
    p = _tiny_flow(False)
    assert [pt.key for pt in p.formulation(part=["dual", "primal"]).parts] == ["primal", "dual"]
    assert "relaxation" not in [pt.key for pt in p.formulation().parts]
    assert "relaxation" in [pt.key for pt in _tiny_spatial().formulation().parts]
    with pytest.raises(UnsupportedError, match="relaxation"):
        p.formulation(part="relaxation")
    with pytest.raises(InvalidDataError, match="unknown formulation part"):
        p.formulation(part="everything")
    with pytest.raises(InvalidDataError, match="format"):
        p.formulation(format="html")
    with pytest.raises(UnsupportedError):
        formulation("not a problem")
    assert set(PARTS) >= {pt.key for pt in _tiny_spatial().formulation().parts}


def test_notebooks_render_it() -> None:
    f = _tiny_flow(True).formulation()
    assert f._repr_markdown_().startswith("**Flow problem**")
    latex = f._repr_latex_()
    assert latex.startswith("$$") and latex.rstrip().endswith("$$")


@pytest.mark.parametrize("kind", ["flow-linear", "flow-quadratic", "spatial", "graph-transport"])
def test_stated_dual_equals_primal_optimum_at_exact_potentials(kind: str) -> None:
    p = KINDS[kind]()
    exact = om.solve(p, backend="highs")
    assert exact.status == om.Status.OPTIMAL
    f = p.formulation()
    stated = f.dual(exact.potentials)
    assert stated == pytest.approx(exact.objective, rel=1e-7, abs=1e-9)
    assert stated == pytest.approx(dual_value(p, exact.potentials), rel=1e-12, abs=1e-12)
    # weak duality and agreement with the validation module away from the optimum
    rng = np.random.default_rng(0)
    for _ in range(5):
        psi = exact.potentials + rng.normal(0, 0.5, exact.potentials.size)
        val, ref = f.dual(psi), dual_value(p, psi)
        assert val <= exact.objective + 1e-9
        assert val == pytest.approx(ref, rel=1e-12, abs=1e-12) or (val == ref == -np.inf)


def _step_lp_with_multipliers(step: om.AttractionStep) -> tuple[float, np.ndarray, np.ndarray]:
    """The exact step LP with p explicit, solved by scipy/HiGHS: optimum and coupling multipliers (h, k)."""
    prob = step.problem
    n, C, w = prob.n_nodes, prob.cost, step.omega
    rows, cols, cap = step.allowed()
    tgt = np.flatnonzero(prob.nu > 0)
    r2, c2 = np.repeat(tgt, n), np.tile(np.arange(n), tgt.size)
    n1, n2 = rows.size, r2.size
    pbar = np.minimum(prob.storage, step.neighbour_mass())
    c = np.concatenate([w * C[rows, cols], (1 - w) * C[r2, c2], np.zeros(n)])
    src = np.unique(rows)
    A_rows = sp.csr_matrix((np.ones(n1), (np.searchsorted(src, rows), np.arange(n1))), shape=(src.size, n1 + n2 + n))
    B_rows = sp.csr_matrix((np.ones(n2), (np.searchsorted(tgt, r2), n1 + np.arange(n2))), shape=(tgt.size, n1 + n2 + n))
    H = sp.csr_matrix((np.r_[np.ones(n1), -np.ones(n)], (np.r_[cols, np.arange(n)], np.r_[np.arange(n1), n1 + n2 + np.arange(n)])),
                      shape=(n, n1 + n2 + n))
    K = sp.csr_matrix((np.r_[np.ones(n2), -np.ones(n)], (np.r_[c2, np.arange(n)], np.r_[n1 + np.arange(n2), n1 + n2 + np.arange(n)])),
                      shape=(n, n1 + n2 + n))
    A_eq = sp.vstack([A_rows, B_rows, H, K]).tocsr()
    b_eq = np.r_[step.rho[src], prob.nu[tgt], np.zeros(2 * n)]
    bounds = [(0, u if np.isfinite(u) else None) for u in cap] + [(0, None)] * n2 + [(0, b) for b in pbar]
    res = linprog(c, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    y = res.eqlin.marginals
    h = y[src.size + tgt.size: src.size + tgt.size + n]
    k = y[src.size + tgt.size + n:]
    return float(res.fun), h, k


def test_attraction_step_dual_equals_lp_optimum() -> None:
    step = _tiny_step()
    opt, h, k = _step_lp_with_multipliers(step)
    f = step.formulation()
    assert f.dual(h, k) == pytest.approx(opt, rel=1e-8, abs=1e-10)
    # our exact step solver finds the same optimum the formulation describes
    res = om.solve_step(step, solver="highs")
    assert res.objective == pytest.approx(opt, rel=1e-7, abs=1e-10)
    rng = np.random.default_rng(1)
    for _ in range(10):  # weak duality at arbitrary multipliers
        assert f.dual(h + rng.normal(0, 1, h.size), k + rng.normal(0, 1, k.size)) <= opt + 1e-9


def test_explain_names_tight_arcs_potentials_and_certificate() -> None:
    p = _tiny_flow(False)
    sol = om.solve(p, backend="highs")
    text = str(sol.explain())
    at_upper = [k for k in range(p.n_arcs) if np.isfinite(p.upper[k]) and abs(sol.flows[k] - p.upper[k]) < 1e-9]
    assert f"and {len(at_upper)} at their upper bound" in text
    assert "CERTIFIED" in text and "not certified" not in text
    assert "\\psi_{\\mathrm{s}}" in text
    worse = np.array([0.5, 2.5, 0.5, 2.5, 0.0])  # feasible (s->a, s->b, a->t, b->t, a->b), not optimal
    bad = om.Solution(**{**sol.__dict__, "flows": worse, "objective": p.objective(worse)})
    assert p.objective(worse) > sol.objective + 1
    assert "not certified" in str(bad.explain())
    spatial = om.solve(_tiny_spatial(), backend="highs")
    assert "Laguerre cell" in str(spatial.explain())
    with pytest.raises(UnsupportedError):
        om.formulation.explain("nope")


def test_cli_formulate(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "otmodel.cli", "formulate", "examples/models/synthetic.yaml",
                          "--part", "dual", "--format", "latex"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "\\tag*{(4)}" in out.stdout and "Kantorovich" not in out.stdout


def _tiny_relocation() -> om.RelocationProblem:
    rng = np.random.default_rng(5)
    return om.RelocationProblem(rng.uniform(0, 1, (80, 2)), (0, 1, 0, 1), bins=(4, 4), capacity=6,
                                exclusions=[(0.1, 0.35, 0.1, 0.35)], displacement="l2")


def test_relocation_formulation_parses_and_its_dual_is_the_optimum() -> None:
    p = _tiny_relocation()
    f = p.formulation()
    assert [pt.key for pt in f.parts] == ["sets", "primal", "dual", "algorithm"]
    for tex in f.equations():
        _parses(tex)
    res = om.solve(p)
    # the exact optimum from an independent LP over all pairs (scipy/HiGHS)
    C = p.cost_matrix()
    n, m = C.shape
    A_eq = sp.kron(sp.eye(n), np.ones((1, m)))
    A_ub = sp.kron(np.ones((1, n)), sp.eye(m))
    lp = linprog(C.ravel(), A_ub=A_ub, b_ub=np.asarray(p.slots, float), A_eq=A_eq, b_eq=np.ones(n),
                 bounds=(0, None), method="highs")
    assert lp.status == 0
    opt = lp.fun * p.mass
    assert res.objective == pytest.approx(opt, rel=1e-9)
    assert f.dual(res.potentials) == pytest.approx(opt, rel=1e-7)
    assert f.dual(np.zeros(p.bins)) <= opt + 1e-9  # weak duality at any prices
