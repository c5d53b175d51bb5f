"""Reading log files: validation at open, replay, and read-only scans for tools.

A file is read frame by frame. The first frame that fails (bad checksum, bad length,
truncated, interrupted transaction) ends the valid part. Whether that is a *torn tail*
(a crash mid-write: cut it off) or *corruption* (refuse to open) is decided by
:func:`classify`: only the newest file may have a torn tail, and only if no valid frame
follows the bad one anywhere later in the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from sedimentdb.engine.errors import CorruptionError
from sedimentdb.engine.fileio import FileSystem
from sedimentdb.engine.wal import codec
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.frames import FileHeader, Frame, decode_file_header, parse_frame
from sedimentdb.engine.wal.records import Record


@dataclass
class WalFileInfo:
    """One log file: where it is and which LSNs it holds (``last_lsn = first_lsn - 1`` if empty)."""

    path: str
    first_lsn: int
    last_lsn: int
    size: int


@dataclass(frozen=True)
class RawRecord:
    """One whole record as stored: its type and payload, where its first frame starts."""

    lsn: int
    rtype: int
    payload: bytes
    offset: int
    size: int


@dataclass(frozen=True)
class ScannedRecord:
    """A decoded record with its position, as tools show it."""

    lsn: int
    record_type: int
    record: Record | None
    path: str
    offset: int
    size: int
    error: str | None = None


@dataclass
class FileScan:
    """What reading one file found."""

    header: FileHeader
    records: list[RawRecord] = field(default_factory=list)
    valid_end: int = F.FILE_HEADER_SIZE
    bad_offset: int | None = None
    bad_reason: str | None = None
    hard: bool = False  # a failure that can never be a torn tail (e.g. an LSN gap)


def list_log_files(fs: FileSystem, directory: str) -> list[str]:
    """Paths of the log files in ``directory``, in name (= first LSN) order."""
    names = [n for n in fs.listdir(directory)
             if n.endswith(F.FILE_SUFFIX) and n[: -len(F.FILE_SUFFIX)].isdigit()]
    return [os.path.join(directory, n) for n in sorted(names)]


def name_lsn(path: str) -> int:
    """The first LSN a log file's name claims."""
    return int(os.path.basename(path)[: -len(F.FILE_SUFFIX)])


def scan_frames(data: bytes, header: FileHeader, start: int = F.FILE_HEADER_SIZE,
                expected: int | None = None) -> FileScan:
    """Read every valid record of one file's bytes, stopping at the first bad frame."""
    scan = FileScan(header)
    expected = header.first_lsn if expected is None else expected
    pos = start
    txn: list[Frame] = []
    view = memoryview(data)
    while pos < len(data):
        fr = parse_frame(view, pos)
        if isinstance(fr, str):
            scan.bad_offset, scan.bad_reason = (txn[0].offset if txn else pos), fr
            return scan
        problem = _txn_problem(fr, txn, expected)
        if problem:
            scan.bad_offset, scan.bad_reason, scan.hard = pos, problem, "LSN" in problem
            return scan
        txn.append(fr)
        pos = fr.end
        if fr.flags & F.FLAG_LAST:
            _emit(scan, txn, pos)
            expected += 1
            txn = []
    if txn:
        scan.bad_offset, scan.bad_reason = txn[0].offset, "transaction without its last frame"
    return scan


def _txn_problem(fr: Frame, txn: list[Frame], expected: int) -> str | None:
    if fr.flags & F.FLAG_FIRST:
        if txn:
            return "transaction interrupted by a new record"
        if fr.lsn != expected:
            return f"LSN gap: expected LSN {expected}, found {fr.lsn}"
        return None
    if not txn or fr.lsn != txn[0].lsn or fr.rtype != txn[0].rtype:
        return "continuation frame without its first frame"
    return None


def _emit(scan: FileScan, txn: list[Frame], end: int) -> None:
    payload = txn[0].payload if len(txn) == 1 else b"".join(f.payload for f in txn)
    scan.records.append(RawRecord(txn[0].lsn, txn[0].rtype, payload, txn[0].offset, end - txn[0].offset))
    scan.valid_end = end


def valid_frame_after(data: bytes, offset: int) -> int | None:
    """Offset of the first valid frame at an aligned offset after ``offset``, if any."""
    view = memoryview(data)
    start = F.padded(offset + 1)
    for pos in range(start, len(data) - F.FRAME_HEADER_SIZE + 1, F.ALIGN):
        if isinstance(parse_frame(view, pos), Frame):
            return pos
    return None


def is_torn_tail(scan: FileScan, data: bytes, is_last: bool) -> bool:
    """Whether the bad region of a scanned file is a torn tail (see the module docstring)."""
    if scan.bad_offset is None or scan.hard or not is_last:
        return False
    return valid_frame_after(data, scan.bad_offset) is None


def corruption(path: str, scan: FileScan, is_last: bool) -> CorruptionError:
    """The error for a bad region that is not a torn tail."""
    lsn = scan.records[-1].lsn + 1 if scan.records else scan.header.first_lsn
    where = "followed by valid records" if is_last else "in a log file that is not the newest"
    return CorruptionError(
        f"damaged log record ({scan.bad_reason}) {where}", path=path, offset=scan.bad_offset, lsn=lsn,
        hint="acknowledged writes may sit behind it; run `sediment verify`, then `sediment repair` "
             "(truncate or salvage) or restore this file from a replica",
    )


def decode_records(scan: FileScan, from_lsn: int, to_lsn: int | None = None) -> Iterator[tuple[int, Record]]:
    """Decoded records of a scanned file within [from_lsn, to_lsn]."""
    for raw in scan.records:
        if raw.lsn < from_lsn or (to_lsn is not None and raw.lsn > to_lsn):
            continue
        yield raw.lsn, codec.decode(raw.rtype, raw.payload)


def scan(directory: str, *, fs: FileSystem, from_lsn: int = 1, to_lsn: int | None = None,
         salvage: bool = False) -> Iterator[ScannedRecord]:
    """Read-only walk over every record of a log directory, for tools.

    Without ``salvage`` a damaged region raises CorruptionError (a torn tail in the newest
    file just ends the walk). With ``salvage`` the walk reports the damage as a record with
    ``error`` set and resumes at the next valid frame.
    """
    paths = list_log_files(fs, directory)
    for i, path in enumerate(paths):
        data = fs.read_bytes(path)
        header = decode_file_header(data)
        if isinstance(header, str):
            if salvage or (i == len(paths) - 1 and len(data) < F.FILE_HEADER_SIZE):
                yield ScannedRecord(0, 0, None, path, 0, len(data), header)
                continue
            raise CorruptionError(header, path=path, offset=0)
        yield from _scan_file(path, data, header, i == len(paths) - 1, from_lsn, to_lsn, salvage)


def _scan_file(path: str, data: bytes, header: FileHeader, is_last: bool, from_lsn: int,
               to_lsn: int | None, salvage: bool) -> Iterator[ScannedRecord]:
    pos, expected = F.FILE_HEADER_SIZE, header.first_lsn
    while True:
        result = scan_frames(data, header, start=pos, expected=expected)
        for raw in result.records:
            if raw.lsn >= from_lsn and (to_lsn is None or raw.lsn <= to_lsn):
                yield _scanned(path, raw)
        if result.bad_offset is None:
            return
        if not salvage:
            if is_torn_tail(result, data, is_last):
                return
            raise corruption(path, result, is_last)
        yield ScannedRecord(0, 0, None, path, result.bad_offset, 0, result.bad_reason)
        nxt = _next_first_frame(data, result.bad_offset)
        if nxt is None:
            return
        pos, expected = nxt


def _next_first_frame(data: bytes, offset: int) -> tuple[int, int] | None:
    """(offset, lsn) of the next valid frame that starts a record, after ``offset``."""
    pos = offset
    while True:
        found = valid_frame_after(data, pos)
        if found is None:
            return None
        fr = parse_frame(memoryview(data), found)
        assert isinstance(fr, Frame)
        if fr.flags & F.FLAG_FIRST:
            return found, fr.lsn
        pos = found


def _scanned(path: str, raw: RawRecord) -> ScannedRecord:
    try:
        return ScannedRecord(raw.lsn, raw.rtype, codec.decode(raw.rtype, raw.payload), path, raw.offset, raw.size)
    except codec.CodecError as exc:
        return ScannedRecord(raw.lsn, raw.rtype, None, path, raw.offset, raw.size, str(exc))
