"""What ``sediment repair`` proposes: :class:`RepairPlan`, a list of :class:`Action`.

The parts of the engine that know a format plan their own actions into one plan (the log's
in engine/wal/repair.py and engine/wal/seal_repair.py, the manifests' and segments' in
engine/compactor/repair.py) and carry them out; engine/repair.py runs them in order. Nothing
is deleted: every file cut, rewritten or replaced is first copied or moved under
:attr:`RepairPlan.aside` (``<path>/repair-<time>/``), keeping its place relative to the data
directory.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

from sedimentdb.engine.fileio import OsFileSystem


@dataclass
class Action:
    """One step of a repair: its kind, the file it acts on, what it does in words, and its data."""

    kind: str
    path: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return asdict(self)


@dataclass
class RepairPlan:
    """What ``repair`` proposes for one directory; holds the writer lock until closed."""

    path: str
    salvage: bool
    actions: list[Action] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)
    aside: str = ""
    _lock: object | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"path": self.path, "salvage": self.salvage, "aside": self.aside,
                "actions": [a.to_dict() for a in self.actions], "unfixable": self.unfixable}

    def has(self, *kinds: str) -> bool:
        """Whether an action of one of ``kinds`` is planned."""
        return any(a.kind in kinds for a in self.actions)

    def aside_of(self, path: str) -> str:
        """Where :meth:`set_aside` keeps ``path``."""
        return os.path.join(self.aside, os.path.relpath(path, self.path))

    def set_aside(self, path: str, copy: bool = False) -> str:
        """Move (or copy) ``path`` under :attr:`aside`; return where it went."""
        dest = self.aside_of(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if copy:
            shutil.copy2(path, dest)
        else:
            os.replace(path, dest)
        return dest

    def close(self) -> None:
        """Release the writer lock."""
        if self._lock is not None:
            OsFileSystem().unlock(self._lock)
            self._lock = None

    def __enter__(self) -> RepairPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
