r"""Events of a distributed ADMM run (Mokhtari et al., section 4.3): agents leaving, supplies changing.

Every event is validated before the run starts (``validate_events``): the supplies of the agents
still active must balance after each event and the remaining graph must stay connected (strongly,
for graph transport), so that a run never discovers a bad event half-way.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from otmodel.errors import InvalidDataError, UnbalancedError, UnknownNodeError
from otmodel.model.problems import FlowProblem

__all__ = ["Departure", "SupplyChange", "validate_events", "new_supply", "graph_connected", "needs_strong"]


@dataclass(frozen=True)
class Departure:
    """Agent ``node`` leaves after ``k`` updates (section 4.3).

    From update ``k + 1`` on it stops updating (its copy, multipliers and constraint are frozen),
    the arcs joining it are removed (their flows fixed to 0 in every copy), and the supplies become
    ``supply``: a mapping node -> new supply (nodes not named keep theirs; the departed node gets 0
    unless named) or a full vector in node order (0 at the departed node). Supplies of the remaining
    agents must balance.

    The other agents keep their whole state (copies and multipliers, which already absorbed the
    departed agent's messages up to iteration ``k``); no restart. The departing agent's last message
    hands its consensus multiplier to its active neighbours in equal shares, which keeps the sum of
    the multipliers at zero, so the run converges to the optimum of the new problem (see
    ``AdmmRun._hand_off``). With ``keep_last_message=False``
    (default) they drop it from their neighbour sets. With ``keep_last_message=True`` they keep
    averaging with its last copy `\\pi^j_k`, the literal reading of section 4.3; that frozen
    copy then acts as a fixed boundary value of the consensus and the iteration converges only if it
    happens to be optimal for the new problem (it generally is not -- measured in
    ``examples/admm_43_departure.py``).

    Parameters
    ----------
    k : int
        Number of ADMM updates (3.1a)-(3.1c) after which the agent leaves, `\\ge 0`.
    node : hashable
        Name of the departing node (agent); it must exist in the problem.
    supply : mapping or sequence of float, optional
        New supplies, as described above; ``None`` keeps every other supply and gives the
        departed node 0. The remaining agents' supplies must balance (else ``UnbalancedError``).
    keep_last_message : bool, default False
        Whether the neighbours keep averaging with the departed agent's last copy.
    """

    k: int
    node: Hashable
    supply: Mapping[Hashable, float] | Sequence[float] | None = None
    keep_last_message: bool = False


@dataclass(frozen=True)
class SupplyChange:
    """The supplies change after ``k`` updates of the ADMM (Mokhtari et al., section 4.3).

    The agents keep their copies and multipliers and carry on from there (no restart), so the run
    converges to the optimum of the problem with the new supplies.

    Parameters
    ----------
    k : int
        Number of updates (3.1a)-(3.1c) after which the supplies change, `\\ge 0`.
    supply : mapping or sequence of float
        A mapping node -> new supply (others unchanged) or a full vector in node order; the
        supplies of the active agents must balance (else ``UnbalancedError``).
    """

    k: int
    supply: Mapping[Hashable, float] | Sequence[float]


def graph_connected(
    tails: NDArray[np.intp], heads: NDArray[np.intp], nodes: NDArray[np.intp], n: int, strong: bool = True
) -> bool:
    """Is the graph on ``nodes`` strongly (``strong``) or weakly connected?"""
    from otmodel.model.graphs import arc_components

    if nodes.size <= 1:
        return True
    return arc_components(tails, heads, n, nodes, strong)[0] == 1


def needs_strong(problem: FlowProblem) -> bool:
    """Graph transport keeps the paper's standing assumption (strongly connected: every supply
    vector is feasible with flows >= 0); a general flow problem needs only what the consensus needs,
    a connected neighbour graph (the Laplacian argument of Theorem 3.3 uses N+(i) U N-(i))."""
    return hasattr(problem, "transport_cost")


def new_supply(
    rho: NDArray[np.float64],
    supply: Any,
    names: list[str],
    active: NDArray[np.bool_],
    default_zero: int | None,
) -> NDArray[np.float64]:
    out = rho.copy()
    if default_zero is not None:
        out[default_zero] = 0.0
    if supply is None:
        return out
    if isinstance(supply, Mapping):
        index = {nm: i for i, nm in enumerate(names)}
        for key, val in supply.items():
            out[index[str(key)]] = float(val)
        return out
    return np.asarray(supply, dtype=float).reshape(-1).copy()


def validate_events(problem: FlowProblem, events: Sequence[Any], split: str) -> list[Departure | SupplyChange]:
    """Check every event before the run; simulate supplies and active agents to catch errors early."""
    if events is None:
        return []
    if isinstance(events, (Departure, SupplyChange)):
        events = [events]
    try:
        evs = list(events)
    except TypeError:
        raise InvalidDataError(
            f"events must be a list of Departure / SupplyChange, got {type(events).__name__}"
        ) from None
    names = problem.node_names
    n = problem.n_nodes
    for j, ev in enumerate(evs):
        if not isinstance(ev, (Departure, SupplyChange)):
            raise InvalidDataError(f"events[{j}] = {ev!r} is not a Departure or a SupplyChange")
        if isinstance(ev.k, bool) or not isinstance(ev.k, (int, np.integer)) or ev.k < 0:
            raise InvalidDataError(f"events[{j}]: k = {ev.k!r} must be an integer >= 0 (an iteration number)")
    order = sorted(range(len(evs)), key=lambda j: (int(evs[j].k), j))
    active = np.ones(n, dtype=bool)
    rho = np.array(problem.supply, dtype=float)
    tails, heads = np.asarray(problem.tails), np.asarray(problem.heads)
    removed = np.zeros(problem.n_arcs, dtype=bool)
    for j in order:
        ev = evs[j]
        label = f"events[{j}] ({type(ev).__name__} at k={ev.k})"
        dz: int | None = None
        if isinstance(ev, Departure):
            if str(ev.node) not in names:
                raise UnknownNodeError(f"{label}: unknown node {ev.node!r}")
            i = names.index(str(ev.node))
            if not active[i]:
                raise InvalidDataError(f"{label}: node {names[i]!r} has already left")
            active[i] = False
            removed |= (tails == i) | (heads == i)
            dz = i
            if active.sum() < 2:
                raise InvalidDataError(f"{label}: fewer than two agents would remain")
            strong = needs_strong(problem)
            if not graph_connected(tails[~removed], heads[~removed], np.flatnonzero(active), n, strong):
                raise InvalidDataError(
                    f"{label}: after node {names[i]!r} leaves, the remaining graph is not "
                    f"{'strongly ' if strong else ''}connected"
                )
        sup = ev.supply
        if isinstance(sup, Mapping):
            for key, val in sup.items():
                if str(key) not in names:
                    raise UnknownNodeError(f"{label}: supply names unknown node {key!r}")
                try:
                    v = float(val)
                except (TypeError, ValueError):
                    raise InvalidDataError(f"{label}: supply of node {key!r} = {val!r} is not a number") from None
                if not math.isfinite(v):
                    raise InvalidDataError(f"{label}: supply of node {key!r} = {v} is not finite")
        elif sup is not None:
            arr = np.asarray(sup, dtype=float).reshape(-1)
            if arr.shape != (n,):
                raise InvalidDataError(f"{label}: supply has {arr.size} entries for {n} nodes")
            if not np.all(np.isfinite(arr)):
                raise InvalidDataError(f"{label}: supply has a non-finite entry")
        elif isinstance(ev, SupplyChange):
            raise InvalidDataError(f"{label}: no supply given")
        rho = new_supply(rho, sup, names, active, dz)
        gone = np.flatnonzero(~active & (rho != 0))
        if gone.size:
            raise InvalidDataError(
                f"{label}: node {names[gone[0]]!r} has left but keeps supply {rho[gone[0]]:g}; give it 0"
            )
        total = float(rho[active].sum())
        if abs(total) > 1e-9 * max(1.0, float(np.abs(rho).sum())):
            raise UnbalancedError(
                f"{label}: the supplies of the remaining agents sum to {total:.12g}, not 0 "
                f"(give the new supplies in `supply`)"
            )
    return [evs[j] for j in order]
