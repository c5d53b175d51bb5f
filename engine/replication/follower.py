"""A read replica fed from an archive (``sediment follow``) and its promotion.

Bootstrap restores the archive's newest state (newest snapshot + log) into the directory.
After that the follower holds the database open (it is a real database: its compactor runs,
so its log does not grow without bound) and applies each new log unit in LSN order, only
after checking the unit completely (:func:`read_unit`) and that it continues what was applied
(first LSN = applied + 1, predecessor checksum = the last applied unit's checksum, epoch not
older). Units of an older epoch than the replica's (a superseded primary) are refused; a gap,
a checksum or history mismatch stops the follower with a message — it never guesses. The
position (LSN, unit checksum, epoch, source) is kept in ``replication/replica.json``; other
processes read the replica with ``Database.open(path, DatabaseOptions(read_only=True))``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sedimentdb.engine.database import Database
from sedimentdb.engine.fileio import FileSystem, OsFileSystem, write_file_atomically
from sedimentdb.engine.logkeys import get_logger
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication.archive import (
    gap_after,
    list_archive,
    read_unit,
    resolve_uuid,
    select_chain,
)
from sedimentdb.engine.replication.destination import Destination, UnreachableError, open_destination
from sedimentdb.engine.replication.objects import LOG_DIR, decode_object
from sedimentdb.engine.replication.restore import restore
from sedimentdb.engine.storage_errors import StorageError

REPLICA_FILE = "replication/replica.json"


class ReplicationStopped(StorageError):
    """The follower found something it must not apply (gap, mismatch, diverged history)."""


@dataclass
class Position:
    """What a replica has applied: the last LSN, its unit's checksum and epoch, the source."""

    db_uuid: str
    lsn: int
    checksum: str
    epoch: int
    source: str


def read_position(path: str, fs: FileSystem | None = None) -> Position | None:
    """The replica position of ``path`` (None if it is not a replica)."""
    fs = fs or OsFileSystem()
    p = os.path.join(os.path.abspath(path), REPLICA_FILE)
    if not fs.exists(p):
        return None
    return Position(**json.loads(fs.read_bytes(p)))


def write_position(path: str, pos: Position, fs: FileSystem) -> None:
    """Record the replica position durably."""
    p = os.path.join(path, REPLICA_FILE)
    fs.makedirs(os.path.dirname(p))
    write_file_atomically(fs, p, json.dumps(asdict(pos)).encode())


class Follower:
    """Keeps the database at ``path`` a replica of the archive ``dest``."""

    def __init__(self, dest: Destination, path: str, *, db_uuid: str | None = None,
                 options: DatabaseOptions | None = None, fs: FileSystem | None = None, logger: Any = None) -> None:
        self.dest = dest
        self.path = os.path.abspath(path)
        self.fs = fs or OsFileSystem()
        self.options = options or DatabaseOptions()
        self.log = logger or get_logger("sedimentdb.replication")
        self.db_uuid = db_uuid
        self.db: Database | None = None
        self.pos: Position | None = None

    # ---- start ---------------------------------------------------------------------------------

    def start(self) -> Position:
        """Bootstrap if ``path`` holds no database, then open it; return the position."""
        if not self.fs.exists(os.path.join(self.path, "wal")):
            self._bootstrap()
        pos = read_position(self.path, self.fs)
        if pos is None:
            raise ReplicationStopped("this directory is not a replica (no replication/replica.json)",
                                     path=self.path, hint="follow into a new, empty directory")
        self.db = Database.open(self.path, self.options, fs=self.fs, logger=self.log)
        if self.db.uuid.replace("-", "") != pos.db_uuid.replace("-", ""):
            raise ReplicationStopped(f"replica of database {self.db.uuid}, the position names {pos.db_uuid}",
                                     path=self.path)
        if self.db.last_lsn < pos.lsn:
            raise ReplicationStopped(f"the replica's log ends at LSN {self.db.last_lsn}, its position says "
                                     f"{pos.lsn}", path=self.path, hint="re-bootstrap into a new directory")
        self.pos = pos
        return pos

    def _bootstrap(self) -> None:
        plan = restore(self.dest, self.path, db_uuid=self.db_uuid, fs=self.fs)
        last = plan.units[-1]
        header, _ = decode_object(self.dest.get(last), last)
        write_position(self.path, Position(plan.db_uuid, plan.target_lsn, header.checksum, header.epoch,
                                           self.dest.url), self.fs)
        self.log.info("replica bootstrapped", lsn=plan.target_lsn, snapshot=plan.snapshot)

    # ---- applying --------------------------------------------------------------------------------

    def step(self) -> int:
        """Apply every verified unit that continues the replica; return the records applied."""
        assert self.db is not None and self.pos is not None, "start() first"
        uid = resolve_uuid(self.dest, self.pos.db_uuid)
        listing = list_archive(self.dest, uid)
        self._check_not_superseded(listing)
        applied = 0
        for name in select_chain(listing.logs, self.pos.lsn + 1, self.pos.epoch):
            applied += self._apply_unit(name, uid)
        refused = [n.key for n in listing.logs if n.first_lsn == self.pos.lsn + 1 and n.epoch < self.pos.epoch]
        if refused:
            self.log.warning("units of a superseded epoch refused", keys=refused)
        gap = gap_after(listing.logs, self.pos.lsn, self.pos.epoch)
        if gap is not None:
            raise ReplicationStopped(f"gap in the archive: LSNs {self.pos.lsn + 1}..{gap - 1} are missing; "
                                     "not applying past it", path=self.dest.url, lsn=self.pos.lsn + 1,
                                     hint="restore the missing units, or re-bootstrap from a newer snapshot")
        return applied

    def _check_not_superseded(self, listing: Any) -> None:
        assert self.pos is not None
        for n in listing.logs:
            if n.epoch > self.pos.epoch and n.first_lsn <= self.pos.lsn:
                raise ReplicationStopped(
                    f"epoch {n.epoch} starts at LSN {n.first_lsn}, but this replica applied records of epoch "
                    f"{self.pos.epoch} up to LSN {self.pos.lsn}: it followed a superseded primary",
                    path=n.key, lsn=n.first_lsn, hint="re-bootstrap this replica into a new directory")

    def _apply_unit(self, name: Any, uid: str) -> int:
        assert self.db is not None and self.pos is not None
        unit = read_unit(self.dest, name, uid)
        h = unit.header
        if h.first_lsn != self.pos.lsn + 1 or h.prev_checksum != self.pos.checksum or h.epoch < self.pos.epoch:
            raise ReplicationStopped(
                f"unit {name.key} does not continue the replica (at LSN {self.pos.lsn}, epoch {self.pos.epoch}): "
                f"it starts at {h.first_lsn}, epoch {h.epoch}, and names a different predecessor"
                if h.prev_checksum != self.pos.checksum else f"unit {name.key} does not continue the replica",
                path=name.key, lsn=h.first_lsn, hint="the archive's history differs from this replica's")
        todo = [(r.lsn, r.decode()) for r in unit.records if r.lsn > self.db.last_lsn]
        self.db.apply_replicated(todo)
        self.pos = Position(self.pos.db_uuid, h.last_lsn, h.checksum, h.epoch, self.pos.source)
        write_position(self.path, self.pos, self.fs)
        return len(todo)

    def close(self) -> None:
        """Close the replica database."""
        if self.db is not None:
            self.db.close()
            self.db = None


def follow(dest: Destination, path: str, *, interval: float = 1.0, once: bool = False,
           stop: Callable[[], bool] | None = None, on_step: Callable[[int, Position], None] | None = None,
           options: DatabaseOptions | None = None, rebootstrap: bool = False) -> Position:
    """Run a follower until ``stop()`` (or one step if ``once``); return the final position.

    With ``rebootstrap``, a replica that cannot continue (gap, diverged history) is moved aside
    to ``<path>.stopped-<ms>`` and bootstrapped again from the archive's newest state — once
    per problem: if the fresh replica stops too, the error is raised. An archive that cannot
    be reached (:class:`UnreachableError`, e.g. the primary's server restarting) is retried
    with backoff, except with ``once``. A destination that can long-poll (``http://``) is
    waited on instead of sleeping ``interval``, so new units are applied as soon as they exist.
    """
    f = Follower(dest, path, options=options)
    f.start()
    fresh = False  # True right after a re-bootstrap: a second stop in a row is raised
    woke = False  # the last pause ended because a new unit was announced
    unreachable = 0  # consecutive steps that could not reach the archive
    try:
        while True:
            try:
                n = f.step()
            except UnreachableError as exc:
                if once:
                    raise
                unreachable += 1  # a primary's server restarting must not end its followers
                f.log.warning("archive unreachable; retrying", error=str(exc), count=unreachable)
                time.sleep(min(MAX_RETRY_S, interval * 2 ** min(unreachable, 8)))
                if stop is not None and stop():
                    assert f.pos is not None
                    return f.pos
                continue
            except ReplicationStopped as exc:
                if not rebootstrap or fresh:
                    raise
                f = _rebootstrap(f, dest, path, options, exc)
                fresh = True
                continue
            fresh = False
            unreachable = 0
            assert f.pos is not None
            if on_step:
                on_step(n, f.pos)
            if once or (stop is not None and stop()):
                return f.pos
            try:
                woke = _pause(dest, f.pos, interval, woke and n == 0)
            except UnreachableError:
                woke = False  # the next step reports it and backs off
    finally:
        f.close()


LONG_POLL_S = 10.0
MAX_RETRY_S = 10.0  # longest wait between attempts while the archive is unreachable


def _pause(dest: Destination, pos: Position, interval: float, woke_for_nothing: bool) -> bool:
    """Wait before the next step; whether a new unit was announced.

    A destination that can long-poll (a primary's server) is asked to answer as soon as a
    unit after the replica's position appears, so the lag is not bounded below by
    ``interval``. If the last wake-up brought nothing to apply (e.g. a refused unit of a
    superseded epoch sits at that position), wait ``interval`` first so that unit cannot turn
    the long poll into a busy loop.
    """
    wait = getattr(dest, "wait_for_keys", None)
    if wait is None or woke_for_nothing:
        time.sleep(interval)
        if wait is None:
            return False
    prefix = f"{pos.db_uuid}/{LOG_DIR}/"
    return bool(wait(prefix, f"{prefix}{pos.lsn + 1:020d}", max(interval, LONG_POLL_S)))


def _rebootstrap(f: Follower, dest: Destination, path: str, options: DatabaseOptions | None,
                 exc: ReplicationStopped) -> Follower:
    f.close()
    aside = f"{os.path.abspath(path)}.stopped-{int(time.time() * 1000)}"
    f.fs.rename(os.path.abspath(path), aside)
    f.log.warning("replica stopped; bootstrapping again", error=str(exc), kept=aside)
    nf = Follower(dest, path, options=options, fs=f.fs, logger=f.log)
    nf.start()
    return nf


def promote(path: str, dest: Destination | None = None, *, fs: FileSystem | None = None) -> tuple[int, int]:
    """Turn a replica into a primary with a new epoch; return (epoch, LSN of the NewEpoch record).

    The epoch is one above any the replica or its archive has seen, so records the old primary
    writes later (in its older epoch) are refused by every follower of the archive.
    """
    fs = fs or OsFileSystem()
    pos = read_position(path, fs)
    if dest is None and pos is not None:
        dest = open_destination(pos.source)
    db = Database.open(path, fs=fs)
    try:
        seen = db.epoch
        if dest is not None:
            seen = max(seen, list_archive(dest, str(uuid.UUID(db.uuid)) if pos is None else pos.db_uuid).max_epoch())
        lsn = db.begin_epoch(seen + 1)
        epoch = db.epoch
    finally:
        db.close()
    replica = os.path.join(os.path.abspath(path), REPLICA_FILE)
    if fs.exists(replica):
        fs.unlink(replica)
    return epoch, lsn


