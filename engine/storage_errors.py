"""The engine's error tree.

Every engine failure is a :class:`StorageError`. Errors about bytes on disk carry the file,
the byte offset and the LSN involved (when known) and a hint that tells the operator what to
do. The API layer translates these into Chroma's error classes at one boundary.
"""

from __future__ import annotations

import os


class StorageError(Exception):
    """Root of the engine's errors; carries where it happened and what to do about it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        lsn: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        self.lsn = lsn
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.lsn is not None:
            where.append(f"LSN {self.lsn}")
        text = self.message
        if where:
            text += " (" + ", ".join(where) + ")"
        if self.hint:
            text += f". Hint: {self.hint}"
        return text


class CorruptionError(StorageError):
    """Bytes on disk fail a checksum, a length bound, or an identity/continuity check."""


class TornTailError(CorruptionError):
    """The last record of the newest log file is incomplete (a crash mid-write)."""


class LogHeaderError(CorruptionError):
    """A log file's 64-byte header does not decode (bad magic, checksum, version or length)."""


class StorageIOError(StorageError):
    """The operating system reported an I/O error (write, fsync, rename, ENOSPC...)."""


class WriterFailedError(StorageError):
    """An earlier write or fsync failed; the engine refuses further writes until reopened."""


class LockedError(StorageError):
    """Another process holds the data directory's writer lock."""


class ReadOnlyError(StorageError):
    """A write was attempted through a read-only handle."""


class ClosedError(StorageError):
    """The engine or log has been closed."""


class InvalidArgumentError(StorageError):
    """A caller passed a value the engine cannot store (the API validates first)."""


class NotFoundError(StorageError):
    """A tenant, database or collection does not exist."""


class AlreadyExistsError(StorageError):
    """A tenant, database or collection already exists."""


class FormatVersionError(CorruptionError):
    """A file was written by a newer, unknown format version."""
