"""Delete markers: per-segment, write-once bitmaps of deleted rows (Lucene's live-docs).

Each change to a sealed segment's deleted set is a new marker file, referenced by the next
manifest; a marker is never rewritten. The body is the bitmap, one bit per row, LSB first.
"""

from __future__ import annotations

import crc32c
import numpy as np

from sedimentdb.engine.fileio import FileSystem, write_file_atomically
from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.framing import Identity, decode_file, encode_file
from sedimentdb.engine.storage_errors import CorruptionError, StorageIOError


def encode_delete_marker(deleted: np.ndarray) -> bytes:
    """The bytes of a marker file for the boolean mask ``deleted``."""
    mask = np.asarray(deleted, dtype=bool)
    if mask.ndim != 1:
        raise ValueError(f"deleted must be a 1-D boolean mask, got shape {mask.shape}")
    ident = Identity("", "", len(mask), 0, 0, 0)
    return encode_file(F.KIND_DELETES, ident, np.packbits(mask, bitorder="little").tobytes())


def write_delete_marker(fs: FileSystem, path: str, deleted: np.ndarray) -> dict[str, int]:
    """Write a marker at ``path`` (temp, fsync, rename, fsync dir); return its size and crc32c."""
    if fs.exists(path):
        raise FileExistsError(f"delete marker {path} already exists; markers are write-once")
    content = encode_delete_marker(deleted)
    write_file_atomically(fs, path, content)
    return {"size": len(content), "crc32c": crc32c.crc32c(content)}


def read_delete_marker(fs: FileSystem, path: str, expected: dict[str, int], count: int) -> np.ndarray:
    """The deleted-rows mask stored at ``path``; CorruptionError unless it is the expected file."""
    try:
        data = fs.read_bytes(path)
    except StorageIOError as exc:
        raise CorruptionError(f"delete marker cannot be read: {exc.message}", path=path,
                              hint="the manifest references a missing delete marker") from None
    if len(data) != expected["size"]:
        raise CorruptionError(f"delete marker is {len(data)} bytes, the manifest says {expected['size']}",
                              path=path, offset=min(len(data), expected["size"]))
    if crc32c.crc32c(data) != expected["crc32c"]:
        raise CorruptionError("delete marker checksum does not match the manifest", path=path, offset=0)
    body = decode_file(path, data, F.KIND_DELETES, Identity("", "", count, 0, 0, 0))
    if len(body) != -(-count // 8):
        raise CorruptionError(f"delete marker body holds {len(body)} bytes for {count} rows", path=path)
    bits = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little", count=count)
    return bits.astype(bool)
