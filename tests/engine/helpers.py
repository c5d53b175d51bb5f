"""Shared helpers for engine tests: a brute-force model of one collection."""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.engine.distance import pair_distances


class Model:
    """What a collection must contain: id -> (vector, document, metadata), plus insertion order."""

    def __init__(self, space: str = "l2") -> None:
        self.space = space
        self.rows: dict[str, tuple[np.ndarray, Any, Any]] = {}

    def add(self, ids: list[str], vecs: np.ndarray, docs: list | None = None, metas: list | None = None) -> None:
        for i, id_ in enumerate(ids):
            if id_ not in self.rows:
                self.rows[id_] = (vecs[i].copy(), docs[i] if docs else None, metas[i] if metas else None)

    def update(self, ids: list[str], vecs: np.ndarray | None = None, docs: list | None = None,
               metas: list | None = None) -> None:
        for i, id_ in enumerate(ids):
            if id_ not in self.rows:
                continue
            v, d, m = self.rows[id_]
            if vecs is not None:
                v = vecs[i].copy()
            if docs is not None and docs[i] is not None:
                d = docs[i]
            if metas is not None and metas[i] is not None:
                merged = dict(m or {})
                for k, val in metas[i].items():
                    if val is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = val
                m = merged or None
            self.rows[id_] = (v, d, m)

    def delete(self, ids: list[str]) -> None:
        for id_ in ids:
            self.rows.pop(id_, None)

    def knn(self, q: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        ids = [i for i in self.rows if allowed is None or i in allowed]
        if not ids:
            return []
        d = pair_distances(self.space, q, np.stack([self.rows[i][0] for i in ids]))
        order = np.argsort(d, kind="stable")[:k]
        return [(ids[j], float(d[j])) for j in order]


def clustered(n: int, dim: int, seed: int = 0, clusters: int = 16) -> np.ndarray:
    """Clustered float32 vectors, like real embeddings."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    return (centers[labels] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)
