"""Refuse to open a directory that holds another database's files (a Chroma persist directory).

Opening creates ``wal/``, ``LOCK`` and the default tenant; done in a Chroma directory that
would write into the user's data and show them an empty database where theirs was. So
:meth:`Database.open` checks first and names the command that brings the data over.
"""

from __future__ import annotations

import os

from sedimentdb.engine.storage_errors import InvalidArgumentError

CHROMA_SQLITE = "chroma.sqlite3"


class ForeignDirectoryError(InvalidArgumentError):
    """The directory holds a Chroma database, which SedimentDB reads only through the migrate command."""


def refuse_chroma_directory(path: str, exists: object = os.path.exists) -> None:
    """Raise :class:`ForeignDirectoryError` if ``path`` holds Chroma's ``chroma.sqlite3``.

    ``exists`` is the file system's existence test (the engine passes its own).
    """
    sqlite_file = os.path.join(path, CHROMA_SQLITE)
    if exists(sqlite_file):  # type: ignore[operator]
        raise ForeignDirectoryError(
            f"{path} holds a Chroma database ({CHROMA_SQLITE}), not a SedimentDB one; nothing was written "
            f"there. Convert it with: sediment migrate-from-chroma {path} NEW_DIR  (then open NEW_DIR)")
