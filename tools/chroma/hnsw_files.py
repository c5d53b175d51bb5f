"""Read the four files of a Chroma HNSW segment (hnswlib's persisted layout), without hnswlib.

Layout (chroma-core/hnswlib ``hnswalg.h``, ``HEADER_FIELDS`` and ``persistDirty``), little-endian:

* ``header.bin``: int32 persistence version (1), then size_t offsetLevel0, max_elements,
  cur_element_count, size_data_per_element, label_offset, offsetData; int32 maxlevel;
  uint32 enterpoint; size_t maxM, maxM0, M; double mult; size_t ef_construction (100 bytes).
* ``data_level0.bin``: ``size_data_per_element`` bytes per internal id: the level-0 link list
  (uint16 count, a flag byte whose bit 0 marks the element deleted, a spare byte, then maxM0
  uint32 links), the vector (dim float32 at ``offsetData``), the uint64 label at ``label_offset``.
* ``length.bin``: one float32 per internal id, the vector's norm. A cosine index stores the
  normalised vector; ``get`` returns ``normalised * norm`` (``getDataByLabel``).
* ``link_lists.bin``: upper-level links; not needed to read the vectors, not read.

Only the first ``cur_element_count`` elements are meaningful (the files are pre-allocated).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

from sedimentdb.tools.chroma.errors import DamagedSourceError

HEADER = struct.Struct("<i6Q iI 3Q d Q")
PERSISTENCE_VERSION = 1
FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
DELETE_MARK = 0x01


@dataclass
class HnswHeader:
    """The fields of ``header.bin`` this reader uses."""

    max_elements: int
    count: int
    size_per_element: int
    label_offset: int
    data_offset: int
    max_m0: int
    m: int
    ef_construction: int


@dataclass
class HnswVectors:
    """The live elements of an index: labels, stored vectors (float32), norms."""

    header: HnswHeader
    labels: np.ndarray      # uint64, one per live element
    vectors: np.ndarray     # float32 (n, dim): as stored (normalised for cosine)
    lengths: np.ndarray     # float32 (n,): the norms from length.bin

    def returned(self, normalized: bool) -> np.ndarray:
        """What hnswlib's ``getDataByLabel`` gives back: stored vector times its norm when normalised."""
        if not normalized:
            return self.vectors
        return (self.vectors * self.lengths[:, None]).astype(np.float32, copy=False)


def read_header(path: str) -> HnswHeader:
    """Parse and bound-check ``header.bin``."""
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER.size + 1)
    except FileNotFoundError:
        raise DamagedSourceError("HNSW header file is missing", path=path) from None
    if len(raw) < HEADER.size:
        raise DamagedSourceError(f"HNSW header is truncated: {len(raw)} of {HEADER.size} bytes", path=path,
                                 offset=len(raw))
    (version, _off0, max_el, count, size_per, label_off, data_off, _maxlevel, _ep,
     _max_m, max_m0, m, _mult, ef_c) = HEADER.unpack_from(raw)
    if version != PERSISTENCE_VERSION:
        raise DamagedSourceError(f"HNSW header has persistence version {version}, expected {PERSISTENCE_VERSION}",
                                 path=path, offset=0)
    links0 = 4 + 4 * max_m0
    if not (0 <= count <= max_el and max_m0 < 1 << 16 and data_off == links0
            and label_off > data_off and size_per == label_off + 8):
        raise DamagedSourceError(
            f"HNSW header fields are inconsistent (count={count}, max_elements={max_el}, maxM0={max_m0}, "
            f"data offset={data_off}, label offset={label_off}, element size={size_per})", path=path, offset=4)
    return HnswHeader(max_el, count, size_per, label_off, data_off, max_m0, m, ef_c)


def _mapped(path: str, need: int, what: str) -> np.ndarray:
    """The first ``need`` bytes of ``path`` as a read-only uint8 array (memory-mapped)."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise DamagedSourceError(f"HNSW {what} file is missing", path=path) from None
    if size < need:
        raise DamagedSourceError(f"HNSW {what} file is truncated: {size} bytes, the header's element count "
                                 f"needs {need}", path=path, offset=size)
    if need == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(need,))


def read_vectors(directory: str, dim: int) -> HnswVectors:
    """The live (not deleted) elements of the index in ``directory``, vectors of ``dim`` float32."""
    header = read_header(os.path.join(directory, "header.bin"))
    if header.label_offset - header.data_offset != 4 * dim:
        raise DamagedSourceError(
            f"HNSW vectors are {(header.label_offset - header.data_offset) // 4}-dimensional, the collection "
            f"is {dim}-dimensional", path=os.path.join(directory, "header.bin"), offset=4)
    n, stride = header.count, header.size_per_element
    level0 = _mapped(os.path.join(directory, "data_level0.bin"), n * stride, "data").reshape(n, stride)
    lengths_raw = _mapped(os.path.join(directory, "length.bin"), n * 4, "length")
    if not os.path.exists(os.path.join(directory, "link_lists.bin")):
        raise DamagedSourceError("HNSW link list file is missing", path=os.path.join(directory, "link_lists.bin"))
    live = (level0[:, 2] & DELETE_MARK) == 0
    rows = level0[live]
    vectors = np.ascontiguousarray(rows[:, header.data_offset:header.label_offset]).view("<f4").reshape(-1, dim)
    labels = np.ascontiguousarray(rows[:, header.label_offset:header.label_offset + 8]).view("<u8").reshape(-1)
    lengths = np.frombuffer(np.asarray(lengths_raw).tobytes(), dtype="<f4")[live]
    return HnswVectors(header, labels, vectors.astype(np.float32, copy=False), lengths.astype(np.float32, copy=False))
