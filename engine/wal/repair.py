"""The log's part of ``sediment repair``: what to do about a damaged log, and doing it.

Like etcd's ``wal/repair.go``, this lives beside the reader: the plan is made from what a
salvaging :class:`~sedimentdb.engine.wal.cursor.LogCursor` reads and reports
(:func:`~sedimentdb.engine.wal.check.read_log_files`). A bad region in a log file is handled
so (engine/repair.py's docstring gives the whole directory's rules):

* a torn tail of the newest file (nothing valid after it): cut it off (the engine would too).
* damage whose lost LSNs are all below every checkpoint of the newest manifest (their
  effects are already in segments): drop the log up to the damage and start the first log
  file at the next good record (*drop-log-prefix*). Nothing acknowledged is lost.
* otherwise, by default, *truncate*: cut the log at the last good record and set aside every
  later file; the records after it are lost (``wal dump --salvage`` still reads them).
* when what is left would end before the newest manifest's checkpoint (or nothing is left):
  set the log aside and start it anew after the checkpoint (*restart*), keeping the readable
  records that continue it; the segments keep all they hold and the plan names what is lost.
* with ``--salvage``: keep the valid records after the damaged region, but only when no LSN
  is missing (the region held no whole record, e.g. garbage between frames). LSNs are the
  identity of records (checkpoints, segment row versions, replicas): renumbering the records
  after a hole would silently change what they mean, so a hole is explained, not papered over.

The log knows no manifest: what the newest one needs of the log comes in as a
:class:`Checkpoint`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sedimentdb.engine.fileio import FileSystem, OsFileSystem, write_file_atomically
from sedimentdb.engine.repair_plan import Action, RepairPlan
from sedimentdb.engine.wal.check import LogFileState, read_log_files
from sedimentdb.engine.wal.format import FILE_HEADER_SIZE, name_lsn
from sedimentdb.engine.wal.format import file_name as log_file_name
from sedimentdb.engine.wal.frames import new_file_header

LOG_ACTIONS = ("set-aside-log", "truncate-log", "salvage-log", "drop-log-prefix", "restart-log")


@dataclass(frozen=True)
class Checkpoint:
    """What the newest manifest needs of the log (built by engine/compactor/repair.py)."""

    replay_from: int  # the first LSN a reopen replays
    covered_lsn: int  # the last LSN the manifest's catalog covers: the log must reach it
    db_uuid: str
    epoch: int
    advance: Callable[[int], Action | None]  # the manifest's action when the log up to an LSN is gone


def read_logs(fs: FileSystem, base: str, db_uuid: str = "") -> list[LogFileState]:
    """Every log file of the data directory ``base`` (of database ``db_uuid``, "" = the first
    file's), read through the engine's cursor (salvage)."""
    return read_log_files(fs, os.path.join(base, "wal"), db_uuid)


def read_log(fs: FileSystem, path: str) -> LogFileState:
    """One log file, as :func:`read_logs` reads it."""
    base = os.path.dirname(os.path.dirname(path))
    return next(lf for lf in read_logs(fs, base) if lf.path == path)


# ---- planning -------------------------------------------------------------------------------------


def plan_log(plan: RepairPlan, logs: list[LogFileState], needs: Checkpoint | None, segments_sound: bool) -> bool:
    """Add log actions to ``plan``; return whether the log will be whole (no record lost) afterwards."""
    for i, lf in enumerate(logs):
        if not lf.regions:
            continue
        later = [x.path for x in logs[i + 1:]]
        if lf.misplaced is not None:
            return _plan_truncate(plan, lf, 0, name_lsn(lf.path) - 1, later, needs,
                                  f"the file does not belong here: {lf.misplaced}", first=i == 0)
        if lf.header is None:
            if _torn_new_file(lf, i, len(logs), needs):
                plan.actions.append(Action("set-aside-log", lf.path, "set aside a new log file whose header was "
                                           "torn by a crash (it holds no record)"))
                continue
            return _plan_truncate(plan, lf, 0, name_lsn(lf.path) - 1, later, needs,
                                  f"unreadable header ({lf.regions[0][3]})", first=i == 0)
        whole = _plan_damaged_file(plan, logs, i, needs, segments_sound)
        if whole is not None:
            return whole
    return True


def _torn_new_file(lf: LogFileState, i: int, count: int, needs: Checkpoint | None) -> bool:
    """A newest file (not the only one) whose header a crash tore: it holds no record anyone needs."""
    covered = needs is not None and name_lsn(lf.path) <= needs.covered_lsn
    return i == count - 1 and i > 0 and len(lf.data) <= FILE_HEADER_SIZE and not covered


def _plan_damaged_file(plan: RepairPlan, logs: list[LogFileState], i: int, needs: Checkpoint | None,
                       segments_sound: bool) -> bool | None:
    """Plan for file ``i`` (its header reads, it has damaged regions); None: go on to the next file."""
    lf = logs[i]
    assert lf.header is not None
    bad_off, next_off, next_lsn, reason = lf.regions[0]
    last_before = max((r.lsn for r in lf.records if r.offset < bad_off), default=lf.header.first_lsn - 1)
    if i == len(logs) - 1 and next_lsn is None and len(lf.regions) == 1:
        plan.actions.append(Action("truncate-log", lf.path, f"cut the torn tail of {os.path.basename(lf.path)} "
                                   f"at offset {bad_off} ({len(lf.data) - bad_off} bytes: {reason}); "
                                   "a copy is kept", {"offset": bad_off}))
        return None
    gaps = [(off, nlsn) for off, _n, nlsn, _r in lf.regions]
    lossless = all(n is not None for _o, n in gaps) and all(_lost(lf, off, nlsn) == [] for off, nlsn in gaps)
    if lossless and plan.salvage:
        plan.actions.append(Action("salvage-log", lf.path, f"rewrite {os.path.basename(lf.path)} without its "
                                   f"{len(gaps)} damaged region(s) (no LSN is missing; {len(lf.records)} "
                                   "records kept); the original is kept", {"regions": lf.regions}))
        return None
    first_lost, resume = last_before + 1, next_lsn
    floor = needs.replay_from - 1 if needs else 0  # every checkpoint is at or past it
    if segments_sound and len(lf.regions) == 1 and resume is not None and resume - 1 <= floor:
        plan.actions.append(Action(
            "drop-log-prefix", lf.path,
            f"LSNs {first_lost}..{resume - 1} are damaged but already in segments (every checkpoint is at or "
            f"past LSN {floor}): drop the log before LSN {resume} and start the first log file "
            f"there; {len(logs[:i])} older file(s) and the original are set aside; nothing is lost",
            {"resume_offset": next_off, "resume_lsn": resume, "older": [x.path for x in logs[:i]]}))
        return None
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
    return _plan_truncate(plan, lf, bad_off, last_before, [x.path for x in logs[i + 1:]], needs, reason, note,
                          first=i == 0 and not lf.records)


def plan_reach(plan: RepairPlan, logs: list[LogFileState], needs: Checkpoint) -> None:
    """Make sure the log left by the other actions can serve the newest manifest.

    A log with no file left, or one ending before what the manifest covers, is set aside and
    replaced by an empty log starting after the manifest's checkpoint: the segments keep
    everything they hold, and the records only the log held are named as lost.
    """
    if plan.has("restart-log"):
        return
    undamaged = all(not lf.regions for lf in logs)
    ends = max([name_lsn(lf.path) - 1 for lf in logs] + [r.lsn for lf in logs for r in lf.records], default=0)
    if not logs or (undamaged and ends < needs.covered_lsn):
        why = "there is no log file" if not logs else f"the log ends at LSN {ends}, before the LSN " \
            f"{needs.covered_lsn} the manifest covers"
        _plan_restart(plan, logs, needs, why)
    elif undamaged and needs.replay_from < min(name_lsn(lf.path) for lf in logs):
        _advance(plan, needs, min(name_lsn(lf.path) for lf in logs) - 1)


def _advance(plan: RepairPlan, needs: Checkpoint, through: int) -> None:
    """Declare the log up to ``through`` gone (the manifest's checkpoints move there)."""
    action = needs.advance(through)
    if action is not None:
        plan.actions.append(action)


def _plan_restart(plan: RepairPlan, logs: list[LogFileState], needs: Checkpoint, why: str) -> None:
    """Set ``logs`` aside and start an empty log after the manifest's checkpoint (see plan_reach)."""
    start = needs.covered_lsn + 1
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
    _advance(plan, needs, needs.covered_lsn)
    plan.actions.append(Action(
        "restart-log", os.path.join(plan.path, "wal", log_file_name(start)),
        f"{why}: start the log anew at LSN {start}, after the manifest's checkpoint; the segments keep every "
        f"record they hold; {kept}{lost} (copies of the old files are kept)",
        {"first_lsn": start, "db_uuid": needs.db_uuid, "epoch": needs.epoch, "keep": keep}))


def _lost(lf: LogFileState, off: int, nlsn: int | None) -> list[int]:
    """LSNs missing across the damaged region at ``off`` (empty when the region held no record)."""
    before = max((r.lsn for r in lf.records if r.offset < off), default=lf.header.first_lsn - 1 if lf.header else 0)
    if nlsn is None:
        return [before + 1]
    return list(range(before + 1, nlsn))


def _count_after(logs: list[LogFileState], i: int, off: int) -> int:
    return sum(1 for r in logs[i].records if r.offset > off) + sum(len(x.records) for x in logs[i + 1:])


def _plan_truncate(plan: RepairPlan, lf: LogFileState, offset: int, last_good: int, later: list[str],
                   needs: Checkpoint | None, reason: str, note: str = "", first: bool = False) -> bool:
    if needs is not None and (needs.covered_lsn > last_good or (first and offset == 0)):
        # The cut would leave the log before what the manifest covers (or nothing of it): keep
        # the newest manifest, whose segments hold everything checkpointed, and start the log
        # after it, rather than fall back to a manifest whose log is long released.
        _plan_restart(plan, read_logs(OsFileSystem(), plan.path), needs,
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


# ---- applying -------------------------------------------------------------------------------------


def apply_log_action(plan: RepairPlan, action: Action, fs: FileSystem) -> bool:
    """Carry out one of this module's actions; False if ``action`` is not one of them."""
    kind, path, d = action.kind, action.path, action.details
    if kind not in LOG_ACTIONS:
        return False
    if kind == "set-aside-log":
        plan.set_aside(path)
    elif kind == "truncate-log":
        _truncate(plan, path, d, fs)
    elif kind == "salvage-log":
        lf = read_log(fs, path)
        body = b"".join(lf.data[r.offset: r.offset + r.size] for r in lf.records)
        plan.set_aside(path, copy=True)
        write_file_atomically(fs, path, lf.data[: FILE_HEADER_SIZE] + body)
    elif kind == "drop-log-prefix":
        _drop_prefix(plan, path, d, fs)
    else:
        _restart(plan, path, d, fs)
    return True


def _truncate(plan: RepairPlan, path: str, d: dict, fs: FileSystem) -> None:
    plan.set_aside(path, copy=True)
    fs.truncate(path, d["offset"])
    for p in d.get("later", []):
        plan.set_aside(p)
    if d["offset"] == 0:
        plan.set_aside(path)


def _drop_prefix(plan: RepairPlan, path: str, d: dict, fs: FileSystem) -> None:
    lf = read_log(fs, path)
    assert lf.header is not None
    resume = d["resume_lsn"]
    keep = [r for r in lf.records if r.lsn >= resume]
    header = new_file_header(lf.header.db_uuid, lf.header.epoch, resume)
    newpath = os.path.join(os.path.dirname(path), log_file_name(resume))
    for p in d["older"]:
        plan.set_aside(p)
    plan.set_aside(path)
    write_file_atomically(fs, newpath, header + b"".join(lf.data[r.offset: r.offset + r.size] for r in keep))


def _restart(plan: RepairPlan, path: str, d: dict, fs: FileSystem) -> None:
    fs.makedirs(os.path.dirname(path))
    kept = []
    for src, off, size in d["keep"]:  # the old files are set aside by now
        kept.append(fs.read_bytes(plan.aside_of(src))[off: off + size])
    write_file_atomically(fs, path, new_file_header(d["db_uuid"], d["epoch"], d["first_lsn"]) + b"".join(kept))
