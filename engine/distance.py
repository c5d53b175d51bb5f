"""Distance functions, exactly as Chroma returns them.

``l2`` is the squared Euclidean distance, ``ip`` is ``1 - dot``, ``cosine`` is
``1 - cosine similarity``. A query returns these numbers, computed from the raw float32 vectors,
for every record it did not find through a segment's HNSW graph (log tail rows, exact searches
of selective filters, segments without a graph); a record a segment's graph found gets the
distance hnswlib computed for it, as Chroma returns. The two agree to float32 rounding (about
1e-7 relative); a log tail row is always scored here, so its distance does not depend on how
far the tail indexer has got.
"""

from __future__ import annotations

import numpy as np

SPACES = ("l2", "ip", "cosine")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True).astype(np.float32)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


def distances(space: str, queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """All pairwise distances, shape (len(queries), len(vectors)), float32."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if space == "l2":
        qq = np.einsum("ij,ij->i", q, q)[:, None]
        vv = np.einsum("ij,ij->i", v, v)[None, :]
        d = qq + vv - 2.0 * (q @ v.T)
        return np.maximum(d, 0.0).astype(np.float32, copy=False)
    if space == "ip":
        return (1.0 - q @ v.T).astype(np.float32, copy=False)
    if space == "cosine":
        return (1.0 - normalize(q) @ normalize(v).T).astype(np.float32, copy=False)
    raise ValueError(f"unknown distance space {space!r}; expected one of {', '.join(SPACES)}")


def pair_distances(space: str, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Distances from one query to each row of ``vectors``, float32, shape (len(vectors),).

    Used to score the final candidates: l2 is computed from differences, not from the
    ``|q|^2 + |v|^2 - 2 q.v`` expansion, so a record's distance to itself is exactly 0.
    """
    q = np.asarray(query, dtype=np.float32).reshape(1, -1)
    v = np.asarray(vectors, dtype=np.float32)
    if space == "l2":
        diff = v - q
        return np.einsum("ij,ij->i", diff, diff).astype(np.float32, copy=False)
    if space == "cosine":
        # normalize() both sides, fused: one product with the raw rows, then each divided by
        # its norm (zero rows and a zero query count as norm 1, as normalize() does). This is
        # what every query's final candidates are scored with, so it is kept lean.
        qn = np.float32(np.sqrt(np.dot(q[0], q[0])))
        vn = np.sqrt(np.einsum("ij,ij->i", v, v))
        vn[vn == 0] = 1
        return (1.0 - (v @ q[0]) / (vn * (qn if qn else np.float32(1)))).astype(np.float32, copy=False)
    return distances(space, q, v)[0]
