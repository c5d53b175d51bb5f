"""A collection's indexed query: the lean path (no filter, read now, whole-graph segments)
gives exactly the general path's answer, reads no vector back, and leaves every other
case to the general path (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from sedimentdb.engine.collection import CollectionState
from sedimentdb.engine.distance import pair_distances
from sedimentdb.engine.engine_types import Include
from sedimentdb.engine.parts import SegmentPart
from sedimentdb.engine.segments import Segment

NOTHING = Include(documents=False, metadatas=False, distances=True)
EVERYTHING = Include(embeddings=True, documents=True, metadatas=True, uris=True, distances=True)


def _collection(fs, tmp_path, h, space: str, chunks: list[np.ndarray]) -> CollectionState:
    """A collection of one segment per chunk (ids and insertion order continuing across them)."""
    cs = CollectionState("coll-1", space, chunks[0].shape[1])
    start = 0
    for n, vectors in enumerate(chunks):
        data = h.make_data(vectors)
        data.ids = [f"id-{start + i}" for i in range(len(vectors))]
        data.ordinals = data.ordinals + np.uint64(3 * start)
        seg = h.write_and_open(fs, str(tmp_path), data, space=space, segment_id=f"seg-{n}", graph=True)
        cs.add_segment(SegmentPart(seg, np.zeros(seg.count, dtype=np.uint64), None))
        start += len(vectors)
    return cs


def _general(cs: CollectionState, queries: np.ndarray, k: int, include: Include) -> list:
    return cs._parts_query(queries, k, None, None, None, include, None)


def _lean_only(cs: CollectionState, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the general path ran")

    monkeypatch.setattr(cs, "_parts_query", refuse)


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("segments", [1, 3])
def test_the_lean_path_gives_the_general_paths_answer(fs, tmp_path, h, monkeypatch, space, segments):
    vectors = h.clustered(3000, 16, clusters=20, seed=1)
    cs = _collection(fs, tmp_path, h, space, np.array_split(vectors, segments))
    queries = h.clustered(8, 16, clusters=20, seed=2)
    want = _general(cs, queries, 10, EVERYTHING)
    _lean_only(cs, monkeypatch)
    got = cs.query(queries, 10, None, None, None, EVERYTHING)
    for q, g, w in zip(queries, got, want, strict=True):
        assert len(g.ids) == 10 and g.ids == w.ids and g.distances == w.distances
        assert g.documents == w.documents and g.metadatas == w.metadatas and g.uris == w.uris
        np.testing.assert_array_equal(g.embeddings, w.embeddings)
        # hnswlib's distances are Chroma's, to float32 rounding
        rows = [int(i.split("-")[1]) for i in g.ids]
        np.testing.assert_allclose(g.distances, pair_distances(space, q, vectors[rows]), rtol=1e-5, atol=1e-5)


def test_ties_come_back_older_record_first(fs, tmp_path, h, monkeypatch):
    # Six copies of one vector, stored in the reverse of their insertion order.
    vectors = h.clustered(2000, 8, clusters=5, seed=3)
    vectors[:6] = vectors[0]
    data = h.make_data(vectors)
    data.ordinals = data.ordinals.copy()
    data.ordinals[:6] = data.ordinals[:6][::-1]
    seg = h.write_and_open(fs, str(tmp_path), data, space="l2")
    cs = CollectionState("coll-1", "l2", 8)
    cs.add_segment(SegmentPart(seg, np.zeros(seg.count, dtype=np.uint64), None))
    want = _general(cs, vectors[:1], 6, NOTHING)[0]
    _lean_only(cs, monkeypatch)
    got = cs.query(vectors[:1], 6, None, None, None, NOTHING)[0]
    assert got.ids == want.ids == [f"id-{i}" for i in range(5, -1, -1)]
    assert got.distances == want.distances == [0.0] * 6


@pytest.mark.parametrize("space", ["l2", "cosine"])
@pytest.mark.parametrize("segments", [1, 2])
def test_deleted_rows_are_dropped_as_the_general_path_drops_them(fs, tmp_path, h, monkeypatch, space, segments):
    # More live rows than planner.EXACT_MAX_ROWS per segment: the graph over-fetches and the
    # dead rows are dropped (a collection after updates and deletes, once compacted).
    vectors = h.clustered(5000 * segments, 16, clusters=20, seed=8)
    cs = _collection(fs, tmp_path, h, space, np.array_split(vectors, segments))
    queries = h.clustered(8, 16, clusters=20, seed=9)
    first = _general(cs, queries, 10, NOTHING)
    dead = [i for r in first for i in r.ids[::2]]  # the nearest ones: the over-fetch must reach past them
    dead += [f"id-{i}" for i in np.random.default_rng(10).choice(len(vectors), 400, replace=False)]
    cs.apply_delete(sorted(set(dead)), 99)
    want = _general(cs, queries, 10, NOTHING)
    _lean_only(cs, monkeypatch)
    got = cs.query(queries, 10, None, None, None, NOTHING)
    for g, w in zip(got, want, strict=True):
        assert len(g.ids) == 10 and not set(g.ids) & set(dead)
        assert g.ids == w.ids and g.distances == w.distances


def test_the_lean_path_reads_no_vector_back(fs, tmp_path, h, monkeypatch):
    vectors = h.clustered(3000, 16, clusters=20, seed=4)
    cs = _collection(fs, tmp_path, h, "cosine", [vectors])

    def refuse(self, rows):
        raise AssertionError("a candidate's vector was read back")

    monkeypatch.setattr(Segment, "rows", refuse)
    assert len(cs.query(vectors[:3], 10, None, None, None, NOTHING)[0].ids) == 10


def test_a_deleted_row_or_a_filter_takes_the_general_path(fs, tmp_path, h, monkeypatch):
    vectors = h.clustered(3000, 16, clusters=20, seed=5)
    cs = _collection(fs, tmp_path, h, "l2", [vectors])
    ran = []
    general = cs._parts_query
    monkeypatch.setattr(cs, "_parts_query", lambda *a: ran.append(1) or general(*a))
    cs.query(vectors[:1], 5, None, None, None, NOTHING)
    assert ran == []
    cs.query(vectors[:1], 5, {"i": {"$gte": 0}}, None, None, NOTHING)
    assert ran == [1]
    cs.apply_delete(["id-0"], 99)
    found = cs.query(vectors[:1], 5, None, None, None, NOTHING)[0]
    assert ran == [1, 1] and "id-0" not in found.ids and len(found.ids) == 5


def test_an_unusable_graph_distance_is_scored_from_the_vector(fs, tmp_path, h):
    # hnswlib normalises a cosine vector by 1 / (norm + 1e-30): one whose squared norm
    # underflows float32 comes out huge, and its distances like -1e7. The query returns the
    # distance computed from the stored vector instead (about 1 for such a vector).
    vectors = h.clustered(2000, 16, clusters=10, seed=6)
    vectors[5] = 1e-23
    cs = _collection(fs, tmp_path, h, "cosine", [vectors])
    queries = vectors[[5, 10, 20]] + np.float32(0.01)
    for q, got in zip(queries, cs.query(queries, 10, None, None, None, NOTHING), strict=True):
        rows = [int(i.split("-")[1]) for i in got.ids]
        assert all(-1e-3 <= d <= 2 + 1e-3 for d in got.distances)
        np.testing.assert_allclose(got.distances, pair_distances("cosine", q, vectors[rows]), rtol=1e-5, atol=1e-5)
        assert got.distances == sorted(got.distances)


def test_a_segment_without_a_graph_is_searched_exactly(fs, tmp_path, h, monkeypatch):
    vectors = h.clustered(300, 8, clusters=5, seed=7)
    seg = h.write_and_open(fs, str(tmp_path), h.make_data(vectors), space="ip", graph=False)
    assert seg.graph is None
    cs = CollectionState("coll-1", "ip", 8)
    cs.add_segment(SegmentPart(seg, np.zeros(seg.count, dtype=np.uint64), None))
    got = cs.query(vectors[:2], 4, None, None, None, NOTHING)
    for q, res in zip(vectors[:2], got, strict=True):
        d = pair_distances("ip", q, vectors)
        order = np.lexsort((np.arange(len(d)), d))[:4]
        assert res.ids == [f"id-{i}" for i in order]
        assert res.distances == [float(x) for x in d[order]]

