"""The write-ahead log (``sedimentdb.engine.wal``).

Lifecycle: :meth:`Wal.open` validates every file (identity, continuity, both checksums of
every frame) and cuts off a torn tail of the newest file, keeping a copy aside; any other
damage raises CorruptionError naming file, offset and LSN. :meth:`Wal.submit` assigns LSNs
and :meth:`Wal.wait` makes records durable with group commit; files roll at a size;
:meth:`Wal.release_through` drops files a checkpoint no longer needs. Every reader walks the
files through one :class:`LogCursor` (damage policy strict, torn-tail, point-in-time or
salvage; damage goes to a :class:`Reporter`); :func:`scan` is its read-only walk for tools,
:func:`check_log`, :func:`check_seal` and :func:`read_log_files` the log's part of verify,
:func:`plan_log`, :func:`plan_seal` and :func:`apply_log_action` its part of repair.
The byte format is FORMAT.md. This package knows nothing of segments or the compactor.
"""

from sedimentdb.engine.wal.check import (
    LogCheck,
    LogFileState,
    SealCheck,
    check_log,
    check_seal,
    check_seal_end,
    read_log_files,
)
from sedimentdb.engine.wal.cursor import (
    DAMAGED,
    HEADER,
    IDENTITY,
    MISSING,
    POINT_IN_TIME,
    SALVAGE,
    STRICT,
    TORN,
    TORN_HEADER,
    TORN_TAIL,
    Damage,
    DamageList,
    LogCursor,
    LogRecord,
    Position,
    Reporter,
    RunRead,
    ScannedRecord,
    TailRead,
    read_after,
    read_header,
    read_run,
    scan,
)
from sedimentdb.engine.wal.format import (
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    REC_NEW_EPOCH,
    RECORD_OPS,
    SEAL_CLOSED,
    SEAL_FILE,
    SEAL_OPENED,
    SEAL_REPAIRED,
    name_lsn,
)
from sedimentdb.engine.wal.format import file_name as log_file_name
from sedimentdb.engine.wal.frames import FileHeader, new_file_header
from sedimentdb.engine.wal.reader import WalFileInfo, list_log_files
from sedimentdb.engine.wal.repair import Checkpoint, apply_log_action, plan_log, plan_reach, read_logs
from sedimentdb.engine.wal.seal_repair import apply_seal_action, plan_seal
from sedimentdb.engine.wal.writer import Wal

__all__ = [
    "DAMAGED", "Checkpoint", "FILE_HEADER_SIZE", "FORMAT_VERSION", "HEADER", "IDENTITY", "MISSING", "POINT_IN_TIME",
    "REC_NEW_EPOCH", "RECORD_OPS", "SEAL_CLOSED", "SEAL_FILE", "SEAL_OPENED", "SEAL_REPAIRED", "SALVAGE", "STRICT", "TORN", "TORN_HEADER", "TORN_TAIL", "Damage", "DamageList", "FileHeader",
    "LogCheck", "LogCursor", "LogFileState", "LogRecord", "Position", "Reporter", "RunRead", "ScannedRecord", "SealCheck", "TailRead", "Wal", "WalFileInfo",
    "apply_log_action", "apply_seal_action", "check_log", "check_seal", "check_seal_end", "list_log_files", "log_file_name", "name_lsn", "new_file_header", "plan_log", "plan_reach", "plan_seal", "read_after",
    "read_header", "read_log_files", "read_logs", "read_run", "scan",
]
