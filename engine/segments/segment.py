"""An open, immutable segment: verified files, row accessors, search and filtering."""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.fileio import FileSystem, crc32c_of, map_or_read, release_pages
from sedimentdb.engine.logkeys import get_logger
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bodies import (
    decode_all_metadata,
    decode_metadata,
    decode_rows,
    decode_vectors,
)
from sedimentdb.engine.segments.descriptor import SegmentDescriptor
from sedimentdb.engine.segments.exact import exact_knn, norms
from sedimentdb.engine.segments.filterindex import FilterIndex
from sedimentdb.engine.segments.filterstore import decode_filter_index
from sedimentdb.engine.segments.framing import Identity, decode_file_versioned
from sedimentdb.engine.segments.graph import load_graph
from sedimentdb.engine.segments.planner import graph_search
from sedimentdb.engine.segments.sparse import SparsePostings, sparse_keys
from sedimentdb.engine.segments.sparsestore import decode_sparse_index
from sedimentdb.engine.segments.strings import StringColumn
from sedimentdb.engine.storage_errors import CorruptionError, StorageIOError

log = get_logger("sedimentdb.segments")


class Segment:
    """A segment opened read-only; every accessor is safe to call from several threads."""

    def __init__(self, descriptor: SegmentDescriptor, path: str) -> None:
        self.descriptor = descriptor
        self.path = path
        self.count = descriptor.count
        self.dim = descriptor.dim
        self.space = descriptor.space
        self.search_ef = int(descriptor.hnsw.get("search_ef", 100))
        self.ids: list[str] = []
        self.ordinals = np.zeros(0, dtype=np.uint64)
        self.versions = np.zeros(0, dtype=np.uint64)
        self.vectors = np.zeros((0, self.dim), dtype=np.float32)
        self.graph: Any = None
        self._row_of: dict[str, int] | None = None  # built on first use: opening stays cheap
        self._documents: StringColumn | None = None
        self._metadata: StringColumn | None = None
        self._uris: StringColumn | None = None
        self._lazy_lock = threading.Lock()
        self._filter_index: FilterIndex | None = None
        self._sparse: dict[str, SparsePostings] | None = None  # None: no sparse.idx, built on first use
        self._all_documents = _DocumentsOnce(None)
        self._norms: np.ndarray | None = None
        self._vector_file: object = b""  # the mapping vectors.f32 is read through
        self._vector_reader: Any = None  # the same file for pread (None: read the mapping)
        self._vector_offset = 0  # where the rows start in vectors.f32

    @classmethod
    def open(cls, fs: FileSystem, directory: str, descriptor: SegmentDescriptor, *, verify: bool = True,
             graph: Any = None) -> Segment:
        """Open ``<directory>/<segment_id>/`` as described by ``descriptor``.

        Every file's size (and, with ``verify``, its crc32c) is checked against the
        descriptor, and every file's own header and checksums are checked, before any byte
        reaches hnswlib. Raises CorruptionError naming the first damaged file. ``graph`` is
        the hnswlib index the segment was just written from (the compactor's): its file is
        still checked, but not loaded a second time.

        The vectors are read through a read-only mapping of ``vectors.f32``: after the
        checks and the graph load its pages are dropped from the process, so the vectors
        cost no memory beyond hnswlib's copy and the rows a read touches.
        """
        seg = cls(descriptor, os.path.join(directory, descriptor.segment_id))
        ident = Identity(descriptor.segment_id, descriptor.collection_id, descriptor.count, descriptor.dim,
                         descriptor.min_lsn, descriptor.max_lsn)
        for name in F.REQUIRED_FILES:
            if name not in descriptor.files:
                raise CorruptionError(f"descriptor lists no {name}", path=os.path.join(seg.path, name),
                                      hint="the manifest entry for this segment is damaged")
        versioned = {name: seg._read(fs, name, ident, verify) for name in descriptor.files}
        bodies = {name: body for name, (_version, body) in versioned.items()}
        try:
            seg._fill_from(descriptor, versioned, bodies, graph)
        finally:
            release_pages(seg._vector_file)
        log.debug("segment opened", **{K.SEGMENT: descriptor.segment_id, K.RECORDS: seg.count})
        return seg

    def _fill_from(self, descriptor: SegmentDescriptor, versioned: dict[str, tuple[int, memoryview]],
                   bodies: dict[str, memoryview], graph: Any) -> None:
        self.vectors = decode_vectors(self._file(F.FILE_VECTORS), bodies[F.FILE_VECTORS], self.count, self.dim)
        self.ids, self.ordinals, self.versions = decode_rows(self._file(F.FILE_ROWS), bodies[F.FILE_ROWS], self.count)
        if len(set(self.ids)) != self.count:
            raise CorruptionError("rows file holds duplicate ids", path=self._file(F.FILE_ROWS))
        self._documents = StringColumn(self._file(F.FILE_DOCUMENTS), bodies[F.FILE_DOCUMENTS], self.count)
        self._all_documents = _DocumentsOnce(self._documents)
        self._metadata = StringColumn(self._file(F.FILE_METADATA), bodies[F.FILE_METADATA], self.count)
        self._uris = StringColumn(self._file(F.FILE_URIS), bodies[F.FILE_URIS], self.count)
        if F.FILE_FILTER in bodies:
            self._filter_index = decode_filter_index(self._file(F.FILE_FILTER), bodies[F.FILE_FILTER], self.count,
                                                    self._all_documents)
        if F.FILE_SPARSE in bodies:
            body = bodies[F.FILE_SPARSE]  # the body ends where the trailer starts: its file offset, for errors
            self._sparse = decode_sparse_index(
                self._file(F.FILE_SPARSE), body, self.count, versions=self.versions,
                body_at=descriptor.files[F.FILE_SPARSE]["size"] - F.TRAILER.size - len(body))
        if F.FILE_GRAPH in bodies:
            self.graph = graph if graph is not None else load_graph(
                self._file(F.FILE_GRAPH), bodies[F.FILE_GRAPH], self.count, self.dim, self.space,
                version=versioned[F.FILE_GRAPH][0], vectors=self.vectors)
            self.graph.set_ef(self.search_ef)

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _read(self, fs: FileSystem, name: str, ident: Identity, verify: bool) -> tuple[int, memoryview]:
        path = self._file(name)
        expected = self.descriptor.files[name]
        kind = F.KIND_OF_FILE.get(name)
        if kind is None:
            raise CorruptionError(f"descriptor lists an unknown file {name!r}", path=path)
        try:
            data = map_or_read(fs, path) if name == F.FILE_VECTORS else fs.read_bytes(path)
        except StorageIOError as exc:
            raise CorruptionError(f"segment file cannot be read: {exc.message}", path=path,
                                  hint="the file is missing or unreadable; restore the segment or rebuild it") from None
        if len(data) != expected["size"]:
            raise CorruptionError(f"file is {len(data)} bytes, the manifest says {expected['size']}", path=path,
                                  offset=min(len(data), expected["size"]),
                                  hint="the file was truncated, extended or replaced; rebuild the segment")
        if name == F.FILE_VECTORS:
            self._vector_file = data
            self._vector_offset = len(data) - F.TRAILER.size - 4 * self.count * self.dim
            if isinstance(data, mmap.mmap):
                self._vector_reader = fs.open_read(path)
        whole = verify or kind == F.KIND_GRAPH
        if whole and crc32c_of(data) != expected["crc32c"]:
            raise CorruptionError("file checksum does not match the manifest", path=path, offset=0,
                                  hint="the file is damaged; rebuild the segment from the log or a backup")
        return decode_file_versioned(path, data, kind, ident, body_checked=whole)  # type: ignore[arg-type]

    # -- rows -----------------------------------------------------------------------------

    def row_of(self, id_: str) -> int | None:
        """The row holding ``id_``, or None."""
        if self._row_of is None:
            self._row_of = {id_: row for row, id_ in enumerate(self.ids)}
        return self._row_of.get(id_)

    def document(self, row: int) -> str | None:
        """The document of ``row``."""
        assert self._documents is not None
        return self._documents.get(row)

    def metadata(self, row: int) -> dict[str, Any] | None:
        """The metadata of ``row`` (a fresh dict the caller may keep)."""
        assert self._metadata is not None
        return decode_metadata(self._metadata.path, self._metadata.get(row))

    def metadata_text(self, row: int) -> str | None:
        """The stored JSON text of ``row``'s metadata (None when it has none)."""
        assert self._metadata is not None
        return self._metadata.get(row)

    def all_metadata_texts(self) -> list[str | None]:
        """Every row's stored metadata JSON text (None when it has none), not decoded."""
        assert self._metadata is not None
        return self._metadata.all()

    def all_uris(self) -> list[str | None]:
        """Every row's URI."""
        assert self._uris is not None
        return self._uris.all()

    def uri(self, row: int) -> str | None:
        """The URI of ``row``."""
        assert self._uris is not None
        return self._uris.get(row)

    def documents(self, rows: Sequence[int] | np.ndarray) -> list[str | None]:
        """Documents of ``rows``, in order."""
        return [self.document(int(r)) for r in rows]

    def metadatas(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any] | None]:
        """Metadata of ``rows``, in order."""
        return [self.metadata(int(r)) for r in rows]

    def uris(self, rows: Sequence[int] | np.ndarray) -> list[str | None]:
        """URIs of ``rows``, in order."""
        return [self.uri(int(r)) for r in rows]

    def documents_of(self, rows: np.ndarray) -> list[str | None]:
        """Documents of ``rows`` (an int array); every row at once is decoded as one column."""
        assert self._documents is not None
        if len(rows) == self.count:
            return _pick(self._all_documents(), rows)
        return self._documents.take(rows)

    def metadatas_of(self, rows: np.ndarray) -> list[dict[str, Any] | None]:
        """Metadata of ``rows`` (fresh dicts), parsed as one JSON text."""
        assert self._metadata is not None
        column = self._metadata
        texts = _pick(column.all(), rows) if len(rows) == self.count else column.take(rows)
        return decode_all_metadata(column.path, texts)

    def uris_of(self, rows: np.ndarray) -> list[str | None]:
        """URIs of ``rows``; every row at once is decoded as one column."""
        assert self._uris is not None
        if len(rows) == self.count:
            return _pick(self._uris.all(), rows)
        return self._uris.take(rows)

    # -- filtering -------------------------------------------------------------------------

    def all_documents(self) -> list[str | None]:
        """Every row's document, decoded once and then kept."""
        return self._all_documents()

    def filter_index(self) -> FilterIndex:
        """The segment's vectorised filter index: loaded from filter.idx at open, or (for a
        segment without one) built from metadata.col on first use and then kept."""
        if self._filter_index is None:
            with self._lazy_lock:
                if self._filter_index is None:
                    assert self._metadata is not None
                    metas = decode_all_metadata(self._metadata.path, self._metadata.all())
                    self._filter_index = FilterIndex.build(metas, self._all_documents)
        return self._filter_index

    def sparse(self, key: str) -> SparsePostings:
        """The inverted lists of the sparse vectors under metadata ``key``: from sparse.idx, or
        (a segment written without one, by a build older than the sparse index) built from
        metadata.col on first use and then kept."""
        if self._sparse is None:
            with self._lazy_lock:
                if self._sparse is None:
                    assert self._metadata is not None
                    metas = decode_all_metadata(self._metadata.path, self._metadata.all())
                    self._sparse = {k: SparsePostings.build(metas, k) for k in sparse_keys(metas)}
        found = self._sparse.get(key)
        return found if found is not None else SparsePostings.empty(self.count)

    def match(self, where: dict[str, Any] | None, where_document: dict[str, Any] | None) -> np.ndarray:
        """Boolean mask over all rows: metadata matches ``where`` and document ``where_document``."""
        if not where and not where_document:
            return np.ones(self.count, dtype=bool)
        return self.filter_index().match(where or None, where_document or None)

    # -- search ----------------------------------------------------------------------------

    def row_norms(self) -> np.ndarray:
        """Euclidean norms of the stored vectors (cached)."""
        if self._norms is None:
            self._norms = norms(self.vectors)
            self.release_pages()
        return self._norms

    def rows(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """The vectors of ``rows`` (a new float32 array). A few rows are read with pread: a
        touch of the mapping would map the kernel's fault-around window (64 KiB) around each
        one, and after a few hundred queries the whole file would be resident. Many rows go
        through the mapping, whose pages are dropped again afterwards."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if self._vector_reader is None or len(idx) > PREAD_ROWS:
            out = np.array(self.vectors[idx], dtype=np.float32)
            if len(idx) > PREAD_ROWS:
                self.release_pages()
            return out
        if idx.size and (int(idx.min()) < -self.count or int(idx.max()) >= self.count):
            raise IndexError(f"row out of range for a segment of {self.count} rows")
        size = 4 * self.dim
        out = np.empty((len(idx), self.dim), dtype="<f4")
        fd = self._vector_reader.fileno()
        for i, row in enumerate((idx % max(self.count, 1)).tolist()):
            if os.preadv(fd, [memoryview(out[i]).cast("B")], self._vector_offset + row * size) != size:
                raise CorruptionError("vectors file is shorter than its rows", path=self._file(F.FILE_VECTORS))
        return out.astype(np.float32, copy=False)

    def release_pages(self) -> None:
        """Drop the mapped vector pages a bulk read (norms, a merge) made resident."""
        release_pages(self._vector_file)

    def exact_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` rows per query among ``allowed`` rows (all if None), -1/inf padded."""
        q = _queries(queries, self.dim)
        if allowed is None:
            found = exact_knn(self.space, q, self.vectors, k, None, self.row_norms())
            self.release_pages()  # a scan of every row
            return found
        candidates = np.flatnonzero(_mask(allowed, self.count))
        return exact_knn(self.space, q, self.vectors, k, candidates, self.row_norms(), pool=self.rows(candidates))

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None, ef: int | None = None,
        rerank: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-``k`` rows per query among ``allowed`` rows, nearest first.

        Returns (rows int64 (m, k), distances float32 (m, k)), padded with -1 / inf when
        fewer rows are allowed. Segments without a graph, and selective masks, are searched
        exactly; broad masks over-fetch and post-filter, or filter inside the graph walk (see
        planner.py). ``ef`` widens the graph search; values below the segment's ``search_ef``
        have no effect. Safe to call from several threads at once.

        ``rerank=False``: a graph search returns its allowed candidates as they are (at least
        ``k`` of them when the mask allows that many, unordered, -1 padded), each with the
        distance hnswlib computed for it, which is what Chroma returns; rows found by exact
        search come with distance inf. For a caller that merges the candidates of several
        parts and scores the inf ones itself from the stored vectors (engine/distance.py).
        """
        q = _queries(queries, self.dim)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        mask = None if allowed is None else _mask(allowed, self.count)
        if self.graph is None:
            rows, dists = self.exact_search(q, k, mask)
            return (rows, dists) if rerank else (rows, np.full(rows.shape, np.inf, dtype=np.float32))
        return graph_search(self, q, k, mask, ef or self.search_ef, rerank=rerank)


# Up to this many rows are read with pread rather than through the mapping (see Segment.rows).
PREAD_ROWS = 512


class _DocumentsOnce:
    """Decodes a documents column on first call and keeps the list. The filter index holds
    this, not a bound method of the segment: a reference cycle would keep a retired segment
    (and its hnswlib graph) alive until Python's cyclic collector happens to run."""

    def __init__(self, column: StringColumn | None) -> None:
        self._column = column
        self._docs: list[str | None] | None = None

    def __call__(self) -> list[str | None]:
        if self._docs is None:
            assert self._column is not None
            self._docs = self._column.all()
        return self._docs


def _pick(values: list, rows: np.ndarray) -> list:
    """``[values[r] for r in rows]`` as a new list (a plain copy when ``rows`` is every row in order)."""
    if len(rows) == len(values) and (len(rows) == 0 or (rows[0] == 0 and bool((np.diff(rows) == 1).all()))):
        return list(values)
    return [values[r] for r in rows.tolist()]


def _queries(queries: np.ndarray, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"queries must have shape (m, {dim}), got {np.shape(queries)}")
    return q


def _mask(allowed: np.ndarray, count: int) -> np.ndarray:
    mask = np.asarray(allowed, dtype=bool)
    if mask.shape != (count,):
        raise ValueError(f"allowed must be a boolean mask of shape ({count},), got {mask.shape}")
    return mask
