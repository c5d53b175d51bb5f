"""Writing a stripped graph body from hnswlib's own index file instead of ``__getstate__``.

``__getstate__`` returns a copy of hnswlib's whole level-0 array (every vector included: for
100k rows of dim 384, 168 MB) next to the index itself, just so the writer can drop the
vectors again. ``save_index`` writes the same memory to a file without a copy in the
process; this module reads that file back a chunk at a time and produces exactly the state
:func:`graph.encode_graph` stores (format version 2), so the reader is unchanged.

hnswlib 0.8's file (``hnswalg.h`` ``saveIndex``): a 96-byte header of size_t/int/double
fields, the level-0 array (``cur_element_count`` records of ``size_data_per_element``
bytes), then for every element a u32 byte count and its upper-level link lists.
``__getstate__`` holds the same arrays; its label lookup pairs come from an unordered_map
(any order), here from the labels in the level-0 records (ascending internal id).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import crc32c
import hnswlib
import numpy as np

from sedimentdb.engine.segments.bundle import pack
from sedimentdb.engine.segments.graph import (
    RANDOM_SEED,
    REFILL_CHUNK,
    STRIP_KEY,
    _fill,
    _labels,
    _layout,
    hnswlib_norm_factors,
)

HEADER = struct.Struct("<QQQQQQiIQQQdQ")
HEADER_FIELDS = ("offset_level0", "max_elements", "cur_element_count", "size_data_per_element", "label_offset",
                 "offset_data", "max_level", "enterpoint_node", "max_M", "max_M0", "M", "mult", "ef_construction")
# In a level-0 record, the byte after the u16 neighbour count holds hnswlib's DELETE_MARK (bit 0).
DELETED_BYTE = 2


def encode_graph_via_file(index: hnswlib.Index, vectors: np.ndarray, space: str, scratch: str, *,
                          allow_replace_deleted: bool = False,
                          after_chunk: Callable[[], None] | None = None) -> bytes:
    """The format-version-2 body :func:`graph.encode_graph` would produce for ``index``,
    going through hnswlib's file at ``scratch`` (removed afterwards) instead of a copy.
    ``after_chunk`` runs after each block of rows is read (to drop mapped pages)."""
    index.save_index(scratch)
    try:
        with open(scratch, "rb") as f:
            return _encode(f, index, vectors, space, allow_replace_deleted, after_chunk or _nothing)
    finally:
        os.unlink(scratch)


def _nothing() -> None:
    """Nothing to drop."""


def _encode(f: BinaryIO, index: hnswlib.Index, vectors: np.ndarray, space: str, replace_deleted: bool,
            after_chunk: Callable[[], None]) -> bytes:
    state = _scalars(f, index, space, replace_deleted)
    rows, per, off, size = _layout(state, vectors.shape[1], f.name if hasattr(f, "name") else "<graph>")
    count = int(state["cur_element_count"])
    if rows != count:
        raise ValueError(f"index holds {count} of {rows} elements; a segment graph is full")
    factors = _factors(vectors, after_chunk) if space == "cosine" else np.zeros(0, dtype="<f4")
    links = np.empty((rows, per - size), dtype=np.uint8)
    labels = np.empty(rows, dtype="<u8")
    crc, deleted, patches = 0, False, []
    for start in range(0, rows, REFILL_CHUNK):
        n = min(REFILL_CHUNK, rows - start)
        records = np.frombuffer(_read_exactly(f, n * per), dtype=np.uint8).reshape(n, per)
        crc = crc32c.crc32c(records, crc)
        links[start:start + n, :off] = records[:, :off]
        links[start:start + n, off:] = records[:, off + size:]
        labels[start:start + n] = _labels(records, off + size)
        deleted |= bool((records[:, DELETED_BYTE] & 1).any())
        patches += _patches(records, labels[start:start + n], start, count, vectors, factors, off, size)
        after_chunk()
    levels, upper = _upper_levels(f, count, int(state["size_links_per_element"]))
    state["has_deletions"] = deleted
    state[STRIP_KEY] = {"crc32c": crc, "vector_offset": off, "vector_size": size}
    patch_rows = np.array([r for r, _ in patches], dtype="<i8")
    patch_vectors = (np.stack([v for _, v in patches]) if patches else np.zeros((0, size), dtype=np.uint8))
    arrays = [
        ("label_lookup_external", labels.astype(np.uint64)),
        ("label_lookup_internal", np.arange(count, dtype=np.uint32)),
        ("element_levels", levels),
        ("link_lists", upper),
        ("level0_links", links),
        ("norm_factors", factors),
        ("patch_rows", patch_rows),
        ("patch_vectors", patch_vectors.reshape(-1)),
    ]
    return pack(state, arrays)


def _factors(vectors: np.ndarray, after_chunk: Callable[[], None]) -> np.ndarray:
    """:func:`graph.hnswlib_norm_factors`, a block of rows at a time (each row's factor depends
    on that row alone)."""
    out = np.empty(len(vectors), dtype="<f4")
    for start in range(0, len(vectors), REFILL_CHUNK):
        out[start:start + REFILL_CHUNK] = hnswlib_norm_factors(vectors[start:start + REFILL_CHUNK])
        after_chunk()
    return out


def _scalars(f: BinaryIO, index: hnswlib.Index, space: str, replace_deleted: bool) -> dict[str, Any]:
    """hnswlib's parameter block: the file header plus what the Python binding adds."""
    state: dict[str, Any] = dict(zip(HEADER_FIELDS, HEADER.unpack(_read_exactly(f, HEADER.size)), strict=True))
    state.update({
        "ser_version": 1, "space": space, "dim": int(index.dim), "index_inited": True,
        "ep_added": state["cur_element_count"] > 0, "normalize": space == "cosine",
        "num_threads": int(index.num_threads), "seed": RANDOM_SEED, "ef": int(index.ef),
        "size_links_per_element": int(state["max_M"]) * 4 + 4, "allow_replace_deleted": replace_deleted,
    })
    return state


def _patches(records: np.ndarray, labels: np.ndarray, start: int, count: int, vectors: np.ndarray,
             factors: np.ndarray, off: int, size: int) -> list[tuple[int, np.ndarray]]:
    """Records whose vector the reader's refill would not reproduce bit for bit."""
    actual = np.ascontiguousarray(records[:, off:off + size]).view("<f4")
    expected = np.empty(actual.shape, dtype="<f4")
    _fill(expected, labels, start, count, vectors, factors)
    differ = np.flatnonzero((actual.view(np.uint32) != expected.view(np.uint32)).any(axis=1))
    return [(start + int(i), records[i, off:off + size].copy()) for i in differ]


def _upper_levels(f: BinaryIO, count: int, per_level: int) -> tuple[np.ndarray, np.ndarray]:
    """(element_levels i32[count], the concatenated upper-level link lists) from the file's tail."""
    rest = f.read()
    levels = np.zeros(count, dtype=np.int32)
    parts, pos = [], 0
    for i in range(count):
        (size,) = struct.unpack_from("<I", rest, pos)
        pos += 4
        if size:
            levels[i] = size // per_level
            parts.append(rest[pos:pos + size])
            pos += size
    if pos != len(rest):
        raise ValueError(f"hnswlib index file has {len(rest) - pos} unexpected trailing bytes")
    return levels, np.frombuffer(b"".join(parts), dtype=np.int8)


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"hnswlib index file ends early: wanted {n} bytes, got {len(data)}")
    return data
