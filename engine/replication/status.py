"""The replication role and position of a data directory, read from its files (no lock).

A directory is a *replica* when ``replication/replica.json`` exists (written by the
follower), a *primary* when ``replication/hold`` exists (written by the shipper: the LSN
through which the log may be released, the destination, when the LSN shipped so far was
shipped, and that LSN), and neither otherwise.
:func:`replication_status` works beside a live writer, follower or shipper: it only reads,
and a log file released while it reads just means the log is read again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sedimentdb.engine.database import REPLICATION_HOLD
from sedimentdb.engine.fileio import FileSystem, OsFileSystem
from sedimentdb.engine.replication.follower import REPLICA_FILE, read_position
from sedimentdb.engine.storage_errors import StorageError
from sedimentdb.engine.wal import STRICT, LogCursor, list_log_files, name_lsn


@dataclass(frozen=True)
class Hold:
    """What the shipper records in ``replication/hold``."""

    shipped_lsn: int
    destination: str
    shipped_at: float | None  # when shipped_lsn was reached (None: written by an older shipper)
    # The highest LSN whose log may be released (None: shipped_lsn). The shipper keeps the
    # archive's newest unit too: a restarted shipper compares it with the local log.
    release_lsn: int | None = None


def encode_hold(hold: Hold) -> bytes:
    """The hold file's bytes: one value per line, the release LSN first (the compactor reads only it).

    Then the destination, the time, and the shipped LSN when it differs from the first line.
    """
    at = "" if hold.shipped_at is None else repr(float(hold.shipped_at))
    if hold.release_lsn is None:
        return f"{hold.shipped_lsn}\n{hold.destination}\n{at}\n".encode()
    return f"{hold.release_lsn}\n{hold.destination}\n{at}\n{hold.shipped_lsn}\n".encode()


def read_hold(path: str, fs: FileSystem | None = None) -> Hold | None:
    """The hold of the data directory ``path`` (None: not shipping).

    An unreadable hold is reported as LSN 0, as the compactor treats it (it keeps the whole log).
    """
    fs = fs or OsFileSystem()
    hold = os.path.join(os.path.abspath(path), REPLICATION_HOLD)
    try:
        lines = fs.read_bytes(hold).decode(errors="replace").split("\n")
    except StorageError:
        return None  # absent, or removed by `replicate --off` meanwhile
    try:
        lsn = int(lines[0])
    except ValueError:
        lsn = 0
    dest = lines[1] if len(lines) > 1 else ""
    try:
        at: float | None = float(lines[2]) if len(lines) > 2 and lines[2] else None
    except ValueError:
        at = None
    try:
        shipped = int(lines[3]) if len(lines) > 3 and lines[3] else None
    except ValueError:
        shipped = None
    if shipped is None:
        return Hold(lsn, dest, at)
    return Hold(shipped, dest, at, release_lsn=lsn)


class LogTail:
    """The newest complete record's LSN in the log of a data directory, read incrementally.

    Holds a live cursor over the log: each call reads only what was appended since the last
    (a status route may be polled while the live file grows to tens of MiB), follows rolls and
    files released meanwhile, and never counts a record being appended. Whoever polls keeps
    one (the server keeps one per app); there is no module-global cache.
    """

    def __init__(self, path: str, fs: FileSystem | None = None) -> None:
        self.fs = fs or OsFileSystem()
        self.wal = os.path.join(os.path.abspath(path), "wal")
        self._cursor: LogCursor | None = None

    def last_lsn(self) -> int | None:
        """The LSN of the newest complete record (None: no log files, 0: an empty log)."""
        paths = list_log_files(self.fs, self.wal)
        if not paths:
            return None
        if self._cursor is None:  # start at the newest file: nothing before it matters here
            self._cursor = LogCursor(self.fs, self.wal, name_lsn(paths[-1]), STRICT, live=True)
        for _record in self._cursor:
            pass
        return self._cursor.next_lsn - 1


def local_last_lsn(path: str, fs: FileSystem | None = None) -> int | None:
    """The LSN of the newest complete record in the log of ``path`` (None: no log files).

    Reads the newest file once; to poll, keep a :class:`LogTail`.
    """
    return LogTail(path, fs).last_lsn()


def replication_status(path: str, fs: FileSystem | None = None,
                       clock: Callable[[], float] = time.time, tail: LogTail | None = None) -> dict[str, Any]:
    """The replication role and position of the data directory ``path``, JSON-serialisable.

    Always: ``path``, ``role`` (``replica``, ``primary`` or ``none``) and ``last_lsn`` (the
    newest complete record in the local log, None without a log). A replica adds
    ``applied_lsn``, ``epoch``, ``source`` and ``db_uuid`` (from ``replication/replica.json``);
    a primary adds ``shipped_lsn``, ``destination``, ``lag_records`` (last - shipped),
    ``last_ship_at`` (when the shipped LSN was reached, epoch seconds) and
    ``seconds_since_ship`` (None when the shipper predates that field).
    """
    fs = fs or OsFileSystem()
    apath = os.path.abspath(path)
    if not fs.exists(apath):
        raise StorageError(f"no such directory: {apath}", path=apath)
    last = (tail or LogTail(apath, fs)).last_lsn()
    out: dict[str, Any] = {"path": apath, "role": "none", "last_lsn": last}
    try:
        pos = read_position(apath, fs)
    except (ValueError, TypeError) as exc:  # a damaged position file still says "replica"
        out.update(role="replica", error=f"{os.path.join(apath, REPLICA_FILE)} is unreadable: {exc}")
        return out
    if pos is not None:
        out.update(role="replica", applied_lsn=pos.lsn, epoch=pos.epoch, source=pos.source, db_uuid=pos.db_uuid)
        return out
    hold = read_hold(apath, fs)
    if hold is not None:
        since = None if hold.shipped_at is None else round(max(0.0, clock() - hold.shipped_at), 3)
        out.update(role="primary", shipped_lsn=hold.shipped_lsn, destination=hold.destination,
                   lag_records=max(0, (last or 0) - hold.shipped_lsn), last_ship_at=hold.shipped_at,
                   seconds_since_ship=since)
    return out
