"""An in-memory :class:`~sedimentdb.engine.fileio.FileSystem`.

Ephemeral clients run the exact same engine code over this file system: nothing touches disk.
It keeps no notion of durability (every write is "synced"); the crash-simulating file system
used by the fault-injection tests builds on the same idea but tracks synced state.
"""

from __future__ import annotations

import io
import os
import threading
from typing import BinaryIO

from sedimentdb.engine.storage_errors import LockedError, StorageIOError


def _norm(path: str) -> str:
    return os.path.normpath(path)


class MemoryWritableFile:
    """An append handle on a file held in memory."""

    def __init__(self, fs: MemoryFileSystem, path: str) -> None:
        self.path = path
        self._fs = fs

    def write(self, data: bytes) -> None:
        with self._fs._mutex:
            self._fs._file(self.path).extend(data)

    def sync(self) -> None:
        """Nothing to do: memory is as durable as it gets here."""

    def tell(self) -> int:
        with self._fs._mutex:
            return len(self._fs._file(self.path))

    def close(self) -> None:
        """Nothing to release."""


class MemoryFileSystem:
    """Files and directories in a dict; thread-safe."""

    def __init__(self) -> None:
        self._files: dict[str, bytearray] = {}
        self._dirs: set[str] = {"/"}
        self._locks: set[str] = set()
        self._mutex = threading.RLock()

    def _file(self, path: str) -> bytearray:
        try:
            return self._files[_norm(path)]
        except KeyError:
            raise StorageIOError("no such file", path=path) from None

    def create(self, path: str) -> MemoryWritableFile:
        with self._mutex:
            self._require_parent(path)
            self._files[_norm(path)] = bytearray()
        return MemoryWritableFile(self, path)

    def open_append(self, path: str) -> MemoryWritableFile:
        self._file(path)
        return MemoryWritableFile(self, path)

    def read_bytes(self, path: str) -> bytes:
        with self._mutex:
            return bytes(self._file(path))

    def open_read(self, path: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(path))

    def size(self, path: str) -> int:
        with self._mutex:
            return len(self._file(path))

    def exists(self, path: str) -> bool:
        p = _norm(path)
        with self._mutex:
            return p in self._files or p in self._dirs

    def listdir(self, path: str) -> list[str]:
        p = _norm(path)
        with self._mutex:
            names = {
                e[len(p) + 1 :].split("/", 1)[0]
                for e in list(self._files) + list(self._dirs)
                if e.startswith(p + "/") and e != p
            }
        return sorted(names)

    def makedirs(self, path: str) -> None:
        p = _norm(path)
        with self._mutex:
            while p not in self._dirs:
                self._dirs.add(p)
                p = os.path.dirname(p)

    def _require_parent(self, path: str) -> None:
        if os.path.dirname(_norm(path)) not in self._dirs:
            raise StorageIOError("parent directory does not exist", path=path)

    def rename(self, src: str, dst: str) -> None:
        s, d = _norm(src), _norm(dst)
        with self._mutex:
            if s in self._files:
                self._files[d] = self._files.pop(s)
                return
            if s not in self._dirs:
                raise StorageIOError("rename of a missing path", path=src)
            self._move_tree(s, d)

    def _move_tree(self, s: str, d: str) -> None:
        for table in (self._files,):
            for k in [k for k in table if k.startswith(s + "/")]:
                table[d + k[len(s) :]] = table.pop(k)
        for k in [k for k in self._dirs if k == s or k.startswith(s + "/")]:
            self._dirs.discard(k)
            self._dirs.add(d + k[len(s) :])

    def unlink(self, path: str) -> None:
        with self._mutex:
            self._files.pop(_norm(path), None)

    def rmtree(self, path: str) -> None:
        p = _norm(path)
        with self._mutex:
            for k in [k for k in self._files if k.startswith(p + "/")]:
                del self._files[k]
            for k in [k for k in self._dirs if k == p or k.startswith(p + "/")]:
                self._dirs.discard(k)

    def truncate(self, path: str, size: int) -> None:
        with self._mutex:
            del self._file(path)[size:]

    def fsync_dir(self, path: str) -> None:
        """Nothing to do in memory."""

    def lock(self, path: str) -> object:
        p = _norm(path)
        with self._mutex:
            if p in self._locks:
                raise LockedError("the in-memory database is already open for writing", path=path)
            self._locks.add(p)
        return p

    def unlock(self, handle: object) -> None:
        with self._mutex:
            self._locks.discard(str(handle))
