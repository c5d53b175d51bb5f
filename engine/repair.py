"""``sediment repair``'s engine: the explicit operator decisions the engine never makes alone.

:func:`plan_repair` takes the writer lock, looks at every log file, manifest and segment, and
proposes actions; :func:`apply_repair` carries them out. Nothing is deleted: every file that
is cut, rewritten or replaced is first copied or moved into ``<path>/repair-<time>/``
(engine/repair_plan.py). Each part is planned and applied beside the format it knows:

* the log (engine/wal/repair.py): a torn tail is cut; damage whose LSNs are all in segments
  drops the log before it; otherwise the log is truncated at the last good record, or (with
  ``--salvage``) rewritten without a damaged region that held no whole record; when what is
  left would end before the newest manifest's checkpoint, the log restarts after it.
* the seal (engine/wal/seal_repair.py): when the log will end before the LSN the seal says
  was durable, the plan names the LSNs lost and lowers the seal to the repaired log's end;
  log files of another database are set aside first when no manifest needs this database's log.
* manifests and segments (engine/compactor/repair.py): damaged manifests are set aside,
  segments with damaged derived files are rebuilt, damaged data is replayed from the log
  when it holds every record from LSN 1 (the whole directory is rebuilt) and otherwise the
  segment is dropped, naming what is lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from sedimentdb.engine.compactor.check import newest_manifest
from sedimentdb.engine.compactor.manifest import list_manifests
from sedimentdb.engine.compactor.repair import (
    apply_manifest_action,
    checkpoint_of,
    damaged_segments,
    plan_manifests,
    plan_segments,
)
from sedimentdb.engine.database import Database
from sedimentdb.engine.fileio import FileSystem, OsFileSystem
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.repair_plan import Action, RepairPlan
from sedimentdb.engine.wal import (
    apply_log_action,
    apply_seal_action,
    name_lsn,
    plan_log,
    plan_reach,
    plan_seal,
    read_logs,
)

__all__ = ["Action", "RepairPlan", "apply_repair", "plan_repair"]

REBUILD_FROM_LOG = "rebuild-from-log"


def plan_repair(path: str, *, salvage: bool = False) -> RepairPlan:
    """Take the writer lock of the data directory ``path`` and work out what to do (see the module docstring).

    LockedError if another process holds the directory. Close the plan (or apply it) to
    release the lock.
    """
    fs = OsFileSystem()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    plan = RepairPlan(path, salvage, aside=os.path.join(path, f"repair-{stamp}"))
    plan._lock = fs.lock(os.path.join(path, "LOCK"))
    try:
        _plan(plan, fs)
    except BaseException:
        plan.close()
        raise
    return plan


def _plan(plan: RepairPlan, fs: FileSystem) -> None:
    manifest, damaged = newest_manifest(fs, plan.path)
    plan_manifests(plan, manifest, damaged)
    logs = read_logs(fs, plan.path, manifest.db_uuid if manifest else "")
    needs = checkpoint_of(manifest, plan.path) if manifest else None
    seg_damage = damaged_segments(fs, plan.path, manifest) if manifest else []
    log_whole = plan_log(plan, logs, needs, segments_sound=not seg_damage)
    if needs is not None and not plan.unfixable:
        plan_reach(plan, logs, needs)
    plan_seal(plan, logs, needs)
    log_from_one = bool(logs) and name_lsn(logs[0].path) == 1 and log_whole and not plan.has("drop-log-prefix")
    if manifest is None and damaged and not log_from_one:
        plan.unfixable.append("no manifest validates and the log no longer starts at LSN 1: the state cannot "
                              "be rebuilt; restore the directory from a backup or a replica")
        return
    if manifest is not None:
        plan_segments(plan, fs, manifest, seg_damage, log_from_one)


def apply_repair(plan: RepairPlan, *, progress: Callable[[str, int, int | None], None] = lambda _l, _d, _t: None,
                 logger: Any = None) -> list[str]:
    """Carry out ``plan``; return one line per action done. Releases the lock at the end.

    ``logger`` is handed to the database a rebuild from the log opens.
    """
    fs = OsFileSystem()
    done = []
    replay = False
    try:
        for i, action in enumerate(plan.actions):
            progress("repairing", i, len(plan.actions))
            if action.kind == REBUILD_FROM_LOG:
                replay = True
                continue
            _apply(plan, action, fs)
            done.append(action.description)
        if os.path.isdir(os.path.join(plan.path, "wal")):
            fs.fsync_dir(os.path.join(plan.path, "wal"))
        fs.fsync_dir(plan.path)
    finally:
        plan.close()
    if replay:
        _rebuild_from_log(plan, fs, logger)
        done.append(plan.actions[-1].description)
    progress("repairing", len(plan.actions), len(plan.actions))
    return done


def _apply(plan: RepairPlan, action: Action, fs: FileSystem) -> None:
    if not (apply_seal_action(plan, action) or apply_log_action(plan, action, fs)
            or apply_manifest_action(plan, action, fs)):
        raise ValueError(f"unknown repair action {action.kind}")


def _rebuild_from_log(plan: RepairPlan, fs: FileSystem, logger: Any) -> None:
    """Set aside every manifest, segment and marker, replay the whole log and compact it again."""
    for _gen, mpath in list_manifests(fs, plan.path):
        plan.set_aside(mpath)
    for sub in ("segments", "markers"):
        p = os.path.join(plan.path, sub)
        if os.path.isdir(p):
            plan.set_aside(p)
    fs.fsync_dir(plan.path)
    db = Database.open(plan.path, DatabaseOptions(background_compaction=False), logger=logger)
    try:
        db.compact()
        db.compactor.request_manifest()
    finally:
        db.close()
