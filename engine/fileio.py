"""All file access of the engine goes through a :class:`FileSystem`.

The engine never calls ``open``/``os.rename``/``os.fsync`` directly: it is handed a file system
object (constructor injection), so tests can substitute one that records every write, fsync,
rename and directory fsync and then produce the states a crash could leave behind, or that
fails the k-th operation. :class:`OsFileSystem` is the real one.

Error policy: every ``OSError`` becomes a :class:`StorageIOError` naming the path. A failed
``sync`` is never retried by callers (fsyncgate): after it, the file's state is unknown.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import shutil
from typing import BinaryIO, Protocol

import crc32c

from sedimentdb.engine.storage_errors import LockedError, StorageIOError


class WritableFile(Protocol):
    """An open file that is appended to and made durable with :meth:`sync`."""

    path: str

    def write(self, data: bytes) -> None:
        """Write all of ``data`` at the current end of the file."""

    def sync(self) -> None:
        """Make everything written so far durable (fdatasync)."""

    def tell(self) -> int:
        """Return the current size of the file as written through this handle."""

    def close(self) -> None:
        """Close the handle (does not sync)."""


class FileSystem(Protocol):
    """The operations the engine needs from a file system."""

    def create(self, path: str) -> WritableFile:
        """Create (or truncate) ``path`` and open it for appending."""

    def open_append(self, path: str) -> WritableFile:
        """Open an existing ``path`` for appending at its end."""

    def read_bytes(self, path: str) -> bytes:
        """Return the whole content of ``path``."""

    def open_read(self, path: str) -> BinaryIO:
        """Open ``path`` for random-access reading."""

    def size(self, path: str) -> int:
        """Return the size of ``path`` in bytes."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""

    def listdir(self, path: str) -> list[str]:
        """Sorted names in directory ``path``."""

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents if missing (and sync their entries)."""

    def rename(self, src: str, dst: str) -> None:
        """Atomically rename ``src`` to ``dst`` (replacing ``dst``); not durable until fsync_dir."""

    def unlink(self, path: str) -> None:
        """Remove a file; missing is not an error."""

    def rmtree(self, path: str) -> None:
        """Remove a directory tree; missing is not an error."""

    def truncate(self, path: str, size: int) -> None:
        """Cut ``path`` to ``size`` bytes and make that durable."""

    def fsync_dir(self, path: str) -> None:
        """Make the directory entries of ``path`` durable."""

    def lock(self, path: str) -> object:
        """Take an exclusive, non-blocking writer lock on ``path``; raise LockedError if held."""

    def unlock(self, handle: object) -> None:
        """Release a lock returned by :meth:`lock`."""


def _io_error(op: str, path: str, exc: OSError) -> StorageIOError:
    hint = "the disk is full; free space and reopen" if exc.errno == errno.ENOSPC else (
        "check the disk and permissions, then reopen the database"
    )
    return StorageIOError(f"{op} failed: {exc.strerror or exc}", path=path, hint=hint)


class OsWritableFile:
    """A real file opened for appending, synced with fdatasync."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._pos = os.lseek(fd, 0, os.SEEK_END)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
                self._pos += n
        except OSError as exc:
            raise _io_error("write", self.path, exc) from exc

    def sync(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            raise _io_error("fdatasync", self.path, exc) from exc

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class OsFileSystem:
    """The real file system (POSIX)."""

    def create(self, path: str) -> WritableFile:
        return self._open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)

    def open_append(self, path: str) -> WritableFile:
        return self._open(path, os.O_WRONLY)

    def _open(self, path: str, flags: int) -> OsWritableFile:
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise _io_error("open", path, exc) from exc
        return OsWritableFile(path, fd)

    def read_bytes(self, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise _io_error("read", path, exc) from exc

    def open_read(self, path: str) -> BinaryIO:
        try:
            return open(path, "rb")
        except OSError as exc:
            raise _io_error("open", path, exc) from exc

    def map_bytes(self, path: str) -> mmap.mmap | bytes:
        """The content of ``path`` mapped read-only (bytes for an empty file, which cannot be
        mapped). Pages are read on first touch and, being clean file pages, can be dropped
        again (:func:`release_pages`), so a large immutable file costs no anonymous memory."""
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    return b""
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise _io_error("map", path, exc if isinstance(exc, OSError) else OSError(str(exc))) from exc

    def size(self, path: str) -> int:
        try:
            return os.stat(path).st_size
        except OSError as exc:
            raise _io_error("stat", path, exc) from exc

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _io_error("listdir", path, exc) from exc

    def makedirs(self, path: str) -> None:
        missing = []
        p = os.path.abspath(path)
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        try:
            for d in reversed(missing):
                os.mkdir(d)
                self.fsync_dir(os.path.dirname(d))
        except FileExistsError:
            pass
        except OSError as exc:
            raise _io_error("mkdir", path, exc) from exc

    def rename(self, src: str, dst: str) -> None:
        try:
            os.replace(src, dst)
        except OSError as exc:
            raise _io_error("rename", src, exc) from exc

    def unlink(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _io_error("unlink", path, exc) from exc

    def rmtree(self, path: str) -> None:
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _io_error("rmtree", path, exc) from exc

    def truncate(self, path: str, size: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, size)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _io_error("truncate", path, exc) from exc

    def fsync_dir(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _io_error("fsync of directory", path, exc) from exc

    def lock(self, path: str) -> object:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise _io_error("open lock file", path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockedError(
                f"another process{holder} is writing to this data directory",
                path=path,
                hint="stop the other process, or open this directory read-only "
                     "(PersistentClient(path, settings=Settings(sediment_read_only=True)), sediment run --read-only), "
                     "or share it through one `sediment run` server",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def unlock(self, handle: object) -> None:
        assert isinstance(handle, int)
        try:
            fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def write_file_atomically(fs: FileSystem, path: str, data: bytes) -> None:
    """Install ``data`` at ``path``: write a temp file, sync it, rename, sync the directory."""
    tmp = path + ".tmp"
    f = fs.create(tmp)
    try:
        f.write(data)
        f.sync()
    finally:
        f.close()
    fs.rename(tmp, path)
    fs.fsync_dir(os.path.dirname(path) or ".")


def map_or_read(fs: FileSystem, path: str) -> mmap.mmap | bytes:
    """``fs.map_bytes(path)`` where the file system can map files, else ``fs.read_bytes(path)``
    (the in-memory and crash-simulating file systems of the tests)."""
    mapper = getattr(fs, "map_bytes", None)
    return mapper(path) if mapper is not None else fs.read_bytes(path)


def release_pages(data: object, start: int = 0, length: int = 0) -> None:
    """Drop the resident pages of a mapping from this process (no-op for bytes): the next
    touch reads them back from the page cache. Keeps bulk scans of mapped files out of RSS."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED") and len(data):
        start -= start % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, start, length or len(data) - start)


# Checksummed this many bytes at a time; a mapping's pages are dropped after each piece.
CRC_CHUNK = 16 << 20


def crc32c_of(data: mmap.mmap | bytes | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-32C of ``data[start:end]``; for a mapping, without leaving it resident."""
    view = memoryview(data)  # type: ignore[arg-type]
    end = len(view) if end is None else end
    crc = 0
    try:
        for pos in range(start, end, CRC_CHUNK):
            stop = min(pos + CRC_CHUNK, end)
            crc = crc32c.crc32c(view[pos:stop], crc)
            release_pages(data, pos, stop - pos)
    finally:
        view.release()
    return crc
