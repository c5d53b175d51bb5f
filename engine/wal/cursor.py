"""The one reader of the chain of log files: :class:`LogCursor`.

Every reader of a log directory (recovery, replay, a read-only database following a writer,
the shipper, replication status, ``sediment wal``, verify and repair) walks it through a
cursor. The cursor lists and opens the files, checks each file's identity and its continuity
with the previous one (:func:`~sedimentdb.engine.wal.reader.identity_problem`, one function),
follows rolls and files released while it reads, remembers where it stopped and yields whole
records in LSN order.

What damage does depends on the *damage policy*:

* ``strict``: any damage raises CorruptionError (file, offset, LSN).
* ``torn-tail``: like strict, except a torn tail of the newest file (the rule of
  :func:`~sedimentdb.engine.wal.reader.is_torn_tail`) or the torn header of a newest file a
  roll created, which is reported and ends the walk. What opening a log does.
* ``point-in-time``: like torn-tail, but any damage in the newest file ends the walk there.
* ``salvage``: every damaged region, bad header or misplaced file is reported and the walk
  resumes at the next valid record (under a bad header, the frames are read under the LSN the
  file's name claims: they carry their own LSNs and checksums).

Damage that does not raise goes to a :class:`Reporter` as a :class:`Damage` naming the file,
the offset, the LSN and the bytes dropped. A *live* cursor reads beside a writer: an
incomplete record (or header) at the end of the newest file is an append in progress that
ends the pass quietly and is read again by the next pass.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sedimentdb.engine.fileio import FileSystem
from sedimentdb.engine.storage_errors import CorruptionError, StorageError
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.frames import FileHeader, LogHeaderError, read_file_header
from sedimentdb.engine.wal.reader import (
    FileScan,
    RawRecord,
    WalFileInfo,
    corruption,
    identity_problem,
    is_torn_tail,
    list_log_files,
    name_lsn,
    next_record_start,
    scan_frames,
)
from sedimentdb.engine.wal.records import Record

STRICT = "strict"
TORN_TAIL = "torn-tail"
POINT_IN_TIME = "point-in-time"
SALVAGE = "salvage"
POLICIES = (STRICT, TORN_TAIL, POINT_IN_TIME, SALVAGE)

# Damage kinds a reporter receives.
TORN = "torn-tail"  # the end of the newest file: a crash mid-write (or, live, an append in progress)
TORN_HEADER = "torn-header"  # a newest file whose creation a crash cut before it held a record
DAMAGED = "damaged"  # a bad region (salvage resumes after it, or the walk ends there)
HEADER = "header"  # a file whose header does not decode (salvage skips the file)
IDENTITY = "identity"  # a file of another database, renamed, out of sequence, or of an older epoch
MISSING = "missing"  # salvage resumed at an LSN past the one expected: the region held records


@dataclass(frozen=True)
class Damage:
    """One damaged place the cursor read past or stopped at."""

    kind: str
    path: str
    offset: int
    lsn: int  # the first LSN affected
    dropped: int  # bytes not read as records (0 for identity problems)
    reason: str
    resume_offset: int | None = None  # where salvage resumed (None: nothing valid after it)
    resume_lsn: int | None = None


class Reporter(Protocol):
    """Receives the damage a cursor reads past or stops at."""

    def damage(self, found: Damage) -> None:
        """Called once per damaged place, in file order."""


@dataclass
class DamageList:
    """A reporter that keeps every damage it is told about."""

    found: list[Damage] = field(default_factory=list)

    def damage(self, found: Damage) -> None:
        """Keep ``found``."""
        self.found.append(found)


@dataclass(frozen=True)
class LogRecord:
    """One whole record as stored, where it is, and the epoch it was written in.

    The epoch is the file header's, or that of a NewEpoch record earlier in the same file
    (a NewEpoch record is in its own epoch).
    """

    lsn: int
    rtype: int
    payload: bytes
    path: str
    offset: int
    size: int
    frames: bytes | memoryview  # the record's frames exactly as stored (what the shipper copies; no copy made)
    epoch: int

    def decode(self) -> Record:
        """The decoded record; CorruptionError (file, offset, LSN) if its payload does not decode."""
        try:
            return codec.decode(self.rtype, self.payload)
        except codec.CodecError as exc:
            raise CorruptionError(f"log record does not decode: {exc}", path=self.path, offset=self.offset,
                                  lsn=self.lsn, hint="its payload passed the checksum: a bug or a forged file"
                                  ) from exc


@dataclass(frozen=True)
class Position:
    """Where a cursor stopped: the next byte of ``path`` to read holds ``next_lsn``."""

    path: str
    offset: int
    next_lsn: int
    header: FileHeader | None = None  # None: trust the file's header when resuming
    epoch: int | None = None  # the epoch in effect there (None: the file header's)


class LogCursor:
    """A cursor over the log files of ``directory`` (see the module docstring).

    Iterating makes one pass from where the last pass stopped (first: ``from_lsn``) over what
    the log holds now. ``to_lsn`` bounds what is yielded. ``db_uuid`` is the database's
    identity ("" = whatever the first file read says). ``continuous``: the records must
    continue ``from_lsn`` one by one; a log that no longer holds it sets :attr:`released`
    and yields nothing, and a gap between files ends the pass.
    """

    def __init__(self, fs: FileSystem, directory: str, from_lsn: int = 1, policy: str = STRICT,
                 reporter: Reporter | None = None, *, db_uuid: str = "", to_lsn: int | None = None,
                 live: bool = False, continuous: bool = False, start: Position | None = None) -> None:
        if policy not in POLICIES:
            raise ValueError(f"damage policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        self.fs = fs
        self.directory = directory
        self.policy = policy
        self.reporter = reporter
        self.uuid = db_uuid
        self.from_lsn = from_lsn
        self.to_lsn = to_lsn
        self.live = live
        self.continuous = continuous
        self.position: Position | None = start
        self.next_lsn = start.next_lsn if start is not None else from_lsn
        self.released = False
        self.files: list[WalFileInfo] = []  # the files the last pass read, with their valid end
        self.newest: tuple[str, bytes] | None = None  # (path, valid bytes) of the last whole file read
        self.epoch = 0  # the highest epoch in the header of a file read
        self._floor = self.next_lsn  # records below this LSN are not yielded in this pass
        self._prev_last: int | None = None
        self._prev_epoch: int | None = None

    def __iter__(self) -> Iterator[LogRecord]:
        return self._pass()

    def records(self) -> list[LogRecord]:
        """One pass, as a list."""
        return list(self._pass())

    # ---- one pass ---------------------------------------------------------------------------

    def _pass(self) -> Iterator[LogRecord]:
        self.files = []
        self.released = False
        paths = list_log_files(self.fs, self.directory)
        first = self._first_index(paths)
        if first is None:
            return
        self._prev_last = self._prev_epoch = None
        self._floor = max(self.from_lsn, self.next_lsn)
        for i in range(first, len(paths)):
            is_last = i == len(paths) - 1
            go_on = yield from self._read_file(paths[i], is_last, i > 0)
            if not go_on:
                return
            if self.continuous and not is_last and name_lsn(paths[i + 1]) != self.next_lsn:
                return  # this file ended early: never read past a gap (the next pass may see why)

    def _first_index(self, paths: list[str]) -> int | None:
        """Index of the file to start the pass at (None: nothing to read)."""
        if not paths:
            return None
        pos = self.position
        if pos is not None and pos.path in paths:
            return paths.index(pos.path)
        holding = [i for i, p in enumerate(paths) if name_lsn(p) <= self.next_lsn]
        if holding:
            return holding[-1]
        if self.continuous:
            self.released = name_lsn(paths[0]) > self.next_lsn
            return None
        return 0

    def _read_file(self, path: str, is_last: bool, has_prev: bool) -> Generator[LogRecord, None, bool]:
        """Yield the file's records; return (as the generator's value) whether the pass goes on."""
        opened = self._open(path, is_last, has_prev)
        if opened is None:
            return False
        data, header, begin, expected, epoch = opened
        last, start = expected - 1, 0 if begin else F.FILE_HEADER_SIZE
        end = begin + start
        view = memoryview(data)
        while True:
            found = scan_frames(data, header, start=start, expected=expected)
            for raw in found.records:
                last, end = raw.lsn, begin + raw.offset + raw.size
                epoch = _epoch_after(raw, path, begin, epoch)
                self.position = Position(path, end, raw.lsn + 1, header, epoch)
                if raw.lsn < self._floor:
                    continue
                self.next_lsn = max(self.next_lsn, raw.lsn + 1)
                if self.to_lsn is None or raw.lsn <= self.to_lsn:
                    yield LogRecord(raw.lsn, raw.rtype, raw.payload, path, begin + raw.offset, raw.size,
                                    view[raw.offset: raw.offset + raw.size], epoch)
            if found.bad_offset is None or self._reached():
                break  # whole, or everything asked for is read: what follows is not this reader's business
            nxt = self._damage(path, data, found, is_last, begin, last + 1)
            if nxt is None:
                break
            start, expected = nxt
        self._done_file(path, header, last, end, data if not begin else None, begin)
        return not self._reached() and not (found.bad_offset is not None and is_last)

    def _reached(self) -> bool:
        return self.to_lsn is not None and self.next_lsn > self.to_lsn

    def _open(self, path: str, is_last: bool,
              has_prev: bool) -> tuple[bytes, FileHeader, int, int, int] | None:
        """(bytes to scan, header, file offset they start at, LSN expected first, epoch in effect)
        for the file, or None when the pass ends at it."""
        pos = self.position if self.position is not None and self.position.path == path else None
        try:
            data, header = self._load(path, pos)
        except LogHeaderError as exc:
            if not self._bad_header(path, exc, is_last, has_prev) or self.policy != SALVAGE:
                return None
            # Salvage: the frames carry their own LSNs and checksums; read them under the LSN
            # the file's name claims.
            named = FileHeader(self.uuid or "0" * 32, self._prev_epoch or 0, name_lsn(path), name_lsn(path) - 1)
            return self.fs.read_bytes(path), named, 0, named.first_lsn, named.epoch
        except StorageError:
            if self.live:
                return None  # released by the writer meanwhile: the next pass lists again
            raise
        if pos is not None:
            return data, header, pos.offset, pos.next_lsn, header.epoch if pos.epoch is None else pos.epoch
        self._check_identity(path, header)
        return data, header, 0, header.first_lsn, header.epoch

    def _load(self, path: str, pos: Position | None) -> tuple[bytes, FileHeader]:
        """The bytes to scan (all of the file, or what follows ``pos``) and the file's header."""
        if pos is None:
            data = self.fs.read_bytes(path)
            return data, read_file_header(path, data)
        with self.fs.open_read(path) as f:
            head = f.read(F.FILE_HEADER_SIZE)
            header = read_file_header(path, head)
            if pos.header is not None and header != pos.header:
                raise CorruptionError("log file was replaced since it was read", path=path, offset=0,
                                      lsn=pos.next_lsn, hint="something else writes to this directory")
            f.seek(pos.offset)
            return f.read(), header

    def _bad_header(self, path: str, exc: LogHeaderError, is_last: bool, has_prev: bool) -> bool:
        size = self._size(path)
        if is_last and self.live:
            return False  # its creation is not visible whole yet
        if is_last and has_prev and size <= F.FILE_HEADER_SIZE and self.policy != STRICT:
            self._report(Damage(TORN_HEADER, path, 0, name_lsn(path), size, exc.message))
            return False
        if self.policy != SALVAGE:
            raise exc
        self._report(Damage(HEADER, path, 0, name_lsn(path), size, exc.message))
        self._prev_last = self._prev_epoch = None
        return True

    def _size(self, path: str) -> int:
        try:
            return self.fs.size(path)
        except StorageError:
            return 0

    def _check_identity(self, path: str, header: FileHeader) -> None:
        """Check the file's place in the log: raise, or (salvage) report and read it anyway."""
        problem = identity_problem(path, header, self.uuid, self._prev_last, self._prev_epoch)
        if problem is not None:
            if self.policy != SALVAGE:
                raise problem
            lsn = header.first_lsn if problem.lsn is None else problem.lsn
            self._report(Damage(IDENTITY, path, problem.offset or 0, lsn, 0, problem.message))
        self.uuid = self.uuid or header.db_uuid

    def _damage(self, path: str, data: bytes, found: FileScan, is_last: bool, base: int,
                lsn: int) -> tuple[int, int] | None:
        """Handle a bad region per the policy; (offset, LSN) to resume at, or None to stop the file."""
        assert found.bad_offset is not None
        bad = found.bad_offset
        if self.live and is_last:
            return None  # an append in progress: read again next pass
        if self.policy == SALVAGE:
            nxt = found.resync or next_record_start(data, bad)
            if is_last and nxt is None and is_torn_tail(found, data, is_last):
                self._report(Damage(TORN, path, base + bad, lsn, len(data) - bad, found.bad_reason or "torn"))
                return None
            end = nxt[0] if nxt is not None else len(data)
            self._report(Damage(DAMAGED, path, base + bad, lsn, end - bad, found.bad_reason or "damaged",
                                None if nxt is None else base + nxt[0], None if nxt is None else nxt[1]))
            if nxt is not None and nxt[1] != lsn:
                self._report(Damage(MISSING, path, base + nxt[0], lsn, 0, _missing(lsn, nxt[1]),
                                    base + nxt[0], nxt[1]))
            return nxt
        cut = is_last and (self.policy == POINT_IN_TIME or
                           (self.policy == TORN_TAIL and is_torn_tail(found, data, is_last)))
        if not cut:
            raise corruption(path, found, is_last, base=base, first_lsn=lsn)
        self._report(Damage(TORN, path, base + bad, lsn, len(data) - bad, found.bad_reason or "torn tail"))
        return None

    def _done_file(self, path: str, header: FileHeader, last: int, end: int, data: bytes | None,
                   begin: int) -> None:
        self.files.append(WalFileInfo(path, header.first_lsn, last, end))
        if data is not None:
            self.newest = (path, data[:end])
        self._prev_last = last
        self.epoch = max(self.epoch, header.epoch)
        self._prev_epoch = header.epoch if self._prev_epoch is None else max(self._prev_epoch, header.epoch)

    def _report(self, found: Damage) -> None:
        if self.reporter is not None:
            self.reporter.damage(found)


def _epoch_after(raw: RawRecord, path: str, base: int, epoch: int) -> int:
    """The epoch in effect after ``raw``: a NewEpoch record starts its own."""
    if raw.rtype != F.REC_NEW_EPOCH:
        return epoch
    record = LogRecord(raw.lsn, raw.rtype, raw.payload, path, base + raw.offset, raw.size, b"", epoch).decode()
    return int(record.epoch)  # type: ignore[union-attr]


def _missing(first: int, resumed: int) -> str:
    if resumed < first:
        return f"LSN {resumed} follows LSN {first - 1} after the damage"
    last = resumed - 1
    span = f"LSN {first} is" if first == last else f"LSNs {first}..{last} are"
    return f"{span} missing: the damaged region held {'it' if first == last else 'them'}"


@dataclass(frozen=True)
class RunRead:
    """What :func:`read_run` found in a run of frames."""

    records: list[LogRecord]
    end: int  # where the last whole record ends
    bad_offset: int | None = None  # where the first bad frame is (None: all whole)
    bad_reason: str | None = None


def read_run(body: bytes, first_lsn: int, epoch: int, where: str) -> RunRead:
    """The records of ``body``, whole frames with LSNs from ``first_lsn`` that are not a log file
    (an archived unit, named ``where``); reading stops at the first bad frame."""
    found = scan_frames(body, FileHeader("0" * 32, epoch, first_lsn, first_lsn - 1), start=0, expected=first_lsn)
    view = memoryview(body)
    records = [LogRecord(r.lsn, r.rtype, r.payload, where, r.offset, r.size, view[r.offset: r.offset + r.size],
                         epoch) for r in found.records]
    return RunRead(records, found.valid_end if found.records else 0, found.bad_offset, found.bad_reason)


def read_header(fs: FileSystem, path: str) -> FileHeader:
    """The header of the log file ``path`` (LogHeaderError if it does not decode)."""
    with fs.open_read(path) as f:
        return read_file_header(path, f.read(F.FILE_HEADER_SIZE))


# ---- the walks built on the cursor ----------------------------------------------------------


@dataclass(frozen=True)
class ScannedRecord:
    """A decoded record with its position, as tools show it (``error``: damage or undecodable)."""

    lsn: int
    record_type: int
    record: Record | None
    path: str
    offset: int
    size: int
    error: str | None = None


def scan(directory: str, *, fs: FileSystem, from_lsn: int = 1, to_lsn: int | None = None,
         salvage: bool = False) -> Iterator[ScannedRecord]:
    """Read-only walk over every record of a log directory, for tools.

    The checks are those of :meth:`Wal.open` (identity, continuity, both checksums). Without
    ``salvage`` damage raises CorruptionError, except a torn tail of the newest file (or a torn
    header of a newest file created by a roll), which just ends the walk. With ``salvage`` each
    damaged region or inconsistent file is reported as a ScannedRecord with ``error`` set and
    the walk resumes at the next valid record.
    """
    found = DamageList()
    cursor = LogCursor(fs, directory, from_lsn, SALVAGE if salvage else TORN_TAIL, found, to_lsn=to_lsn)
    for rec in cursor:
        yield from _damage_records(found, salvage)
        yield _scanned(rec)
    yield from _damage_records(found, salvage)


def _damage_records(found: DamageList, salvage: bool) -> Iterator[ScannedRecord]:
    """The damage reported so far as error records (salvage), then forgotten."""
    for d in found.found if salvage else ():
        if d.kind in (HEADER, TORN_HEADER):
            yield ScannedRecord(0, 0, None, d.path, 0, d.dropped, d.reason)
        elif d.kind == IDENTITY:
            yield ScannedRecord(d.lsn, 0, None, d.path, d.offset, 0, d.reason)
        elif d.kind in (DAMAGED, TORN):
            yield ScannedRecord(0, 0, None, d.path, d.offset, 0, d.reason)
    found.found.clear()


def _scanned(rec: LogRecord) -> ScannedRecord:
    try:
        return ScannedRecord(rec.lsn, rec.rtype, rec.decode(), rec.path, rec.offset, rec.size)
    except CorruptionError as exc:
        return ScannedRecord(rec.lsn, rec.rtype, None, rec.path, rec.offset, rec.size, exc.message)


@dataclass
class TailRead:
    """What :func:`read_after` found: the complete new records and the files they came from."""

    records: list[tuple[int, Record]]
    files: list[WalFileInfo]  # the files read, with the valid end and last LSN found in each
    released: bool = False  # the log no longer holds the LSN asked for: reload from a manifest


def read_after(fs: FileSystem, directory: str, after: int, db_uuid: str,
               cursor: WalFileInfo | None = None) -> TailRead:
    """Every complete record with LSN > ``after`` that a writer has put in the log so far.

    For readers beside a live writer (no lock): a frame being appended (incomplete, failing
    its checksum) ends the read without error, and the next call reads it once it is whole.
    Only records continuing ``after`` one by one are returned, so what a reader applies is
    always a prefix of the writer's log. ``cursor`` (the file holding ``after`` and its valid
    end, as returned last time) lets a call read only the new bytes of the live file.
    Damage in a sealed file, or a file of another database, raises CorruptionError.
    """
    start = None
    if cursor is not None and cursor.last_lsn == after:
        start = Position(cursor.path, cursor.size, after + 1)
    walk = LogCursor(fs, directory, after + 1, STRICT, db_uuid=db_uuid, live=True, continuous=True, start=start)
    records = [(rec.lsn, rec.decode()) for rec in walk]
    return TailRead(records, [f for f in walk.files if f.last_lsn >= after], walk.released)
