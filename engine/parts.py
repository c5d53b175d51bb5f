"""The searchable parts of a collection: immutable segments and the in-memory log tail.

A collection is a list of parts. Every part is append-only: a record is never changed in
place. An update appends the new version to the active tail and marks the old row deleted;
a delete marks the row deleted. ``deleted_at`` holds, per row, the LSN of the operation that
killed it (0 = alive), so the state *as of* any checkpoint LSN can be persisted exactly.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from sedimentdb.engine.growable import GrowableArray
from sedimentdb.engine.segments import Segment
from sedimentdb.engine.segments.exact import exact_knn, norms
from sedimentdb.engine.segments.planner import (
    EXACT_MAX_ROWS,
    SELECTIVE_FRACTION,
    graph_knn,
    graph_search,
    overfetched,
)
from sedimentdb.engine.segments.sparse import SparsePostings
from sedimentdb.engine.segments.sparse_topk import sparse_top
from sedimentdb.engine.tailfilter import TailFilter
from sedimentdb.engine.tailgraph import GraphView, TailGraph

EMPTY_ROWS = np.zeros(0, dtype=np.int64)
# Below this many indexed rows a tail is scanned whole: as fast, and exact.
GRAPH_FROM_ROWS = 1024


class Part(Protocol):
    """What the read path needs of a part."""

    deleted_at: Any

    @property
    def count(self) -> int:
        """Number of rows, dead or alive."""

    def alive(self) -> np.ndarray:
        """Boolean mask of the rows that are alive now."""

    def kill(self, row: int, lsn: int) -> None:
        """Mark ``row`` deleted by the operation logged at ``lsn``."""

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

    def sparse_top(self, key: str, indices: list[int], values: list[float], k: int,
                   allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, dot products) of this part's top ``k`` ``allowed`` rows by sparse score ``1 - dot``
        under ``key``, ties with the last included (exact, float64; segments/sparse_topk.py)."""

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate rows (m, at least k when allowed) per query, -1 padded, in no set order,
        and their distances: hnswlib's for rows a segment's graph found, inf for the others,
        which the caller scores from the stored vectors (one distance function). Approximate
        for segments and indexed tail rows."""


class TailPart:
    """Records logged after the collection's checkpoint, held in memory.

    Its rows are indexed by a :class:`TailGraph` in the background (``hnsw``: the
    collection's M, construction ef and search ef; None: no graph, every search scans), so a
    query scans only the rows that arrived since the last indexing step.
    """

    def __init__(self, dim: int | None, space: str, hnsw: tuple[int, int, int] | None = None) -> None:
        self.space = space
        self.hnsw = hnsw
        self.graph: TailGraph | None = None
        self._filter = TailFilter()
        self._norms = GrowableArray(np.float32)
        self.ids: list[str] = []
        self.documents: list[str | None] = []
        self.metadatas: list[dict[str, Any] | None] = []
        self.uris: list[str | None] = []
        self._ordinals = GrowableArray(np.uint64)
        self._versions = GrowableArray(np.uint64)
        self.deleted_at = GrowableArray(np.uint64)
        self._vectors: GrowableArray | None = GrowableArray(np.float32, dim) if dim else None
        self.nbytes = 0
        # Inverted lists per sparse key, with the row count they cover (rows are append-only,
        # so lists over the first n rows stay right until a row is appended).
        self._sparse: dict[str, tuple[int, SparsePostings]] = {}
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
        versions: np.ndarray | None = None,
    ) -> int:
        """Append records (all logged at ``lsn``, unless ``versions`` gives each row's LSN, as
        when a fork copies another tail's rows); return the first new row."""
        assert not self.frozen, "a frozen tail is being compacted and takes no writes"
        if self._vectors is None:
            self._vectors = GrowableArray(np.float32, vectors.shape[1])
        if self.graph is None and self.hnsw is not None:
            self.graph = TailGraph(self.space, vectors.shape[1], *self.hnsw)
        if not self.min_lsn:
            self.min_lsn = lsn if versions is None or not len(versions) else int(versions.min())
        start = len(self.ids)
        self.ids.extend(ids)
        self.documents.extend(documents)
        self.metadatas.extend(metadatas)
        self.uris.extend(uris)
        self._ordinals.append(ordinals)
        self._versions.append(np.full(len(ids), lsn, dtype=np.uint64) if versions is None
                              else np.asarray(versions, dtype=np.uint64))
        self.deleted_at.append(np.zeros(len(ids), dtype=np.uint64))
        self._vectors.append(vectors)
        self._norms.append(norms(np.asarray(vectors, dtype=np.float32)))
        self.nbytes += vectors.nbytes + sum(map(len, filter(None, documents))) + 64 * len(ids)
        return start

    def reserve(self, rows: int, dim: int) -> None:
        """Make room for ``rows`` rows in all (of ``dim`` floats) before a run of appends, such
        as a replay: the columns then grow once instead of doubling (growable.py: reserve)."""
        if self._vectors is None:
            self._vectors = GrowableArray(np.float32, dim)
        for column in (self._vectors, self._norms, self._ordinals, self._versions, self.deleted_at):
            column.reserve(rows)

    def alive(self) -> np.ndarray:
        return self.deleted_at.view() == 0

    def kill(self, row: int, lsn: int) -> None:
        """Mark ``row`` deleted by the operation logged at ``lsn``."""
        self.deleted_at[row] = lsn

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
        if not where and not where_document:
            return np.ones(self.count, dtype=bool)
        return self._filter.match(self.metadatas, self.documents, self.count, where, where_document)

    def sparse_top(self, key: str, indices: list[int], values: list[float], k: int,
                   allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cached = self._sparse.get(key)
        if cached is None or cached[0] != self.count:
            cached = (self.count, SparsePostings.build(self.metadatas[:self.count], key))
            self._sparse[key] = cached
        return sparse_top(cached[1], indices, values, k, allowed)

    def unindexed(self) -> int:
        """Rows not yet in the graph (0 without a graph)."""
        return self.count - self.graph.indexed if self.graph is not None else 0

    def next_rows(self, limit: int) -> tuple[int, np.ndarray]:
        """(first row, copy of the vectors) of up to ``limit`` rows not yet in the graph
        (the caller holds the database lock, so no append moves the columns meanwhile)."""
        assert self.graph is not None and self._vectors is not None
        start = self.graph.indexed
        return start, np.array(self._vectors.view()[start:start + limit])

    def vectors(self) -> np.ndarray:
        """Every row's vector (a view)."""
        assert self._vectors is not None
        return self._vectors.view()

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        m = len(queries)
        if self._vectors is None or not allowed.any():
            return np.full((m, 0), -1, dtype=np.int64), np.zeros((m, 0), dtype=np.float32)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        # Every candidate comes back unscored (distance inf): the collection scores tail rows
        # from their stored vectors, so a tail row's distance does not depend on whether the
        # indexer has reached it (segments return hnswlib's distances for graph candidates).
        if self.graph is None or self.graph.indexed < GRAPH_FROM_ROWS:
            rows = self._scan(space, q, k, allowed, 0)[0]
            return rows, np.full(rows.shape, np.inf, dtype=np.float32)
        with self.graph.lock.read():  # the indexer adds no rows while this search runs
            view = GraphView(self.graph, self._vectors.view(), self._norms.view())
            head = allowed[:view.count]
            found = []
            if head.any():
                mask = None if bool(head.all()) else head
                found.append(graph_search(view, q, k, mask, view.search_ef, rerank=False)[0])
            # Rows logged since the last indexing step are scanned.
            if allowed[view.count:].any():
                found.append(self._scan(space, q, k, allowed, view.count)[0])
        rows = np.concatenate(found, axis=1) if found else np.full((m, 0), -1, dtype=np.int64)
        return rows, np.full(rows.shape, np.inf, dtype=np.float32)

    def _scan(self, space: str, q: np.ndarray, k: int, allowed: np.ndarray,
              start: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` among the allowed rows from ``start`` on (-1 padded)."""
        assert self._vectors is not None
        rest = allowed[start:]
        every = self._vectors.view()[start:]
        vnorms = self._norms.view()[start:]
        if bool(rest.all()):  # the common unfiltered case: no copy of the rows
            rows, dists = exact_knn(space, q, every, k, None, vnorms)
        else:
            rows, dists = exact_knn(space, q, every, k, np.flatnonzero(rest), vnorms)
        rows = np.where(rows >= 0, rows + start, -1)
        return rows, dists


class SegmentPart:
    """An immutable segment plus the rows deleted since it was written."""

    def __init__(self, segment: Segment, deleted_at: np.ndarray, marker: dict[str, Any] | None) -> None:
        self.segment = segment
        self.deleted_at = deleted_at
        self.marker = marker  # the delete-marker file the current manifest references, if any
        # alive() is asked by every query: kept (read-only) until kill() changes it, with
        # whether every row is alive (then a query passes no mask at all).
        self._alive: np.ndarray | None = None
        self._all_alive = False
        self._alive_count = 0

    @property
    def count(self) -> int:
        return self.segment.count

    def alive(self) -> np.ndarray:
        """Boolean mask of the live rows (read-only: callers combine it into new masks)."""
        if self._alive is None:
            mask = self.deleted_at == 0
            mask.setflags(write=False)
            self._alive_count = int(np.count_nonzero(mask))
            self._all_alive = self._alive_count == self.count
            self._alive = mask
        return self._alive

    def kill(self, row: int, lsn: int) -> None:
        """Mark ``row`` deleted by the operation logged at ``lsn``."""
        self.deleted_at[row] = lsn
        self._alive = None

    def graph_candidates(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Per query row (float32, contiguous), the live rows an unfiltered query of the graph
        finds, nearest first, with hnswlib's distances (unchecked: the caller checks them):
        the graph's nearest ``min(k, count)`` when every row is alive, else the live ones among
        an over-fetch (planner.overfetched, exactly what :meth:`search` does with the alive
        mask). None when that is not how :meth:`search` would answer (no graph, few live
        rows, a query short of live rows, hnswlib unable to answer): then :meth:`search` does.
        """
        seg = self.segment
        if seg.graph is None:
            return None
        alive = self.alive()
        if self._all_alive:
            found = graph_knn(seg, queries, k, seg.search_ef)
            return None if found is None else list(zip(found[0], found[1], strict=True))
        live = self._alive_count
        if live <= EXACT_MAX_ROWS or live < SELECTIVE_FRACTION * seg.count:
            return None  # the planner searches these exactly
        over = overfetched(seg, queries, min(k, live), alive, live, seg.search_ef)
        return None if any(c is None for c in over) else over  # type: ignore[return-value]

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

    def records_at(self, rows: np.ndarray, documents: bool, metadatas: bool,
                   uris: bool) -> tuple[list | None, list | None, list | None]:
        """Documents, metadata and uris of ``rows`` (each only if asked for, else None),
        decoded column by column: :meth:`record_at` for many rows at once."""
        s = self.segment
        return (s.documents_of(rows) if documents else None, s.metadatas_of(rows) if metadatas else None,
                s.uris_of(rows) if uris else None)

    def match(self, where: dict | None, where_document: dict | None) -> np.ndarray:
        if not where and not where_document:
            return np.ones(self.count, dtype=bool)
        return self.segment.match(where, where_document)

    def sparse_top(self, key: str, indices: list[int], values: list[float], k: int,
                   allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return sparse_top(self.segment.sparse(key), indices, values, k, allowed)

    def search(
        self, space: str, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        every = allowed is self._alive and self._all_alive
        allowed_arg = None if every or bool(allowed.all()) else allowed
        # Graph candidates keep hnswlib's distances; the collection scores the rest when it
        # merges the parts (CollectionState._merge_one). Scoring them here cost half a search.
        return self.segment.search(queries, k, allowed=allowed_arg, rerank=False)
