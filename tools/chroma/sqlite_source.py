"""Open Chroma's ``chroma.sqlite3`` read-only, refusing a file another process is writing.

Chroma takes no lock of its own, and its SQLite file is in rollback-journal mode unless
someone switched it to WAL. Reading must not modify a byte or an mtime of the source, so:

* a hot journal (``chroma.sqlite3-journal``, non-empty) means a transaction is in flight or a
  writer crashed mid-way; SQLite would roll it back, which is a write: refused;
* a WAL-mode file with a non-empty ``-wal`` holds commits not yet in the main file; reading
  them needs the ``-shm`` index, which a read-only reader would create: refused (stop Chroma
  or checkpoint first). A WAL-mode file without ``-wal`` is read with ``immutable=1``;
* a writer holding SQLite's RESERVED or PENDING lock byte is about to commit: refused;
* otherwise the file is opened with ``mode=ro`` and everything is read inside one read
  transaction, so the SQLite side is one consistent snapshot.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.request import pathname2url

from sedimentdb.tools.chroma.source_errors import DamagedSourceError, SourceBusyError

SQLITE_FILE = "chroma.sqlite3"
HEADER_MAGIC = b"SQLite format 3\x00"
# SQLite's lock bytes (os_unix.c): PENDING at 1 GiB, RESERVED right after it.
PENDING_BYTE = 0x40000000
RESERVED_BYTE = PENDING_BYTE + 1


def _journal_mode(path: str) -> str:
    """``wal`` or ``rollback``, from the file format bytes of the SQLite header."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        raise DamagedSourceError("Chroma's SQLite file is missing", path=path) from None
    if len(head) < 100 or not head.startswith(HEADER_MAGIC):
        raise DamagedSourceError("not an SQLite database (bad or truncated header)", path=path, offset=0)
    return "wal" if head[18] == 2 or head[19] == 2 else "rollback"


def page_size(path: str) -> int:
    """The database page size from the header (bytes 16-17; 1 means 65536)."""
    with open(path, "rb") as f:
        f.seek(16)
        (size,) = struct.unpack(">H", f.read(2))
    return 65536 if size == 1 else size


def _writer_holds_lock(path: str) -> bool:
    """Whether another process holds SQLite's RESERVED or PENDING lock (a write is under way).

    F_GETLK only asks; it takes no lock and writes nothing.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        for start in (PENDING_BYTE, RESERVED_BYTE):
            probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, start, 1, 0)
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
            if struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK:
                return True
        return False
    finally:
        os.close(fd)


def check_quiet(path: str) -> str:
    """SourceBusyError if another process is writing ``path``; the open mode to use otherwise."""
    mode = _journal_mode(path)
    journal = path + "-journal"
    if os.path.exists(journal) and os.path.getsize(journal) > 0:
        raise SourceBusyError(
            "a Chroma write is in progress, or a writer crashed mid-transaction: a hot rollback journal "
            "exists", path=journal,
            hint="stop every process using this Chroma directory; if none runs, open it once with Chroma "
                 "so it rolls the journal back, then retry")
    if mode == "wal":
        wal = path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise SourceBusyError(
                "the SQLite file is in WAL mode and its write-ahead log holds commits not yet checkpointed "
                "(a Chroma process may be running)", path=wal,
                hint="stop the Chroma process (its clean close checkpoints the log), then retry")
    if _writer_holds_lock(path):
        raise SourceBusyError("another process holds the SQLite write lock (Chroma is writing now)", path=path,
                              hint="stop the Chroma process, then retry")
    return mode


@contextmanager
def open_snapshot(directory: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the directory's SQLite file, inside one read transaction."""
    path = os.path.join(directory, SQLITE_FILE)
    mode = check_quiet(path)
    params = "mode=ro&immutable=1" if mode == "wal" else "mode=ro"
    try:
        conn = sqlite3.connect(f"file:{pathname2url(os.path.abspath(path))}?{params}", uri=True,
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DamagedSourceError(f"SQLite cannot open the file: {exc}", path=path) from None
    try:
        conn.execute("PRAGMA query_only=ON")
        conn.execute("BEGIN")  # deferred: the first SELECT takes the shared lock for the whole read
        yield conn
    finally:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        conn.close()


_PAGE = re.compile(r"page (\d+)")


def quick_check(conn: sqlite3.Connection, path: str) -> None:
    """DamagedSourceError naming the first damaged page if SQLite's ``quick_check`` finds one."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        raise DamagedSourceError(f"SQLite file is corrupt: {exc}", path=path) from None
    if rows and rows != ["ok"]:
        m = _PAGE.search(rows[0])
        offset = (int(m.group(1)) - 1) * page_size(path) if m else None
        raise DamagedSourceError(f"SQLite file is corrupt: {'; '.join(rows)}", path=path, offset=offset)
