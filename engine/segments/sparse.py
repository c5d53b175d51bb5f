"""Inverted lists of sparse vectors, and exact dot products against a sparse query.

A sparse vector lives in a record's metadata under some key, in Chroma's wire form
``{"#type": "sparse_vector", "indices": [...], "values": [...]}``. :class:`SparsePostings` holds,
for one key, every row's vector turned around: per dimension (``dims``, ascending), the rows
that have it (``rows[starts[j]:starts[j+1]]``, ascending) and their values (float64, as the
JSON metadata holds them). The segment writer persists it (``sparse.idx``, FORMAT.md); the log
tail builds the same structure over its in-memory rows, so a record scores the same
bit for bit before and after compaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

SPARSE_TYPE = "sparse_vector"
TYPE_KEY = "#type"


def sparse_parts(value: Any) -> tuple[list[int], list[float]] | None:
    """(indices, values) of a well-formed sparse vector in wire form, else None.

    The API refuses malformed sparse vectors before they are logged; this guard only keeps a
    hand-written value from breaking an index build.
    """
    if not (isinstance(value, dict) and value.get(TYPE_KEY) == SPARSE_TYPE):
        return None
    indices, values = value.get("indices"), value.get("values")
    if not isinstance(indices, list) or not isinstance(values, list) or len(indices) != len(values):
        return None
    return indices, values


@dataclass(frozen=True)
class SparsePostings:
    """One key's inverted lists over ``n`` rows."""

    n: int
    dims: np.ndarray  # int64, strictly ascending
    starts: np.ndarray  # int64, len(dims) + 1, strictly ascending from 0 to len(rows)
    rows: np.ndarray  # int64, ascending within each list
    values: np.ndarray  # float64

    @classmethod
    def empty(cls, n: int) -> SparsePostings:
        """No row holds a vector under this key."""
        zero = np.zeros(0, dtype=np.int64)
        return cls(n, zero, np.zeros(1, dtype=np.int64), zero, np.zeros(0, dtype=np.float64))

    @classmethod
    def build(cls, metadatas: Sequence[dict[str, Any] | None], key: str) -> SparsePostings:
        """The postings of ``key`` over ``metadatas`` (row i = metadatas[i])."""
        dim_parts, row_parts, value_parts = [], [], []
        for row, meta in enumerate(metadatas):
            parts = sparse_parts(meta.get(key)) if meta else None
            if parts is None or not parts[0]:
                continue
            dim_parts.append(np.asarray(parts[0], dtype=np.int64))
            value_parts.append(np.asarray(parts[1], dtype=np.float64))
            row_parts.append(np.full(len(parts[0]), row, dtype=np.int64))
        if not dim_parts:
            return cls.empty(len(metadatas))
        dims_all = np.concatenate(dim_parts)
        rows_all = np.concatenate(row_parts)
        order = np.lexsort((rows_all, dims_all))  # by dimension, then row
        dims_sorted = dims_all[order]
        dims, first = np.unique(dims_sorted, return_index=True)
        starts = np.append(first, len(dims_sorted)).astype(np.int64)
        return cls(len(metadatas), dims, starts, rows_all[order], np.concatenate(value_parts)[order])

    def dots(self, indices: Sequence[int], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, dot products) of the rows sharing at least one dimension with the query.

        The query's dimensions are visited in ascending order and each product is added in
        float64, so the same record gives the same dot wherever its postings live.
        """
        acc = np.zeros(self.n, dtype=np.float64)
        touched = np.zeros(self.n, dtype=bool)
        for j, qv in self.lists_of(indices, values):
            lo, hi = int(self.starts[j]), int(self.starts[j + 1])
            rows = self.rows[lo:hi]  # unique within one list: plain fancy-index add is exact
            acc[rows] += qv * self.values[lo:hi]
            touched[rows] = True
        rows = np.flatnonzero(touched)
        return rows, acc[rows]

    def lists_of(self, indices: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
        """(list number, query value) of each query dimension that has a list, in ascending
        dimension order: the order every dot product adds its terms in."""
        if not len(indices) or not len(self.dims):
            return []
        q_dims = np.asarray(indices, dtype=np.int64)
        q_vals = np.asarray(values, dtype=np.float64)
        order = np.argsort(q_dims, kind="stable")
        q_dims, q_vals = q_dims[order], q_vals[order]
        at = np.searchsorted(self.dims, q_dims)
        hit = at < len(self.dims)
        hit[hit] = self.dims[at[hit]] == q_dims[hit]
        return list(zip(at[hit].tolist(), q_vals[hit].tolist(), strict=True))

    @cached_property
    def list_max(self) -> np.ndarray:
        """The largest value of each list (float64, one per dimension): pruning bounds."""
        return np.maximum.reduceat(self.values, self.starts[:-1]) if len(self.dims) else np.zeros(0)

    @cached_property
    def list_min(self) -> np.ndarray:
        """The smallest value of each list (float64, one per dimension): bounds of negative weights."""
        return np.minimum.reduceat(self.values, self.starts[:-1]) if len(self.dims) else np.zeros(0)

    def nnz(self) -> int:
        """Stored (row, dimension) pairs."""
        return len(self.rows)


def sparse_keys(metadatas: Sequence[dict[str, Any] | None]) -> list[str]:
    """Every metadata key that holds a sparse vector in at least one row, in first-seen order."""
    found: dict[str, None] = {}
    for meta in metadatas:
        for key, value in (meta or {}).items():
            if key not in found and sparse_parts(value) is not None:
                found[key] = None
    return list(found)
