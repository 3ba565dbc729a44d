r"""The Laguerre-cell pass on a Dask cluster (issue 17).

One iteration of Algorithm 1 of Laurentin et al. (2025) needs, from the demand, only per-endpoint
sums: the cell masses `m_i = \mu(\mathrm{Lag}_i(\psi))` (line 9) and the assignment term of the
dual (4), `\sum_k \mu_k \min_i\{c(x_k,i) - \psi_i\}`. Both split over any partition of the points:

.. math:: m_i = \sum_b \sum_{k\in b} \mu_k [T_\psi(x_k) = i], \qquad
    \sum_k \mu_k \min_i\{\cdot\} = \sum_b \sum_{k\in b} \mu_k \min_i\{\cdot\}.

``DistributedCellPass`` sends the endpoint potentials `\psi_S` (`|S|` numbers) to every block of
the demand, each worker computes its blocks' partial sums with the arithmetic of the single-process
``CellPass`` (same cost formula, same argmin, same tie-break), and the client adds the partial sums
in block order. Node and arc updates (lines 5-7, 10-14) stay in the client process: they are
`O(|N| + |A|)`. The iterates are therefore those of the single-process backend up to the order of
floating-point summation.

Where the blocks live: an in-memory problem is scattered to the workers once; a
``DaskSpatialFlowProblem`` with array-backed blocks (Zarr, dask arrays) is read once and kept on
the workers (``persist``); one with generated blocks (``DaskPoints.grid`` / ``random``) is
regenerated inside each task, so that a billion points never exist at once anywhere (``persist=True``
keeps them instead, which is faster when they fit in the workers' memory).

Dask is imported here only inside functions: ``import otmodel`` does not import it.
"""

from __future__ import annotations

import time
from typing import Any

import numba as nb
import numpy as np
from numpy.typing import NDArray

from otmodel.backends.cells import PRUNE_MIN_ENDPOINTS, PrunedArgmin, combine_planar, planar_costs
from otmodel.errors import InvalidDataError, UnsupportedError
from otmodel.model.dask_demand import DEFAULT_BLOCK_ROWS, LOCAL_LIMIT, PLANAR, DaskSpatialFlowProblem, load_block
from otmodel.model.demand import block_rows
from otmodel.model.problems import SpatialFlowProblem

#: ``prune="auto"`` of the distributed pass: the k-d tree from this many endpoints on.
DISTRIBUTED_PRUNE_MIN = 16 * PRUNE_MIN_ENDPOINTS

__all__ = ["as_client", "DistributedCellPass", "block_pass", "distributed_cells"]


def as_client(client: Any, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` from a client or a scheduler address (``"tcp://host:port"``; ``timeout`` s to connect)."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - the optional extra is missing
        raise UnsupportedError(
            "client= needs Dask's distributed scheduler: pip install 'otmodel[distributed]'"
        ) from None
    if isinstance(client, distributed.Client):
        return client
    if isinstance(client, str):
        try:
            return distributed.Client(client, timeout=f"{float(timeout)}s")
        except OSError as exc:
            raise InvalidDataError(f"scheduler {client!r}: cannot connect ({exc})") from None
    raise InvalidDataError(f"client must be a distributed.Client or a scheduler address, got {type(client).__name__}")


_KIND = {"euclidean": 0, "squared_euclidean": 1, "manhattan": 2}


@nb.njit(cache=True, nogil=True)
def _argmin_sums(
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    yxy: NDArray[np.float64],
    psi: NDArray[np.float64],
    kind: int,
    m: NDArray[np.float64],
    lab: NDArray[np.int32],
) -> tuple[float, float]:
    """Per point: the argmin of ``c(x, i) - psi_i`` (first index on ties, strict ``<``), with the
    floating-point operations of ``planar_costs`` (``dx*dx``, ``+= dy*dy``, ``sqrt``); adds its mass
    to ``m`` and returns the SDOT term and the assignment cost, all summed in runs of 1,024 points
    (rounding error of the order of ``(1024 + n/1024)`` units, not ``n``: with equal masses a plain
    running sum drifts by 1e-11 relative over a million points). ``lab`` is filled when it
    has one entry per point."""
    n, ns = xy.shape[0], yxy.shape[0]
    keep = lab.shape[0] == n
    m_run = np.zeros(ns)
    sdot = 0.0
    assign = 0.0
    run_s = 0.0
    run_a = 0.0
    for k in range(n):
        x0, x1 = xy[k, 0], xy[k, 1]
        best = np.inf
        bi = 0
        bc = 0.0
        for i in range(ns):
            dx = x0 - yxy[i, 0]
            dy = x1 - yxy[i, 1]
            if kind == 2:
                c = abs(dx) + abs(dy)
            else:
                c = dx * dx
                c += dy * dy
                if kind == 0:
                    c = np.sqrt(c)
            v = c - psi[i]
            if v < best:
                best = v
                bi = i
                bc = c
        w = mass[k]
        m_run[bi] += w
        run_s += w * best
        run_a += w * bc
        if keep:
            lab[k] = bi
        if (k & 1023) == 1023:
            sdot += run_s
            assign += run_a
            run_s = 0.0
            run_a = 0.0
            for i in range(ns):
                m[i] += m_run[i]
                m_run[i] = 0.0
    for i in range(ns):
        m[i] += m_run[i]
    return sdot + run_s, assign + run_a


def block_pass(
    part: Any, psi_s: NDArray[np.float64], yxy: NDArray[np.float64], cost: Any, chunk: int, prune: bool, what: str
) -> dict[str, Any]:
    """One block's partial sums at endpoint potentials ``psi_s``; runs on a worker.

    ``what``: ``"cells"`` -> cell masses ``m`` and the SDOT term ``sdot``; ``"final"`` adds the
    assignment cost ``assign`` `= \\sum_k \\mu_k c(x_k, T(x_k))` of the argmin plan; ``"labels"``
    returns the labels ``lab`` too. The block is processed in rows of ``chunk`` with the arithmetic
    of ``CellPass`` (``planar_costs`` minus ``psi_s``, first index on ties; or ``PrunedArgmin``,
    which gives the same labels).
    """
    t0 = time.perf_counter()
    xy, mass = load_block(part)
    ns = psi_s.shape[0]
    m = np.zeros(ns)
    sdot = 0.0
    assign = 0.0
    labs = []
    pruner = None
    if not prune:  # compiled: 3-10x the numpy pass at |S| = 4 to 100, same labels
        lab_all = np.zeros(xy.shape[0] if what == "labels" else 0, dtype=np.int32)
        sdot, assign = _argmin_sums(np.ascontiguousarray(xy), np.ascontiguousarray(mass), yxy, psi_s, _KIND[cost.name], m, lab_all)
        out: dict[str, Any] = {"m": m, "sdot": sdot, "assign": assign, "fallback": 0, "seconds": time.perf_counter() - t0}
        if what == "labels":
            out["lab"] = lab_all
        return out
    if prune:
        pruner = PrunedArgmin(cost, yxy)
        pruner.set_potentials(psi_s)
    for a in range(0, xy.shape[0], chunk):
        x, w = xy[a : a + chunk], mass[a : a + chunk]
        if pruner is not None:
            lab, val = pruner(x)
        else:
            r = planar_costs(cost, x, yxy)
            r -= psi_s
            lab = np.argmin(r, axis=1)
            val = np.take_along_axis(r, lab[:, None], axis=1)[:, 0]
        m += np.bincount(lab, weights=w, minlength=ns)
        sdot += float(np.einsum("i,i->", w, val))
        if what != "cells":
            c = combine_planar(cost, x[:, 0] - yxy[lab, 0], x[:, 1] - yxy[lab, 1])
            assign += float(np.einsum("i,i->", w, c))
        if what == "labels":
            labs.append(lab.astype(np.int32))
    out = {
        "m": m,
        "sdot": sdot,
        "assign": assign,
        "fallback": pruner.fallback if pruner else 0,
        "seconds": time.perf_counter() - t0,  # the task's own time: wall time minus this is scheduling
    }
    if what == "labels":
        out["lab"] = np.concatenate(labs) if labs else np.zeros(0, dtype=np.int32)
    return out


def _pack(xy: Any, mass: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.ascontiguousarray(xy, dtype=float), np.ascontiguousarray(mass, dtype=float).reshape(-1)


class DistributedCellPass:
    r"""``CellPass`` with its sums computed on a Dask cluster (see the module docstring).

    Parameters
    ----------
    problem : SpatialFlowProblem or DaskSpatialFlowProblem
        With a planar assignment cost (Euclidean, squared Euclidean, Manhattan), computed from
        coordinates on the workers.
    client : distributed.Client or str
        The cluster, or its scheduler's address.
    chunk : rows per cost block inside a task (default ``block_rows(|S|)``, as ``CellPass``).
    prune : ``"auto"`` (``PrunedArgmin`` from ``PRUNE_MIN_ENDPOINTS`` endpoints on), True or False.
    rows : points per block when an in-memory problem is scattered (default ``DEFAULT_BLOCK_ROWS``).
    persist : ``"auto"`` (keep array-backed and scattered blocks on the workers, regenerate
        generated ones in every pass), True (keep all) or False (keep none; array-backed blocks are
        then read again in every pass).

    ``__call__(psi_s)`` and ``exact(psi_s)`` return ``(cell masses, SDOT term)`` like ``CellPass``;
    ``final(psi_s)`` adds the assignment cost of the argmin plan, ``plan_and_assignment(psi)`` the plan; ``labels(psi_s)`` gathers the
    argmin of every point (at most ``LOCAL_LIMIT`` points).
    """

    precomputed = False
    samples = None

    def __init__(
        self,
        problem: SpatialFlowProblem,
        client: Any,
        chunk: int | None = None,
        prune: bool | str = "auto",
        rows: int = DEFAULT_BLOCK_ROWS,
        persist: bool | str = "auto",
    ) -> None:
        if not isinstance(problem, SpatialFlowProblem):
            raise UnsupportedError(f"a distributed cell pass needs a spatial problem, not {type(problem).__name__}")
        cost = problem.assignment_cost
        if type(cost) not in PLANAR:
            raise UnsupportedError(
                f"client=: the {cost.name} assignment cost is per-point data that would travel with every block; "
                "the distributed pass supports Euclidean, SquaredEuclidean and Manhattan costs"
            )
        if persist not in ("auto", True, False):
            raise InvalidDataError(f"persist={persist!r} must be 'auto', True or False")
        if prune == "auto":
            # the compiled brute force costs about 1 ns per point and endpoint: the k-d tree pays off later
            prune = problem.n_endpoints >= DISTRIBUTED_PRUNE_MIN
        elif not isinstance(prune, (bool, np.bool_)):
            raise InvalidDataError(f"prune={prune!r} must be 'auto', True or False")
        self.client = as_client(client)
        self._owns_client = self.client is not client  # made here from an address: closed by ``close``
        self.problem = problem
        self.n = problem.n_points
        self.ns = problem.n_endpoints
        # 16,384 rows by default: a (rows x |S|) block that stays in cache (measured 1.4x faster than
        # 65,536 rows at |S| = 4); the sums do not depend on it beyond their rounding order
        self.chunk = block_rows(self.ns, chunk) if chunk is not None else min(16_384, block_rows(self.ns))
        self.prune = bool(prune)
        self.pruner = True if self.prune else None  # what DualAscentBackend reports as info["pruned"]
        self.cost = cost
        self.yxy = np.ascontiguousarray(problem.endpoint_xy, dtype=float)
        self.fallback = 0
        self.task_seconds = 0.0  # total time of the last pass's tasks, summed over blocks
        self._cached: tuple[NDArray[np.float64], NDArray[np.float64], float] | None = None
        c = self.client
        if isinstance(problem, DaskSpatialFlowProblem):
            parts = problem.points.parts
            generated = problem.points.generated
            if persist is True or (persist == "auto" and not generated):
                if generated:
                    self.parts = c.map(load_block, parts, pure=False)
                else:
                    self.parts = c.compute([_delayed_pack(p) for p in parts])
            else:
                self.parts = parts
        else:
            # at least two blocks per worker, so that both stay busy, and at most ``rows`` points each
            workers = max(1, len(c.scheduler_info().get("workers", {})))
            step = int(min(int(rows), max(1024, -(-self.n // (2 * workers)))))
            xy = np.asarray(problem.demand.xy, dtype=float)
            mass = np.asarray(problem.demand.mass, dtype=float)
            blocks = [_pack(xy[a : a + step], mass[a : a + step]) for a in range(0, self.n, step)]
            # hash=False: two blocks with the same values are still two blocks
            self.parts = c.scatter(blocks, hash=False) if persist is not False else blocks

    def _run(self, psi_s: NDArray[np.float64], what: str) -> list[dict[str, Any]]:
        psi_s = np.ascontiguousarray(psi_s, dtype=float)
        futs = self.client.map(
            block_pass,
            self.parts,
            psi_s=psi_s,
            yxy=self.yxy,
            cost=self.cost,
            chunk=self.chunk,
            prune=self.prune,
            what=what,
            pure=False,
        )
        out = self.client.gather(futs)
        self.fallback = int(sum(r["fallback"] for r in out))
        self.task_seconds = float(sum(r["seconds"] for r in out))
        return list(out)

    @staticmethod
    def _reduce(out: list[dict[str, Any]], ns: int) -> tuple[NDArray[np.float64], float, float]:
        m = np.zeros(ns)
        sdot = assign = 0.0
        for r in out:  # block order: the same sums in every run
            m += r["m"]
            sdot += r["sdot"]
            assign += r["assign"]
        return m, sdot, assign

    def __call__(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
        """``(cell masses (|S|,), SDOT term of q)`` at endpoint potentials ``psi_s``."""
        if self._cached is not None and np.array_equal(self._cached[0], psi_s):
            return self._cached[1].copy(), self._cached[2]
        m, sdot, _ = self._reduce(self._run(psi_s, "cells"), self.ns)
        return m, sdot

    exact = __call__

    def final(self, psi_s: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, float]:
        r"""``(cell masses, SDOT term, assignment cost of the argmin plan)``, one pass."""
        return self._reduce(self._run(psi_s, "final"), self.ns)

    def labels(self, psi_s: NDArray[np.float64]) -> NDArray[np.intp]:
        r"""`T(x_k) = \arg\min_i c(x_k, i) - \psi_i` of every point, gathered (at most ``LOCAL_LIMIT``)."""
        if self.n > LOCAL_LIMIT:
            raise UnsupportedError(f"{self.n:,} labels are more than {LOCAL_LIMIT:,} to gather in one process")
        out = self._run(psi_s, "labels")
        return np.concatenate([r["lab"] for r in out]).astype(np.intp)

    def plan_and_assignment(self, psi: NDArray[np.float64]) -> tuple[Any, float]:
        r"""Proposition 1's plan at the last potentials and its assignment cost, in one pass.

        The assignment cost `\sum_k \mu_k c(x_k, T(x_k))` is summed on the workers; the plan (one
        nonzero per point) is gathered only up to ``LOCAL_LIMIT`` points (else None: it stays
        implicit, ``certify_distributed`` recomputes it where the points are). The same pass's cell
        masses and SDOT term answer the next call at these potentials (the backend's final
        evaluation), so the returned point costs one pass, not two.
        """
        import scipy.sparse as sp

        psi_s = np.ascontiguousarray(np.asarray(psi, dtype=float)[np.asarray(self.problem.endpoints)])
        plan = None
        if self.n <= LOCAL_LIMIT:
            out = self._run(psi_s, "labels")
            lab = np.concatenate([r["lab"] for r in out]).astype(np.intp)
            plan = sp.csr_matrix((self.mass.copy(), lab, np.arange(self.n + 1)), shape=(self.n, self.ns))
        else:
            out = self._run(psi_s, "final")
        m, sdot, assign = self._reduce(out, self.ns)
        self._cached = (psi_s, m, sdot)
        return plan, assign

    def describe(self) -> dict[str, Any]:
        """What ran where (``Solution.info["distributed"]``)."""
        info = self.client.scheduler_info()
        return {
            "scheduler": str(info.get("address", "")),
            "workers": len(info.get("workers", {})),
            "blocks": len(self.parts),
            "points": self.n,
            "pruned": self.prune,
        }

    @property
    def mass(self) -> NDArray[np.float64]:
        """The point masses, gathered (at most ``LOCAL_LIMIT``)."""
        return np.asarray(self.problem.demand.mass, dtype=float)

    def close(self) -> None:
        """Release the blocks held on the workers; close the client if it was made from an address."""
        from distributed import Future

        parts, self.parts = self.parts, []
        for p in parts:
            if isinstance(p, Future):
                p.release()
        if self._owns_client:
            self.client.close()


def _delayed_pack(part: Any) -> Any:
    from dask import delayed

    return delayed(_pack_pair, pure=True)(part)


def _pack_pair(pair: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return _pack(*pair)



def distributed_cells(
    problem: Any,
    client: Any,
    chunk: int | None = None,
    prune: bool | str = "auto",
    persist: bool | str = "auto",
    *,
    samples: int | None = None,
    newton: bool = False,
) -> DistributedCellPass:
    """The dual-ascent backend's ``client=`` option: a ``DistributedCellPass``, or why not (``UnsupportedError``)."""
    if not isinstance(problem, SpatialFlowProblem):
        raise UnsupportedError("client=: a flow problem has no demand to distribute (its iteration is O(|N| + |A|))")
    if samples is not None:
        raise UnsupportedError("client= runs the exact cell pass; the stochastic variant (samples=) is single-process")
    if newton:
        raise UnsupportedError("client= supports first-order step rules (Diminishing, Constant, Curvature), not Newton")
    return DistributedCellPass(problem, client, chunk=chunk, prune=prune, persist=persist)
