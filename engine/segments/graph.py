"""The HNSW graph of a segment: built with hnswlib, stored in our own checksummed envelope.

hnswlib's ``save_index`` writes to a real path and its files carry no checksum, so we take
its in-memory serialisation (``__getstate__``: scalar parameters plus numpy arrays) and store
that as a JSON parameter block followed by the raw arrays. Loading goes through
``__setstate__`` only after the whole file has passed its checksums: hnswlib trusts its input
and would crash the process on damaged bytes. Labels are segment row numbers.

Format version 2 (``FORMAT_VERSION_GRAPH_STRIPPED``) leaves out the copy of each vector that
hnswlib keeps in its level-0 record (``dim * 4`` of its ~``dim * 4 + 140`` bytes): the reader
refills it from ``vectors.f32``, for ``cosine`` times each row's normalisation factor, which
the writer computes exactly as hnswlib's Python binding does on ``add_items`` and stores (4
bytes a row; the reader then needs one multiply, not the slow sequential sum). Any record the
refill would not reproduce bit for bit is stored whole (a "patch"), and the CRC-32C of
hnswlib's complete level-0 array is stored too, so the state handed to hnswlib is verified to
be exactly the state that was written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import crc32c
import hnswlib
import numpy as np

from sedimentdb.engine.segments import format as F
from sedimentdb.engine.segments.bundle import pack, unpack
from sedimentdb.engine.segments.descriptor import HnswParams
from sedimentdb.engine.storage_errors import CorruptionError

# hnswlib draws node levels from this seed, so a single-threaded build is reproducible.
RANDOM_SEED = 100


# Rows handed to hnswlib per add_items call: ``after_chunk`` runs between calls (the writer
# drops the mapped pages just read, so a build never holds a second copy of the rows, and the
# compactor stops a job there when the database closes: a chunk takes well under a second).
ADD_CHUNK = 1024


def build_graph(vectors: np.ndarray, params: HnswParams,
                after_chunk: Callable[[], None] | None = None) -> hnswlib.Index:
    """An HNSW index over ``vectors`` with labels 0..n-1."""
    n, dim = vectors.shape
    index = hnswlib.Index(space=params.space, dim=dim)
    index.init_index(
        max_elements=max(n, 1), M=params.M, ef_construction=params.construction_ef, random_seed=RANDOM_SEED
    )
    index.set_num_threads(params.num_threads)
    for start in range(0, n, ADD_CHUNK):
        stop = min(n, start + ADD_CHUNK)
        index.add_items(vectors[start:stop], np.arange(start, stop, dtype=np.uint64), num_threads=params.num_threads)
        if after_chunk is not None:
            after_chunk()
    index.set_ef(params.search_ef)
    return index


def encode_graph_full(index: hnswlib.Index) -> bytes:
    """A format-version-1 graph body: hnswlib's whole state as a bundle (scalars as JSON,
    numpy arrays raw), vectors included. Still read; written only by tests and tools."""
    (state,) = index.__getstate__()
    scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    arrays = [(k, v) for k, v in state.items() if isinstance(v, np.ndarray)]
    return pack(scalars, arrays)


# Scalar of a stripped bundle holding what the refill needs; removed before __setstate__.
STRIP_KEY = "sedimentdb_level0"
# Level-0 records are refilled (and compared, when writing) this many at a time: bounded
# scratch memory.
REFILL_CHUNK = 8192
# The cosine factors are computed this many rows at a time (a transposed block that fits in cache).
NORM_CHUNK = 1024
# After loading a refilled graph, this many vectors are read back from hnswlib and compared.
SPOT_CHECKS = 4


def encode_graph(index: hnswlib.Index, vectors: np.ndarray, space: str) -> bytes:
    """A format-version-2 (stripped) graph body for ``index``, built over ``vectors`` (the
    segment's raw rows, label = row): hnswlib's state without the vector bytes of its level-0
    records, plus (cosine) each row's normalisation factor, the records the reader's refill
    would not reproduce exactly (normally none) and the CRC-32C of the complete level-0 array."""
    (state,) = index.__getstate__()
    state = dict(state)
    n, dim = vectors.shape
    rows, per, off, size = _layout(state, dim, "<graph being written>")
    records = np.asarray(state.pop("data_level0")).view(np.uint8).reshape(rows, per)
    factors = hnswlib_norm_factors(vectors) if space == "cosine" else np.zeros(0, dtype="<f4")
    count = int(state["cur_element_count"])
    labels = _labels(records, off + size)
    slots = records.view("<f4")[:, off // 4:(off + size) // 4]
    patch_rows = []
    for start in range(0, rows, REFILL_CHUNK):
        actual = slots[start:start + REFILL_CHUNK]
        expected = np.empty(actual.shape, dtype="<f4")
        _fill(expected, labels[start:start + len(actual)], start, count, vectors, factors)
        differ = (actual.view(np.uint32) != expected.view(np.uint32)).any(axis=1)
        patch_rows.append(start + np.flatnonzero(differ))
    patched = np.concatenate(patch_rows).astype("<i8")
    scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    scalars[STRIP_KEY] = {"crc32c": crc32c.crc32c(records), "vector_offset": off, "vector_size": size}
    arrays = [(k, v) for k, v in state.items() if isinstance(v, np.ndarray)]
    arrays += [
        ("level0_links", np.concatenate([records[:, :off], records[:, off + size:]], axis=1)),
        ("norm_factors", factors),
        ("patch_rows", patched),
        ("patch_vectors", records[patched, off:off + size]),
    ]
    return pack(scalars, arrays)


def _layout(state: dict[str, Any], dim: int, path: str) -> tuple[int, int, int, int]:
    """(records, bytes per record, offset and size of the vector) of hnswlib's level-0 array,
    checked against hnswlib 0.8's layout: links, then the vector, then the 8-byte label."""
    try:
        rows, per = int(state["max_elements"]), int(state["size_data_per_element"])
        off, label_at = int(state["offset_data"]), int(state["label_offset"])
        count = int(state["cur_element_count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptionError(f"HNSW graph parameters are incomplete: {exc}", path=path, offset=0,
                              hint="rebuild the segment from the log or a backup") from None
    size = 4 * dim
    if not (0 <= count <= rows and 0 <= off and off % 4 == 0 and label_at == off + size and per == label_at + 8):
        raise CorruptionError(
            f"HNSW level-0 layout is not hnswlib 0.8's (records {rows}, {per} bytes each, vector at "
            f"{off}, label at {label_at}, dim {dim})", path=path, offset=0,
            hint="the graph may come from another hnswlib version; rebuild the segment",
        )
    return rows, per, off, size


def _labels(records: np.ndarray, label_at: int) -> np.ndarray:
    """The u64 label stored in each level-0 record."""
    return np.ascontiguousarray(records[:, label_at:label_at + 8]).view("<u8").ravel()


def _fill(dest: np.ndarray, labels: np.ndarray, start: int, count: int, vectors: np.ndarray,
          factors: np.ndarray) -> None:
    """Write into ``dest`` (float32, one row per level-0 record from record ``start`` on) the
    vector hnswlib holds for each record when built over ``vectors`` with add_items.

    Record ``i < count`` holds the row named by its label, times that row's cosine factor
    when ``factors`` is not empty (hnswlib's ``out[j] = v[j] * norm``, one rounded float32
    multiply); records past ``count`` or with a label outside ``vectors`` hold zeros (the
    writer stores such records as patches if they do not).
    """
    live = max(0, min(len(dest), count - start))
    dest[live:] = 0
    if not live:
        return
    known = labels[:live] < len(vectors)
    rows = np.where(known, labels[:live], 0).astype(np.intp)
    block = vectors[rows]
    if factors.size:
        with np.errstate(all="ignore"):  # inf * 0 and the like are reproduced, not errors
            block *= factors[rows, None]
    if not known.all():
        block[~known] = 0
    dest[:live] = block


def hnswlib_norm_factors(vectors: np.ndarray) -> np.ndarray:
    """Each row's cosine normalisation factor, bit-exactly as hnswlib 0.8's Python binding
    computes it on add (float32).

    bindings.cpp ``normalize_vector``: ``norm += v[i] * v[i]`` in float32, in index order,
    each product and sum rounded (no FMA: its build contracts nothing here, checked bit for
    bit, zeros, subnormals and overflow included); ``norm = 1.0f / (sqrtf(norm) + 1e-30f)``;
    then ``out[i] = v[i] * norm``. numpy's own reductions sum pairwise, so the sum is taken one
    column at a time over a transposed block.
    """
    out = np.empty(len(vectors), dtype="<f4")
    for start in range(0, len(vectors), NORM_CHUNK):
        columns = np.ascontiguousarray(vectors[start:start + NORM_CHUNK].T, dtype=np.float32)
        acc = np.zeros(columns.shape[1], dtype=np.float32)
        square = np.empty_like(acc)
        with np.errstate(all="ignore"):  # overflow to inf is reproduced, not an error
            for column in columns:
                np.multiply(column, column, out=square)
                acc += square
            out[start:start + len(acc)] = np.float32(1.0) / (np.sqrt(acc) + np.float32(1e-30))
    return out


def normalize_like_hnswlib(rows: np.ndarray) -> np.ndarray:
    """``rows`` normalised bit-exactly as hnswlib 0.8 stores them for cosine."""
    with np.errstate(all="ignore"):
        return np.asarray(rows, dtype=np.float32) * hnswlib_norm_factors(rows)[:, None]


def decode_graph_state(path: str, body: memoryview) -> dict[str, Any]:
    """Rebuild hnswlib's state dict from a graph body (already checksum-verified).

    hnswlib copies the arrays into its own memory, so read-only views suffice.
    """
    scalars, arrays = unpack(path, body)
    return {**scalars, **arrays}


def load_graph(path: str, body: memoryview, count: int, dim: int, space: str, *,
               version: int = F.FORMAT_VERSION, vectors: np.ndarray | None = None) -> hnswlib.Index:
    """An hnswlib index from a verified graph body; checks it describes this segment.

    A stripped body (``version`` 2) gets its level-0 vectors back from ``vectors`` (the
    segment's verified raw rows) before hnswlib sees it; the refilled array must have the
    CRC-32C recorded when it was written.
    """
    state = decode_graph_state(path, body)
    factors = np.zeros(0, dtype="<f4")
    if state.get("dim") != dim or state.get("space") != space or state.get("cur_element_count") != count:
        raise CorruptionError(
            "HNSW graph does not match its segment (dimension, space or element count differ)",
            path=path, offset=0, hint="rebuild the segment from the log or a backup",
        )
    if version >= F.FORMAT_VERSION_GRAPH_STRIPPED:
        if vectors is None or vectors.shape != (count, dim):
            raise ValueError("a stripped graph needs the segment's vectors to load")
        state, factors = _refill(path, state, vectors, space)
    elif STRIP_KEY in state:
        raise CorruptionError("a stripped graph in a version-1 graph file", path=path, offset=8,
                              hint="rebuild the segment from the log or a backup")
    index = hnswlib.Index.__new__(hnswlib.Index)
    try:
        index.__setstate__((state,))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CorruptionError(
            f"hnswlib refused the stored graph: {exc}", path=path, offset=0,
            hint="the graph may come from another hnswlib version; rebuild the segment",
        ) from None
    if vectors is not None and version >= F.FORMAT_VERSION_GRAPH_STRIPPED:
        _spot_check(path, index, vectors, factors)
    return index


def _refill(path: str, state: dict[str, Any], vectors: np.ndarray,
            space: str) -> tuple[dict[str, Any], np.ndarray]:
    """hnswlib's state with ``data_level0`` rebuilt from a stripped bundle and ``vectors``, and
    the cosine factors it used (empty for l2 and ip)."""
    rows, per, off, size = _layout(state, vectors.shape[1], path)
    stored_crc, links, factors, patch_rows, patch_vectors = _stripped_parts(
        path, state, rows, per, (off, size), len(vectors) if space == "cosine" else 0)
    records = np.empty((rows, per), dtype=np.uint8)
    # Copied as u32 words (every part of a record is a multiple of 4 bytes): 4x fewer elements.
    words, kept = records.view(np.uint32), links.reshape(rows, per - size).view(np.uint32)
    words[:, :off // 4] = kept[:, :off // 4]
    words[:, (off + size) // 4:] = kept[:, off // 4:]
    # The labels (and so which row each record holds) come from the checksummed links part.
    labels = _labels(records, off + size)
    slots = records.view("<f4")[:, off // 4:(off + size) // 4]
    count = int(state["cur_element_count"])
    for start in range(0, rows, REFILL_CHUNK):
        _fill(slots[start:start + REFILL_CHUNK], labels[start:start + REFILL_CHUNK], start, count, vectors, factors)
    records[patch_rows, off:off + size] = patch_vectors.reshape(-1, size)
    if crc32c.crc32c(records) != stored_crc:
        # Both files passed their checksums, so the vectors are not those the graph was built
        # over (or a bug): hnswlib gets only the exact state that was written.
        raise CorruptionError(
            f"HNSW graph does not reproduce from {F.FILE_VECTORS}: the refilled level-0 records fail "
            "their checksum", path=path, offset=0,
            hint="the graph and the vectors do not belong together; rebuild the segment",
        )
    state["data_level0"] = records.reshape(-1).view(np.int8)
    return state, factors


def _stripped_parts(path: str, state: dict[str, Any], rows: int, per: int, vector: tuple[int, int],
                    factor_count: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pop and check what a stripped bundle adds: (level-0 CRC-32C, links, cosine factors,
    patched records, their vector bytes)."""
    off, size = vector
    info = state.pop(STRIP_KEY, None)
    parts = [state.pop(name, None) for name in ("level0_links", "norm_factors", "patch_rows", "patch_vectors")]
    links, factors, patch_rows, patch_vectors = parts
    if (isinstance(info, dict) and isinstance(info.get("crc32c"), int)
            and info.get("vector_offset") == off and info.get("vector_size") == size
            and isinstance(links, np.ndarray) and isinstance(factors, np.ndarray)
            and isinstance(patch_rows, np.ndarray) and isinstance(patch_vectors, np.ndarray)
            and links.dtype == np.uint8 and links.size == rows * (per - size)
            and factors.dtype == np.dtype("<f4") and factors.size == factor_count
            and patch_rows.dtype == np.dtype("<i8") and patch_vectors.dtype == np.uint8
            and patch_vectors.size == patch_rows.size * size
            and bool(np.all((patch_rows >= 0) & (patch_rows < rows)))):
        return int(info["crc32c"]), links, factors, patch_rows, patch_vectors
    raise CorruptionError("stripped HNSW graph is incomplete (level-0 links, factors or patches missing or misshapen)",
                          path=path, offset=0, hint="rebuild the segment from the log or a backup")


def _spot_check(path: str, index: hnswlib.Index, vectors: np.ndarray, factors: np.ndarray) -> None:
    """A few labels of the loaded index must return their rows' vectors (as hnswlib stores
    them): a cheap guard that hnswlib read the refilled records the way they were laid out."""
    n = len(vectors)
    # Sorted and distinct without np.unique, whose first call imports numpy.ma (0.09 s of an open).
    labels = np.array(sorted(set(np.linspace(0, n - 1, num=min(n, SPOT_CHECKS)).astype(np.intp).tolist())),
                      dtype=np.intp)
    try:
        got = np.asarray(index.get_items(labels.tolist()), dtype=np.float32).reshape(len(labels), -1)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CorruptionError(f"refilled HNSW graph lost labels: {exc}", path=path, offset=0,
                              hint="rebuild the segment") from None
    want = np.empty((len(labels), vectors.shape[1]), dtype=np.float32)
    _fill(want, labels.astype(np.uint64), 0, len(labels), vectors, factors)
    if not np.array_equal(got, want, equal_nan=True):
        raise CorruptionError("refilled HNSW graph returns other vectors than its rows", path=path, offset=0,
                              hint="rebuild the segment")


# A seed may lose at most this fraction of its rows (Lucene's IncrementalHnswGraphMerger uses
# 40%): their nodes are reused for new rows, so the graph keeps no tombstones.
SEED_MAX_DROPPED = 0.40


def seed_mapping(seed: Any, ids: list[str], versions: np.ndarray, vectors: np.ndarray,
                 params: HnswParams) -> np.ndarray | None:
    """For each row of ``seed`` (an open Segment), its row in the segment being written (-1
    when the record is not in it); or None when the seed's graph cannot be reused.

    Reuse needs the same space, dimension, M and construction ef; every seed row that is in
    the output must have the same version and the same vector bytes (so the graph describes
    exactly these records); and the dropped rows must be at most ``SEED_MAX_DROPPED`` of the
    seed and no more than the rows being added (each dropped node is reused by a new row).
    """
    graph = getattr(seed, "graph", None)
    if graph is None or seed.space != params.space or seed.dim != vectors.shape[1]:
        return None
    hnsw = seed.descriptor.hnsw
    if hnsw.get("M") != params.M or hnsw.get("construction_ef") != params.construction_ef:
        return None
    out_row = {id_: row for row, id_ in enumerate(ids)}
    mapping = np.fromiter((out_row.get(id_, -1) for id_ in seed.ids), dtype=np.int64, count=seed.count)
    present = mapping >= 0
    dropped = seed.count - int(np.count_nonzero(present))
    added = len(ids) - (seed.count - dropped)
    if dropped > SEED_MAX_DROPPED * seed.count or dropped > added:
        return None
    if not np.array_equal(np.asarray(versions, dtype=np.uint64)[mapping[present]], seed.versions[present]):
        return None
    if not np.array_equal(vectors[mapping[present]], seed.vectors[present]):
        return None
    return mapping


def build_seeded_graph(vectors: np.ndarray, params: HnswParams, seed: Any, mapping: np.ndarray,
                       after_chunk: Callable[[], None] | None = None) -> hnswlib.Index:
    """The seed's graph relabelled to output rows, its dropped nodes reused for new rows and
    the remaining new rows inserted (Lucene's IncrementalHnswGraphMerger idea)."""
    n = len(vectors)
    (state,) = seed.graph.__getstate__()  # read-only, safe alongside queries
    state = dict(state)
    if state.get("has_deletions") or int(state["cur_element_count"]) != seed.count:
        raise ValueError("seed graph holds deleted nodes")
    # Dropped rows get temporary labels past the output's rows, then are marked deleted.
    labels_of = mapping.copy()
    dropped = np.flatnonzero(labels_of < 0)
    labels_of[dropped] = n + np.arange(dropped.size)
    _relabel(state, labels_of)
    state["allow_replace_deleted"] = True
    index = hnswlib.Index.__new__(hnswlib.Index)
    index.__setstate__((state,))
    del state  # hnswlib holds its own copy now: free ours before resize_index makes another
    for label in labels_of[dropped].tolist():
        index.mark_deleted(label)
    index.resize_index(n)
    missing = np.setdiff1d(np.arange(n, dtype=np.int64), mapping)
    index.set_num_threads(params.num_threads)
    for start in range(0, missing.size, ADD_CHUNK):
        rows = missing[start:start + ADD_CHUNK]
        index.add_items(vectors[rows], rows.astype(np.uint64), num_threads=params.num_threads,
                        replace_deleted=True)
        if after_chunk is not None:
            after_chunk()
    if index.element_count != n or index.get_current_count() != n:
        raise ValueError("seeded graph does not hold exactly the output rows")
    index.set_ef(params.search_ef)
    return index


def _relabel(state: dict[str, Any], labels_of: np.ndarray) -> None:
    """Rewrite hnswlib's labels in ``state``: old label ``i`` becomes ``labels_of[i]``."""
    n_seed = int(state["cur_element_count"])
    external = np.asarray(state["label_lookup_external"], dtype=np.uint64)
    state["label_lookup_external"] = labels_of[external.astype(np.int64)].astype(np.uint64)
    # Each element's label is also stored inside its level-0 record, at label_offset.
    # In place: the arrays of a __getstate__ are this caller's own copy (writeable), and a
    # second copy of a large graph's level 0 is the biggest allocation of a growth job.
    records = np.asarray(state["data_level0"], dtype=np.int8).view(np.uint8).reshape(
        int(state["max_elements"]), int(state["size_data_per_element"]))
    at = int(state["label_offset"])
    old = records[:n_seed, at:at + 8].copy().view(np.uint64).ravel()
    records[:n_seed, at:at + 8] = labels_of[old.astype(np.int64)].astype(np.uint64).view(np.uint8).reshape(-1, 8)
    state["data_level0"] = records.view(np.int8).ravel()
