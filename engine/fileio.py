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
import os
import shutil
from typing import BinaryIO, Protocol

from sedimentdb.engine.errors import LockedError, StorageIOError


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
                hint="stop the other process, or open this directory read-only",
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
