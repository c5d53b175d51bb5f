"""Writing a segment: encode every file, make it durable, install the directory atomically.

Protocol (storage-anchors §6(b)): write ``<dir>/<id>.tmp/<file>`` for every file, fsync each,
fsync the tmp directory, rename it to ``<dir>/<id>/``, fsync ``<dir>``. Only the returned
descriptor, published in a manifest, makes the segment part of the database.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import crc32c
import hnswlib
import numpy as np

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.fileio import FileSystem, OsFileSystem, map_or_read, release_pages
from sedimentdb.engine.logkeys import get_logger
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bodies import (
    decode_all_metadata,
    encode_metadatas,
    encode_rows,
    encode_vectors,
    metadata_texts,
)
from sedimentdb.engine.segments.descriptor import HnswParams, SegmentData, SegmentDescriptor
from sedimentdb.engine.segments.filterindex import FilterIndex
from sedimentdb.engine.segments.filterstore import encode_filter_index
from sedimentdb.engine.segments.framing import Identity, encode_file_parts
from sedimentdb.engine.segments.graph import build_graph, build_seeded_graph, encode_graph, seed_mapping
from sedimentdb.engine.segments.graph_native import encode_graph_via_file
from sedimentdb.engine.segments.sparse import SparsePostings, sparse_keys
from sedimentdb.engine.segments.sparsestore import encode_sparse_index
from sedimentdb.engine.segments.strings import encode_strings
from sedimentdb.engine.storage_errors import InvalidArgumentError

if TYPE_CHECKING:
    from sedimentdb.engine.segments.segment import Segment

log = get_logger("sedimentdb.segments")

# Below this many rows a segment gets no graph: exact search is as fast and exact.
FLAT_BELOW = 1024
# Files written in a format version other than FORMAT_VERSION: the graph without its copy of
# the vectors (refilled from vectors.f32 on open).
WRITE_VERSION = {F.FILE_GRAPH: F.FORMAT_VERSION_GRAPH_STRIPPED}
# hnswlib's own index file, written into the segment's temp directory and removed before it
# is renamed into place (see graph_native.py).
GRAPH_SCRATCH = "graph.hnswlib-scratch"


def write_segment(
    fs: FileSystem,
    directory: str,
    segment_id: str,
    collection_id: str,
    data: SegmentData,
    *,
    space: str,
    hnsw: HnswParams,
    min_lsn: int,
    max_lsn: int,
    seed: Segment | None = None,
    build_graph_index: bool | None = None,
    build_filter_index: bool = True,
) -> SegmentDescriptor:
    """Write ``data`` as segment ``segment_id`` under ``directory``; return its descriptor.

    ``build_graph_index`` forces (True) or suppresses (False) the HNSW graph; by default a
    graph is built from ``FLAT_BELOW`` rows up. ``build_filter_index=False`` leaves out
    ``filter.idx`` and ``sparse.idx`` (optional: an open segment builds them from the metadata
    on first use); a bulk ingest defers them and the graph to the compactor. ``seed`` (an open Segment, typically the
    largest input of a merge) lets the graph start from the seed's graph when every seed
    record is in ``data`` unchanged; otherwise it is ignored and the graph built from scratch.
    """
    return write_segment_keeping_graph(fs, directory, segment_id, collection_id, data, space=space, hnsw=hnsw,
                                       min_lsn=min_lsn, max_lsn=max_lsn, seed=seed,
                                       build_graph_index=build_graph_index,
                                       build_filter_index=build_filter_index)[0]


def write_segment_keeping_graph(
    fs: FileSystem,
    directory: str,
    segment_id: str,
    collection_id: str,
    data: SegmentData,
    *,
    space: str,
    hnsw: HnswParams,
    min_lsn: int,
    max_lsn: int,
    seed: Segment | None = None,
    build_graph_index: bool | None = None,
    build_threads: int | None = None,
    check: Callable[[], None] | None = None,
    build_filter_index: bool = True,
) -> tuple[SegmentDescriptor, hnswlib.Index | None]:
    """:func:`write_segment`, also returning the HNSW index it built (None without a graph), so
    the caller can open the segment with it instead of loading a second copy from the file.
    ``build_threads`` overrides ``hnsw.num_threads`` for building only (the descriptor keeps
    the collection's setting, which queries use). On a real file system ``data.vectors`` is
    replaced by a read-only view of the written ``vectors.f32``, so the caller's array can be
    freed while the graph is built. ``check`` is called between steps of the build (every
    ``ADD_CHUNK`` rows, every file): the caller stops a build by raising from it, which leaves
    only the temporary directory behind."""
    started = time.monotonic()
    check = check or _nothing
    vectors = _check(data, space, hnsw, segment_id, collection_id)
    n, dim = vectors.shape
    ident = Identity(segment_id, collection_id, n, dim, min_lsn, max_lsn)
    with_graph = n >= FLAT_BELOW if build_graph_index is None else build_graph_index
    final = os.path.join(directory, segment_id)
    tmp = final + ".tmp"
    if fs.exists(final):
        raise InvalidArgumentError(f"segment {segment_id} already exists", path=final)
    fs.makedirs(directory)
    fs.rmtree(tmp)  # leftovers of an interrupted write of this same segment
    fs.makedirs(tmp)
    # hnswlib writes its index file only to a real path: scratch space for the graph body.
    scratch = os.path.join(tmp, GRAPH_SCRATCH) if isinstance(fs, OsFileSystem) else None
    builder = hnsw if build_threads is None else dataclasses.replace(hnsw, num_threads=build_threads)
    files: dict[str, dict[str, int]] = {}
    release: Callable[[], None] = _nothing
    if scratch is not None:
        # The vectors go to disk first; from here on the build reads them through a mapping
        # whose pages it drops as it goes, and the caller's copy can be freed.
        files[F.FILE_VECTORS], vectors, release = _vectors_through_file(fs, tmp, ident, vectors)
        data.vectors = vectors
    check()
    bodies, graph = _bodies(data, vectors, builder, with_graph, seed, scratch, _and(release, check),
                            build_filter_index)
    for name, body in bodies.items():
        if name not in files:
            check()
            files[name] = _write_file(fs, tmp, name, encode_file_parts(F.KIND_OF_FILE[name], ident, body,
                                                                       WRITE_VERSION.get(name, F.FORMAT_VERSION)))
    del bodies
    descriptor = SegmentDescriptor(
        segment_id=segment_id, collection_id=collection_id, count=n, dim=dim, space=space,
        min_lsn=min_lsn, max_lsn=max_lsn, files=files, hnsw=hnsw.to_dict(),
    )
    summary = json.dumps(descriptor.to_dict(), sort_keys=True).encode("utf-8")
    files[F.FILE_SUMMARY] = _write_file(
        fs, tmp, F.FILE_SUMMARY, encode_file_parts(F.KIND_SUMMARY, ident, summary)
    )
    fs.fsync_dir(tmp)
    fs.rename(tmp, final)
    fs.fsync_dir(directory)
    log.info("segment written", **{K.SEGMENT: segment_id, K.COLLECTION: collection_id, K.RECORDS: n,
                                   K.BYTES: sum(f["size"] for f in files.values()),
                                   K.DURATION_MS: round(1000 * (time.monotonic() - started), 1)})
    return SegmentDescriptor(**{**descriptor.__dict__, "files": files}), graph


def _check(data: SegmentData, space: str, hnsw: HnswParams, segment_id: str, collection_id: str) -> np.ndarray:
    if space != hnsw.space:
        raise InvalidArgumentError(f"segment space {space!r} differs from HNSW space {hnsw.space!r}")
    if not segment_id or "/" in segment_id or segment_id.endswith(".tmp"):
        raise InvalidArgumentError(f"invalid segment id {segment_id!r}")
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    try:
        data.validate()
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    if len(data) == 0:
        raise InvalidArgumentError("a segment holds at least one record")
    return vectors


def _nothing() -> None:
    """No pages to drop (vectors in memory), no reason to stop."""


def _and(first: Callable[[], None], then: Callable[[], None]) -> Callable[[], None]:
    """One callable running ``first`` and then ``then``."""
    def both() -> None:
        first()
        then()
    return both


def _vectors_through_file(fs: FileSystem, directory: str, ident: Identity,
                          vectors: np.ndarray) -> tuple[dict[str, int], np.ndarray, Callable[[], None]]:
    """Write ``vectors.f32``; return its size/crc, the rows read back through a mapping, and
    a function that drops the mapping's resident pages."""
    parts = encode_file_parts(F.KIND_VECTORS, ident, encode_vectors(vectors))
    info = _write_file(fs, directory, F.FILE_VECTORS, parts)
    mapping = map_or_read(fs, os.path.join(directory, F.FILE_VECTORS))
    mapped = np.frombuffer(mapping, dtype=F.F32, count=vectors.size, offset=len(parts[0])).reshape(vectors.shape)
    return info, mapped.astype(np.float32, copy=False), lambda: release_pages(mapping)


def _bodies(
    data: SegmentData, vectors: np.ndarray, hnsw: HnswParams, with_graph: bool, seed: Segment | None,
    scratch: str | None = None, release: Callable[[], None] = _nothing, with_filter: bool = True,
) -> tuple[dict[str, bytes | memoryview], hnswlib.Index | None]:
    texts = metadata_texts(list(data.metadatas))
    # Derived indexes (filter, sparse) are built from the metadata as it will read back (JSON
    # round trip), so filtering and metadata(row) can never disagree. A bulk ingest leaves both
    # out: an open segment builds them from metadata.col on first use (FORMAT.md).
    metas = decode_all_metadata("<segment being written>", texts) if with_filter else None
    bodies: dict[str, bytes | memoryview] = {
        F.FILE_VECTORS: encode_vectors(vectors),
        F.FILE_ROWS: encode_rows(list(data.ids), data.ordinals, data.versions),
        F.FILE_DOCUMENTS: encode_strings(list(data.documents)),
        F.FILE_METADATA: encode_metadatas(texts),
        F.FILE_URIS: encode_strings(list(data.uris)),
    }
    if metas is not None:
        index = FilterIndex.build(metas, lambda: data.documents)
        bodies[F.FILE_FILTER] = encode_filter_index(index)
        sparse = {key: SparsePostings.build(metas, key) for key in sparse_keys(metas)}
        if sparse:  # segments without sparse vectors keep the file list they always had
            bodies[F.FILE_SPARSE] = encode_sparse_index(len(metas), sparse)
    graph = _graph(data, vectors, hnsw, seed, release) if with_graph else None
    if graph is not None and scratch is not None:
        bodies[F.FILE_GRAPH] = encode_graph_via_file(graph, vectors, hnsw.space, scratch, after_chunk=release)
    elif graph is not None:
        bodies[F.FILE_GRAPH] = encode_graph(graph, vectors, hnsw.space)
    return bodies, graph


def _graph(data: SegmentData, vectors: np.ndarray, hnsw: HnswParams, seed: Segment | None,
           release: Callable[[], None] = _nothing) -> hnswlib.Index:
    mapping = seed_mapping(seed, data.ids, data.versions, vectors, hnsw) if seed is not None else None
    if seed is not None:
        seed.release_pages()  # the comparison read every row of the seed's mapped vectors
        release()
    if seed is None or mapping is None:
        return build_graph(vectors, hnsw, after_chunk=release)
    seed_id = seed.descriptor.segment_id
    try:
        index = build_seeded_graph(vectors, hnsw, seed, mapping, after_chunk=release)
    except (ValueError, RuntimeError) as exc:
        log.warning("seed graph unusable, building from scratch", **{K.SEGMENT: seed_id, K.ERROR: str(exc)})
        return build_graph(vectors, hnsw, after_chunk=release)
    release()
    log.info("segment graph seeded", **{K.SEGMENT: seed_id, K.RECORDS: len(vectors), K.COUNT: len(mapping)})
    return index


def _write_file(fs: FileSystem, directory: str, name: str, parts: list[bytes | memoryview]) -> dict[str, int]:
    f = fs.create(os.path.join(directory, name))
    size, crc = 0, 0
    try:
        for part in parts:
            f.write(part)  # type: ignore[arg-type]
            size += len(part)
            crc = crc32c.crc32c(part, crc)
        f.sync()
    finally:
        f.close()
    return {"size": size, "crc32c": crc}
