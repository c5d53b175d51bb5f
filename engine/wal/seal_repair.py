"""The seal's part of ``sediment repair``: accept a log that ends before what the seal says was durable.

The seal (engine/wal/seal.py) records the LSN through which the log was synced and the
database's identity. When the log ends before that LSN (cut short, damaged at or before it,
deleted) or belongs to another database, the engine refuses to open. Repair then says which
LSNs are lost, sets aside log files of another database, and lowers the seal to where the
repaired log ends, so the directory opens and the loss is on record in the plan.
"""

from __future__ import annotations

import os

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.repair_plan import Action, RepairPlan
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal.check import LogFileState
from sedimentdb.engine.wal.format import SEAL_FILE, SEAL_REPAIRED
from sedimentdb.engine.wal.repair import Checkpoint
from sedimentdb.engine.wal.seal import read_seal, same_database, write_seal

LOWER = "lower-seal"
FOREIGN = "set-aside-foreign-log"
REWRITE = "rewrite-seal"


def plan_seal(plan: RepairPlan, logs: list[LogFileState], needs: Checkpoint | None) -> None:
    """Add the seal's actions to ``plan``, after the log's (``needs``: None when no manifest validates)."""
    actions, unfixable = plan.actions, plan.unfixable
    spath = os.path.join(plan.path, SEAL_FILE)
    try:
        seal = read_seal(OsFileSystem(), spath)
    except StorageError as exc:
        actions.append(Action(REWRITE, spath, f"rewrite the damaged seal ({exc.message}) from the log; "
                                   "what the last writer knew durable is unknown, so a loss cannot be ruled out",
                                   {"lsn": _end_after_repair(logs, actions, set()), "uuid": _log_uuid(logs, needs)}))
        return
    if seal is None:
        return
    handled = {a.path for a in actions if a.kind == "set-aside-log"}  # the log's own plan moves these away
    foreign = {lf.path for lf in logs if lf.header is not None and not same_database(seal, lf.header.db_uuid)
               and lf.path not in handled}
    if foreign:
        if needs is not None:
            unfixable.append(f"log files of another database ({', '.join(sorted(foreign))}) replace this one's, "
                             "and the manifest needs this database's log: restore it from a backup or a replica")
            return
        actions.append(Action(FOREIGN, plan.path, f"set aside {len(foreign)} log file(s) of another database "
                                   f"(not {seal.db_uuid}); this database's log is gone", {"paths": sorted(foreign)}))
    end = _end_after_repair(logs, actions, foreign)
    if end >= seal.lsn:
        return
    lost = f"LSN {seal.lsn}" if end + 1 == seal.lsn else f"LSNs {end + 1}..{seal.lsn}"
    actions.append(Action(LOWER, spath, f"{lost}, durable {seal.describe()} (the seal), are not in the "
                               f"repaired log: they are LOST; lower the seal to LSN {end} so the directory opens",
                               {"lsn": end, "uuid": seal.db_uuid, "lost_from": end + 1, "lost_to": seal.lsn}))


def apply_seal_action(plan: RepairPlan, action: Action) -> bool:
    """Carry out one of this module's actions; False if ``action`` is not one of them."""
    kind, details = action.kind, action.details
    if kind == FOREIGN:
        for p in details["paths"]:
            plan.set_aside(p)
        return True
    if kind in (LOWER, REWRITE):
        spath = os.path.join(plan.path, SEAL_FILE)
        if os.path.exists(spath):
            plan.set_aside(spath, copy=True)
        if details["uuid"]:
            write_seal(OsFileSystem(), spath, details["uuid"], details["lsn"], SEAL_REPAIRED)
        return True
    return False


def _end_after_repair(logs: list[LogFileState], actions: list[Action], skip: set[str]) -> int:
    """The last LSN the log will hold once the planned log actions are done."""
    restart = next((a for a in actions if a.kind == "restart-log"), None)
    if restart is not None:  # the log starts anew after the manifest's checkpoint
        return int(restart.details["first_lsn"]) - 1 + len(restart.details["keep"])
    whole = {a.path for a in actions if a.kind in ("salvage-log", "drop-log-prefix")}  # keep records past damage
    end = 0
    for lf in logs:
        if lf.path in skip:
            continue
        if lf.header is None:  # a torn new file is set aside, any other unreadable header cuts the log here
            return end
        if not lf.regions or lf.path in whole:
            end = lf.records[-1].lsn if lf.records else lf.header.first_lsn - 1
            continue
        first_bad = lf.regions[0][0]
        kept = [r.lsn for r in lf.records if r.offset < first_bad]
        return kept[-1] if kept else lf.header.first_lsn - 1
    return end


def _log_uuid(logs: list[LogFileState], needs: Checkpoint | None) -> str:
    if needs is not None:
        return needs.db_uuid
    return next((lf.header.db_uuid for lf in logs if lf.header is not None), "")

