"""Shared helpers of the operator tools: opening a data directory the right way, sizes, uuids."""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import structlog

from sedimentdb.engine.compactor.manifest import list_manifests
from sedimentdb.engine.database import Database
from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.foreign import refuse_chroma_directory
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.storage_errors import InvalidArgumentError, NotFoundError
from sedimentdb.tools.diskusage import tree_bytes  # noqa: F401 (re-exported for the ops modules)

Progress = Callable[[str, int, "int | None"], None]


def no_progress(label: str, done: int, total: int | None) -> None:
    """A progress callback that ignores every report."""


def check_data_dir(path: str) -> str:
    """The absolute path of an existing data directory; NotFoundError otherwise.

    Read-only tools must never create a directory (the engine's open would), so they call
    this first.
    """
    apath = os.path.abspath(path)
    if not os.path.isdir(apath):
        raise NotFoundError(f"no such directory: {apath}")
    if not os.path.isdir(os.path.join(apath, "wal")) and not list_manifests(OsFileSystem(), apath):
        refuse_chroma_directory(apath)  # a Chroma user's first try: name the migrate command
        raise NotFoundError("not a SedimentDB data directory (no wal/ and no MANIFEST-*)", path=apath,
                            hint="pass the directory given to PersistentClient(path=...)")
    return apath


def quiet_logger() -> Any:
    """The engine logger the tools hand to Database.open."""
    return structlog.get_logger("sedimentdb.engine")


def open_read_only(path: str, *, retries: int = 3) -> Database:
    """Open ``path`` read-only (no lock: works while another process writes there).

    A live writer may release a log file or a segment between our listing and our read;
    the open is retried a few times before the error is passed on.
    """
    apath = check_data_dir(path)
    opts = DatabaseOptions(read_only=True, background_compaction=False)
    for attempt in range(retries):
        try:
            return Database.open(apath, opts, logger=quiet_logger())
        except Exception:
            if attempt == retries - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def open_writer(path: str, *, create: bool = False, background_compaction: bool = False) -> Database:
    """Open ``path`` as its single writer (background compaction off unless asked for).

    LockedError if another process holds the directory.
    """
    apath = os.path.abspath(path)
    if not create:
        apath = check_data_dir(path)
    return Database.open(apath, DatabaseOptions(background_compaction=background_compaction),
                         logger=quiet_logger())


def canonical_uuid(value: str) -> str:
    """``value`` in the 8-4-4-4-12 form (the engine stores either form)."""
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        return value



def resolve_collection(db: Database, name_or_id: str) -> str:
    """The id of the collection named ``name_or_id`` (in any tenant/database) or with that id."""
    if name_or_id in db.catalog.collections:
        return name_or_id
    found = [c.id for c in db.catalog.collections.values() if c.name == name_or_id]
    if not found:
        raise NotFoundError(f"Collection [{name_or_id}] does not exist", path=db.path)
    if len(found) > 1:
        raise InvalidArgumentError(f"several collections are named {name_or_id!r}; pass the id instead",
                                   path=db.path)
    return found[0]
