"""The process-wide engine cache behind every local client (Chroma's ``SharedSystemClient``).

Clients on the same data directory share one open engine, because the engine holds the
directory's writer lock and its in-memory state. Unlike Chroma, the key is the *resolved*
path, so ``"./db"``, ``"db"`` and ``"/abs/db"`` share one engine instead of opening the same
files twice. Every ephemeral client shares the one in-memory engine keyed ``"ephemeral"``.
The last client to close an engine closes it.

Read-only clients (``sediment_read_only=True``) share a separate, read-only engine per
directory (keyed ``"<path> (read-only)"``): it takes no lock and follows the files, so it
works beside a writable client of this process, or a writer in another one, without either
seeing the other's engine.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from sedimentdb import errors
from sedimentdb.config import Settings
from sedimentdb.engine.database import Database

EPHEMERAL = "ephemeral"
READ_ONLY_SUFFIX = " (read-only)"


@dataclass
class _Entry:
    database: Database
    settings: Settings
    refs: int


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}


def identifier(settings: Settings) -> str:
    """The cache key: the resolved data directory, or ``"ephemeral"``."""
    if settings.is_persistent:
        path = os.path.realpath(os.path.expanduser(settings.persist_directory))
        return path + READ_ONLY_SUFFIX if settings.sediment_read_only else path
    return EPHEMERAL


def _comparable(settings: Settings, key: str) -> Settings:
    # Two spellings of one directory are the same settings; the refresh interval is each
    # client's own (it only paces that client's refreshes of the shared engine).
    same = settings.copy(sediment_refresh_interval=0.0)
    return same.copy(persist_directory=key) if settings.is_persistent else same


def _open(key: str, settings: Settings) -> Database:
    options = settings.engine_options()
    if not settings.is_persistent:
        if options.read_only:
            raise ValueError("sediment_read_only needs a persistent client: an in-memory database "
                             "has no writer to follow")
        return Database.in_memory(options)
    path = key.removesuffix(READ_ONLY_SUFFIX)
    if options.read_only and not os.path.isdir(os.path.join(path, "wal")):
        # Opening would create the directory: a reader must find a database, not make one.
        raise errors.NotFoundError(f"No database to open read-only at {path}: the directory holds no "
                                   "SedimentDB data (start the writer or `sediment follow` first)")
    return Database.open(path, options)


def acquire(settings: Settings) -> tuple[str, Database]:
    """The shared engine for ``settings``, opened if needed; the caller must :func:`release` it."""
    settings.check_not_legacy()
    key = identifier(settings)
    with _lock:
        entry = _entries.get(key)
        if entry is not None and not entry.database.closed:
            if _comparable(entry.settings, key) != _comparable(settings, key):
                raise ValueError(f"An instance of Chroma already exists for {key} with different settings")
            entry.refs += 1
            return key, entry.database
        with errors.engine_boundary():
            database = _open(key, settings)
        _entries[key] = _Entry(database, settings, 1)
        return key, database


def release(key: str, database: Database) -> None:
    """Drop one reference; the last one closes the engine."""
    with _lock:
        entry = _entries.get(key)
        if entry is None or entry.database is not database:
            return  # the cache was cleared since; that clear closed the engine
        entry.refs -= 1
        if entry.refs > 0:
            return
        del _entries[key]
    with errors.engine_boundary():
        database.close()


def clear() -> None:
    """Forget every cached engine, closing them (Chroma's ``clear_system_cache``).

    Chroma only drops its dictionary; closing too releases the directory locks, so a new
    client on the same path really starts afresh (which is what tests calling this want).
    """
    with _lock:
        entries = list(_entries.values())
        _entries.clear()
    for entry in entries:
        with errors.engine_boundary():
            entry.database.close()
