r"""Compiled inner loop of the Newton rule's cell pass: soft minimum over tile candidates.

Points are grouped in spatial tiles; for each tile the candidate endpoints are those whose lower
bound of `c(x,i) - \psi_i` over the tile's bounding box is within ``T`` of the smallest upper
bound (see ``otmodel.backends.newton.TiledCells``). The kernel scans each point's candidates,
keeps its ``K`` lowest values (exact best, lowest index on ties; candidates arrive sorted by their
lower bound over the tile, so the scan stops once that bound exceeds the ``K``-th value kept) and returns the soft weights. It is
the one loop over points that no vectorized form serves without an ``N x |S|`` matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_KERNEL: Any = None


def kernel() -> Any:
    """The compiled kernel (compiled on first use, cached on disk by numba)."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        @njit(cache=True, nogil=True)
        def soft_pass(
            px: Any, py: Any, mass: Any, tile_ptr: Any, cand_ptr: Any, cand: Any, cand_lo: Any,
            ex: Any, ey: Any, psi: Any, eps: float, eps_h: float, K: int, kind: int,
            cols: Any, P: Any, m_soft: Any, m_hard: Any, sums: Any, W: Any, dense: bool,
        ) -> None:  # pragma: no cover - compiled
            n_tiles = tile_ptr.size - 1
            bv = np.empty(K)
            bc = np.empty(K, dtype=np.int64)
            bh = np.empty(K)
            for t in range(n_tiles):
                c0, c1 = cand_ptr[t], cand_ptr[t + 1]
                for k in range(tile_ptr[t], tile_ptr[t + 1]):
                    x, y = px[k], py[k]
                    nb = 0
                    for a in range(c0, c1):
                        # candidates come by increasing lower bound over the tile: once K are kept and
                        # the next bound exceeds the K-th value, no later candidate can enter
                        if nb == K and cand_lo[a] > bv[K - 1]:
                            break
                        i = cand[a]
                        dx = x - ex[i]
                        dy = y - ey[i]
                        if kind == 0:
                            v = np.sqrt(dx * dx + dy * dy)
                        elif kind == 1:
                            v = dx * dx + dy * dy
                        else:
                            v = abs(dx) + abs(dy)
                        v -= psi[i]
                        if nb < K:
                            j = nb
                            nb += 1
                        elif v < bv[K - 1] or (v == bv[K - 1] and i < bc[K - 1]):
                            j = K - 1
                        else:
                            continue
                        # insertion, ordered by (value, index): the first slot is the exact argmin
                        while j > 0 and (bv[j - 1] > v or (bv[j - 1] == v and bc[j - 1] > i)):
                            bv[j] = bv[j - 1]
                            bc[j] = bc[j - 1]
                            j -= 1
                        bv[j] = v
                        bc[j] = i
                    m0 = bv[0]
                    w = mass[k]
                    z = 0.0
                    for j in range(nb):
                        # weights below e^-40 are set to 0: their exponentials would be denormal
                        # numbers, whose arithmetic costs a hundred times more
                        d = (bv[j] - m0) / eps
                        e = np.exp(-d) if d < 40.0 else 0.0
                        P[k, j] = e
                        z += e
                    ex_k = 0.0
                    for j in range(nb):
                        P[k, j] /= z
                        cols[k, j] = bc[j]
                        ex_k += P[k, j] * (bv[j] - m0)
                    for j in range(nb, K):
                        P[k, j] = 0.0
                        cols[k, j] = bc[0]
                    if w > 0:  # zero-mass points may sit at infinite cost: they carry nothing
                        m_hard[bc[0]] += w
                        sums[0] += w * m0
                        sums[1] += w * np.log(z)
                        sums[2] += w * ex_k
                        for j in range(nb):
                            m_soft[bc[j]] += w * P[k, j]
                        if dense and nb > 1:
                            # cell adjacency: w_ij += mu_k H_ki H_kj / eps_h over the boundary points,
                            # H the weights at the curvature temperature eps_h >= eps
                            zh = 0.0
                            for j in range(nb):
                                d = (bv[j] - m0) / eps_h
                                bh[j] = np.exp(-d) if d < 40.0 else 0.0
                                zh += bh[j]
                            if bh[1] / zh > 1e-14:
                                for a in range(nb):
                                    ha = bh[a] / zh
                                    if ha <= 1e-14:
                                        break
                                    for b in range(a + 1, nb):
                                        hb = bh[b] / zh
                                        if hb <= 1e-14:
                                            break
                                        W[bc[a], bc[b]] += w * ha * hb / eps_h

        _KERNEL = soft_pass
    return _KERNEL
