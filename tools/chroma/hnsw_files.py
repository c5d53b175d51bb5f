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

from sedimentdb.tools.chroma.source_errors import DamagedSourceError

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
    """The live elements of an index: their labels; :meth:`gather` copies out their vectors."""

    header: HnswHeader
    labels: np.ndarray      # uint64, one per live element
    internal: np.ndarray    # int64: each live element's internal id (its slot in the files)
    data_path: str
    length_path: str
    dim: int

    def gather(self, live_rows: np.ndarray, normalized: bool) -> np.ndarray:
        """What hnswlib's ``getDataByLabel`` returns for these live elements, in this order:
        the stored vector, times its norm when the index normalises (cosine).

        One copy straight from the mapped files into the result (at 100k x 384 every extra
        pass over the vectors costs as much as reading them).
        """
        if len(live_rows) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        h = self.header
        element = np.dtype({"names": ["vec"], "formats": [("<f4", (self.dim,))], "offsets": [h.data_offset],
                            "itemsize": h.size_per_element})
        slots = self.internal[live_rows]
        level0 = np.memmap(self.data_path, dtype=element, mode="r", shape=(h.count,))
        out = np.ascontiguousarray(level0["vec"][slots], dtype=np.float32)
        if normalized:
            lengths = np.memmap(self.length_path, dtype="<f4", mode="r", shape=(h.count,))
            out *= np.asarray(lengths[slots], dtype=np.float32)[:, None]
            del lengths
        del level0
        return out


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


def _check_size(path: str, need: int, what: str) -> None:
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise DamagedSourceError(f"HNSW {what} file is missing", path=path) from None
    if size < need:
        raise DamagedSourceError(f"HNSW {what} file is truncated: {size} bytes, the header's element count "
                                 f"needs {need}", path=path, offset=size)


def read_vectors(directory: str, dim: int) -> HnswVectors:
    """The live (not deleted) elements of the index in ``directory``, vectors of ``dim`` float32."""
    header = read_header(os.path.join(directory, "header.bin"))
    if header.label_offset - header.data_offset != 4 * dim:
        raise DamagedSourceError(
            f"HNSW vectors are {(header.label_offset - header.data_offset) // 4}-dimensional, the collection "
            f"is {dim}-dimensional", path=os.path.join(directory, "header.bin"), offset=4)
    n, stride = header.count, header.size_per_element
    data_path, length_path = os.path.join(directory, "data_level0.bin"), os.path.join(directory, "length.bin")
    _check_size(data_path, n * stride, "data")
    _check_size(length_path, n * 4, "length")
    if not os.path.exists(os.path.join(directory, "link_lists.bin")):
        raise DamagedSourceError("HNSW link list file is missing", path=os.path.join(directory, "link_lists.bin"))
    # One element = (uint16 link count, flag byte, spare byte, links...), vector, label.
    element = np.dtype({"names": ["flags", "label"], "formats": ["u1", "<u8"],
                        "offsets": [2, header.label_offset], "itemsize": stride})
    if n == 0:
        return HnswVectors(header, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), data_path,
                           length_path, dim)
    level0 = np.memmap(data_path, dtype=element, mode="r", shape=(n,))
    live = np.nonzero((level0["flags"] & DELETE_MARK) == 0)[0].astype(np.int64)
    labels = np.ascontiguousarray(level0["label"][live], dtype=np.uint64)
    del level0
    return HnswVectors(header, labels, live, data_path, length_path, dim)
