"""Shipping a database's log and snapshots to an archive (``sediment replicate``).

Each round: (1) record the LSN shipped so far in ``replication/hold`` so the primary's
compactor keeps every log file not yet shipped, and those holding the archive's newest unit
(a restarted shipper checks that unit against the local log); (2) read the complete records
after the archive's head from the log files (sealed files and the live tail alike) and ship
them as log units, cut before a NewEpoch record and at a size limit (a unit may span log
files); (3) if the newest manifest is covered by the shipped log and not archived yet, ship
its segment files and markers, then the snapshot object that lists them (so a snapshot never
names a file that is not there). The shipper works from the files, in the primary's process or in
another one: it takes no lock and writes nothing in the data directory but the hold.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sedimentdb.engine.compactor.manifest import encode as encode_manifest
from sedimentdb.engine.compactor.manifest import list_manifests, read_manifest
from sedimentdb.engine.database import REPLICATION_HOLD
from sedimentdb.engine.fileio import FileSystem, OsFileSystem, write_file_atomically
from sedimentdb.engine.logkeys import get_logger
from sedimentdb.engine.replication.archive import list_archive, read_unit
from sedimentdb.engine.replication.destination import Destination
from sedimentdb.engine.replication.objects import (
    ObjectHeader,
    encode_object,
    file_name,
    log_name,
    sha256,
    snapshot_name,
)
from sedimentdb.engine.replication.retention import prune
from sedimentdb.engine.replication.status import Hold, encode_hold
from sedimentdb.engine.storage_errors import CorruptionError, StorageError
from sedimentdb.engine.wal import (
    REC_NEW_EPOCH,
    STRICT,
    LogCursor,
    LogRecord,
    Position,
    list_log_files,
    read_header,
)

MAX_UNIT_BYTES = 16 << 20


class FencedError(StorageError):
    """The archive holds a newer epoch or a longer history: this primary must not ship."""


@dataclass
class Head:
    """The end of the shipped log: last LSN, its unit's checksum and epoch."""

    lsn: int = 0
    checksum: str = ""
    epoch: int = 0


@dataclass
class RoundResult:
    """What one shipping round did."""

    units: int = 0
    records: int = 0
    bytes: int = 0
    snapshot: str | None = None
    head: int = 0
    local_lsn: int = 0


@dataclass
class ShipperState:
    """What a shipper remembers between rounds."""

    head: Head = field(default_factory=Head)
    last_snapshot_gen: int = 0
    last_snapshot_time: float = 0.0
    snapshot_checksum: str = ""


class Shipper:
    """Ships the database at ``path`` to ``dest``; call :meth:`ship_round` repeatedly."""

    def __init__(self, path: str, dest: Destination, *, fs: FileSystem | None = None,
                 snapshot_interval: float = 3600.0, clock: Callable[[], float] = time.time,
                 retain_snapshots: int | None = None, logger: Any = None) -> None:
        self.path = os.path.abspath(path)
        self.dest = dest
        self.fs = fs or OsFileSystem()
        self.snapshot_interval = snapshot_interval
        self.retain_snapshots = retain_snapshots
        self.clock = clock
        self.log = logger or get_logger("sedimentdb.replication")
        self.db_uuid = ""
        self.state = ShipperState()
        self._started = False
        self._hold: tuple[int, int] | None = None  # (shipped LSN, release LSN) last written
        self._head_first = 1  # first LSN of the archive's newest unit (the head's)
        self._position: Position | None = None  # where the last round's read of the log stopped
        self._shipped_files: dict[str, dict[str, Any]] = {}  # segment files are immutable: ship once

    # ---- startup -------------------------------------------------------------------------------

    def _start(self) -> None:
        paths = self._log_paths()
        if not paths:
            raise StorageError("no log files: not a database directory", path=self.path)
        header = self._header(paths[0])
        self.db_uuid = header.db_uuid
        listing = list_archive(self.dest, self.db_uuid)
        top = self._find_head(listing.logs)
        if top is not None:
            unit = read_unit(self.dest, top, self.db_uuid)
            self.state.head = Head(top.last_lsn, unit.header.checksum, top.epoch)
            self._head_first = unit.header.first_lsn
            self._check_local_matches(unit)
        if listing.snapshots:
            snap = listing.snapshots[-1]
            self.state.last_snapshot_gen = snap.generation
            self.state.snapshot_checksum = _object_checksum(self.dest, snap.key)
            self.state.last_snapshot_time = self.clock()
        self._started = True

    def _find_head(self, logs: list[Any]) -> Any:
        """The archived unit this database continues from (None: the archive is empty).

        Normally the unit reaching furthest. A promoted primary whose epoch has not been
        shipped yet continues from the unit ending right before its NewEpoch record (where
        it forked), even if the old primary shipped further in the old epoch.
        """
        own = self._current_epoch()
        mine = [n for n in logs if n.epoch == own]
        fork = None if mine else self._epoch_start(own)
        if fork is not None:
            at_fork = [n for n in logs if n.last_lsn == fork - 1 and n.epoch < own]
            if at_fork:
                return max(at_fork, key=lambda n: n.epoch)
        usable = [n for n in logs if n.epoch <= own]
        return max(usable, key=lambda n: (n.last_lsn, n.epoch)) if usable else None

    def _epoch_start(self, epoch: int) -> int | None:
        """LSN of the local NewEpoch record that began ``epoch`` (None if not in the local log)."""
        if epoch == 0:
            return None
        for raw, _data, e in self._read_records(1):
            if raw.rtype == REC_NEW_EPOCH and e == epoch:
                return raw.lsn
        return None

    def _check_local_matches(self, unit: Any) -> None:
        """The archive's head must be in our log with the same bytes, or we are not its primary."""
        records = self._read_records(unit.header.first_lsn, unit.header.last_lsn)
        if not records or records[-1][0].lsn < unit.header.last_lsn:
            have = records[-1][0].lsn if records else unit.header.first_lsn - 1
            raise FencedError(f"the archive's log reaches LSN {unit.header.last_lsn}, this database only {have}",
                              path=self.dest.url, lsn=have + 1,
                              hint="another primary ships here, or this database was restored to an "
                                   "earlier point: ship it to a new destination")
        body = b"".join(data for _raw, data, _e in records)
        if sha256(body) != unit.header.checksum:
            raise FencedError("this database's log differs from the archive at LSNs "
                              f"{unit.header.first_lsn}..{unit.header.last_lsn}", path=self.dest.url,
                              lsn=unit.header.first_lsn,
                              hint="a diverged copy cannot ship to this archive: use a new destination")

    # ---- reading the local log -----------------------------------------------------------------

    def _log_paths(self) -> list[str]:
        return list_log_files(self.fs, os.path.join(self.path, "wal"))

    def _header(self, path: str) -> Any:
        return read_header(self.fs, path)

    def _read_records(self, first: int, last: int | None = None) -> list[tuple[LogRecord, bytes, int]]:
        """Complete records with LSN in [first, last] as (record, frame bytes, epoch), in order.

        Read through the engine's live cursor: a record being written ends the read (it ships
        next round), a file released meanwhile too. The live file is read from where the
        previous round stopped, not from its start, so a round costs what is new.
        """
        pos = self._position
        start = pos if last is None and pos is not None and pos.next_lsn <= first else None
        cursor = LogCursor(self.fs, os.path.join(self.path, "wal"), first, STRICT, to_lsn=last, live=True,
                           start=start)
        out = [(rec, rec.frames, rec.epoch) for rec in cursor]
        if last is None and cursor.position is not None:
            self._position = cursor.position
        return out

    # ---- a round ---------------------------------------------------------------------------------

    def ship_round(self, snapshot: bool | None = None) -> RoundResult:
        """Ship everything new; a snapshot when due (``snapshot`` True forces, False skips)."""
        if not self._started:
            self._start()
        self._write_hold()
        self._check_fence()
        result = RoundResult()
        records = self._read_records(self.state.head.lsn + 1)
        # An empty archive starts wherever the local log does (a snapshot covers what is before).
        if records and self.state.head.lsn and records[0][0].lsn != self.state.head.lsn + 1:
            raise StorageError(f"the local log no longer holds LSN {self.state.head.lsn + 1} (it starts at "
                               f"{records[0][0].lsn})", path=self.path, lsn=self.state.head.lsn + 1,
                               hint="log was released before it was shipped; ship to a new destination")
        for unit in _cut_units(records):
            self._ship_unit(unit, result)
        self._write_hold()
        result.head = self.state.head.lsn
        result.local_lsn = records[-1][0].lsn if records else self.state.head.lsn
        if snapshot is not False:
            due = snapshot or self.clock() - self.state.last_snapshot_time >= self.snapshot_interval
            if due:
                result.snapshot = self.ship_snapshot()
        if result.snapshot and self.retain_snapshots:
            prune(self.dest, self.db_uuid, keep_snapshots=self.retain_snapshots, now=self.clock())
        return result

    def _check_fence(self) -> None:
        listing = list_archive(self.dest, self.db_uuid)
        own_epoch = self._current_epoch()
        newest = listing.max_epoch()
        if newest > own_epoch:
            raise FencedError(f"the archive holds epoch {newest}, newer than this database's {own_epoch}: "
                              "a replica was promoted", path=self.dest.url,
                              hint="this primary was superseded; stop writing to it")

    def _current_epoch(self) -> int:
        paths = self._log_paths()
        epoch = self._header(paths[-1]).epoch if paths else 0
        return max(epoch, self.state.head.epoch)

    def _ship_unit(self, unit: list[tuple[LogRecord, bytes, int]], result: RoundResult) -> None:
        body = b"".join(data for _r, data, _e in unit)
        first, last, epoch = unit[0][0].lsn, unit[-1][0].lsn, unit[0][2]
        header = ObjectHeader("log", self.db_uuid, epoch, first, last, sha256(body),
                              self.state.head.checksum, self.clock())
        self.dest.put_once(log_name(self.db_uuid, first, last, epoch), encode_object(header, body))
        self.state.head = Head(last, header.checksum, epoch)
        self._head_first = first
        result.units += 1
        result.records += len(unit)
        result.bytes += len(body)

    def _write_hold(self) -> None:
        # The log is kept from the head unit's first record, not only after the head: a
        # restarted shipper compares that whole unit with the local log (_check_local_matches),
        # and a unit may span log files, so a checkpoint could otherwise release its start.
        hold = (self.state.head.lsn, min(self.state.head.lsn, self._head_first - 1))
        if hold == self._hold:
            return
        self._hold = hold
        path = os.path.join(self.path, REPLICATION_HOLD)
        self.fs.makedirs(os.path.dirname(path))
        # The time lets `replication_status` report how long ago the shipped LSN was reached.
        write_file_atomically(self.fs, path, encode_hold(Hold(hold[0], self.dest.url, self.clock(),
                                                              release_lsn=hold[1])))

    # ---- snapshots --------------------------------------------------------------------------------

    def ship_snapshot(self) -> str | None:
        """Ship the newest manifest (if the shipped log covers it and it is new); its key or None."""
        found = list_manifests(self.fs, self.path)
        for _gen, mpath in reversed(found):
            try:
                manifest = read_manifest(self.fs, mpath)
            except (CorruptionError, StorageError):
                continue
            if manifest.generation <= self.state.last_snapshot_gen or manifest.catalog_lsn > self.state.head.lsn:
                return None
            try:
                return self._ship_manifest(manifest)
            except StorageError as exc:  # a file was collected meanwhile: a newer manifest comes
                self.log.warning("snapshot skipped", error=str(exc))
                return None
        return None

    def _ship_manifest(self, manifest: Any) -> str:
        files: dict[str, dict[str, Any]] = {}
        for rel in sorted(manifest.files()):
            for sub in self._expand(rel):
                if sub not in self._shipped_files:
                    data = self.fs.read_bytes(os.path.join(self.path, *sub.split("/")))
                    self.dest.put_once(file_name(self.db_uuid, sub), data)
                    self._shipped_files[sub] = {"size": len(data), "sha256": sha256(data)}
                files[sub] = self._shipped_files[sub]
        body = encode_manifest(manifest)
        extra = {"generation": manifest.generation, "files": files, "manifest_created_at": manifest.created_at}
        header = ObjectHeader("snapshot", self.db_uuid, manifest.epoch, manifest.replay_from(),
                              manifest.catalog_lsn, sha256(body), self.state.snapshot_checksum,
                              self.clock(), extra)
        key = snapshot_name(self.db_uuid, manifest.catalog_lsn, manifest.epoch, manifest.generation)
        self.dest.put_once(key, encode_object(header, body))
        self.state.last_snapshot_gen = manifest.generation
        self.state.last_snapshot_time = self.clock()
        self.state.snapshot_checksum = header.checksum
        self.log.info("snapshot shipped", key=key, files=len(files))
        return key

    def _expand(self, rel: str) -> list[str]:
        """A manifest reference as files: a segment directory lists its files."""
        full = os.path.join(self.path, *rel.split("/"))
        if rel.startswith("segments/"):
            return [f"{rel}/{name}" for name in self.fs.listdir(full)]
        return [rel]


def _object_checksum(dest: Destination, key: str) -> str:
    from sedimentdb.engine.replication.objects import decode_object

    header, _ = decode_object(dest.get(key), key)
    return header.checksum


def _cut_units(records: list[tuple[LogRecord, bytes, int]]) -> list[list[tuple[LogRecord, bytes, int]]]:
    """Group records into units: never across an epoch change, at most MAX_UNIT_BYTES each."""
    units: list[list[tuple[LogRecord, bytes, int]]] = []
    cur: list[tuple[LogRecord, bytes, int]] = []
    size = 0
    for item in records:
        if cur and (item[2] != cur[0][2] or size + len(item[1]) > MAX_UNIT_BYTES):
            units.append(cur)
            cur, size = [], 0
        cur.append(item)
        size += len(item[1])
    if cur:
        units.append(cur)
    return units


def release_hold(path: str, fs: FileSystem | None = None) -> bool:
    """Turn replication off for ``path``: the log is released again. Whether a hold existed."""
    fs = fs or OsFileSystem()
    hold = os.path.join(os.path.abspath(path), REPLICATION_HOLD)
    if not fs.exists(hold):
        return False
    fs.unlink(hold)
    return True


def replicate(path: str, dest: Destination, *, once: bool = False, interval: float = 1.0,
              snapshot_interval: float = 3600.0, retain_snapshots: int | None = None, stop: Callable[[], bool] | None = None,
              on_round: Callable[[RoundResult], None] | None = None) -> Shipper:
    """Ship ``path`` to ``dest``: one round (with a snapshot) if ``once``, else until ``stop()``."""
    shipper = Shipper(path, dest, snapshot_interval=snapshot_interval, retain_snapshots=retain_snapshots)
    while True:
        result = shipper.ship_round(snapshot=True if once else None)
        if on_round:
            on_round(result)
        if once or (stop is not None and stop()):
            return shipper
        time.sleep(interval)
