"""Errors of the Chroma reader: each names the file, where in it, and what was found there."""

from __future__ import annotations

import os


class ChromaSourceError(Exception):
    """Reading a Chroma directory failed; ``path`` is the file, ``offset`` the byte (when known)."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None,
                 offset: int | None = None, hint: str | None = None) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        self.hint = hint
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if offset is not None:
            where.append(f"offset {offset}")
        text = message + (f" ({', '.join(where)})" if where else "")
        super().__init__(text + (f". Hint: {hint}" if hint else ""))


class DamagedSourceError(ChromaSourceError):
    """A file of the Chroma directory is missing, truncated, corrupt, or contradicts another."""


class UnsupportedFormatError(ChromaSourceError):
    """The directory was written by a Chroma version whose layout this reader does not know."""


class SourceBusyError(ChromaSourceError):
    """Another process is writing the Chroma directory (or crashed mid-transaction)."""
