"""Helpers for the log tests: write real logs with ``Wal``, find frames, edit bytes, compare records."""

from __future__ import annotations

import math
import os
import struct
import threading
from typing import Any

import crc32c
import numpy as np

from sedimentdb.engine.fileio import FileSystem, OsFileSystem, WritableFile
from sedimentdb.engine.storage_errors import StorageIOError
from sedimentdb.engine.wal import Wal, scan
from sedimentdb.engine.wal import format as F
from sedimentdb.engine.wal.records import Record, WriteBatch, WriteOp


def batch(i: int, rows: int = 2, dim: int = 4) -> WriteBatch:
    """A small, distinct add batch: record ``i`` of a test log."""
    vectors = (np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) + i * 1000).astype(np.float32)
    return WriteBatch(WriteOp.ADD, "coll-1", [f"r{i}-{j}" for j in range(rows)], vectors,
                      [f"document {i}/{j}" for j in range(rows)], [{"i": i, "j": j} for j in range(rows)], None)


def write_log(directory: str, n: int, *, roll_bytes: int = 64 << 20, fs: FileSystem | None = None,
              rows: int = 2) -> list[Record]:
    """Append records 1..n with a real ``Wal`` and close it; return the records in LSN order."""
    wal = Wal.open(directory, fs=fs or OsFileSystem(), roll_bytes=roll_bytes)
    records: list[Record] = [batch(i, rows) for i in range(1, n + 1)]
    for i, rec in enumerate(records, start=1):
        assert wal.append(rec) == i
    wal.close()
    return records


def read_all(directory: str, *, fs: FileSystem | None = None, read_only: bool = False) -> list[tuple[int, Record]]:
    """Open the log (recovering it unless read-only) and replay everything."""
    wal = Wal.open(directory, fs=fs or OsFileSystem(), read_only=read_only)
    try:
        return list(wal.replay(1))
    finally:
        wal.close()


def log_files(directory: str) -> list[str]:
    """Log file paths in LSN order."""
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(F.FILE_SUFFIX))


def broken_copies(directory: str) -> list[str]:
    """The ``.broken-*`` copies recovery set aside."""
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if ".broken-" in n)


def positions(directory: str) -> dict[int, tuple[str, int, int]]:
    """LSN -> (file, offset of its first frame, bytes through its padding), from an intact log."""
    return {r.lsn: (r.path, r.offset, r.size) for r in scan(directory, fs=OsFileSystem())}


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def flip(path: str, offset: int, mask: int = 0x01) -> None:
    """XOR one byte of ``path`` in place."""
    data = bytearray(read(path))
    data[offset] ^= mask
    write(path, bytes(data))


def truncate(path: str, size: int) -> None:
    os.truncate(path, size)


def forge_frame_header(path: str, offset: int, **fields: int) -> None:
    """Rewrite fields of the frame header at ``offset`` and recompute its header checksum, so only
    the field change (not a checksum failure) is what the reader sees."""
    data = bytearray(read(path))
    names = ["hcrc", "length", "lsn", "rtype", "codec", "flags", "r1", "raw_len", "pcrc", "r2"]
    values = dict(zip(names, F.FRAME_HEADER.unpack_from(data, offset), strict=True))
    values.update(fields)
    head = F.FRAME_HEADER.pack(*(values[n] for n in names))
    head = struct.pack("<I", crc32c.crc32c(head[4:])) + head[4:]
    data[offset: offset + F.FRAME_HEADER_SIZE] = head
    write(path, bytes(data))


def canon(x: Any) -> Any:
    """A comparable form that keeps bool/int/float apart and floats bit-exact (NaN as one value)."""
    if isinstance(x, bool) or x is None:
        return ("b", x)
    if isinstance(x, int):
        return ("i", x)
    if isinstance(x, float):
        return ("f", "nan") if math.isnan(x) else ("f", struct.pack("<d", x))
    if isinstance(x, str):
        return ("s", x)
    if isinstance(x, np.ndarray):
        return ("v", str(x.dtype), x.shape, x.tobytes())
    if isinstance(x, (list, tuple)):
        return ("l", tuple(canon(v) for v in x))
    if isinstance(x, dict):
        return ("d", tuple(sorted((k, canon(v)) for k, v in x.items())))
    if hasattr(x, "__dataclass_fields__"):
        return (type(x).__name__, tuple((k, canon(getattr(x, k))) for k in x.__dataclass_fields__))
    if isinstance(x, WriteOp):
        return ("op", int(x))
    raise TypeError(type(x))


class CountingFile:
    """A WritableFile that counts syncs and can fail one sync or one write."""

    def __init__(self, inner: WritableFile, fs: CountingFs) -> None:
        self._inner = inner
        self._fs = fs
        self.path = inner.path

    def write(self, data: bytes) -> None:
        with self._fs.lock:
            fail = self._fs.fail_next_write
            self._fs.fail_next_write = False
        if fail:
            # a short write, as ENOSPC leaves it: part of the data reached the file
            self._inner.write(data[: len(data) // 2])
            self._fs.failed_paths.append(self.path)
            raise StorageIOError("write failed: No space left on device (injected)", path=self.path)
        self._inner.write(data)

    def sync(self) -> None:
        with self._fs.lock:
            self._fs.syncs.append(self.path)
            fail = self._fs.fail_next_sync
            self._fs.fail_next_sync = False
        if fail:
            self._fs.failed_paths.append(self.path)
            raise StorageIOError("fdatasync failed: Input/output error (injected)", path=self.path)
        if self._fs.sync_delay:
            threading.Event().wait(self._fs.sync_delay)
        self._inner.sync()

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        self._inner.close()


class CountingFs(OsFileSystem):
    """The real file system, with every file sync counted (and one sync or write optionally failed)."""

    def __init__(self, sync_delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.syncs: list[str] = []
        self.failed_paths: list[str] = []
        self.fail_next_sync = False
        self.fail_next_write = False
        self.sync_delay = sync_delay

    def create(self, path: str) -> WritableFile:
        return CountingFile(super().create(path), self)

    def open_append(self, path: str) -> WritableFile:
        return CountingFile(super().open_append(path), self)

    def log_syncs(self) -> int:
        """Syncs of log files (not of the .broken copies)."""
        return sum(1 for p in self.syncs if p.endswith(F.FILE_SUFFIX))
