"""Columnwise ``where`` / ``where_document`` evaluation over the log tail.

Tail rows never change (an update appends a new row), so the tail is cut into blocks of
``BLOCK`` rows and each full block gets the same vectorised filter index a segment has
(``segments/filterindex.py``), built on its first filtered read and then kept. Only the
rows of the last, partial block are tested one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sedimentdb.engine.filters import compile_where, compile_where_document
from sedimentdb.engine.segments.filterindex import FilterIndex

BLOCK = 2048


class TailFilter:
    """Filter indexes of a tail's full blocks of rows."""

    def __init__(self) -> None:
        self._blocks: list[FilterIndex] = []

    def match(self, metadatas: list[dict[str, Any] | None], documents: list[str | None], count: int,
              where: dict | None, where_document: dict | None) -> np.ndarray:
        """Boolean mask over rows ``0 .. count-1`` (the caller holds the database lock)."""
        # Compiled first so a malformed filter fails as it always did, whatever the blocks.
        if where:
            compile_where(where)
        if where_document:
            compile_where_document(where_document)
        full = count // BLOCK
        while len(self._blocks) < full:
            lo = len(self._blocks) * BLOCK
            block_docs = _Slice(documents, lo, lo + BLOCK)
            self._blocks.append(FilterIndex.build(metadatas[lo:lo + BLOCK], block_docs))
        masks = [b.match(where or None, where_document or None) for b in self._blocks[:full]]
        masks.append(_match_rows(metadatas, documents, full * BLOCK, count, where, where_document))
        return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


class _Slice:
    """The documents of one block, taken from the tail's list when first needed."""

    def __init__(self, documents: list[str | None], lo: int, hi: int) -> None:
        self._documents, self._lo, self._hi = documents, lo, hi
        self._kept: list[str | None] | None = None

    def __call__(self) -> list[str | None]:
        if self._kept is None:
            self._kept = self._documents[self._lo:self._hi]
        return self._kept


def _match_rows(metadatas: list[dict[str, Any] | None], documents: list[str | None], lo: int, hi: int,
                where: dict | None, where_document: dict | None) -> np.ndarray:
    """Rows ``lo .. hi-1`` tested one by one with the reference predicates."""
    mask = np.ones(hi - lo, dtype=bool)
    if where:
        pred = compile_where(where)
        mask &= np.fromiter((pred(m) for m in metadatas[lo:hi]), dtype=bool, count=hi - lo)
    if where_document:
        dpred = compile_where_document(where_document)
        mask &= np.fromiter((dpred(d) for d in documents[lo:hi]), dtype=bool, count=hi - lo)
    return mask
