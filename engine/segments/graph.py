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
