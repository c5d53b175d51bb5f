"""The log's part of ``sediment verify`` and ``sediment repair``: what is wrong, file by file.

:func:`check_log` walks the whole log through a salvaging :class:`LogCursor` and returns every
problem (file, offset, LSN): a torn end is a warning (a writable open cuts it off), any other
damage an error. :func:`read_log_files` gives repair each file with its readable records and
damaged regions. The tools add reports, prompts and what other parts of a data directory
(manifests, segments) say; the rules of the log are here, beside the cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sedimentdb.engine.fileio import FileSystem
from sedimentdb.engine.problem import ERROR, WARNING, Problem
from sedimentdb.engine.storage_errors import CorruptionError, StorageError
from sedimentdb.engine.wal.cursor import (
    DAMAGED,
    HEADER,
    IDENTITY,
    SALVAGE,
    TORN,
    TORN_HEADER,
    Damage,
    DamageList,
    LogCursor,
    LogRecord,
)
from sedimentdb.engine.wal.frames import FileHeader, decode_file_header
from sedimentdb.engine.wal.reader import list_log_files
from sedimentdb.engine.wal.records import Record
from sedimentdb.engine.wal.seal import (
    Seal,
    damaged_durable,
    ends_early,
    missing_log,
    read_seal,
    same_database,
)


@dataclass
class LogCheck:
    """What :func:`check_log` found."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    records: int = 0
    first_lsn: int | None = None  # the first LSN the log holds (None: no readable file)
    last_lsn: int = 0

    seal: Seal | None = None  # what the last writer knew durable: damage at or before it is no torn end

    def damage(self, found: Damage) -> None:
        """The cursor's report of a damaged place, as a problem (a torn end is a warning)."""
        self.problems.append(problem_of(found, self.seal))


def problem_of(found: Damage, seal: Seal | None = None) -> Problem:
    """A damaged place as verify names it (``seal``: records synced by then are never torn)."""
    if seal is not None and found.lsn <= seal.lsn and found.kind in (TORN, DAMAGED):
        return Problem.of_error("log", damaged_durable(seal, found.path, found.offset, found.lsn, found.reason))
    if found.kind == TORN_HEADER:
        return Problem(WARNING, "log", found.reason, found.path, 0, found.lsn)
    if found.kind == TORN:
        return Problem(WARNING, "log", f"torn tail ({found.reason}): {found.dropped} bytes after the last whole "
                          "record; a writable open cuts it off (a copy is kept)", found.path, found.offset, found.lsn)
    if found.kind == DAMAGED:
        return Problem(ERROR, "log", f"damaged record ({found.reason})", found.path, found.offset, found.lsn)
    return Problem(ERROR, "log", found.reason, found.path, found.offset, found.lsn)


def check_log(fs: FileSystem, directory: str, db_uuid: str = "",
              on_record: Callable[[LogRecord, Record], None] = lambda _r, _d: None,
              progress: Callable[[int, int], None] = lambda _d, _t: None, seal: Seal | None = None) -> LogCheck:
    """Read every record of the log in ``directory`` (of database ``db_uuid``, "" = any), past
    damage, and return what is wrong; ``on_record`` sees each readable record in LSN order."""
    paths = list_log_files(fs, directory)
    sizes = {p: fs.size(p) for p in paths}
    total, done, current = sum(sizes.values()), 0, ""
    found = LogCheck(files=len(paths), seal=seal)
    cursor = LogCursor(fs, directory, policy=SALVAGE, reporter=found, db_uuid=db_uuid)
    for rec in cursor:
        if rec.path != current:
            done += sizes.get(current, 0)
            current = rec.path
            progress(done, total)
        found.records += 1
        try:
            decoded = rec.decode()
        except CorruptionError as exc:
            found.problems.append(Problem(ERROR, "log", f"record does not decode: {exc.message}", rec.path,
                                             rec.offset, rec.lsn))
            continue
        on_record(rec, decoded)
    progress(total, total)
    if cursor.files:
        found.first_lsn = cursor.files[0].first_lsn
        found.last_lsn = max(f.last_lsn for f in cursor.files)
    return found


@dataclass
class LogFileState:
    """One log file as repair sees it: its bytes, header, readable records and damaged regions."""

    path: str
    data: bytes
    header: FileHeader | None  # None: the header does not decode
    records: list[LogRecord]
    regions: list[tuple[int, int, int | None, str]]  # (bad offset, next good offset or EOF, next LSN, reason)
    misplaced: str | None = None  # why the file does not belong where it is (its records are not ours)
    damage: list[Damage] = field(default_factory=list)  # everything the cursor reported in this file


def read_log_files(fs: FileSystem, directory: str, db_uuid: str = "") -> list[LogFileState]:
    """Every log file of ``directory`` (of database ``db_uuid``, "" = the first file's) with what
    a salvaging cursor reads and reports in it."""
    damage = DamageList()
    by_file: dict[str, list[LogRecord]] = {}
    for rec in LogCursor(fs, directory, policy=SALVAGE, reporter=damage, db_uuid=db_uuid):
        by_file.setdefault(rec.path, []).append(rec)
    out = []
    for path in list_log_files(fs, directory):
        data = fs.read_bytes(path)
        header = decode_file_header(data)
        mine = [d for d in damage.found if d.path == path]
        regions = [_region(d, len(data)) for d in mine if d.kind in _REGION_KINDS]
        misplaced = next((d.reason for d in mine if d.kind == IDENTITY), None)
        head = None if isinstance(header, str) else header
        if misplaced is not None:  # another database's file, renamed, out of sequence: none of it is usable
            out.append(LogFileState(path, data, head, [], [(0, len(data), None, misplaced)], misplaced, mine))
            continue
        out.append(LogFileState(path, data, head, by_file.get(path, []), regions, None, mine))
    return out


_REGION_KINDS = (HEADER, DAMAGED, TORN, TORN_HEADER)


def _region(d: Damage, size: int) -> tuple[int, int, int | None, str]:
    """A damaged place as (bad offset, next good offset or EOF, next LSN, reason)."""
    if d.kind in (HEADER, TORN_HEADER):
        return (0, size, None, d.reason)
    return (d.offset, d.resume_offset if d.resume_offset is not None else size, d.resume_lsn, d.reason)


@dataclass
class SealCheck:
    """What :func:`check_seal` found: the seal (None: none written) and what is wrong with it."""

    seal: Seal | None = None
    problems: list[Problem] = field(default_factory=list)


def check_seal(fs: FileSystem, path: str, db_uuid: str | None) -> SealCheck:
    """Read the seal at ``path``: what the last writer knew durable, outside the log; it must
    name database ``db_uuid`` (None: the manifest is unknown, nothing to compare)."""
    try:
        seal = read_seal(fs, path)
    except StorageError as exc:
        return SealCheck(None, [Problem.of_error("seal", exc)])
    found = SealCheck(seal)
    if seal is not None and db_uuid is not None and not same_database(seal, db_uuid):
        found.problems.append(Problem(ERROR, "seal", f"the seal names database {seal.db_uuid}, the manifest "
                                      f"{db_uuid}", path, 16))
    return found


def check_seal_end(fs: FileSystem, seal: Seal | None, directory: str, last_lsn: int) -> list[Problem]:
    """Whether the log in ``directory`` (ending at ``last_lsn``) reaches what ``seal`` says was durable."""
    if seal is None:
        return []
    paths = list_log_files(fs, directory)
    if not paths:
        return [Problem.of_error("log", missing_log(seal, directory))] if seal.lsn > 0 else []
    problem = ends_early(seal, paths[-1], fs.size(paths[-1]), last_lsn)
    return [] if problem is None else [Problem.of_error("log", problem)]
