"""Archive retention: keep the newest snapshots and everything they need, delete the rest.

A snapshot is restorable only with the log from its replay point on, so the oldest retained
snapshot decides how far back the log is kept: units that end before its replay point go,
every later unit stays (point-in-time restore works from the oldest retained snapshot on).
Segment and marker files no retained snapshot names go too. Run it from the shipper's own
loop (``Shipper(retain_snapshots=N)``): one writer per archive, so it cannot race a snapshot
whose files are uploaded but whose snapshot object is not yet written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sedimentdb.engine.replication.archive import list_archive
from sedimentdb.engine.replication.destination import Destination
from sedimentdb.engine.replication.objects import FILES_DIR, decode_object
from sedimentdb.engine.storage_errors import CorruptionError, StorageError


@dataclass
class PruneResult:
    """What a prune kept and deleted."""

    kept_snapshots: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    log_from: int = 0  # the first LSN still restorable


def prune(dest: Destination, db_uuid: str, *, keep_snapshots: int = 2, keep_seconds: float | None = None,
          now: float | None = None) -> PruneResult:
    """Keep the newest ``keep_snapshots`` snapshots (and any younger than ``keep_seconds``)."""
    if keep_snapshots < 1:
        raise ValueError("keep_snapshots must be at least 1: an archive without a snapshot needs all its log")
    now = time.time() if now is None else now
    listing = list_archive(dest, db_uuid)
    usable = []
    for snap in listing.snapshots:
        try:
            header, _ = decode_object(dest.get(snap.key), snap.key)
        except (CorruptionError, StorageError):
            continue  # a damaged snapshot protects nothing; it is left for an operator to look at
        usable.append((snap, header))
    result = PruneResult()
    if not usable:
        return result  # without a snapshot, every unit back to the first may be needed
    keep = usable[-keep_snapshots:]
    if keep_seconds is not None:
        keep = [(s, h) for s, h in usable if now - h.created_at <= keep_seconds or (s, h) in keep]
    result.kept_snapshots = [s.key for s, _ in keep]
    result.log_from = min(h.first_lsn for _, h in keep)
    needed = {rel for _, h in keep for rel in h.extra["files"]}
    doomed = [s.key for s, _ in usable if s.key not in result.kept_snapshots]
    doomed += [n.key for n in listing.logs if n.last_lsn < result.log_from]
    prefix = f"{db_uuid}/{FILES_DIR}/"
    doomed += [k for k in dest.list(prefix) if k[len(prefix):] not in needed]
    for key in doomed:  # snapshots first: a crash midway never leaves a snapshot without its log
        dest.delete(key)
    result.deleted = doomed
    return result
