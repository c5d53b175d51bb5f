"""``sediment repair``: the explicit operator decisions the engine never makes alone.

:func:`plan_repair` takes the writer lock, looks at every log file, manifest and segment,
and proposes actions; :func:`apply_repair` carries them out. Nothing is deleted: every file
that is cut, rewritten or replaced is first copied or moved into ``<path>/repair-<time>/``.

Log damage (a bad region in a log file):

* a torn tail of the newest file (nothing valid after it): cut it off (the engine would too).
* damage whose lost LSNs are all below every checkpoint of the newest manifest (their
  effects are already in segments): drop the log up to the damage and start the first log
  file at the next good record. Nothing acknowledged is lost.
* otherwise, by default, *truncate*: cut the log at the last good record and set aside every
  later file; the records after it are lost (``wal dump --salvage`` still reads them).
* when what is left would end before the newest manifest's checkpoint (or nothing is left):
  set the log aside and start it anew after the checkpoint (*restart*), keeping the readable
  records that continue it; the segments keep all they hold and the plan names what is lost.
* with ``--salvage``: keep the valid records after the damaged region, but only when no LSN
  is missing (the region held no whole record, e.g. garbage between frames). LSNs are the
  identity of records (checkpoints, segment row versions, replicas): renumbering the records
  after a hole would silently change what they mean, so a hole is explained, not papered over.

The seal (tools/ops/seal_repair.py): when the log will end before the LSN the seal says was
durable (cut short, damaged at or before it, deleted), the plan names the LSNs lost and lowers
the seal to the repaired log's end; log files of another database are set aside first when no
manifest needs this database's log.

Manifest damage: a damaged manifest is set aside (the engine falls back to the previous one).
Segment damage: a segment whose derived files (HNSW graph, summary) are damaged but whose
data files are sound is rebuilt from its raw vectors into a new segment published in a new
manifest; when data files or delete markers are damaged and the log still holds every record
from LSN 1, the whole directory is rebuilt from the log (manifests, segments and markers set
aside, the log replayed, everything compacted again); when the log no longer holds every
record from LSN 1, a new manifest is published without that segment (its files and marker set
aside) and the plan names what is LOST: the segment, its row count and its live ids when its
rows file still reads. Every other segment and the log are kept.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid as uuidlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sedimentdb.engine.compactor.manifest import Manifest, list_manifests, read_manifest, write_manifest
from sedimentdb.engine.fileio import OsFileSystem, write_file_atomically
from sedimentdb.engine.segments import (
    HnswParams,
    SegmentData,
    SegmentDescriptor,
    read_delete_marker,
    write_segment,
)
from sedimentdb.engine.segments import format as SF
from sedimentdb.engine.segments.bodies import decode_metadata, decode_rows, decode_vectors
from sedimentdb.engine.segments.framing import Identity, decode_file
from sedimentdb.engine.segments.strings import StringColumn
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal import (
    FILE_HEADER_SIZE,
    LogFileState,
    log_file_name,
    name_lsn,
    new_file_header,
    read_log_files,
)
from sedimentdb.tools.ops.common import Progress, check_data_dir, no_progress, open_writer
from sedimentdb.tools.ops.seal_repair import apply_seal_action, plan_seal
from sedimentdb.tools.ops.verify import VerifyReport, check_segment_files

DERIVED_FILES = {SF.FILE_GRAPH, SF.FILE_SUMMARY, getattr(SF, "FILE_FILTER", SF.FILE_SUMMARY)}


@dataclass
class Action:
    """One step of a repair."""

    kind: str
    path: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


@dataclass
class RepairPlan:
    """What ``repair`` proposes for one directory; holds the writer lock until closed."""

    path: str
    salvage: bool
    actions: list[Action] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)
    aside: str = ""
    _lock: object | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"path": self.path, "salvage": self.salvage, "aside": self.aside,
                "actions": [a.to_dict() for a in self.actions], "unfixable": self.unfixable}

    def close(self) -> None:
        """Release the writer lock."""
        if self._lock is not None:
            OsFileSystem().unlock(self._lock)
            self._lock = None

    def __enter__(self) -> RepairPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- analysis -----------------------------------------------------------------------------------


def _read_logs(fs: OsFileSystem, apath: str, db_uuid: str = "") -> list[LogFileState]:
    """Every log file of the data directory ``apath`` (of database ``db_uuid``, "" = the first
    file's), read through the engine's cursor (salvage)."""
    return read_log_files(fs, os.path.join(apath, "wal"), db_uuid)


def _read_log(path: str) -> LogFileState:
    """One log file, as :func:`_read_logs` reads it."""
    apath = os.path.dirname(os.path.dirname(path))
    return next(lf for lf in _read_logs(OsFileSystem(), apath) if lf.path == path)


def _newest_manifest(fs: OsFileSystem, path: str, skip: set[str]) -> tuple[Manifest | None, list[str]]:
    """Newest valid manifest (not in ``skip``) and the paths of damaged ones."""
    damaged, newest = [], None
    for _gen, mpath in reversed(list_manifests(fs, path)):
        if mpath in skip:
            continue
        try:
            m = read_manifest(fs, mpath)
        except StorageError:
            damaged.append(mpath)
            continue
        if newest is None:
            newest = m
    return newest, damaged


def plan_repair(path: str, *, salvage: bool = False) -> RepairPlan:
    """Take the writer lock of ``path`` and work out what to do (see the module docstring).

    LockedError if another process holds the directory. Close the plan (or apply it) to
    release the lock.
    """
    apath = check_data_dir(path)
    fs = OsFileSystem()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    plan = RepairPlan(apath, salvage, aside=os.path.join(apath, f"repair-{stamp}"))
    plan._lock = fs.lock(os.path.join(apath, "LOCK"))
    try:
        _plan(plan, fs)
    except BaseException:
        plan.close()
        raise
    return plan


def _plan(plan: RepairPlan, fs: OsFileSystem) -> None:
    apath = plan.path
    manifest, damaged = _newest_manifest(fs, apath, set())
    for mpath in damaged:
        plan.actions.append(Action("set-aside-manifest", mpath, f"set aside damaged manifest {os.path.basename(mpath)}"
                                   + (" (the engine falls back to the previous one)" if manifest else "")))
    logs = _read_logs(fs, apath, manifest.db_uuid if manifest else "")
    seg_damage = _damaged_segments(apath, manifest) if manifest else []
    log_ok = _plan_log(plan, logs, manifest, fs, segments_sound=not seg_damage)
    if manifest is not None and not plan.unfixable:
        _plan_reach(plan, logs, manifest)
    plan_seal(apath, logs, plan.actions, Action, plan.unfixable, manifest)
    log_from_one = (bool(logs) and name_lsn(logs[0].path) == 1 and log_ok
                    and not any(a.kind == "drop-log-prefix" for a in plan.actions))
    if manifest is None and damaged and not log_from_one:
        plan.unfixable.append("no manifest validates and the log no longer starts at LSN 1: the state cannot "
                              "be rebuilt; restore the directory from a backup or a replica")
        return
    if manifest is not None:
        _plan_segments(plan, seg_damage, log_from_one)


def _plan_log(plan: RepairPlan, logs: list[LogFileState], manifest: Manifest | None, fs: OsFileSystem,
              segments_sound: bool) -> bool:
    """Add log actions; return whether the log will be whole (no record lost) afterwards."""
    checkpoint_floor = manifest.replay_from() - 1 if manifest else 0
    for i, lf in enumerate(logs):
        if not lf.regions:
            continue
        is_last = i == len(logs) - 1
        later = [x.path for x in logs[i + 1:]]
        if lf.misplaced is not None:
            return _plan_truncate(plan, lf, 0, name_lsn(lf.path) - 1, later, manifest,
                                  f"the file does not belong here: {lf.misplaced}", first=i == 0)
        if lf.header is None:
            covered = manifest is not None and name_lsn(lf.path) <= manifest.catalog_lsn
            if is_last and i > 0 and len(lf.data) <= FILE_HEADER_SIZE and not covered:
                plan.actions.append(Action("set-aside-log", lf.path, "set aside a new log file whose header was "
                                           "torn by a crash (it holds no record)"))
                continue
            return _plan_truncate(plan, lf, 0, name_lsn(lf.path) - 1, later, manifest, f"unreadable header ({lf.regions[0][3]})",
                                  first=i == 0)
        bad_off, next_off, next_lsn, reason = lf.regions[0]
        last_before = max((r.lsn for r in lf.records if r.offset < bad_off), default=lf.header.first_lsn - 1)
        if is_last and next_lsn is None and len(lf.regions) == 1:
            plan.actions.append(Action("truncate-log", lf.path, f"cut the torn tail of {os.path.basename(lf.path)} "
                                       f"at offset {bad_off} ({len(lf.data) - bad_off} bytes: {reason}); "
                                       "a copy is kept", {"offset": bad_off}))
            continue
        gaps = [(off, nlsn) for off, _n, nlsn, _r in lf.regions]
        missing_ok = all(n is not None for _o, n in gaps)
        lossless = missing_ok and all(_lost(lf, off, nlsn) == [] for off, nlsn in gaps)
        if lossless and plan.salvage:
            plan.actions.append(Action("salvage-log", lf.path, f"rewrite {os.path.basename(lf.path)} without its "
                                       f"{len(gaps)} damaged region(s) (no LSN is missing; {len(lf.records)} "
                                       "records kept); the original is kept", {"regions": lf.regions}))
            continue
        first_lost = last_before + 1
        resume = next_lsn
        if segments_sound and len(lf.regions) == 1 and resume is not None and resume - 1 <= checkpoint_floor:
            plan.actions.append(Action(
                "drop-log-prefix", lf.path,
                f"LSNs {first_lost}..{resume - 1} are damaged but already in segments (every checkpoint is at or "
                f"past LSN {checkpoint_floor}): drop the log before LSN {resume} and start the first log file "
                f"there; {len(logs[:i])} older file(s) and the original are set aside; nothing is lost",
                {"resume_offset": next_off, "resume_lsn": resume, "older": [x.path for x in logs[:i]]}))
            continue
        if plan.salvage:
            lost = f"LSN {first_lost}" if resume in (None, first_lost + 1) else f"LSNs {first_lost}..{resume - 1}"
            plan.unfixable.append(
                f"{lf.path}: the damaged region at offset {bad_off} ({reason}) held {lost}"
                + ("" if resume is not None else " and everything after it")
                + ". Salvage keeps records after a hole only when no LSN is missing: LSNs are the records' "
                "identity (checkpoints, segment versions, replicas), so renumbering would corrupt meaning. "
                "Choose: `sediment repair` without --salvage truncates at LSN " f"{last_before} (losing "
                f"{_count_after(logs, i, bad_off)} record(s) after it), or restore this file from a replica; "
                "`sediment wal dump --salvage --json` extracts the readable records first.")
            return False
        note = " — note: no LSN is missing across the damage, so `--salvage` would keep every record" \
            if lossless else ""
        return _plan_truncate(plan, lf, bad_off, last_before, later, manifest, reason, note,
                              first=i == 0 and not lf.records)
    return True


def _plan_reach(plan: RepairPlan, logs: list[LogFileState], manifest: Manifest) -> None:
    """Make sure the log left by the other actions can serve the newest manifest.

    A log with no file left, or one ending before what the manifest covers, is set aside and
    replaced by an empty log starting after the manifest's checkpoint: the segments keep
    everything they hold, and the records only the log held are named as lost.
    """
    if any(a.kind in ("restart-log", "set-aside-manifest-newer") for a in plan.actions):
        return
    undamaged = all(not lf.regions for lf in logs)
    ends = max([name_lsn(lf.path) - 1 for lf in logs] + [r.lsn for lf in logs for r in lf.records], default=0)
    if not logs or (undamaged and ends < manifest.catalog_lsn):
        why = "there is no log file" if not logs else f"the log ends at LSN {ends}, before the LSN " \
            f"{manifest.catalog_lsn} the manifest covers"
        _plan_restart(plan, logs, manifest, why)
    elif undamaged and manifest.replay_from() < min(name_lsn(lf.path) for lf in logs):
        _plan_checkpoints(plan, manifest, min(name_lsn(lf.path) for lf in logs) - 1)


def _plan_restart(plan: RepairPlan, logs: list[LogFileState], manifest: Manifest, why: str) -> None:
    """Set ``logs`` aside and start an empty log after the manifest's checkpoint (see _plan_reach)."""
    start = manifest.catalog_lsn + 1
    keep: list[tuple[str, int, int]] = []  # (file, offset, size) of the records that continue the checkpoint
    for lf in logs:
        for r in lf.records:
            if r.lsn == start + len(keep):
                keep.append((lf.path, r.offset, r.size))
    readable = [r.lsn for lf in logs for r in lf.records if r.lsn >= start + len(keep)]
    kept = f"the {len(keep)} readable record(s) that continue it (LSNs {start}..{start + len(keep) - 1}) are " \
        "kept; " if keep else ""
    lost = (f"{len(readable)} readable record(s) after a hole (LSNs {min(readable)}..{max(readable)}) are lost"
            if readable else "no readable record is lost")
    bad = sum(len(lf.data) for lf in logs) - sum(r.size for lf in logs for r in lf.records)
    lost += f"; {bad} byte(s) of the log could not be read as records" if bad > 0 else ""
    for lf in logs:
        plan.actions.append(Action("set-aside-log", lf.path, f"set aside log file {os.path.basename(lf.path)}"))
    _plan_checkpoints(plan, manifest, manifest.catalog_lsn)
    plan.actions.append(Action(
        "restart-log", os.path.join(plan.path, "wal", log_file_name(start)),
        f"{why}: start the log anew at LSN {start}, after the manifest's checkpoint; the segments keep every "
        f"record they hold; {kept}{lost} (copies of the old files are kept)",
        {"first_lsn": start, "db_uuid": manifest.db_uuid, "epoch": manifest.epoch, "keep": keep}))


def _plan_checkpoints(plan: RepairPlan, manifest: Manifest, through: int) -> None:
    """Declare the log before ``through`` gone: collections checkpointed earlier lose those writes."""
    behind = {cid: int(e["checkpoint_lsn"]) for cid, e in manifest.collections.items()
              if int(e["checkpoint_lsn"]) < through}
    if not behind:
        return
    names = {c["id"]: c["name"] for c in manifest.catalog.get("collections", [])}
    lost = "; ".join(f"collection {names.get(cid, cid)!r}: its writes at LSNs {ck + 1}..{through} that were only "
                     "in the log" for cid, ck in sorted(behind.items()))
    plan.actions.append(Action("advance-checkpoints", plan.path,
                               f"the log no longer holds LSNs up to {through}: publish a manifest whose checkpoints "
                               f"are at LSN {through}; lost: {lost}", {"through": through}))


def _lost(lf: LogFileState, off: int, nlsn: int | None) -> list[int]:
    """LSNs missing across the damaged region at ``off`` (empty when the region held no record)."""
    before = max((r.lsn for r in lf.records if r.offset < off), default=lf.header.first_lsn - 1 if lf.header else 0)
    if nlsn is None:
        return [before + 1]
    return list(range(before + 1, nlsn))


def _count_after(logs: list[LogFileState], i: int, off: int) -> int:
    return sum(1 for r in logs[i].records if r.offset > off) + sum(len(x.records) for x in logs[i + 1:])


def _plan_truncate(plan: RepairPlan, lf: LogFileState, offset: int, last_good: int, later: list[str],
                   manifest: Manifest | None, reason: str, note: str = "",
                   first: bool = False) -> bool:
    if manifest is not None and (manifest.catalog_lsn > last_good or (first and offset == 0)):
        # The cut would leave the log before what the manifest covers (or nothing of it): keep
        # the newest manifest, whose segments hold everything checkpointed, and start the log
        # after it, rather than fall back to a manifest whose log is long released.
        _plan_restart(plan, _read_logs(OsFileSystem(), plan.path), manifest,
                      f"{os.path.basename(lf.path)} is damaged at offset {offset} ({reason}), so the log would "
                      f"end at LSN {last_good}")
        return False
    lost = sum(1 for r in lf.records if r.offset >= offset)
    plan.actions.append(Action(
        "truncate-log", lf.path,
        f"cut {os.path.basename(lf.path)} at offset {offset} (damage: {reason}); the log then ends at LSN "
        f"{last_good}; {lost} readable record(s) after the damage in this file and {len(later)} later file(s) "
        "are set aside and lost to the database (a copy of everything is kept)" + note,
        {"offset": offset, "later": later, "last_lsn": last_good}))
    return False


def _damaged_segments(path: str, manifest: Manifest) -> list[tuple[str, SegmentDescriptor, set[str], bool]]:
    """(collection id, descriptor, damaged file names, marker damaged) of each damaged segment."""
    scratch = VerifyReport(path)
    fs = OsFileSystem()
    out = []
    for cid, entry in manifest.collections.items():
        for seg in entry["segments"]:
            desc = SegmentDescriptor.from_dict(seg["descriptor"])
            before = len(scratch.problems)
            check_segment_files(path, desc, scratch)
            bad_files = {os.path.basename(p.file or "") for p in scratch.problems[before:]}
            marker_bad = False
            if seg.get("marker"):
                try:
                    read_delete_marker(fs, os.path.join(path, "markers", seg["marker"]["file"]), seg["marker"],
                                       desc.count)
                except StorageError:
                    marker_bad = True
            if bad_files or marker_bad:
                out.append((cid, desc, bad_files, marker_bad))
    return out


def _plan_segments(plan: RepairPlan, damage: list[tuple[str, SegmentDescriptor, set[str], bool]],
                   can_replay: bool) -> None:
    rebuild_all = False
    for cid, desc, bad_files, marker_bad in damage:
        segpath = os.path.join(plan.path, "segments", desc.segment_id)
        if bad_files <= DERIVED_FILES and not marker_bad:
            plan.actions.append(Action("rebuild-segment", segpath,
                                       f"rebuild segment {desc.segment_id} of collection {cid} from its raw "
                                       f"vectors and rows (damaged: {', '.join(sorted(bad_files))}) into a new "
                                       "segment published in a new manifest",
                                       {"collection_id": cid, "segment_id": desc.segment_id}))
        elif can_replay:
            rebuild_all = True
        else:
            plan.actions.append(_plan_drop_segment(plan, cid, desc, bad_files, marker_bad))
    if rebuild_all:
        plan.actions = [a for a in plan.actions if a.kind != "rebuild-segment"]
        plan.actions.append(Action("rebuild-from-log", plan.path,
                                   "data files of a segment are damaged and the log holds every record from LSN 1: "
                                   "set aside all manifests, segments and delete markers, replay the whole log and "
                                   "compact it into new segments"))


def _plan_drop_segment(plan: RepairPlan, cid: str, desc: SegmentDescriptor, bad_files: set[str],
                       marker_bad: bool) -> Action:
    """Drop a segment whose data (or delete marker) is damaged when the log cannot rebuild it.

    Nothing else holds its rows any more (the log before the checkpoint is released), so the
    only way to an openable database that keeps every other segment is a manifest without it;
    the plan names what is LOST: the segment, its row count and, when its rows file still
    reads, the ids of the rows that were live in it.
    """
    segpath = os.path.join(plan.path, "segments", desc.segment_id)
    what = ", ".join(sorted(bad_files | ({"delete marker"} if marker_bad else set())))
    ids = _readable_live_ids(plan.path, cid, desc) if SF.FILE_ROWS not in bad_files else None
    shown = "" if ids is None else f"; lost ids: {', '.join(ids[:20])}" + (f" and {len(ids) - 20} more"
                                                                           if len(ids) > 20 else "")
    live = "" if ids is None else f" ({len(ids)} of them live)"
    unknown = "; its ids cannot be read (rows file damaged)" if ids is None else ""
    return Action(
        "drop-segment", segpath,
        f"segment {desc.segment_id} of collection {_collection_name(plan.path, cid)} has damaged data ({what}) and "
        "the log no longer holds every record from LSN 1 to rebuild it: publish a new manifest without it "
        f"(its files are set aside); LOST: its {desc.count} row(s){live}{unknown}{shown}; every other segment "
        "and the log are kept (restore the segment's rows from a backup or a replica if needed)",
        {"collection_id": cid, "segment_id": desc.segment_id, "count": desc.count, "lost_ids": ids})


def _collection_name(path: str, cid: str) -> str:
    manifest, _damaged = _newest_manifest(OsFileSystem(), path, set())
    names = {c["id"]: c["name"] for c in (manifest.catalog.get("collections", []) if manifest else [])}
    return f"{names[cid]!r} ({cid})" if cid in names else cid


def _readable_live_ids(path: str, cid: str, desc: SegmentDescriptor) -> list[str] | None:
    """Ids of the segment's rows not deleted by its marker (all rows when the marker is
    damaged or absent); None when the rows file does not read."""
    segpath = os.path.join(path, "segments", desc.segment_id)
    ident = Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)
    try:
        ids, _ordinals, _versions = decode_rows(segpath, _read_body(segpath, SF.FILE_ROWS, ident), desc.count)
    except (StorageError, OSError):
        return None
    manifest, _damaged = _newest_manifest(OsFileSystem(), path, set())
    seg = next((s for s in (manifest.collections[cid]["segments"] if manifest else [])
                if s["descriptor"]["segment_id"] == desc.segment_id), {})
    if not seg.get("marker"):
        return list(ids)
    try:
        deleted = read_delete_marker(OsFileSystem(), os.path.join(path, "markers", seg["marker"]["file"]),
                                     seg["marker"], desc.count)
    except StorageError:
        return list(ids)
    return [i for i, d in zip(ids, deleted, strict=True) if not d]


# ---- applying ------------------------------------------------------------------------------------


def _aside(plan: RepairPlan, path: str, copy: bool = False) -> str:
    dest = os.path.join(plan.aside, os.path.relpath(path, plan.path))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if copy:
        shutil.copy2(path, dest)
    else:
        os.replace(path, dest)
    return dest


def apply_repair(plan: RepairPlan, *, progress: Progress = no_progress) -> list[str]:
    """Carry out ``plan``; return one line per action done. Releases the lock at the end."""
    fs = OsFileSystem()
    done = []
    replay = False
    try:
        for i, action in enumerate(plan.actions):
            progress("repairing", i, len(plan.actions))
            if action.kind == "rebuild-from-log":
                replay = True
                continue
            _apply(plan, action, fs)
            done.append(action.description)
        fs.fsync_dir(os.path.join(plan.path, "wal")) if os.path.isdir(os.path.join(plan.path, "wal")) else None
        fs.fsync_dir(plan.path)
    finally:
        plan.close()
    if replay:
        _rebuild_from_log(plan, fs)
        done.append(plan.actions[-1].description)
    progress("repairing", len(plan.actions), len(plan.actions))
    return done


def _apply(plan: RepairPlan, action: Action, fs: OsFileSystem) -> None:
    kind, path, d = action.kind, action.path, action.details
    if apply_seal_action(plan.path, kind, d, lambda p, copy=False: _aside(plan, p, copy)):
        return
    if kind in ("set-aside-manifest", "set-aside-log"):
        _aside(plan, path)
    elif kind == "set-aside-manifest-newer":
        for p in d["paths"]:
            _aside(plan, p)
    elif kind == "truncate-log":
        _aside(plan, path, copy=True)
        fs.truncate(path, d["offset"])
        for p in d.get("later", []):
            _aside(plan, p)
        if d["offset"] == 0:
            _aside(plan, path)
    elif kind == "salvage-log":
        lf = _read_log(path)
        assert lf.header is not None
        body = b"".join(lf.data[r.offset: r.offset + r.size] for r in lf.records)
        _aside(plan, path, copy=True)
        write_file_atomically(fs, path, lf.data[: FILE_HEADER_SIZE] + body)
    elif kind == "drop-log-prefix":
        lf = _read_log(path)
        assert lf.header is not None
        resume = d["resume_lsn"]
        keep = [r for r in lf.records if r.lsn >= resume]
        header = new_file_header(lf.header.db_uuid, lf.header.epoch, resume)
        newpath = os.path.join(os.path.dirname(path), log_file_name(resume))
        for p in d["older"]:
            _aside(plan, p)
        _aside(plan, path)
        write_file_atomically(fs, newpath, header + b"".join(lf.data[r.offset: r.offset + r.size] for r in keep))
    elif kind == "restart-log":
        os.makedirs(os.path.dirname(path), exist_ok=True)
        kept: list[bytes] = []
        for src, off, size in d["keep"]:  # the old files are set aside by now
            with open(os.path.join(plan.aside, os.path.relpath(src, plan.path)), "rb") as f:
                f.seek(off)
                kept.append(f.read(size))
        write_file_atomically(fs, path, new_file_header(d["db_uuid"], d["epoch"], d["first_lsn"]) + b"".join(kept))
    elif kind == "advance-checkpoints":
        _advance_checkpoints(plan, d["through"], fs)
    elif kind == "rebuild-segment":
        _rebuild_segment(plan, d["collection_id"], d["segment_id"], fs)
    elif kind == "drop-segment":
        _drop_segment(plan, d["collection_id"], d["segment_id"], fs)
    else:
        raise ValueError(f"unknown repair action {kind}")


def _read_body(segpath: str, name: str, ident: Identity) -> memoryview:
    with open(os.path.join(segpath, name), "rb") as f:
        data = f.read()
    return decode_file(os.path.join(segpath, name), data, SF.KIND_OF_FILE[name], ident)


def _rebuild_segment(plan: RepairPlan, cid: str, segment_id: str, fs: OsFileSystem) -> None:
    manifest, _damaged = _newest_manifest(fs, plan.path, set())
    assert manifest is not None
    entry = manifest.collections[cid]
    idx = next(i for i, s in enumerate(entry["segments"]) if s["descriptor"]["segment_id"] == segment_id)
    desc = SegmentDescriptor.from_dict(entry["segments"][idx]["descriptor"])
    segdir = os.path.join(plan.path, "segments")
    segpath = os.path.join(segdir, segment_id)
    ident = Identity(desc.segment_id, desc.collection_id, desc.count, desc.dim, desc.min_lsn, desc.max_lsn)
    vectors = decode_vectors(segpath, _read_body(segpath, SF.FILE_VECTORS, ident), desc.count, desc.dim)
    ids, ordinals, versions = decode_rows(segpath, _read_body(segpath, SF.FILE_ROWS, ident), desc.count)
    cols = {name: StringColumn(os.path.join(segpath, name), _read_body(segpath, name, ident), desc.count).all()
            for name in (SF.FILE_DOCUMENTS, SF.FILE_METADATA, SF.FILE_URIS)}
    data = SegmentData(ids=list(ids), ordinals=np.asarray(ordinals, dtype=np.uint64),
                       versions=np.asarray(versions, dtype=np.uint64), vectors=np.array(vectors, dtype=np.float32),
                       documents=cols[SF.FILE_DOCUMENTS],
                       metadatas=[decode_metadata(segpath, t) for t in cols[SF.FILE_METADATA]],
                       uris=cols[SF.FILE_URIS])
    params = HnswParams.from_dict(desc.hnsw) if desc.hnsw else HnswParams(space=desc.space)
    new_id = uuidlib.uuid4().hex
    new_desc = write_segment(fs, segdir, new_id, cid, data, space=desc.space, hnsw=params, min_lsn=desc.min_lsn,
                             max_lsn=desc.max_lsn, build_graph_index=desc.has_graph)
    collections = {k: {**v, "segments": list(v["segments"])} for k, v in manifest.collections.items()}
    collections[cid]["segments"][idx] = {**entry["segments"][idx], "descriptor": new_desc.to_dict()}
    gen = max(g for g, _ in list_manifests(fs, plan.path)) + 1
    write_manifest(fs, plan.path, Manifest(gen, manifest.db_uuid, manifest.epoch, manifest.catalog_lsn,
                                           manifest.catalog, collections, time.time()))
    _aside(plan, segpath)


def _drop_segment(plan: RepairPlan, cid: str, segment_id: str, fs: OsFileSystem) -> None:
    """Publish a manifest without the segment, then set its files and its marker aside."""
    manifest, _damaged = _newest_manifest(fs, plan.path, set())
    assert manifest is not None
    entry = manifest.collections[cid]
    dropped = [s for s in entry["segments"] if s["descriptor"]["segment_id"] == segment_id]
    collections = {k: {**v, "segments": list(v["segments"])} for k, v in manifest.collections.items()}
    collections[cid]["segments"] = [s for s in entry["segments"] if s["descriptor"]["segment_id"] != segment_id]
    gen = max(g for g, _ in list_manifests(fs, plan.path)) + 1
    write_manifest(fs, plan.path, Manifest(gen, manifest.db_uuid, manifest.epoch, manifest.catalog_lsn,
                                           manifest.catalog, collections, time.time()))
    segpath = os.path.join(plan.path, "segments", segment_id)
    if os.path.isdir(segpath):
        _aside(plan, segpath)
    for seg in dropped:
        marker = os.path.join(plan.path, "markers", seg["marker"]["file"]) if seg.get("marker") else ""
        if marker and os.path.exists(marker):
            _aside(plan, marker)


def _advance_checkpoints(plan: RepairPlan, through: int, fs: OsFileSystem) -> None:
    manifest, _damaged = _newest_manifest(fs, plan.path, set())
    assert manifest is not None
    collections = {cid: {**e, "checkpoint_lsn": max(int(e["checkpoint_lsn"]), through)}
                   for cid, e in manifest.collections.items()}
    gen = max(g for g, _ in list_manifests(fs, plan.path)) + 1
    write_manifest(fs, plan.path, Manifest(gen, manifest.db_uuid, manifest.epoch, max(manifest.catalog_lsn, through),
                                           manifest.catalog, collections, time.time()))


def _rebuild_from_log(plan: RepairPlan, fs: OsFileSystem) -> None:
    for _gen, mpath in list_manifests(fs, plan.path):
        _aside(plan, mpath)
    for sub in ("segments", "markers"):
        p = os.path.join(plan.path, sub)
        if os.path.isdir(p):
            _aside(plan, p)
    fs.fsync_dir(plan.path)
    db = open_writer(plan.path)
    try:
        db.compact()
        db.compactor.request_manifest()
    finally:
        db.close()
