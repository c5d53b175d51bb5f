"""Shared fixtures for the segment tests: a real file system and record builders."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sedimentdb.engine.fileio import OsFileSystem
from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, write_segment


@pytest.fixture
def fs() -> OsFileSystem:
    return OsFileSystem()


def make_data(vectors: np.ndarray, *, metadatas: list[Any] | None = None,
              documents: list[Any] | None = None, uris: list[Any] | None = None,
              first_lsn: int = 1) -> SegmentData:
    """SegmentData for ``vectors`` with simple ids and optional columns."""
    n = len(vectors)
    return SegmentData(
        ids=[f"id-{i}" for i in range(n)],
        ordinals=np.arange(n, dtype=np.uint64) * np.uint64(3) + np.uint64(7),
        versions=np.arange(n, dtype=np.uint64) + np.uint64(first_lsn),
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        documents=documents if documents is not None else [f"document {i}" for i in range(n)],
        metadatas=metadatas if metadatas is not None else [{"i": i} for i in range(n)],
        uris=uris if uris is not None else [None] * n,
    )


def write_and_open(fs: OsFileSystem, directory: str, data: SegmentData, *, space: str = "l2",
                   segment_id: str = "seg-1", graph: bool | None = None, **hnsw: Any) -> Segment:
    """Write ``data`` as a segment and open it again from disk."""
    params = HnswParams(space=space, num_threads=2, **hnsw)
    desc = write_segment(fs, directory, segment_id, "coll-1", data, space=space, hnsw=params,
                         min_lsn=1, max_lsn=max(1, len(data)), build_graph_index=graph)
    return Segment.open(fs, directory, desc)


def clustered(n: int, dim: int, clusters: int, seed: int = 0, centre_seed: int = 0) -> np.ndarray:
    """Gaussian clusters around random centres (a realistic shape for embeddings).

    The centres depend only on ``centre_seed`` and ``clusters``, so data and queries drawn
    with different ``seed`` come from the same distribution.
    """
    centres = np.random.default_rng(centre_seed).standard_normal((clusters, dim)).astype(np.float32) * 4
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + rng.standard_normal((n, dim)).astype(np.float32)).astype(np.float32)


def brute_force(space: str, queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Chroma's distances in float64, written independently of the engine's code."""
    q = queries.astype(np.float64)
    v = vectors.astype(np.float64)
    if space == "l2":
        return np.maximum((q * q).sum(1)[:, None] + (v * v).sum(1)[None, :] - 2.0 * (q @ v.T), 0.0)
    if space == "ip":
        return 1.0 - q @ v.T
    qn = q / (np.linalg.norm(q, axis=1, keepdims=True) + 1e-30)
    vn = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-30)
    return 1.0 - qn @ vn.T


@pytest.fixture
def h():
    """The helpers above, as a fixture (importlib test mode keeps conftest off sys.path)."""
    import types

    return types.SimpleNamespace(
        make_data=make_data, write_and_open=write_and_open, clustered=clustered, brute_force=brute_force
    )
