"""Reading an archive: which log units and snapshots it holds, the LSN chain, full verification.

The chain is built from names alone (cheap: one listing): starting at an LSN, the next unit is
the one that begins right after the previous one ends; where a promoted primary and its
superseded predecessor both shipped a unit starting at the same LSN, the higher epoch wins,
and a unit of an epoch older than the chain's is never taken. Contents are verified when a
unit is read (:func:`read_unit`): envelope and body checksums, name, identity, every frame's
own checksums and an unbroken LSN sequence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sedimentdb.engine.replication.destination import Destination
from sedimentdb.engine.replication.objects import (
    LOG_DIR,
    SNAP_DIR,
    LogName,
    ObjectHeader,
    SnapName,
    check_name,
    decode_object,
    parse_log_name,
    parse_snapshot_name,
)
from sedimentdb.engine.replication.snapshot_check import SnapshotChecker
from sedimentdb.engine.storage_errors import CorruptionError, StorageError
from sedimentdb.engine.wal import LogRecord, read_run


@dataclass
class Unit:
    """A log unit read and verified."""

    name: LogName
    header: ObjectHeader
    body: bytes
    records: list[LogRecord]


@dataclass
class Listing:
    """One listing of an archive for one database."""

    db_uuid: str
    logs: list[LogName] = field(default_factory=list)
    snapshots: list[SnapName] = field(default_factory=list)
    strangers: list[str] = field(default_factory=list)  # keys that are no valid object name

    def max_epoch(self) -> int:
        """The highest epoch any object names (0 if empty)."""
        return max([n.epoch for n in self.logs] + [s.epoch for s in self.snapshots], default=0)


def database_uuids(dest: Destination) -> list[str]:
    """The database UUIDs an archive holds objects for."""
    return sorted({k.split("/", 1)[0] for k in dest.list("") if "/" in k})


def resolve_uuid(dest: Destination, db_uuid: str | None) -> str:
    """``db_uuid`` or the only database in the archive (StorageError if none or several)."""
    if db_uuid:
        return db_uuid
    found = database_uuids(dest)
    if len(found) != 1:
        raise StorageError(f"the archive holds {len(found)} databases ({', '.join(found) or 'none'})",
                           path=dest.url, hint="name one with --uuid" if found else "ship to it first")
    return found[0]


def list_archive(dest: Destination, db_uuid: str) -> Listing:
    """Every log unit and snapshot of ``db_uuid``, from one listing."""
    out = Listing(db_uuid)
    for key in dest.list(f"{db_uuid}/"):
        sub = key.split("/")[1] if key.count("/") >= 2 else ""
        if sub == LOG_DIR:
            named = parse_log_name(key)
            out.logs.append(named) if named else out.strangers.append(key)
        elif sub == SNAP_DIR:
            snap = parse_snapshot_name(key)
            out.snapshots.append(snap) if snap else out.strangers.append(key)
    out.logs.sort(key=lambda n: (n.first_lsn, n.epoch))
    out.snapshots.sort(key=lambda s: (s.lsn, s.epoch, s.generation))
    return out


def select_chain(logs: list[LogName], start_lsn: int, epoch: int = 0) -> list[LogName]:
    """The units that continue the log from ``start_lsn`` without a gap (see module docstring)."""
    by_first: dict[int, list[LogName]] = defaultdict(list)
    for n in logs:
        by_first[n.first_lsn].append(n)
    chain: list[LogName] = []
    pos = start_lsn - 1
    while True:
        cands = [n for n in by_first.get(pos + 1, []) if n.epoch >= epoch and n.last_lsn >= n.first_lsn]
        if not cands:
            return chain
        nxt = max(cands, key=lambda n: n.epoch)
        chain.append(nxt)
        pos, epoch = nxt.last_lsn, nxt.epoch


def gap_after(logs: list[LogName], pos: int, epoch: int) -> int | None:
    """The first LSN of a unit past ``pos + 1`` (a gap) if the chain cannot reach it, else None."""
    later = [n.first_lsn for n in logs if n.first_lsn > pos + 1 and n.epoch >= epoch]
    return min(later) if later else None


def read_unit(dest: Destination, name: LogName, db_uuid: str) -> Unit:
    """Read a log unit and verify it completely (CorruptionError naming the key if not)."""
    header, body = decode_object(dest.get(name.key), name.key)
    check_name(header, name.key, db_uuid)
    scan = read_run(body, header.first_lsn, header.epoch, name.key)
    if scan.bad_offset is not None:
        raise CorruptionError(f"log unit holds a bad record ({scan.bad_reason})", path=name.key,
                              offset=scan.bad_offset, lsn=header.first_lsn)
    last = scan.records[-1].lsn if scan.records else header.first_lsn - 1
    if last != header.last_lsn or scan.end != len(body):
        raise CorruptionError(f"log unit holds LSNs up to {last}, its header says {header.last_lsn}",
                              path=name.key, lsn=last + 1)
    return Unit(name, header, body, scan.records)


def check_successor(prev: Unit | None, unit: Unit) -> None:
    """Raise CorruptionError unless ``unit`` continues ``prev`` (LSN, checksum chain, epoch)."""
    if prev is None:
        return
    h, p = unit.header, prev.header
    if h.first_lsn != p.last_lsn + 1:
        raise CorruptionError(f"log unit starts at LSN {h.first_lsn}, expected {p.last_lsn + 1}",
                              path=unit.name.key, lsn=p.last_lsn + 1, hint="a unit is missing or reordered")
    if h.prev_checksum != p.checksum:
        raise CorruptionError("log unit does not name its predecessor's checksum: the histories differ",
                              path=unit.name.key, lsn=h.first_lsn,
                              hint="a unit was replaced, or two primaries shipped to one archive")
    if h.epoch < p.epoch:
        raise CorruptionError(f"log unit of epoch {h.epoch} follows epoch {p.epoch}: a superseded "
                              "primary's records are refused", path=unit.name.key, lsn=h.first_lsn)


def verify_archive(dest: Destination, db_uuid: str) -> list[str]:
    """Read every object of ``db_uuid`` and return the problems found (empty = sound)."""
    listing = list_archive(dest, db_uuid)
    problems = [f"{k}: not a valid archive object name (a stray copy?)" for k in listing.strangers]
    if not listing.logs:
        return problems + ["no log units"]
    start = listing.logs[0].first_lsn
    chain = select_chain(listing.logs, start)
    chosen = {n.key for n in chain}
    prev: Unit | None = None
    for name in chain:
        try:
            unit = read_unit(dest, name, db_uuid)
            check_successor(prev, unit)
            prev = unit
        except (CorruptionError, StorageError) as exc:
            problems.append(str(exc))
            prev = None
    end = chain[-1].last_lsn if chain else start - 1
    gap = gap_after(listing.logs, end, chain[-1].epoch if chain else 0)
    if gap is not None:
        problems.append(f"gap: LSNs {end + 1}..{gap - 1} are missing from the archive")
    for n in listing.logs:
        if n.key not in chosen and n.first_lsn <= end and n.epoch >= _epoch_at(chain, n.first_lsn):
            problems.append(f"{n.key}: overlaps the log chain (duplicated or re-cut unit)")
    snapshots = SnapshotChecker(dest, db_uuid)
    for snap in listing.snapshots:
        problems += snapshots.check(snap.key)
    return problems


def _epoch_at(chain: list[LogName], lsn: int) -> int:
    for n in chain:
        if n.first_lsn <= lsn <= n.last_lsn:
            return n.epoch
    return 0
