"""``sediment compact``: run compaction now, as the directory's single writer."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sedimentdb.engine.parts import TailPart
from sedimentdb.tools.ops.common import Progress, no_progress, open_writer, resolve_collection, tree_bytes


@dataclass
class CollectionCompaction:
    """Before/after of one collection."""

    id: str
    name: str
    records: int
    segments_before: int
    segments_after: int
    tail_rows_before: int
    tail_rows_after: int


@dataclass
class CompactSummary:
    """What ``compact`` did."""

    path: str
    segments_before: int
    segments_after: int
    bytes_before: int
    bytes_after: int
    duration_s: float
    collections: list[CollectionCompaction] = field(default_factory=list)

    @property
    def bytes_reclaimed(self) -> int:
        """Bytes freed on disk (negative when new segments outweigh what was freed)."""
        return self.bytes_before - self.bytes_after

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {**asdict(self), "bytes_reclaimed": self.bytes_reclaimed}


def _tail_rows(cs: Any) -> int:
    return sum(p.count for p in cs.parts if isinstance(p, TailPart))


def compact(path: str, collection: str | None = None, *, progress: Progress = no_progress) -> CompactSummary:
    """Compact every collection of ``path`` (or one, by name or id) and free what is no longer needed.

    Takes the writer lock: LockedError if another process holds the directory. Files that
    only the previous manifest still referenced are freed too (a second manifest is
    installed), so the space is reclaimed now rather than at the next compaction.
    """
    started = time.monotonic()
    db = open_writer(path)
    try:
        before = tree_bytes(db.path)
        ids = [resolve_collection(db, collection)] if collection else sorted(
            db.collections, key=lambda c: db.catalog.collections[c].name)
        rows = []
        for i, cid in enumerate(ids):
            cs = db.collections[cid]
            info = db.catalog.collections[cid]
            progress(f"compacting {info.name}", i, len(ids))
            seg_before, tail_before = len(cs.segments()), _tail_rows(cs)
            db.compact(cid)
            cs = db.collections[cid]
            rows.append(CollectionCompaction(cid, info.name, cs.count(), seg_before, len(cs.segments()),
                                             tail_before, _tail_rows(cs)))
        progress("compacting", len(ids), len(ids))
        db.compactor.request_manifest()
    finally:
        db.close()
    return CompactSummary(db.path, sum(r.segments_before for r in rows), sum(r.segments_after for r in rows),
                          before, tree_bytes(db.path), round(time.monotonic() - started, 3), rows)
