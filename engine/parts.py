"""The searchable parts of a collection: immutable segments and the in-memory log tail.

A collection is a list of parts. Every part is append-only: a record is never changed in
place. An update appends the new version to the active tail and marks the old row deleted;
a delete marks the row deleted. ``deleted_at`` holds, per row, the LSN of the operation that
killed it (0 = alive), so the state *as of* any checkpoint LSN can be persisted exactly.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from sedimentdb.engine.distance import distances
from sedimentdb.engine.filters import compile_where, compile_where_document
from sedimentdb.engine.growable import GrowableArray
from sedimentdb.engine.segments import Segment

EMPTY_ROWS = np.zeros(0, dtype=np.int64)


class Part(Protocol):
    """What the read path needs of a part."""

    deleted_at: Any

    @property
    def count(self) -> int:
        """Number of rows, dead or alive."""

    def alive(self) -> np.ndarray:
        """Boolean mask of the rows that are alive now."""

    def id_at(self, row: int) -> str:
        """The id stored at ``row``."""

    def ordinals_at(self, rows: np.ndarray) -> np.ndarray:
        """Insertion-order keys of ``rows``."""

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of ``rows``."""

    def record_at(self, row: int) -> tuple[str | None, dict[str, Any] | None, str | None]:
        """(document, metadata, uri) of ``row``."""

    def stored_record_at(self, row: int) -> tuple[str | None, dict[str, Any] | str | None, str | None]:
        """:meth:`record_at` with the metadata as stored (a segment's JSON text), for copying."""

    def match(self, where: dict | None, where_document: dict | None) -> np.ndarray:
        """Boolean mask of rows whose metadata/document satisfy the filters."""

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate rows (m, at least k when allowed) per query, -1 padded, in no set order;
        approximate for segments. The caller scores them exactly (one distance function)."""


class TailPart:
    """Records logged after the collection's checkpoint, held in memory and searched exactly."""

    def __init__(self, dim: int | None, space: str) -> None:
        self.space = space
        self.ids: list[str] = []
        self.documents: list[str | None] = []
        self.metadatas: list[dict[str, Any] | None] = []
        self.uris: list[str | None] = []
        self._ordinals = GrowableArray(np.uint64)
        self._versions = GrowableArray(np.uint64)
        self.deleted_at = GrowableArray(np.uint64)
        self._vectors: GrowableArray | None = GrowableArray(np.float32, dim) if dim else None
        self.nbytes = 0
        self.frozen = False
        self.min_lsn = 0

    @property
    def count(self) -> int:
        return len(self.ids)

    def append(
        self,
        ids: list[str],
        ordinals: np.ndarray,
        lsn: int,
        vectors: np.ndarray,
        documents: list[str | None],
        metadatas: list[dict[str, Any] | None],
        uris: list[str | None],
    ) -> int:
        """Append records (all logged at ``lsn``); return the first new row."""
        assert not self.frozen, "a frozen tail is being compacted and takes no writes"
        if self._vectors is None:
            self._vectors = GrowableArray(np.float32, vectors.shape[1])
        if not self.min_lsn:
            self.min_lsn = lsn
        start = len(self.ids)
        self.ids.extend(ids)
        self.documents.extend(documents)
        self.metadatas.extend(metadatas)
        self.uris.extend(uris)
        self._ordinals.append(ordinals)
        self._versions.append(np.full(len(ids), lsn, dtype=np.uint64))
        self.deleted_at.append(np.zeros(len(ids), dtype=np.uint64))
        self._vectors.append(vectors)
        self.nbytes += vectors.nbytes + sum(len(d) for d in documents if d) + 64 * len(ids)
        return start

    def alive(self) -> np.ndarray:
        return self.deleted_at.view() == 0

    def live_count(self) -> int:
        """Rows alive now."""
        return int(np.count_nonzero(self.alive()))

    def id_at(self, row: int) -> str:
        return self.ids[row]

    def ordinals_at(self, rows: np.ndarray) -> np.ndarray:
        return self._ordinals.view()[rows]

    def versions_at(self, rows: np.ndarray) -> np.ndarray:
        """LSN of the write that stored each of ``rows``."""
        return self._versions.view()[rows]

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        assert self._vectors is not None
        return self._vectors.view()[rows]

    def record_at(self, row: int) -> tuple[str | None, dict[str, Any] | None, str | None]:
        return self.documents[row], self.metadatas[row], self.uris[row]

    def stored_record_at(self, row: int) -> tuple[str | None, dict[str, Any] | str | None, str | None]:
        return self.record_at(row)

    def match(self, where: dict | None, where_document: dict | None) -> np.ndarray:
        mask = np.ones(self.count, dtype=bool)
        if where:
            pred = compile_where(where)
            mask &= np.fromiter((pred(m) for m in self.metadatas), dtype=bool, count=self.count)
        if where_document:
            dpred = compile_where_document(where_document)
            mask &= np.fromiter((dpred(d) for d in self.documents), dtype=bool, count=self.count)
        return mask

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero(allowed)
        m = len(queries)
        if rows.size == 0 or self._vectors is None:
            return np.full((m, 0), -1, dtype=np.int64), np.zeros((m, 0), dtype=np.float32)
        every = self._vectors.view()
        # All rows allowed (the common unfiltered case): no copy of the whole tail per query.
        d = distances(space, queries, every if rows.size == len(every) else every[rows])
        kk = min(k, rows.size)
        idx = np.argpartition(d, kk - 1, axis=1)[:, :kk] if kk < rows.size else np.tile(
            np.arange(rows.size), (m, 1)
        )
        return rows[idx], np.take_along_axis(d, idx, axis=1)


class SegmentPart:
    """An immutable segment plus the rows deleted since it was written."""

    def __init__(self, segment: Segment, deleted_at: np.ndarray, marker: dict[str, Any] | None) -> None:
        self.segment = segment
        self.deleted_at = deleted_at
        self.marker = marker  # the delete-marker file the current manifest references, if any

    @property
    def count(self) -> int:
        return self.segment.count

    def alive(self) -> np.ndarray:
        return self.deleted_at == 0

    def id_at(self, row: int) -> str:
        return self.segment.ids[row]

    def ordinals_at(self, rows: np.ndarray) -> np.ndarray:
        return self.segment.ordinals[rows]

    def versions_at(self, rows: np.ndarray) -> np.ndarray:
        """LSN of the write that stored each of ``rows``."""
        return self.segment.versions[rows]

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        return self.segment.rows(rows)

    def record_at(self, row: int) -> tuple[str | None, dict[str, Any] | None, str | None]:
        s = self.segment
        return s.document(row), s.metadata(row), s.uri(row)

    def stored_record_at(self, row: int) -> tuple[str | None, dict[str, Any] | str | None, str | None]:
        s = self.segment
        return s.document(row), s.metadata_text(row), s.uri(row)

    def match(self, where: dict | None, where_document: dict | None) -> np.ndarray:
        if not where and not where_document:
            return np.ones(self.count, dtype=bool)
        return self.segment.match(where, where_document)

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed_arg = None if bool(allowed.all()) else allowed
        # The collection scores every part's candidates exactly when it merges them
        # (CollectionState._merge_one); scoring them here as well cost half of a search.
        return self.segment.search(queries, k, allowed=allowed_arg, rerank=False)
