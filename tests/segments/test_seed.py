"""A merge may start from an input segment's graph (relabelled), when that is exact to do."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.segments import HnswParams, Segment, SegmentData, write_segment
from sedimentdb.engine.segments import writer as writer_module


def _subset(data: SegmentData, rows: np.ndarray) -> SegmentData:
    pick = rows.tolist()
    return SegmentData(
        ids=[data.ids[i] for i in pick], ordinals=data.ordinals[rows], versions=data.versions[rows],
        vectors=data.vectors[rows], documents=[data.documents[i] for i in pick],
        metadatas=[data.metadatas[i] for i in pick], uris=[data.uris[i] for i in pick],
    )


@pytest.fixture
def merge_inputs(fs, tmp_path, h):
    """A 1,200-row seed segment, and merged data = its rows shuffled plus 600 new rows."""
    everything = h.make_data(h.clustered(1800, 16, clusters=30, seed=40))
    params = HnswParams(space="cosine", num_threads=2)
    seed_rows = np.arange(1200)
    desc = write_segment(fs, str(tmp_path), "seed", "c", _subset(everything, seed_rows), space="cosine",
                         hnsw=params, min_lsn=1, max_lsn=2000)
    seed = Segment.open(fs, str(tmp_path), desc)
    merged_rows = np.random.default_rng(41).permutation(1800)
    return seed, _subset(everything, merged_rows), params


def _recall(h, seg, data, space):
    queries = h.clustered(100, 16, clusters=30, seed=42)
    rows, dists = seg.search(queries, 10)
    d = h.brute_force(space, queries, data.vectors)
    truth = np.argsort(d, axis=1)[:, :10]
    np.testing.assert_allclose(dists, np.take_along_axis(d, rows, axis=1), rtol=1e-5, atol=1e-4)
    return np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])


def _drop(merged: SegmentData, seed, count: int) -> SegmentData:
    """``merged`` without the records of the first ``count`` seed rows (deleted since)."""
    gone = set(seed.ids[:count])
    return _subset(merged, np.array([i for i, id_ in enumerate(merged.ids) if id_ not in gone]))


@pytest.mark.parametrize("dropped", [0, 1, 300], ids=["clean", "one-deleted", "quarter-deleted"])
def test_merge_starts_from_the_seed_graph(fs, tmp_path, h, merge_inputs, monkeypatch, dropped):
    seed, merged, params = merge_inputs
    merged = _drop(merged, seed, dropped)
    n = len(merged)

    def no_full_build(*args, **kwargs):
        raise AssertionError("the graph was built from scratch")

    monkeypatch.setattr(writer_module, "build_graph", no_full_build)
    desc = write_segment(fs, str(tmp_path), "merged", "c", merged, space="cosine", hnsw=params,
                         min_lsn=1, max_lsn=3000, seed=seed)
    out = Segment.open(fs, str(tmp_path), desc)
    assert out.graph is not None and out.graph.get_current_count() == n
    assert sorted(out.graph.get_ids_list()) == list(range(n))
    assert _recall(h, out, merged, "cosine") >= 0.99
    # every label points at the row holding that record's vector
    sample = np.arange(0, n, 97)
    stored = np.asarray(out.graph.get_items(sample.tolist()), dtype=np.float32)
    expected = merged.vectors[sample] / np.linalg.norm(merged.vectors[sample], axis=1, keepdims=True)
    np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change", ["vector", "version", "params", "too-many-deleted"])
def test_seed_that_does_not_describe_the_records_is_ignored(fs, tmp_path, h, merge_inputs, monkeypatch, change):
    seed, merged, params = merge_inputs
    row = merged.ids.index(seed.ids[5])
    if change == "vector":
        merged.vectors = merged.vectors.copy()
        merged.vectors[row, 0] += 1.0
    elif change == "version":
        merged.versions = merged.versions.copy()
        merged.versions[row] += 1
    elif change == "too-many-deleted":
        merged = _drop(merged, seed, 500)  # 42% of the seed
    else:
        params = HnswParams(space="cosine", M=8, num_threads=2)
    calls = []
    real = writer_module.build_graph
    monkeypatch.setattr(writer_module, "build_graph", lambda *a, **k: calls.append(1) or real(*a, **k))
    desc = write_segment(fs, str(tmp_path), "merged", "c", merged, space="cosine", hnsw=params,
                         min_lsn=1, max_lsn=3000, seed=seed)
    assert calls == [1]
    out = Segment.open(fs, str(tmp_path), desc)
    assert _recall(h, out, merged, "cosine") >= 0.99
