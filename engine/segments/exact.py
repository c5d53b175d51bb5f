"""Exact (brute-force) k-nearest-neighbour search with Chroma's distances, in numpy.

l2 is the squared Euclidean distance, ip is ``1 - dot``, cosine is ``1 - cos`` with the
norm guarded by 1e-30 as Chroma and hnswlib do.
"""

from __future__ import annotations

import numpy as np

NORM_EPSILON = 1e-30
# Queries are processed in blocks so the (m, n) distance matrix stays bounded in memory.
BLOCK_CELLS = 1 << 24


def norms(vectors: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, float32."""
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float32))


def distance_matrix(
    space: str, queries: np.ndarray, vectors: np.ndarray, vector_norms: np.ndarray | None = None
) -> np.ndarray:
    """Distances from every query to every vector, shape (m, n), float32."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    v = vectors
    dots = q @ v.T
    if space == "ip":
        return (1.0 - dots).astype(np.float32, copy=False)
    vn = norms(v) if vector_norms is None else vector_norms
    if space == "cosine":
        qn = norms(q)
        return (1.0 - dots / ((qn[:, None] + NORM_EPSILON) * (vn[None, :] + NORM_EPSILON))).astype(
            np.float32, copy=False
        )
    if space == "l2":
        qq = np.einsum("ij,ij->i", q, q)
        return np.maximum(qq[:, None] + (vn * vn)[None, :] - 2.0 * dots, 0.0).astype(np.float32, copy=False)
    raise ValueError(f"unknown distance space {space!r}")


def top_k(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and distances of the ``k`` smallest entries per row, nearest first.

    Ties are broken by the lower index so results are deterministic. Pads with -1 / inf.
    """
    m, n = dist.shape
    rows = np.full((m, k), -1, dtype=np.int64)
    dists = np.full((m, k), np.inf, dtype=np.float32)
    kk = min(k, n)
    if kk == 0:
        return rows, dists
    if kk < n:
        part = np.argpartition(dist, kk - 1, axis=1)[:, :kk]
    else:
        part = np.tile(np.arange(n), (m, 1))
    pd = np.take_along_axis(dist, part, axis=1)
    order = np.lexsort((part, pd), axis=1)
    rows[:, :kk] = np.take_along_axis(part, order, axis=1)
    dists[:, :kk] = np.take_along_axis(pd, order, axis=1)
    return rows, dists


def exact_knn(
    space: str,
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    candidates: np.ndarray | None = None,
    vector_norms: np.ndarray | None = None,
    pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` rows of ``vectors`` (restricted to ``candidates`` if given) per query.
    ``pool``: the candidates' vectors, when the caller has read them already."""
    m = len(queries)
    if candidates is not None:
        pool = vectors[candidates] if pool is None else pool
        pool_norms = vector_norms[candidates] if vector_norms is not None else None
    else:
        pool, pool_norms = vectors, vector_norms
    n = len(pool)
    rows = np.full((m, k), -1, dtype=np.int64)
    dists = np.full((m, k), np.inf, dtype=np.float32)
    step = max(1, BLOCK_CELLS // max(n, 1))
    for s in range(0, m, step):
        r, d = top_k(distance_matrix(space, queries[s:s + step], pool, pool_norms), k)
        rows[s:s + step], dists[s:s + step] = r, d
    if candidates is not None:
        valid = rows >= 0
        rows[valid] = candidates[rows[valid]]
    return rows, dists
