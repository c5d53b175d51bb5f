"""``sediment migrate-from-chroma``: a Chroma persist directory becomes a SedimentDB database.

The source is read with :mod:`sedimentdb.tools.chroma` (no chromadb needed, nothing written
to it). The database is built in a temporary directory beside DEST, verified (counts, record
digests, exact-distance queries), then renamed to DEST in one step: an interrupted run leaves
DEST absent (or empty, as it was), never a half-imported database. The temporary directory is
named ``.<DEST>.migrating-<pid>`` and removed on failure (or by the next run, if killed).
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.bulk import MAX_BULK_ROWS
from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
from sedimentdb.engine.database import Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.segments import Segment, SegmentDescriptor, read_delete_marker
from sedimentdb.engine.storage_errors import InvalidArgumentError
from sedimentdb.engine.wal import scan
from sedimentdb.engine.wal.records import WriteBatch
from sedimentdb.tools.chroma import ChromaCollection, ChromaSnapshot, read_chroma
from sedimentdb.tools.ops.common import Progress, no_progress, quiet_logger
from sedimentdb.tools.ops.migrate_verify import (
    CollectionCheck,
    StoredColumns,
    check_collection_queries,
    column_digest,
    compare,
    source_columns,
)

# Records per bulk ingest (one log record and one segment each): bounded in bytes, so the
# log record stays far below its 2 GiB limit and the segment's scratch memory bounded.
BULK_BYTES = 1 << 30


def batch_rows(dim: int | None) -> int:
    """Records per bulk ingest for embeddings of ``dim`` float32 values."""
    return max(1000, min(MAX_BULK_ROWS, BULK_BYTES // (4 * (dim or 1))))


class VerificationError(InvalidArgumentError):
    """The migrated database does not match the source; DEST was not created."""


@dataclass
class MigrationSummary:
    """What a migration found, imported, left out and verified."""

    source: str
    dest: str
    format: str
    dry_run: bool
    collections: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    verification: list[dict[str, Any]] = field(default_factory=list)
    source_bytes: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # read / write / verify, seconds
    phases_cpu: dict[str, float] = field(default_factory=dict)  # the same, CPU seconds of this process

    @property
    def records(self) -> int:
        """Records imported (or, for a dry run, that would be)."""
        return sum(c["records"] for c in self.collections)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        rate = self.records / self.seconds if self.seconds > 0 else None
        return {"source": self.source, "dest": self.dest, "format": self.format, "dry_run": self.dry_run,
                "collections": self.collections, "records": self.records, "source_bytes": self.source_bytes,
                "skipped": [{k: v for k, v in s.items() if k != "ids"} | {"ids": (s["ids"] or [])[:100]}
                            for s in self.skipped],
                "verification": self.verification, "verified": all(v["ok"] for v in self.verification),
                "seconds": round(self.seconds, 3), "records_per_second": round(rate) if rate else None,
                "phases": {k: round(v, 3) for k, v in self.phases.items()},
                "phases_cpu": {k: round(v, 3) for k, v in self.phases_cpu.items()}}


def sediment_configuration(col: ChromaCollection) -> dict[str, Any]:
    """The SedimentDB configuration of a Chroma collection: the same document Chroma's
    ``configuration_json`` shows (space, HNSW parameters, embedding function)."""
    return {"hnsw": dict(col.configuration["hnsw"]), "spann": None,
            "embedding_function": col.configuration.get("embedding_function")}


def _describe(col: ChromaCollection) -> dict[str, Any]:
    dim = col.dimension
    return {"tenant": col.tenant, "database": col.database, "name": col.name, "id": col.id,
            "records": col.count, "dimension": dim, "space": col.space,
            "embedding_bytes": col.count * (dim or 0) * 4, "from_log": col.log_records,
            "embedding_function": (col.configuration.get("embedding_function") or {}).get("name")
            if isinstance(col.configuration.get("embedding_function"), dict) else None}


def check_dest(dest: str, source: str) -> str:
    """The absolute DEST; InvalidArgumentError unless it is absent or an empty directory."""
    adest = os.path.abspath(dest)
    if os.path.realpath(adest) == os.path.realpath(source) or \
            os.path.realpath(adest).startswith(os.path.realpath(source) + os.sep):
        raise InvalidArgumentError("DEST must not be the Chroma directory or inside it (the source is never "
                                   "written)", path=adest)
    if os.path.exists(adest):
        if not os.path.isdir(adest):
            raise InvalidArgumentError("DEST exists and is not a directory", path=adest)
        if os.listdir(adest):
            raise InvalidArgumentError("DEST exists and is not empty", path=adest,
                                       hint="pass a new directory; the migration never merges into data")
    return adest


def _temp_dir(adest: str) -> str:
    parent, base = os.path.split(adest)
    os.makedirs(parent, exist_ok=True)
    prefix = f".{base}.migrating-"
    for name in os.listdir(parent):  # leftovers of killed runs (their process is gone)
        if name.startswith(prefix) and name[len(prefix):].isdigit() and not _alive(int(name[len(prefix):])):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    return os.path.join(parent, f"{prefix}{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(db: Database, snap: ChromaSnapshot, progress: Progress) -> None:
    for tenant in snap.tenants:
        if not db.has_tenant(tenant):
            db.create_tenant(tenant)
    for tenant, name, did in snap.databases:
        if (tenant, name) not in db.catalog.databases:
            db.create_database(tenant, name, id=did)
    total = sum(c.count for c in snap.collections)
    done = 0
    for col in snap.collections:
        db.create_collection(col.tenant, col.database, col.name, id=col.id, metadata=col.metadata,
                             configuration=sediment_configuration(col), dimension=col.dimension)
        step = batch_rows(col.dimension)
        texts = col.current_metadata_texts()  # encoded once, by the reader: stored as they are
        for start in range(0, col.count, step):
            end = min(start + step, col.count)
            # Straight into a segment (engine/bulk.py): one log record, one manifest, no tail.
            db.bulk_ingest(col.id, col.ids[start:end], col.embeddings[start:end], col.documents[start:end],
                           texts[start:end], col.uris[start:end])
            done += end - start
            progress("importing records", done, total)
    progress("importing records", total, total)


def _verify(db: Database, snap: ChromaSnapshot, sample: int, progress: Progress) -> list[CollectionCheck]:
    """The sample queries, through the read path of the database just written (the same open
    database: a reopen would replay the log again). Counts and digests come from the files
    after close (:func:`check_disk`)."""
    checks = []
    for n, col in enumerate(snap.collections):
        progress("verifying", n, len(snap.collections))
        checks.append(check_collection_queries(db, col, sample=sample, seed=n))
    progress("verifying", len(snap.collections), len(snap.collections))
    return checks


def stored_on_disk(path: str, collection_ids: list[str]) -> dict[str, StoredColumns]:
    """What every reopen loads, per collection: the newest manifest's segments (each opened
    with every file's size and checksum checked) minus their deleted rows, then the records
    of the log after each collection's checkpoint (both checksums of every frame checked,
    decoded, not applied)."""
    fs = OsFileSystem()
    found = list_manifests(fs, path)
    manifest = read_manifest(fs, found[-1][1]) if found else None
    parts: dict[str, list[StoredColumns]] = {cid: [] for cid in collection_ids}
    checkpoint: dict[str, int] = {}
    for cid, entry in (manifest.collections if manifest else {}).items():
        checkpoint[cid] = int(entry["checkpoint_lsn"])
        for seg in entry["segments"]:
            desc = SegmentDescriptor.from_dict(seg["descriptor"])
            opened = Segment.open(fs, os.path.join(path, "segments"), desc)
            cols = StoredColumns(opened.ids, opened.all_documents(), opened.all_metadata_texts(), opened.all_uris(),
                                 opened.vectors)
            dead = read_delete_marker(fs, os.path.join(path, "markers", seg["marker"]["file"]), seg["marker"],
                                      opened.count) if seg.get("marker") else None
            parts.setdefault(cid, []).append(cols if dead is None or not np.any(dead) else _live_rows(cols, dead))
    for rec in scan(os.path.join(path, "wal"), fs=fs, from_lsn=manifest.replay_from() if manifest else 1):
        r = rec.record
        if isinstance(r, WriteBatch) and rec.lsn > checkpoint.get(r.collection_id, 0):
            n = len(r.ids)
            parts.setdefault(r.collection_id, []).append(StoredColumns.of_maps(
                r.ids, r.embeddings if r.embeddings is not None else np.zeros((n, 0), dtype=np.float32),
                r.documents or [None] * n, r.metadatas or [None] * n, r.uris or [None] * n))
    return {cid: _joined(p) for cid, p in parts.items()}


def _live_rows(cols: StoredColumns, dead: np.ndarray) -> StoredColumns:
    keep = np.flatnonzero(~np.asarray(dead, dtype=bool)).tolist()
    return StoredColumns([cols.ids[k] for k in keep], [cols.documents[k] for k in keep],
                         [cols.metadata_texts[k] for k in keep], [cols.uris[k] for k in keep], cols.vectors[keep])


def _joined(parts: list[StoredColumns]) -> StoredColumns:
    if len(parts) == 1:
        return parts[0]
    vectors = [p.vectors for p in parts if len(p.ids)]
    return StoredColumns([i for p in parts for i in p.ids], [d for p in parts for d in p.documents],
                         [t for p in parts for t in p.metadata_texts], [u for p in parts for u in p.uris],
                         np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32))


def check_disk(path: str, snap: ChromaSnapshot, checks: list[CollectionCheck],
               source_digests: dict[str, str] | None = None) -> None:
    """After close, from the files every reopen loads (:func:`stored_on_disk`): each
    collection must hold the source's ids, in the source's order and no others, and the
    same records (count and digest: verify.compare). A difference is added to that
    collection's problems. ``source_digests``: the source side's digests, if computed."""
    stored = stored_on_disk(path, [c.id for c in snap.collections])
    for col, check in zip(snap.collections, checks, strict=True):
        dest = stored.get(col.id) or StoredColumns([], [], [], [], np.zeros((0, 0), dtype=np.float32))
        if dest.ids != col.ids:
            check.dest_count = len(dest.ids)
            check.problems.append(f"the files on disk (segments and log) hold {len(dest.ids)} ids for this "
                                  f"collection, not the source's {col.count} in the source's order")
            continue
        compare(check, source_columns(col), dest, (source_digests or {}).get(col.id))


def migrate_from_chroma(source: str, dest: str, *, dry_run: bool = False, skip_damaged: bool = False,
                        sample_queries: int = 20, progress: Progress = no_progress) -> MigrationSummary:
    """Migrate the Chroma directory ``source`` into a new SedimentDB database at ``dest``.

    Raises the reader's errors (damaged, busy, unsupported source: each names the file),
    InvalidArgumentError for a bad DEST, VerificationError if the result does not match.
    """
    with _collector_paused():
        return _migrate(source, dest, dry_run, skip_damaged, sample_queries, progress)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the migration (as it was, afterwards): the
    snapshot is millions of objects (row tuples, maps, strings) that all stay alive until the
    end, and each collector pass over them, set off by the allocations themselves, finds
    nothing to free (a fifth of the time spent building the metadata maps)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _migrate(source: str, dest: str, dry_run: bool, skip_damaged: bool, sample_queries: int,
             progress: Progress) -> MigrationSummary:
    started, cpu_started = time.monotonic(), time.process_time()
    asource = os.path.abspath(source)
    adest = check_dest(dest, asource)
    snap = read_chroma(asource, skip_damaged=skip_damaged, progress=progress)
    summary = MigrationSummary(asource, adest, snap.format.label, dry_run,
                               [_describe(c) for c in snap.collections], snap.skipped,
                               source_bytes=snap.source_bytes)
    mark, cpu = time.monotonic(), time.process_time()
    summary.phases["read"], summary.phases_cpu["read"] = mark - started, cpu - cpu_started
    if dry_run:
        summary.seconds = time.monotonic() - started
        return summary
    tmp = _temp_dir(adest)
    # The source side of the verification needs only the snapshot: its digests are computed on
    # the second core while this one writes (hashing and gathering vectors release the GIL,
    # and so do the writes and fsyncs).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-source-digest")
    try:
        digests = {c.id: pool.submit(column_digest, source_columns(c)) for c in snap.collections}
        db = Database.open(tmp, DatabaseOptions(durability="normal", background_compaction=False),
                           logger=quiet_logger())
        try:
            _write(db, snap, progress)
            summary.phases["write"], summary.phases_cpu["write"] = time.monotonic() - mark, time.process_time() - cpu
            mark, cpu = time.monotonic(), time.process_time()
            checks = _verify(db, snap, sample_queries, progress)
        finally:
            db.close()
        check_disk(tmp, snap, checks, {cid: f.result() for cid, f in digests.items()})
        summary.phases["verify"], summary.phases_cpu["verify"] = time.monotonic() - mark, time.process_time() - cpu
        summary.verification = [c.to_dict() for c in checks]
        bad = [c for c in checks if not c.ok]
        if bad:
            raise VerificationError("the migrated database does not match the source: " + "; ".join(
                f"{c.name}: {', '.join(c.problems)}" for c in bad), path=tmp)
        if os.path.isdir(adest):
            os.rmdir(adest)  # empty (checked above); rename needs it gone
        os.rename(tmp, adest)
        _fsync_dir(os.path.dirname(adest))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        pool.shutdown(cancel_futures=True)
    summary.seconds = time.monotonic() - started
    return summary


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
