"""The write-ahead log (``sedimentdb.engine.wal``).

Lifecycle: :meth:`Wal.open` validates every file (identity, continuity, both checksums of
every frame) and cuts off a torn tail of the newest file, keeping a copy aside; any other
damage raises CorruptionError naming file, offset and LSN. :meth:`Wal.submit` assigns LSNs
and :meth:`Wal.wait` makes records durable with group commit; files roll at a size;
:meth:`Wal.release_through` drops files a checkpoint no longer needs. :func:`scan` walks a
log read-only for tools (optionally salvaging past damage). The byte format is FORMAT.md.
This package knows nothing of segments or the compactor.
"""

from sedimentdb.engine.wal.reader import ScannedRecord, WalFileInfo, scan
from sedimentdb.engine.wal.writer import Wal

__all__ = ["ScannedRecord", "Wal", "WalFileInfo", "scan"]
