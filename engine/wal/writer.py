"""The write-ahead log of one data directory: open with recovery, append, group commit, roll.

Appending is two steps so that callers can keep their own state in LSN order under their own
lock and still share fsyncs: :meth:`Wal.submit` assigns the next LSN and queues the encoded
record; :meth:`Wal.wait` returns when the record is durable. The first waiter that finds no
flush in progress becomes the leader: it writes everything queued with one ``write`` and
makes it durable with one ``fdatasync``; the others wait for it (group commit).

After any write or sync error the log refuses all further work (fail-stop): a failed fsync
leaves the file's state unknown, and retrying it can report success for lost data.
"""

from __future__ import annotations

import os
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from typing import Any

from sedimentdb.engine import logkeys as K
from sedimentdb.engine.fileio import FileSystem, WritableFile, write_file_atomically
from sedimentdb.engine.options import DURABILITY_MODES
from sedimentdb.engine.storage_errors import (
    ClosedError,
    CorruptionError,
    LogHeaderError,
    ReadOnlyError,
    StorageError,
    WriterFailedError,
)
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal import payload as codec
from sedimentdb.engine.wal.cursor import STRICT, LogCursor, TailRead, read_after
from sedimentdb.engine.wal.frames import (
    FileHeader,
    FrameParts,
    encode_file_header,
    encode_frames,
    encode_frames_parts,
)
from sedimentdb.engine.wal.reader import WalFileInfo, list_log_files
from sedimentdb.engine.wal.records import Record
from sedimentdb.engine.wal.recovery import check_reaches, cut_torn_ends, read_log
from sedimentdb.engine.wal.seal import Seal

RECOVERY_MODES = ("strict", "point_in_time")


class Wal:
    """The log: see the module docstring. Thread-safe."""

    def __init__(self, directory: str, fs: FileSystem, durability: str, sync_interval_ms: int,
                 roll_bytes: int, read_only: bool, logger: Any, recovery_mode: str = "strict") -> None:
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {', '.join(DURABILITY_MODES)}, got {durability!r}")
        self.directory = directory
        self.fs = fs
        self.durability = durability
        self.sync_interval = sync_interval_ms / 1000.0
        self.roll_bytes = roll_bytes
        self.read_only = read_only
        if recovery_mode not in RECOVERY_MODES:
            raise ValueError(f"recovery_mode must be one of {', '.join(RECOVERY_MODES)}, got {recovery_mode!r}")
        self.recovery_mode = recovery_mode
        self.log = logger or K.get_logger("sedimentdb.wal")
        self.uuid = ""
        self.epoch = 0
        self._infos: list[WalFileInfo] = []
        self._file: WritableFile | None = None
        self._cv = threading.Condition()
        self._pending: list[tuple[int, bytes]] = []
        self._next = 1
        self._written = 0
        self._synced = 0
        self._last_sync_time = 0.0
        self._flushing = False
        self._failed: WriterFailedError | None = None
        self._closed = False
        self._ticker: threading.Thread | None = None
        self._newest_bytes: tuple[str, bytes] | None = None  # (path, valid bytes) recovery read last
        self.seal: Seal | None = None  # what the writer knew durable (seal.py); checked at open

    # ---- open and recovery --------------------------------------------------------------------

    @classmethod
    def open(cls, directory: str, *, fs: FileSystem, db_uuid: str | None = None, epoch: int = 0,
             durability: str = "full", sync_interval_ms: int = 200, roll_bytes: int = 64 << 20,
             read_only: bool = False, logger: Any = None, recovery_mode: str = "strict",
             seal: Seal | None = None, replay_from: int | None = None, covered_lsn: int = 0,
             consume: Callable[[int, Record], None] | None = None) -> Wal:
        """Open (creating if empty) the log in ``directory``, validating and recovering it.

        ``seal`` (seal.py) is what a writer knew durable: the log must reach its LSN, and
        damage at or before it is corruption, never a torn tail. ``replay_from``/``covered_lsn``:
        what the manifest that will be replayed over the log needs (the first LSN to replay, the
        LSN it covers). A log that fails either raises CorruptionError before anything in the
        directory is changed.

        ``consume(lsn, record)`` (with ``replay_from``) is called with each decoded record from
        ``replay_from`` on while recovery reads the log, instead of a :meth:`replay` afterwards
        that reads it again; if ``open`` raises, what it was handed must be discarded.
        """
        wal = cls(directory, fs, durability, sync_interval_ms, roll_bytes, read_only, logger, recovery_mode)
        wal.seal = seal if recovery_mode == "strict" else None
        wal._recover(db_uuid, epoch, replay_from, covered_lsn, consume)
        if not read_only:
            wal._open_active()
        return wal

    @staticmethod
    def stored_bytes(fs: FileSystem, directory: str) -> int:
        """Bytes of the log files in ``directory`` (0 if there is none): an upper bound on what
        a replay reads, known before the log is opened."""
        if not fs.exists(directory):
            return 0
        return sum(fs.size(path) for path in list_log_files(fs, directory))

    def _recover(self, db_uuid: str | None, epoch: int, replay_from: int | None, covered_lsn: int,
                 consume: Callable[[int, Record], None] | None = None) -> None:
        self.fs.makedirs(self.directory)
        found = read_log(self.fs, self.directory, db_uuid or "", epoch, self.recovery_mode == "point_in_time",
                         None if consume is None else lambda rec: consume(rec.lsn, rec.decode()),
                         replay_from or 1)
        check_reaches(found, self.directory, replay_from, covered_lsn, self.seal)  # before anything is written
        if not self.read_only:  # a reader leaves the directory as it found it
            cut_torn_ends(self.fs, self.directory, found, self.log)
            self._newest_bytes = found.newest
        self.uuid, self.epoch, self._infos = found.uuid, found.epoch, found.files
        if not self._infos and not self.read_only:
            self.uuid = self.uuid or uuidlib.uuid4().hex
            self._create_file(1)
        last = self._infos[-1].last_lsn if self._infos else 0
        self._next = last + 1
        self._written = self._synced = last

    def _create_file(self, first_lsn: int) -> None:
        path = os.path.join(self.directory, F.file_name(first_lsn))
        # Header under a temporary name, synced, then renamed: a crash can never leave a log
        # file whose header is half written (which, for a fresh database, nothing could tell
        # apart from damage); the new name survives (directory synced) before it holds data.
        write_file_atomically(self.fs, path, encode_file_header(
            FileHeader(self._canonical_uuid(), self.epoch, first_lsn, first_lsn - 1)))
        self._infos.append(WalFileInfo(path, first_lsn, first_lsn - 1, F.FILE_HEADER_SIZE))
        if self._file is not None:
            self._file.close()
        self._file = self.fs.open_append(path)

    def _rewrite_newest(self) -> None:
        """Replace the newest file by a synced copy of what recovery read, before appending to it.

        Finding F-8: an earlier process of this boot may have failed to fdatasync this file.
        The kernel can then drop the dirty pages while reads still show them, and a sync
        through a new handle reports success without writing them, so records appended here
        could sit after bytes that never reach the disk. A copy is a new inode whose every
        page is written and synced now; the rename swaps it in atomically (a crash before it
        leaves the old file and a ``.tmp`` that the next open removes). Bounded by
        ``roll_bytes``; a file holding only its header was synced when it was created.
        """
        info, kept = self._infos[-1], self._newest_bytes
        self._newest_bytes = None
        if info.size <= F.FILE_HEADER_SIZE:
            return
        path = info.path
        # Recovery kept the bytes it read, unless the file it read last was a torn new file
        # it removed; then the newest is the one before it.
        data = kept[1] if kept is not None and kept[0] == path else self.fs.read_bytes(path)[: info.size]
        write_file_atomically(self.fs, path, data)

    def _canonical_uuid(self) -> str:
        return str(uuidlib.UUID(self.uuid))

    def _open_active(self) -> None:
        if self._file is None:
            self._rewrite_newest()
            self._file = self.fs.open_append(self._infos[-1].path)
        if self.durability == "normal":
            self._ticker = threading.Thread(target=self._tick, name="sedimentdb-wal-sync", daemon=True)
            self._ticker.start()

    # ---- appending -------------------------------------------------------------------------------

    @property
    def last_lsn(self) -> int:
        """The LSN of the newest record submitted (0 when the log is empty)."""
        return self._next - 1

    @property
    def synced_lsn(self) -> int:
        """The newest LSN known fdatasynced (what a seal may claim)."""
        with self._cv:
            return self._synced

    @property
    def first_lsn(self) -> int:
        """The first LSN still held by the log files."""
        return self._infos[0].first_lsn if self._infos else 1

    def submit(self, record: Record, *, borrow: bool = False) -> int:
        """Assign the next LSN to ``record`` and queue it; does not wait for durability.

        ``borrow``: a large record's vectors are written from its own embeddings array, not
        copied into the frames first (two fewer passes and allocations the size of the
        vectors); the caller keeps that array unchanged until :meth:`wait` returns for the LSN.
        """
        if borrow:
            rtype, parts = codec.encode_parts(record)
            size = sum(map(len, parts))
        else:
            rtype, payload = codec.encode(record)
            size = len(payload)
        if size > F.MAX_RECORD_BYTES:
            raise ValueError(f"record of {size} bytes exceeds the {F.MAX_RECORD_BYTES}-byte limit")
        with self._cv:
            self._check_ok()
            lsn = self._next
            frames = encode_frames_parts(lsn, rtype, parts, durable_through=self._synced) if borrow else \
                encode_frames(lsn, rtype, payload, durable_through=self._synced)
            self._pending.append((lsn, frames))
            self._next += 1
        return lsn

    def append(self, record: Record) -> int:
        """Submit ``record`` and wait until it is durable; return its LSN."""
        lsn = self.submit(record)
        self.wait(lsn)
        return lsn

    def wait(self, lsn: int) -> None:
        """Return once ``lsn`` is durable as the durability mode promises."""
        self._flush(self._submitted(lsn), force_sync=self.durability == "full")

    def sync_through(self, lsn: int) -> None:
        """Make everything up to ``lsn`` durable with fdatasync, whatever the mode."""
        self._flush(self._submitted(lsn), force_sync=True)

    def _submitted(self, lsn: int) -> int:
        # Waiting for an LSN nobody submitted would spin forever on empty flushes.
        if lsn > self._next - 1:
            raise ValueError(f"LSN {lsn} has not been submitted (the last is {self._next - 1})")
        return lsn

    @property
    def failure(self) -> WriterFailedError | None:
        """Why the log refuses writes after a failed write or sync (ENOSPC, EIO, ...), or None."""
        return self._failed

    def _check_ok(self) -> None:
        if self._failed is not None:
            raise WriterFailedError(f"the log failed earlier: {self._failed.message}", path=self._failed.path,
                                    hint="reopen the database; acknowledged writes are safe")
        if self._closed:
            raise ClosedError("the log is closed", path=self.directory)
        if self.read_only:
            raise ReadOnlyError("the log is open read-only", path=self.directory)

    def _flush(self, lsn: int, force_sync: bool) -> None:
        with self._cv:
            while True:
                done = self._synced if force_sync else self._written
                if lsn <= done:
                    return
                self._check_ok()
                if not self._flushing:
                    self._flushing = True
                    batch, self._pending = self._pending, []
                    break
                self._cv.wait()
        self._lead(batch, force_sync)
        with self._cv:
            if lsn > (self._synced if force_sync else self._written):
                self._check_ok()

    def _lead(self, batch: list[tuple[int, bytes]], force_sync: bool) -> None:
        written = synced = None
        try:
            written = self._write_batch(batch)
            now = time.monotonic()
            if force_sync or (self.durability == "normal" and now - self._last_sync_time >= self.sync_interval):
                assert self._file is not None
                self._file.sync()
                self._last_sync_time = now
                synced = written
        except StorageError as exc:
            self._fail(exc)
        finally:
            with self._cv:
                if written is not None:
                    self._written = written
                if synced is not None:
                    self._synced = synced
                self._flushing = False
                self._cv.notify_all()

    def _write_batch(self, batch: list[tuple[int, bytes]]) -> int:
        assert self._file is not None
        chunk: list[bytes] = []
        info = self._infos[-1]
        for lsn, frames in batch:
            if info.size > F.FILE_HEADER_SIZE and info.size + len(frames) > self.roll_bytes:
                self._write(chunk)
                chunk = []
                self._file.sync()
                self._create_file(lsn)
                info = self._infos[-1]
            chunk.append(frames)
            info.size += len(frames)
            info.last_lsn = lsn
        self._write(chunk)
        return batch[-1][0] if batch else self._written

    def _write(self, chunk: list[bytes]) -> None:
        if any(isinstance(c, FrameParts) for c in chunk):  # a borrowed record: its pieces in order
            assert self._file is not None
            for c in chunk:
                for piece in c.parts if isinstance(c, FrameParts) else [c]:
                    self._file.write(piece)
        elif chunk:
            assert self._file is not None
            # A lone (big) record is written as it is: joining would copy it once more.
            self._file.write(chunk[0] if len(chunk) == 1 else b"".join(chunk))

    def _fail(self, exc: StorageError) -> None:
        self._failed = WriterFailedError(f"log write failed: {exc.message}", path=exc.path,
                                         hint="the database refuses writes until it is reopened")
        self.log.error("log failed; refusing further writes", **{K.ERROR: str(exc), K.PATH: exc.path})

    def _tick(self) -> None:
        while not self._closed and self._failed is None:
            time.sleep(self.sync_interval)
            with self._cv:
                target = self._written
                stale = self._synced < target and not self._closed
            if stale:
                try:
                    self._flush(target, force_sync=True)
                except StorageError:
                    return

    # ---- reading and housekeeping ------------------------------------------------------------------

    def replay(self, from_lsn: int, to_lsn: int | None = None) -> Iterator[tuple[int, Record]]:
        """Decoded records with ``from_lsn <= lsn (<= to_lsn)``, in LSN order."""
        infos = list(self._infos)
        if infos and from_lsn < infos[0].first_lsn and infos[-1].last_lsn >= from_lsn:
            raise CorruptionError(f"log records from LSN {from_lsn} to {infos[0].first_lsn - 1} are missing",
                                  path=infos[0].path, lsn=from_lsn, hint="log files were deleted or lost")
        with self._cv:
            written = self._written  # records past this may still be on their way to the file
        ends = [written] + ([infos[-1].last_lsn] if infos else []) + ([to_lsn] if to_lsn is not None else [])
        limit = min(ends)
        have = from_lsn - 1
        if limit < from_lsn:
            return
        walk = LogCursor(self.fs, self.directory, from_lsn, STRICT, db_uuid=self.uuid, to_lsn=limit)
        try:
            for rec in walk:
                have = rec.lsn
                yield rec.lsn, rec.decode()
        except LogHeaderError as exc:  # validated at open: something changed it since
            raise CorruptionError(f"log file changed since open: {exc.message}", path=exc.path, offset=0,
                                  lsn=exc.lsn, hint="something else writes to this directory") from exc
        if have < limit:  # validated at open: a log that ends early now was truncated since
            end = walk.files[-1] if walk.files else None
            raise CorruptionError(f"log file ends at LSN {have}, expected LSN {limit}",
                                  path=end.path if end else self.directory, offset=end.size if end else None,
                                  lsn=have + 1, hint="the file was truncated since the log was opened")

    def read_new(self) -> TailRead:
        """For a read-only log beside a live writer: the complete records appended since.

        The records continue :attr:`last_lsn` one by one; an append in progress is left for
        the next call. ``released`` says the writer dropped the file that would hold the next
        record (a newer manifest covers it). The log's own view (files, last LSN) advances.
        """
        if not self.read_only:
            raise ReadOnlyError("read_new is for a log opened read-only; a writer knows its own log",
                                path=self.directory)
        cursor = self._infos[-1] if self._infos else None
        found = read_after(self.fs, self.directory, self.last_lsn, self.uuid, cursor)
        if found.records or found.files:
            self._adopt(found)
        return found

    def _adopt(self, found: TailRead) -> None:
        with self._cv:
            first = found.files[0] if found.files else None
            if first is not None:
                self._infos = [i for i in self._infos if i.first_lsn < first.first_lsn] + found.files
            if found.records:
                self._next = found.records[-1][0] + 1
                self._written = self._synced = self._next - 1

    def files(self) -> list[WalFileInfo]:
        """The log files, oldest first."""
        with self._cv:
            return [WalFileInfo(i.path, i.first_lsn, i.last_lsn, i.size) for i in self._infos]

    def release_through(self, lsn: int) -> list[str]:
        """Delete sealed files whose records all have LSN <= ``lsn``; never the active file."""
        removed = []
        with self._cv:
            while len(self._infos) > 1 and self._infos[0].last_lsn <= lsn:
                removed.append(self._infos.pop(0).path)
        for path in removed:
            self.fs.unlink(path)
        if removed:
            self.fs.fsync_dir(self.directory)
        return removed

    def roll(self) -> None:
        """Seal the active file and start a new one (so a checkpoint can release the old one)."""
        with self._cv:
            while self._flushing:
                self._cv.wait()
            self._check_ok()
            self._flushing = True
            batch, self._pending = self._pending, []
        written = synced = None
        try:
            written = self._write_batch(batch)
            assert self._file is not None
            self._file.sync()
            synced = written  # only now: a waiter must never see a failed sync as durable
            if self._infos[-1].size > F.FILE_HEADER_SIZE:
                self._create_file(self._infos[-1].last_lsn + 1)
        except StorageError as exc:
            self._fail(exc)
            raise
        finally:
            with self._cv:
                if written is not None:
                    self._written = written
                if synced is not None:
                    self._synced = synced
                self._flushing = False
                self._cv.notify_all()

    def close(self) -> None:
        """Write and sync what is queued (unless failed), then close. Idempotent."""
        if self._closed:
            return
        if not self.read_only and self._failed is None and self.durability != "off":
            try:
                self._flush(self.last_lsn, force_sync=True)
            except StorageError:
                pass
        elif not self.read_only and self._failed is None:
            try:
                self._flush(self.last_lsn, force_sync=False)
            except StorageError:
                pass
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._file is not None:
            self._file.close()
            self._file = None
