"""``sediment info``: what a data directory holds, read without taking the writer lock."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.compactor import manifest as manifest_format
from sedimentdb.engine.parts import SegmentPart, TailPart
from sedimentdb.engine.replication.status import replication_status
from sedimentdb.engine.segments import format as segment_format
from sedimentdb.engine.wal import FORMAT_VERSION as WAL_FORMAT_VERSION
from sedimentdb.tools.ops.common import canonical_uuid, open_read_only, tree_bytes


@dataclass
class CollectionReport:
    """One collection as ``info`` shows it."""

    id: str
    name: str
    tenant: str
    database: str
    records: int
    dimension: int | None
    space: str
    checkpoint_lsn: int
    segments: int
    segment_rows: int
    segment_bytes: int
    tail_rows: int
    tail_bytes: int
    deleted_rows: int
    deleted_fraction: float
    reclaimable_bytes: int


@dataclass
class InfoReport:
    """Everything ``sediment info`` reports about one data directory."""

    path: str
    format_versions: dict[str, int]
    database_uuid: str
    epoch: int
    first_lsn: int
    last_lsn: int
    log_files: int
    log_bytes: int
    manifest_generation: int | None
    checkpoint_lsn: int | None
    manifest_created_at: float | None
    segments: int
    segment_bytes: int
    marker_bytes: int
    tail_rows: int
    tail_bytes: int
    deleted_rows: int
    deleted_fraction: float
    reclaimable_bytes: int
    total_bytes: int
    collections: list[CollectionReport] = field(default_factory=list)
    # Role (replica/primary/none) and position: see engine/replication/status.py.
    replication: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


def _segment_bytes(seg: SegmentPart) -> int:
    return sum(int(f["size"]) for f in seg.segment.descriptor.files.values())


def _collection(db: Any, cid: str) -> CollectionReport:
    info = db.catalog.collections[cid]
    cs = db.collections[cid]
    segs = cs.segments()
    seg_rows = sum(p.count for p in segs)
    seg_bytes = sum(_segment_bytes(p) for p in segs)
    tails = [p for p in cs.parts if isinstance(p, TailPart)]
    tail_rows = sum(p.count for p in tails)
    dead = 0
    reclaim = 0
    for p in segs:
        n_dead = int(np.count_nonzero(~p.alive()))
        dead += n_dead
        if p.count:
            reclaim += int(_segment_bytes(p) * n_dead / p.count)
    tail_dead = sum(int(np.count_nonzero(~p.alive())) for p in tails)
    total_rows = seg_rows + tail_rows
    return CollectionReport(
        id=cid, name=info.name, tenant=info.tenant, database=info.database, records=cs.count(),
        dimension=cs.dim, space=cs.space, checkpoint_lsn=cs.checkpoint_lsn, segments=len(segs),
        segment_rows=seg_rows, segment_bytes=seg_bytes, tail_rows=tail_rows,
        tail_bytes=sum(p.nbytes for p in tails), deleted_rows=dead + tail_dead,
        deleted_fraction=round((dead + tail_dead) / total_rows, 4) if total_rows else 0.0,
        reclaimable_bytes=reclaim,
    )


def database_info(path: str) -> InfoReport:
    """Describe the data directory at ``path`` (read-only; safe while a writer runs)."""
    db = open_read_only(path)
    try:
        files = db.wal.files()
        colls = [_collection(db, cid) for cid in sorted(db.collections, key=lambda c: (
            db.catalog.collections[c].tenant, db.catalog.collections[c].database,
            db.catalog.collections[c].name))]
        newest = db.manifests[-1] if db.manifests else None
        seg_rows = sum(c.segment_rows for c in colls)
        rows = seg_rows + sum(c.tail_rows for c in colls)
        dead = sum(c.deleted_rows for c in colls)
        return InfoReport(
            path=db.path,
            format_versions={"wal": WAL_FORMAT_VERSION, "manifest": manifest_format.FORMAT_VERSION,
                             "segment": segment_format.FORMAT_VERSION},
            database_uuid=canonical_uuid(db.uuid), epoch=db.epoch,
            first_lsn=files[0].first_lsn if files else 0, last_lsn=db.last_lsn,
            log_files=len(files), log_bytes=sum(f.size for f in files),
            manifest_generation=newest.generation if newest else None,
            checkpoint_lsn=newest.catalog_lsn if newest else None,
            manifest_created_at=newest.created_at if newest else None,
            segments=sum(c.segments for c in colls), segment_bytes=sum(c.segment_bytes for c in colls),
            marker_bytes=tree_bytes(os.path.join(db.path, "markers")),
            tail_rows=sum(c.tail_rows for c in colls), tail_bytes=sum(c.tail_bytes for c in colls),
            deleted_rows=dead, deleted_fraction=round(dead / rows, 4) if rows else 0.0,
            reclaimable_bytes=sum(c.reclaimable_bytes for c in colls),
            total_bytes=tree_bytes(db.path), collections=colls,
            replication={k: v for k, v in replication_status(db.path).items() if k != "path"},
        )
    finally:
        db.close()
