"""Point-in-time restore (``sediment restore``): newest snapshot at or before the target, then
the log units up to the target, verified unit by unit, written as a data directory.

The plan is computed from one listing: the target LSN (given, or the last LSN shipped at or
before a time), the newest snapshot whose LSN is at most the target and whose log (from its
replay point) the archive holds without a gap, and the units from that replay point to the
target. Files are written into ``<path>.restoring`` and renamed into place at the end, so a
failed restore leaves nothing that looks like a database.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from sedimentdb.engine.compactor.manifest import decode as decode_manifest
from sedimentdb.engine.compactor.manifest import manifest_name
from sedimentdb.engine.fileio import FileSystem, OsFileSystem, WritableFile, write_file_atomically
from sedimentdb.engine.replication.archive import (
    Unit,
    check_successor,
    gap_after,
    list_archive,
    read_unit,
    resolve_uuid,
    select_chain,
)
from sedimentdb.engine.replication.destination import Destination
from sedimentdb.engine.replication.objects import (
    LogName,
    SnapName,
    check_name,
    decode_object,
    file_name,
    parse_snapshot_name,
)
from sedimentdb.engine.replication.snapshot_check import check_archived_file
from sedimentdb.engine.storage_errors import CorruptionError, InvalidArgumentError, StorageError
from sedimentdb.engine.wal import log_file_name, new_file_header


@dataclass
class RestorePlan:
    """What a restore will use: a snapshot (or none: replay from LSN 1) and log units."""

    db_uuid: str
    target_lsn: int
    snapshot: str | None
    snapshot_lsn: int | None
    replay_from: int
    units: list[str] = field(default_factory=list)
    unit_ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (first, last, epoch)
    files: int = 0
    prev_unit: tuple[str, int, int, int] | None = None  # the unit before the first used: checks its link

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    def describe(self) -> str:
        """The plan as text (``--dry-run``)."""
        lines = [f"database {self.db_uuid}: restore to LSN {self.target_lsn}"]
        if self.snapshot:
            lines.append(f"snapshot {self.snapshot} (LSN {self.snapshot_lsn}, {self.files} files), "
                         f"replay from LSN {self.replay_from}")
        else:
            lines.append("no snapshot: replay the log from LSN 1")
        lines += [f"log {first}..{min(last, self.target_lsn)} (epoch {e})" for first, last, e in self.unit_ranges]
        return "\n".join(lines)


def _target_from_time(chain: list[LogName], times: dict[str, float], to_time: float) -> int:
    best = 0
    for n in chain:
        if times[n.key] <= to_time:
            best = n.last_lsn
    if not best:
        raise InvalidArgumentError("nothing was shipped at or before that time")
    return best


def plan_restore(dest: Destination, *, db_uuid: str | None = None, to_lsn: int | None = None,
                 to_time: float | None = None) -> RestorePlan:
    """The plan for restoring to ``to_lsn`` / ``to_time`` (default: everything shipped)."""
    uid = resolve_uuid(dest, db_uuid)
    listing = list_archive(dest, uid)
    if not listing.logs:
        raise StorageError("the archive holds no log for this database", path=dest.url)
    islands = _islands(listing.logs)
    if to_time is not None:
        units_all = [n for isl in islands for n in isl]
        times = {n.key: read_unit(dest, n, uid).header.created_at for n in units_all}
        to_lsn = _target_from_time(units_all, times, to_time)
    chain = islands[-1] if to_lsn is None else next(
        (isl for isl in islands if isl[0].first_lsn <= to_lsn <= isl[-1].last_lsn), islands[0])
    end = chain[-1].last_lsn
    target = end if to_lsn is None else to_lsn
    if target < chain[0].first_lsn - 1:
        raise StorageError(f"the archive cannot reach LSN {target}: its log starts at LSN {chain[0].first_lsn} "
                           "(older log was pruned or never shipped)", path=dest.url, lsn=target)
    if target > end:
        gap = gap_after(listing.logs, end, chain[-1].epoch)
        why = f"LSNs {end + 1}..{gap - 1} are missing" if gap else f"it ends at LSN {end}"
        raise StorageError(f"the archive cannot reach LSN {target}: {why}", path=dest.url, lsn=end + 1)
    snap = _pick_snapshot(dest, listing.snapshots, chain, target)
    start = snap[1] if snap else 1
    if snap is None and chain[0].first_lsn > 1:
        raise StorageError(f"no snapshot at or before LSN {target}, and the archived log starts at "
                           f"LSN {chain[0].first_lsn}", path=dest.url, lsn=target)
    # The log must reach the snapshot's own LSN even when the target is exactly that LSN.
    units = [n for n in chain if n.last_lsn >= min(start, target) and n.first_lsn <= target]
    before = [n for n in chain if units and n.last_lsn < units[0].first_lsn]
    prev = (before[-1].key, before[-1].first_lsn, before[-1].last_lsn, before[-1].epoch) if before else None
    return RestorePlan(uid, target, snap[0].key if snap else None, snap[0].lsn if snap else None, start,
                       [n.key for n in units], [(n.first_lsn, n.last_lsn, n.epoch) for n in units],
                       snap[2] if snap else 0, prev)


def _islands(logs: list[LogName]) -> list[list[LogName]]:
    """The archive's log as gap-free runs of units, oldest first (one run when nothing is missing).

    A snapshot shipped after a gap still restores: its run starts after the gap.
    """
    out: list[list[LogName]] = []
    start, epoch = logs[0].first_lsn, 0
    while True:
        chain = select_chain(logs, start, epoch)
        if not chain:
            return out
        out.append(chain)
        nxt = gap_after(logs, chain[-1].last_lsn, chain[-1].epoch)
        if nxt is None:
            return out
        start, epoch = nxt, chain[-1].epoch


def _pick_snapshot(dest: Destination, snaps: list[SnapName], chain: list[LogName],
                   target: int) -> tuple[SnapName, int, int] | None:
    """Newest usable snapshot ≤ target: (name, replay_from, file count), or None."""
    first = chain[0].first_lsn
    epochs = {n.first_lsn: n.epoch for n in chain}
    for snap in reversed(snaps):
        if snap.lsn > target:
            continue
        unit_epoch = next((e for f, e in sorted(epochs.items(), reverse=True) if f <= max(snap.lsn, 1)), 0)
        if snap.epoch > unit_epoch:
            continue  # a snapshot of another branch of history
        try:
            header, _ = decode_object(dest.get(snap.key), snap.key)
        except (CorruptionError, StorageError):
            continue  # a damaged snapshot: an older one (with more log) still works
        if header.first_lsn >= first:
            return snap, header.first_lsn, len(header.extra["files"])
    return None


def restore(dest: Destination, path: str, *, db_uuid: str | None = None, to_lsn: int | None = None,
            to_time: float | None = None, fs: FileSystem | None = None) -> RestorePlan:
    """Rebuild the database as of the target at ``path`` (which must not hold a database)."""
    fs = fs or OsFileSystem()
    path = os.path.abspath(path)
    if fs.exists(path) and fs.listdir(path):
        raise InvalidArgumentError(f"{path} is not empty", path=path, hint="restore into a new directory")
    plan = plan_restore(dest, db_uuid=db_uuid, to_lsn=to_lsn, to_time=to_time)
    tmp = path.rstrip("/") + ".restoring"
    fs.rmtree(tmp)
    fs.makedirs(tmp)
    if plan.snapshot:
        _write_snapshot(dest, fs, tmp, plan)
    _write_log(dest, fs, tmp, plan)
    if fs.exists(path):
        fs.rmtree(path)  # empty, checked above
    fs.rename(tmp, path)
    fs.fsync_dir(os.path.dirname(path))
    return plan


def _write_snapshot(dest: Destination, fs: FileSystem, root: str, plan: RestorePlan) -> None:
    assert plan.snapshot is not None
    header, body = decode_object(dest.get(plan.snapshot), plan.snapshot)
    check_name(header, plan.snapshot, plan.db_uuid)
    manifest = decode_manifest(body, plan.snapshot)
    for rel, meta in sorted(header.extra["files"].items()):
        data = dest.get(file_name(plan.db_uuid, rel))
        check_archived_file(rel, meta, data)
        target = os.path.join(root, *rel.split("/"))
        fs.makedirs(os.path.dirname(target))
        write_file_atomically(fs, target, data)
    write_file_atomically(fs, os.path.join(root, manifest_name(manifest.generation)), body)


def _write_log(dest: Destination, fs: FileSystem, root: str, plan: RestorePlan) -> None:
    """Write the units' frames up to the target as log files, a new file at each epoch change."""
    waldir = os.path.join(root, "wal")
    fs.makedirs(waldir)
    out: WritableFile | None = None
    epoch = -1
    prev: Unit | None = read_unit(dest, LogName(*plan.prev_unit), plan.db_uuid) if plan.prev_unit else None
    try:
        for key, (first, last, e) in zip(plan.units, plan.unit_ranges, strict=True):
            unit = read_unit(dest, LogName(key, first, last, e), plan.db_uuid)
            check_successor(prev, unit)
            prev = unit
            if out is None or unit.header.epoch != epoch:
                out = _new_log_file(fs, waldir, plan.db_uuid, unit.header.epoch, first, out)
                epoch = unit.header.epoch
            keep = [r for r in unit.records if r.lsn <= plan.target_lsn]
            if keep:
                out.write(unit.body[: keep[-1].offset + keep[-1].size])
        if out is None:  # the target is the snapshot itself: an empty log file continues it
            snap = parse_snapshot_name(plan.snapshot or "")
            out = _new_log_file(fs, waldir, plan.db_uuid, snap.epoch if snap else 0, plan.replay_from, None)
        out.sync()
    finally:
        if out is not None:
            out.close()
    fs.fsync_dir(waldir)


def _new_log_file(fs: FileSystem, waldir: str, db_uuid: str, epoch: int, first: int,
                  old: WritableFile | None) -> WritableFile:
    if old is not None:
        old.sync()
        old.close()
    f = fs.create(os.path.join(waldir, log_file_name(first)))
    f.write(new_file_header(db_uuid, epoch, first))
    return f
