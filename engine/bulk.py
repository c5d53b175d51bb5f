"""Bulk ingest: new records written straight into an immutable segment (no log tail on the way).

What RocksDB's IngestExternalFile and building a LevelDB table directly do, for SedimentDB:
a batch of records whose ids are all new to the collection is

1. logged as ONE ordinary ``WriteBatch`` ADD record (columnar: ids, raw float32 vectors,
   documents/metadata/uris as one JSON text; the metadata as the segment stores it, each
   text spliced in as it is: ``None`` values and empty maps dropped, as replay of any add
   would drop them; the vectors written from the caller's array, not copied) and made
   durable. The log stays the whole
   truth: a follower, a restore, point-in-time recovery and ``sediment verify`` see a plain
   add, and a crash before step 3 replays it into the tail like any add;
2. written as a segment (``segments/<id>/``: temp directory, fsync, rename, fsync) from the
   columns as they are, without an HNSW graph (the compactor builds it in the background;
   queries search the segment exactly meanwhile, so they stay correct) and without
   ``filter.idx`` (built from the metadata on the first filtered read, and written by the
   compactor's rewrite);
3. installed in memory (the collection's checkpoint moves to the record's LSN) and published
   by one manifest edit. Once the manifest is durable, a reopen skips the record.

A kill at any point leaves the collection without any of the batch (the record is not
durable: step 1 not done) or with all of it (the record is durable: replayed, or covered by
the manifest); a segment written but never published is an orphan the next open removes.
Versus ``add``: no in-memory tail rows, no tail graph, no per-record apply, and a reopen
replays nothing. engine/compactor/FORMAT.md ("Bulk ingest") describes what it leaves on disk.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.collection import ORDINAL_SHIFT, ordinals_for, strip_none
from sedimentdb.engine.hnsw_config import index_settings
from sedimentdb.engine.parts import SegmentPart, TailPart
from sedimentdb.engine.segments import HnswParams, Segment, SegmentData
from sedimentdb.engine.segments.bodies import decode_all_metadata, metadata_texts
from sedimentdb.engine.segments.writer import write_segment
from sedimentdb.engine.storage_errors import InvalidArgumentError
from sedimentdb.engine.wal.records import JsonTexts, WriteBatch, WriteOp

if TYPE_CHECKING:
    from sedimentdb.engine.collection import CollectionState
    from sedimentdb.engine.database import Database

# Rows of one bulk batch: the insertion-order key gives each logged record 2^24 positions.
MAX_BULK_ROWS = 1 << ORDINAL_SHIFT


def bulk_ingest(db: Database, collection_id: str, ids: list[str], embeddings: Any, documents: Any = None,
                metadatas: Any = None, uris: Any = None) -> int:
    """Add records whose ids are all new to the collection as one segment; return the LSN.

    InvalidArgumentError (nothing written) if an id repeats, already exists in the
    collection, or the columns disagree in length or dimension. Holds the database lock
    while the segment is written: other writers and readers wait for that time.
    """
    ids = list(ids)
    emb = _columns(ids, embeddings, documents, metadatas, uris)
    metas = None if metadatas is None else list(metadatas)
    texts = None if metas is None else stored_metadata(metas)  # before anything is logged: it validates
    docs = None if documents is None else list(documents)
    uri_list = None if uris is None else list(uris)
    if not ids:
        return db.last_lsn
    # The compactor's job lock first (it takes it before the database lock): the manifest
    # published below is the only one being installed.
    with db.compactor.job_lock, db.lock:
        db._check_writable()
        cs = db._state(collection_id)
        _check_new(db, cs, ids, emb)
        batch = WriteBatch(WriteOp.ADD, cs.id, ids, emb, docs, metas, uri_list)
        if _tail_live(cs):
            # Live tail rows are logged after the checkpoint, which therefore cannot move past
            # this record: it goes the way of any add (compact() first keeps the fast path).
            return int(db._log_locked(_as_maps(batch)))
        # Logged with the texts the segment stores (encoded once, spliced into the record as
        # they are): replay decodes them to the maps an add of ``metas`` would keep.
        # Borrowed: the vectors go to the log file from ``emb`` itself (unchanged until written:
        # the wait is next, under the lock).
        lsn = db.wal.submit(batch if texts is None else replace(batch, metadatas=JsonTexts(texts)), borrow=True)
        db._wait(lsn)
        db._apply_through(lsn)  # other writers' records queued before this one, in LSN order
        try:
            part = _write_segment(db, cs, lsn, ids, emb, docs, texts, uri_list)
        except BaseException as exc:  # the record is durable: it must be visible, as a tail like any add
            db.log.warning("bulk segment not written; the records go to the log tail",
                           **{K.COLLECTION: cs.id, K.LSN: lsn, K.ERROR: f"{type(exc).__name__}: {exc}"})
            db._apply(_as_maps(batch), lsn)
            db.last_lsn = lsn
            if not isinstance(exc, Exception):
                raise  # ^C: the state stays whole, the interrupt goes on
            return lsn
        _install(db, cs, part, lsn)
        try:
            db.compactor.install_manifest_locked()
        except Exception as exc:  # durable and applied: a reopen replays the record; the next pass retries
            db.log.warning("manifest after a bulk ingest not installed; the log still holds the records",
                           **{K.COLLECTION: cs.id, K.LSN: lsn, K.ERROR: f"{type(exc).__name__}: {exc}"})
    db.log.info("bulk ingest", **{K.COLLECTION: cs.id, K.LSN: lsn, K.RECORDS: len(ids)})
    return lsn


def _columns(ids: list[str], embeddings: Any, documents: Any, metadatas: Any, uris: Any) -> np.ndarray:
    if embeddings is None:
        raise InvalidArgumentError("bulk ingest needs embeddings")
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    n = len(ids)
    if emb.ndim != 2 or len(emb) != n:
        raise InvalidArgumentError(f"embeddings must have shape ({n}, dim), got {emb.shape}")
    if n > MAX_BULK_ROWS:
        raise InvalidArgumentError(f"a bulk ingest takes at most {MAX_BULK_ROWS} records, got {n}; split it")
    for name, col in (("documents", documents), ("metadatas", metadatas), ("uris", uris)):
        if col is not None and len(col) != n:
            raise InvalidArgumentError(f"{name} has {len(col)} entries for {n} ids")
    if len(set(ids)) != n:
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InvalidArgumentError(f"bulk ingest ids must be unique; {dup!r} repeats")
    return emb


def stored_metadata(metas: list[Any]) -> list[str | None]:
    """What ``add`` stores for new records' metadata (collection.strip_none: a ``None`` value
    means nothing, an empty map is no metadata), as the JSON texts a segment stores: encoded
    once, and only the few texts that hold a ``null`` decoded, stripped and encoded again.

    An entry may also be a ``str``: a map already encoded as compact JSON (``ensure_ascii=False``,
    separators ``,`` and ``:``, what a segment stores), e.g. by a reader that built the text
    once; it is kept as it is once all such texts parse (one JSON parse) to maps.
    InvalidArgumentError for an entry that is not a map of JSON values."""
    kinds = set(map(type, metas))  # the types present, collected in C (no Python step per record)
    if not kinds <= {dict, str, type(None)}:
        bad = next((k for k, m in enumerate(metas) if m is not None and not isinstance(m, (dict, str))), None)
        if bad is not None:
            raise InvalidArgumentError(f"metadata of record {bad} is a {type(metas[bad]).__name__}, not a map")
    try:
        texts = list(metas) if kinds <= {str, type(None)} else metadata_texts(metas)
        if str in kinds:
            _check_texts(metas)
        present = [t for t in texts if t is not None] if type(None) in kinds else texts
        # Texts to strip are rare: found with two searches in C over the whole column.
        if "{}" in present or "null" in "\n".join(present):  # type: ignore[arg-type]
            for k, text in enumerate(texts):
                if text is not None and (text == "{}" or "null" in text):
                    kept = strip_none(metas[k] if isinstance(metas[k], dict) else json.loads(text))
                    texts[k] = None if kept is None else metadata_texts([kept])[0]
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"metadata cannot be stored: {exc}") from None
    return texts


def _as_maps(batch: WriteBatch) -> WriteBatch:
    """``batch`` with its metadata as maps, for the in-memory apply of the paths that do not
    write a segment: pre-encoded texts (see :func:`stored_metadata`) are decoded, only then."""
    metas = batch.metadatas
    if metas is None or not any(type(m) is str for m in metas):
        return batch
    return replace(batch, metadatas=decode_all_metadata("<bulk ingest>", stored_metadata(metas)))


def _check_texts(metas: list[Any]) -> None:
    """ValueError unless every ``str`` entry is the JSON text of one map (parsed in one go)."""
    at = range(len(metas)) if set(map(type, metas)) == {str} else [k for k, m in enumerate(metas) if type(m) is str]
    if not at:
        return
    texts = metas if isinstance(at, range) else [metas[k] for k in at]
    try:
        maps = json.loads("[" + ",".join(texts) + "]")
    except ValueError as exc:
        raise ValueError(f"a metadata text is not valid JSON ({exc})") from None
    if len(maps) != len(at) or set(map(type, maps)) != {dict}:
        k = next((at[j] for j, m in enumerate(maps) if type(m) is not dict), at[-1])
        raise ValueError(f"the metadata text of record {k} is not one JSON object")


def _check_new(db: Database, cs: CollectionState, ids: list[str], emb: np.ndarray) -> None:
    """Every id must be new, and nothing queued for the collection (its effect is not known yet)."""
    if db._queued_for(cs):
        raise InvalidArgumentError("bulk ingest into a collection with writes in flight; retry once they are done")
    db._check_dim(cs, emb)
    loc = cs.loc
    if loc:
        there = next((i for i in ids if i in loc), None)
        if there is not None:
            raise InvalidArgumentError(f"bulk ingest adds new records only; {there!r} already exists",
                                       hint="use add or upsert for existing ids")


def _tail_live(cs: CollectionState) -> bool:
    """Whether any tail of the collection holds a live row (logged after its checkpoint)."""
    return any(isinstance(p, TailPart) and p.count and bool(p.alive().any()) for p in cs.parts)


def _write_segment(db: Database, cs: CollectionState, lsn: int, ids: list[str], emb: np.ndarray,
                   docs: list | None, texts: list[str | None] | None, uris: list | None) -> SegmentPart:
    n = len(ids)
    s = index_settings(db.catalog.collections[cs.id])
    params = HnswParams(space=s.space, M=s.max_neighbors, construction_ef=s.ef_construction,
                        search_ef=s.ef_search, num_threads=s.num_threads)
    none = [None] * n
    data = SegmentData(ids=ids, ordinals=ordinals_for(lsn, n), versions=np.full(n, lsn, dtype=np.uint64),
                       vectors=emb, documents=docs if docs is not None else none,
                       metadatas=texts if texts is not None else none,
                       uris=uris if uris is not None else none)
    segdir = os.path.join(db.path, "segments")
    seg_id = uuid.uuid4().hex
    desc = write_segment(db.fs, segdir, seg_id, cs.id, data, space=params.space, hnsw=params,
                         min_lsn=lsn, max_lsn=lsn, build_graph_index=False,
                         build_filter_index=False)
    # Opened like any published segment (sizes, checksums and headers checked) before use.
    seg = Segment.open(db.fs, segdir, desc)
    return SegmentPart(seg, np.zeros(n, dtype=np.uint64), None)


def _install(db: Database, cs: CollectionState, part: SegmentPart, lsn: int) -> None:
    """The segment becomes part of the collection, its record covered by the checkpoint.

    No tail holds a live row (checked under the lock, nothing queued), so moving the
    checkpoint to ``lsn`` drops no record from what a reopen replays; the deletes of segment
    rows logged since the old checkpoint go into the manifest's delete markers.
    """
    cs.dim = cs.dim or part.segment.dim
    db.catalog.set_dimension(cs.id, cs.dim)
    cs.add_segment(part)
    cs.checkpoint_lsn = lsn
    db.last_lsn = lsn
