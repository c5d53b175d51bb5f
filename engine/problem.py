"""What a check of a data directory finds: :class:`Problem`, one thing wrong and where.

The checks that know a format (the log's in engine/wal/check.py, the segments' in
engine/segments/check.py, the manifests' in engine/compactor/check.py) return these;
``sediment verify`` collects them into its report and renders them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from sedimentdb.engine.storage_errors import StorageError

ERROR = "error"
WARNING = "warning"


@dataclass
class Problem:
    """One thing wrong: how bad, which part (log, manifest, segment, ...), what, and where."""

    severity: str  # "error" or "warning"
    area: str  # log | manifest | segment | marker | seal | content | index | open
    message: str
    file: str | None = None
    offset: int | None = None
    lsn: int | None = None

    @classmethod
    def of_error(cls, area: str, exc: StorageError, severity: str = ERROR) -> Problem:
        """An engine error as a problem, keeping its file, offset and LSN."""
        return cls(severity, area, exc.message, exc.path, exc.offset, exc.lsn)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)

    def text(self, base: str = "") -> str:
        """One line: severity, area, place, message."""
        where = []
        if self.file:
            where.append(os.path.relpath(self.file, base) if base else self.file)
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.lsn is not None:
            where.append(f"LSN {self.lsn}")
        place = f" [{', '.join(where)}]" if where else ""
        return f"{self.severity.upper():<7} {self.area:<8}{place} {self.message}"
