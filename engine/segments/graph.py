"""The HNSW graph of a segment: built with hnswlib, stored in our own checksummed envelope.

hnswlib's ``save_index`` writes to a real path and its files carry no checksum, so we take
its in-memory serialisation (``__getstate__``: scalar parameters plus numpy arrays) and store
that as a JSON parameter block followed by the raw arrays. Loading goes through
``__setstate__`` only after the whole file has passed its checksums: hnswlib trusts its input
and would crash the process on damaged bytes. Labels are segment row numbers.
"""

from __future__ import annotations

from typing import Any

import hnswlib
import numpy as np

from sedimentdb.engine.errors import CorruptionError
from sedimentdb.engine.segments.bundle import pack, unpack
from sedimentdb.engine.segments.descriptor import HnswParams

# hnswlib draws node levels from this seed, so a single-threaded build is reproducible.
RANDOM_SEED = 100


def build_graph(vectors: np.ndarray, params: HnswParams) -> hnswlib.Index:
    """An HNSW index over ``vectors`` with labels 0..n-1."""
    n, dim = vectors.shape
    index = hnswlib.Index(space=params.space, dim=dim)
    index.init_index(
        max_elements=max(n, 1), M=params.M, ef_construction=params.construction_ef, random_seed=RANDOM_SEED
    )
    index.set_num_threads(params.num_threads)
    if n:
        index.add_items(vectors, np.arange(n, dtype=np.uint64), num_threads=params.num_threads)
    index.set_ef(params.search_ef)
    return index


def encode_graph(index: hnswlib.Index) -> bytes:
    """The graph body: hnswlib's state as a bundle (scalars as JSON, numpy arrays raw)."""
    (state,) = index.__getstate__()
    scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    arrays = [(k, v) for k, v in state.items() if isinstance(v, np.ndarray)]
    return pack(scalars, arrays)


def decode_graph_state(path: str, body: memoryview) -> dict[str, Any]:
    """Rebuild hnswlib's state dict from a graph body (already checksum-verified).

    hnswlib copies the arrays into its own memory, so read-only views suffice.
    """
    scalars, arrays = unpack(path, body)
    return {**scalars, **arrays}


def load_graph(path: str, body: memoryview, count: int, dim: int, space: str) -> hnswlib.Index:
    """An hnswlib index from a verified graph body; checks it describes this segment."""
    state = decode_graph_state(path, body)
    if state.get("dim") != dim or state.get("space") != space or state.get("cur_element_count") != count:
        raise CorruptionError(
            "HNSW graph does not match its segment (dimension, space or element count differ)",
            path=path, offset=0, hint="rebuild the segment from the log or a backup",
        )
    index = hnswlib.Index.__new__(hnswlib.Index)
    try:
        index.__setstate__((state,))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CorruptionError(
            f"hnswlib refused the stored graph: {exc}", path=path, offset=0,
            hint="the graph may come from another hnswlib version; rebuild the segment",
        ) from None
    return index


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


def build_seeded_graph(vectors: np.ndarray, params: HnswParams, seed: Any, mapping: np.ndarray) -> hnswlib.Index:
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
    for label in labels_of[dropped].tolist():
        index.mark_deleted(label)
    index.resize_index(n)
    missing = np.setdiff1d(np.arange(n, dtype=np.int64), mapping)
    index.set_num_threads(params.num_threads)
    if missing.size:
        index.add_items(vectors[missing], missing.astype(np.uint64), num_threads=params.num_threads,
                        replace_deleted=True)
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
    records = np.array(state["data_level0"], dtype=np.int8).view(np.uint8).reshape(
        int(state["max_elements"]), int(state["size_data_per_element"]))
    at = int(state["label_offset"])
    old = records[:n_seed, at:at + 8].copy().view(np.uint64).ravel()
    records[:n_seed, at:at + 8] = labels_of[old.astype(np.int64)].astype(np.uint64).view(np.uint8).reshape(-1, 8)
    state["data_level0"] = records.view(np.int8).ravel()
