"""Section 4.3 of Mokhtari et al.: robustness to an agent leaving during the run (Fig. 4, Tables 1-2).
===================================================================================================

Six agents on the bidirectional graph of Fig. 3 (``otmodel.model.graphs.six_agents``), unit costs,
capacities 2, rho = (1, -1, -1, 1, 1, -1), delta = 10, eps = 1e-4, gamma in {0, 0.1, 1} (the
gamma of (2.4)). Agent 6 leaves at iteration 100 and rho becomes (1, -1, -1, 1, 0, 0): it stops
updating, its arcs are removed, the other agents keep their state (no restart) and drop it from
their neighbour sets (``Departure(k=100, node=6, supply={5: 0})``).

Prints Table 1 (final plan without the departure) and Table 2 (with it), each with the exact optimum
of the corresponding centralized problem (cvxpy; HiGHS for gamma = 0, whose LP optimum need not be
unique), and the literal variant where the neighbours keep averaging with agent 6's last copy
(``keep_last_message=True``). Writes ``out/admm_43_departure.png`` (log10 Error_k and copy norms
against k, like Fig. 4) and ``out/admm_43_no_departure.png``.

Run from the repository root: ``.venv/bin/python examples/admm_43_departure.py`` (about 10 s).
"""

from __future__ import annotations

import numpy as np

import otmodel as om
from otmodel.backends.admm import Departure
from otmodel.model.graphs import six_agents
from otmodel.model.transport import GraphTransportProblem
from otmodel.plot_admm import plot_departure

RHO = [1, -1, -1, 1, 1, -1]
GAMMAS = (0.0, 0.1, 1.0)
SHOWN = [("1", "2"), ("1", "6"), ("4", "3"), ("4", "5"), ("5", "3"), ("5", "2"), ("5", "6")]
K_LEAVE = 100


def problem(gamma: float) -> GraphTransportProblem:
    return GraphTransportProblem.from_supply(six_agents(), RHO, gamma=gamma, capacity=2.0, name=f"six-{gamma:g}")


def table(title: str, rows: list[tuple[str, om.Solution]]) -> None:
    print(title)
    head = f"{'':<22}" + "".join(f"{'pi_' + u + v:>9}" for u, v in SHOWN) + f"{'other max':>11}{'iters':>7}"
    print(head)
    for label, sol in rows:
        vals = [sol.flow(u, v) for u, v in SHOWN]
        idx = [sol.problem.arc_index(u, v) for u, v in SHOWN]
        other = np.delete(np.abs(sol.flows), idx)
        print(
            f"{label:<22}"
            + "".join(f"{(v if abs(v) >= 5e-5 else 0.0):>9.4f}" for v in vals)
            + f"{float(other.max(initial=0.0)):>11.1e}{sol.iterations if sol.backend == 'admm' else 0:>7d}"
        )
    print()


def main() -> None:
    leave = Departure(k=K_LEAVE, node=6, supply={5: 0})
    with_dep, without, literal = {}, {}, {}
    rows1, rows2 = [], []
    for gamma in GAMMAS:
        p = problem(gamma)
        exact_name = "highs" if gamma == 0 else "cvxpy"
        without[gamma] = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=20000)
        with_dep[gamma] = om.solve(p, backend="admm", delta=10.0, tol=1e-4, max_iter=20000, events=[leave])
        literal[gamma] = om.solve(
            p,
            backend="admm",
            delta=10.0,
            tol=1e-4,
            max_iter=5000,
            events=[Departure(k=K_LEAVE, node=6, supply={5: 0}, keep_last_message=True)],
        )
        ex1 = om.solve(p, backend=exact_name)
        final = with_dep[gamma].info["final_problem"]
        ex2 = om.solve(final, backend=exact_name)
        rows1 += [(f"gamma={gamma:g} ADMM", without[gamma]), (f"gamma={gamma:g} exact", ex1)]
        rows2 += [(f"gamma={gamma:g} ADMM", with_dep[gamma]), (f"gamma={gamma:g} exact", ex2)]
    table("Table 1: final plan without the departure", rows1)
    table(f"Table 2: final plan when agent 6 leaves at iteration {K_LEAVE} (rho -> (1,-1,-1,1,0,0))", rows2)
    print(f"{'gamma':>6}{'status':>12}{'iters':>7}{'div. residual':>15}{'copy disagreement':>19}   after the departure")
    for gamma in GAMMAS:
        s = with_dep[gamma]
        print(
            f"{gamma:>6g}{s.status.value:>12}{s.iterations:>7d}{s.info['plan_residual']:>15.2e}{s.info['disagreement']:>19.2e}"
        )
    print("\nliteral reading (neighbours keep agent 6's last copy in their consensus):")
    for gamma in GAMMAS:
        s = literal[gamma]
        print(
            f"{gamma:>6g}{s.status.value:>16}{s.iterations:>7d}  div. residual {s.info['plan_residual']:.2e}  "
            f"Error_k {s.info['error']:.2e}"
        )
    names = problem(0.0).node_names
    plot_departure(
        with_dep,
        K_LEAVE,
        names,
        path="out/admm_43_departure.png",
        title=f"agent 6 leaves at iteration {K_LEAVE}: log10 Error_k and copy norms (like Fig. 4)",
    )
    plot_departure(
        without, None, names, path="out/admm_43_no_departure.png", title="no departure: log10 Error_k and copy norms"
    )
    print("wrote out/admm_43_departure.png and out/admm_43_no_departure.png")


if __name__ == "__main__":
    main()
